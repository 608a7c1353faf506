//! Parity of [`SequenceClassifier`] with transformers'
//! `HubertForSequenceClassification`, `Wav2Vec2ForSequenceClassification`,
//! `WavLMForSequenceClassification` and `Data2VecAudioForSequenceClassification`
//! on the committed fixtures.
//!
//! `models/reference/make_classification_fixtures.py` built eight tiny
//! random-weight task models (each backbone with a four-category head using
//! the weighted layer sum and with an arousal/valence/dominance regression
//! head; one saved as `pytorch_model.bin`, one without the backbone prefix)
//! and recorded with PyTorch the logits (and the softmax probabilities of the
//! categorical heads) for three inputs alone, as one padded batch with its
//! attention mask, and as a padded batch without one. Every comparison below
//! is against those tensors, on the CPU kernels and on candle's ops.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use emoscope_models::emotion::ProblemType;
use emoscope_models::{Kernels, LoadError, LoadOptions, Outputs, SequenceClassifier};

mod common;
use common::max_abs_diff;

/// Largest allowed absolute difference from the reference logits.
const TOL: f32 = 1e-4;

const FIXTURES: [&str; 8] = [
    "classification-hubert-categories",
    "classification-hubert-dimensions",
    "classification-wav2vec2-categories",
    "classification-wav2vec2-dimensions",
    "classification-wavlm-categories",
    "classification-wavlm-dimensions",
    "classification-data2vec-categories",
    "classification-data2vec-dimensions",
];
const KERNELS: [Kernels; 2] = [Kernels::Auto, Kernels::Candle];
const CATEGORIES: [&str; 4] = ["neutral", "happy", "sad", "angry"];

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn tensors(path: &Path) -> HashMap<String, Tensor> {
    candle_core::safetensors::load(path, &Device::Cpu)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn expected(name: &str) -> HashMap<String, Tensor> {
    tensors(&fixture(name).join("expected.safetensors"))
}

/// The three raw inputs (600, 917 and 760 samples).
fn raws() -> Vec<Vec<f32>> {
    let t = tensors(&fixture("classification-inputs.safetensors"));
    (0..t.len())
        .map(|i| t[&format!("raw.{i}")].to_vec1::<f32>().unwrap())
        .collect()
}

fn load(name: &str, kernels: Kernels) -> SequenceClassifier {
    let opts = LoadOptions {
        kernels,
        ..LoadOptions::default()
    };
    SequenceClassifier::load(&fixture(name), &opts)
        .unwrap_or_else(|e| panic!("loading {name}: {e}"))
}

fn categorical(name: &str) -> bool {
    name.ends_with("-categories")
}

/// The logits `[n]` for one utterance alone (no attention mask).
fn single_logits(model: &SequenceClassifier, raw: &[f32]) -> Tensor {
    let out = model.backbone().encode(raw).unwrap();
    model.head(&out).unwrap().squeeze(0).unwrap()
}

/// The probabilities (or values) of an [`Outputs`] as a tensor, checking its kind.
fn output_values(o: &Outputs, categories: bool) -> Tensor {
    let v = match (o, categories) {
        (Outputs::Categories { probabilities, .. }, true) => probabilities.clone(),
        (Outputs::Dimensions { values, .. }, false) => values.clone(),
        _ => panic!("unexpected output kind {o:?}"),
    };
    Tensor::new(v, &Device::Cpu).unwrap()
}

#[test]
fn logits_of_each_utterance_alone_equal_transformers() {
    for name in FIXTURES {
        let exp = expected(name);
        for kernels in KERNELS {
            let model = load(name, kernels);
            let mut worst = 0f32;
            for (i, raw) in raws().iter().enumerate() {
                let key = format!("single.{i}.logits");
                let d = max_abs_diff(&single_logits(&model, raw), &exp[&key]);
                assert!(d <= TOL, "{name} {kernels:?} {key}: max |diff| {d}");
                worst = worst.max(d);
            }
            eprintln!("{name} {kernels:?}: single logits max |diff| {worst:e}");
        }
    }
}

#[test]
fn probabilities_are_the_softmax_of_the_logits_and_sum_to_one() {
    for name in FIXTURES.into_iter().filter(|n| categorical(n)) {
        let exp = expected(name);
        let model = load(name, Kernels::Auto);
        for (i, raw) in raws().iter().enumerate() {
            let o = model.classify(raw).unwrap();
            let Outputs::Categories {
                labels,
                probabilities,
            } = &o
            else {
                panic!("{name}: expected categories, got {o:?}");
            };
            assert_eq!(labels, &CATEGORIES);
            let sum: f32 = probabilities.iter().sum();
            assert!((sum - 1.0).abs() <= 1e-6, "{name} {i}: sum {sum}");
            let key = format!("single.{i}.probabilities");
            let d = max_abs_diff(&output_values(&o, true), &exp[&key]);
            assert!(d <= TOL, "{name} {key}: max |diff| {d}");
        }
    }
}

#[test]
fn regression_heads_output_the_logits_named_by_id2label() {
    for name in FIXTURES.into_iter().filter(|n| !categorical(n)) {
        let exp = expected(name);
        let model = load(name, Kernels::Auto);
        let names: Vec<String> = serde_json::from_str::<serde_json::Value>(
            &std::fs::read_to_string(fixture(name).join("config.json")).unwrap(),
        )
        .unwrap()["id2label"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.parse::<usize>().unwrap(), v.as_str().unwrap().to_owned()))
            .collect::<std::collections::BTreeMap<_, _>>()
            .into_values()
            .collect();
        let o = model.classify(&raws()[1]).unwrap();
        let Outputs::Dimensions { names: got, .. } = &o else {
            panic!("{name}: expected dimensions, got {o:?}");
        };
        assert_eq!(got, &names, "{name}");
        let d = max_abs_diff(&output_values(&o, false), &exp["single.1.logits"]);
        assert!(d <= TOL, "{name}: max |diff| {d}");
    }
}

#[test]
fn padded_batch_equals_transformers_with_its_attention_mask() {
    for name in FIXTURES {
        let exp = expected(name);
        let raws = raws();
        let items: Vec<&[f32]> = raws.iter().map(Vec::as_slice).collect();
        for kernels in KERNELS {
            let model = load(name, kernels);
            let out = model.backbone().encode_batch(&items).unwrap();
            let frames: Vec<i64> = out.frame_lengths.iter().map(|&f| f as i64).collect();
            assert_eq!(
                frames,
                exp["batch.frame_lengths"].to_vec1::<i64>().unwrap(),
                "{name}"
            );
            let d = max_abs_diff(&model.head(&out).unwrap(), &exp["batch.logits"]);
            assert!(d <= TOL, "{name} {kernels:?} batch logits: max |diff| {d}");
            let outputs = model.classify_batch(&items).unwrap();
            let got = Tensor::stack(
                &outputs
                    .iter()
                    .map(|o| output_values(o, categorical(name)))
                    .collect::<Vec<_>>(),
                0,
            )
            .unwrap();
            let key = if categorical(name) {
                "batch.probabilities"
            } else {
                "batch.logits"
            };
            let d2 = max_abs_diff(&got, &exp[key]);
            assert!(d2 <= TOL, "{name} {kernels:?} {key}: max |diff| {d2}");
            eprintln!("{name} {kernels:?}: batch logits max |diff| {d:e}");
        }
    }
}

/// Whether the fixture's conv stack normalises with GroupNorm (base-shaped).
fn group_norm(name: &str) -> bool {
    let cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture(name).join("config.json")).unwrap())
            .unwrap();
    cfg["feat_extract_norm"] == "group"
}

#[test]
fn padded_batch_items_equal_the_items_alone() {
    // A LayerNorm conv stack (large-shaped) sees only each frame, so padding
    // changes nothing. A GroupNorm one normalises each channel over the whole
    // padded length, so in transformers too a padded item's logits differ
    // from its logits alone (by up to 0.16 in these fixtures: the batch test
    // above matches them); there only the longest, unpadded item is equal.
    // So with Data2Vec-Audio's positional conv stack: its padded frames, zero
    // going in, leave the first layer as LayerNorm(bias) and reach the valid
    // frames through the next layers (by 0.007 here, in transformers too).
    for name in FIXTURES {
        let model = load(name, Kernels::Auto);
        let raws = raws();
        let items: Vec<&[f32]> = raws.iter().map(Vec::as_slice).collect();
        let longest = (0..raws.len()).max_by_key(|&i| raws[i].len()).unwrap();
        let batch = model.classify_batch(&items).unwrap();
        for (i, raw) in raws.iter().enumerate() {
            if (group_norm(name) || name.contains("data2vec")) && i != longest {
                continue;
            }
            let alone = model.classify(raw).unwrap();
            let d = max_abs_diff(
                &output_values(&batch[i], categorical(name)),
                &output_values(&alone, categorical(name)),
            );
            assert!(d <= TOL, "{name} item {i}: max |diff| {d}");
        }
    }
}

#[test]
fn padded_batch_without_a_mask_averages_every_frame_as_transformers_does() {
    for name in FIXTURES {
        let exp = expected(name);
        let input = &exp["nomask.input_values"];
        for kernels in KERNELS {
            let model = load(name, kernels);
            let logits = model.forward(input, None).unwrap();
            let d = max_abs_diff(&logits, &exp["nomask.logits"]);
            assert!(d <= TOL, "{name} {kernels:?} unmasked: max |diff| {d}");
            // With the mask the padding is left out, which changes the result.
            let lengths: Vec<usize> = exp["batch.lengths"]
                .to_vec1::<i64>()
                .unwrap()
                .into_iter()
                .map(|l| l as usize)
                .collect();
            let masked = model.forward(input, Some(&lengths)).unwrap();
            assert!(max_abs_diff(&masked, &logits) > 10.0 * TOL, "{name}");
        }
    }
}

#[test]
fn the_fixtures_cover_a_pickle_and_a_checkpoint_without_backbone_prefix() {
    let pickled = fixture("classification-hubert-dimensions");
    assert!(pickled.join("pytorch_model.bin").exists());
    assert!(!pickled.join("model.safetensors").exists());
    let bare = tensors(&fixture("classification-wav2vec2-categories").join("model.safetensors"));
    assert!(bare.contains_key("feature_extractor.conv_layers.0.conv.weight"));
    assert!(bare.contains_key("layer_weights") && bare.contains_key("projector.weight"));
    assert!(!bare.keys().any(|k| k.starts_with("wav2vec2.")));
    let prefixed = tensors(&fixture("classification-wavlm-categories").join("model.safetensors"));
    assert!(prefixed.contains_key("wavlm.feature_extractor.conv_layers.0.conv.weight"));
}

#[test]
fn each_model_declares_what_it_outputs() {
    for name in FIXTURES {
        let model = load(name, Kernels::Auto);
        let declared = model.declared_outputs();
        if categorical(name) {
            assert_eq!(model.spec().problem, ProblemType::SingleLabel, "{name}");
            assert_eq!(declared.categories, CATEGORIES, "{name}");
            assert!(declared.dimensions.is_empty());
            assert_eq!(declared.avd_index(), None);
        } else {
            assert_eq!(model.spec().problem, ProblemType::Regression, "{name}");
            assert!(declared.categories.is_empty());
            assert!(declared.dimensions.iter().all(|d| d.range.is_none()));
            // wav2vec2's head is in audeering's order (arousal, dominance,
            // valence), Data2Vec-Audio's valence, arousal, dominance.
            let want = if name.contains("wav2vec2") {
                [0, 2, 1]
            } else if name.contains("data2vec") {
                [1, 0, 2]
            } else {
                [0, 1, 2]
            };
            assert_eq!(declared.avd_index(), Some(want), "{name}");
        }
    }
}

/// A copy of a fixture directory whose `config.json` is edited by `edit`.
fn edited_copy(name: &str, edit: impl FnOnce(&mut serde_json::Value)) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(fixture(name)).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    let path = dir.path().join("config.json");
    let mut cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    edit(&mut cfg);
    std::fs::write(&path, cfg.to_string()).unwrap();
    dir
}

#[test]
fn a_head_the_weights_do_not_hold_names_the_missing_or_misshaped_key() {
    // The regression heads have no layer weights.
    for name in [
        "classification-hubert-dimensions",
        "classification-wav2vec2-dimensions",
    ] {
        let dir = edited_copy(name, |c| c["use_weighted_layer_sum"] = true.into());
        match SequenceClassifier::load(dir.path(), &LoadOptions::default()) {
            Err(LoadError::MissingTensor { key, expected, .. }) => {
                assert_eq!(key, "layer_weights");
                assert_eq!(expected, [3]);
            }
            other => panic!(
                "{name}: expected a missing `layer_weights`, got {:?}",
                other.err()
            ),
        }
    }
    // Four labels in the config, three outputs in the classifier.
    let dir = edited_copy("classification-wavlm-dimensions", |c| {
        c["id2label"]["3"] = "extra".into();
    });
    match SequenceClassifier::load(dir.path(), &LoadOptions::default()) {
        Err(LoadError::ShapeMismatch {
            key,
            expected,
            found,
            ..
        }) => {
            assert_eq!(key, "classifier.weight");
            assert_eq!((expected, found), (vec![4, 6], vec![3, 6]));
        }
        other => panic!("expected a mis-shaped classifier, got {:?}", other.err()),
    }
}
