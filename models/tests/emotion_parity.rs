//! The emotion model against PyTorch re-creations of every head
//! (`models/reference/make_emotion_fixtures.py`): pooled audio, text
//! embedding and outputs of each utterance alone, of a padded batch, and of
//! the audio-only fallbacks; audeering's published model as its model card
//! runs it; the manifest; and bad checkpoints.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use emoscope_models::emotion::{Dimension, Manifest, Parts};
use emoscope_models::{
    EmotionModel, LoadError, LoadOptions, Mode, RunError, SslConfig, SslEncoder,
};

mod common;
use common::max_abs_diff;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/emotion")
}

fn inputs() -> (Vec<Vec<f32>>, Vec<String>) {
    let t = candle_core::safetensors::load(fixtures().join("inputs.safetensors"), &Device::Cpu)
        .unwrap();
    let audio = (0..2)
        .map(|i| t[&format!("input.{i}")].to_vec1::<f32>().unwrap())
        .collect();
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("inputs.json")).unwrap())
            .unwrap();
    let texts = json["texts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    (audio, texts)
}

fn close(what: &str, got: &Tensor, expected: &Tensor) {
    let d = max_abs_diff(got, expected);
    assert!(d <= 1e-4, "{what}: differs from PyTorch by {d}");
}

fn load(name: &str) -> EmotionModel {
    EmotionModel::load(&fixtures().join(name), &LoadOptions::default())
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Compares every recorded tensor of one fixture model.
fn check(name: &str, mode: Mode) {
    let model = load(name);
    assert_eq!(model.mode(), mode, "{name}");
    let exp = candle_core::safetensors::load(
        fixtures().join(name).join("expected.safetensors"),
        &Device::Cpu,
    )
    .unwrap();
    let (audio, texts) = inputs();
    for i in 0..2 {
        let text = Some(texts[i].as_str());
        if let Some(a) = model.audio() {
            let pooled = a.forward(&[&audio[i]]).unwrap().squeeze(0).unwrap();
            close(
                &format!("{name} {i} pooled audio"),
                &pooled,
                &exp[&format!("alone.{i}.pooled_audio")],
            );
        }
        if let Some(t) = model.text() {
            let e = t.embed_batch(&[&texts[i]]).unwrap().squeeze(0).unwrap();
            close(
                &format!("{name} {i} text embedding"),
                &e,
                &exp[&format!("alone.{i}.text_embedding")],
            );
        }
        let y = model
            .forward(&[&audio[i]], &[text], false)
            .unwrap()
            .squeeze(0)
            .unwrap();
        close(
            &format!("{name} {i} output"),
            &y,
            &exp[&format!("alone.{i}.output")],
        );
        // predict() reorders the label-order outputs to arousal, valence, dominance.
        let avd = model.predict(&audio[i], text).unwrap();
        let labels = &model.manifest().labels;
        let row = exp[&format!("alone.{i}.output")].to_vec1::<f32>().unwrap();
        for (k, dim) in [Dimension::Arousal, Dimension::Valence, Dimension::Dominance]
            .iter()
            .enumerate()
        {
            let j = labels.iter().position(|l| l == dim).unwrap();
            assert!(
                (avd[k] - row[j]).abs() <= 1e-4,
                "{name} {i}: {dim:?} is output {j}"
            );
        }
        let key = format!("no_text.{i}.output");
        if exp.contains_key(&key) {
            let y = model
                .forward(&[&audio[i]], &[None], false)
                .unwrap()
                .squeeze(0)
                .unwrap();
            close(&format!("{name} {i} without text"), &y, &exp[&key]);
            // A blank transcript counts as none.
            let y = model
                .forward(&[&audio[i]], &[Some("  ")], false)
                .unwrap()
                .squeeze(0)
                .unwrap();
            close(&format!("{name} {i} blank text"), &y, &exp[&key]);
        }
    }
    if exp.contains_key("batch.output") {
        let refs: Vec<&[f32]> = audio.iter().map(Vec::as_slice).collect();
        let text_refs: Vec<Option<&str>> = texts.iter().map(|t| Some(t.as_str())).collect();
        let pooled = model.audio().unwrap().forward(&refs).unwrap();
        close(
            &format!("{name} batch pooled audio"),
            &pooled,
            &exp["batch.pooled_audio"],
        );
        let y = model.forward(&refs, &text_refs, false).unwrap();
        close(&format!("{name} batch output"), &y, &exp["batch.output"]);
    }
}

#[test]
fn audio_only_mean_pooled_matches_reference() {
    check("audio_mean", Mode::Audio);
}

#[test]
fn audio_only_weighted_layers_with_attentive_statistics_matches_reference() {
    check("audio_asp_weighted", Mode::Audio);
    let w = load("audio_asp_weighted")
        .audio()
        .unwrap()
        .layer_weights()
        .unwrap()
        .unwrap();
    assert_eq!(w.len(), 4, "wav2vec2_robust has 3 layers: 4 hidden states");
    assert!((w.iter().sum::<f32>() - 1.0).abs() < 1e-6);
}

#[test]
fn text_only_matches_reference_and_needs_text() {
    check("text_mean", Mode::Text);
    let model = load("text_mean");
    assert!(!model.works_without_text());
    assert!(matches!(
        model.forward(&[&[0.0; 4000]], &[None], false),
        Err(RunError::NeedsText)
    ));
}

#[test]
fn early_fusion_with_audio_fallback_matches_reference() {
    check("early_fallback", Mode::AudioText);
    assert!(load("early_fallback").works_without_text());
}

#[test]
fn late_fusion_matches_reference() {
    check("late", Mode::AudioText);
}

#[test]
fn audeering_published_checkpoint_matches_its_model_card() {
    let model = load("audeering_tiny");
    assert_eq!(
        model.manifest().labels,
        [Dimension::Arousal, Dimension::Dominance, Dimension::Valence]
    );
    assert_eq!(model.mode(), Mode::Audio);
    let exp = candle_core::safetensors::load(
        fixtures().join("audeering_tiny/expected.safetensors"),
        &Device::Cpu,
    )
    .unwrap();
    let (audio, _) = inputs();
    for (i, x) in audio.iter().enumerate() {
        let pooled = model
            .audio()
            .unwrap()
            .forward(&[x])
            .unwrap()
            .squeeze(0)
            .unwrap();
        close(
            &format!("audeering {i} pooled"),
            &pooled,
            &exp[&format!("alone.{i}.pooled_audio")],
        );
        let logits = model
            .forward(&[x], &[None], false)
            .unwrap()
            .squeeze(0)
            .unwrap();
        close(
            &format!("audeering {i} logits"),
            &logits,
            &exp[&format!("alone.{i}.output")],
        );
        // The model card's order is arousal, dominance, valence.
        let l = exp[&format!("alone.{i}.output")].to_vec1::<f32>().unwrap();
        let avd = model.predict(x, None).unwrap();
        for (got, want) in avd.iter().zip([l[0], l[2], l[1]]) {
            assert!((got - want).abs() <= 1e-4);
        }
    }
}

#[test]
fn manifest_round_trips() {
    for name in [
        "audio_mean",
        "audio_asp_weighted",
        "text_mean",
        "early_fallback",
        "late",
    ] {
        let m = Manifest::read(&fixtures().join(name)).unwrap();
        let dir = tempfile::tempdir().unwrap();
        m.write(dir.path()).unwrap();
        assert_eq!(Manifest::read(dir.path()).unwrap(), m, "{name}");
    }
}

/// A checkpoint directory copied from a fixture with its backbone paths made absolute.
fn copy_checkpoint(name: &str) -> (tempfile::TempDir, Manifest) {
    let src = fixtures().join(name);
    let dir = tempfile::tempdir().unwrap();
    let mut m = Manifest::read(&src).unwrap();
    if let Some(a) = &mut m.audio {
        a.path = src.join(&a.path).to_string_lossy().into_owned();
    }
    if let Some(t) = &mut m.text {
        t.path = src.join(&t.path).to_string_lossy().into_owned();
    }
    std::fs::copy(
        src.join("head.safetensors"),
        dir.path().join("head.safetensors"),
    )
    .unwrap();
    m.write(dir.path()).unwrap();
    (dir, m)
}

#[test]
fn a_missing_tokenizer_is_named() {
    let (dir, mut m) = copy_checkpoint("early_fallback");
    let text = dir.path().join("text");
    std::fs::create_dir_all(text.join("1_Pooling")).unwrap();
    let src = fixtures().join("../text/bert");
    for f in [
        "config.json",
        "model.safetensors",
        "modules.json",
        "sentence_bert_config.json",
        "1_Pooling/config.json",
    ] {
        std::fs::copy(src.join(f), text.join(f)).unwrap();
    }
    m.text.as_mut().unwrap().path = "text".into();
    m.write(dir.path()).unwrap();
    match EmotionModel::load(dir.path(), &LoadOptions::default()) {
        Err(LoadError::Tokenizer { path, .. }) => assert_eq!(path, text.join("tokenizer.json")),
        other => panic!("expected a tokenizer error, got {:?}", other.err()),
    }
}

/// The audio backbone's configuration of a checkpoint copied by [`copy_checkpoint`].
fn audio_config(m: &Manifest) -> SslConfig {
    let audio = Path::new(&m.audio.as_ref().unwrap().path);
    SslConfig::from_file(&audio.join("config.json")).unwrap()
}

/// Removes `key` from the head weights of a checkpoint copied by [`copy_checkpoint`].
fn remove_head_tensor(dir: &Path, key: &str) -> PathBuf {
    let path = dir.join("head.safetensors");
    let mut tensors = candle_core::safetensors::load(&path, &Device::Cpu).unwrap();
    assert!(tensors.remove(key).is_some(), "the fixture has {key}");
    candle_core::safetensors::save(&tensors, &path).unwrap();
    path
}

#[test]
fn a_head_that_does_not_fit_the_backbone_names_the_file_key_and_shapes() {
    // The attentive-statistics head reads [mean, std], 2 x hidden values;
    // declaring mean pooling makes its first layer expect hidden.
    let (dir, mut m) = copy_checkpoint("audio_asp_weighted");
    let hidden = audio_config(&m).hidden_size;
    assert!(
        m.head.hidden.is_empty(),
        "one Linear from the pooled vector to 3 outputs"
    );
    m.audio.as_mut().unwrap().pooling = emoscope_models::emotion::PoolingKind::Mean;
    m.write(dir.path()).unwrap();
    let err = EmotionModel::load(dir.path(), &LoadOptions::default())
        .err()
        .expect("must fail");
    let msg = err.to_string();
    match err {
        LoadError::ShapeMismatch {
            path,
            key,
            expected,
            found,
        } => {
            assert_eq!(path, dir.path().join("head.safetensors"));
            assert_eq!(key, "head.layers.0.weight");
            assert_eq!(expected, vec![3, hidden]);
            assert_eq!(found, vec![3, 2 * hidden]);
        }
        other => panic!("expected ShapeMismatch, got {other:?}"),
    }
    assert!(
        msg.contains("head.safetensors") && msg.contains("head.layers.0.weight"),
        "{msg}"
    );
}

#[test]
fn a_missing_head_tensor_names_the_file_key_and_shape() {
    let (dir, m) = copy_checkpoint("audio_asp_weighted");
    // Weighted layer selection: one logit per hidden state, the encoder's input included.
    let states = audio_config(&m).num_hidden_layers + 1;
    let head = remove_head_tensor(dir.path(), "layer_weights");
    match EmotionModel::load(dir.path(), &LoadOptions::default()) {
        Err(LoadError::MissingTensor {
            path,
            key,
            expected,
        }) => {
            assert_eq!(path, head);
            assert_eq!(key, "layer_weights");
            assert_eq!(expected, vec![states]);
        }
        other => panic!("expected MissingTensor, got {:?}", other.err()),
    }
}

#[test]
fn a_head_built_from_a_var_builder_gives_the_same_typed_errors() {
    // Training assembles the model with EmotionModel::from_parts and a candle VarBuilder.
    let (dir, m) = copy_checkpoint("audio_asp_weighted");
    let hidden = audio_config(&m).hidden_size;
    let head = remove_head_tensor(dir.path(), "pooling.attention");
    // SAFETY: the file is a private temporary copy nothing else writes.
    let vb = unsafe {
        candle_nn::VarBuilder::from_mmaped_safetensors(
            std::slice::from_ref(&head),
            DType::F32,
            &Device::Cpu,
        )
    }
    .unwrap();
    let audio = SslEncoder::load(Path::new(&m.audio.as_ref().unwrap().path)).unwrap();
    let parts = Parts {
        audio: Some(audio),
        text: None,
        head: vb,
        head_path: head.clone(),
    };
    match EmotionModel::from_parts(m, parts) {
        Err(LoadError::MissingTensor {
            path,
            key,
            expected,
        }) => {
            assert_eq!(path, head);
            assert_eq!(key, "pooling.attention");
            // The learned query of attentive statistics pooling: [hidden, 1].
            assert_eq!(expected, vec![hidden, 1]);
        }
        other => panic!("expected MissingTensor, got {:?}", other.err()),
    }
}

#[test]
fn a_truncated_head_file_is_a_weights_error_naming_it() {
    let (dir, _) = copy_checkpoint("audio_mean");
    let path = dir.path().join("head.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let err = EmotionModel::load(dir.path(), &LoadOptions::default())
        .err()
        .expect("must fail");
    assert!(matches!(err, LoadError::Weights { .. }), "{err}");
    assert!(err.to_string().contains("head.safetensors"), "{err}");
}

#[test]
fn an_invalid_manifest_names_the_problem() {
    let (dir, mut m) = copy_checkpoint("audio_mean");
    m.labels = vec![Dimension::Arousal, Dimension::Arousal, Dimension::Valence];
    let text = serde_json::to_string(&m).unwrap();
    std::fs::write(dir.path().join("emoscope.json"), text).unwrap();
    let err = EmotionModel::load(dir.path(), &LoadOptions::default())
        .err()
        .expect("must fail");
    let msg = err.to_string();
    assert!(
        msg.contains("emoscope.json") && msg.contains("labels"),
        "{msg}"
    );
}

#[test]
fn a_directory_that_is_no_emotion_model_says_so() {
    let enc = fixtures().join("../distilhubert");
    let err = EmotionModel::load(&enc, &LoadOptions::default())
        .err()
        .expect("must fail");
    assert!(err.to_string().contains("not an emotion model"), "{err}");
}

#[test]
fn routing_takes_each_output_from_its_source() {
    // The early-fusion fixture with an audio-only fallback, routed: arousal
    // from the audio-only head even with text, valence from the fused head
    // with text and its prior without, dominance from the fused head with
    // text and the audio-only head without. Each output must equal the
    // unrouted model's value from the named source.
    use emoscope_models::emotion::{Routing, Source};
    // Without dropout, so that training-mode outputs compare too.
    let (plain_dir, mut m) = copy_checkpoint("early_fallback");
    m.head.dropout = 0.0;
    m.write(plain_dir.path()).unwrap();
    let plain = EmotionModel::load(plain_dir.path(), &LoadOptions::default()).unwrap();
    let (dir, _) = copy_checkpoint("early_fallback");
    let order = m.output_index(); // (A, V, D) -> output index
    let mut with_text = vec![Source::Fused; 3];
    with_text[order[0]] = Source::Audio;
    let mut without_text = vec![Source::Audio; 3];
    without_text[order[1]] = Source::Prior;
    let prior = vec![0.25, 0.5, 0.75];
    m.head.routing = Some(Routing {
        with_text,
        without_text,
        prior: prior.clone(),
    });
    m.write(dir.path()).unwrap();
    let routed = EmotionModel::load(dir.path(), &LoadOptions::default()).unwrap();
    let (audio, texts) = inputs();
    for (x, t) in audio.iter().zip(&texts) {
        let fused = plain.predict(x, Some(t)).unwrap();
        let audio_only = plain.predict(x, None).unwrap();
        let with = routed.predict(x, Some(t)).unwrap();
        let without = routed.predict(x, None).unwrap();
        assert_eq!(with, [audio_only[0], fused[1], fused[2]]);
        assert_eq!(without, [audio_only[0], prior[order[1]], audio_only[2]]);
        // Batches route the same way.
        let y = routed
            .forward(&[x, x], &[Some(t.as_str()), Some(t.as_str())], false)
            .unwrap();
        assert_eq!(
            routed
                .to_avd(&y.get(1).unwrap().unsqueeze(0).unwrap())
                .unwrap(),
            with
        );
    }
    // Training ignores the routing: both paths train as they are.
    let x = &audio[0];
    let train_out = routed.forward(&[x], &[None], true).unwrap();
    let plain_out = plain.forward(&[x], &[None], true).unwrap();
    assert_eq!(
        train_out.to_vec2::<f32>().unwrap(),
        plain_out.to_vec2::<f32>().unwrap()
    );
}

#[test]
fn a_bad_routing_is_named() {
    use emoscope_models::emotion::{Routing, Source};
    let cases: [(Routing, &str); 3] = [
        (
            Routing {
                with_text: vec![Source::Fused; 2],
                without_text: vec![Source::Audio; 3],
                prior: vec![0.5; 3],
            },
            "needs 3 entries",
        ),
        (
            Routing {
                with_text: vec![Source::Prior, Source::Fused, Source::Fused],
                without_text: vec![Source::Audio; 3],
                prior: vec![0.5; 3],
            },
            "`with_text` takes",
        ),
        (
            Routing {
                with_text: vec![Source::Fused; 3],
                without_text: vec![Source::Prior; 3],
                prior: vec![0.5, 2.0, 0.5],
            },
            "outside `output_range`",
        ),
    ];
    for (routing, expected) in cases {
        let (dir, mut m) = copy_checkpoint("early_fallback");
        m.head.routing = Some(routing);
        std::fs::write(
            dir.path().join("emoscope.json"),
            serde_json::to_string(&m).unwrap(),
        )
        .unwrap();
        let e = EmotionModel::load(dir.path(), &LoadOptions::default())
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains(expected), "{e}");
    }
    // Only a model with both branches and an audio-only path can be routed.
    let (dir, mut m) = copy_checkpoint("audio_mean");
    m.head.routing = Some(Routing {
        with_text: vec![Source::Fused; 3],
        without_text: vec![Source::Audio; 3],
        prior: vec![0.5; 3],
    });
    std::fs::write(
        dir.path().join("emoscope.json"),
        serde_json::to_string(&m).unwrap(),
    )
    .unwrap();
    let e = EmotionModel::load(dir.path(), &LoadOptions::default())
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("audio-only path"), "{e}");
}
