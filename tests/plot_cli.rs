//! `emoscope plot`: an annotation drawn as PNG (decoded back: size, the
//! dimension colours, text pixels from the embedded font) and as SVG (the
//! labels, segment labels and words are in it); sizes beyond the maximum
//! are refused; labels never overprint; the time axis reads m:ss.

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
    let x = load_mono(&common::repo().join("examples/speech.wav"), 16_000).unwrap();
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
        "time (m:ss)",
        "0:05",
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

#[test]
fn sizes_beyond_the_maximum_are_refused() {
    let model = common::model_dir("plotsize", 1.0);
    let tmp = tempfile::tempdir().unwrap();
    let json = annotation(tmp.path(), model.path());
    let png = tmp.path().join("big.png");
    for (w, h) in [
        ("100000", "100000"),
        ("8193", "600"),
        ("1200", "149"),
        ("0", "0"),
    ] {
        let o = emoscope(&[
            "plot",
            json.to_str().unwrap(),
            "--out",
            png.to_str().unwrap(),
            "--width",
            w,
            "--height",
            h,
        ]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{w}x{h}: {err}");
        assert!(
            err.contains("a plot is 200 x 150 to 8192 x 8192 pixels"),
            "{w}x{h}: {err}"
        );
        assert!(!png.exists());
    }
    // A folder as --out: said so.
    let o = emoscope(&[
        "plot",
        json.to_str().unwrap(),
        "--out",
        tmp.path().to_str().unwrap(),
    ]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("is a folder"));
}

/// `(x, y, text)` of every `<text>` element of an SVG plotters wrote.
fn svg_texts(svg: &str) -> Vec<(f64, f64, String)> {
    svg.split("<text")
        .skip(1)
        .filter_map(|t| {
            let attr = |name: &str| -> Option<f64> {
                let i = t.find(&format!(" {name}=\""))? + name.len() + 3;
                t[i..].split('"').next()?.parse().ok()
            };
            let body = t.split_once('>')?.1.split("</text>").next()?;
            Some((attr("x")?, attr("y")?, body.trim().to_owned()))
        })
        .collect()
}

#[test]
fn dense_labels_and_words_do_not_overprint() {
    let model = common::model_dir("plotdense", 1.0);
    let tmp = tempfile::tempdir().unwrap();
    let json = annotation(tmp.path(), model.path());
    let mut doc = Annotation::from_json(&std::fs::read_to_string(&json).unwrap()).unwrap();
    // 40 segments of 0.175 s over 7 s, each with a 14-character label: about
    // 20 pixels apart on a 900-pixel plot, far less than a label's width.
    let base = doc.segments[0].clone();
    doc.segments = (0..40)
        .map(|i| {
            let mut s = base.clone();
            s.span.start = i as f64 * 0.175;
            s.span.end = s.span.start + 0.175;
            s.label = format!("A.{i:02} V.50 D.50");
            s
        })
        .collect();
    // 60 words 0.1 s apart.
    let mut seg = doc.transcript[0].clone();
    let word = seg.words[0].clone();
    seg.words = (0..60)
        .map(|i| {
            let mut w = word.clone();
            w.start = i as f64 * 0.1;
            w.end = w.start + 0.1;
            w.text = format!("word{i:02}");
            w
        })
        .collect();
    doc.transcript = vec![seg];
    let dense = tmp.path().join("dense.json");
    std::fs::write(&dense, doc.to_json()).unwrap();
    let svg = tmp.path().join("dense.svg");
    ok(&emoscope(&[
        "plot",
        dense.to_str().unwrap(),
        "--out",
        svg.to_str().unwrap(),
        "--width",
        "900",
        "--height",
        "500",
    ]));
    let texts = svg_texts(&std::fs::read_to_string(&svg).unwrap());
    // Text 12-13 px high in DejaVu Sans is at least 5 px per character.
    let no_overlap = |mut row: Vec<(f64, String)>, what: &str| {
        row.sort_by(|a, b| a.0.total_cmp(&b.0));
        assert!(row.len() >= 2, "{what}: {row:?}");
        for w in row.windows(2) {
            let width = 5.0 * w[0].1.chars().count() as f64;
            assert!(w[1].0 - w[0].0 >= width, "{what} overprint: {w:?}");
        }
    };
    let labels: Vec<(f64, String)> = texts
        .iter()
        .filter(|t| t.2.starts_with("A."))
        .map(|t| (t.0, t.2.clone()))
        .collect();
    assert!(labels.len() < 40, "{} labels drawn", labels.len());
    no_overlap(labels, "labels");
    let mut rows: std::collections::BTreeMap<i64, Vec<(f64, String)>> = Default::default();
    for t in texts.iter().filter(|t| t.2.starts_with("word")) {
        rows.entry(t.1 as i64).or_default().push((t.0, t.2.clone()));
    }
    assert_eq!(rows.len(), 2, "two rows of words");
    for row in rows.into_values() {
        no_overlap(row, "words");
    }
}

/// A categorical model's annotation: its probabilities stacked, a band per
/// category, each band's top the next one's bottom, the last one's top at
/// 1 for every window (probabilities add up to 1), the first one's bottom
/// at 0; the labels in the legend.
#[test]
fn a_categorical_annotation_is_drawn_as_stacked_probabilities() {
    let model = common::fixture("classification-wavlm-categories");
    let tmp = tempfile::tempdir().unwrap();
    let json = annotation(tmp.path(), &model);
    let svg = tmp.path().join("talk.svg");
    ok(&emoscope(&[
        "plot",
        json.to_str().unwrap(),
        "--out",
        svg.to_str().unwrap(),
    ]));
    let text = std::fs::read_to_string(&svg).unwrap();
    for label in ["category probabilities", "neutral", "happy", "sad", "angry"] {
        assert!(text.contains(label), "{label} missing");
    }
    assert!(!text.contains("arousal"));
    // Each band: its upper edge (the first half of its points, left to
    // right) and lower edge (the second half, right to left), as y pixels.
    let bands: Vec<(Vec<i32>, Vec<i32>)> = text
        .split("<polygon")
        .skip(1)
        .map(|p| {
            let points = p
                .split("points=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap();
            let ys: Vec<i32> = points
                .split_whitespace()
                .map(|xy| xy.split(',').nth(1).unwrap().parse().unwrap())
                .collect();
            let (upper, lower) = ys.split_at(ys.len() / 2);
            (upper.to_vec(), lower.iter().rev().copied().collect())
        })
        .collect();
    let doc = Annotation::from_json(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert!(doc.timeline.len() >= 3);
    // One run of windows (no gap), so one band per category.
    assert_eq!(bands.len(), 4);
    for w in bands.windows(2) {
        assert_eq!(w[0].0, w[1].1, "a band starts where the one below ends");
    }
    let top = &bands[3].0;
    let bottom = &bands[0].1;
    assert!(top.iter().all(|&y| (y - top[0]).abs() <= 1), "{top:?}");
    assert!(bottom.iter().all(|&y| y == bottom[0]), "{bottom:?}");
    assert!(bottom[0] > top[0]);
}
