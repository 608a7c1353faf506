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

pub mod config;
pub mod conv_cache;
pub mod cpu;
pub mod emotion;
pub mod encoder;
pub mod error;
pub mod feature_extractor;
pub mod feature_projection;
pub mod head;
pub mod model;
pub mod nn;
pub mod pooling;
pub mod positional;
pub mod preprocess;
pub mod text;
pub mod weights;
pub mod zoo;

pub use config::{FeatExtractNorm, PreprocessorConfig, SslConfig};
pub use conv_cache::ConvFeatureCache;
pub use emotion::{EmotionModel, Manifest, Mode};
pub use error::{LoadError, RunError};
pub use model::{EncoderOutput, Kernels, LoadOptions, SslEncoder};
pub use text::{TextEncoder, TextPooling};
pub use weights::Checkpoint;
pub use zoo::{Zoo, ZooEntry, ZooKind};
