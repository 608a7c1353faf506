//! What the plugin's main-thread side and the editor share: the running
//! engine, the timeline of earlier activations, the loaded transcript and
//! the words recognised in earlier activations, the
//! playhead the audio thread reports, and the last notices (errors and export
//! results) for the status line.
//!
//! Only the main thread (activate, deactivate, state load) and the editor
//! (GUI thread) take the mutexes here. The audio thread touches nothing in
//! this file but [`Playhead`] (relaxed atomics) and [`PluginShared::tail_samples`].

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, Ordering};
use std::sync::Arc;

use candle_core::Device;
use emoscope::engine::timeline::TimelineEntries;
use emoscope::engine::{
    capture, load_predictor_with, AnalysisConfig, AsrSettings, CaptureInput, Engine, EngineShared,
    Loader, Precision,
};
use emoscope::transcript::Transcript;
use emoscope::{OutputRange, Reading};
use parking_lot::Mutex;

use crate::export::{export_timeline, ExportContext, ExportError};
use crate::params::{EmoscopeParams, TranscriptSettings};
use crate::transcript::load_transcript;

/// Seconds of host audio the capture ring holds: the bound of the queue of
/// audio waiting for analysis when a host renders faster than real time
/// without saying it renders offline (see `emoscope::engine::worker`). Up to
/// this much audio ahead of the analysis is kept; beyond it the audio
/// thread, which must not wait then, drops blocks and counts them
/// (`CaptureStats::samples_dropped`). In live playback the worker never
/// lets more than a window and a hop pile up; offline, the audio thread
/// waits for room instead. 30 s is 5.8 MB of samples at 48 kHz.
pub const MAX_QUEUED_SECONDS: f64 = 30.0;

/// Ring capacity, in mono samples, for [`MAX_QUEUED_SECONDS`] at `sample_rate`.
fn capture_capacity(sample_rate: f32) -> usize {
    (MAX_QUEUED_SECONDS * f64::from(sample_rate)).ceil() as usize
}

/// Where the host transport is, as the audio thread last saw it.
#[derive(Debug, Default)]
pub struct Playhead {
    /// Timeline position at the end of the last block, samples. Written by the audio thread.
    position: AtomicI64,
    /// Host sample rate, f32 bits. Written by the audio thread.
    rate: AtomicU32,
    /// Transport running. Written by the audio thread.
    playing: AtomicBool,
}

impl Playhead {
    /// Records the position after a block. Real-time safe.
    pub fn store(&self, position: i64, rate: f32, playing: bool) {
        self.position.store(position, Ordering::Relaxed);
        self.rate.store(rate.to_bits(), Ordering::Relaxed);
        self.playing.store(playing, Ordering::Relaxed);
    }

    /// Host timeline seconds, if the audio thread has run.
    pub fn seconds(&self) -> Option<f64> {
        let rate = f32::from_bits(self.rate.load(Ordering::Relaxed));
        (rate > 0.0).then(|| self.position.load(Ordering::Relaxed) as f64 / f64::from(rate))
    }

    /// Whether the host transport was running.
    pub fn playing(&self) -> bool {
        self.playing.load(Ordering::Relaxed)
    }
}

/// Outcome of the last export, for the editor.
#[derive(Debug, Clone, PartialEq)]
pub enum ExportNotice {
    /// Written: the path and how many windows.
    Written(PathBuf, usize),
    /// Failed: the message (the timeline is still in memory).
    Failed(String),
}

/// Plugin-side errors and results the status line shows next to the engine's.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Notices {
    /// Why the transcript sidecar was not loaded; empty when it was (or none is set).
    pub transcript_error: String,
    /// The last export.
    pub export: Option<ExportNotice>,
}

/// The engine with the settings it was last given, so that re-applying the
/// persisted settings only sends what changed.
struct Running {
    engine: Engine,
    model_dir: String,
    transcript: Option<TranscriptSettings>,
    config: AnalysisConfig,
    asr: Option<AsrSettings>,
    /// Whether the speech gate is on ("analyse speech only").
    speech_only: bool,
}

/// State shared by the plugin object (main thread) and the editor.
#[derive(Default)]
pub struct PluginShared {
    /// The running engine, between activate and deactivate.
    running: Mutex<Option<Running>>,
    /// Readings and windows without speech of earlier activations (the
    /// engine's timeline starts empty each time), so an export covers the
    /// whole session.
    archive: Mutex<TimelineEntries>,
    /// The loaded transcript sidecar.
    transcript: Mutex<Option<Arc<Transcript>>>,
    /// Words recognised by earlier activations' engines (host timeline
    /// seconds), so the editor and an export cover the whole session.
    recognised: Mutex<Transcript>,
    /// Errors and export results.
    notices: Mutex<Notices>,
    /// Written by the audio thread, read by the editor.
    pub playhead: Playhead,
    /// Samples the host should keep calling `process` after the input goes
    /// quiet so the last window completes (window + hop). Written on the main
    /// thread, read by the audio thread.
    pub tail_samples: AtomicU32,
    /// Host sample rate of the running engine, f32 bits (for the tail length).
    sample_rate: AtomicU32,
    /// The model output range and analysis settings of the last engine that
    /// stopped, so an export after deactivation labels and scales as it ran.
    last_run: Mutex<Option<RunSettings>>,
}

/// What an export needs to know of the engine that made the timeline.
#[derive(Debug, Clone)]
struct RunSettings {
    /// The model's declared output range.
    output_range: OutputRange,
    /// The model's category labels (empty for a dimensional model).
    categories: Vec<String>,
    /// The analysis settings.
    config: AnalysisConfig,
}

impl Default for RunSettings {
    /// Before any engine ran: 0..1 and the default analysis.
    fn default() -> Self {
        Self {
            output_range: OutputRange::UNIT,
            categories: Vec::new(),
            config: AnalysisConfig::default(),
        }
    }
}

impl PluginShared {
    /// Starts the engine (worker thread, model load on it) with the persisted
    /// settings; returns the audio thread's capture end and the engine's
    /// shared readout. Main thread only.
    pub fn start(
        &self,
        params: &EmoscopeParams,
        sample_rate: f32,
    ) -> (CaptureInput, Arc<EngineShared>) {
        self.stop(params);
        let (input, output) = capture(capture_capacity(sample_rate));
        let config = params.analysis.read().to_config();
        // bf16 where the CPU has AVX512-BF16 and the model's manifest
        // records a bf16 check within budget (as the CLI's default): half
        // the CPU time for the installed demo model.
        let loader: Loader =
            Box::new(|dir: &Path| load_predictor_with(dir, &Device::Cpu, Precision::Auto));
        let engine = Engine::spawn(output, loader, None, config.clone());
        let shared = engine.shared().clone();
        *self.running.lock() = Some(Running {
            engine,
            model_dir: String::new(),
            transcript: None,
            config: config.clone(),
            asr: None,
            // The engine starts with every window read.
            speech_only: false,
        });
        self.sample_rate
            .store(sample_rate.to_bits(), Ordering::Relaxed);
        self.set_tail(&config);
        self.apply(params);
        (input, shared)
    }

    fn set_tail(&self, c: &AnalysisConfig) {
        let rate = f32::from_bits(self.sample_rate.load(Ordering::Relaxed));
        let tail = ((c.window_seconds + c.hop_seconds) * f64::from(rate)).ceil();
        self.tail_samples.store(tail as u32, Ordering::Relaxed);
    }

    /// Sends the persisted settings that differ from what the engine has:
    /// model directory, transcript, analysis settings (the speech gate
    /// among them), speech recognition. Called after every
    /// state load ([`crate::restore::RestoringParams`]), on activation and by
    /// the editor after edits. Main / GUI thread only.
    pub fn apply(&self, params: &EmoscopeParams) {
        let mut guard = self.running.lock();
        let model_dir = params.model_dir.read().clone();
        let settings = params.transcript.read().clone();
        let config = params.analysis.read().to_config();
        let speech_only = params.analysis.read().speech_only;
        let mut transcript_changed = false;
        if let Some(r) = guard.as_mut() {
            if r.model_dir != model_dir {
                if !model_dir.trim().is_empty() {
                    r.engine.load_model(PathBuf::from(model_dir.trim()));
                }
                r.model_dir = model_dir;
            }
            if r.config != config {
                r.engine.set_config(config.clone());
                self.set_tail(&config);
                r.config = config;
            }
            if r.speech_only != speech_only {
                r.engine.set_speech_only(speech_only);
                r.speech_only = speech_only;
            }
            transcript_changed = r.transcript.as_ref() != Some(&settings);
            let asr = params.asr.read().to_engine();
            if r.asr.as_ref() != Some(&asr) {
                r.engine.set_asr(asr.clone());
                r.asr = Some(asr);
            }
        }
        drop(guard);
        if transcript_changed || self.running.lock().is_none() {
            self.reload_transcript(&settings);
        }
    }

    /// Reads the transcript sidecar (small, on this thread) and hands it to
    /// the engine; a failure is kept for the status line and clears the text
    /// branch's input rather than keeping a stale transcript.
    fn reload_transcript(&self, settings: &TranscriptSettings) {
        let loaded = if settings.path.trim().is_empty() {
            Ok(None)
        } else {
            load_transcript(
                Path::new(settings.path.trim()),
                settings.offset_seconds,
                settings.strict,
            )
            .map(|t| Some(Arc::new(t)))
        };
        let (transcript, error) = match loaded {
            Ok(t) => (t, String::new()),
            Err(e) => (None, e.to_string()),
        };
        self.notices.lock().transcript_error = error;
        *self.transcript.lock() = transcript.clone();
        if let Some(r) = self.running.lock().as_mut() {
            r.engine.set_transcript(transcript);
            r.transcript = Some(settings.clone());
        }
    }

    /// Stops the engine (joins its worker) and keeps its timeline; exports
    /// if the user asked for export on deactivate. When the host rendered
    /// offline or faster than real time, the join waits for the queued
    /// windows to be analysed first, so the export holds all of them. Main
    /// thread only.
    pub fn stop(&self, params: &EmoscopeParams) {
        // Take it out first so nobody waits on the mutex during the join.
        let running = self.running.lock().take();
        let Some(running) = running else {
            return;
        };
        let engine = running.engine.shared().clone();
        let config = running.config.clone();
        // Joins the worker, which first analyses what is still queued.
        drop(running);
        let entries = engine.timeline.entries();
        let tolerance = config.hop_seconds / 2.0;
        *self.last_run.lock() = Some(RunSettings {
            output_range: engine.status.output_range(),
            categories: engine.status.texts().categories,
            config,
        });
        self.archive.lock().merge(entries, tolerance);
        merge_words(&mut self.recognised.lock(), &engine.recognised.snapshot());
        let export = params.export.read().clone();
        if export.on_deactivate && !export.path.trim().is_empty() {
            // A failure is kept in the notices for the editor; the timeline stays in the archive.
            let _ = self.export(Path::new(export.path.trim()), export.format);
        }
    }

    /// The engine's shared readout, timeline and status, while it runs.
    pub fn engine(&self) -> Option<Arc<EngineShared>> {
        self.running
            .lock()
            .as_ref()
            .map(|r| r.engine.shared().clone())
    }

    /// Every analysed window's reading in the session (earlier activations
    /// and the running engine), sorted by start.
    pub fn timeline(&self) -> Vec<Reading> {
        self.session().readings
    }

    /// The session's readings and the windows the speech gate left out
    /// (earlier activations and the running engine), each sorted by start.
    pub fn session(&self) -> TimelineEntries {
        let mut all = self.archive.lock().clone();
        let running = self.running.lock();
        if let Some(r) = running.as_ref() {
            let current = r.engine.shared().timeline.entries();
            all.merge(current, r.config.hop_seconds / 2.0);
        }
        all
    }

    /// Forgets the session's timeline (the archive and the running engine's).
    pub fn clear_timeline(&self) {
        *self.archive.lock() = TimelineEntries::default();
        *self.recognised.lock() = Transcript::default();
        if let Some(r) = self.running.lock().as_ref() {
            r.engine.shared().timeline.clear();
            r.engine.clear_recognised();
        }
    }

    /// Exports the whole session timeline; returns how many windows were
    /// written. The outcome is also kept for the editor (its message, for
    /// the status line). Never called on the audio thread.
    pub fn export(
        &self,
        path: &Path,
        format: emoscope::export::ExportFormat,
    ) -> Result<usize, ExportError> {
        let run = self.run_settings();
        let transcript = self.transcript();
        let context = ExportContext {
            output_range: run.output_range,
            categories: &run.categories,
            config: &run.config,
            transcript: transcript.as_deref(),
        };
        let result = export_timeline(&self.session(), path, format, &context);
        let notice = match &result {
            Ok(n) => ExportNotice::Written(path.to_owned(), *n),
            Err(e) => ExportNotice::Failed(e.to_string()),
        };
        self.notices.lock().export = Some(notice);
        result
    }

    /// The running engine's model output range and analysis settings, else
    /// the last engine's, else the defaults (0..1, default analysis).
    fn run_settings(&self) -> RunSettings {
        if let Some(r) = self.running.lock().as_ref() {
            let status = &r.engine.shared().status;
            return RunSettings {
                output_range: status.output_range(),
                categories: status.texts().categories,
                config: r.config.clone(),
            };
        }
        self.last_run.lock().clone().unwrap_or_default()
    }

    /// The words in use: the transcript sidecar when one is loaded, else
    /// what speech recognition heard in this session (`None` when nothing).
    pub fn transcript(&self) -> Option<Arc<Transcript>> {
        if let Some(t) = self.transcript.lock().clone() {
            return Some(t);
        }
        let running = self.engine().map(|e| e.recognised.snapshot());
        let archive = self.recognised.lock();
        let heard = match running {
            Some(now) if archive.segments().is_empty() => now,
            Some(now) => {
                let mut all = archive.clone();
                merge_words(&mut all, &now);
                Arc::new(all)
            }
            None => Arc::new(archive.clone()),
        };
        (!heard.segments().is_empty()).then_some(heard)
    }

    /// The loaded transcript sidecar.
    pub fn sidecar(&self) -> Option<Arc<Transcript>> {
        self.transcript.lock().clone()
    }

    /// A copy of the notices.
    pub fn notices(&self) -> Notices {
        self.notices.lock().clone()
    }
}

/// Adds `newer`'s segments to `words`, each replacing what `words` said
/// about its span (a stretch heard again in a later activation).
fn merge_words(words: &mut Transcript, newer: &Transcript) {
    for s in newer.segments() {
        // Both hold validated segments, so this cannot fail.
        let _ = words.replace_between(s.start, s.end, vec![s.clone()]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn playhead_reports_seconds_once_written() {
        let p = Playhead::default();
        assert_eq!(p.seconds(), None);
        p.store(96_000, 48_000.0, true);
        assert_eq!(p.seconds(), Some(2.0));
        assert!(p.playing());
    }
}
