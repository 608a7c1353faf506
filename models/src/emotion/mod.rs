//! The emotion model: audio encoder → pooling → optional text embedding →
//! fusion head → arousal, valence and dominance, or a probability per
//! category for a categorical manifest ([`Task`]).
//!
//! `EmotionModel { audio, text, head }` composes the backbones the way
//! transformers' task models do (`XLMRobertaForSequenceClassification {
//! roberta, classifier }`), each part loaded from its own directory or key
//! prefix: the audio branch is a [`crate::speech`] encoder followed by
//! [`pooling`] (layer weights, then mean or attentive statistics over time),
//! the text branch a [`crate::text`] sentence encoder, and [`head`] holds the
//! MLPs and the early or late fusion. One checkpoint format ([`manifest`])
//! covers the three modes (audio-only, text-only, audio+text) and both
//! fusions; [`published`] maps published SER checkpoints (audeering's
//! wav2vec2 MSP-Podcast model) onto it. Samples and transcripts come in from
//! the engine, the CLI and training; arousal, valence and dominance
//! ([`EmotionModel::predict`]) or category probabilities
//! ([`EmotionModel::classify`]) go out.
//!
//! Beside it, [`sequence_classification`] loads transformers' own speech
//! classification heads (`HubertForSequenceClassification` and its wav2vec2
//! and WavLM siblings) as they are saved, [`odyssey`] the Odyssey 2024
//! challenge baseline's checkpoints, and [`outputs`] is how every model
//! declares what it outputs: named dimensions, categories, or both.

pub mod head;
pub mod manifest;
pub mod odyssey;
pub mod outputs;
pub mod pooling;
pub mod published;
pub mod sequence_classification;

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;

use crate::error::{LoadError, RunError};
use crate::speech::conv_cache::ConvFeatureCache;
use crate::speech::model::{EncoderOutput, LoadOptions, SslEncoder};
use crate::text::{TextEncoder, TextPooling};
use crate::weights::{Checkpoint, Vb};
use head::{Fusion, Mlp};
use pooling::{AttentiveStatistics, LayerWeights, TimePooling};

pub use manifest::{
    AudioSpec, Bf16Check, Dimension, FusionKind, HeadSpec, LayerSelection, Manifest, PoolingKind,
    Routing, Source, Task, TextPoolingKind, TextSpec, MANIFEST_FILE,
};
pub use odyssey::OdysseyModel;
pub use outputs::{DeclaredDimension, DeclaredOutputs, Outputs};
pub use sequence_classification::{ClassifierSpec, ProblemType, SequenceClassifier};

/// Which branches a model runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Speech only.
    Audio,
    /// Transcript only.
    Text,
    /// Both.
    AudioText,
}

/// The audio branch: encoder, layer selection, time pooling.
pub struct AudioBranch {
    encoder: SslEncoder,
    selection: LayerSelection,
    layer_weights: Option<LayerWeights>,
    pooling: TimePooling,
    span: tracing::Span,
}

impl AudioBranch {
    /// The audio branch the manifest's `audio` section describes, over
    /// `encoder`: checks the layer selection and the sample rate against the
    /// encoder, applies the `normalize` override, and loads the layer
    /// weights (`layer_weights`) and the pooling (`pooling.*`) from `vb`.
    fn load(
        spec: &AudioSpec,
        sample_rate: u32,
        mut encoder: SslEncoder,
        vb: &Vb<'_>,
    ) -> Result<Self, LoadError> {
        let bad = |message: String| LoadError::Manifest {
            path: vb.path().to_owned(),
            message,
        };
        let cfg = encoder.config().clone();
        if let LayerSelection::Index(i) = spec.layers {
            if i > cfg.num_hidden_layers {
                return Err(bad(format!(
                    "`audio.layers` selects hidden state {i}, but the encoder has {} (0..={})",
                    cfg.num_hidden_layers + 1,
                    cfg.num_hidden_layers
                )));
            }
        }
        if let Some(on) = spec.normalize {
            encoder.set_do_normalize(on);
        }
        if encoder.preprocessor().sampling_rate != sample_rate {
            return Err(bad(format!(
                "the manifest says {} Hz but the audio backbone's preprocessor says {} Hz",
                sample_rate,
                encoder.preprocessor().sampling_rate
            )));
        }
        let layer_weights = match spec.layers {
            LayerSelection::Weighted => Some(LayerWeights::load(cfg.num_hidden_layers + 1, vb)?),
            _ => None,
        };
        let pooling = match spec.pooling {
            PoolingKind::Mean => TimePooling::Mean,
            PoolingKind::AttentiveStatistics => TimePooling::AttentiveStatistics(
                AttentiveStatistics::load(cfg.hidden_size, &vb.pp("pooling"))?,
            ),
        };
        Ok(Self {
            encoder,
            selection: spec.layers,
            layer_weights,
            pooling,
            span: tracing::span!(tracing::Level::TRACE, "audio-branch"),
        })
    }

    /// The speech encoder.
    pub fn encoder(&self) -> &SslEncoder {
        &self.encoder
    }

    /// Width of the pooled vector.
    pub fn output_size(&self) -> usize {
        self.pooling.output_size(self.encoder.config().hidden_size)
    }

    /// The learned layer weights (softmax-normalised), when the branch uses them.
    pub fn layer_weights(&self) -> Result<Option<Vec<f32>>, RunError> {
        match &self.layer_weights {
            Some(w) => Ok(Some(w.weights()?.to_vec1::<f32>()?)),
            None => Ok(None),
        }
    }

    /// The selected (or weighted) hidden state `[batch, frames, hidden]` in f32.
    pub fn select(&self, out: &EncoderOutput) -> Result<Tensor, RunError> {
        let t = match (self.selection, &self.layer_weights) {
            (LayerSelection::Last, _) => out.last_hidden_state.clone(),
            (LayerSelection::Index(i), _) => out.hidden_states[i].clone(),
            (LayerSelection::Weighted, Some(w)) => {
                let states: Vec<Tensor> = out
                    .hidden_states
                    .iter()
                    .map(|h| h.to_dtype(DType::F32))
                    .collect::<Result<_, _>>()?;
                w.forward(&states)?
            }
            (LayerSelection::Weighted, None) => {
                unreachable!("weighted selection always loads its weights")
            }
        };
        Ok(t.to_dtype(DType::F32)?)
    }

    /// Pooled vectors `[batch, output_size]` of an encoder output.
    pub fn pool(&self, out: &EncoderOutput) -> Result<Tensor, RunError> {
        Ok(self
            .pooling
            .forward(&self.select(out)?, &out.frame_lengths)?)
    }

    /// Encodes and pools utterances (16 kHz mono) as one padded batch.
    pub fn forward(&self, utterances: &[&[f32]]) -> Result<Tensor, RunError> {
        let _enter = self.span.enter();
        let out = if let [one] = utterances {
            self.encoder.encode(one)?
        } else {
            self.encoder.encode_batch(utterances)?
        };
        self.pool(&out)
    }

    /// Encodes utterances as one batch and pools each alone: `[1,
    /// output_size]` per utterance, what [`Self::forward`] gives for it by
    /// itself (the pooling sees no padding and no neighbour).
    pub fn forward_each(&self, utterances: &[&[f32]]) -> Result<Vec<Tensor>, RunError> {
        let _enter = self.span.enter();
        let out = self.encoder.encode_batch(utterances)?;
        (0..utterances.len())
            .map(|i| self.pool(&out.item(i)?))
            .collect()
    }

    /// Encodes and pools one window of a stream, re-using the conv frames
    /// the last window shares with it where the encoder allows
    /// ([`SslEncoder::encode_cached`]).
    pub fn forward_cached(
        &self,
        samples: &[f32],
        cache: &mut ConvFeatureCache,
    ) -> Result<Tensor, RunError> {
        let _enter = self.span.enter();
        let out = self.encoder.encode_cached(samples, cache)?;
        self.pool(&out)
    }
}

/// Already-built parts of a model, for [`EmotionModel::from_parts`]: training
/// builds them from trainable variables.
pub struct Parts<'a> {
    /// The audio encoder, when the manifest has an audio branch.
    pub audio: Option<SslEncoder>,
    /// The text encoder, when the manifest has a text branch.
    pub text: Option<TextEncoder>,
    /// Where the head's tensors come from (training: a builder over a `VarMap`,
    /// which creates the head's variables).
    pub head: VarBuilder<'a>,
    /// The head weights file, named in errors.
    pub head_path: PathBuf,
}

/// A complete emotion model: arousal / valence / dominance, or categories.
pub struct EmotionModel {
    manifest: Manifest,
    audio: Option<AudioBranch>,
    text: Option<TextEncoder>,
    fusion: Fusion,
    fallback: Option<Mlp>,
    /// The output index of arousal, valence and dominance (dimensional
    /// models; `None` for a categorical one).
    order: Option<[usize; 3]>,
    /// Entered by [`Self::head_forward`]: fusion, fallback and bounding.
    span: tracing::Span,
}

/// Opens a head weights file as a candle `VarBuilder` (safetensors, or a
/// PyTorch pickle), for building [`Parts`].
pub fn head_var_builder(path: &Path, device: &Device) -> Result<VarBuilder<'static>, LoadError> {
    let weights_err = |e: candle_core::Error| LoadError::Weights {
        path: path.to_owned(),
        message: e.to_string(),
    };
    if !path.exists() {
        return Err(head_not_found(path));
    }
    if is_pickle(path) {
        VarBuilder::from_pth(path, DType::F32, device).map_err(weights_err)
    } else {
        // SAFETY: read-only mapping of a checkpoint that must not change while loading.
        unsafe { VarBuilder::from_mmaped_safetensors(&[path], DType::F32, device) }
            .map_err(weights_err)
    }
}

fn head_not_found(path: &Path) -> LoadError {
    LoadError::Io {
        path: path.to_owned(),
        source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
    }
}

/// Whether a head weights file is a PyTorch pickle (by its extension).
fn is_pickle(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e == "bin" || e == "pt" || e == "pth")
}

/// Whether the built parts are the branches the manifest declares; `path`
/// (the head weights) is named in the error.
fn check_parts(manifest: &Manifest, audio: bool, text: bool, path: &Path) -> Result<(), LoadError> {
    if manifest.audio.is_some() != audio || manifest.text.is_some() != text {
        return Err(LoadError::Manifest {
            path: path.to_owned(),
            message: "the parts given do not match the branches the manifest declares".into(),
        });
    }
    Ok(())
}

/// The text branch the manifest's `text` section describes: `encoder` with
/// the manifest's pooling when it names one (else the directory's own).
fn text_branch(spec: &TextSpec, mut encoder: TextEncoder) -> TextEncoder {
    match spec.pooling {
        Some(TextPoolingKind::Mean) => encoder.set_pooling(TextPooling::Mean),
        Some(TextPoolingKind::Cls) => encoder.set_pooling(TextPooling::Cls),
        None => {}
    }
    encoder
}

/// The widths of the vectors the head reads: the pooled audio vector and
/// the text embedding, for the branches the model has. Each MLP's first
/// layer is loaded for its width, so a head trained on other widths fails
/// with a shape mismatch naming that layer's weight.
#[derive(Debug, Clone, Copy)]
struct HeadInputs {
    audio: Option<usize>,
    text: Option<usize>,
}

impl HeadInputs {
    /// Early fusion reads the branches' vectors concatenated, audio first.
    fn concatenated(self) -> usize {
        self.audio.unwrap_or(0) + self.text.unwrap_or(0)
    }
}

/// One MLP of the head: `input` -> `spec.hidden` -> `outputs` (3
/// dimensions, or one logit per category), its layers named by
/// `spec.layer_names` (or `layers.N`) under `prefix`.
fn load_mlp(
    spec: &HeadSpec,
    input: usize,
    outputs: usize,
    prefix: &str,
    vb: &Vb<'_>,
) -> Result<Mlp, LoadError> {
    let dims: Vec<usize> = std::iter::once(input)
        .chain(spec.hidden.iter().copied())
        .chain(std::iter::once(outputs))
        .collect();
    let names = spec
        .layer_names
        .clone()
        .unwrap_or_else(|| Mlp::default_names(spec.hidden.len() + 1));
    Mlp::load(&dims, &names, spec.activation, spec.dropout, &vb.pp(prefix))
}

/// The fusion head: one MLP over the concatenated vectors (`head.*`, or the
/// manifest's `prefix`), or one per branch (`audio_head.*`, `text_head.*`)
/// mixed per output by `late_weight`.
fn load_fusion(
    spec: &HeadSpec,
    inputs: HeadInputs,
    outputs: usize,
    vb: &Vb<'_>,
) -> Result<Fusion, LoadError> {
    Ok(match spec.fusion {
        FusionKind::Early => Fusion::Early {
            head: load_mlp(
                spec,
                inputs.concatenated(),
                outputs,
                spec.prefix.as_deref().unwrap_or("head"),
                vb,
            )?,
        },
        FusionKind::Late => Fusion::Late {
            audio: load_mlp(spec, inputs.audio.unwrap_or(0), outputs, "audio_head", vb)?,
            text: load_mlp(spec, inputs.text.unwrap_or(0), outputs, "text_head", vb)?,
            late_weight: vb.get_with_init(
                &[outputs],
                "late_weight",
                candle_nn::Init::Const(0.0),
            )?,
        },
    })
}

/// The audio-only fallback MLP (`fallback.*`) when the manifest asks for one.
fn load_fallback(
    spec: &HeadSpec,
    inputs: HeadInputs,
    outputs: usize,
    vb: &Vb<'_>,
) -> Result<Option<Mlp>, LoadError> {
    if spec.audio_fallback {
        Ok(Some(load_mlp(
            spec,
            inputs.audio.unwrap_or(0),
            outputs,
            "fallback",
            vb,
        )?))
    } else {
        Ok(None)
    }
}

impl EmotionModel {
    /// Loads a model directory: an Emoscope checkpoint (`emoscope.json`) or a
    /// published checkpoint [`published`] recognises.
    pub fn load(dir: &Path, opts: &LoadOptions) -> Result<Self, LoadError> {
        let manifest = if dir.join(MANIFEST_FILE).exists() {
            Manifest::read(dir)?
        } else if let Some(m) = published::detect(dir)? {
            m
        } else {
            return Err(LoadError::Manifest {
                path: dir.join(MANIFEST_FILE),
                message: "not an emotion model: no emoscope.json, and config.json does not describe a known \
                          published emotion checkpoint (see `emoscope models list`)"
                    .into(),
            });
        };
        let audio = match &manifest.audio {
            Some(a) => Some(SslEncoder::load_with(
                &Manifest::resolve(dir, &a.path),
                opts,
            )?),
            None => None,
        };
        let text = match &manifest.text {
            Some(t) => Some(TextEncoder::load(
                &Manifest::resolve(dir, &t.path),
                &opts.device,
            )?),
            None => None,
        };
        let head_path = Manifest::resolve(dir, &manifest.head.weights);
        if !head_path.exists() {
            return Err(head_not_found(&head_path));
        }
        if is_pickle(&head_path) {
            // candle's pickle reader reads only the tensors asked for; a
            // published checkpoint's file holds the whole encoder besides the head.
            let vb = head_var_builder(&head_path, &opts.device)?;
            Self::assemble(manifest, audio, text, &Vb::from_var_builder(vb, &head_path))
        } else {
            let ckpt = Checkpoint::open(&[head_path], DType::F32, &opts.device)?;
            let model = Self::assemble(manifest, audio, text, &ckpt.root(""))?;
            Ok(model)
        }
    }

    /// Assembles a model from its manifest and built parts; checks that the
    /// parts match the manifest and the head's tensors match the parts.
    pub fn from_parts(manifest: Manifest, parts: Parts<'_>) -> Result<Self, LoadError> {
        let head = Vb::from_var_builder(parts.head, &parts.head_path);
        Self::assemble(manifest, parts.audio, parts.text, &head)
    }

    /// [`Self::from_parts`] with the head's tensors under `vb`, in four
    /// steps: the parts match the manifest, the audio branch, the text
    /// branch, the head over their widths.
    fn assemble(
        manifest: Manifest,
        audio: Option<SslEncoder>,
        text: Option<TextEncoder>,
        vb: &Vb<'_>,
    ) -> Result<Self, LoadError> {
        check_parts(&manifest, audio.is_some(), text.is_some(), vb.path())?;
        let audio = match (manifest.audio.as_ref(), audio) {
            (Some(spec), Some(encoder)) => {
                Some(AudioBranch::load(spec, manifest.sample_rate, encoder, vb)?)
            }
            _ => None,
        };
        let text = match (manifest.text.as_ref(), text) {
            (Some(spec), Some(encoder)) => Some(text_branch(spec, encoder)),
            _ => None,
        };
        let inputs = HeadInputs {
            audio: audio.as_ref().map(AudioBranch::output_size),
            text: text.as_ref().map(TextEncoder::hidden_size),
        };
        let outputs = manifest.outputs();
        let fusion = load_fusion(&manifest.head, inputs, outputs, vb)?;
        let fallback = load_fallback(&manifest.head, inputs, outputs, vb)?;
        let order = (manifest.task == Task::Dimensional).then(|| manifest.output_index());
        Ok(Self {
            manifest,
            audio,
            text,
            fusion,
            fallback,
            order,
            span: tracing::span!(tracing::Level::TRACE, "emotion-head"),
        })
    }

    /// The manifest the model was built from.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// What the model outputs: arousal, valence and dominance (the order of
    /// [`Self::predict`]), each in the manifest's `output_range`; or the
    /// categories of a categorical model (the order of [`Self::classify`]).
    pub fn declared_outputs(&self) -> DeclaredOutputs {
        match self.manifest.task {
            Task::Dimensional => DeclaredOutputs::avd(self.manifest.output_range),
            Task::Categorical => DeclaredOutputs {
                dimensions: Vec::new(),
                categories: self.manifest.categories.clone(),
            },
        }
    }

    /// The category labels of a categorical model, in output order (empty
    /// for a dimensional one).
    pub fn categories(&self) -> &[String] {
        &self.manifest.categories
    }

    /// Which branches the model has.
    pub fn mode(&self) -> Mode {
        match (&self.audio, &self.text) {
            (Some(_), Some(_)) => Mode::AudioText,
            (None, Some(_)) => Mode::Text,
            _ => Mode::Audio,
        }
    }

    /// The audio branch, if any.
    pub fn audio(&self) -> Option<&AudioBranch> {
        self.audio.as_ref()
    }

    /// The text branch, if any.
    pub fn text(&self) -> Option<&TextEncoder> {
        self.text.as_ref()
    }

    /// Whether the model can run without transcript text (no text branch, or a fallback).
    pub fn works_without_text(&self) -> bool {
        match self.mode() {
            Mode::Audio => true,
            Mode::Text => false,
            Mode::AudioText => {
                self.fallback.is_some() || matches!(self.fusion, Fusion::Late { .. })
            }
        }
    }

    /// The head on pooled vectors: `[batch, outputs]` in the manifest's
    /// output order (arousal, valence and dominance in `labels` order, or
    /// one logit per category).
    /// `text` is `None` when no transcript is available; an audio+text model
    /// then uses its audio-only path (the fallback MLP, or late fusion's audio
    /// head), and fails with [`RunError::NeedsText`] if it has none. Outside
    /// training, a [`Routing`] in the manifest picks each output's source.
    pub fn head_forward(
        &self,
        audio: Option<&Tensor>,
        text: Option<&Tensor>,
        train: bool,
    ) -> Result<Tensor, RunError> {
        let _enter = self.span.enter();
        let audio =
            if self.audio.is_some() {
                Some(audio.ok_or_else(|| {
                    RunError::Input("the model needs the pooled audio vector".into())
                })?)
            } else {
                None
            };
        let without_text = self.text.is_some() && text.is_none();
        let routing = self.manifest.head.routing.as_ref().filter(|_| !train);
        let Some(routing) = routing else {
            let y = if without_text {
                self.audio_only(audio, train)?
            } else {
                let text = if self.text.is_some() { text } else { None };
                self.fusion.forward(audio, text, train)?
            };
            return self.bound(y);
        };
        // Routed (inference only): each output from its source.
        let sources = if without_text {
            &routing.without_text
        } else {
            &routing.with_text
        };
        let fused = if sources.contains(&Source::Fused) {
            Some(self.bound(self.fusion.forward(audio, text, train)?)?)
        } else {
            None
        };
        let audio_only = if sources.contains(&Source::Audio) {
            Some(self.bound(self.audio_only(audio, train)?)?)
        } else {
            None
        };
        let (batch, dtype) = match (&fused, &audio_only, audio, text) {
            (Some(y), _, _, _) | (_, Some(y), _, _) => (y.dim(0)?, y.dtype()),
            (_, _, Some(a), _) => (a.dim(0)?, DType::F32),
            (_, _, _, Some(t)) => (t.dim(0)?, DType::F32),
            _ => return Err(RunError::Input("the head got no input".into())),
        };
        let columns = sources
            .iter()
            .enumerate()
            .map(|(k, source)| {
                let column = |y: &Option<Tensor>| {
                    y.as_ref()
                        .expect("computed for the sources that need it")
                        .narrow(1, k, 1)
                };
                Ok(match source {
                    Source::Fused => column(&fused)?,
                    Source::Audio => column(&audio_only)?,
                    Source::Prior => Tensor::full(routing.prior[k], (batch, 1), self.device())?
                        .to_dtype(dtype)?,
                })
            })
            .collect::<Result<Vec<_>, RunError>>()?;
        Ok(Tensor::cat(&columns, 1)?)
    }

    /// The audio-only path on pooled audio, unbounded: the fallback MLP, or
    /// late fusion's audio head; [`RunError::NeedsText`] when it has neither.
    fn audio_only(&self, audio: Option<&Tensor>, train: bool) -> Result<Tensor, RunError> {
        match (&self.fallback, &self.fusion, audio) {
            (Some(f), _, Some(a)) => Ok(f.forward(a, train)?),
            (None, Fusion::Late { audio: head, .. }, Some(a)) => Ok(head.forward(a, train)?),
            _ => Err(RunError::NeedsText),
        }
    }

    /// The outputs mapped into the declared range when the head is
    /// [`HeadSpec::bounded`] (`min + (max - min) · sigmoid(y)`), else as they are.
    fn bound(&self, y: Tensor) -> Result<Tensor, RunError> {
        if !self.manifest.head.bounded {
            return Ok(y);
        }
        let [min, max] = self.manifest.output_range;
        Ok(candle_nn::ops::sigmoid(&y)?.affine(f64::from(max - min), f64::from(min))?)
    }

    /// Predictions `[batch, 3]` (label order) for utterances at
    /// [`Manifest::sample_rate`] and, per utterance, transcript text
    /// (`None` or blank: no transcript).
    pub fn forward(
        &self,
        utterances: &[&[f32]],
        texts: &[Option<&str>],
        train: bool,
    ) -> Result<Tensor, RunError> {
        if texts.len() != utterances.len() && self.audio.is_some() {
            return Err(RunError::Input(format!(
                "{} texts for {} utterances",
                texts.len(),
                utterances.len()
            )));
        }
        let audio = match &self.audio {
            Some(a) => Some(a.forward(utterances)?),
            None => None,
        };
        let given: Vec<&str> = texts
            .iter()
            .filter_map(|t| t.filter(|s| !s.trim().is_empty()))
            .collect();
        let text = match &self.text {
            Some(enc) if given.len() == texts.len() => Some(enc.embed_batch(&given)?),
            Some(_) if !given.is_empty() => {
                return Err(RunError::Input(
                    "a batch must have transcript text for every utterance or for none".into(),
                ))
            }
            _ => None,
        };
        self.head_forward(audio.as_ref(), text.as_ref(), train)
    }

    /// Arousal, valence and dominance (in that order) for one utterance;
    /// an error for a categorical model ([`Self::classify`]).
    pub fn predict(&self, samples: &[f32], text: Option<&str>) -> Result<[f32; 3], RunError> {
        let y = self.forward(&[samples], &[text], false)?;
        self.to_avd(&y)
    }

    /// The probability of each category (in [`Self::categories`] order) for
    /// one utterance; an error for a dimensional model ([`Self::predict`]).
    pub fn classify(&self, samples: &[f32], text: Option<&str>) -> Result<Vec<f32>, RunError> {
        let y = self.forward(&[samples], &[text], false)?;
        self.first_probabilities(&y)
    }

    /// Like [`Self::predict`], with the text embedding already computed
    /// (callers cache them) and, for a stream of overlapping windows, the
    /// conv-feature cache of [`AudioBranch::forward_cached`].
    pub fn predict_embedded(
        &self,
        samples: &[f32],
        text_embedding: Option<&[f32]>,
        conv_cache: Option<&mut ConvFeatureCache>,
    ) -> Result<[f32; 3], RunError> {
        let y = self.forward_embedded(samples, text_embedding, conv_cache)?;
        self.to_avd(&y)
    }

    /// Like [`Self::classify`], with the inputs of [`Self::predict_embedded`].
    pub fn classify_embedded(
        &self,
        samples: &[f32],
        text_embedding: Option<&[f32]>,
        conv_cache: Option<&mut ConvFeatureCache>,
    ) -> Result<Vec<f32>, RunError> {
        let y = self.forward_embedded(samples, text_embedding, conv_cache)?;
        self.first_probabilities(&y)
    }

    /// The head's outputs `[1, outputs]` for one utterance, with the text
    /// embedding already computed and an optional conv-feature cache.
    fn forward_embedded(
        &self,
        samples: &[f32],
        text_embedding: Option<&[f32]>,
        conv_cache: Option<&mut ConvFeatureCache>,
    ) -> Result<Tensor, RunError> {
        let audio = match (&self.audio, conv_cache) {
            (Some(a), Some(cache)) => Some(a.forward_cached(samples, cache)?),
            (Some(a), None) => Some(a.forward(&[samples])?),
            (None, _) => None,
        };
        self.forward_pooled(audio.as_ref(), text_embedding)
    }

    /// Arousal, valence and dominance from an already pooled audio vector
    /// `[1, output_size]` ([`AudioBranch::pool`]) and text embedding, for a
    /// caller that also needs the encoder's hidden states and so runs the
    /// encoder itself (distillation).
    pub fn predict_pooled(
        &self,
        audio: Option<&Tensor>,
        text_embedding: Option<&[f32]>,
    ) -> Result<[f32; 3], RunError> {
        let y = self.forward_pooled(audio, text_embedding)?;
        self.to_avd(&y)
    }

    /// Like [`Self::classify`], from the inputs of [`Self::predict_pooled`].
    pub fn classify_pooled(
        &self,
        audio: Option<&Tensor>,
        text_embedding: Option<&[f32]>,
    ) -> Result<Vec<f32>, RunError> {
        let y = self.forward_pooled(audio, text_embedding)?;
        self.first_probabilities(&y)
    }

    /// The head's outputs `[1, outputs]` from a pooled audio vector and a text embedding.
    fn forward_pooled(
        &self,
        audio: Option<&Tensor>,
        text_embedding: Option<&[f32]>,
    ) -> Result<Tensor, RunError> {
        let text = match text_embedding {
            Some(e) => Some(Tensor::from_slice(e, (1, e.len()), self.device())?),
            None => None,
        };
        self.head_forward(audio, text.as_ref(), false)
    }

    /// The first row of `[batch, 3]` predictions, reordered to arousal,
    /// valence, dominance; an error for a categorical model, which has none.
    pub fn to_avd(&self, y: &Tensor) -> Result<[f32; 3], RunError> {
        let Some(order) = self.order else {
            return Err(self.not_dimensional());
        };
        let row = y.get(0)?.to_dtype(DType::F32)?.to_vec1::<f32>()?;
        Ok(order.map(|i| row[i]))
    }

    /// A categorical model's probabilities `[batch, categories]`: the
    /// softmax of each row of the head's logits `y` ([`Self::head_forward`],
    /// [`Self::forward`]), computed in f32; an error for a dimensional model.
    pub fn probabilities(&self, y: &Tensor) -> Result<Tensor, RunError> {
        if self.manifest.task != Task::Categorical {
            return Err(RunError::Input(
                "this model is dimensional (arousal, valence, dominance); it has no category \
                 probabilities"
                    .into(),
            ));
        }
        Ok(candle_nn::ops::softmax_last_dim(&y.to_dtype(DType::F32)?)?)
    }

    /// The first row of [`Self::probabilities`].
    fn first_probabilities(&self, y: &Tensor) -> Result<Vec<f32>, RunError> {
        Ok(self.probabilities(y)?.get(0)?.to_vec1::<f32>()?)
    }

    /// The error of asking a categorical model for dimensions.
    fn not_dimensional(&self) -> RunError {
        RunError::Input(format!(
            "this model is categorical ({}); it has no arousal, valence and dominance, only \
             category probabilities",
            self.manifest.categories.join(", ")
        ))
    }

    /// The device the model runs on.
    pub fn device(&self) -> &Device {
        match (&self.audio, &self.text) {
            (Some(a), _) => a.encoder.device(),
            (None, Some(t)) => t.device(),
            (None, None) => unreachable!("a model has at least one branch"),
        }
    }
}
