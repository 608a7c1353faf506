//! WavLM parity with Hugging Face transformers on the committed fixtures.
//!
//! `models/reference/make_wavlm_fixtures.py` built two tiny random-weight
//! `WavLMModel`s, base-shaped (GroupNorm conv, post-LN encoder) and
//! large-shaped (LayerNorm convs, pre-LN encoder), with few relative-position
//! buckets over a short distance so that their inputs of 29 and 44 frames
//! reach the exact, logarithmic and clamped buckets, and recorded with
//! PyTorch the conv features and every hidden state of each input alone and of
//! both as one padded batch. Every comparison below is against those tensors,
//! on the CPU kernels and on candle's ops.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use emoscope_models::{
    Checkpoint, EmotionModel, Kernels, LoadError, LoadOptions, PreprocessorConfig, SslConfig,
    SslEncoder,
};

mod common;
use common::max_abs_diff;

/// Largest allowed absolute difference from the reference, on every element.
const TOL: f32 = 1e-4;

const VARIANTS: [&str; 2] = ["wavlm-base", "wavlm-large"];
const KERNELS: [Kernels; 2] = [Kernels::Auto, Kernels::Candle];

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn expected(variant: &str) -> HashMap<String, Tensor> {
    candle_core::safetensors::load(fixture(variant).join("expected.safetensors"), &Device::Cpu)
        .expect("expected tensors")
}

fn opts(kernels: Kernels) -> LoadOptions {
    LoadOptions {
        kernels,
        ..LoadOptions::default()
    }
}

fn load(dir: &Path, kernels: Kernels) -> SslEncoder {
    SslEncoder::load_with(dir, &opts(kernels))
        .unwrap_or_else(|e| panic!("loading {}: {e}", dir.display()))
}

fn raws(exp: &HashMap<String, Tensor>) -> Vec<Vec<f32>> {
    let n = exp.keys().filter(|k| k.starts_with("raw.")).count();
    (0..n)
        .map(|i| exp[&format!("raw.{i}")].to_vec1::<f32>().unwrap())
        .collect()
}

/// Asserts `got` within [`TOL`] of `exp[key]` and returns the difference.
fn close(got: &Tensor, exp: &HashMap<String, Tensor>, key: &str, what: &str) -> f32 {
    let d = max_abs_diff(got, &exp[key]);
    assert!(d <= TOL, "{what} {key}: max |diff| {d}");
    d
}

/// Every single-input hidden state, the last hidden state and the conv
/// features equal the reference; returns the largest difference.
fn check_single(variant: &str, kernels: Kernels) -> f32 {
    let model = load(&fixture(variant), kernels);
    let exp = expected(variant);
    let what = format!("{variant} {kernels:?}");
    let mut worst = 0f32;
    for (i, raw) in raws(&exp).iter().enumerate() {
        let out = model.encode(raw).unwrap();
        assert_eq!(
            out.hidden_states.len(),
            model.config().num_hidden_layers + 1
        );
        let sq = |t: &Tensor| t.squeeze(0).unwrap();
        let key = format!("single.{i}.extract_features");
        worst = worst.max(close(&sq(&out.extract_features), &exp, &key, &what));
        for (l, h) in out.hidden_states.iter().enumerate() {
            let key = format!("single.{i}.hidden_states.{l}");
            worst = worst.max(close(&sq(h), &exp, &key, &what));
        }
        let key = format!("single.{i}.last_hidden_state");
        worst = worst.max(close(&sq(&out.last_hidden_state), &exp, &key, &what));
    }
    worst
}

/// The padded batch `encode_batch` builds from the raw inputs equals the
/// reference's padded batch, padded frames included, with the same frame
/// lengths; returns the output and the largest difference.
fn check_batch(variant: &str, kernels: Kernels) -> (emoscope_models::EncoderOutput, f32) {
    let model = load(&fixture(variant), kernels);
    let exp = expected(variant);
    let what = format!("{variant} {kernels:?} batch");
    let raws = raws(&exp);
    let refs: Vec<&[f32]> = raws.iter().map(Vec::as_slice).collect();
    let out = model.encode_batch(&refs).unwrap();
    let frame_lengths: Vec<usize> = exp["batch.frame_lengths"]
        .to_vec1::<i64>()
        .unwrap()
        .into_iter()
        .map(|n| n as usize)
        .collect();
    assert_eq!(out.frame_lengths, frame_lengths);
    assert!(frame_lengths[0] < frame_lengths[1], "the batch is padded");
    let mut worst = 0f32;
    for (l, h) in out.hidden_states.iter().enumerate() {
        worst = worst.max(close(h, &exp, &format!("batch.hidden_states.{l}"), &what));
    }
    worst = worst.max(close(
        &out.last_hidden_state,
        &exp,
        "batch.last_hidden_state",
        &what,
    ));
    (out, worst)
}

#[test]
fn wavlm_base_single_inputs_match_reference() {
    for kernels in KERNELS {
        let d = check_single("wavlm-base", kernels);
        eprintln!("wavlm-base {kernels:?} single inputs: max |diff| {d:.2e}");
    }
}

#[test]
fn wavlm_large_single_inputs_match_reference() {
    for kernels in KERNELS {
        let d = check_single("wavlm-large", kernels);
        eprintln!("wavlm-large {kernels:?} single inputs: max |diff| {d:.2e}");
    }
}

#[test]
fn wavlm_base_padded_batch_matches_reference() {
    // GroupNorm in the first conv takes its statistics over the whole padded
    // item, in the reference as here, so this variant's padded item is
    // compared with the reference's padded batch, not with the item alone.
    for kernels in KERNELS {
        let (_, d) = check_batch("wavlm-base", kernels);
        eprintln!("wavlm-base {kernels:?} padded batch: max |diff| {d:.2e}");
    }
}

#[test]
fn wavlm_large_padded_batch_matches_reference_and_each_item_alone() {
    let exp = expected("wavlm-large");
    let raws = raws(&exp);
    for kernels in KERNELS {
        let (out, d) = check_batch("wavlm-large", kernels);
        eprintln!("wavlm-large {kernels:?} padded batch: max |diff| {d:.2e}");
        // With per-frame LayerNorm in the convs, masked attention keys and a
        // bias that depends on relative positions only, every valid frame of
        // a padded item equals the item run alone.
        let model = load(&fixture("wavlm-large"), kernels);
        for (i, &n) in out.frame_lengths.iter().enumerate() {
            let alone = model.encode(&raws[i]).unwrap();
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

/// Past 128 frames the CPU kernel splits each head's queries into blocks
/// (`cpu::transformer`'s `QUERY_BLOCK`), each reading its own rows of the
/// position bias; the fixtures' inputs fit in one block. On a 149-frame input
/// and a padded batch with it, the kernel equals candle's ops, which follow the
/// reference op for op (and equal it above).
#[test]
fn cpu_kernels_equal_candle_ops_past_one_query_block() {
    let long: Vec<f32> = (0..3000)
        .map(|i| (i as f32 * 0.031).sin() * 0.4 + (i as f32 * 0.0071).cos() * 0.2)
        .collect();
    let short = &long[..2000];
    for variant in VARIANTS {
        let cpu = load(&fixture(variant), Kernels::Auto);
        let ops = load(&fixture(variant), Kernels::Candle);
        let single = (cpu.encode(&long).unwrap(), ops.encode(&long).unwrap());
        assert_eq!(single.0.frame_lengths, vec![149]);
        let batch = (
            cpu.encode_batch(&[&long, short]).unwrap(),
            ops.encode_batch(&[&long, short]).unwrap(),
        );
        for (what, (a, b)) in [("single", single), ("batch", batch)] {
            for (l, (x, y)) in a.hidden_states.iter().zip(&b.hidden_states).enumerate() {
                let d = max_abs_diff(x, y);
                assert!(
                    d <= TOL,
                    "{variant} {what} hidden state {l}: max |diff| {d}"
                );
            }
        }
    }
}

/// The bucket of every relative position -1000..=1000 under the published
/// checkpoints' configuration (320 buckets, distance 800) is PyTorch's.
#[test]
fn relative_position_buckets_match_reference() {
    let exp = expected("wavlm-base");
    let reference = exp["buckets.320_800"].to_vec1::<i64>().unwrap();
    assert_eq!(reference.len(), 2001);
    for (r, &want) in (-1000i64..=1000).zip(&reference) {
        let got = emoscope_models::speech::wavlm::relative_position_bucket(r, 320, 800);
        assert_eq!(got as i64, want, "relative position {r}");
    }
}

/// Copies a fixture into a temporary directory with its tensors renamed by `rename`.
fn renamed_copy(variant: &str, rename: impl Fn(&str) -> String) -> tempfile::TempDir {
    let src = fixture(variant);
    let dir = tempfile::tempdir().unwrap();
    for f in ["config.json", "preprocessor_config.json"] {
        std::fs::copy(src.join(f), dir.path().join(f)).unwrap();
    }
    let tensors = candle_core::safetensors::load(src.join("model.safetensors"), &Device::Cpu)
        .unwrap()
        .into_iter()
        .map(|(k, v)| (rename(&k), v))
        .collect::<HashMap<_, _>>();
    candle_core::safetensors::save(&tensors, dir.path().join("model.safetensors")).unwrap();
    dir
}

/// A `WavLMForSequenceClassification` checkpoint (every key under `wavlm.`)
/// in the older weight-norm layout (`weight_g` / `weight_v`) loads into the
/// same model as the bare one.
#[test]
fn task_model_prefix_and_legacy_weight_norm_load() {
    for variant in VARIANTS {
        let dir = renamed_copy(variant, |k| {
            let k = k
                .replace("conv.parametrizations.weight.original0", "conv.weight_g")
                .replace("conv.parametrizations.weight.original1", "conv.weight_v");
            format!("wavlm.{k}")
        });
        let exp = expected(variant);
        let raw = &raws(&exp)[1];
        for kernels in KERNELS {
            let a = load(&fixture(variant), kernels).encode(raw).unwrap();
            let b = load(dir.path(), kernels).encode(raw).unwrap();
            for (x, y) in a.hidden_states.iter().zip(&b.hidden_states) {
                // Both layouts hold the same g and v, fused the same way at load.
                assert_eq!(max_abs_diff(x, y), 0.0, "{variant} {kernels:?}");
            }
        }
    }
}

/// A checkpoint without the first layer's relative position table is a load
/// error naming the key and its shape `[num_buckets, heads]`.
#[test]
fn missing_relative_position_table_is_named() {
    let key = "encoder.layers.0.attention.rel_attn_embed.weight";
    let dir = renamed_copy("wavlm-large", |k| {
        if k == key {
            "unused".into()
        } else {
            k.into()
        }
    });
    match SslEncoder::load(dir.path()) {
        Err(LoadError::MissingTensor {
            key: k, expected, ..
        }) => {
            assert_eq!(k, key);
            // num_buckets 10 and 3 heads in the fixture's config.json.
            assert_eq!(expected, vec![10, 3]);
        }
        other => panic!("expected MissingTensor, got {:?}", other.err()),
    }
}

/// `config.json` fields the bucketing cannot work with are rejected by name.
#[test]
fn unusable_bucket_configuration_is_rejected_by_field() {
    for (field, value) in [("num_buckets", 3), ("max_bucket_distance", 2)] {
        let dir = renamed_copy("wavlm-base", str::to_owned);
        let path = dir.path().join("config.json");
        let mut cfg: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        cfg[field] = value.into();
        std::fs::write(&path, cfg.to_string()).unwrap();
        match SslConfig::from_file(&path) {
            Err(LoadError::Unsupported { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{field} = {value}: expected Unsupported, got {other:?}"),
        }
    }
}

/// An Emoscope emotion model (`emoscope.json`) whose audio backbone is a
/// WavLM directory loads through `EmotionModel::load`; with a linear head
/// that picks features 0, 1 and 2, its outputs are the time means of those
/// features of the reference's last hidden state.
#[test]
fn emotion_model_with_a_wavlm_backbone_loads_and_runs() {
    let backbone = fixture("wavlm-large");
    let hidden = SslConfig::from_file(&backbone.join("config.json"))
        .unwrap()
        .hidden_size;
    let dir = tempfile::tempdir().unwrap();
    let manifest = serde_json::json!({
        "format": "emoscope-emotion-model",
        "version": 1,
        "name": "wavlm-probe",
        "audio": { "path": backbone.to_str().unwrap(), "layers": "last", "pooling": "mean" },
        "head": { "fusion": "early", "hidden": [], "activation": "relu" },
        "labels": ["arousal", "valence", "dominance"],
        "output_range": [0.0, 1.0],
        "sample_rate": 16000
    });
    std::fs::write(dir.path().join("emoscope.json"), manifest.to_string()).unwrap();
    let mut w = vec![0f32; 3 * hidden];
    for r in 0..3 {
        w[r * hidden + r] = 1.0;
    }
    let head = HashMap::from([
        (
            "head.layers.0.weight".to_owned(),
            Tensor::from_vec(w, (3, hidden), &Device::Cpu).unwrap(),
        ),
        (
            "head.layers.0.bias".to_owned(),
            Tensor::zeros(3, DType::F32, &Device::Cpu).unwrap(),
        ),
    ]);
    candle_core::safetensors::save(&head, dir.path().join("head.safetensors")).unwrap();

    let exp = expected("wavlm-large");
    let raw = &raws(&exp)[0];
    let means = exp["single.0.last_hidden_state"]
        .mean(0)
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    for kernels in KERNELS {
        let model = EmotionModel::load(dir.path(), &opts(kernels)).unwrap();
        assert_eq!(
            model.audio().unwrap().encoder().config().model_type,
            "wavlm"
        );
        let avd = model.predict(raw, None).unwrap();
        for (d, (&got, &want)) in avd.iter().zip(&means[..3]).enumerate() {
            assert!(
                (got - want).abs() <= TOL,
                "{kernels:?} output {d}: {got} vs reference mean {want}"
            );
        }
    }
}

/// On trainable variables (candle ops) the model equals the reference, and
/// gradients reach the relative position table and every layer's gate.
#[test]
fn trainable_wavlm_matches_reference_and_trains_its_position_bias() {
    for variant in VARIANTS {
        let dir = fixture(variant);
        let ckpt = Checkpoint::open_dir(&dir, DType::F32, &Device::Cpu).unwrap();
        let varmap = ckpt.to_varmap("").unwrap();
        let trainable = Checkpoint::trainable(&varmap, Path::new("<wavlm>"), 0, &Device::Cpu);
        let cfg = SslConfig::from_file(&dir.join("config.json")).unwrap();
        let pre = PreprocessorConfig::from_file(&dir.join("preprocessor_config.json"))
            .unwrap()
            .unwrap();
        let model =
            SslEncoder::from_checkpoint(cfg, pre, &trainable, &opts(Kernels::Candle)).unwrap();
        let exp = expected(variant);
        let out = model.encode(&raws(&exp)[1]).unwrap();
        let what = format!("{variant} trainable");
        close(
            &out.last_hidden_state.squeeze(0).unwrap(),
            &exp,
            "single.1.last_hidden_state",
            &what,
        );
        let grads = out
            .last_hidden_state
            .sqr()
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let data = varmap.data().lock().unwrap();
        for key in [
            "encoder.layers.0.attention.rel_attn_embed.weight",
            "encoder.layers.0.attention.gru_rel_pos_const",
            "encoder.layers.1.attention.gru_rel_pos_const",
            "encoder.layers.1.attention.gru_rel_pos_linear.weight",
        ] {
            let g = grads
                .get(data[key].as_tensor())
                .unwrap_or_else(|| panic!("{what}: no gradient for {key}"));
            let norm = g
                .abs()
                .unwrap()
                .sum_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap();
            assert!(norm > 0.0, "{what}: zero gradient for {key}");
        }
    }
}
