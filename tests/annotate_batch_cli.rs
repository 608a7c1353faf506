//! `emoscope annotate --batch N --precision P`: the batch changes nothing in
//! the outputs (byte for byte, and a rerun with another batch skips); the
//! precision changes the computation, so a rerun in another precision
//! recomputes, and bf16 stays close to f32.

use std::path::Path;
use std::process::{Command, Output};

mod common;
use common::{model_dir, signal, write_wav};

fn emoscope(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_emoscope"))
        .args(args)
        .env_remove("EMOSCOPE_MODEL")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn annotate(audio: &Path, out: &Path, model: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "annotate",
        audio.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--model",
        model.to_str().unwrap(),
        "--format",
        "json,csv",
        "--analyse-silence",
    ];
    args.extend_from_slice(extra);
    emoscope(&args)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn the_batch_changes_nothing_and_the_precision_is_part_of_the_fingerprint() {
    let model = model_dir("batchcli", 1.0);
    let tmp = tempfile::tempdir().unwrap();
    let audio = tmp.path().join("long.wav");
    // 23 s at 22.05 kHz: 20 windows, two full batches of 8 and a rest.
    write_wav(&audio, &signal(23.0, 22_050.0), 22_050);
    let one = tmp.path().join("one");
    let eight = tmp.path().join("eight");
    annotate(
        &audio,
        &one,
        model.path(),
        &["--batch", "1", "--precision", "f32"],
    );
    annotate(&audio, &eight, model.path(), &["--precision", "f32"]);
    for file in ["long.emoscope.json", "long.emoscope.csv"] {
        assert_eq!(read(&one.join(file)), read(&eight.join(file)), "{file}");
    }
    let doc: serde_json::Value =
        serde_json::from_str(&read(&one.join("long.emoscope.json"))).unwrap();
    assert_eq!(doc["timeline"].as_array().unwrap().len(), 20);
    // Another batch: the same outputs, so the rerun skips the file.
    let again = annotate(
        &audio,
        &eight,
        model.path(),
        &["--batch", "3", "--precision", "f32"],
    );
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("skipped  "),
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );
    // bf16: recomputed, and close to f32 (this random-weight fixture is no
    // trained model, so the bound here is loose; the budget of `auto` is
    // held on a trained model in tests/train.rs).
    let bf16 = annotate(&audio, &eight, model.path(), &["--precision", "bf16"]);
    assert!(
        String::from_utf8_lossy(&bf16.stdout).contains("ok  "),
        "{}",
        String::from_utf8_lossy(&bf16.stdout)
    );
    let f32_doc = doc;
    let bf16_doc: serde_json::Value =
        serde_json::from_str(&read(&eight.join("long.emoscope.json"))).unwrap();
    let values = |d: &serde_json::Value| -> Vec<f64> {
        d["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| ["arousal", "valence", "dominance"].map(|k| r[k].as_f64().unwrap()))
            .collect()
    };
    let (a, b) = (values(&f32_doc), values(&bf16_doc));
    assert_eq!(a.len(), b.len());
    let max = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max);
    assert!(max > 0.0 && max < 0.05, "bf16 moved a value by {max}");
    // The fixture has no bf16 check in its manifest: `auto` (the default)
    // computes in f32, the same outputs as --precision f32, so it recomputes
    // after the bf16 run and writes f32's values again.
    annotate(&audio, &eight, model.path(), &[]);
    assert_eq!(
        read(&one.join("long.emoscope.json")),
        read(&eight.join("long.emoscope.json"))
    );
}
