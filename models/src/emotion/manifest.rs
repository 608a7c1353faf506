//! `emoscope.json`: the manifest of an emotion checkpoint directory.
//!
//! An emotion checkpoint is a directory holding this manifest, the head's
//! weights (`head.safetensors` by default: layer weights, pooling and MLP
//! tensors) and, usually in sub-directories, the audio backbone (a Hugging
//! Face HuBERT / wav2vec2 directory) and the text backbone (a
//! sentence-transformers directory with its `tokenizer.json`). Paths are
//! relative to the manifest's directory. Example:
//!
//! ```json
//! {
//!   "format": "emoscope-emotion-model", "version": 1, "name": "demo",
//!   "audio": { "path": "audio", "layers": "weighted", "pooling": "mean" },
//!   "text": { "path": "text" },
//!   "head": { "fusion": "early", "hidden": [128], "activation": "relu",
//!             "dropout": 0.1, "audio_fallback": true },
//!   "labels": ["arousal", "valence", "dominance"],
//!   "output_range": [0.0, 1.0], "sample_rate": 16000,
//!   "provenance": { "trained_with": "emoscope train", "data": "..." }
//! }
//! ```
//!
//! Tensor names in the head weights (the module tree of `EmoscopeEmotionHead`
//! in `models/reference/make_emotion_fixtures.py`): `layer_weights`
//! (`[layers + 1]`, when `layers` is `"weighted"`), `pooling.sap_linear.*`
//! and `pooling.attention` (attentive statistics pooling), `head.layers.N.*`
//! (early fusion), `audio_head.layers.N.*`, `text_head.layers.N.*` and
//! `late_weight` (late fusion), `fallback.layers.N.*` (the audio-only
//! fallback of an early-fusion audio+text model).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::head::Activation;
use crate::error::LoadError;

/// The `format` value of every manifest.
pub const FORMAT: &str = "emoscope-emotion-model";
/// The manifest version this build reads and writes.
pub const VERSION: u32 = 1;
/// The manifest's file name inside a checkpoint directory.
pub const MANIFEST_FILE: &str = "emoscope.json";

/// One of the three emotion dimensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dimension {
    /// Activation, calm to excited.
    Arousal,
    /// Pleasantness, negative to positive.
    Valence,
    /// Control, submissive to dominant.
    Dominance,
}

/// Which encoder hidden state(s) the audio branch pools.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LayerSelection {
    /// The encoder's output (`last_hidden_state`, after the final LayerNorm of stable-LN models).
    #[default]
    Last,
    /// A learnable softmax-weighted sum of every hidden state (`layer_weights`).
    Weighted,
    /// One hidden state: 0 is the encoder input, N the output of layer N.
    Index(usize),
}

/// How the audio branch pools over time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PoolingKind {
    /// Mean over valid frames.
    #[default]
    Mean,
    /// Attentive statistics pooling (mean and standard deviation, twice the width).
    AttentiveStatistics,
}

/// How the text branch pools over tokens (overrides the sentence-transformers config).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TextPoolingKind {
    /// Masked mean over tokens.
    Mean,
    /// The first token.
    Cls,
}

/// How the branches are fused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FusionKind {
    /// Concatenate pooled audio and text, one MLP.
    Early,
    /// One MLP per branch, predictions mixed per output.
    Late,
}

/// The audio branch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AudioSpec {
    /// Backbone directory (HF `config.json`, weights, `preprocessor_config.json`).
    pub path: String,
    /// Hidden state(s) pooled.
    #[serde(default)]
    pub layers: LayerSelection,
    /// Time pooling.
    #[serde(default)]
    pub pooling: PoolingKind,
    /// Overrides the backbone's `do_normalize` (per-utterance zero mean / unit variance).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub normalize: Option<bool>,
}

/// The text branch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextSpec {
    /// Sentence-encoder directory (`config.json`, `model.safetensors`, `tokenizer.json`, ...).
    pub path: String,
    /// Overrides the directory's pooling configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pooling: Option<TextPoolingKind>,
}

fn default_head_weights() -> String {
    "head.safetensors".into()
}

/// The head.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeadSpec {
    /// File holding the head's tensors (safetensors, or a PyTorch `.bin`).
    #[serde(default = "default_head_weights")]
    pub weights: String,
    /// Early or late fusion (irrelevant with one branch; `early` then).
    pub fusion: FusionKind,
    /// Hidden widths of each MLP (empty: a linear head).
    #[serde(default)]
    pub hidden: Vec<usize>,
    /// Activation between MLP layers.
    pub activation: Activation,
    /// Dropout before each linear layer in training.
    #[serde(default)]
    pub dropout: f32,
    /// Whether an early-fusion audio+text model carries an audio-only `fallback` MLP
    /// used when no transcript text is available.
    #[serde(default)]
    pub audio_fallback: bool,
    /// Tensor prefix of the early-fusion MLP (default `head`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// Names of the MLP's linear layers under the prefix (default `layers.0`, `layers.1`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer_names: Option<Vec<String>>,
    /// Whether the outputs are bounded to `output_range` by construction: the
    /// MLP's outputs `x` become `min + (max - min) · sigmoid(x)`. Every head
    /// Emoscope trains has it; checkpoints from elsewhere do not, and their
    /// raw values may leave the declared range (readers flag those).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub bounded: bool,
    /// Where each output's value comes from, with and without transcript
    /// text, for an audio+text model with an audio-only path (absent: the
    /// fused head with text, the audio-only path without). Training decides
    /// it on the dev set ([`Routing`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing: Option<Routing>,
}

/// Where one output's value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The head over audio and text.
    Fused,
    /// The audio-only path: the fallback MLP, or late fusion's audio head.
    Audio,
    /// The output's neutral prior ([`Routing::prior`]).
    Prior,
}

/// Per-output routing of an audio+text model, in label order.
///
/// An output that the words do not improve comes from the audio-only path
/// even when a transcript is given, so that transcribed and untranscribed
/// recordings read the same on it; an output that the audio alone cannot
/// estimate reads its neutral prior (the training labels' mean) when no
/// transcript is given, rather than a number no evidence supports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Routing {
    /// With transcript text: [`Source::Fused`] or [`Source::Audio`] per output.
    pub with_text: Vec<Source>,
    /// Without: [`Source::Audio`] or [`Source::Prior`] per output.
    pub without_text: Vec<Source>,
    /// The neutral prior of each output, inside `output_range`.
    pub prior: Vec<f32>,
}

fn default_rate() -> u32 {
    16_000
}

/// The whole manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// Always [`VERSION`] for this build.
    pub version: u32,
    /// A short model name, recorded with every prediction.
    #[serde(default)]
    pub name: String,
    /// The audio branch, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio: Option<AudioSpec>,
    /// The text branch, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<TextSpec>,
    /// The head.
    pub head: HeadSpec,
    /// What each output is, in output order (a permutation of the three dimensions).
    pub labels: Vec<Dimension>,
    /// The range the outputs are trained in (`[min, max]`), e.g. `[0, 1]` or MSP-Podcast's `[1, 7]`.
    pub output_range: [f32; 2],
    /// Sample rate the audio branch expects.
    #[serde(default = "default_rate")]
    pub sample_rate: u32,
    /// Free-form provenance: who trained it on what, with which command, from which backbones.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub provenance: BTreeMap<String, serde_json::Value>,
    /// How far the model's outputs move when it computes in bf16 instead of
    /// f32, measured on held-out utterances; `--precision auto` picks bf16
    /// only for a model with such a record within its budget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bf16_check: Option<Bf16Check>,
}

/// A measurement of a model's bf16 outputs against its f32 outputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bf16Check {
    /// The largest absolute difference of any output on any utterance.
    pub max_abs_deviation: f32,
    /// The mean absolute difference over every output and utterance.
    pub mean_abs_deviation: f32,
    /// Utterances measured.
    pub utterances: usize,
    /// What they were (e.g. "test split of corpus X").
    pub measured_on: String,
}

impl Manifest {
    /// Reads and validates `dir/emoscope.json`.
    pub fn read(dir: &Path) -> Result<Self, LoadError> {
        let path = dir.join(MANIFEST_FILE);
        let text = std::fs::read_to_string(&path).map_err(|source| LoadError::Io {
            path: path.clone(),
            source,
        })?;
        let m: Self = serde_json::from_str(&text).map_err(|source| LoadError::Json {
            path: path.clone(),
            source,
        })?;
        m.validate(&path)?;
        Ok(m)
    }

    /// Validates and writes `dir/emoscope.json` (pretty, keys in declaration order).
    pub fn write(&self, dir: &Path) -> Result<(), LoadError> {
        let path = dir.join(MANIFEST_FILE);
        self.validate(&path)?;
        let text = serde_json::to_string_pretty(self).expect("a manifest always serialises") + "\n";
        // Complete or not at all: a model whose manifest is being rewritten
        // (routing, a bf16 check) is never left without one.
        crate::atomic_write::write_atomic(&path, text.as_bytes())
            .map_err(|source| LoadError::Io { path, source })
    }

    /// Checks what the types cannot: format and version, labels, range, branches.
    pub fn validate(&self, path: &Path) -> Result<(), LoadError> {
        let bad = |message: String| LoadError::Manifest {
            path: path.to_owned(),
            message,
        };
        if self.format != FORMAT {
            return Err(bad(format!(
                "`format` is {:?}, expected {FORMAT:?}",
                self.format
            )));
        }
        if self.version != VERSION {
            return Err(bad(format!(
                "`version` is {}, this build reads version {VERSION}",
                self.version
            )));
        }
        let mut labels = self.labels.clone();
        labels.sort_by_key(|d| *d as u8);
        if labels != [Dimension::Arousal, Dimension::Valence, Dimension::Dominance] {
            return Err(bad(format!(
                "`labels` is {:?}, expected each of arousal, valence and dominance once",
                self.labels
            )));
        }
        let [min, max] = self.output_range;
        if !(min.is_finite() && max.is_finite() && max > min) {
            return Err(bad(format!(
                "`output_range` [{min}, {max}] is not an increasing finite range"
            )));
        }
        if self.audio.is_none() && self.text.is_none() {
            return Err(bad(
                "the model has neither an `audio` nor a `text` branch".into()
            ));
        }
        let both = self.audio.is_some() && self.text.is_some();
        if self.head.fusion == FusionKind::Late && !both {
            return Err(bad(
                "`head.fusion` is \"late\" but the model does not have both branches".into(),
            ));
        }
        if self.head.audio_fallback && !(both && self.head.fusion == FusionKind::Early) {
            return Err(bad(
                "`head.audio_fallback` only applies to early fusion of audio and text (late fusion falls back to its audio head by itself)".into(),
            ));
        }
        if let Some(r) = &self.head.routing {
            let n = self.labels.len();
            if r.with_text.len() != n || r.without_text.len() != n || r.prior.len() != n {
                return Err(bad(format!(
                    "`head.routing` needs {n} entries in `with_text`, `without_text` and `prior`"
                )));
            }
            if !both || !(self.head.audio_fallback || self.head.fusion == FusionKind::Late) {
                return Err(bad(
                    "`head.routing` needs an audio+text model with an audio-only path (`audio_fallback` or late fusion)".into(),
                ));
            }
            if r.with_text.contains(&Source::Prior) || r.without_text.contains(&Source::Fused) {
                return Err(bad(
                    "`head.routing`: `with_text` takes \"fused\" or \"audio\", `without_text` \"audio\" or \"prior\"".into(),
                ));
            }
            if let Some(p) = r.prior.iter().find(|p| !(min..=max).contains(*p)) {
                return Err(bad(format!(
                    "`head.routing.prior` {p} is outside `output_range` [{min}, {max}]"
                )));
            }
        }
        if let Some(names) = &self.head.layer_names {
            if names.len() != self.head.hidden.len() + 1 {
                return Err(bad(format!(
                    "`head.layer_names` has {} names for {} layers",
                    names.len(),
                    self.head.hidden.len() + 1
                )));
            }
        }
        if !(0.0..1.0).contains(&self.head.dropout) {
            return Err(bad(format!(
                "`head.dropout` {} is outside [0, 1)",
                self.head.dropout
            )));
        }
        Ok(())
    }

    /// `path` (a manifest-relative path) resolved against the checkpoint directory.
    pub fn resolve(dir: &Path, path: &str) -> PathBuf {
        dir.join(path)
    }

    /// For each of arousal, valence and dominance, its index in the outputs.
    pub fn output_index(&self) -> [usize; 3] {
        let find = |d| {
            self.labels
                .iter()
                .position(|&l| l == d)
                .expect("validated labels")
        };
        [
            find(Dimension::Arousal),
            find(Dimension::Valence),
            find(Dimension::Dominance),
        ]
    }
}
