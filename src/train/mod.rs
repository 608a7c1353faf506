//! Training, evaluation, layer analysis and distillation of emotion models.
//!
//! - Data: labelled manifests ([`manifest`]), utterances with cached
//!   features ([`data`]), batches of similar length ([`batches`]).
//! - Measures: the metrics of dimensional SER ([`metrics`]) and the
//!   differentiable losses ([`loss`]).
//! - Models: what `--init` names ([`init`]), fresh students ([`student`]),
//!   models over trainable variables and their checkpoints ([`model`]).
//! - Loops: [`trainer`] (`emoscope train`), [`layers`] (`emoscope layers`),
//!   [`distill`] (`emoscope distill`), learning-rate [`schedule`]s.

pub mod batches;
pub mod data;
pub mod demo;
pub mod distill;
pub mod error;
pub mod init;
pub mod layers;
pub mod loss;
pub mod manifest;
pub mod metrics;
pub mod model;
pub mod plot;
pub mod schedule;
pub mod student;
pub mod trainer;

pub use error::TrainError;
