//! The Odyssey 2024 Speech Emotion Recognition Challenge baseline, as its
//! checkpoints are published (`3loi/SER-Odyssey-Baseline-WavLM-Multi-Attributes`,
//! MIT): a WavLM encoder, attentive statistics pooling over its last hidden
//! state, and a regression MLP, in one state dict beside a `config.json` of
//! metadata. The module tree is the challenge's (MSP-UTD's
//! `MSP-Podcast_Challenge`, `net/pooling.py` and `net/ser.py`):
//!
//! ```text
//! OdysseyModel
//! ├── ssl_model    WavLMModel                         SslEncoder
//! ├── pool_model   AttentiveStatisticsPooling         sap_linear, attention
//! └── ser_model    EmotionRegression
//!     ├── fc.N     Linear → LayerNorm → ReLU          (classifier_hidden_layers of them)
//!     └── out.0    Linear → arousal, dominance, valence
//! ```
//!
//! The forward pass is the challenge's evaluation (`eval_dim_ser.py`):
//!
//! - every input is standardised with the training set's waveform
//!   statistics, `(x - mean) / (std + 1e-6)`: two scalars from `config.json`,
//!   the same for every utterance (not each utterance's own, as
//!   `do_normalize` does);
//! - the encoder runs with the attention mask of the valid samples;
//! - the pooling takes, of each item, its first `floor((samples - 1) / hop) + 1`
//!   frames (the challenge derives the frame count from the sample mask with
//!   a fixed 20 ms hop, the encoder's `hop`), which in a padded batch may
//!   reach a frame or two past the item's own;
//! - the MLP: each hidden layer `ReLU(LayerNorm(Linear(x)))`, then `out`.
//!
//! The outputs are named by `id2label` (absent: `arousal`, `dominance`,
//! `valence`, the challenge's order, `EmoAct`, `EmoDom`, `EmoVal`) and
//! declared on 0..1: the challenge trains on MSP-Podcast's 1..7 ratings as
//! `(score - 1) / 6`.
//!
//! `config.json` there holds metadata, not a WavLM configuration, so the
//! encoder's shape is read from the weights: widths, depths, heads and
//! buckets from the tensors' shapes, the conv stack's strides from its
//! kernels (the standard wav2vec2-family stack, 10-3-3-3-3-2-2 over
//! 5-2-2-2-2-2-2), and what no tensor shows from every released WavLM
//! (`max_bucket_distance` 800, GELU, `layer_norm_eps` 1e-5, and the pre-LN
//! encoder wherever the conv stack has a LayerNorm per conv, as in
//! `microsoft/wavlm-large`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::Linear;
use serde::Deserialize;

use super::outputs::{DeclaredDimension, DeclaredOutputs, Outputs};
use super::pooling::AttentiveStatistics;
use super::sequence_classification::labels_by_index;
use crate::error::{LoadError, RunError};
use crate::nn::{layer_norm, linear, LayerNorm};
use crate::speech::config::{PreprocessorConfig, SslConfig};
use crate::speech::model::{storage_dtype, LoadOptions, SslEncoder};
use crate::weights::Checkpoint;

/// Where the encoder's weights live in the state dict.
const SSL: &str = "ssl_model.";
/// Where the regression MLP's weights live.
const SER: &str = "ser_model.";
/// A tensor only this layout has.
const POOL_KEY: &str = "pool_model.sap_linear.weight";
/// The outputs' names when `config.json` has no `id2label`.
const DEFAULT_LABELS: [&str; 3] = ["arousal", "dominance", "valence"];
/// The standard wav2vec2-family conv stack: kernels and their strides.
const STANDARD_KERNELS: [usize; 7] = [10, 3, 3, 3, 3, 2, 2];
const STANDARD_STRIDES: [usize; 7] = [5, 2, 2, 2, 2, 2, 2];

/// The metadata `config.json` holds.
#[derive(Debug, Clone, Deserialize)]
pub struct OdysseyConfig {
    /// The training set's waveform mean.
    pub mean: f64,
    /// The training set's waveform standard deviation.
    pub std: f64,
    /// Output index (a decimal string) → name.
    #[serde(default)]
    pub id2label: Option<BTreeMap<String, String>>,
    /// Hidden layers of the regression MLP (the weights tell too; checked).
    #[serde(default)]
    pub classifier_hidden_layers: Option<usize>,
}

/// Whether `dir` holds an Odyssey baseline checkpoint: a `config.json` with
/// numeric `mean` and `std` (the waveform statistics no transformers
/// configuration has), and weights with the challenge's pooling. Reads
/// `config.json` only; the weights are checked by [`OdysseyModel::load`].
pub fn detect(dir: &Path) -> Result<Option<OdysseyConfig>, LoadError> {
    let path = dir.join("config.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(None);
    };
    let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) else {
        return Ok(None);
    };
    let numeric = |k: &str| value.get(k).is_some_and(serde_json::Value::is_number);
    // (The release's config.json may name its remote-code class in
    // `architectures`; transformers' own classes are told apart before this.)
    if !(numeric("mean") && numeric("std")) {
        return Ok(None);
    }
    serde_json::from_value(value)
        .map(Some)
        .map_err(|source| LoadError::Json { path, source })
}

/// The Odyssey baseline: encoder, attentive statistics pooling, regression MLP.
pub struct OdysseyModel {
    dir: PathBuf,
    mean: f32,
    /// `std + 1e-6`, the divisor of the standardisation.
    scale: f32,
    labels: Vec<String>,
    backbone: SslEncoder,
    pooling: AttentiveStatistics,
    hidden: Vec<(Linear, LayerNorm)>,
    out: Linear,
    span: tracing::Span,
}

impl OdysseyModel {
    /// Loads the checkpoint in `dir` (`config.json` as [`detect`] reads it,
    /// `model.safetensors` or `pytorch_model.bin`).
    pub fn load(dir: &Path, opts: &LoadOptions) -> Result<Self, LoadError> {
        let config_path = dir.join("config.json");
        let config = detect(dir)?.ok_or_else(|| LoadError::Unsupported {
            path: config_path.clone(),
            field: "mean".into(),
            message: "an Odyssey baseline config.json holds the waveform \"mean\" and \"std\""
                .into(),
        })?;
        let labels = labels(&config, &config_path)?;
        let ckpt = Checkpoint::open_dir(dir, DType::F32, &opts.device)?;
        if !ckpt.contains(POOL_KEY) {
            return Err(LoadError::MissingTensor {
                path: ckpt.path().to_owned(),
                key: POOL_KEY.into(),
                expected: Vec::new(),
            });
        }
        let ssl = infer_wavlm_config(&ckpt)?;
        let hidden_size = ssl.hidden_size;
        // The encoder's weights in the dtype it computes in; the head's in f32.
        let backbone = if storage_dtype(opts) == DType::F32 {
            SslEncoder::from_checkpoint(ssl, no_normalize(), &ckpt, opts)?
        } else {
            let typed = Checkpoint::open_dir(dir, storage_dtype(opts), &opts.device)?;
            SslEncoder::from_checkpoint(ssl, no_normalize(), &typed, opts)?
        };
        let root = ckpt.root("");
        let pooling = AttentiveStatistics::load(hidden_size, &root.pp("pool_model"))?;
        let ser = root.pp(SER.trim_end_matches('.'));
        let mut widths = vec![2 * hidden_size];
        let mut hidden = Vec::new();
        while ser.contains(&format!("fc.{}.0.weight", hidden.len())) {
            let i = hidden.len();
            let key = format!("{SER}fc.{i}.0.weight");
            let out = ckpt
                .shape_of(&key)
                .map(|s| s[0])
                .ok_or_else(|| missing(&ckpt, &key))?;
            let fc = ser.pp(format!("fc.{i}"));
            let in_dim = *widths.last().expect("starts with the pooled width");
            hidden.push((
                linear(&fc.pp("0"), in_dim, out)?,
                layer_norm(&fc.pp("1"), out, 1e-5)?,
            ));
            widths.push(out);
        }
        if let Some(n) = config.classifier_hidden_layers {
            if n != hidden.len() {
                return Err(LoadError::Unsupported {
                    path: config_path,
                    field: "classifier_hidden_layers".into(),
                    message: format!("says {n}, but the weights have {}", hidden.len()),
                });
            }
        }
        let last = *widths.last().expect("at least the pooled width");
        let out = linear(&ser.pp("out.0"), last, labels.len())?;
        Ok(Self {
            dir: dir.to_owned(),
            mean: config.mean as f32,
            scale: (config.std + 1e-6) as f32,
            labels,
            backbone,
            pooling,
            hidden,
            out,
            span: tracing::span!(tracing::Level::TRACE, "odyssey"),
        })
    }

    /// The checkpoint directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The output names, in output order.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// What the model outputs: its dimensions, each on 0..1.
    pub fn declared_outputs(&self) -> DeclaredOutputs {
        DeclaredOutputs {
            dimensions: self
                .labels
                .iter()
                .map(|name| DeclaredDimension {
                    name: name.clone(),
                    range: Some([0.0, 1.0]),
                })
                .collect(),
            categories: Vec::new(),
        }
    }

    /// The speech encoder.
    pub fn backbone(&self) -> &SslEncoder {
        &self.backbone
    }

    /// The sample rate the model expects (16 kHz).
    pub fn sample_rate(&self) -> u32 {
        self.backbone.preprocessor().sampling_rate
    }

    /// The device the model runs on.
    pub fn device(&self) -> &Device {
        self.backbone.device()
    }

    /// `samples` standardised with the training set's statistics.
    pub fn standardise(&self, samples: &[f32]) -> Vec<f32> {
        samples
            .iter()
            .map(|&x| (x - self.mean) / self.scale)
            .collect()
    }

    /// The outputs `[batch, labels]` for standardised input `[batch, samples]`;
    /// `lengths`: each item's valid samples in a right-padded batch (the
    /// attention mask), `None` when every sample counts.
    pub fn forward(&self, input: &Tensor, lengths: Option<&[usize]>) -> Result<Tensor, RunError> {
        let out = self.backbone.forward(input, lengths)?;
        let _enter = self.span.enter();
        let h = out.last_hidden_state.to_dtype(DType::F32)?;
        let (batch, frames, _) = h.dims3()?;
        let samples = input.dim(1)?;
        let hop = self.backbone.config().hop_samples();
        // The challenge's frame count, from each item's samples.
        let pooled: Vec<usize> = (0..batch)
            .map(|i| {
                let n = lengths.map_or(samples, |l| l[i]);
                ((n.saturating_sub(1)) / hop + 1).min(frames)
            })
            .collect();
        // Item by item, as the challenge pools: each item's result is the
        // same whatever else is in the batch.
        let mut rows = Vec::with_capacity(batch);
        for (i, &n) in pooled.iter().enumerate() {
            let x = h.narrow(0, i, 1)?.narrow(1, 0, n)?;
            let mut z = self.pooling.forward(&x, &[n])?;
            for (fc, norm) in &self.hidden {
                z = norm.forward(&fc.forward(&z)?)?.relu()?;
            }
            rows.push(self.out.forward(&z)?);
        }
        Ok(Tensor::cat(&rows, 0)?)
    }

    /// The outputs for one utterance (mono samples at 16 kHz).
    pub fn predict(&self, samples: &[f32]) -> Result<Outputs, RunError> {
        let x = self.standardise(samples);
        let input = Tensor::from_vec(x, (1, samples.len()), self.device())?;
        let values = self.forward(&input, None)?.to_vec2::<f32>()?;
        Ok(Outputs::Dimensions {
            names: self.labels.clone(),
            values: values.into_iter().next().unwrap_or_default(),
        })
    }

    /// The outputs for several utterances, as one zero-padded batch with the
    /// attention mask of each item's samples (the challenge's collate function).
    pub fn predict_batch(&self, utterances: &[&[f32]]) -> Result<Vec<Outputs>, RunError> {
        let n = utterances.iter().map(|u| u.len()).max().unwrap_or(0);
        let mut buf = vec![0f32; utterances.len() * n];
        for (row, u) in buf.chunks_mut(n.max(1)).zip(utterances) {
            row[..u.len()].copy_from_slice(&self.standardise(u));
        }
        let lengths: Vec<usize> = utterances.iter().map(|u| u.len()).collect();
        let input = Tensor::from_vec(buf, (utterances.len(), n), self.device())?;
        let values = self.forward(&input, Some(&lengths))?.to_vec2::<f32>()?;
        Ok(values
            .into_iter()
            .map(|values| Outputs::Dimensions {
                names: self.labels.clone(),
                values,
            })
            .collect())
    }
}

/// The preprocessor of the encoder: 16 kHz, no per-utterance normalisation
/// (the model standardises with its own statistics).
fn no_normalize() -> PreprocessorConfig {
    PreprocessorConfig {
        do_normalize: false,
        ..PreprocessorConfig::default()
    }
}

fn missing(ckpt: &Checkpoint, key: &str) -> LoadError {
    LoadError::MissingTensor {
        path: ckpt.path().to_owned(),
        key: key.into(),
        expected: Vec::new(),
    }
}

/// The output names: `id2label` (keys 0..n), else the challenge's three.
fn labels(config: &OdysseyConfig, path: &Path) -> Result<Vec<String>, LoadError> {
    match &config.id2label {
        Some(map) => labels_by_index(map, path),
        None => Ok(DEFAULT_LABELS.map(String::from).to_vec()),
    }
}

/// The WavLM configuration the encoder's weights under `ssl_model.` imply
/// (see the module docs for what is read from shapes and what is assumed).
pub fn infer_wavlm_config(ckpt: &Checkpoint) -> Result<SslConfig, LoadError> {
    let shape = |key: &str| {
        let key = format!("{SSL}{key}");
        ckpt.shape_of(&key).ok_or_else(|| missing(ckpt, &key))
    };
    let has = |key: &str| ckpt.contains(&format!("{SSL}{key}"));
    let mut conv_dim = Vec::new();
    let mut conv_kernel = Vec::new();
    while has(&format!(
        "feature_extractor.conv_layers.{}.conv.weight",
        conv_dim.len()
    )) {
        let s = shape(&format!(
            "feature_extractor.conv_layers.{}.conv.weight",
            conv_dim.len()
        ))?;
        conv_dim.push(s[0]);
        conv_kernel.push(s[2]);
    }
    if conv_kernel != STANDARD_KERNELS {
        return Err(LoadError::Unsupported {
            path: ckpt.path().to_owned(),
            field: "ssl_model.feature_extractor".into(),
            message: format!(
                "conv kernels {conv_kernel:?}; the strides are known only for the standard \
                 stack {STANDARD_KERNELS:?}"
            ),
        });
    }
    let layer_norm_convs = has("feature_extractor.conv_layers.1.layer_norm.weight");
    let hidden_size = shape("feature_projection.projection.weight")?[0];
    let mut layers = 0;
    while has(&format!("encoder.layers.{layers}.attention.k_proj.weight")) {
        layers += 1;
    }
    let intermediate = shape("encoder.layers.0.feed_forward.intermediate_dense.weight")?[0];
    let rel = shape("encoder.layers.0.attention.rel_attn_embed.weight")?;
    let pos = [
        "encoder.pos_conv_embed.conv.parametrizations.weight.original1",
        "encoder.pos_conv_embed.conv.weight_v",
    ]
    .into_iter()
    .find(|k| has(k))
    .ok_or_else(|| missing(ckpt, &format!("{SSL}encoder.pos_conv_embed.conv.weight_v")))?;
    let pos = shape(pos)?;
    let value = serde_json::json!({
        "model_type": "wavlm",
        "hidden_size": hidden_size,
        "num_hidden_layers": layers,
        "num_attention_heads": rel[1],
        "intermediate_size": intermediate,
        "hidden_act": "gelu",
        "feat_extract_activation": "gelu",
        "feat_extract_norm": if layer_norm_convs { "layer" } else { "group" },
        "conv_dim": conv_dim,
        "conv_kernel": conv_kernel,
        "conv_stride": STANDARD_STRIDES,
        "conv_bias": has("feature_extractor.conv_layers.0.conv.bias"),
        "num_conv_pos_embeddings": pos[2],
        "num_conv_pos_embedding_groups": hidden_size / pos[1].max(1),
        "do_stable_layer_norm": layer_norm_convs,
        "layer_norm_eps": 1e-5,
        "num_buckets": rel[0],
        "max_bucket_distance": 800,
    });
    serde_json::from_value(value).map_err(|source| LoadError::Json {
        path: ckpt.path().to_owned(),
        source,
    })
}
