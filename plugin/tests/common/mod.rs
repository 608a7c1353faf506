//! Helpers shared by the plugin's integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};

pub mod bounce;

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// The one place these tests make a model: an emotion checkpoint directory
/// (`emoscope.json`) that `emoscope::engine::load_predictor` accepts: the
/// committed DistilHuBERT-shaped fixture encoder (by absolute path), mean
/// pooling, and a deterministic linear A/V/D head (the same recipe as the root
/// crate's `tests/common::model_dir`, with a gain and bias for the CC range).
pub fn model_dir(name: &str) -> tempfile::TempDir {
    let dir = tempfile::Builder::new().prefix(name).tempdir().unwrap();
    let fixture = workspace().join("models/tests/fixtures/distilhubert");
    let hidden = 32;
    // The random fixture encoder's mean-pooled features barely move with the
    // input: through a head of sin(0.7 i) / 32 they give about (0.187, -0.112,
    // 0.017) on speech, +- 0.003. Gain 50 and a bias of 0.5 - 50 * mean spread
    // speech readings over the middle of the 0..1 output range (about
    // 0.4..0.6, i.e. some 25 CC steps) instead of clamping at an end.
    let w: Vec<f32> = (0..3 * hidden)
        .map(|i| 50.0 * ((i as f32) * 0.7).sin() / hidden as f32)
        .collect();
    let mut map = std::collections::HashMap::new();
    map.insert(
        "head.layers.0.weight".to_owned(),
        Tensor::from_vec(w, (3, hidden), &Device::Cpu).unwrap(),
    );
    map.insert(
        "head.layers.0.bias".to_owned(),
        Tensor::new(&[-8.87f32, 6.07, -0.37], &Device::Cpu).unwrap(),
    );
    candle_core::safetensors::save(&map, dir.path().join("head.safetensors")).unwrap();
    let manifest = serde_json::json!({
        "format": "emoscope-emotion-model",
        "version": 1,
        "name": name,
        "audio": { "path": fixture, "layers": "last", "pooling": "mean" },
        "head": { "fusion": "early", "hidden": [], "activation": "relu" },
        "labels": ["arousal", "valence", "dominance"],
        "output_range": [0.0, 1.0],
    });
    std::fs::write(
        dir.path().join("emoscope.json"),
        serde_json::to_string_pretty(&manifest).unwrap(),
    )
    .unwrap();
    dir
}

/// `examples/speech.wav` as f32 samples and its rate.
pub fn speech() -> (Vec<f32>, u32) {
    let mut r = hound::WavReader::open(workspace().join("examples/speech.wav")).unwrap();
    let spec = r.spec();
    assert_eq!((spec.channels, spec.bits_per_sample), (1, 16));
    let s = r
        .samples::<i16>()
        .map(|x| f32::from(x.unwrap()) / 32768.0)
        .collect();
    (s, spec.sample_rate)
}

/// `n` samples of speech repeated, with a second channel that differs
/// (inverted, with a denormal and a negative zero sprinkled in) so bit-exact
/// passthrough is checked on awkward values too.
pub fn program(n: usize, channels: usize) -> Vec<Vec<f32>> {
    let (s, _) = speech();
    let mono: Vec<f32> = s.iter().cycle().take(n).copied().collect();
    let mut out = vec![mono.clone()];
    if channels > 1 {
        let mut other: Vec<f32> = mono.iter().map(|x| -0.5 * x).collect();
        for (i, x) in other.iter_mut().enumerate() {
            match i % 997 {
                0 => *x = 1.0e-40,
                1 => *x = -0.0,
                _ => {}
            }
        }
        out.push(other);
    }
    out
}

/// What the plugin outputs for input `x`: `x` itself, bit for bit, except
/// that a subnormal becomes a zero of the same sign.
pub fn passed(x: f32) -> f32 {
    if x.is_subnormal() {
        0.0f32.copysign(x)
    } else {
        x
    }
}
