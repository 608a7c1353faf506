//! `config.json` and `preprocessor_config.json` of HuBERT / wav2vec2 / WavLM checkpoints.
//!
//! The field names are Hugging Face's, so a checkpoint directory published for
//! transformers loads unchanged. Upstream definitions:
//! <https://github.com/huggingface/transformers/blob/main/src/transformers/models/hubert/configuration_hubert.py>,
//! <https://github.com/huggingface/transformers/blob/main/src/transformers/models/wav2vec2/configuration_wav2vec2.py>,
//! <https://github.com/huggingface/transformers/blob/main/src/transformers/models/wavlm/configuration_wavlm.py>,
//! <https://github.com/huggingface/transformers/blob/main/src/transformers/models/data2vec/configuration_data2vec_audio.py>
//! and `feature_extraction_wav2vec2.py` for the preprocessor (WavLM and
//! Data2Vec-Audio use the same one).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::LoadError;

/// The `model_type`s [`SslConfig`] reads: the speech encoder families.
pub const MODEL_TYPES: [&str; 4] = ["hubert", "wav2vec2", "wavlm", "data2vec-audio"];

/// Which normalisation the conv feature extractor applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FeatExtractNorm {
    /// GroupNorm with one group per channel on the first conv only (HuBERT-base, DistilHuBERT).
    Group,
    /// LayerNorm over channels after every conv (HuBERT-large, wav2vec2-large).
    Layer,
}

/// Encoder hyper-parameters as stored in `config.json` (HubertConfig /
/// Wav2Vec2Config / WavLMConfig: one struct, since the three share every key
/// but WavLM's two relative-position ones).
#[derive(Debug, Clone, Deserialize)]
pub struct SslConfig {
    /// `"hubert"`, `"wav2vec2"` or `"wavlm"`: decides defaults that differ
    /// between the families, and WavLM's gated relative position bias.
    #[serde(default = "default_model_type")]
    pub model_type: String,
    /// Transformer width.
    pub hidden_size: usize,
    /// Number of transformer layers; the model returns `num_hidden_layers + 1` hidden states.
    pub num_hidden_layers: usize,
    /// Attention heads per layer; `hidden_size` must be a multiple.
    pub num_attention_heads: usize,
    /// Feed-forward width.
    pub intermediate_size: usize,
    /// Activation of the feed-forward block.
    #[serde(default = "default_gelu")]
    pub hidden_act: String,
    /// Activation after each conv and after the positional conv.
    #[serde(default = "default_gelu")]
    pub feat_extract_activation: String,
    /// Normalisation scheme of the conv stack.
    #[serde(default = "default_norm")]
    pub feat_extract_norm: FeatExtractNorm,
    /// Output channels of each conv layer.
    #[serde(default = "default_conv_dim")]
    pub conv_dim: Vec<usize>,
    /// Kernel width of each conv layer.
    #[serde(default = "default_conv_kernel")]
    pub conv_kernel: Vec<usize>,
    /// Stride of each conv layer.
    #[serde(default = "default_conv_stride")]
    pub conv_stride: Vec<usize>,
    /// Whether the convs carry a bias.
    #[serde(default)]
    pub conv_bias: bool,
    /// HuBERT only: LayerNorm before the feature projection (absent in wav2vec2, where it is always on).
    #[serde(default)]
    pub feat_proj_layer_norm: Option<bool>,
    /// Kernel width of the positional conv embedding; an even width drops
    /// the last output frame. Data2Vec-Audio: the number of positional conv
    /// layers instead (their kernel is [`Self::conv_pos_kernel_size`]).
    #[serde(default = "default_pos_kernel")]
    pub num_conv_pos_embeddings: usize,
    /// Data2Vec-Audio only: the kernel width of each positional conv layer.
    #[serde(default)]
    pub conv_pos_kernel_size: Option<usize>,
    /// Groups of the positional conv embedding.
    #[serde(default = "default_pos_groups")]
    pub num_conv_pos_embedding_groups: usize,
    /// HuBERT variant with BatchNorm instead of weight norm in the positional conv (not supported).
    #[serde(default)]
    pub conv_pos_batch_norm: bool,
    /// Pre-LN ("stable") encoder when true; post-LN when false.
    #[serde(default)]
    pub do_stable_layer_norm: bool,
    /// Epsilon of the transformer LayerNorms and of the feature-projection LayerNorm.
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
    /// WavLM only: rows of the relative position embedding (`rel_attn_embed`),
    /// half for keys before the query, half for keys after it.
    #[serde(default = "default_num_buckets")]
    pub num_buckets: usize,
    /// WavLM only: the distance from which on relative positions share the last bucket.
    #[serde(default = "default_max_bucket_distance")]
    pub max_bucket_distance: usize,
}

fn default_model_type() -> String {
    "wav2vec2".into()
}
fn default_gelu() -> String {
    "gelu".into()
}
fn default_norm() -> FeatExtractNorm {
    FeatExtractNorm::Group
}
fn default_conv_dim() -> Vec<usize> {
    vec![512; 7]
}
fn default_conv_kernel() -> Vec<usize> {
    vec![10, 3, 3, 3, 3, 2, 2]
}
fn default_conv_stride() -> Vec<usize> {
    vec![5, 2, 2, 2, 2, 2, 2]
}
fn default_pos_kernel() -> usize {
    128
}
fn default_pos_groups() -> usize {
    16
}
fn default_eps() -> f64 {
    1e-5
}
fn default_num_buckets() -> usize {
    320
}
fn default_max_bucket_distance() -> usize {
    800
}

impl SslConfig {
    /// Reads and validates `config.json`.
    pub fn from_file(path: &Path) -> Result<Self, LoadError> {
        let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io {
            path: path.to_owned(),
            source,
        })?;
        let mut cfg: Self = serde_json::from_str(&text).map_err(|source| LoadError::Json {
            path: path.to_owned(),
            source,
        })?;
        cfg.apply_family();
        cfg.validate(path)?;
        Ok(cfg)
    }

    /// What the family fixes whatever the file says: Data2Vec-Audio's
    /// configuration has no `feat_extract_norm` or `do_stable_layer_norm`,
    /// since it always has a LayerNorm after every conv and a post-LN encoder.
    pub fn apply_family(&mut self) {
        if self.model_type == "data2vec-audio" {
            self.feat_extract_norm = FeatExtractNorm::Layer;
            self.do_stable_layer_norm = false;
            self.conv_pos_kernel_size.get_or_insert(19);
        }
    }

    /// Data2Vec-Audio's positional conv stack: the number of layers and
    /// their kernel width; `None` for the one weight-normalised conv of the
    /// other families.
    pub fn positional_conv_stack(&self) -> Option<(usize, usize)> {
        (self.model_type == "data2vec-audio").then(|| {
            (
                self.num_conv_pos_embeddings,
                self.conv_pos_kernel_size.unwrap_or(19),
            )
        })
    }

    /// Whether the feature projection starts with a LayerNorm: always for
    /// wav2vec2, `feat_proj_layer_norm` (default true) for HuBERT.
    pub fn feature_projection_layer_norm(&self) -> bool {
        self.model_type != "hubert" || self.feat_proj_layer_norm.unwrap_or(true)
    }

    /// Whether the attention carries WavLM's gated relative position bias
    /// (`gru_rel_pos_*` in every layer, `rel_attn_embed` in the first).
    pub fn relative_position_bias(&self) -> bool {
        self.model_type == "wavlm"
    }

    /// Width of one attention head.
    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_attention_heads
    }

    /// Number of output frames for `samples` input samples, exactly as
    /// `_get_feat_extract_output_lengths`: `floor((L - k) / s) + 1` per layer,
    /// zero when the input is shorter than the receptive field.
    pub fn frames_for_samples(&self, samples: usize) -> usize {
        let mut len = samples as i64;
        for (&k, &s) in self.conv_kernel.iter().zip(&self.conv_stride) {
            len = (len - k as i64).div_euclid(s as i64) + 1;
        }
        len.max(0) as usize
    }

    /// Input samples needed for one output frame (the conv stack's receptive field, 400 for the standard stack).
    pub fn receptive_field(&self) -> usize {
        let mut field = 1;
        for (&k, &s) in self.conv_kernel.iter().zip(&self.conv_stride).rev() {
            field = (field - 1) * s + k;
        }
        field
    }

    /// Samples between two output frames (320 for the standard stack).
    pub fn hop_samples(&self) -> usize {
        self.conv_stride.iter().product()
    }

    fn validate(&self, path: &Path) -> Result<(), LoadError> {
        let bad = |field: &str, message: String| LoadError::Unsupported {
            path: path.to_owned(),
            field: field.into(),
            message,
        };
        if !MODEL_TYPES.contains(&self.model_type.as_str()) {
            return Err(bad(
                "model_type",
                format!(
                    "found {:?}, expected \"hubert\", \"wav2vec2\", \"wavlm\" or \"data2vec-audio\"",
                    self.model_type
                ),
            ));
        }
        let n = self.conv_dim.len();
        if n == 0 || self.conv_kernel.len() != n || self.conv_stride.len() != n {
            return Err(bad(
                "conv_dim",
                format!(
                    "conv_dim, conv_kernel and conv_stride must have the same non-zero length, found {}, {}, {}",
                    n,
                    self.conv_kernel.len(),
                    self.conv_stride.len()
                ),
            ));
        }
        if self.conv_kernel.contains(&0) || self.conv_stride.contains(&0) {
            return Err(bad(
                "conv_kernel",
                "kernels and strides must be positive".into(),
            ));
        }
        if self.num_attention_heads == 0
            || !self.hidden_size.is_multiple_of(self.num_attention_heads)
        {
            return Err(bad(
                "num_attention_heads",
                format!(
                    "hidden_size {} is not a multiple of num_attention_heads {}",
                    self.hidden_size, self.num_attention_heads
                ),
            ));
        }
        if self.num_conv_pos_embedding_groups == 0
            || !self
                .hidden_size
                .is_multiple_of(self.num_conv_pos_embedding_groups)
        {
            return Err(bad(
                "num_conv_pos_embedding_groups",
                format!(
                    "hidden_size {} is not a multiple of {}",
                    self.hidden_size, self.num_conv_pos_embedding_groups
                ),
            ));
        }
        if self.relative_position_bias() {
            // `_relative_positions_bucket`: half the buckets per direction, the
            // first half of those exact; the rest spread logarithmically up to
            // `max_bucket_distance`, which must lie beyond the exact ones.
            let exact = self.num_buckets / 4;
            if exact == 0 {
                return Err(bad(
                    "num_buckets",
                    format!("found {}, expected at least 4", self.num_buckets),
                ));
            }
            if self.max_bucket_distance <= exact {
                return Err(bad(
                    "max_bucket_distance",
                    format!(
                        "found {}, expected more than num_buckets / 4 = {exact}",
                        self.max_bucket_distance
                    ),
                ));
            }
        }
        if self.conv_pos_batch_norm {
            return Err(bad(
                "conv_pos_batch_norm",
                "the BatchNorm positional embedding is not implemented; only weight norm is".into(),
            ));
        }
        for (field, act) in [
            ("hidden_act", &self.hidden_act),
            ("feat_extract_activation", &self.feat_extract_activation),
        ] {
            if act != "gelu" {
                return Err(bad(
                    field,
                    format!("found {act:?}, only \"gelu\" is implemented"),
                ));
            }
        }
        Ok(())
    }
}

/// `preprocessor_config.json` of a `Wav2Vec2FeatureExtractor`.
#[derive(Debug, Clone, Deserialize)]
pub struct PreprocessorConfig {
    /// Zero-mean / unit-variance normalisation of each utterance before the encoder.
    #[serde(default = "default_true")]
    pub do_normalize: bool,
    /// Sample rate the model was trained at (16 kHz for every published HuBERT / wav2vec2).
    #[serde(default = "default_rate")]
    pub sampling_rate: u32,
    /// Value written into padded samples of a batch.
    #[serde(default)]
    pub padding_value: f32,
}

fn default_true() -> bool {
    true
}
fn default_rate() -> u32 {
    16_000
}

impl Default for PreprocessorConfig {
    fn default() -> Self {
        Self {
            do_normalize: true,
            sampling_rate: 16_000,
            padding_value: 0.0,
        }
    }
}

impl PreprocessorConfig {
    /// Reads `preprocessor_config.json`; `None` when the file does not exist
    /// (the caller then uses the family default).
    pub fn from_file(path: &Path) -> Result<Option<Self>, LoadError> {
        if !path.exists() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io {
            path: path.to_owned(),
            source,
        })?;
        let cfg = serde_json::from_str(&text).map_err(|source| LoadError::Json {
            path: PathBuf::from(path),
            source,
        })?;
        Ok(Some(cfg))
    }
}
