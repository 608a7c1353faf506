//! Emoscope's offline tools: training, evaluation, layer analysis and
//! distillation of emotion models, the synthetic corpus they are tested on,
//! and the hidden-state export used for probing.
//!
//! This crate is for the command line and `cargo xtask`; the plugin never
//! links it. It builds on the runtime (the `emoscope` crate: decoding,
//! resampling, the engine) and the networks ([`emoscope_models`]).
//!
//! - Data: labelled manifests ([`manifest`]), utterances with cached
//!   features ([`data`]), the categories of a categorical model
//!   ([`categories`]), batches of similar length ([`batches`]).
//! - Measures: the metrics of dimensional SER ([`metrics`]) and of
//!   categorical SER ([`class_metrics`]), and the differentiable losses ([`loss`]).
//! - Models: what `--init` names ([`init`]), fresh students ([`student`]),
//!   models over trainable variables and their checkpoints ([`model`]), and
//!   which output comes from which head ([`routing`]).
//! - Loops: [`trainer`] (`emoscope train`), [`layers`] (`emoscope layers`),
//!   [`distill`] (`emoscope distill`), learning-rate [`schedule`]s.
//! - Material: the synthetic corpus ([`corpus`], `cargo xtask corpus`), the
//!   offline demo model's recipe ([`demo`]), every hidden state of an encoder
//!   as safetensors ([`features`], `emoscope features`).

pub mod batches;
pub mod categories;
pub mod class_metrics;
pub mod corpus;
pub mod data;
pub mod demo;
pub mod distill;
pub mod error;
pub mod features;
pub mod init;
pub mod layers;
pub mod loss;
pub mod manifest;
pub mod metrics;
pub mod model;
pub mod precision;
pub mod routing;
pub mod schedule;
pub mod student;
pub mod trainer;

pub use error::{StudentError, TrainError};
