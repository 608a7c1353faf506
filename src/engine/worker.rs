//! The background analysis thread and the offline driver.
//!
//! [`Engine::spawn`] starts a thread that owns the [`CaptureOutput`] and the
//! model. It drains the capture ring into the [`Analyzer`], analyses the
//! newest ready window (skipping and counting older ones when behind, and
//! discarding the oldest audio in the ring when it holds more than a window
//! plus a hop), publishes each result to the [`EmotionReadout`] and the
//! [`EmotionTimeline`], and takes commands (model swap, transcript, settings)
//! over a channel. [`analyze_offline`] runs the same analyzer over a whole
//! signal as fast as the model goes.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::analyzer::{AnalysisConfig, Analyzer, Window};
use super::capture::{BlockInfo, CaptureOutput, CaptureStats, MAX_CHUNK};
use super::predictor::{Avd, EmotionPredictor, PredictError};
use super::readout::EmotionReadout;
use super::status::{EngineStatus, ModelState};
use super::timeline::{EmotionTimeline, TimelineEntry};
use crate::transcript::Transcript;

/// Builds a predictor from a model directory (on the worker thread).
pub type Loader = Box<dyn FnMut(&Path) -> Result<Box<dyn EmotionPredictor>, PredictError> + Send>;

/// What the worker publishes, shared with every reader.
#[derive(Debug, Default)]
pub struct EngineShared {
    /// Latest reading, lock-free.
    pub readout: EmotionReadout,
    /// Every analysed window.
    pub timeline: EmotionTimeline,
    /// Model state, device, real-time factor, dropped windows.
    pub status: EngineStatus,
    /// The capture path's counters (samples dropped or discarded, NaN/Inf replaced),
    /// so the status line can show them next to the worker's.
    pub capture: Arc<CaptureStats>,
}

/// Requests to the worker.
enum Command {
    LoadModel(PathBuf),
    SetTranscript(Option<Arc<Transcript>>),
    SetConfig(AnalysisConfig),
}

/// A running engine: the worker thread and the handles to talk to it.
pub struct Engine {
    commands: Option<Sender<Command>>,
    thread: Option<JoinHandle<()>>,
    shared: Arc<EngineShared>,
}

/// One analysed window, as the offline driver returns it.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowResult {
    /// Start, timeline seconds.
    pub start: f64,
    /// End, timeline seconds.
    pub end: f64,
    /// The model's output.
    pub raw: Avd,
    /// After smoothing (equal to `raw` when smoothing is off).
    pub smoothed: Avd,
    /// Transcript text used.
    pub text: String,
}

/// Runs the model on one window and returns the result (shared by the worker and offline mode).
fn analyse(
    analyzer: &mut Analyzer,
    model: &mut dyn EmotionPredictor,
    transcript: Option<&Transcript>,
    w: Window,
) -> Result<WindowResult, PredictError> {
    let text = transcript
        .map(|t| t.text_between(w.start, w.end))
        .unwrap_or_default();
    let raw = model.predict(&w.samples, &text)?;
    let smoothed = analyzer.smooth(raw);
    Ok(WindowResult {
        start: w.start,
        end: w.end,
        raw,
        smoothed,
        text,
    })
}

/// Analyses `samples` (mono, `rate` Hz, starting at timeline position 0)
/// with the same windowing as the live engine, without skipping anything;
/// the end of the signal counts as followed by silence. A signal shorter
/// than one window is analysed whole, as one window.
pub fn analyze_offline(
    samples: &[f32],
    rate: f32,
    model: &mut dyn EmotionPredictor,
    config: &AnalysisConfig,
    transcript: Option<&Transcript>,
) -> Result<Vec<WindowResult>, PredictError> {
    let mut analyzer = Analyzer::new(config.clone(), model.sample_rate());
    let mut results = Vec::new();
    for (i, chunk) in samples.chunks(MAX_CHUNK).enumerate() {
        let info = BlockInfo {
            position: (i * MAX_CHUNK) as i64,
            frames: chunk.len() as u32,
            sample_rate: rate,
            playing: true,
            discontinuity: false,
        };
        analyzer.ingest(&info, chunk);
        while let Some(w) = analyzer.pop_window() {
            results.push(analyse(&mut analyzer, model, transcript, w)?);
        }
    }
    analyzer.finish();
    while let Some(w) = analyzer.pop_window() {
        results.push(analyse(&mut analyzer, model, transcript, w)?);
    }
    if results.is_empty() {
        if let Some(w) = analyzer.pop_short_run() {
            results.push(analyse(&mut analyzer, model, transcript, w)?);
        }
    }
    Ok(results)
}

impl Engine {
    /// Starts the worker. `model` is the directory to load first (if any);
    /// `loader` turns a directory into a predictor (it runs on the worker).
    pub fn spawn(
        mut output: CaptureOutput,
        mut loader: Loader,
        model: Option<PathBuf>,
        config: AnalysisConfig,
    ) -> Self {
        let shared = Arc::new(EngineShared {
            capture: output.stats().clone(),
            ..EngineShared::default()
        });
        let (tx, rx) = mpsc::channel();
        if let Some(dir) = model {
            let _ = tx.send(Command::LoadModel(dir));
        }
        let worker_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name("emoscope-analysis".into())
            .spawn(move || {
                let mut w = Worker {
                    analyzer: Analyzer::new(config, 16_000),
                    model: None,
                    transcript: None,
                    shared: worker_shared,
                    block: Vec::with_capacity(MAX_CHUNK),
                };
                w.run(&mut output, &mut loader, rx);
            })
            .expect("spawning the analysis thread");
        Self {
            commands: Some(tx),
            thread: Some(thread),
            shared,
        }
    }

    /// Readout, timeline and status.
    pub fn shared(&self) -> &Arc<EngineShared> {
        &self.shared
    }

    /// Loads another model on the worker; the current one keeps running
    /// until the new one is ready, and stays if the load fails.
    pub fn load_model(&self, dir: PathBuf) {
        self.send(Command::LoadModel(dir));
    }

    /// Sets (or clears) the transcript used for the text branch.
    pub fn set_transcript(&self, transcript: Option<Arc<Transcript>>) {
        self.send(Command::SetTranscript(transcript));
    }

    /// Changes window, hop, smoothing or transport settings.
    pub fn set_config(&self, config: AnalysisConfig) {
        self.send(Command::SetConfig(config));
    }

    fn send(&self, c: Command) {
        if let Some(tx) = &self.commands {
            let _ = tx.send(c);
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        // Closing the channel is the stop signal.
        self.commands = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Worker {
    analyzer: Analyzer,
    model: Option<Box<dyn EmotionPredictor>>,
    transcript: Option<Arc<Transcript>>,
    shared: Arc<EngineShared>,
    block: Vec<f32>,
}

/// Sleep between polls when there is nothing to do.
const IDLE: Duration = Duration::from_millis(5);

impl Worker {
    fn run(&mut self, output: &mut CaptureOutput, loader: &mut Loader, rx: Receiver<Command>) {
        loop {
            match rx.try_recv() {
                Ok(c) => {
                    self.command(c, loader);
                    continue;
                }
                Err(TryRecvError::Disconnected) => return,
                Err(TryRecvError::Empty) => {}
            }
            let busy = self.step(output);
            if !busy {
                std::thread::sleep(IDLE);
            }
        }
    }

    fn command(&mut self, c: Command, loader: &mut Loader) {
        let status = &self.shared.status;
        match c {
            Command::LoadModel(dir) => {
                status.set_state(ModelState::Loading);
                match loader(&dir) {
                    Ok(model) => {
                        status.update_texts(|t| {
                            t.model_id = model.id().to_owned();
                            t.device = model.device();
                            t.error.clear();
                        });
                        status.set_output_range(model.output_range());
                        self.analyzer.set_model_rate(model.sample_rate());
                        self.model = Some(model);
                        status.set_state(ModelState::Loaded);
                    }
                    Err(e) => {
                        status
                            .update_texts(|t| t.error = format!("loading {}: {e}", dir.display()));
                        status.set_state(ModelState::Failed);
                    }
                }
            }
            Command::SetTranscript(t) => self.transcript = t,
            Command::SetConfig(c) => self.analyzer.set_config(c),
        }
    }

    /// One round: drain the ring, analyse at most one window. Returns whether
    /// there was anything to do.
    fn step(&mut self, output: &mut CaptureOutput) -> bool {
        // Behind by more than a window and a hop of host audio (at the
        // highest rate we accept): let the oldest go.
        let cfg = self.analyzer.config();
        let keep = ((cfg.window_seconds + cfg.hop_seconds) * 192_000.0) as usize;
        output.discard_backlog(keep);
        let mut any = false;
        while let Some(info) = output.pop(&mut self.block) {
            self.analyzer.ingest(&info, &self.block);
            any = true;
        }
        if let Some(e) = self.analyzer.take_error() {
            self.shared.status.update_texts(|t| t.error = e);
        }
        let ready = self.analyzer.ready();
        if ready == 0 || self.model.is_none() {
            // Without a model, windows pile up; keep only what the next one needs.
            if self.model.is_none() {
                self.analyzer.skip(ready);
            }
            return any;
        }
        if ready > 1 {
            let skipped = self.analyzer.skip(ready - 1);
            self.shared
                .status
                .windows_dropped
                .fetch_add(skipped as u64, std::sync::atomic::Ordering::Relaxed);
        }
        let Some(window) = self.analyzer.pop_window() else {
            return any;
        };
        let Some(model) = self.model.as_deref_mut() else {
            return any;
        };
        let hop = self.analyzer.config().hop_seconds;
        let t0 = Instant::now();
        match analyse(
            &mut self.analyzer,
            model,
            self.transcript.as_deref(),
            window,
        ) {
            Ok(r) => {
                let s = r.smoothed;
                self.shared
                    .readout
                    .publish(s.arousal, s.valence, s.dominance, r.start, r.end);
                self.shared.timeline.insert(
                    TimelineEntry {
                        start: r.start,
                        end: r.end,
                        arousal: s.arousal,
                        valence: s.valence,
                        dominance: s.dominance,
                        text: r.text,
                        model_id: model.id().to_owned(),
                    },
                    hop / 2.0,
                );
                let status = &self.shared.status;
                status.set_real_time_factor((t0.elapsed().as_secs_f64() / hop) as f32);
                status
                    .windows_analysed
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            Err(e) => self
                .shared
                .status
                .update_texts(|t| t.error = format!("analysis failed: {e}")),
        }
        true
    }
}
