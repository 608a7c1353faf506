//! Data2Vec-Audio parity with Hugging Face transformers on the committed fixture.
//!
//! `models/reference/make_data2vec_fixtures.py` built a tiny random-weight
//! `Data2VecAudioModel` (LayerNorm convs, a stack of three positional convs
//! with weightless LayerNorms, post-LN encoder) and recorded with PyTorch the
//! conv features and every hidden state of two inputs alone and as one padded
//! batch. Every comparison below is against those tensors, on the CPU kernels
//! and on candle's ops.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use emoscope_models::{FeatExtractNorm, Kernels, LoadOptions, SslEncoder};

mod common;
use common::max_abs_diff;

/// Largest allowed absolute difference from the reference, on every element.
const TOL: f32 = 1e-4;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/data2vec-audio")
}

fn expected() -> HashMap<String, Tensor> {
    candle_core::safetensors::load(fixture().join("expected.safetensors"), &Device::Cpu).unwrap()
}

fn load(kernels: Kernels) -> SslEncoder {
    SslEncoder::load_with(
        &fixture(),
        &LoadOptions {
            kernels,
            ..LoadOptions::default()
        },
    )
    .unwrap()
}

fn close(got: &Tensor, exp: &HashMap<String, Tensor>, key: &str, what: &str) {
    let d = max_abs_diff(got, &exp[key]);
    assert!(d <= TOL, "{what} {key}: max |diff| {d}");
}

#[test]
fn the_family_is_read_from_a_config_without_its_norm_keys() {
    let model = load(Kernels::Auto);
    let c = model.config();
    assert_eq!(c.model_type, "data2vec-audio");
    assert_eq!(c.feat_extract_norm, FeatExtractNorm::Layer);
    assert!(!c.do_stable_layer_norm);
    assert_eq!(c.positional_conv_stack(), Some((3, 5)));
}

#[test]
fn every_hidden_state_equals_the_reference_alone_and_in_a_padded_batch() {
    let exp = expected();
    let raws: Vec<Vec<f32>> = (0..2)
        .map(|i| exp[&format!("raw.{i}")].to_vec1::<f32>().unwrap())
        .collect();
    for kernels in [Kernels::Auto, Kernels::Candle] {
        let model = load(kernels);
        let what = format!("{kernels:?}");
        for (i, raw) in raws.iter().enumerate() {
            let out = model.encode(raw).unwrap();
            assert_eq!(out.hidden_states.len(), 3);
            let sq = |t: &Tensor| t.squeeze(0).unwrap();
            close(
                &sq(&out.extract_features),
                &exp,
                &format!("single.{i}.extract_features"),
                &what,
            );
            for (l, h) in out.hidden_states.iter().enumerate() {
                close(
                    &sq(h),
                    &exp,
                    &format!("single.{i}.hidden_states.{l}"),
                    &what,
                );
            }
            close(
                &sq(&out.last_hidden_state),
                &exp,
                &format!("single.{i}.last_hidden_state"),
                &what,
            );
        }
        let refs: Vec<&[f32]> = raws.iter().map(Vec::as_slice).collect();
        let out = model.encode_batch(&refs).unwrap();
        let frames: Vec<usize> = exp["batch.frame_lengths"]
            .to_vec1::<i64>()
            .unwrap()
            .into_iter()
            .map(|n| n as usize)
            .collect();
        assert_eq!(out.frame_lengths, frames);
        for (l, h) in out.hidden_states.iter().enumerate() {
            close(h, &exp, &format!("batch.hidden_states.{l}"), &what);
        }
        close(
            &out.last_hidden_state,
            &exp,
            "batch.last_hidden_state",
            &what,
        );
    }
}
