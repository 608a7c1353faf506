//! Emoscope's neural networks in candle: the speech encoders, the text
//! encoders and the emotion model that composes them, each numerically equal
//! to its PyTorch reference (transformers, sentence-transformers, the
//! re-created heads in `models/reference/`), which the parity tests compare
//! against through committed fixtures.
//!
//! One folder per model family, like candle-transformers'
//! `models/whisper/`; each layer is a struct with `load(cfg, vb)` and
//! `forward`, its `vb.pp(..)` calls spelling the state-dict key:
//!
//! - [`speech`]: HuBERT, DistilHuBERT, wav2vec2 and WavLM ([`SslEncoder`]), loaded
//!   from Hugging Face checkpoint directories (`config.json`,
//!   `preprocessor_config.json`, `model.safetensors`); raw samples in, every
//!   hidden state out. Its module doc maps files to transformers' module tree.
//! - [`text`]: BERT, RoBERTa / XLM-R and DistilBERT sentence encoders with
//!   their tokenizer ([`TextEncoder`]), loaded from sentence-transformers
//!   directories; transcript text in, one embedding out.
//! - [`whisper`]: speech recognition (transcripts for the text branch):
//!   Whisper loaded from a Hugging Face or a CTranslate2 / faster-whisper
//!   directory into one `WhisperForConditionalGeneration` tree, its log-mel
//!   front end, and greedy decoding with timestamps and temperature fallback
//!   as openai-whisper does it; samples in, timed text segments out.
//! - [`emotion`]: [`EmotionModel`] `{ audio, text, head }`, its manifest
//!   (`emoscope.json`), the time pooling ([`emotion::pooling`]) and the
//!   fusion MLPs ([`emotion::head`]); arousal, valence and dominance out.
//!   Beside it [`SequenceClassifier`], transformers' HuBERT / wav2vec2 /
//!   WavLM `*ForSequenceClassification` as saved, whose [`Outputs`] are
//!   categories or named dimensions.
//!
//! Shared by the families: [`weights`] ([`Checkpoint`] and its prefixed view
//! [`weights::Vb`], through which every family loads, so that a missing or
//! mis-shaped tensor is a [`LoadError`] naming the file, the key and both
//! shapes), [`nn`] (linear, LayerNorm and embedding loaders, differentiable
//! LayerNorm and softmax), [`error`] (load-time and run-time errors), [`cpu`]
//! (vectorised kernels the speech encoder runs on the CPU) and [`zoo`] (the
//! checkpoints Emoscope knows by name).
//!
//! Every layer opens a `tracing` span at `TRACE` level while it runs, so a
//! `tracing` subscriber (a Chrome trace, say) sees where the time goes.
//!
//! The speech encoder's modules, the emotion head and its pooling used to sit
//! at the crate root; `emoscope_models::{config, conv_cache, encoder,
//! feature_extractor, feature_projection, model, positional, preprocess,
//! head, pooling}` re-export them so older paths keep working.
//!
//! ```no_run
//! use emoscope_models::SslEncoder;
//! let encoder = SslEncoder::load(std::path::Path::new("distilhubert"))?;
//! let out = encoder.encode(&vec![0.0f32; 16_000])?;
//! assert_eq!(out.hidden_states.len(), encoder.config().num_hidden_layers + 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod atomic_write;
pub mod cpu;
pub mod emotion;
pub mod error;
pub mod nn;
pub mod speech;
pub mod text;
pub mod weights;
pub mod whisper;
pub mod zoo;

// The speech encoder's modules, the emotion head and its pooling sat at the
// crate root before they moved into their family's folder; these keep
// `emoscope_models::config::SslConfig` and the other old paths resolving.
pub use emotion::{head, pooling};
pub use speech::{
    config, conv_cache, encoder, feature_extractor, feature_projection, model, positional,
    preprocess,
};

pub use emotion::{
    DeclaredDimension, DeclaredOutputs, EmotionModel, Manifest, Mode, OdysseyModel, Outputs,
    SequenceClassifier,
};
pub use error::{LoadError, RunError};
pub use speech::{
    ConvFeatureCache, EncoderOutput, FeatExtractNorm, Kernels, LoadOptions, PreprocessorConfig,
    SslConfig, SslEncoder,
};
pub use text::{TextEncoder, TextPooling};
pub use weights::Checkpoint;
pub use zoo::{Zoo, ZooEntry, ZooKind};
