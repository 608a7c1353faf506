//! Bad checkpoints give errors that name the file, the key and the shapes,
//! for every model family: the speech encoders, the text encoders and the
//! emotion head.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use emoscope_models::{LoadError, SslEncoder, TextEncoder};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Copies a fixture speech checkpoint into a temporary directory, letting `edit` change its tensors.
fn edited_copy(name: &str, edit: impl FnOnce(&mut HashMap<String, Tensor>)) -> tempfile::TempDir {
    edited_copy_of(
        &fixture(name),
        &["config.json", "preprocessor_config.json"],
        "model.safetensors",
        edit,
    )
}

/// Copies `files` and the weights file `weights` of the directory `src` into
/// a temporary directory, letting `edit` change the tensors.
fn edited_copy_of(
    src: &Path,
    files: &[&str],
    weights: &str,
    edit: impl FnOnce(&mut HashMap<String, Tensor>),
) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for f in files {
        std::fs::copy(src.join(f), dir.path().join(f)).unwrap();
    }
    let mut tensors = candle_core::safetensors::load(src.join(weights), &Device::Cpu).unwrap();
    edit(&mut tensors);
    candle_core::safetensors::save(&tensors, dir.path().join(weights)).unwrap();
    dir
}

/// A field of a fixture's `config.json`.
fn config_usize(dir: &Path, field: &str) -> usize {
    let text = std::fs::read_to_string(dir.join("config.json")).unwrap();
    let cfg: serde_json::Value = serde_json::from_str(&text).unwrap();
    cfg[field].as_u64().expect(field) as usize
}

#[test]
fn missing_tensor_is_named_with_its_file() {
    let key = "encoder.layers.1.attention.k_proj.weight";
    let dir = edited_copy("distilhubert", |t| {
        t.remove(key);
    });
    match SslEncoder::load(dir.path()) {
        Err(LoadError::MissingTensor {
            path,
            key: k,
            expected,
        }) => {
            assert_eq!(k, key);
            assert_eq!(path, dir.path().join("model.safetensors"));
            // hidden_size x hidden_size from the fixture's config.json.
            assert_eq!(expected, vec![32, 32]);
        }
        other => panic!("expected MissingTensor, got {:?}", other.err()),
    }
}

#[test]
fn wrong_shape_reports_expected_and_found() {
    let key = "feature_projection.projection.weight";
    let dir = edited_copy("distilhubert", |t| {
        t.insert(
            key.into(),
            Tensor::zeros((32, 23), candle_core::DType::F32, &Device::Cpu).unwrap(),
        );
    });
    let err = SslEncoder::load(dir.path()).err().expect("must fail");
    let msg = err.to_string();
    match err {
        LoadError::ShapeMismatch {
            key: k,
            expected,
            found,
            ..
        } => {
            assert_eq!(k, key);
            // [hidden_size, conv_dim[-1]] = [32, 24] per the fixture config.
            assert_eq!(expected, vec![32, 24]);
            assert_eq!(found, vec![32, 23]);
        }
        other => panic!("expected ShapeMismatch, got {other:?}"),
    }
    assert!(
        msg.contains("model.safetensors") && msg.contains(key),
        "{msg}"
    );
}

#[test]
fn prefixed_keys_are_found() {
    // The legacy fixtures store every key under `hubert.` / `wav2vec2.`.
    SslEncoder::load(&fixture("distilhubert_legacy")).unwrap();
    SslEncoder::load(&fixture("wav2vec2_robust_legacy")).unwrap();
}

#[test]
fn truncated_weights_file_is_a_weights_error() {
    let dir = edited_copy("distilhubert", |_| {});
    let file = dir.path().join("model.safetensors");
    let bytes = std::fs::read(&file).unwrap();
    std::fs::write(&file, &bytes[..bytes.len() / 2]).unwrap();
    match SslEncoder::load(dir.path()) {
        Err(LoadError::Weights { path, .. }) => assert_eq!(path, file),
        other => panic!("expected Weights, got {:?}", other.err()),
    }
}

#[test]
fn malformed_config_names_the_file() {
    let dir = edited_copy("distilhubert", |_| {});
    std::fs::write(dir.path().join("config.json"), "{\"hidden_size\": 32,").unwrap();
    match SslEncoder::load(dir.path()) {
        Err(LoadError::Json { path, .. }) => assert_eq!(path, dir.path().join("config.json")),
        other => panic!("expected Json, got {:?}", other.err()),
    }
}

#[test]
fn unsupported_activation_is_rejected_with_the_field() {
    let dir = edited_copy("distilhubert", |_| {});
    let cfg = std::fs::read_to_string(dir.path().join("config.json")).unwrap();
    std::fs::write(
        dir.path().join("config.json"),
        cfg.replace("\"hidden_act\": \"gelu\"", "\"hidden_act\": \"relu\""),
    )
    .unwrap();
    match SslEncoder::load(dir.path()) {
        Err(LoadError::Unsupported { field, .. }) => assert_eq!(field, "hidden_act"),
        other => panic!("expected Unsupported, got {:?}", other.err()),
    }
}

#[test]
fn missing_directory_is_an_io_error() {
    let err = SslEncoder::load(Path::new("/nonexistent/model"))
        .err()
        .expect("must fail");
    assert!(matches!(err, LoadError::Io { .. }), "{err}");
    assert!(err.to_string().contains("config.json"), "{err}");
}

#[test]
fn input_shorter_than_the_receptive_field_is_an_input_error() {
    let model = SslEncoder::load(&fixture("distilhubert")).unwrap();
    // The standard conv stack sees 400 samples per frame.
    assert_eq!(model.config().receptive_field(), 400);
    assert!(model.encode(&[0.0; 399]).is_err());
    assert_eq!(model.encode(&[0.0; 400]).unwrap().frame_lengths, vec![1]);
}

/// A copy of a sentence-encoder fixture (`tests/fixtures/text/<name>`) with edited tensors.
fn edited_text_copy(
    name: &str,
    edit: impl FnOnce(&mut HashMap<String, Tensor>),
) -> tempfile::TempDir {
    edited_copy_of(
        &fixture("text").join(name),
        &["config.json", "tokenizer.json"],
        "model.safetensors",
        edit,
    )
}

#[test]
fn a_text_encoders_wrong_shape_names_file_key_and_both_shapes() {
    let src = fixture("text/bert");
    let (hidden, intermediate) = (
        config_usize(&src, "hidden_size"),
        config_usize(&src, "intermediate_size"),
    );
    let key = "encoder.layer.1.intermediate.dense.weight";
    // nn.Linear(hidden, intermediate) stores [intermediate, hidden]; store it transposed.
    let dir = edited_text_copy("bert", |t| {
        let w = t[key].t().unwrap().contiguous().unwrap();
        t.insert(key.into(), w);
    });
    match TextEncoder::load(dir.path(), &Device::Cpu) {
        Err(LoadError::ShapeMismatch {
            path,
            key: k,
            expected,
            found,
        }) => {
            assert_eq!(path, dir.path().join("model.safetensors"));
            assert_eq!(k, key);
            assert_eq!(expected, vec![intermediate, hidden]);
            assert_eq!(found, vec![hidden, intermediate]);
        }
        other => panic!("expected ShapeMismatch, got {:?}", other.err()),
    }
}

#[test]
fn a_text_encoders_missing_tensor_names_file_key_and_shape() {
    let src = fixture("text/distilbert");
    let (dim, hidden_dim) = (config_usize(&src, "dim"), config_usize(&src, "hidden_dim"));
    let key = "transformer.layer.1.ffn.lin2.weight";
    let dir = edited_text_copy("distilbert", |t| {
        t.remove(key);
    });
    match TextEncoder::load(dir.path(), &Device::Cpu) {
        Err(LoadError::MissingTensor {
            path,
            key: k,
            expected,
        }) => {
            assert_eq!(path, dir.path().join("model.safetensors"));
            assert_eq!(k, key);
            // ffn.lin2 is nn.Linear(hidden_dim, dim): weight [dim, hidden_dim].
            assert_eq!(expected, vec![dim, hidden_dim]);
        }
        other => panic!("expected MissingTensor, got {:?}", other.err()),
    }
}

#[test]
fn a_text_encoder_built_from_a_var_builder_gives_the_same_typed_errors() {
    // Training hands the text encoder a candle VarBuilder instead of a directory.
    let src = fixture("text/bert");
    let hidden = config_usize(&src, "hidden_size");
    let key = "embeddings.LayerNorm.weight";
    let dir = edited_text_copy("bert", |t| {
        t.remove(key);
    });
    let weights = dir.path().join("model.safetensors");
    // SAFETY: the file is a private temporary copy nothing else writes.
    let vb = unsafe {
        candle_nn::VarBuilder::from_mmaped_safetensors(
            std::slice::from_ref(&weights),
            DType::F32,
            &Device::Cpu,
        )
    }
    .unwrap();
    match TextEncoder::load_with(dir.path(), vb) {
        Err(LoadError::MissingTensor {
            path,
            key: k,
            expected,
        }) => {
            assert_eq!(path, weights);
            assert_eq!(k, key);
            assert_eq!(expected, vec![hidden]);
        }
        other => panic!("expected MissingTensor, got {:?}", other.err()),
    }
}
