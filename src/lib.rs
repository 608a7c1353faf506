//! Emoscope: dimensional speech emotion (arousal, valence, dominance) from
//! distilled self-supervised speech models.
//!
//! This crate is the runtime: what the plugin links and the command line
//! shares with it, and nothing else. The values that travel from the model
//! to the marker file ([`reading`]: [`Emotion`], [`OutputRange`], [`Span`],
//! [`Reading`]); audio decoding, resampling and speech detection ([`audio`]);
//! the streaming analysis engine ([`engine`]); timed transcripts
//! ([`transcript`]); annotations and their marker files ([`export`], written
//! with [`atomic_write`]); analysing one recording, from decoding to its
//! annotation ([`recording`]); emotion to MIDI CC ([`cc`]); where the
//! default model lives ([`paths`]). The networks live in [`emoscope_models`]
//! (re-exported as [`models`]).
//!
//! Training, the synthetic corpus and the hidden-state export are in
//! `emoscope-training`; the `emoscope` binary, the Hugging Face Hub client
//! and the figures in `emoscope-cli`; the VST3/CLAP plugin in
//! `emoscope-plugin`.

pub use emoscope_models::atomic_write;
pub mod audio;
pub mod cc;
pub mod engine;
pub mod export;
pub mod paths;
pub mod reading;
pub mod recording;
pub mod transcript;

pub use emoscope_models as models;
pub use reading::{Emotion, OutputRange, Reading, Span};
