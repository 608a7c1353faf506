//! Emoscope as a VST3 / CLAP plugin.
//!
//! This crate is the workspace member the plugin will live in; it is an
//! intentionally empty skeleton until the plugin issue lands (nice-plug
//! wrapper, egui editor, MIDI CC output). Nothing here is built into a bundle yet.
