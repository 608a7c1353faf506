//! What the engine runs on each window: anything that maps 16 kHz mono audio
//! (and the window's transcript text) to an [`Emotion`]: arousal, valence and
//! dominance in its declared [`OutputRange`], or a probability per category
//! of its [`EmotionPredictor::categories`].
//!
//! [`ModelPredictor`] runs an [`EmotionModel`] (an Emoscope checkpoint or a
//! published one; dimensional or categorical) and caches text embeddings per
//! distinct transcript text, since consecutive overlapping windows mostly see
//! the same words.
//! [`ClassifierPredictor`] runs a transformers `*ForSequenceClassification`
//! checkpoint, a regression head over arousal, valence and dominance or a
//! categorical (single-label) one, [`OdysseyPredictor`] the Odyssey 2024
//! challenge baseline's checkpoints.
//! [`load_predictor`] is the one entry point the plugin, the CLI and the
//! worker use to turn a model directory into a predictor.

use std::path::Path;

use std::collections::HashMap;

use candle_core::Device;
use emoscope_models::emotion::{odyssey, sequence_classification, ClassifierSpec, MANIFEST_FILE};
use emoscope_models::{
    ConvFeatureCache, DeclaredOutputs, EmotionModel, LoadError, LoadOptions, OdysseyModel, Outputs,
    RunError, SequenceClassifier, TextEncoder,
};

use crate::reading::{Emotion, OutputRange, Probabilities, Span, MAX_CATEGORIES};

/// Why a predictor could not be loaded or run.
#[derive(Debug, thiserror::Error)]
pub enum PredictError {
    /// Loading the model failed.
    #[error(transparent)]
    Load(#[from] emoscope_models::LoadError),
    /// The forward pass failed.
    #[error(transparent)]
    Run(#[from] emoscope_models::RunError),
    /// A tensor operation failed.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    /// The audio could not be cut into windows (an unsupported sample rate,
    /// a resampler failure): the analyser's error.
    #[error(transparent)]
    Audio(super::analyser::AnalyserError),
    /// The model produced a value that is not a number (NaN or infinite):
    /// broken weights or an unstable layer. Never passed on as a reading.
    #[error("the model {model} produced a non-finite output (arousal {}, valence {}, dominance {}); its weights or inputs are broken", values.arousal, values.valence, values.dominance)]
    NonFinite {
        /// The model's identifier.
        model: String,
        /// What it produced (boxed: a reading holds its category
        /// probabilities inline, and errors stay small).
        values: Box<Emotion>,
    },
    /// A categorical model's probabilities were not numbers.
    #[error("the model {model} produced non-finite category probabilities; its weights or inputs are broken")]
    NonFiniteProbabilities {
        /// The model's identifier.
        model: String,
    },
}

/// A model the engine can run on analysis windows.
pub trait EmotionPredictor: Send {
    /// A short identifier recorded with every timeline entry (the model directory name).
    fn id(&self) -> &str;
    /// The device it runs on, for the status line.
    fn device(&self) -> String;
    /// Sample rate it expects (16 kHz for HuBERT-family encoders).
    fn sample_rate(&self) -> u32;
    /// Reads one window of mono samples at [`Self::sample_rate`]; `text` is
    /// the transcript overlapping the window (may be empty).
    fn predict(&mut self, samples: &[f32], text: &str) -> Result<Emotion, PredictError>;
    /// Reads several windows, in order: the readings [`Self::predict`] gives
    /// each in turn, bit for bit, in less time where the model can run
    /// consecutive windows through its encoder as one batch (offline
    /// analysis hands it [`DEFAULT_BATCH`] windows at a time).
    fn predict_batch(&mut self, windows: &[(&[f32], &str)]) -> Result<Vec<Emotion>, PredictError> {
        predict_each(self, windows)
    }
    /// The range the outputs are declared in, the same for every dimension.
    /// Meters and MIDI CC map this range onto their full scale
    /// ([`OutputRange::normalise`]); values outside it are clamped there,
    /// never here.
    fn output_range(&self) -> OutputRange {
        OutputRange::UNIT
    }
    /// Whether `text` changes the reading (the model has a text branch):
    /// speech recognition runs only for models that read words.
    fn reads_text(&self) -> bool {
        true
    }
    /// The category labels, in the order of [`Emotion::probabilities`]
    /// (empty for a model without categories).
    fn categories(&self) -> &[String] {
        &[]
    }
}

/// Loads whatever model directory the user points at into a predictor: the
/// one entry point the plugin, the CLI and the worker use, so that every
/// checkpoint kind Emoscope supports is accepted everywhere. A directory
/// with an `emoscope.json` is an Emoscope model; one whose `config.json`
/// names a transformers `*ForSequenceClassification` architecture is a
/// [`ClassifierPredictor`] (arousal/valence/dominance regression heads and
/// single-label heads); anything else is tried as a published checkpoint.
pub fn load_predictor(
    dir: &Path,
    device: &Device,
) -> Result<Box<dyn EmotionPredictor>, PredictError> {
    load_predictor_with(dir, device, Precision::F32)
}

/// [`load_predictor`] computing in `precision` ([`Precision::resolve`]).
pub fn load_predictor_with(
    dir: &Path,
    device: &Device,
    precision: Precision,
) -> Result<Box<dyn EmotionPredictor>, PredictError> {
    let opts = LoadOptions {
        device: device.clone(),
        dtype: precision.resolve(dir, device).dtype(),
        ..LoadOptions::default()
    };
    if !dir.join(MANIFEST_FILE).exists() {
        if let Some(spec) = sequence_classification::detect(dir)? {
            return Ok(Box::new(ClassifierPredictor::load_spec(dir, spec, &opts)?));
        }
        if odyssey::detect(dir)?.is_some() {
            return Ok(Box::new(OdysseyPredictor::load_with(dir, &opts)?));
        }
    }
    Ok(Box::new(ModelPredictor::load_with(dir, &opts)?))
}

/// The largest deviation of a model's bf16 outputs from its f32 outputs
/// that `--precision auto` accepts, as a share of the output range's width
/// (0.02: 0.02 on a 0..1 scale, 0.12 on MSP-Podcast's 1..7), measured on
/// held-out utterances and recorded in the model's manifest
/// ([`Manifest::bf16_check`](emoscope_models::emotion::Manifest)). It is
/// below what any meter, CC value (1/127 ≈ 0.008 of the range per step,
/// so at most 3 steps) or two-decimal export shows as more than rounding
/// noise, and a tenth of the spread of labels in a dimensional corpus.
pub const BF16_BUDGET: f32 = 0.02;

/// The number format a model computes in (`--precision`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    /// f32 throughout: the reference, the same on every machine.
    #[default]
    F32,
    /// Matrix products in bf16 with f32 sums on a CPU with AVX512-BF16
    /// (about 1.7 times faster there); every op in bf16 on a GPU, and
    /// through candle's slow generic ops on a CPU without AVX512-BF16.
    Bf16,
    /// bf16 where it is fast and measured to be harmless: a CPU with
    /// AVX512-BF16 whose bf16 products are measurably faster than its f32
    /// ones ([`emoscope_models::cpu::bf16_faster`]) and a model whose
    /// manifest records a bf16 check within [`BF16_BUDGET`]; f32 otherwise.
    Auto,
}

/// What [`Precision::resolve`] chose, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolvedPrecision {
    /// f32, with the reason when `auto` chose it.
    F32(Option<String>),
    /// bf16.
    Bf16,
}

impl ResolvedPrecision {
    /// The compute dtype for [`LoadOptions`].
    pub fn dtype(&self) -> candle_core::DType {
        match self {
            Self::F32(_) => candle_core::DType::F32,
            Self::Bf16 => candle_core::DType::BF16,
        }
    }
}

impl Precision {
    /// The names `--precision` takes.
    pub const NAMES: [&'static str; 3] = ["f32", "bf16", "auto"];

    /// What the model in `dir` computes in on `device` (see the variants).
    pub fn resolve(self, dir: &Path, device: &Device) -> ResolvedPrecision {
        match self {
            Precision::F32 => ResolvedPrecision::F32(None),
            Precision::Bf16 => ResolvedPrecision::Bf16,
            Precision::Auto => match auto_refusal(dir, device) {
                None => ResolvedPrecision::Bf16,
                Some(why) => ResolvedPrecision::F32(Some(why)),
            },
        }
    }
}

/// Why `auto` keeps the model in `dir` in f32 on `device`, or `None` when
/// bf16 is both fast and within budget.
fn auto_refusal(dir: &Path, device: &Device) -> Option<String> {
    if !device.is_cpu() {
        return Some("bf16 is chosen automatically on the CPU only".into());
    }
    if !emoscope_models::cpu::bf16_available() {
        return Some("this CPU has no AVX512-BF16".into());
    }
    if !emoscope_models::cpu::bf16_faster() {
        return Some("bf16 products are not faster than f32 on this CPU (measured)".into());
    }
    let Ok(manifest) = emoscope_models::emotion::Manifest::read(dir) else {
        return Some("the model has no emoscope.json recording a bf16 check".into());
    };
    let Some(check) = manifest.bf16_check else {
        return Some("the model's emoscope.json records no bf16 check".into());
    };
    let [min, max] = manifest.output_range;
    let budget = BF16_BUDGET * (max - min);
    (check.max_abs_deviation > budget).then(|| {
        format!(
            "the model's bf16 outputs moved by up to {:.4} on {}, over the budget of {budget:.4}",
            check.max_abs_deviation, check.measured_on
        )
    })
}

impl std::str::FromStr for Precision {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "f32" => Ok(Self::F32),
            "bf16" => Ok(Self::Bf16),
            "auto" => Ok(Self::Auto),
            _ => Err(format!("{s:?} is not a precision: f32, bf16 or auto")),
        }
    }
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::F32 => "f32",
            Self::Bf16 => "bf16",
            Self::Auto => "auto",
        })
    }
}

/// `Cpu`, or `Cpu, bf16` when the model computes in bf16: the status line's device.
fn described_device(device: &Device, dtype: candle_core::DType) -> String {
    match dtype {
        candle_core::DType::F32 => format!("{device:?}"),
        other => format!("{device:?}, {}", other.as_str()),
    }
}

/// The directory's name, the identifier a predictor records with its readings.
fn model_id(dir: &Path) -> String {
    dir.file_name().map_or_else(
        || dir.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// The shortest stretch of audio a span is read from, seconds: a shorter span
/// (a one-word cue) is read with the audio around its centre up to this
/// length, since the encoders need context to say anything.
pub const MIN_SPAN_SECONDS: f64 = 0.5;

/// The model's reading of `span` (seconds) of `samples` (mono, at the
/// model's rate) with `text` as its transcript: the span's own audio and own
/// words, nothing of its neighbours (a segment's value in the exports).
/// Spans longer than `max_seconds` are read in equal pieces of at most that
/// length (each with the span's text) and averaged; spans shorter than
/// [`MIN_SPAN_SECONDS`] are widened around their centre.
pub fn predict_span(
    model: &mut dyn EmotionPredictor,
    samples: &[f32],
    span: Span,
    text: &str,
    max_seconds: f64,
) -> Result<Emotion, PredictError> {
    let pieces = span_pieces(samples.len(), model.sample_rate(), span, max_seconds);
    let mut readings = Vec::with_capacity(pieces.len());
    for piece in pieces {
        readings.push(model.predict(&samples[piece], text)?);
    }
    Ok(mean_of_pieces(&readings))
}

/// The sample ranges [`predict_span`] reads for `span` (seconds) of a
/// signal of `len` samples at `rate` Hz, in the order it reads them: the
/// span clamped to the signal, widened to [`MIN_SPAN_SECONDS`] if shorter,
/// cut into equal pieces of at most `max_seconds`. For callers that stream
/// the signal and hold only the pieces.
pub fn span_pieces(
    len: usize,
    rate: u32,
    span: Span,
    max_seconds: f64,
) -> Vec<std::ops::Range<usize>> {
    let rate = f64::from(rate);
    let total = len as f64 / rate;
    let (mut a, mut b) = (span.start.clamp(0.0, total), span.end.clamp(0.0, total));
    if b - a < MIN_SPAN_SECONDS {
        let mid = 0.5 * (a + b);
        b = (mid + 0.5 * MIN_SPAN_SECONDS).min(total);
        a = (b - MIN_SPAN_SECONDS).max(0.0);
        b = (a + MIN_SPAN_SECONDS).min(total);
    }
    let pieces = ((b - a) / max_seconds.max(MIN_SPAN_SECONDS))
        .ceil()
        .max(1.0) as usize;
    let step = (b - a) / pieces as f64;
    (0..pieces)
        .map(|k| {
            let from = ((a + k as f64 * step) * rate).round() as usize;
            let to = (((a + (k + 1) as f64 * step) * rate).round() as usize).min(len);
            from.min(to)..to
        })
        .collect()
}

/// A span's reading from its pieces' readings (the mean, as [`predict_span`]
/// gives it; not a number without pieces, which no span has).
pub fn mean_of_pieces(readings: &[Emotion]) -> Emotion {
    Emotion::weighted_mean(readings.iter().map(|&r| (1.0, r))).unwrap_or(Emotion::new(
        f32::NAN,
        f32::NAN,
        f32::NAN,
    ))
}

/// `windows` read one at a time by [`EmotionPredictor::predict`]: what
/// [`EmotionPredictor::predict_batch`] gives where no batch applies.
fn predict_each<P: EmotionPredictor + ?Sized>(
    model: &mut P,
    windows: &[(&[f32], &str)],
) -> Result<Vec<Emotion>, PredictError> {
    windows
        .iter()
        .map(|&(samples, text)| model.predict(samples, text))
        .collect()
}

/// Windows offline analysis reads per model call ([`EmotionPredictor::predict_batch`]):
/// enough for the encoder's products to run on full-size blocks, few
/// enough that the batch's activations stay small (8 windows of 4 s are
/// 2 MB of audio).
pub const DEFAULT_BATCH: usize = 8;

/// Whether `windows` can go through a DistilHuBERT-style encoder as one
/// batch with the same result as one by one: more than one, all of the same
/// length (a padded batch would change what a GroupNorm or the input
/// normalisation sees).
fn same_length(windows: &[(&[f32], &str)]) -> bool {
    windows.len() > 1 && windows.iter().all(|w| w.0.len() == windows[0].0.len())
}

/// Texts whose embeddings are kept; beyond this the cache starts over (a
/// transcript seldom has this many distinct window texts in one session).
const TEXT_CACHE_ENTRIES: usize = 4096;

/// Sentence embeddings by text: overlapping windows (and a corpus's repeated
/// sentences) mostly see texts already embedded.
#[derive(Debug, Default)]
pub struct TextEmbeddingCache {
    entries: HashMap<String, Vec<f32>>,
}

impl TextEmbeddingCache {
    /// The embedding of `text` (trimmed) by `encoder`, computed on first use;
    /// `None` for blank text, which means "no transcript" to the models.
    pub fn embed(&mut self, encoder: &TextEncoder, text: &str) -> Result<Option<&[f32]>, RunError> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        if !self.entries.contains_key(text) {
            if self.entries.len() >= TEXT_CACHE_ENTRIES {
                self.entries.clear();
            }
            self.entries.insert(text.to_owned(), encoder.embed(text)?);
        }
        Ok(self.entries.get(text).map(Vec::as_slice))
    }

    /// Embeds the texts of `texts` not yet cached (trimmed, blank ones
    /// skipped) in one batch, so that [`Self::embed`] finds them all.
    pub fn embed_all(&mut self, encoder: &TextEncoder, texts: &[&str]) -> Result<(), RunError> {
        let mut missing: Vec<&str> = Vec::new();
        for t in texts.iter().map(|t| t.trim()) {
            if !t.is_empty() && !self.entries.contains_key(t) && !missing.contains(&t) {
                missing.push(t);
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        if self.entries.len() + missing.len() > TEXT_CACHE_ENTRIES {
            self.entries.clear();
        }
        let rows = encoder.embed_batch(&missing)?.to_vec2::<f32>()?;
        for (t, row) in missing.into_iter().zip(rows) {
            self.entries.insert(t.to_owned(), row);
        }
        Ok(())
    }
}

/// An [`EmotionModel`] as the engine runs it: arousal, valence and
/// dominance, or for a categorical checkpoint a probability per category
/// ([`Emotion::categorical`], the labels in [`EmotionPredictor::categories`]).
pub struct ModelPredictor {
    model: EmotionModel,
    id: String,
    /// The compute dtype it was loaded with (shown on the status line).
    dtype: candle_core::DType,
    /// Text embeddings by window text.
    cache: TextEmbeddingCache,
    /// Conv frames shared with the previous window (consecutive windows of
    /// a run overlap by window minus hop).
    conv_cache: ConvFeatureCache,
}

impl ModelPredictor {
    /// Loads the model in `dir` onto `device` (CPU kernels on the CPU), in f32.
    pub fn load(dir: &Path, device: &Device) -> Result<Self, PredictError> {
        let opts = LoadOptions {
            device: device.clone(),
            ..LoadOptions::default()
        };
        Self::load_with(dir, &opts)
    }

    /// Loads the model in `dir` with `opts` (device and compute dtype); a
    /// categorical manifest with more than [`MAX_CATEGORIES`] categories
    /// fails before any weight is read, naming the manifest.
    pub fn load_with(dir: &Path, opts: &LoadOptions) -> Result<Self, PredictError> {
        let manifest_path = dir.join(MANIFEST_FILE);
        if manifest_path.exists() {
            let manifest = emoscope_models::emotion::Manifest::read(dir)?;
            check_category_count(manifest.categories.len(), &manifest_path, "categories")?;
        }
        let model = EmotionModel::load(dir, opts)?;
        Ok(Self {
            model,
            id: model_id(dir),
            dtype: opts.dtype,
            cache: TextEmbeddingCache::default(),
            conv_cache: ConvFeatureCache::new(),
        })
    }

    /// The model.
    pub fn model(&self) -> &EmotionModel {
        &self.model
    }

    /// How often consecutive windows re-used conv frames (benchmarks and tests).
    pub fn conv_cache(&self) -> &ConvFeatureCache {
        &self.conv_cache
    }
}

impl EmotionPredictor for ModelPredictor {
    fn id(&self) -> &str {
        &self.id
    }

    fn device(&self) -> String {
        described_device(self.model.device(), self.dtype)
    }

    fn sample_rate(&self) -> u32 {
        self.model.manifest().sample_rate
    }

    fn output_range(&self) -> OutputRange {
        OutputRange::from(self.model.manifest().output_range)
    }

    fn reads_text(&self) -> bool {
        self.model.text().is_some()
    }

    fn categories(&self) -> &[String] {
        self.model.categories()
    }

    fn predict(&mut self, samples: &[f32], text: &str) -> Result<Emotion, PredictError> {
        let embedding = match self.model.text() {
            Some(encoder) => self.cache.embed(encoder, text)?,
            None => None,
        };
        if !self.model.categories().is_empty() {
            let p = self
                .model
                .classify_embedded(samples, embedding, Some(&mut self.conv_cache))?;
            return categorical_of(&p, &self.id);
        }
        // The network's output row (label order) becomes the one value type here.
        let values = Emotion::from_dimensions(self.model.predict_embedded(
            samples,
            embedding,
            Some(&mut self.conv_cache),
        )?);
        finite(values, &self.id)
    }

    fn predict_batch(&mut self, windows: &[(&[f32], &str)]) -> Result<Vec<Emotion>, PredictError> {
        let audio = match self.model.audio() {
            // Local conv features: the conv cache saves more than a batch.
            Some(a) if same_length(windows) && !a.encoder().conv_features_are_local() => a,
            _ => return predict_each(self, windows),
        };
        if let Some(encoder) = self.model.text() {
            let texts: Vec<&str> = windows.iter().map(|w| w.1).collect();
            self.cache.embed_all(encoder, &texts)?;
        }
        let samples: Vec<&[f32]> = windows.iter().map(|w| w.0).collect();
        let pooled = audio.forward_each(&samples)?;
        // The batch moved the stream on: the next window starts the cache over.
        self.conv_cache.clear();
        let mut out = Vec::with_capacity(windows.len());
        for (row, &(_, text)) in pooled.iter().zip(windows) {
            let embedding = match self.model.text() {
                Some(encoder) => self.cache.embed(encoder, text)?,
                None => None,
            };
            if !self.model.categories().is_empty() {
                let p = self.model.classify_pooled(Some(row), embedding)?;
                out.push(categorical_of(&p, &self.id)?);
                continue;
            }
            let values = Emotion::from_dimensions(self.model.predict_pooled(Some(row), embedding)?);
            out.push(finite(values, &self.id)?);
        }
        Ok(out)
    }
}

/// A transformers `*ForSequenceClassification` checkpoint as the engine
/// runs it. A regression head over arousal, valence and dominance is read by
/// its `id2label` names, in any order; such a head declares no range, so its
/// readings are placed on [`OutputRange::UNIT`], the range of the published
/// dimensional models (audeering's), and meters clamp what lies outside. A
/// categorical (single-label) head gives a probability per label
/// ([`Emotion::categorical`]), its labels in [`EmotionPredictor::categories`].
pub struct ClassifierPredictor {
    model: SequenceClassifier,
    id: String,
    /// The compute dtype it was loaded with (shown on the status line).
    dtype: candle_core::DType,
    /// A regression head's output indices of arousal, valence and dominance;
    /// `None` for a categorical head.
    order: Option<[usize; 3]>,
    /// Conv frames shared with the previous window.
    conv_cache: ConvFeatureCache,
}

impl ClassifierPredictor {
    /// Loads the checkpoint in `dir` onto `device`.
    pub fn load(dir: &Path, device: &Device) -> Result<Self, PredictError> {
        let spec = sequence_classification::detect(dir)?.ok_or_else(|| LoadError::Unsupported {
            path: dir.join("config.json"),
            field: "architectures".into(),
            message: "not a transformers *ForSequenceClassification checkpoint".into(),
        })?;
        let opts = LoadOptions {
            device: device.clone(),
            ..LoadOptions::default()
        };
        Self::load_spec(dir, spec, &opts)
    }

    /// Loads the checkpoint in `dir` described by `spec`, after checking from
    /// `config.json` alone that its outputs are arousal, valence and
    /// dominance, or at most [`MAX_CATEGORIES`] categories: other
    /// dimensions, or more categories, fail before any weight is read,
    /// naming the file and the labels.
    fn load_spec(
        dir: &Path,
        spec: ClassifierSpec,
        opts: &LoadOptions,
    ) -> Result<Self, PredictError> {
        let declared = spec.declared_outputs();
        if spec.problem == emoscope_models::emotion::ProblemType::SingleLabel {
            check_category_count(declared.categories.len(), &spec.path, "id2label")?;
            return Ok(Self {
                model: SequenceClassifier::load_spec(dir, spec, opts)?,
                id: model_id(dir),
                dtype: opts.dtype,
                order: None,
                conv_cache: ConvFeatureCache::new(),
            });
        }
        let unsupported = |message: String| LoadError::Unsupported {
            path: spec.path.clone(),
            field: "id2label".into(),
            message,
        };
        let Some(order) = declared.avd_index() else {
            let names: Vec<String> = declared.dimensions.into_iter().map(|d| d.name).collect();
            return Err(unsupported(format!(
                "the regression outputs are {}; Emoscope's runtime reads arousal, valence and \
                 dominance, each once",
                quoted(&names)
            ))
            .into());
        };
        Ok(Self {
            model: SequenceClassifier::load_spec(dir, spec, opts)?,
            id: model_id(dir),
            dtype: opts.dtype,
            order: Some(order),
            conv_cache: ConvFeatureCache::new(),
        })
    }

    /// The model.
    pub fn model(&self) -> &SequenceClassifier {
        &self.model
    }
}

/// The Odyssey 2024 challenge baseline's checkpoints
/// (`3loi/SER-Odyssey-Baseline-WavLM-Multi-Attributes` and models trained
/// with the challenge's code), as the engine runs them: arousal, valence and
/// dominance read by their `id2label` names, on the 0..1 range the challenge
/// trains on.
pub struct OdysseyPredictor {
    model: OdysseyModel,
    id: String,
    dtype: candle_core::DType,
    /// The output indices of arousal, valence and dominance.
    order: [usize; 3],
}

impl OdysseyPredictor {
    /// Loads the checkpoint in `dir` with `opts`; outputs other than
    /// arousal, valence and dominance fail, naming them.
    pub fn load_with(dir: &Path, opts: &LoadOptions) -> Result<Self, PredictError> {
        let model = OdysseyModel::load(dir, opts)?;
        let declared: DeclaredOutputs = model.declared_outputs();
        let Some(order) = declared.avd_index() else {
            return Err(PredictError::Load(LoadError::Unsupported {
                path: dir.join("config.json"),
                field: "id2label".into(),
                message: format!(
                    "the outputs are {}; Emoscope's runtime reads arousal, valence and \
                     dominance, each once",
                    quoted(model.labels())
                ),
            }));
        };
        Ok(Self {
            model,
            id: model_id(dir),
            dtype: opts.dtype,
            order,
        })
    }

    /// The model.
    pub fn model(&self) -> &OdysseyModel {
        &self.model
    }

    fn emotion(&self, outputs: Outputs) -> Result<Emotion, PredictError> {
        avd_of(outputs, self.order, &self.id)
    }
}

impl EmotionPredictor for OdysseyPredictor {
    fn id(&self) -> &str {
        &self.id
    }

    fn device(&self) -> String {
        described_device(self.model.device(), self.dtype)
    }

    fn sample_rate(&self) -> u32 {
        self.model.sample_rate()
    }

    fn reads_text(&self) -> bool {
        false
    }

    fn predict(&mut self, samples: &[f32], _text: &str) -> Result<Emotion, PredictError> {
        let outputs = self.model.predict(samples)?;
        self.emotion(outputs)
    }

    /// Windows of one length run as one batch (no padding, so each reads as
    /// alone); others one by one, since the challenge's pooling of a padded
    /// item reaches past its end.
    fn predict_batch(&mut self, windows: &[(&[f32], &str)]) -> Result<Vec<Emotion>, PredictError> {
        if !same_length(windows) {
            return predict_each(self, windows);
        }
        let samples: Vec<&[f32]> = windows.iter().map(|w| w.0).collect();
        let outputs = self.model.predict_batch(&samples)?;
        outputs.into_iter().map(|o| self.emotion(o)).collect()
    }
}

/// Arousal, valence and dominance from a model's dimension outputs, at the
/// output indices `order`; the model `id` is named when one is not a number.
fn avd_of(outputs: Outputs, order: [usize; 3], id: &str) -> Result<Emotion, PredictError> {
    let Outputs::Dimensions { values, .. } = outputs else {
        unreachable!("only models with dimension outputs are read as arousal, valence, dominance")
    };
    finite(Emotion::from_dimensions(order.map(|i| values[i])), id)
}

/// `values`, or the error that says the model `id` produced a non-number.
fn finite(values: Emotion, id: &str) -> Result<Emotion, PredictError> {
    if !values.is_finite() {
        return Err(PredictError::NonFinite {
            model: id.to_owned(),
            values: Box::new(values),
        });
    }
    Ok(values)
}

/// The reading of a categorical model's probabilities `p`, or, when one is
/// not a number, the error naming the model `id`.
fn categorical_of(p: &[f32], id: &str) -> Result<Emotion, PredictError> {
    if p.iter().any(|v| !v.is_finite()) {
        return Err(PredictError::NonFiniteProbabilities {
            model: id.to_owned(),
        });
    }
    let p = Probabilities::new(p).expect("the loader checked the category count");
    Ok(Emotion::categorical(p))
}

/// The error for `count` categories declared by `field` of the file `path`
/// when a reading cannot hold them all (more than [`MAX_CATEGORIES`]).
fn check_category_count(count: usize, path: &Path, field: &str) -> Result<(), PredictError> {
    if count <= MAX_CATEGORIES {
        return Ok(());
    }
    Err(PredictError::Load(LoadError::Unsupported {
        path: path.to_owned(),
        field: field.into(),
        message: format!("{count} categories; Emoscope reads up to {MAX_CATEGORIES}"),
    }))
}

/// `"a", "b", "c"`.
fn quoted(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("{n:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl EmotionPredictor for ClassifierPredictor {
    fn id(&self) -> &str {
        &self.id
    }

    fn device(&self) -> String {
        described_device(self.model.device(), self.dtype)
    }

    fn sample_rate(&self) -> u32 {
        self.model.sample_rate()
    }

    fn reads_text(&self) -> bool {
        false
    }

    fn categories(&self) -> &[String] {
        match self.order {
            Some(_) => &[],
            None => self.model.labels(),
        }
    }

    fn predict(&mut self, samples: &[f32], _text: &str) -> Result<Emotion, PredictError> {
        let outputs = self.model.classify_cached(samples, &mut self.conv_cache)?;
        self.emotion(outputs)
    }

    fn predict_batch(&mut self, windows: &[(&[f32], &str)]) -> Result<Vec<Emotion>, PredictError> {
        if !same_length(windows) || self.model.backbone().conv_features_are_local() {
            return predict_each(self, windows);
        }
        let samples: Vec<&[f32]> = windows.iter().map(|w| w.0).collect();
        let outputs = self.model.classify_batch(&samples)?;
        self.conv_cache.clear();
        outputs.into_iter().map(|o| self.emotion(o)).collect()
    }
}

impl ClassifierPredictor {
    /// The reading in a classifier's outputs (arousal, valence and
    /// dominance by their labels, or the probability of each label), or the
    /// error for a non-number.
    fn emotion(&self, outputs: Outputs) -> Result<Emotion, PredictError> {
        match (self.order, outputs) {
            (Some(order), outputs) => avd_of(outputs, order, &self.id),
            (None, Outputs::Categories { probabilities, .. }) => {
                categorical_of(&probabilities, &self.id)
            }
            (None, Outputs::Dimensions { .. }) => {
                unreachable!("load_spec reads a single-label head's outputs as categories")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_embeddings_are_computed_once_per_trimmed_text_and_blank_is_no_text() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/tests/fixtures/text/bert");
        let encoder = TextEncoder::load(&dir, &Device::Cpu).unwrap();
        let mut cache = TextEmbeddingCache::default();
        assert_eq!(cache.embed(&encoder, "  \n").unwrap(), None);
        let direct = encoder.embed("what a lovely day").unwrap();
        let first = cache
            .embed(&encoder, " what a lovely day ")
            .unwrap()
            .unwrap()
            .to_vec();
        assert_eq!(first, direct);
        assert_eq!(cache.entries.len(), 1);
        cache.embed(&encoder, "what a lovely day").unwrap();
        assert_eq!(
            cache.entries.len(),
            1,
            "the same trimmed text is embedded once"
        );
        cache.embed(&encoder, "a terrible day").unwrap();
        assert_eq!(cache.entries.len(), 2);
    }

    fn classification_fixture(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("models/tests/fixtures")
            .join(format!("classification-{name}"))
    }

    /// The Odyssey baseline fixture (outputs arousal, dominance, valence)
    /// reads as arousal, valence, dominance, the same alone and batched.
    #[test]
    fn the_odyssey_baseline_is_read_by_its_output_names() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/tests/fixtures/odyssey-dim");
        let mut predictor = load_predictor(&dir, &Device::Cpu).unwrap();
        assert_eq!(predictor.id(), "odyssey-dim");
        assert!(!predictor.reads_text());
        assert_eq!(predictor.output_range(), OutputRange::UNIT);
        let x: Vec<f32> = (0..8000).map(|i| (i as f32 * 0.05).sin() * 0.3).collect();
        let got = predictor.predict(&x, "").unwrap();
        let model = OdysseyModel::load(&dir, &LoadOptions::default()).unwrap();
        let Outputs::Dimensions { values, .. } = model.predict(&x).unwrap() else {
            panic!("dimensions expected")
        };
        assert_eq!(got, Emotion::new(values[0], values[2], values[1]));
        let batch = predictor
            .predict_batch(&[(&x[..], ""), (&x[..], "")])
            .unwrap();
        assert!(batch.iter().all(|e| (e.arousal - got.arousal).abs() < 1e-5));
    }

    #[test]
    fn a_transformers_regression_head_is_read_by_its_output_names() {
        // id2label: 0 arousal, 1 dominance, 2 valence (audeering's order).
        let dir = classification_fixture("wav2vec2-dimensions");
        let mut predictor = load_predictor(&dir, &Device::Cpu).unwrap();
        assert_eq!(predictor.id(), "classification-wav2vec2-dimensions");
        assert!(!predictor.reads_text());
        assert_eq!(predictor.output_range(), OutputRange::UNIT);
        let x: Vec<f32> = (0..4000).map(|i| (i as f32 * 0.05).sin() * 0.3).collect();
        let got = predictor.predict(&x, "words are ignored").unwrap();
        let model = SequenceClassifier::load(&dir, &LoadOptions::default()).unwrap();
        let Outputs::Dimensions { values, .. } = model.classify(&x).unwrap() else {
            panic!("a regression head outputs dimensions");
        };
        assert_eq!(got, Emotion::new(values[0], values[2], values[1]));
    }

    #[test]
    fn a_categorical_head_reads_as_category_probabilities_alone_and_batched() {
        for name in [
            "hubert-categories",
            "wav2vec2-categories",
            "wavlm-categories",
        ] {
            let dir = classification_fixture(name);
            let mut predictor = load_predictor(&dir, &Device::Cpu).unwrap();
            assert_eq!(predictor.categories(), ["neutral", "happy", "sad", "angry"]);
            assert!(!predictor.reads_text());
            let x: Vec<f32> = (0..4000).map(|i| (i as f32 * 0.05).sin() * 0.3).collect();
            let got = predictor.predict(&x, "").unwrap();
            assert!(!got.has_dimensions());
            let model = SequenceClassifier::load(&dir, &LoadOptions::default()).unwrap();
            let Outputs::Categories { probabilities, .. } = model.classify(&x).unwrap() else {
                panic!("categories expected")
            };
            assert_eq!(got.probabilities.as_slice(), probabilities);
            assert!((probabilities.iter().sum::<f32>() - 1.0).abs() < 1e-5);
            // Two windows of one length as one batch: each as alone (the
            // reference's tolerance: the batch runs other kernels).
            let y: Vec<f32> = x.iter().map(|v| -0.5 * v).collect();
            let batch = predictor.predict_batch(&[(&x, ""), (&y, "")]).unwrap();
            let alone = [got, predictor.predict(&y, "").unwrap()];
            for (b, a) in batch.iter().zip(&alone) {
                for (p, q) in b
                    .probabilities
                    .as_slice()
                    .iter()
                    .zip(a.probabilities.as_slice())
                {
                    assert!((p - q).abs() < 1e-5, "{name}: {p} vs {q}");
                }
            }
        }
        // A regression head is read as dimensions, with no categories.
        let dims = classification_fixture("wavlm-dimensions");
        let predictor = load_predictor(&dims, &Device::Cpu).unwrap();
        assert!(predictor.categories().is_empty());
    }

    /// A categorical Emoscope checkpoint made of the `audio_mean` emotion
    /// fixture (DistilHuBERT, mean pooling, an unbounded head with three
    /// outputs): the same head weights declared as `categories`, so its
    /// logits are the dimensional fixture's raw outputs.
    fn categorical_checkpoint(categories: &[&str]) -> tempfile::TempDir {
        let src =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("models/tests/fixtures/emotion/audio_mean");
        let dir = tempfile::tempdir().unwrap();
        let mut m = emoscope_models::emotion::Manifest::read(&src).unwrap();
        assert!(!m.head.bounded && m.labels.len() == 3);
        let audio = m.audio.as_mut().unwrap();
        audio.path = src.join(&audio.path).to_string_lossy().into_owned();
        m.task = emoscope_models::emotion::Task::Categorical;
        m.labels.clear();
        m.categories = categories.iter().map(|c| (*c).to_owned()).collect();
        std::fs::copy(
            src.join("head.safetensors"),
            dir.path().join("head.safetensors"),
        )
        .unwrap();
        let text = serde_json::to_string_pretty(&m).unwrap();
        std::fs::write(dir.path().join(MANIFEST_FILE), text).unwrap();
        dir
    }

    #[test]
    fn an_emoscope_categorical_checkpoint_reads_as_softmax_probabilities() {
        let dir = categorical_checkpoint(&["calm", "happy", "sad"]);
        let mut predictor = load_predictor(dir.path(), &Device::Cpu).unwrap();
        assert_eq!(predictor.categories(), ["calm", "happy", "sad"]);
        assert!(!predictor.reads_text());
        assert_eq!(predictor.output_range(), OutputRange::UNIT);
        let src =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("models/tests/fixtures/emotion/audio_mean");
        let dimensional = EmotionModel::load(&src, &LoadOptions::default()).unwrap();
        let x: Vec<f32> = (0..8000).map(|i| (i as f32 * 0.05).sin() * 0.3).collect();
        let y: Vec<f32> = x.iter().map(|v| -0.5 * v + 0.01).collect();
        let mut alone = Vec::new();
        for input in [&x, &y] {
            // The fixture's labels are in A, V, D order, so `predict` is its raw output row z;
            // the categorical reading is softmax(z): p_k = exp(z_k) / Σ_j exp(z_j).
            let z = dimensional.predict(input, None).unwrap().map(f64::from);
            let sum: f64 = z.iter().map(|v| v.exp()).sum();
            let got = predictor.predict(input, "").unwrap();
            assert!(!got.has_dimensions());
            let p = got.probabilities.as_slice();
            assert_eq!(p.len(), 3);
            for k in 0..3 {
                let want = z[k].exp() / sum;
                assert!(
                    (f64::from(p[k]) - want).abs() < 1e-6,
                    "{k}: {} vs {want}",
                    p[k]
                );
            }
            alone.push(got);
        }
        // Windows of one length as one batch: each as alone.
        let batch = predictor.predict_batch(&[(&x, ""), (&y, "")]).unwrap();
        for (b, a) in batch.iter().zip(&alone) {
            for (p, q) in b
                .probabilities
                .as_slice()
                .iter()
                .zip(a.probabilities.as_slice())
            {
                assert!((p - q).abs() < 1e-5, "{p} vs {q}");
            }
        }
        // Asked for dimensions, the model says what it is.
        let model = EmotionModel::load(dir.path(), &LoadOptions::default()).unwrap();
        let e = model.predict(&x, None).unwrap_err().to_string();
        assert!(e.contains("categorical (calm, happy, sad)"), "{e}");
        assert_eq!(
            model.declared_outputs().categories,
            ["calm", "happy", "sad"]
        );
    }

    #[test]
    fn more_categories_than_a_reading_holds_is_a_load_error_naming_the_manifest() {
        let names: Vec<String> = (0..=MAX_CATEGORIES).map(|i| format!("c{i}")).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let dir = categorical_checkpoint(&refs);
        let err = load_predictor(dir.path(), &Device::Cpu)
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("emoscope.json")
                && err.contains(&format!("{} categories", MAX_CATEGORIES + 1)),
            "{err}"
        );
    }

    #[test]
    fn a_regression_head_over_other_dimensions_is_refused_naming_them() {
        let tmp = tempfile::tempdir().unwrap();
        let src = classification_fixture("wavlm-dimensions");
        for entry in std::fs::read_dir(&src).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), tmp.path().join(entry.file_name())).unwrap();
        }
        let path = tmp.path().join("config.json");
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace("\"dominance\"", "\"tension\"");
        std::fs::write(&path, text).unwrap();
        let err = load_predictor(tmp.path(), &Device::Cpu)
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("config.json") && err.contains("\"tension\""),
            "{err}"
        );
    }
}
