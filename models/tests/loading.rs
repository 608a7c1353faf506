//! Bad checkpoints give errors that name the file, the key and the shapes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use emoscope_models::{LoadError, SslEncoder};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Copies a fixture checkpoint into a temporary directory, letting `edit` change its tensors.
fn edited_copy(name: &str, edit: impl FnOnce(&mut HashMap<String, Tensor>)) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for f in ["config.json", "preprocessor_config.json"] {
        std::fs::copy(fixture(name).join(f), dir.path().join(f)).unwrap();
    }
    let mut tensors =
        candle_core::safetensors::load(fixture(name).join("model.safetensors"), &Device::Cpu)
            .unwrap();
    edit(&mut tensors);
    candle_core::safetensors::save(&tensors, dir.path().join("model.safetensors")).unwrap();
    dir
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
