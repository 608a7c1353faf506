//! `emoscope predict` end to end: the CLI's offline analysis of a file
//! equals the library's `analyze_offline` on the same samples.

use std::process::Command;

use candle_core::Device;
use emoscope::engine::{analyze_offline, AnalysisConfig, EncoderHead};

mod common;
use common::{model_dir, signal, write_wav};

#[test]
fn predict_prints_the_offline_timeline() {
    let dir = model_dir("predict", 1.0);
    let tmp = tempfile::tempdir().unwrap();
    let wav = tmp.path().join("speech.wav");
    let x = signal(6.5, 44_100.0);
    write_wav(&wav, &x, 44_100);
    let out = Command::new(env!("CARGO_BIN_EXE_emoscope"))
        .args([
            "predict",
            wav.to_str().unwrap(),
            "--model",
            dir.path().to_str().unwrap(),
            "--json",
            "--smoothing",
            "1.5",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut model = EncoderHead::load(dir.path(), &Device::Cpu).unwrap();
    let cfg = AnalysisConfig {
        smoothing_seconds: 1.5,
        ..AnalysisConfig::default()
    };
    let expected = analyze_offline(&x, 44_100.0, &mut model, &cfg, None).unwrap();
    // 6.5 s with 4 s windows every 1 s: windows at 0, 1, 2 s.
    assert_eq!(expected.len(), 3);
    assert_eq!(lines.len(), expected.len());
    for (l, e) in lines.iter().zip(&expected) {
        assert_eq!(l["start"].as_f64().unwrap(), e.start);
        assert_eq!(l["end"].as_f64().unwrap(), e.end);
        assert_eq!(l["arousal"].as_f64().unwrap() as f32, e.smoothed.arousal);
        assert_eq!(l["valence"].as_f64().unwrap() as f32, e.smoothed.valence);
        assert_eq!(
            l["dominance"].as_f64().unwrap() as f32,
            e.smoothed.dominance
        );
    }
}

#[test]
fn predict_without_a_head_names_the_missing_file() {
    let tmp = tempfile::tempdir().unwrap();
    let wav = tmp.path().join("speech.wav");
    write_wav(&wav, &signal(1.0, 16_000.0), 16_000);
    let model = common::fixture("distilhubert");
    let out = Command::new(env!("CARGO_BIN_EXE_emoscope"))
        .args([
            "predict",
            wav.to_str().unwrap(),
            "--model",
            model.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("head.safetensors"), "{err}");
}
