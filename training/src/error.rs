//! Why training, layer analysis or distillation could not run.

use std::path::PathBuf;

use crate::manifest::ManifestError;
use emoscope::audio::AudioError;
use emoscope::engine::PredictError;
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
    /// The options do not fit together or do not fit the data (too few
    /// utterances, a row without labels or transcript, a mode without the
    /// backbone it needs, `--hidden-layers` the models do not have).
    #[error("{0}")]
    Config(String),
    /// The loss stopped being a finite number: training diverged.
    #[error("the loss became {loss} at step {step}; lower --lr / --backbone-lr")]
    Diverged {
        /// Optimiser steps done before the batch whose loss it was.
        step: usize,
        /// The loss (NaN or infinite).
        loss: f64,
    },
    /// The distilled student could not be built, loaded or run.
    #[error(transparent)]
    Student(#[from] StudentError),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The model could not be run as users run it (loading, or on an audio file).
    #[error("{context}: {error}")]
    Predict {
        /// What was being done: the model directory or the audio file.
        context: String,
        /// The engine's error (boxed: it is large).
        error: Box<PredictError>,
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

/// Why distillation's student failed.
///
/// The messages include the engine's error, so it is kept as a field, not
/// also returned as `source()` (an error chain printer would repeat it).
#[derive(Debug, thiserror::Error)]
pub enum StudentError {
    /// The student built from `--student` has no audio encoder to distil into.
    #[error("the student has no audio encoder")]
    NoAudioEncoder,
    /// The saved student could not be loaded the way users load it.
    #[error("loading the student from {dir}: {error}")]
    Load {
        /// The student's directory.
        dir: PathBuf,
        /// The engine's error (boxed: it is large, and this one is rare).
        error: Box<PredictError>,
    },
    /// The saved student failed on an audio file.
    #[error("running the student on {audio}: {error}")]
    Run {
        /// The audio file.
        audio: PathBuf,
        /// The engine's error (boxed: it is large, and this one is rare).
        error: Box<PredictError>,
    },
}

/// Wraps an I/O error with its path.
pub(crate) fn io_err(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> TrainError {
    let path = path.into();
    move |source| TrainError::Io { path, source }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn divergence_names_the_step_and_the_loss() {
        let e = TrainError::Diverged {
            step: 12,
            loss: f64::NAN,
        };
        assert_eq!(
            e.to_string(),
            "the loss became NaN at step 12; lower --lr / --backbone-lr"
        );
    }

    #[test]
    fn student_failures_name_the_file() {
        let e = TrainError::from(StudentError::Run {
            audio: PathBuf::from("a.wav"),
            error: Box::new(PredictError::Audio(
                emoscope::engine::AnalyserError::HostRate { rate: 1.0 },
            )),
        });
        assert!(
            e.to_string()
                .starts_with("running the student on a.wav: unsupported host sample rate 1 Hz"),
            "{e}"
        );
    }
}
