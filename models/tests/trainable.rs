//! Encoders over trainable variables: created from scratch or from a
//! checkpoint, differentiable end to end with `Kernels::Candle`, saved in a
//! layout that loads like any published checkpoint.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::{Optimizer, VarMap};
use emoscope_models::{
    Checkpoint, Kernels, LoadOptions, PreprocessorConfig, SslConfig, SslEncoder,
};

mod common;
use common::max_abs_diff;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn candle_opts() -> LoadOptions {
    LoadOptions {
        kernels: Kernels::Candle,
        ..LoadOptions::default()
    }
}

fn config() -> (SslConfig, PreprocessorConfig) {
    let dir = fixture("distilhubert");
    let cfg = SslConfig::from_file(&dir.join("config.json")).unwrap();
    let pre = PreprocessorConfig::from_file(&dir.join("preprocessor_config.json"))
        .unwrap()
        .unwrap();
    (cfg, pre)
}

fn trainable(varmap: &VarMap, seed: u64) -> SslEncoder {
    let (cfg, pre) = config();
    let ckpt = Checkpoint::trainable(varmap, Path::new("<student>"), seed, &Device::Cpu);
    SslEncoder::from_checkpoint(cfg, pre, &ckpt, &candle_opts()).unwrap()
}

fn signal(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| (i as f32 * 0.05).sin() * 0.3 + (i as f32 * 0.013).cos() * 0.1)
        .collect()
}

#[test]
fn a_fresh_student_is_deterministic_per_seed_and_saves_as_a_checkpoint() {
    let x = signal(6000);
    let (a, b, c) = (VarMap::new(), VarMap::new(), VarMap::new());
    let ya = trainable(&a, 7).encode(&x).unwrap().last_hidden_state;
    let yb = trainable(&b, 7).encode(&x).unwrap().last_hidden_state;
    let yc = trainable(&c, 8).encode(&x).unwrap().last_hidden_state;
    assert_eq!(max_abs_diff(&ya, &yb), 0.0, "same seed, same weights");
    assert!(max_abs_diff(&ya, &yc) > 1e-3, "another seed, other weights");
    // Saved in the current layout, it loads through the ordinary loader (CPU kernels).
    let dir = tempfile::tempdir().unwrap();
    for f in ["config.json", "preprocessor_config.json"] {
        std::fs::copy(fixture("distilhubert").join(f), dir.path().join(f)).unwrap();
    }
    a.save(dir.path().join("model.safetensors")).unwrap();
    let keys = Checkpoint::open_dir(dir.path(), DType::F32, &Device::Cpu)
        .unwrap()
        .keys();
    let reference = Checkpoint::open_dir(&fixture("distilhubert"), DType::F32, &Device::Cpu)
        .unwrap()
        .keys();
    assert_eq!(
        keys, reference,
        "a fresh student has exactly the keys of a published checkpoint"
    );
    let loaded = SslEncoder::load(dir.path())
        .unwrap()
        .encode(&x)
        .unwrap()
        .last_hidden_state;
    let d = max_abs_diff(&loaded, &ya);
    assert!(d < 1e-4, "saved student differs by {d}");
}

#[test]
fn fine_tuning_starts_from_the_checkpoint_and_the_split_path_is_the_same_model() {
    let x = signal(7000);
    let reference = SslEncoder::load(&fixture("distilhubert_legacy")).unwrap();
    let varmap = Checkpoint::open_dir(&fixture("distilhubert_legacy"), DType::F32, &Device::Cpu)
        .unwrap()
        .to_varmap("hubert.")
        .unwrap();
    let student = trainable(&varmap, 0);
    let want = reference.encode(&x).unwrap();
    let got = student.encode(&x).unwrap();
    for (l, (a, b)) in got
        .hidden_states
        .iter()
        .zip(&want.hidden_states)
        .enumerate()
    {
        let d = max_abs_diff(a, b);
        assert!(d < 1e-4, "hidden state {l} differs by {d}");
    }
    // Conv features from the fast frozen copy, the rest on the variables.
    let (input, lengths) = reference.prepare_batch(&[&x]).unwrap();
    let (features, frames) = reference
        .extract_features(&input, lengths.as_deref())
        .unwrap();
    let split = student.forward_features(&features, &frames).unwrap();
    let d = max_abs_diff(&split.last_hidden_state, &want.last_hidden_state);
    assert!(d < 1e-4, "split path differs by {d}");
}

#[test]
fn every_weight_gets_a_gradient_and_adamw_reduces_a_loss() {
    let x = signal(5000);
    let varmap = VarMap::new();
    let target = Tensor::new(&[0.5f32], &Device::Cpu).unwrap();
    let loss_of = |enc: &SslEncoder| -> Tensor {
        let h = enc.encode(&x).unwrap().last_hidden_state;
        (h.mean_all().unwrap() - target.squeeze(0).unwrap())
            .unwrap()
            .sqr()
            .unwrap()
    };
    let first = trainable(&varmap, 1);
    let loss = loss_of(&first);
    let grads = loss.backward().unwrap();
    let vars = varmap.data().lock().unwrap();
    let missing: Vec<&String> = vars
        .iter()
        .filter(|(_, v)| grads.get(v.as_tensor()).is_none())
        .map(|(k, _)| k)
        .collect();
    assert!(missing.is_empty(), "no gradient for {missing:?}");
    drop(vars);
    let start = loss.to_scalar::<f32>().unwrap();
    let mut opt = candle_nn::AdamW::new(
        varmap.all_vars(),
        candle_nn::ParamsAdamW {
            lr: 1e-2,
            ..Default::default()
        },
    )
    .unwrap();
    let mut last = start;
    for _ in 0..15 {
        // Rebuilt each step: derived weights (weight norm) follow the updated variables.
        let enc = trainable(&varmap, 1);
        let loss = loss_of(&enc);
        last = loss.to_scalar::<f32>().unwrap();
        opt.backward_step(&loss).unwrap();
    }
    assert!(last < 0.5 * start, "loss went from {start} to {last}");
}

#[test]
fn an_emotion_model_trains_its_head_and_text_backbone() {
    use emoscope_models::emotion::{Manifest, Parts};
    use emoscope_models::{EmotionModel, TextEncoder};
    let dir = fixture("emotion/early_fallback");
    let manifest = Manifest::read(&dir).unwrap();
    let text_dir = dir.join(&manifest.text.as_ref().unwrap().path);
    // Text variables: created by a first build, then filled from the checkpoint.
    let mut text_vars = VarMap::new();
    TextEncoder::load_with(
        &text_dir,
        candle_nn::VarBuilder::from_varmap(&text_vars, DType::F32, &Device::Cpu),
    )
    .unwrap();
    text_vars.load(text_dir.join("model.safetensors")).unwrap();
    let head_vars = VarMap::new();
    let build = || {
        let audio = SslEncoder::load(&dir.join(&manifest.audio.as_ref().unwrap().path)).unwrap();
        let text = TextEncoder::load_with(
            &text_dir,
            candle_nn::VarBuilder::from_varmap(&text_vars, DType::F32, &Device::Cpu),
        )
        .unwrap();
        EmotionModel::from_parts(
            manifest.clone(),
            Parts {
                audio: Some(audio),
                text: Some(text),
                head: candle_nn::VarBuilder::from_varmap(&head_vars, DType::F32, &Device::Cpu),
                head_path: "<head>".into(),
            },
        )
        .unwrap()
    };
    // The text variables reproduce the fixture's embedding.
    let model = build();
    let frozen = TextEncoder::load(&text_dir, &Device::Cpu).unwrap();
    let sentence = "What a lovely day";
    let d = max_abs_diff(
        &model.text().unwrap().embed_batch(&[sentence]).unwrap(),
        &frozen.embed_batch(&[sentence]).unwrap(),
    );
    assert!(d < 1e-5, "{d}");
    let x = signal(16_000);
    let y = model.forward(&[&x], &[Some(sentence)], true).unwrap();
    let loss = y.sqr().unwrap().sum_all().unwrap();
    let grads = loss.backward().unwrap();
    for (what, vars) in [("head", &head_vars), ("text", &text_vars)] {
        let data = vars.data().lock().unwrap();
        // The fallback MLP is not on this path; everything else must be.
        let missing: Vec<&String> = data
            .iter()
            .filter(|(k, v)| !k.starts_with("fallback.") && grads.get(v.as_tensor()).is_none())
            .map(|(k, _)| k)
            .collect();
        assert!(missing.is_empty(), "{what}: no gradient for {missing:?}");
    }
}
