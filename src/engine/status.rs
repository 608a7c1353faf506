//! Engine status for the editor's status line and the CLI: model state,
//! device, real-time factor, dropped windows, windows without speech.
//! Written by the worker; the numbers are relaxed atomics, the texts sit
//! behind a mutex that only non-real-time threads take.

use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::Mutex;

use crate::reading::OutputRange;

/// Where the model is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelState {
    /// No model configured.
    None,
    /// Loading on the worker.
    Loading,
    /// Loaded and analysing.
    Loaded,
    /// The last load failed; a previously loaded model, if any, is still in use.
    Failed,
}

/// Shared status of a running engine.
#[derive(Debug, Default)]
pub struct EngineStatus {
    state: AtomicU8,
    /// Real-time factor of the last window (inference seconds / window hop seconds), f32 bits.
    rtf: AtomicU32,
    /// Windows skipped because the worker was behind.
    pub windows_dropped: AtomicU64,
    /// Windows analysed.
    pub windows_analysed: AtomicU64,
    /// Windows the speech gate left out for want of speech (not sent to the model).
    pub windows_without_speech: AtomicU64,
    /// The loaded model's declared output range (`min`, `max`), f32 bits; written
    /// by the worker on load, read by meters and the MIDI mapping.
    range: [AtomicU32; 2],
    /// Model id, device and last error.
    texts: Mutex<StatusTexts>,
}

/// The text parts of the status.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct StatusTexts {
    /// Identifier of the model in use.
    pub model_id: String,
    /// Device the model runs on.
    pub device: String,
    /// The last error (load failure, bad host rate, inference error); empty when none.
    pub error: String,
    /// The model's category labels, in the order of its readings'
    /// probabilities (empty for a dimensional model).
    pub categories: Vec<String>,
}

impl EngineStatus {
    /// The model state.
    pub fn state(&self) -> ModelState {
        match self.state.load(Ordering::Relaxed) {
            1 => ModelState::Loading,
            2 => ModelState::Loaded,
            3 => ModelState::Failed,
            _ => ModelState::None,
        }
    }

    pub(crate) fn set_state(&self, s: ModelState) {
        let v = match s {
            ModelState::None => 0,
            ModelState::Loading => 1,
            ModelState::Loaded => 2,
            ModelState::Failed => 3,
        };
        self.state.store(v, Ordering::Relaxed);
    }

    /// Real-time factor of the last analysed window relative to the hop
    /// (below 1: keeping up).
    pub fn real_time_factor(&self) -> f32 {
        f32::from_bits(self.rtf.load(Ordering::Relaxed))
    }

    pub(crate) fn set_real_time_factor(&self, rtf: f32) {
        self.rtf.store(rtf.to_bits(), Ordering::Relaxed);
    }

    /// The loaded model's declared output range; 0..1 before any load.
    pub fn output_range(&self) -> OutputRange {
        let range = OutputRange::new(
            f32::from_bits(self.range[0].load(Ordering::Relaxed)),
            f32::from_bits(self.range[1].load(Ordering::Relaxed)),
        );
        if range.is_increasing() {
            range
        } else {
            OutputRange::UNIT
        }
    }

    pub(crate) fn set_output_range(&self, range: OutputRange) {
        self.range[0].store(range.min.to_bits(), Ordering::Relaxed);
        self.range[1].store(range.max.to_bits(), Ordering::Relaxed);
    }

    /// A copy of the texts (not for the audio thread: takes a lock).
    pub fn texts(&self) -> StatusTexts {
        self.texts.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(crate) fn update_texts(&self, f: impl FnOnce(&mut StatusTexts)) {
        f(&mut self.texts.lock().unwrap_or_else(|e| e.into_inner()));
    }
}
