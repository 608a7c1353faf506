//! Fresh students: HuBERT-shaped encoders created from scratch, for when no
//! pretrained speech weights can be had (the demo model) and as small
//! distillation students.
//!
//! A student is an ordinary Hugging Face `config.json` (`model_type:
//! "hubert"`), so once trained it saves as a checkpoint directory every
//! loader reads. Its conv stack stays frozen at its random initialisation
//! (training it is possible, `--train-conv`, but slow).
//!
//! A student hears what real speech models hear and, like them, not the
//! level the file was mastered at: `do_normalize: true` in
//! `preprocessor_config.json` (each window scaled to zero mean and unit
//! variance, as wav2vec2-large and WavLM do) and HuBERT-base's
//! `feat_extract_norm: "group"` (a GroupNorm per channel over time after the
//! first conv) make its features independent of gain. Pitch, tempo and
//! spectral shape survive both (EXPERIMENTS.md).
//!
//! Earlier demo models were trained on a corpus that defined arousal partly
//! by loudness, and kept the level on purpose: no input normalisation and
//! first-conv gains spread so that some channels escaped the GroupNorm
//! ([`level_gains`]). That read recording level as emotion on real speech.
//! The gains stay available for experiments — a student config's
//! [`GAINS_KEY`] — but no preset uses them.
//!
//! Presets ([`PRESETS`]) name shapes by size; `student:<name>` in `--init`
//! picks one, `student:<file.json>` reads any HuBERT / wav2vec2 config.

use std::path::Path;

use candle_core::Tensor;
use candle_nn::VarMap;
use emoscope_models::SslConfig;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

use crate::error::TrainError;

/// A student's shape.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StudentShape {
    /// Transformer width.
    pub hidden: usize,
    /// Transformer layers.
    pub layers: usize,
    /// Attention heads.
    pub heads: usize,
    /// Feed-forward width.
    pub intermediate: usize,
    /// Channels of every conv layer (seven layers, the standard kernels and strides: 20 ms frames).
    pub conv_channels: usize,
    /// Taps of the positional conv (frames).
    pub pos_kernel: usize,
    /// Groups of the positional conv.
    pub pos_groups: usize,
}

/// Named student shapes: `tiny` for tests and as a distillation target,
/// `small` for the demo model.
pub const PRESETS: [(&str, StudentShape); 2] = [
    (
        "tiny",
        StudentShape {
            hidden: 64,
            layers: 2,
            heads: 4,
            intermediate: 128,
            conv_channels: 64,
            pos_kernel: 16,
            pos_groups: 8,
        },
    ),
    (
        "small",
        StudentShape {
            hidden: 128,
            layers: 3,
            heads: 4,
            intermediate: 256,
            conv_channels: 128,
            pos_kernel: 32,
            pos_groups: 16,
        },
    ),
];

/// The preset called `name`.
pub fn preset(name: &str) -> Option<StudentShape> {
    PRESETS.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
}

/// The `config.json` of a student of `shape`.
pub fn config_json(shape: &StudentShape) -> Value {
    json!({
        "model_type": "hubert",
        "architectures": ["HubertModel"],
        "hidden_size": shape.hidden,
        "num_hidden_layers": shape.layers,
        "num_attention_heads": shape.heads,
        "intermediate_size": shape.intermediate,
        "hidden_act": "gelu",
        "feat_extract_activation": "gelu",
        "feat_extract_norm": "group",
        "conv_bias": false,
        "conv_dim": vec![shape.conv_channels; 7],
        "conv_kernel": [10, 3, 3, 3, 3, 2, 2],
        "conv_stride": [5, 2, 2, 2, 2, 2, 2],
        "num_feat_extract_layers": 7,
        "feat_proj_layer_norm": false,
        "num_conv_pos_embeddings": shape.pos_kernel,
        "num_conv_pos_embedding_groups": shape.pos_groups,
        "do_stable_layer_norm": false,
        "layer_norm_eps": 1e-5,
        "hidden_dropout": 0.0,
        "attention_dropout": 0.0,
        "activation_dropout": 0.0,
        "feat_proj_dropout": 0.0,
        "layerdrop": 0.0,
    })
}

/// A student's `preprocessor_config.json`: per-utterance normalisation (zero
/// mean, unit variance), so that the recording level does not reach the model.
pub fn preprocessor_json() -> Value {
    json!({
        "feature_extractor_type": "Wav2Vec2FeatureExtractor",
        "feature_size": 1,
        "sampling_rate": 16000,
        "padding_value": 0.0,
        "padding_side": "right",
        "do_normalize": true,
        "return_attention_mask": true,
    })
}

/// A student's configuration: parsed, and the JSON texts it is saved with.
pub struct StudentConfig {
    /// The parsed `config.json`.
    pub config: SslConfig,
    /// `config.json` as written into the checkpoint.
    pub config_json: Value,
    /// `preprocessor_config.json` as written into the checkpoint.
    pub preprocessor_json: Value,
}

/// Reads a `student:` value: a preset name or a `config.json`-style file
/// (with its sibling `preprocessor_config.json` if present, else [`preprocessor_json`]).
pub fn resolve(spec: &str) -> Result<StudentConfig, TrainError> {
    if let Some(shape) = preset(spec) {
        let config_json = config_json(&shape);
        let config =
            serde_json::from_value(config_json.clone()).map_err(|source| TrainError::Json {
                path: format!("<student preset {spec}>").into(),
                source,
            })?;
        return Ok(StudentConfig {
            config,
            config_json,
            preprocessor_json: preprocessor_json(),
        });
    }
    let path = Path::new(spec);
    if !path.is_file() {
        let names: Vec<&str> = PRESETS.iter().map(|(n, _)| *n).collect();
        return Err(TrainError::Init {
            spec: format!("student:{spec}"),
            message: format!(
                "neither a preset ({}) nor a config.json file",
                names.join(", ")
            ),
        });
    }
    let read = |p: &Path| -> Result<Value, TrainError> {
        let text = std::fs::read_to_string(p).map_err(crate::error::io_err(p))?;
        serde_json::from_str(&text).map_err(|source| TrainError::Json {
            path: p.to_owned(),
            source,
        })
    };
    let config = SslConfig::from_file(path)?;
    let pre_path = path.with_file_name("preprocessor_config.json");
    let pre = if pre_path.is_file() {
        read(&pre_path)?
    } else {
        preprocessor_json()
    };
    Ok(StudentConfig {
        config,
        config_json: read(path)?,
        preprocessor_json: pre,
    })
}

/// The config key that asks for [`level_gains`] on a student from a config
/// file: `[lo, hi]` exponents, or `true` for [`DEFAULT_GAIN_EXPONENTS`]
/// (absent, `null` or `false`: no gains). Hugging Face loaders ignore it.
pub const GAINS_KEY: &str = "emoscope_level_gains";

/// The exponent range of the first-conv gains that `true` asks for.
pub const DEFAULT_GAIN_EXPONENTS: [f32; 2] = [-2.5, 0.0];

/// The gain exponent range a student config asks for (see [`GAINS_KEY`]).
pub fn gain_exponents(config_json: &Value) -> Result<Option<[f32; 2]>, TrainError> {
    match config_json.get(GAINS_KEY) {
        None | Some(Value::Null) | Some(Value::Bool(false)) => Ok(None),
        Some(Value::Bool(true)) => Ok(Some(DEFAULT_GAIN_EXPONENTS)),
        Some(v) => {
            let r: [f32; 2] = serde_json::from_value(v.clone()).map_err(|e| TrainError::Init {
                spec: format!("student config `{GAINS_KEY}`"),
                message: format!("expected true, false, null or [lo, hi] exponents: {e}"),
            })?;
            if r[0] < r[1] {
                Ok(Some(r))
            } else {
                Err(TrainError::Init {
                    spec: format!("student config `{GAINS_KEY}`"),
                    message: format!("{r:?}: lo must be below hi"),
                })
            }
        }
    }
}

/// Scales the first conv's output channels of a freshly created student
/// by gains `10^u`, `u ~ U[lo, hi]` (by default `U[−2.5, 0]`) drawn from
/// `seed`: under GroupNorm, which divides by `sqrt(var + 1e−5)`, weak
/// channels are only partly normalised and their size follows the input
/// level (see the module docs for why no preset does this any more). With the He-normal 10-tap kernel a channel's variance is about
/// `2 g² E[x²]`; speech peak-normalised to −18…−3 dBFS has `E[x²]` of roughly
/// 10⁻⁴…3·10⁻³, so channels with `g` from about 0.04 to 0.2 sit where
/// `var ≈ 1e−5` for some level, and the spread covers that range with room
/// on both sides.
pub fn level_gains(vars: &VarMap, seed: u64, [lo, hi]: [f32; 2]) -> Result<(), TrainError> {
    let data = vars.data().lock().unwrap_or_else(|e| e.into_inner());
    let Some(w) = data.get("feature_extractor.conv_layers.0.conv.weight") else {
        return Ok(());
    };
    let (out, _, _) = w.dims3()?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x1e7e_1b1a);
    let gains: Vec<f32> = (0..out)
        .map(|_| 10f32.powf(rng.random_range(lo..hi)))
        .collect();
    let g = Tensor::from_vec(gains, (out, 1, 1), w.device())?;
    w.set(&w.as_tensor().broadcast_mul(&g)?)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_are_valid_hubert_configs() {
        for (name, shape) in PRESETS {
            let dir = tempfile::tempdir().unwrap();
            let p = dir.path().join("config.json");
            std::fs::write(&p, config_json(&shape).to_string()).unwrap();
            let cfg = SslConfig::from_file(&p).unwrap_or_else(|e| panic!("{name}: {e}"));
            // The preset path parses the same JSON.
            assert_eq!(resolve(name).unwrap().config.hidden_size, cfg.hidden_size);
            assert_eq!(cfg.hidden_size, shape.hidden);
            // Standard strides: 320 samples (20 ms at 16 kHz) per frame.
            assert_eq!(cfg.hop_samples(), 320);
            assert!(!cfg.feature_projection_layer_norm());
        }
    }

    #[test]
    fn the_gain_range_is_read_from_the_config() {
        let mut c = config_json(&PRESETS[0].1);
        assert_eq!(gain_exponents(&c).unwrap(), None, "presets have no gains");
        c[GAINS_KEY] = Value::Bool(true);
        assert_eq!(gain_exponents(&c).unwrap(), Some(DEFAULT_GAIN_EXPONENTS));
        c[GAINS_KEY] = Value::Null;
        assert_eq!(gain_exponents(&c).unwrap(), None);
        c[GAINS_KEY] = json!([-2.0, -1.0]);
        assert_eq!(gain_exponents(&c).unwrap(), Some([-2.0, -1.0]));
        c[GAINS_KEY] = json!([0.0, -1.0]);
        assert!(gain_exponents(&c).is_err());
        // The gains scale whole output channels: each conv0 row is a multiple of
        // the unscaled one, by a factor in [10^-2.5, 1].
        let vars = VarMap::new();
        let w0 = Tensor::ones(
            (8, 1, 10),
            candle_core::DType::F32,
            &candle_core::Device::Cpu,
        )
        .unwrap();
        let var = candle_core::Var::from_tensor(&w0).unwrap();
        vars.data().lock().unwrap().insert(
            "feature_extractor.conv_layers.0.conv.weight".into(),
            var.clone(),
        );
        level_gains(&vars, 3, DEFAULT_GAIN_EXPONENTS).unwrap();
        let rows = var
            .as_tensor()
            .squeeze(1)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        let mut gains = Vec::new();
        for r in rows {
            assert!(r.iter().all(|&v| v == r[0]), "a channel keeps its shape");
            assert!((10f32.powf(-2.5)..=1.0).contains(&r[0]), "{}", r[0]);
            gains.push(r[0]);
        }
        gains.dedup();
        assert!(gains.len() > 1, "channels get different gains");
    }

    #[test]
    fn unknown_students_are_named() {
        let e = resolve("huge").err().unwrap().to_string();
        assert!(
            e.contains("student:huge") && e.contains("tiny, small"),
            "{e}"
        );
    }
}
