//! Why training, layer analysis or distillation could not run.

use std::path::PathBuf;

use crate::manifest::ManifestError;
use emoscope::audio::AudioError;
use emoscope_models::{LoadError, RunError};

/// Errors of [`super::trainer`], [`super::layers`] and [`super::distill`].
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A manifest could not be read.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// An audio file could not be read.
    #[error(transparent)]
    Audio(#[from] AudioError),
    /// A backbone, checkpoint or head could not be loaded.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// A forward pass failed.
    #[error(transparent)]
    Run(#[from] RunError),
    /// A tensor operation (loss, optimiser) failed.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    /// An `--init` (or `--student`) value could not be used.
    #[error("--init {spec}: {message}")]
    Init {
        /// The value as given.
        spec: String,
        /// What is wrong and what was expected.
        message: String,
    },
    /// The options do not fit together or do not fit the data.
    #[error("{0}")]
    Config(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A JSON file (training state, log) could not be read.
    #[error("{path}: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
}

/// Wraps an I/O error with its path.
pub(crate) fn io_err(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> TrainError {
    let path = path.into();
    move |source| TrainError::Io { path, source }
}
