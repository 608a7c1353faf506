//! Parity of [`OdysseyModel`] with the Odyssey 2024 challenge baseline's
//! forward pass on the committed fixture.
//!
//! `models/reference/make_odyssey_fixtures.py` built a tiny random-weight
//! model with the release's layout (a WavLM arranged like wavlm-large under
//! `ssl_model.`, attentive statistics pooling under `pool_model.`, the
//! regression MLP under `ser_model.`, saved as `pytorch_model.bin` beside a
//! `config.json` of metadata only) and recorded with PyTorch the three
//! outputs for two inputs alone and as one zero-padded batch with its
//! attention mask. Every comparison below is against those tensors, on the
//! CPU kernels and on candle's ops.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use emoscope_models::emotion::odyssey::{detect, infer_wavlm_config};
use emoscope_models::weights::Checkpoint;
use emoscope_models::{Kernels, LoadError, LoadOptions, OdysseyModel, Outputs};

/// The largest absolute difference between two equally long slices.
fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Largest allowed absolute difference from the reference outputs.
const TOL: f32 = 1e-4;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/odyssey-dim")
}

fn expected() -> HashMap<String, Tensor> {
    candle_core::safetensors::load(fixture().join("expected.safetensors"), &Device::Cpu).unwrap()
}

fn values(o: &Outputs) -> Vec<f32> {
    match o {
        Outputs::Dimensions { names, values } => {
            assert_eq!(names, &["arousal", "dominance", "valence"]);
            values.clone()
        }
        Outputs::Categories { .. } => panic!("the baseline outputs dimensions"),
    }
}

#[test]
fn outputs_equal_the_reference_alone_and_in_a_padded_batch() {
    let e = expected();
    let raws: Vec<Vec<f32>> = (0..2)
        .map(|i| e[&format!("raw.{i}")].to_vec1::<f32>().unwrap())
        .collect();
    for kernels in [Kernels::Auto, Kernels::Candle] {
        let opts = LoadOptions {
            kernels,
            ..LoadOptions::default()
        };
        let model = OdysseyModel::load(&fixture(), &opts).unwrap();
        assert_eq!(model.sample_rate(), 16_000);
        for (i, raw) in raws.iter().enumerate() {
            let got = values(&model.predict(raw).unwrap());
            let want = e[&format!("single.{i}")].to_vec1::<f32>().unwrap();
            let d = max_abs_diff(&got, &want);
            assert!(d <= TOL, "{kernels:?} input {i}: {got:?} vs {want:?} ({d})");
        }
        let batch: Vec<&[f32]> = raws.iter().map(Vec::as_slice).collect();
        let got: Vec<f32> = model
            .predict_batch(&batch)
            .unwrap()
            .iter()
            .flat_map(values)
            .collect();
        let want: Vec<f32> = e["batch"].flatten_all().unwrap().to_vec1().unwrap();
        let d = max_abs_diff(&got, &want);
        assert!(d <= TOL, "{kernels:?} batch: {got:?} vs {want:?} ({d})");
        // In the padded batch the shorter item's pooling reaches a frame past
        // its own (the challenge's frame count), so it differs from alone.
        let alone = e["single.0"].to_vec1::<f32>().unwrap();
        assert!(max_abs_diff(&got[..3], &alone) > 1e-4);
        let declared = model.declared_outputs();
        assert!(declared
            .dimensions
            .iter()
            .all(|d| d.range == Some([0.0, 1.0])));
    }
}

/// The WavLM shape comes from the weights, as the fixture's script made it.
#[test]
fn the_encoder_shape_is_read_from_the_weights() {
    let dir = fixture();
    let ckpt = Checkpoint::open_dir(&dir, candle_core::DType::F32, &Device::Cpu).unwrap();
    let c = infer_wavlm_config(&ckpt).unwrap();
    assert_eq!(
        (
            c.hidden_size,
            c.num_hidden_layers,
            c.num_attention_heads,
            c.intermediate_size
        ),
        (24, 2, 3, 40)
    );
    assert_eq!(c.conv_dim, vec![8; 7]);
    assert_eq!(c.conv_stride, vec![5, 2, 2, 2, 2, 2, 2]);
    assert!(c.conv_bias && c.do_stable_layer_norm);
    assert_eq!(
        (c.num_conv_pos_embeddings, c.num_conv_pos_embedding_groups),
        (7, 2)
    );
    assert_eq!((c.num_buckets, c.max_bucket_distance), (320, 800));
    assert_eq!(c.hop_samples(), 320);
}

/// Only a config.json with numeric `mean` and `std` is this layout (with or
/// without `architectures`); a wrong `classifier_hidden_layers` is an error
/// naming the file.
#[test]
fn the_layout_is_told_by_its_config_and_checked_against_the_weights() {
    let tmp = tempfile::tempdir().unwrap();
    for f in ["pytorch_model.bin", "config.json"] {
        std::fs::copy(fixture().join(f), tmp.path().join(f)).unwrap();
    }
    assert!(detect(tmp.path()).unwrap().is_some());
    let config = tmp.path().join("config.json");
    std::fs::write(
        &config,
        r#"{"mean": 0.01, "std": 0.09, "classifier_hidden_layers": 2}"#,
    )
    .unwrap();
    match OdysseyModel::load(tmp.path(), &LoadOptions::default()) {
        Err(e @ LoadError::Unsupported { .. }) => {
            let m = e.to_string();
            assert!(
                m.contains("config.json") && m.contains("classifier_hidden_layers"),
                "{m}"
            );
        }
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("two hidden layers were accepted"),
    }
    // The release's config.json may name its remote-code class.
    std::fs::write(
        &config,
        r#"{"mean": 0.01, "std": 0.09, "architectures": ["SERModel"]}"#,
    )
    .unwrap();
    assert!(OdysseyModel::load(tmp.path(), &LoadOptions::default()).is_ok());
    std::fs::write(&config, r#"{"std": 0.09, "hidden_size": 1024}"#).unwrap();
    assert!(detect(tmp.path()).unwrap().is_none());
}
