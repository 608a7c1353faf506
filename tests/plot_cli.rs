//! `emoscope plot`: an annotation drawn as PNG (decoded back: size, the
//! dimension colours, text pixels from the embedded font) and as SVG (the
//! labels, segment labels and words are in it).

use std::path::Path;
use std::process::{Command, Output};

use emoscope::audio::load_mono;
use emoscope::export::Annotation;

mod common;

fn emoscope(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_emoscope"))
        .args(args)
        .output()
        .unwrap()
}

fn ok(o: &Output) {
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Annotates 7 s of speech (the example twice) with a transcript; returns the JSON path.
fn annotation(dir: &Path, model: &Path) -> std::path::PathBuf {
    let x = load_mono(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/speech.wav"),
        16_000,
    )
    .unwrap();
    let twice: Vec<f32> = x.iter().chain(&x).copied().collect();
    common::write_wav(&dir.join("talk.wav"), &twice, 16_000);
    std::fs::write(
        dir.join("talk.vtt"),
        "WEBVTT\n\n00:00.000 --> 00:03.000\nThe <00:00.300>results <00:00.800>were <00:01.000>wonderful\n\n\
         00:03.500 --> 00:06.500\nand everyone was delighted\n",
    )
    .unwrap();
    let out = dir.join("out");
    ok(&emoscope(&[
        "annotate",
        dir.join("talk.wav").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--model",
        model.to_str().unwrap(),
        "--format",
        "json",
    ]));
    out.join("talk.emoscope.json")
}

#[test]
fn png_has_the_size_the_lines_and_text() {
    let model = common::model_dir("plot", 1.0);
    let tmp = tempfile::tempdir().unwrap();
    let json = annotation(tmp.path(), model.path());
    let png = tmp.path().join("talk.png");
    ok(&emoscope(&[
        "plot",
        json.to_str().unwrap(),
        "--out",
        png.to_str().unwrap(),
        "--width",
        "900",
        "--height",
        "500",
    ]));
    let img = image::open(&png).unwrap().to_rgb8();
    assert_eq!(img.dimensions(), (900, 500));
    let count = |rgb: [u8; 3]| img.pixels().filter(|p| p.0 == rgb).count();
    // The three line colours (arousal, valence, dominance).
    for c in [[214, 39, 40], [44, 160, 44], [31, 119, 180]] {
        assert!(count(c) > 50, "colour {c:?}: {} pixels", count(c));
    }
    // The caption is text: dark, anti-aliased pixels in the top band.
    let dark_in_caption = (0..900)
        .flat_map(|x| (0..30).map(move |y| (x, y)))
        .filter(|&(x, y)| img.get_pixel(x, y).0.iter().all(|&v| v < 100))
        .count();
    assert!(
        dark_in_caption > 100,
        "{dark_in_caption} dark pixels in the caption band"
    );
}

#[test]
fn svg_carries_the_labels_and_words() {
    let model = common::model_dir("plotsvg", 1.0);
    let tmp = tempfile::tempdir().unwrap();
    let json = annotation(tmp.path(), model.path());
    let svg = tmp.path().join("talk.svg");
    ok(&emoscope(&[
        "plot",
        json.to_str().unwrap(),
        "--out",
        svg.to_str().unwrap(),
    ]));
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(
        text.starts_with("<svg")
            && text.contains("width=\"1200\"")
            && text.contains("height=\"600\"")
    );
    for label in [
        "arousal",
        "valence",
        "dominance",
        "time (s)",
        "results",
        "wonderful",
        "talk.wav",
    ] {
        assert!(text.contains(label), "{label} missing");
    }
    let doc = Annotation::from_json(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert!(doc.timeline.len() >= 3);
    for s in &doc.segments {
        let shown: String = s.label.chars().take(20).collect();
        assert!(text.contains(&shown), "segment label {shown}");
    }
}

#[test]
fn other_extensions_and_bad_json_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("x.json");
    std::fs::write(&bad, "{\"segments\": []}").unwrap();
    let o = emoscope(&["plot", bad.to_str().unwrap(), "--out", "x.png"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr)
        .contains("not an annotation written by `emoscope annotate`"));
    let model = common::model_dir("plotext", 1.0);
    let json = annotation(tmp.path(), model.path());
    let o = emoscope(&[
        "plot",
        json.to_str().unwrap(),
        "--out",
        tmp.path().join("x.pdf").to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("name the file *.png or *.svg"));
}
