//! Typed errors of the model crate.
//!
//! Load-time errors ([`LoadError`]) name the file, the key and what was
//! expected, because the person reading them holds a checkpoint directory and
//! needs to know which file is wrong. Run-time errors ([`RunError`]) describe
//! bad inputs handed to a loaded model.

use std::path::PathBuf;

/// Why a checkpoint could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A file could not be read (missing, permissions, ...).
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file that was being read.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A JSON configuration file did not parse or lacks a required field.
    #[error("invalid JSON in {path}: {source}")]
    Json {
        /// The configuration file.
        path: PathBuf,
        /// serde's description, with line and column.
        #[source]
        source: serde_json::Error,
    },
    /// A configuration value is outside what the implementation supports.
    #[error("{path}: unsupported value for `{field}`: {message}")]
    Unsupported {
        /// The configuration file.
        path: PathBuf,
        /// The offending field, with its Hugging Face name.
        field: String,
        /// What was found and what is supported.
        message: String,
    },
    /// A safetensors file could not be opened or parsed.
    #[error("cannot load weights from {path}: {message}")]
    Weights {
        /// The safetensors file.
        path: PathBuf,
        /// What went wrong (corrupt header, truncated data, ...).
        message: String,
    },
    /// A tensor the configuration requires is absent from the checkpoint.
    #[error("{path}: missing tensor `{key}` (expected shape {expected:?})")]
    MissingTensor {
        /// The safetensors file (or the first of several).
        path: PathBuf,
        /// The full checkpoint key, prefix included.
        key: String,
        /// The shape the configuration implies.
        expected: Vec<usize>,
    },
    /// A tensor is present but its shape disagrees with the configuration.
    #[error("{path}: tensor `{key}` has shape {found:?}, expected {expected:?}")]
    ShapeMismatch {
        /// The safetensors file holding the tensor.
        path: PathBuf,
        /// The full checkpoint key, prefix included.
        key: String,
        /// The shape the configuration implies.
        expected: Vec<usize>,
        /// The shape stored in the file.
        found: Vec<usize>,
    },
    /// An emotion checkpoint's manifest (`emoscope.json`) is inconsistent
    /// with itself or with the files it points to.
    #[error("{path}: {message}")]
    Manifest {
        /// The manifest (or the file it points to that disagrees with it).
        path: PathBuf,
        /// What is wrong and what was expected.
        message: String,
    },
    /// A `tokenizer.json` could not be read or parsed.
    #[error("cannot load the tokenizer {path}: {message}")]
    Tokenizer {
        /// The tokenizer file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// Any other error raised by candle while building the model.
    #[error("building the model from {path}: {source}")]
    Candle {
        /// The checkpoint directory or file.
        path: PathBuf,
        /// candle's error.
        #[source]
        source: candle_core::Error,
    },
}

/// Why a forward pass failed on a loaded model.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The input does not fit the model (too short, wrong rank, bad lengths).
    #[error("invalid input: {0}")]
    Input(String),
    /// The model needs a transcript, none was given, and it has no audio-only fallback head.
    #[error("this model needs transcript text (it has no audio-only fallback head); give it a transcript")]
    NeedsText,
    /// The tokenizer failed on the input text.
    #[error("tokenizing: {0}")]
    Tokenize(String),
    /// candle reported an error during computation.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}
