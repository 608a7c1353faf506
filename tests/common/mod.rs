//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};

/// The repository's root folder (the workspace, where `Cargo.lock` is): the
/// runtime's tests are built from it, the command line's from `cli/`.
pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .find(|dir| dir.join("Cargo.lock").is_file())
        .expect("the tests run inside the repository")
}

/// A committed encoder fixture directory.
pub fn fixture(name: &str) -> PathBuf {
    repo().join("models/tests/fixtures").join(name)
}

/// An emotion checkpoint directory: the DistilHuBERT-shaped fixture encoder
/// (by absolute path), mean pooling of its output, and a deterministic linear
/// A/V/D head (`scale` varies it between models).
pub fn model_dir(name: &str, scale: f32) -> tempfile::TempDir {
    model_dir_on(name, scale, "distilhubert", None)
}

/// [`model_dir`] on another fixture backbone (hidden size 32), optionally
/// overriding its `do_normalize`.
pub fn model_dir_on(
    name: &str,
    scale: f32,
    backbone: &str,
    normalize: Option<bool>,
) -> tempfile::TempDir {
    let dir = tempfile::Builder::new().prefix(name).tempdir().unwrap();
    let hidden = 32;
    let w: Vec<f32> = (0..3 * hidden)
        .map(|i| scale * ((i as f32) * 0.7).sin() / hidden as f32)
        .collect();
    let mut map = std::collections::HashMap::new();
    map.insert(
        "head.layers.0.weight".to_owned(),
        Tensor::from_vec(w, (3, hidden), &Device::Cpu).unwrap(),
    );
    map.insert(
        "head.layers.0.bias".to_owned(),
        Tensor::new(&[0.1f32, -0.2, 0.3], &Device::Cpu).unwrap(),
    );
    candle_core::safetensors::save(&map, dir.path().join("head.safetensors")).unwrap();
    let manifest = serde_json::json!({
        "format": "emoscope-emotion-model",
        "version": 1,
        "name": name,
        "audio": {
            "path": fixture(backbone), "layers": "last", "pooling": "mean", "normalize": normalize,
        },
        "head": { "fusion": "early", "hidden": [], "activation": "relu" },
        "labels": ["arousal", "valence", "dominance"],
        "output_range": [-1.0, 1.0],
    });
    std::fs::write(
        dir.path().join("emoscope.json"),
        serde_json::to_string_pretty(&manifest).unwrap(),
    )
    .unwrap();
    dir
}

/// A voiced-like test signal with slowly changing loudness and pitch, so windows differ.
pub fn signal(seconds: f64, rate: f32) -> Vec<f32> {
    let n = (seconds * rate as f64) as usize;
    (0..n)
        .map(|i| {
            let t = i as f32 / rate;
            let f0 = 120.0 + 30.0 * (0.3 * t).sin();
            (0.2 + 0.15 * (0.5 * t).sin()) * (2.0 * std::f32::consts::PI * f0 * t).sin()
        })
        .collect()
}

/// Writes a mono 32-bit float WAV.
pub fn write_wav(path: &Path, samples: &[f32], rate: u32) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for &s in samples {
        w.write_sample(s).unwrap();
    }
    w.finalize().unwrap();
}
