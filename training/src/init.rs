//! What a model starts from: the values of `--init` (and of `distill --student`).
//!
//! `--init` may be given several times; each value is one of
//!
//! - an **emotion checkpoint** directory (it has `emoscope.json`): its
//!   backbones, and, when the requested mode and outputs are the
//!   checkpoint's own (the same dimensions, or the same categories in the
//!   same order), its whole architecture and head weights too (training
//!   continues from it); otherwise only the backbones it has are taken;
//! - `audio=DIR` or `text=DIR`: a **backbone** directory — a Hugging Face
//!   HuBERT / wav2vec2 checkpoint for audio, a sentence-transformers
//!   directory (BERT, DistilBERT, RoBERTa, XLM-R) for text. A bare `DIR`
//!   works too: its `config.json` says which it is;
//! - `student:NAME` or `student:FILE.json` (also `audio=student:…`): a **fresh
//!   student** audio encoder, created from scratch with a deterministic
//!   initialisation from `--seed` (see [`super::student`]).
//!
//! Explicit backbones override the checkpoint's. Every path is checked when
//! the value is parsed, so a typo fails before any work starts.

use std::path::{Path, PathBuf};

use emoscope_models::emotion::{
    AudioSpec, FusionKind, HeadSpec, LayerSelection, Manifest, PoolingKind, Task, TextSpec,
};
use emoscope_models::head::Activation;
use emoscope_models::Mode;
use serde::Deserialize;

use crate::error::TrainError;
use crate::model::{AudioBackbone, TextBackbone, TrainableModel};

/// Where the audio encoder comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum AudioSource {
    /// A pretrained checkpoint directory.
    Dir(PathBuf),
    /// A fresh student: a preset name or a config file.
    Student(String),
}

/// The parsed `--init` values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Init {
    /// An emotion checkpoint to start from.
    pub checkpoint: Option<PathBuf>,
    /// An explicit audio backbone.
    pub audio: Option<AudioSource>,
    /// An explicit text backbone directory.
    pub text: Option<PathBuf>,
}

#[derive(Deserialize)]
struct ModelType {
    #[serde(default)]
    model_type: String,
}

fn init_err(spec: &str, message: impl Into<String>) -> TrainError {
    TrainError::Init {
        spec: spec.to_owned(),
        message: message.into(),
    }
}

fn model_type(dir: &Path, spec: &str) -> Result<String, TrainError> {
    let p = dir.join("config.json");
    let text = std::fs::read_to_string(&p).map_err(|e| {
        init_err(
            spec,
            format!(
                "{}: {e} (expected an emotion checkpoint with emoscope.json, or a backbone with config.json)",
                p.display()
            ),
        )
    })?;
    let t: ModelType =
        serde_json::from_str(&text).map_err(|e| init_err(spec, format!("{}: {e}", p.display())))?;
    Ok(t.model_type)
}

/// The speech encoder families `emoscope_models::SslEncoder` loads.
const AUDIO_TYPES: &[&str] = &emoscope_models::speech::config::MODEL_TYPES;
const TEXT_TYPES: [&str; 4] = ["bert", "distilbert", "roberta", "xlm-roberta"];

impl Init {
    /// Parses `--init` values (see the module docs).
    pub fn parse(values: &[String]) -> Result<Self, TrainError> {
        let mut init = Self::default();
        for spec in values {
            let (kind, rest) = match spec.split_once('=') {
                Some((k @ ("audio" | "text"), r)) => (Some(k), r),
                _ => (None, spec.as_str()),
            };
            if let Some(student) = rest.strip_prefix("student:") {
                if kind == Some("text") {
                    return Err(init_err(spec, "students are audio encoders"));
                }
                super::student::resolve(student)?;
                set(
                    &mut init.audio,
                    AudioSource::Student(student.to_owned()),
                    spec,
                )?;
                continue;
            }
            let dir = PathBuf::from(rest);
            if !dir.is_dir() {
                return Err(init_err(
                    spec,
                    format!("{} is not a directory", dir.display()),
                ));
            }
            if kind.is_none() && dir.join(emoscope_models::emotion::MANIFEST_FILE).exists() {
                set(&mut init.checkpoint, dir, spec)?;
                continue;
            }
            let found = model_type(&dir, spec)?;
            let is_audio = AUDIO_TYPES.contains(&found.as_str());
            let is_text = TEXT_TYPES.contains(&found.as_str());
            match kind {
                Some("audio") | None if is_audio => set(&mut init.audio, AudioSource::Dir(dir), spec)?,
                Some("text") | None if is_text => set(&mut init.text, dir, spec)?,
                _ => {
                    return Err(init_err(
                        spec,
                        format!(
                            "config.json has model_type {found:?}; audio backbones are {AUDIO_TYPES:?}, text backbones {TEXT_TYPES:?}"
                        ),
                    ))
                }
            }
        }
        Ok(init)
    }
}

fn set<T>(slot: &mut Option<T>, value: T, spec: &str) -> Result<(), TrainError> {
    if slot.is_some() {
        return Err(init_err(
            spec,
            "given twice (one checkpoint, one audio and one text backbone at most)",
        ));
    }
    *slot = Some(value);
    Ok(())
}

/// The architecture of a new head (ignored when training continues a checkpoint of the same mode).
#[derive(Debug, Clone, serde::Serialize)]
pub struct HeadOptions {
    /// Which encoder hidden states the audio branch reads.
    pub layers: LayerSelection,
    /// Time pooling of the audio branch.
    pub pooling: PoolingKind,
    /// Hidden widths of the MLP (empty: linear).
    pub hidden: Vec<usize>,
    /// Activation between MLP layers.
    pub activation: Activation,
    /// Dropout before each linear layer while training.
    pub dropout: f32,
    /// Early or late fusion (audio+text only).
    pub fusion: FusionKind,
    /// Whether an early-fusion audio+text model gets an audio-only fallback MLP.
    pub audio_fallback: bool,
}

/// What a new head outputs.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub enum OutputSpec {
    /// Arousal, valence and dominance, bounded to `range` by construction.
    Dimensions {
        /// The declared output range `[min, max]`.
        range: [f32; 2],
    },
    /// One logit per category, in this order (softmax probabilities when read).
    Categories(Vec<String>),
}

impl OutputSpec {
    /// Whether a checkpoint's manifest declares these outputs (the same task
    /// and, for categories, the same ones in the same order), so that its
    /// head can continue training.
    fn matches(&self, m: &Manifest) -> bool {
        match self {
            Self::Dimensions { .. } => m.task == Task::Dimensional,
            Self::Categories(c) => m.task == Task::Categorical && &m.categories == c,
        }
    }
}

/// Which backbones train.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Freeze {
    /// The audio backbone stays as it is (its features are cached).
    pub audio: bool,
    /// The text backbone stays as it is (its embeddings are cached).
    pub text: bool,
}

/// Builds the model to train from `init` for `mode`, with a head that
/// outputs `outputs`. Returns it and whether its head was loaded from a
/// checkpoint (one of the same mode and outputs).
pub fn build(
    init: &Init,
    mode: Mode,
    head: &HeadOptions,
    freeze: Freeze,
    outputs: &OutputSpec,
    name: &str,
    seed: u64,
) -> Result<(TrainableModel, bool), TrainError> {
    let wants_audio = mode != Mode::Text;
    let wants_text = mode != Mode::Audio;
    let ckpt = match &init.checkpoint {
        Some(dir) => Some((dir.clone(), Manifest::read(dir)?)),
        None => None,
    };
    let ckpt_mode = ckpt.as_ref().map(|(_, m)| match (&m.audio, &m.text) {
        (Some(_), Some(_)) => Mode::AudioText,
        (None, Some(_)) => Mode::Text,
        _ => Mode::Audio,
    });
    let audio_source = if wants_audio {
        Some(match (&init.audio, &ckpt) {
            (Some(s), _) => s.clone(),
            (None, Some((dir, m))) if m.audio.is_some() => {
                let spec = m.audio.as_ref().map(|a| a.path.clone()).unwrap_or_default();
                AudioSource::Dir(Manifest::resolve(dir, &spec))
            }
            _ => {
                return Err(TrainError::Config(
                    "this mode needs an audio backbone: --init audio=DIR, --init student:NAME, or an emotion checkpoint with an audio branch".into(),
                ))
            }
        })
    } else {
        None
    };
    let text_dir = if wants_text {
        Some(match (&init.text, &ckpt) {
            (Some(d), _) => d.clone(),
            (None, Some((dir, m))) if m.text.is_some() => {
                Manifest::resolve(dir, &m.text.as_ref().map(|t| t.path.clone()).unwrap_or_default())
            }
            _ => {
                return Err(TrainError::Config(
                    "this mode needs a text backbone: --init text=DIR (a sentence-transformers directory) or an emotion checkpoint with a text branch".into(),
                ))
            }
        })
    } else {
        None
    };
    let audio = match &audio_source {
        Some(AudioSource::Dir(d)) => Some(AudioBackbone::from_dir(d)?),
        Some(AudioSource::Student(s)) => {
            let c = super::student::resolve(s)?;
            Some(AudioBackbone::fresh(
                c.config,
                c.config_json,
                c.preprocessor_json,
                seed,
            )?)
        }
        None => None,
    };
    let text = match &text_dir {
        Some(d) => Some(TextBackbone::new(d, !freeze.text)?),
        None => None,
    };
    // Continue the checkpoint's head when it is the same kind of model, with
    // the same outputs, on the same backbones.
    let continue_head = ckpt_mode == Some(mode)
        && ckpt.as_ref().is_some_and(|(_, m)| outputs.matches(m))
        && init.audio.is_none()
        && init.text.is_none();
    let (manifest, head_weights) = match (&ckpt, continue_head) {
        (Some((dir, m)), true) => {
            let mut m = m.clone();
            if let Some(a) = &mut m.audio {
                a.path = "audio".into();
            }
            if let Some(t) = &mut m.text {
                t.path = "text".into();
            }
            let weights = Manifest::resolve(dir, &m.head.weights);
            m.head.weights = "head.safetensors".into();
            (m, Some(weights))
        }
        _ => (new_manifest(mode, head, outputs, name), None),
    };
    let loaded = head_weights.is_some();
    let model = TrainableModel::new(manifest, audio, text, head_weights.as_deref(), seed)?;
    Ok((model, loaded))
}

/// The manifest of a new model: dimensions bounded to their range, or
/// categories (unbounded logits, probabilities' range).
pub fn new_manifest(mode: Mode, head: &HeadOptions, outputs: &OutputSpec, name: &str) -> Manifest {
    use emoscope_models::emotion::Dimension;
    let both = mode == Mode::AudioText;
    let (task, labels, categories, output_range) = match outputs {
        OutputSpec::Dimensions { range } => (
            Task::Dimensional,
            vec![Dimension::Arousal, Dimension::Valence, Dimension::Dominance],
            Vec::new(),
            *range,
        ),
        OutputSpec::Categories(c) => (Task::Categorical, Vec::new(), c.clone(), [0.0, 1.0]),
    };
    Manifest {
        format: emoscope_models::emotion::manifest::FORMAT.into(),
        version: emoscope_models::emotion::manifest::VERSION,
        name: name.into(),
        audio: (mode != Mode::Text).then(|| AudioSpec {
            path: "audio".into(),
            layers: head.layers,
            pooling: head.pooling,
            normalize: None,
        }),
        text: (mode != Mode::Audio).then(|| TextSpec {
            path: "text".into(),
            pooling: None,
        }),
        head: HeadSpec {
            weights: "head.safetensors".into(),
            fusion: if both { head.fusion } else { FusionKind::Early },
            hidden: head.hidden.clone(),
            activation: head.activation,
            dropout: head.dropout,
            audio_fallback: both && head.fusion == FusionKind::Early && head.audio_fallback,
            prefix: None,
            layer_names: None,
            bounded: task == Task::Dimensional,
            routing: None,
        },
        task,
        labels,
        categories,
        output_range,
        sample_rate: 16_000,
        provenance: Default::default(),
        bf16_check: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_recognised_and_checked() {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/tests/fixtures");
        let audio = fixtures.join("distilhubert");
        let i = Init::parse(&[audio.display().to_string(), "student:tiny".into()]);
        assert!(i.unwrap_err().to_string().contains("given twice"));
        let i = Init::parse(&["student:tiny".into()]).unwrap();
        assert_eq!(i.audio, Some(AudioSource::Student("tiny".into())));
        let i = Init::parse(&[format!("audio={}", audio.display())]).unwrap();
        assert_eq!(i.audio, Some(AudioSource::Dir(audio.clone())));
        let e = Init::parse(&[format!("text={}", audio.display())])
            .unwrap_err()
            .to_string();
        assert!(e.contains("model_type \"hubert\""), "{e}");
        let e = Init::parse(&["/nonexistent/x".into()])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--init /nonexistent/x") && e.contains("not a directory"),
            "{e}"
        );
        let e = Init::parse(&["text=student:tiny".into()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("audio encoders"), "{e}");
    }

    #[test]
    fn a_wavlm_directory_is_an_audio_backbone() {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/tests/fixtures");
        for name in ["wavlm-base", "wavlm-large"] {
            let audio = fixtures.join(name);
            let i = Init::parse(&[audio.display().to_string()]).unwrap();
            assert_eq!(i.audio, Some(AudioSource::Dir(audio.clone())));
            let e = Init::parse(&[format!("text={}", audio.display())])
                .unwrap_err()
                .to_string();
            assert!(e.contains("model_type \"wavlm\""), "{e}");
        }
    }
}
