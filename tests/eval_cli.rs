//! `emoscope eval` on a small manifest: labels on another scale are mapped
//! with `--label-range` (and reported without it), and correlations the data
//! cannot define print as `undefined` / `null`, not 0.

use std::path::Path;
use std::process::{Command, Output};

use emoscope::engine::{EmotionPredictor, ModelPredictor};

mod common;
use common::{model_dir, signal, write_wav};

/// Three utterances of different lengths (so the readings differ) and a
/// manifest with `labels`, one row each.
fn manifest(dir: &Path, labels: [[f32; 3]; 3]) -> std::path::PathBuf {
    let mut csv = String::from("audio,transcript,arousal,valence,dominance\n");
    for (i, l) in labels.iter().enumerate() {
        let name = format!("u{i}.wav");
        write_wav(&dir.join(&name), &signal(1.0 + i as f64, 16_000.0), 16_000);
        csv += &format!("{name},,{},{},{}\n", l[0], l[1], l[2]);
    }
    let path = dir.join("m.csv");
    std::fs::write(&path, csv).unwrap();
    path
}

fn eval(model: &Path, data: &Path, extra: &[&str]) -> Output {
    let o = Command::new(env!("CARGO_BIN_EXE_emoscope"))
        .args(["eval", "--model"])
        .arg(model)
        .arg("--data")
        .arg(data)
        .args(extra)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    o
}

const SEVEN_POINT: [[f32; 3]; 3] = [[1.0, 4.0, 7.0], [4.0, 7.0, 1.0], [7.0, 1.0, 4.0]];

#[test]
fn labels_on_another_scale_are_reported_and_mapped() {
    let model = model_dir("eval-range", 1.0);
    let tmp = tempfile::tempdir().unwrap();
    let data = manifest(tmp.path(), SEVEN_POINT);
    // The model declares -1..1; six of the nine labels (the 4s and 7s) lie outside.
    let o = eval(model.path(), &data, &["--json"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("6 of 9 labels") && err.contains("--label-range 1,7"),
        "{err}"
    );
    let o = eval(model.path(), &data, &["--json", "--label-range", "1,7"]);
    assert!(String::from_utf8_lossy(&o.stderr).is_empty());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    // 1..7 onto -1..1 is l -> (l - 4) / 3: 1 -> -1, 4 -> 0, 7 -> 1. The MAE
    // is then |prediction - mapped label| averaged over the utterances.
    let mut m = ModelPredictor::load(model.path(), &candle_core::Device::Cpu).unwrap();
    for (k, key) in ["arousal", "valence", "dominance"].iter().enumerate() {
        let mae = (0..3)
            .map(|i| {
                let x = emoscope::audio::load_mono(&tmp.path().join(format!("u{i}.wav")), 16_000)
                    .unwrap();
                let p = m.predict(&x, "").unwrap();
                let p = [p.arousal, p.valence, p.dominance][k];
                f64::from((p - (SEVEN_POINT[i][k] - 4.0) / 3.0).abs())
            })
            .sum::<f64>()
            / 3.0;
        let got = v[key]["mae"].as_f64().unwrap();
        assert!((got - mae).abs() < 1e-6, "{key}: {got} vs {mae}");
    }
    assert_eq!(v["label_range"], serde_json::json!([1.0, 7.0]));
}

#[test]
fn constant_labels_make_the_correlations_undefined() {
    let model = model_dir("eval-undefined", 1.0);
    let tmp = tempfile::tempdir().unwrap();
    // Arousal labels all equal; valence and dominance vary.
    let data = manifest(
        tmp.path(),
        [[0.2, 0.1, 0.3], [0.2, 0.5, -0.3], [0.2, -0.4, 0.0]],
    );
    let o = eval(model.path(), &data, &[]);
    let table = String::from_utf8_lossy(&o.stdout);
    let arousal = table.lines().find(|l| l.starts_with("arousal")).unwrap();
    assert_eq!(
        arousal.split_whitespace().collect::<Vec<_>>()[1..3],
        ["undefined", "undefined"],
        "{table}"
    );
    let valence = table.lines().find(|l| l.starts_with("valence")).unwrap();
    assert!(!valence.contains("undefined"), "{table}");
    assert!(table.contains("mean CCC   undefined"), "{table}");
    let o = eval(model.path(), &data, &["--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        v["arousal"]["ccc"].is_null() && v["mean_ccc"].is_null(),
        "{v}"
    );
    assert!(v["valence"]["ccc"].is_f64(), "{v}");
}

/// A categorical model (WavLMForSequenceClassification over neutral,
/// happy, sad, angry) scored on an `audio,label` manifest: its scores are
/// those of its own most probable labels against the manifest's (the
/// measures themselves are checked against scikit-learn in
/// `emoscope_training::class_metrics`), and a label the model does not have
/// is an error naming it and the model's labels.
#[test]
fn a_categorical_model_is_scored_against_the_label_column() {
    let model = common::fixture("classification-wavlm-categories");
    let tmp = tempfile::tempdir().unwrap();
    let names = ["neutral", "happy", "sad", "angry"];
    let truth = ["Happy", "sad", "neutral", "angry", "happy", "sad"];
    let mut csv = String::from("audio,label\n");
    let classifier =
        emoscope_models::SequenceClassifier::load(&model, &Default::default()).unwrap();
    let mut predicted = Vec::new();
    for (i, label) in truth.iter().enumerate() {
        let name = format!("u{i}.wav");
        let x = signal(0.5 + 0.25 * i as f64, 16_000.0);
        write_wav(&tmp.path().join(&name), &x, 16_000);
        let x = emoscope::audio::load_mono(&tmp.path().join(&name), 16_000).unwrap();
        let (top, _) = classifier
            .classify(&x)
            .unwrap()
            .top_category()
            .map(|(l, p)| (l.to_owned(), p))
            .unwrap();
        predicted.push(names.iter().position(|n| *n == top).unwrap());
        csv += &format!("{name},{label}\n");
    }
    let data = tmp.path().join("m.csv");
    std::fs::write(&data, csv).unwrap();
    let o = eval(&model, &data, &["--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let truth: Vec<usize> = truth
        .iter()
        .map(|t| {
            names
                .iter()
                .position(|n| n.eq_ignore_ascii_case(t))
                .unwrap()
        })
        .collect();
    let want = emoscope_training::class_metrics::classification_scores(&truth, &predicted, 4);
    assert_eq!(v["utterances"], 6);
    for (key, w) in [
        ("accuracy", want.accuracy),
        ("uar", want.uar),
        ("macro_f1", want.macro_f1),
    ] {
        assert!((v[key].as_f64().unwrap() - w).abs() < 1e-12, "{key}");
    }
    let confusion: Vec<Vec<usize>> = serde_json::from_value(v["confusion"].clone()).unwrap();
    assert_eq!(confusion, want.confusion);
    assert_eq!(confusion.iter().flatten().sum::<usize>(), 6);
    // The table prints the same figures.
    let o = eval(&model, &data, &[]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains(&format!("accuracy  {:>9.4}", want.accuracy)),
        "{text}"
    );
    // A label the model does not have.
    std::fs::write(&data, "audio,label\nu0.wav,bored\n").unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_emoscope"))
        .args(["eval", "--model"])
        .arg(&model)
        .arg("--data")
        .arg(&data)
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("\"bored\"") && err.contains("neutral, happy, sad, angry"),
        "{err}"
    );
}
