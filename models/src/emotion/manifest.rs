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
//! That is a dimensional model (`"task": "dimensional"`, the default when
//! the key is absent, as in every manifest written before categories
//! existed). A categorical model says `"task": "categorical"` and names its
//! categories in output order instead of `labels`; its head outputs one
//! logit per category, read as softmax probabilities, so it is never
//! `bounded`, has no `routing`, and its `output_range` is `[0, 1]`:
//!
//! ```json
//! { "task": "categorical", "categories": ["angry", "happy", "neutral", "sad"],
//!   "output_range": [0.0, 1.0], ... }
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

/// What a model's head outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Task {
    /// Arousal, valence and dominance (the manifest's `labels`), each in
    /// `output_range`.
    #[default]
    Dimensional,
    /// One logit per category (the manifest's `categories`), read as
    /// softmax probabilities.
    Categorical,
}

impl Task {
    /// Whether this is the default, [`Task::Dimensional`] (left out of the JSON).
    pub fn is_dimensional(&self) -> bool {
        *self == Self::Dimensional
    }

    /// The name the manifest and `--task` use.
    pub fn name(self) -> &'static str {
        match self {
            Self::Dimensional => "dimensional",
            Self::Categorical => "categorical",
        }
    }
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
    /// Dimensions or categories (absent: dimensions, as in every manifest
    /// written before categories existed).
    #[serde(default, skip_serializing_if = "Task::is_dimensional")]
    pub task: Task,
    /// What each output is, in output order (a permutation of the three
    /// dimensions); empty for a categorical model.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<Dimension>,
    /// The category of each output, in output order (categorical models only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
    /// The range the outputs are trained in (`[min, max]`), e.g. `[0, 1]` or
    /// MSP-Podcast's `[1, 7]`; `[0, 1]`, the probabilities', for a categorical model.
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
        match self.task {
            Task::Dimensional => {
                let mut labels = self.labels.clone();
                labels.sort_by_key(|d| *d as u8);
                if labels != [Dimension::Arousal, Dimension::Valence, Dimension::Dominance] {
                    return Err(bad(format!(
                        "`labels` is {:?}, expected each of arousal, valence and dominance once",
                        self.labels
                    )));
                }
                if !self.categories.is_empty() {
                    return Err(bad(
                        "`categories` needs `\"task\": \"categorical\"` (this model is dimensional)"
                            .into(),
                    ));
                }
            }
            Task::Categorical => self.validate_categorical().map_err(bad)?,
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

    /// The checks of a categorical manifest: categories named, distinct
    /// (without regard to case: readers compare them so) and at least two;
    /// no dimension labels, no bounding, no routing, probabilities' range.
    fn validate_categorical(&self) -> Result<(), String> {
        if !self.labels.is_empty() {
            return Err(
                "a categorical model names its outputs in `categories`, not `labels`".into(),
            );
        }
        if self.categories.len() < 2 {
            return Err(format!(
                "`categories` is {:?}; a categorical model needs at least two",
                self.categories
            ));
        }
        if let Some(c) = self.categories.iter().find(|c| c.trim().is_empty()) {
            return Err(format!("`categories` has an empty name {c:?}"));
        }
        for (i, a) in self.categories.iter().enumerate() {
            if let Some(b) = self.categories[..i]
                .iter()
                .find(|b| b.eq_ignore_ascii_case(a))
            {
                return Err(format!(
                    "`categories` names {b:?} and {a:?}, the same category (labels are compared without regard to case)"
                ));
            }
        }
        if self.head.bounded {
            return Err(
                "`head.bounded` does not apply to a categorical model (its outputs are logits)"
                    .into(),
            );
        }
        if self.head.routing.is_some() {
            return Err("`head.routing` applies to dimensional models only".into());
        }
        if self.output_range != [0.0, 1.0] {
            return Err(format!(
                "`output_range` is {:?}; a categorical model's outputs are probabilities, [0.0, 1.0]",
                self.output_range
            ));
        }
        Ok(())
    }

    /// How many values the head outputs: 3 dimensions, or one logit per category.
    pub fn outputs(&self) -> usize {
        match self.task {
            Task::Dimensional => self.labels.len(),
            Task::Categorical => self.categories.len(),
        }
    }

    /// `path` (a manifest-relative path) resolved against the checkpoint directory.
    pub fn resolve(dir: &Path, path: &str) -> PathBuf {
        dir.join(path)
    }

    /// For each of arousal, valence and dominance, its index in the outputs
    /// (dimensional manifests; a categorical one has no dimensions and panics).
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A manifest written before categories existed (the `audio_mean` fixture).
    fn dimensional_text() -> String {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/emotion/audio_mean/emoscope.json"
        );
        std::fs::read_to_string(path).unwrap()
    }

    fn categorical() -> Manifest {
        let mut m: Manifest = serde_json::from_str(&dimensional_text()).unwrap();
        m.task = Task::Categorical;
        m.labels.clear();
        m.categories = vec![
            "angry".into(),
            "happy".into(),
            "neutral".into(),
            "sad".into(),
        ];
        m
    }

    #[test]
    fn a_manifest_without_a_task_is_dimensional_and_writes_back_unchanged() {
        let text = dimensional_text();
        let m: Manifest = serde_json::from_str(&text).unwrap();
        m.validate(Path::new("emoscope.json")).unwrap();
        assert_eq!(m.task, Task::Dimensional);
        assert!(m.categories.is_empty());
        assert_eq!(m.outputs(), 3);
        // Written back, it has the same top-level keys as before (no `task`
        // and no `categories`) and reads as the same manifest.
        let original: serde_json::Value = serde_json::from_str(&text).unwrap();
        let written = serde_json::to_string(&m).unwrap();
        let keys = |v: &serde_json::Value| {
            v.as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect::<Vec<String>>()
        };
        let written_json: serde_json::Value = serde_json::from_str(&written).unwrap();
        assert_eq!(keys(&written_json), keys(&original));
        assert_eq!(serde_json::from_str::<Manifest>(&written).unwrap(), m);
    }

    #[test]
    fn a_categorical_manifest_round_trips_with_one_output_per_category() {
        let m = categorical();
        m.validate(Path::new("emoscope.json")).unwrap();
        assert_eq!(m.outputs(), 4);
        let json: serde_json::Value =
            serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
        assert_eq!(json["task"], "categorical");
        assert_eq!(json["categories"][3], "sad");
        assert!(json.get("labels").is_none(), "{json}");
        let back: Manifest = serde_json::from_value(json).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn a_bad_categorical_manifest_is_named() {
        /// A change that breaks a valid categorical manifest.
        type Spoil = fn(&mut Manifest);
        let cases: [(Spoil, &str); 7] = [
            (|m| m.categories.truncate(1), "at least two"),
            (
                |m| m.categories[1] = "Angry".into(),
                "\"angry\" and \"Angry\"",
            ),
            (|m| m.categories[0] = " ".into(), "empty name"),
            (|m| m.labels = vec![Dimension::Arousal], "not `labels`"),
            (|m| m.head.bounded = true, "`head.bounded`"),
            (|m| m.output_range = [1.0, 7.0], "probabilities"),
            (
                |m| {
                    m.task = Task::Dimensional;
                    m.labels = vec![Dimension::Arousal, Dimension::Valence, Dimension::Dominance];
                },
                "`categories` needs",
            ),
        ];
        for (spoil, expected) in cases {
            let mut m = categorical();
            spoil(&mut m);
            let e = m
                .validate(Path::new("dir/emoscope.json"))
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("dir/emoscope.json") && e.contains(expected),
                "{expected}: {e}"
            );
        }
    }
}
