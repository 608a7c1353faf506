//! Emoscope's neural networks in candle.
//!
//! The speech encoders (HuBERT, DistilHuBERT, wav2vec2) load standard Hugging
//! Face checkpoint directories (`config.json`, `preprocessor_config.json`,
//! `model.safetensors`) and are numerically equal to transformers' PyTorch
//! implementation; `models/reference/make_fixtures.py` builds the fixtures the
//! parity tests compare against.
//!
//! ```no_run
//! use emoscope_models::SslEncoder;
//! let encoder = SslEncoder::load(std::path::Path::new("distilhubert"))?;
//! let out = encoder.encode(&vec![0.0f32; 16_000])?;
//! assert_eq!(out.hidden_states.len(), encoder.config().num_hidden_layers + 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod cpu;
pub mod emotion;
pub mod error;
pub mod nn;
pub mod speech;
pub mod text;
pub mod weights;
pub mod zoo;

// The speech encoder's modules, the emotion head and its pooling sat at the
// crate root before they moved into their family's folder; these keep
// `emoscope_models::config::SslConfig` and the other old paths resolving.
pub use emotion::{head, pooling};
pub use speech::{
    config, conv_cache, encoder, feature_extractor, feature_projection, model, positional,
    preprocess,
};

pub use emotion::{EmotionModel, Manifest, Mode};
pub use error::{LoadError, RunError};
pub use speech::{
    ConvFeatureCache, EncoderOutput, FeatExtractNorm, Kernels, LoadOptions, PreprocessorConfig,
    SslConfig, SslEncoder,
};
pub use text::{TextEncoder, TextPooling};
pub use weights::Checkpoint;
pub use zoo::{Zoo, ZooEntry, ZooKind};
