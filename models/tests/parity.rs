//! Parity with Hugging Face transformers on the committed fixtures.
//!
//! `models/reference/make_fixtures.py` built tiny random-weight HuBERT
//! (DistilHuBERT-shaped) and wav2vec2 (large-robust-shaped) checkpoints in two
//! key layouts and recorded, with PyTorch, the normalised inputs, the conv
//! features and every hidden state for single inputs and a padded batch.
//! Every comparison below is against those recorded reference tensors.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use emoscope_models::{Kernels, LoadOptions, SslEncoder};

mod common;
use common::max_abs_diff;

/// Largest allowed absolute difference from the reference, on every element.
const TOL: f32 = 1e-4;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn expected(family: &str) -> HashMap<String, Tensor> {
    candle_core::safetensors::load(
        fixtures().join(format!("{family}_expected.safetensors")),
        &Device::Cpu,
    )
    .expect("expected tensors")
}

fn load(dir: &str, kernels: Kernels) -> SslEncoder {
    let opts = LoadOptions {
        kernels,
        ..LoadOptions::default()
    };
    SslEncoder::load_with(&fixtures().join(dir), &opts)
        .unwrap_or_else(|e| panic!("loading {dir}: {e}"))
}

fn vec1(t: &Tensor) -> Vec<f32> {
    t.to_vec1::<f32>().unwrap()
}

fn n_inputs(exp: &HashMap<String, Tensor>) -> usize {
    exp.keys().filter(|k| k.starts_with("raw.")).count()
}

/// Every single-input hidden state and the conv features equal the reference.
fn check_single(dir: &str, family: &str, kernels: Kernels) {
    let model = load(dir, kernels);
    let exp = expected(family);
    let layers = model.config().num_hidden_layers + 1;
    for i in 0..n_inputs(&exp) {
        let raw = vec1(&exp[&format!("raw.{i}")]);
        let prepared = Tensor::new(model.prepare(&raw), &Device::Cpu).unwrap();
        let d = max_abs_diff(&prepared, &exp[&format!("input.{i}")]);
        assert!(d <= 1e-5, "{dir} input {i}: normalisation differs by {d}");
        let out = model.encode(&raw).unwrap();
        assert_eq!(out.hidden_states.len(), layers);
        let feats = out.extract_features.squeeze(0).unwrap();
        let d = max_abs_diff(&feats, &exp[&format!("single.{i}.extract_features")]);
        assert!(
            d <= TOL,
            "{dir} {kernels:?} input {i}: conv features differ by {d}"
        );
        for (l, h) in out.hidden_states.iter().enumerate() {
            let d = max_abs_diff(
                &h.squeeze(0).unwrap(),
                &exp[&format!("single.{i}.hidden_states.{l}")],
            );
            assert!(
                d <= TOL,
                "{dir} {kernels:?} input {i} hidden state {l}: max |diff| {d}"
            );
        }
        let d = max_abs_diff(
            &out.last_hidden_state.squeeze(0).unwrap(),
            &exp[&format!("single.{i}.last_hidden_state")],
        );
        assert!(
            d <= TOL,
            "{dir} {kernels:?} input {i} last hidden state: max |diff| {d}"
        );
    }
}

/// The padded batch (built from the raw inputs by `encode_batch`) equals the
/// reference's padded batch, including the frame lengths it derives.
fn check_batch(dir: &str, family: &str, kernels: Kernels) -> emoscope_models::EncoderOutput {
    let model = load(dir, kernels);
    let exp = expected(family);
    let raws: Vec<Vec<f32>> = (0..n_inputs(&exp))
        .map(|i| vec1(&exp[&format!("raw.{i}")]))
        .collect();
    let refs: Vec<&[f32]> = raws.iter().map(Vec::as_slice).collect();
    let out = model.encode_batch(&refs).unwrap();
    let frame_lengths: Vec<usize> = exp["batch.frame_lengths"]
        .to_vec1::<i64>()
        .unwrap()
        .into_iter()
        .map(|n| n as usize)
        .collect();
    assert_eq!(out.frame_lengths, frame_lengths);
    for (l, h) in out.hidden_states.iter().enumerate() {
        let d = max_abs_diff(h, &exp[&format!("batch.hidden_states.{l}")]);
        assert!(
            d <= TOL,
            "{dir} {kernels:?} batch hidden state {l}: max |diff| {d}"
        );
    }
    let d = max_abs_diff(&out.last_hidden_state, &exp["batch.last_hidden_state"]);
    assert!(
        d <= TOL,
        "{dir} {kernels:?} batch last hidden state: max |diff| {d}"
    );
    out
}

#[test]
fn distilhubert_single_inputs_match_reference() {
    for dir in ["distilhubert", "distilhubert_legacy"] {
        for kernels in [Kernels::Auto, Kernels::Candle] {
            check_single(dir, "distilhubert", kernels);
        }
    }
}

#[test]
fn wav2vec2_robust_single_inputs_match_reference() {
    for dir in ["wav2vec2_robust", "wav2vec2_robust_legacy"] {
        for kernels in [Kernels::Auto, Kernels::Candle] {
            check_single(dir, "wav2vec2_robust", kernels);
        }
    }
}

#[test]
fn distilhubert_padded_batch_matches_reference() {
    // GroupNorm in the first conv takes its statistics over the whole padded
    // item, in the reference as here, so for this family a padded item is
    // compared with the reference's padded batch, not with the item alone.
    for kernels in [Kernels::Auto, Kernels::Candle] {
        check_batch("distilhubert_legacy", "distilhubert", kernels);
    }
}

#[test]
fn wav2vec2_robust_padded_batch_matches_reference_and_each_item_alone() {
    let exp = expected("wav2vec2_robust");
    for kernels in [Kernels::Auto, Kernels::Candle] {
        let out = check_batch("wav2vec2_robust", "wav2vec2_robust", kernels);
        // With per-frame LayerNorm, masking makes every valid frame of a padded
        // item equal to the item run alone.
        let model = load("wav2vec2_robust", kernels);
        for (i, &n) in out.frame_lengths.iter().enumerate() {
            let alone = model.encode(&vec1(&exp[&format!("raw.{i}")])).unwrap();
            for (l, (hb, ha)) in out
                .hidden_states
                .iter()
                .zip(&alone.hidden_states)
                .enumerate()
            {
                let item = hb.get(i).unwrap().narrow(0, 0, n).unwrap();
                let d = max_abs_diff(&item, &ha.squeeze(0).unwrap());
                assert!(
                    d <= TOL,
                    "{kernels:?} item {i} layer {l}: batch vs alone {d}"
                );
            }
        }
    }
}

#[test]
fn both_weight_norm_layouts_give_identical_models() {
    let a = load("distilhubert", Kernels::Auto);
    let b = load("distilhubert_legacy", Kernels::Auto);
    let x: Vec<f32> = (0..4000).map(|i| (i as f32 * 0.013).sin()).collect();
    let (ha, hb) = (a.encode(&x).unwrap(), b.encode(&x).unwrap());
    for (x, y) in ha.hidden_states.iter().zip(&hb.hidden_states) {
        assert_eq!(max_abs_diff(x, y), 0.0);
    }
}

/// Relative RMS difference `||a - b|| / ||b||`.
fn rel_rms(a: &Tensor, b: &Tensor) -> f32 {
    let num = (a - b)
        .unwrap()
        .sqr()
        .unwrap()
        .sum_all()
        .unwrap()
        .sqrt()
        .unwrap();
    let den = b.sqr().unwrap().sum_all().unwrap().sqrt().unwrap();
    (num / den).unwrap().to_scalar::<f32>().unwrap()
}

/// The bf16 CPU path (AVX512-BF16 products, f32 sums) stays within an
/// accuracy budget of the f32 reference: a relative RMS error of at most
/// 2^-5, eight times bf16's unit roundoff of 2^-8. Skipped on CPUs without
/// AVX512-BF16, where `DType::BF16` runs candle's generic bf16 ops instead.
#[test]
fn bf16_cpu_path_stays_within_its_accuracy_budget() {
    if !emoscope_models::cpu::bf16_available() {
        eprintln!("skipping: no AVX512-BF16 on this CPU");
        return;
    }
    for (dir, family) in [
        ("distilhubert", "distilhubert"),
        ("wav2vec2_robust", "wav2vec2_robust"),
    ] {
        let opts = LoadOptions {
            dtype: candle_core::DType::BF16,
            ..LoadOptions::default()
        };
        let model = SslEncoder::load_with(&fixtures().join(dir), &opts).unwrap();
        let exp = expected(family);
        let raw = vec1(&exp["raw.2"]);
        let out = model.encode(&raw).unwrap();
        for (l, h) in out.hidden_states.iter().enumerate() {
            let r = rel_rms(
                &h.squeeze(0).unwrap(),
                &exp[&format!("single.2.hidden_states.{l}")],
            );
            eprintln!("{dir} bf16 hidden state {l}: relative RMS error {r:.2e}");
            assert!(r <= 1.0 / 32.0, "{dir} layer {l}: relative RMS error {r}");
            // bf16 rounding must actually be in effect (this is not the f32 path).
            if l == 0 {
                assert!(r > 1e-6, "{dir}: bf16 output equals f32");
            }
        }
    }
}
