//! Emoscope: dimensional speech emotion (arousal, valence, dominance) from
//! distilled self-supervised speech models.
//!
//! This crate holds what the CLI and the plugin share: audio decoding and
//! resampling ([`audio`]), the streaming analysis engine ([`engine`]),
//! timed transcripts ([`transcript`]) and the hidden-state export used for
//! probing ([`features`]). The networks live in [`emoscope_models`].

pub mod atomic_write;
pub mod audio;
pub mod cc;
pub mod corpus;
pub mod engine;
pub mod export;
pub mod features;
pub mod hub;
pub mod paths;
pub mod plot;
pub mod plot_font;
pub mod train;
pub mod transcript;

pub use emoscope_models as models;
