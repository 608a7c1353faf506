//! The background analysis thread.
//!
//! [`Engine::spawn`] starts a thread that owns the [`CaptureOutput`] and the
//! model. It takes audio from the capture ring into the [`Analyser`], runs
//! the model on ready windows, publishes each window's [`Reading`] to the
//! [`EmotionReadout`] and the [`EmotionTimeline`], and takes commands (model
//! swap, transcript, settings) over a channel. [`analyse_offline`](super::offline::analyse_offline)
//! runs the same analyser over a whole signal as fast as the model goes.
//!
//! Which windows get analysed depends on how the host delivers audio:
//!
//! - **Live** (real-time playback): the worker drains the ring and analyses
//!   the newest ready window, skipping and counting older ones when behind
//!   ([`EngineStatus::windows_dropped`]), and discards the oldest audio in the
//!   ring when it holds more than a window plus a hop, so the meters and MIDI
//!   stay current.
//! - **Queued**: when the host renders offline ([`RenderMode::Offline`]), or
//!   delivers audio faster than real time without saying so (the verdict of
//!   `Pace`, below, held until the worker has caught up), every window is
//!   analysed, in order: the worker takes
//!   audio from the ring only as fast as it analyses it, so the ring is the
//!   queue and its capacity the bound (the plugin sizes it in seconds).
//!   Offline (and [`RenderMode::OfflineIfFast`] while fast), the audio thread
//!   waits for room; otherwise audio beyond the bound is dropped by the audio
//!   thread and counted ([`CaptureStats::samples_dropped`]).
//!
//! With "analyse speech only" on ([`Engine::set_speech_only`], off by
//! default), the worker also runs the voice-activity detector over the audio
//! it takes in ([`SpeechGate`]) and sends the model only the windows with
//! enough speech, by the rule of speech-gated offline analysis
//! ([`MIN_SPEECH_IN_WINDOW`](super::MIN_SPEECH_IN_WINDOW)). A window with
//! too little is recorded as one without speech in the timeline
//! ([`EmotionTimeline::insert_no_speech`]) and the readout
//! ([`EmotionReadout::publish_no_speech`]: the last reading is held, nothing
//! stands in for it), and smoothing starts over after it. Queued, a window
//! is judged once the detector's regions over it are final, so the windows
//! left out are those the offline analysis leaves out with the regions of
//! the whole signal; live, as soon as the detector has heard it to its end.
//!
//! When the transcript names its speakers ([`Engine::set_transcript`];
//! [`Transcript::timeline_speaker_turns`]), windows never mix speakers:
//! each speaker turn is windowed on its own (the `turns` module's
//! `HostTurns`, the live counterpart of the offline analysis with speaker
//! turns), every reading names its speaker and flags overlapping speech,
//! and the readout gives the speaker's index
//! ([`Published::speaker`](super::Published::speaker)). A bounce then reads
//! what `emoscope annotate` reads with the same turns.
//!
//! Dropping the [`Engine`] stops the worker; in the queued case it first
//! analyses everything still queued, with the end of the audio treated as
//! in [`analyse_offline`](super::offline::analyse_offline), so the timeline of a bounce is complete when the
//! drop returns.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::analyser::{Analyser, AnalysisConfig, Window};
use super::asr::{
    AsrLink, AsrLoader, AsrSettings, AsrStatus, Chunk, Listener, Recognised, RecognisedTranscript,
    WhisperTranscriber, HISTORY_SECONDS,
};
use super::capture::{BlockInfo, CaptureOutput, CaptureStats, RenderMode, FAST_LEAD, MAX_CHUNK};
use super::gate::SpeechGate;
use super::offline::{analyse, reading};
use super::predictor::{EmotionPredictor, PredictError};
use super::readout::EmotionReadout;
use super::status::{EngineStatus, ModelState};
use super::timeline::EmotionTimeline;
use super::turns::HostTurns;
use crate::reading::{Reading, Span};
use crate::transcript::{SpeakerTurns, Transcript};

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
    /// The speech recogniser's state, counters and latencies.
    pub asr: Arc<AsrStatus>,
    /// What the speech recogniser has heard so far (host timeline seconds).
    pub recognised: RecognisedTranscript,
}

/// Requests to the worker.
enum Command {
    LoadModel(PathBuf),
    SetTranscript(Option<Arc<Transcript>>),
    SetConfig(AnalysisConfig),
    SetAsr(AsrSettings),
    SetSpeechOnly(bool),
    ClearRecognised,
}

/// A running engine: the worker thread and the handles to talk to it.
pub struct Engine {
    commands: Option<Sender<Command>>,
    thread: Option<JoinHandle<()>>,
    shared: Arc<EngineShared>,
}

impl Engine {
    /// Starts the worker. `model` is the directory to load first (if any);
    /// `loader` turns a directory into a predictor (it runs on the worker).
    /// Speech recognition stays off until [`Engine::set_asr`] turns it on;
    /// it then loads Whisper ([`WhisperTranscriber`]).
    pub fn spawn(
        output: CaptureOutput,
        loader: Loader,
        model: Option<PathBuf>,
        config: AnalysisConfig,
    ) -> Self {
        let asr: AsrLoader = Box::new(|s: &AsrSettings| {
            WhisperTranscriber::load(s).map(|t| Box::new(t) as Box<dyn super::asr::Transcribe>)
        });
        Self::spawn_with_asr(output, loader, model, config, asr)
    }

    /// [`Engine::spawn`] with another way to load the speech recogniser.
    pub fn spawn_with_asr(
        mut output: CaptureOutput,
        mut loader: Loader,
        model: Option<PathBuf>,
        config: AnalysisConfig,
        asr_loader: AsrLoader,
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
        // Audio delivered from now on counts towards the pace (not what was
        // pushed before the engine existed).
        let pace = Pace::new(Instant::now(), output.stats());
        let thread = std::thread::Builder::new()
            .name("emoscope-analysis".into())
            .spawn(move || {
                let mut w = Worker {
                    analyser: Analyser::new(config, 16_000),
                    model: None,
                    transcript: None,
                    asr: Listener::new(asr_loader),
                    shared: worker_shared,
                    block: Vec::with_capacity(MAX_CHUNK),
                    pace,
                    queueing: false,
                    dropped: 0,
                    host_rate: AnalysisConfig::MAX_HOST_RATE as f32,
                    speech_only: false,
                    speech: SpeechGate::new(),
                    speaker_turns: None,
                    turns: None,
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

    /// Turns speech recognition on or off, or changes its model or
    /// language. While a transcript file is set ([`Engine::set_transcript`])
    /// the recogniser is not fed: the file's words are used.
    pub fn set_asr(&self, settings: AsrSettings) {
        self.send(Command::SetAsr(settings));
    }

    /// Turns the speech gate on or off ("analyse speech only"; off when the
    /// engine starts): windows with too little speech are not read (see the
    /// module docs). A change ends the current run of audio, as a settings
    /// change does.
    pub fn set_speech_only(&self, on: bool) {
        self.send(Command::SetSpeechOnly(on));
    }

    /// Forgets what the recogniser has heard (a new take, a cleared history).
    pub fn clear_recognised(&self) {
        self.send(Command::ClearRecognised);
    }

    fn send(&self, c: Command) {
        if let Some(tx) = &self.commands {
            let _ = tx.send(c);
        }
    }
}

impl Drop for Engine {
    /// Stops the worker and waits for it. When it was queueing (offline
    /// render, or audio faster than real time) it first analyses everything
    /// still queued, so this may take as long as the model needs for the
    /// queue (bounded by the capture ring's capacity); never call it on the
    /// audio thread.
    fn drop(&mut self) {
        // Closing the channel is the stop signal.
        self.commands = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Worker {
    analyser: Analyser,
    model: Option<Box<dyn EmotionPredictor>>,
    /// The transcript file's words, when one is set.
    transcript: Option<Arc<Transcript>>,
    /// Speech recognition: the recogniser, its words and the windows they may re-score.
    asr: Listener,
    shared: Arc<EngineShared>,
    block: Vec<f32>,
    pace: Pace,
    /// Queueing because of a fast verdict: kept until the worker has caught
    /// up (or the queue overflowed), so a verdict that flips back while a
    /// backlog waits (the host starved of CPU for a moment, say) does not
    /// throw the backlog away.
    queueing: bool,
    /// [`CaptureStats::samples_dropped`] when last looked at.
    dropped: u64,
    /// Sample rate of the last host block taken from the ring (the highest
    /// rate accepted until the first block): what "a window of host audio"
    /// is in samples.
    host_rate: f32,
    /// Whether windows with too little speech are left out.
    speech_only: bool,
    /// The voice-activity detector over the audio taken in (fed while
    /// `speech_only` is on).
    speech: SpeechGate,
    /// The transcript's speaker turns on the host timeline, when it names
    /// speakers.
    speaker_turns: Option<SpeakerTurns>,
    /// Their analysis, which then gives the windows (the analyser above
    /// still hears everything, for the detector and the recogniser).
    turns: Option<HostTurns>,
}

/// Sleep between polls when there is nothing to do.
const IDLE: Duration = Duration::from_millis(5);

/// Tells whether the host delivers audio faster than real time, from the
/// audio delivered ([`CaptureStats::delivered_ns`]) against the wall clock
/// since a mark. Time that says nothing about the host's pace does not
/// count: time in which no audio arrived (a stopped or paused host is not a
/// slow one), time the audio thread spent waiting for the worker
/// ([`CaptureStats::waited_ns`]: an offline host held back to the model's
/// speed is still a fast one), and time the worker spent on a command such
/// as loading a model (it could not look, so what arrived meanwhile counts
/// as arrived at once). So a pause neither starts nor ends a fast render.
///
/// Fast: the audio since the mark leads the wall clock by more than
/// [`Pace::LEAD`] (live playback never gets that far ahead, even with a
/// host's prefetch); or, judged once [`Pace::SPAN`] of audio has arrived,
/// it came more than [`Pace::RATIO`] times faster than real time. Each
/// verdict starts a new mark, so a host that goes back to real time is seen
/// as such after [`Pace::SPAN`] of audio.
struct Pace {
    stats: Arc<CaptureStats>,
    /// Wall time and audio delivered at the mark.
    mark: (Instant, u64),
    /// The same at the last update.
    last: (Instant, u64),
    /// [`CaptureStats::waited_ns`] at the last update.
    last_waited: u64,
    fast: bool,
}

impl Pace {
    /// Lead over the wall clock, seconds, that counts as fast at once.
    const LEAD: f64 = FAST_LEAD;
    /// Audio, seconds, after which the average speed is judged.
    const SPAN: f64 = 2.0;
    /// Average speed above which audio counts as faster than real time.
    const RATIO: f64 = 1.25;

    fn new(now: Instant, stats: &Arc<CaptureStats>) -> Self {
        let delivered = stats
            .delivered_ns
            .load(std::sync::atomic::Ordering::Relaxed);
        Self {
            stats: stats.clone(),
            mark: (now, delivered),
            last: (now, delivered),
            last_waited: stats.waited_ns.load(std::sync::atomic::Ordering::Relaxed),
            fast: false,
        }
    }

    /// Leaves `d` of wall time (just spent on something else) out of the count.
    fn exclude(&mut self, d: Duration) {
        self.mark.0 += d;
        self.last.0 += d;
    }

    /// Updates the verdict and returns it.
    fn update(&mut self, now: Instant) -> bool {
        let delivered = self
            .stats
            .delivered_ns
            .load(std::sync::atomic::Ordering::Relaxed);
        let waited = self
            .stats
            .waited_ns
            .load(std::sync::atomic::Ordering::Relaxed);
        let interval = now.saturating_duration_since(self.last.0);
        let idle = if delivered == self.last.1 {
            // Nothing arrived since the last look.
            interval
        } else {
            // The audio thread waited for us.
            Duration::from_nanos(waited.saturating_sub(self.last_waited)).min(interval)
        };
        self.mark.0 += idle;
        self.last = (now, delivered);
        self.last_waited = waited;
        let audio = delivered.saturating_sub(self.mark.1) as f64 * 1e-9;
        let wall = now.saturating_duration_since(self.mark.0).as_secs_f64();
        if audio - wall > Self::LEAD {
            self.fast = true;
            self.mark = self.last;
        } else if audio >= Self::SPAN {
            self.fast = audio > Self::RATIO * wall;
            self.mark = self.last;
        }
        self.fast
    }
}

impl Worker {
    fn run(&mut self, output: &mut CaptureOutput, loader: &mut Loader, rx: Receiver<Command>) {
        loop {
            match rx.try_recv() {
                Ok(c) => {
                    let t0 = Instant::now();
                    self.command(c, loader);
                    self.pace.exclude(t0.elapsed());
                    continue;
                }
                Err(TryRecvError::Disconnected) => {
                    self.drain(output);
                    return;
                }
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
                            t.categories = model.categories().to_vec();
                            t.error.clear();
                        });
                        status.set_output_range(model.output_range());
                        self.shared
                            .asr
                            .model_reads_text
                            .store(model.reads_text(), std::sync::atomic::Ordering::Relaxed);
                        self.asr.sync(&self.shared);
                        self.analyser.set_model_rate(model.sample_rate());
                        self.model = Some(model);
                        status.set_state(ModelState::Loaded);
                        self.restart_turns();
                    }
                    Err(e) => {
                        status
                            .update_texts(|t| t.error = format!("loading {}: {e}", dir.display()));
                        status.set_state(ModelState::Failed);
                    }
                }
            }
            Command::SetTranscript(t) => {
                if t.is_some() {
                    self.asr.end_run();
                }
                self.speaker_turns = t
                    .as_ref()
                    .map(|t| t.timeline_speaker_turns())
                    .filter(|t| !t.is_empty());
                self.transcript = t;
                self.restart_turns();
            }
            Command::SetConfig(c) => {
                self.analyser.set_config(c);
                self.asr.history.clear();
                self.restart_turns();
            }
            Command::SetAsr(settings) => self.asr.configure(settings, &self.shared),
            Command::SetSpeechOnly(on) => {
                if on != self.speech_only {
                    // The detector must hear each run from its start.
                    self.speech_only = on;
                    self.speech.reset();
                    self.analyser.flush();
                    if let Some(t) = self.turns.as_mut() {
                        t.flush();
                    }
                }
            }
            Command::ClearRecognised => {
                self.asr.recognised = Arc::new(Transcript::default());
                self.shared.recognised.publish(self.asr.recognised.clone());
            }
        }
    }

    /// Starts the speaker turns' analysis afresh (new turns, settings or
    /// model rate); without speaker turns, windows come from the analyser.
    fn restart_turns(&mut self) {
        self.turns = self
            .speaker_turns
            .as_ref()
            .map(|t| HostTurns::new(t, self.analyser.config(), self.analyser.model_rate()));
    }

    /// Windows waiting for the model: the speaker turns' when the
    /// transcript names speakers, else the analyser's.
    fn ready_windows(&self) -> usize {
        match &self.turns {
            Some(t) => t.ready(),
            None => self.analyser.ready(),
        }
    }

    /// The span of the oldest waiting window.
    fn next_window_span(&self) -> Option<Span> {
        match &self.turns {
            Some(t) => t.next_window_span(),
            None => self.analyser.next_window_span(),
        }
    }

    /// Lets the `n` oldest waiting windows go; returns how many.
    fn skip_windows(&mut self, n: usize) -> usize {
        match self.turns.as_mut() {
            Some(t) => t.skip(n),
            None => self.analyser.skip(n),
        }
    }

    /// Takes the oldest waiting window, with its speaker turn when the
    /// transcript names speakers.
    fn pop_window(&mut self) -> Option<(Window, Option<usize>)> {
        match self.turns.as_mut() {
            Some(t) => t.pop_window().map(|(i, w)| (w, Some(i))),
            None => self.analyser.pop_window().map(|w| (w, None)),
        }
    }

    /// Whether every window is to be analysed (see the module docs), after
    /// updating the pace verdict.
    fn queued(&mut self, output: &CaptureOutput) -> bool {
        let fast = self.pace.update(Instant::now());
        output.set_faster_than_real_time(fast);
        let dropped = output
            .stats()
            .samples_dropped
            .load(std::sync::atomic::Ordering::Relaxed);
        let overflowed = std::mem::replace(&mut self.dropped, dropped) != dropped;
        // Caught up: no window ready and less than a hop of host audio waiting.
        let hop = (self.analyser.config().hop_seconds * f64::from(self.host_rate)) as usize;
        let caught_up = !self.window_ready(true) && output.backlog() <= hop;
        self.queueing = fast || (self.queueing && !caught_up && !overflowed);
        self.model.is_some()
            && (self.queueing || output.stats().render_mode() == RenderMode::Offline)
    }

    /// One round: analyse at most one window. Returns whether there was
    /// anything to do.
    fn step(&mut self, output: &mut CaptureOutput) -> bool {
        if self.queued(output) {
            // Completeness first: windows whose words came are scored again
            // before the history lets their audio go.
            while self.rescore_one() {}
            self.step_queued(output)
        } else {
            // Live: when no new window was analysed this round.
            let shared = self.shared.clone();
            let analysed = || {
                shared
                    .status
                    .windows_analysed
                    .load(std::sync::atomic::Ordering::Relaxed)
            };
            let before = analysed();
            let busy = self.step_live(output);
            if analysed() == before {
                self.rescore_one() || busy
            } else {
                busy
            }
        }
    }

    /// Queued: takes audio from the ring only until a window is ready (with
    /// the speech gate on, until the detector's regions over it are final),
    /// and analyses the oldest ready window.
    fn step_queued(&mut self, output: &mut CaptureOutput) -> bool {
        let queued_mode = true;
        self.take_words();
        let mut any = false;
        while !self.window_ready(queued_mode) {
            let Some(info) = output.pop(&mut self.block) else {
                break;
            };
            if AnalysisConfig::accepts_host_rate(info.sample_rate) {
                self.host_rate = info.sample_rate;
            }
            if self.speech_only && self.ready_windows() > 0 && !self.analyser.continues(&info) {
                // The run ends with windows waiting for the detector: its
                // speech is final now, so they are judged before the block
                // ends the run (and drops them).
                self.end_speech_run();
            }
            self.ingest(&info, queued_mode);
            any = true;
        }
        self.report_analyser_error();
        if !self.window_ready(queued_mode) {
            return any;
        }
        match self.pop_window() {
            Some((window, turn)) => {
                self.take_window(window, turn);
                true
            }
            None => any,
        }
    }

    /// Whether the oldest ready window can be taken: with the speech gate
    /// on, once the detector has heard enough past it to judge it (queued:
    /// until its regions over the window are final, as the whole signal's
    /// are; live: to the window's end).
    fn window_ready(&self, queued_mode: bool) -> bool {
        let Some(span) = self.next_window_span() else {
            return false;
        };
        if !self.speech_only {
            return true;
        }
        let settle = if queued_mode {
            self.speech.settling_seconds()
        } else {
            0.0
        };
        self.speech.verdict(span, settle).is_some()
    }

    /// The current run's speech is final (it ended): judges and takes every
    /// window still ready in it.
    fn end_speech_run(&mut self) {
        self.speech.end_run();
        while let Some((window, turn)) = self.pop_window() {
            self.take_window(window, turn);
        }
    }

    /// Analyses `window`, or, with the speech gate on and too little speech
    /// in it, records it as a window without speech (the caller has made
    /// sure the detector can judge it, see [`Self::window_ready`]).
    fn take_window(&mut self, window: Window, turn: Option<usize>) {
        if self.speech_only {
            let span = Span::new(window.start, window.end);
            let read = self.speech.verdict(span, 0.0).unwrap_or(true);
            // No window to come starts before this one (with speaker
            // turns, windows come in the order they complete: keep what
            // the turns still being heard need).
            let before = match &self.turns {
                Some(t) => t.earliest_needed().unwrap_or(span.start).min(span.start),
                None => span.start,
            };
            self.speech.forget_before(before);
            if !read {
                self.no_speech(span, turn);
                return;
            }
        }
        self.analyse_window(window, turn);
    }

    /// Records the window `span` as one without speech: no reading (the
    /// readout holds the last one and says so), a gap in the timeline, and
    /// smoothing starts over after it, as offline.
    fn no_speech(&mut self, span: Span, turn: Option<usize>) {
        if self.model.is_none() {
            return;
        }
        let hop = self.analyser.config().hop_seconds;
        match (turn, self.turns.as_mut()) {
            (Some(i), Some(t)) => t.set_ema(i, None),
            _ => self.analyser.restart_smoothing(),
        }
        self.shared.readout.publish_no_speech(span);
        self.shared.timeline.insert_no_speech(span, hop / 2.0);
        self.shared
            .status
            .windows_without_speech
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Live: drains the ring and analyses the newest ready window.
    fn step_live(&mut self, output: &mut CaptureOutput) -> bool {
        let queued_mode = false;
        self.take_words();
        // Behind by more than a window and a hop of host audio: let the oldest go.
        let cfg = self.analyser.config();
        let keep = ((cfg.window_seconds + cfg.hop_seconds) * f64::from(self.host_rate)) as usize;
        output.discard_backlog(keep);
        let mut any = false;
        // Only what is there now: audio arriving meanwhile waits for the
        // next round, whose pace check may find the host fast (draining
        // while a fast host keeps pushing would take it all in here).
        let mut left = output.backlog();
        while left > 0 {
            let Some(info) = output.pop(&mut self.block) else {
                break;
            };
            left = left.saturating_sub(info.frames as usize);
            if AnalysisConfig::accepts_host_rate(info.sample_rate) {
                self.host_rate = info.sample_rate;
            }
            self.ingest(&info, queued_mode);
            any = true;
        }
        self.report_analyser_error();
        let ready = self.ready_windows();
        if ready == 0 || self.model.is_none() {
            // Without a model, windows pile up; keep only what the next one needs.
            if self.model.is_none() {
                self.skip_windows(ready);
            }
            return any;
        }
        if ready > 1 {
            let skipped = self.skip_windows(ready - 1);
            self.shared
                .status
                .windows_dropped
                .fetch_add(skipped as u64, std::sync::atomic::Ordering::Relaxed);
        }
        if !self.window_ready(queued_mode) {
            // The detector has not heard the newest window to its end yet
            // (the last partial frame): the next round judges it.
            return any;
        }
        match self.pop_window() {
            Some((window, turn)) => {
                self.take_window(window, turn);
                true
            }
            None => any,
        }
    }

    /// On stop: when queueing, analyses everything left in the ring and the
    /// analyser, the end of the audio treated as in [`analyse_offline`]
    /// (the resampler's tail flushed as if silence followed). Live, the
    /// rest is let go as before.
    fn drain(&mut self, output: &mut CaptureOutput) {
        if !self.queued(output) {
            return;
        }
        while self.step_queued(output) {}
        self.analyser.finish();
        self.forward_fresh(true);
        self.report_analyser_error();
        if self.speech_only {
            // The end of the audio ends its speech, as at the end of a file.
            self.speech.end_run();
        }
        if let Some(t) = self.turns.as_mut() {
            t.finish();
        }
        while let Some((window, turn)) = self.pop_window() {
            self.take_window(window, turn);
        }
        // The recogniser hears the rest, and every word it finds re-scores
        // its windows before the drop returns: a bounce's timeline is complete.
        if let Some(link) = self.asr.link.as_mut() {
            link.close();
        }
        while let Some(r) = self.asr.link.as_ref().and_then(AsrLink::recv_until_done) {
            self.words_arrived(r);
        }
        while self.rescore_one() {}
    }

    /// Takes one host block into the analyser and hands the audio it added
    /// to the recogniser (`wait`: for room in its queue, when queueing).
    fn ingest(&mut self, info: &BlockInfo, wait: bool) {
        self.analyser.ingest(info, &self.block);
        self.forward_fresh(wait);
        if let Some(turns) = self.turns.as_mut() {
            turns.ingest(info, &self.block);
            // The turns give the windows; the analyser's own are not read.
            let ready = self.analyser.ready();
            self.analyser.skip(ready);
        }
    }

    /// Hands the analyser's newest audio to the recogniser and keeps it for
    /// re-scoring; a run that ended ends the recogniser's region too.
    fn forward_fresh(&mut self, wait: bool) {
        let run = self.analyser.run_id();
        if run != self.asr.run {
            if self.asr.run.is_some() {
                self.asr.end_run();
            }
            self.asr.run = run;
        }
        let Some(fresh) = self.analyser.fresh() else {
            return;
        };
        if fresh.samples.is_empty() {
            return;
        }
        let rate = self.analyser.model_rate();
        if self.speech_only {
            self.speech.hear(&fresh, rate);
        }
        let keep = self.analyser.config().window_seconds + HISTORY_SECONDS;
        self.asr.history.push(&fresh, rate, keep);
        let reads_text = self.model.as_ref().is_some_and(|m| m.reads_text());
        if self.transcript.is_some() || !reads_text {
            return;
        }
        if let Some(link) = self.asr.link.as_ref().filter(|l| l.listening()) {
            link.send_audio(
                Chunk {
                    run: fresh.run,
                    start: fresh.start,
                    rate,
                    samples: fresh.samples.to_vec(),
                    arrived: Instant::now(),
                },
                wait,
            );
        }
    }

    /// Takes every region's words the recogniser has sent.
    fn take_words(&mut self) {
        while let Some(r) = self.asr.link.as_ref().and_then(AsrLink::try_recv) {
            self.words_arrived(r);
        }
    }

    /// A region's words: into the live transcript (published); the
    /// windows analysed over the region whose text changed are marked for
    /// scoring again ([`Self::rescore_one`], when no new window waits).
    fn words_arrived(&mut self, r: Recognised) {
        let live = Arc::make_mut(&mut self.asr.recognised);
        if let Err(e) = live.replace_between(r.region.start, r.region.end, r.segments) {
            self.shared
                .asr
                .record_error(format!("recognised words out of order: {e}"));
            return;
        }
        self.shared.recognised.publish(self.asr.recognised.clone());
        let mut stale = 0;
        if self.transcript.is_none() && self.model.is_some() {
            let Listener {
                history,
                recognised,
                ..
            } = &mut self.asr;
            for a in history.windows.iter_mut() {
                if a.span.overlap(r.region) > 0.0
                    && recognised.text_between(a.span.start, a.span.end) != a.text
                {
                    a.stale = Some(a.stale.map_or(r.ended_at, |t| t.min(r.ended_at)));
                    stale += 1;
                }
            }
        }
        if stale == 0 {
            // No window waits for these words: they are in the timeline now.
            self.shared
                .asr
                .record_latency(r.ended_at.elapsed().as_secs_f64());
        }
    }

    /// Scores again the oldest window whose words changed after it was
    /// analysed, and replaces its reading in the timeline; returns whether
    /// there was one. Each such window's latency (from its region's end
    /// reaching the engine to its words in the timeline) is recorded.
    fn rescore_one(&mut self) -> bool {
        let Some(model) = self.model.as_deref_mut() else {
            return false;
        };
        let hop = self.analyser.config().hop_seconds;
        let rate = self.analyser.model_rate();
        let Listener {
            history,
            recognised,
            ..
        } = &mut self.asr;
        let Some(i) = history.windows.iter().position(|a| a.stale.is_some()) else {
            return false;
        };
        let a = &history.windows[i];
        let text = recognised.text_between(a.span.start, a.span.end);
        let samples = history.samples(a, rate);
        let a = &mut history.windows[i];
        let ended_at = a.stale.take();
        let Some(samples) = samples.filter(|_| text != a.text) else {
            return true;
        };
        let raw = match model.predict(&samples, &text) {
            Ok(raw) => raw,
            Err(e) => {
                self.shared
                    .status
                    .update_texts(|t| t.error = format!("analysis failed: {e}"));
                return true;
            }
        };
        let emotion = self.analyser.smooth_from(a.before, raw);
        a.text.clone_from(&text);
        self.shared.timeline.insert(
            Reading {
                span: a.span,
                emotion,
                text,
                model_id: model.id().to_owned(),
                out_of_range: !model.output_range().covers(&emotion),
                ..Reading::default()
            },
            hop / 2.0,
        );
        let asr = &self.shared.asr;
        asr.windows_rescored
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = ended_at {
            asr.record_latency(t.elapsed().as_secs_f64());
        }
        true
    }

    fn report_analyser_error(&mut self) {
        let turns = self.turns.as_mut().and_then(HostTurns::take_error);
        if let Some(e) = self.analyser.take_error().or(turns) {
            self.shared.status.update_texts(|t| t.error = e.to_string());
        }
    }

    /// Runs the model on `window` and publishes the result.
    fn analyse_window(&mut self, window: Window, turn: Option<usize>) {
        if let (Some(i), Some(_)) = (turn, &self.turns) {
            self.analyse_turn_window(window, i);
            return;
        }
        let Some(model) = self.model.as_deref_mut() else {
            return;
        };
        let t0 = Instant::now();
        let before = self.analyser.smoothing_state();
        let transcript = match &self.transcript {
            Some(t) => Some(&**t),
            None => Some(&*self.asr.recognised),
        };
        match analyse(&mut self.analyser, model, transcript, window) {
            Ok(r) => {
                if let Some(run) = self.analyser.run_id() {
                    self.asr
                        .history
                        .analysed(run, r.reading.span, before, r.reading.text.clone());
                }
                self.publish(r.reading, None, t0);
            }
            Err(e) => self
                .shared
                .status
                .update_texts(|t| t.error = format!("analysis failed: {e}")),
        }
    }

    /// Runs the model on `window` of speaker turn `i` and publishes the
    /// result as the offline analysis makes it: the words of the turn's
    /// speaker (and of segments naming no one), smoothing within the turn,
    /// the speaker named and overlapping speech flagged.
    fn analyse_turn_window(&mut self, window: Window, i: usize) {
        let (Some(model), Some(turns)) = (self.model.as_deref_mut(), self.turns.as_mut()) else {
            return;
        };
        let t0 = Instant::now();
        let speaker = turns.turn(i).speaker.clone();
        let text = self
            .transcript
            .as_ref()
            .map(|t| t.speaker_text_between(&speaker, window.start, window.end))
            .unwrap_or_default();
        match model.predict(&window.samples, &text) {
            Ok(raw) => {
                let emotion = self.analyser.smooth_from(turns.ema(i), raw);
                turns.set_ema(i, Some(emotion));
                let mut r = reading(model, &window, text, emotion);
                r.overlap = turns.overlaps(i, r.span);
                r.speaker = Some(speaker);
                let index = turns.speaker_index(i);
                self.publish(r, Some(index), t0);
            }
            Err(e) => self
                .shared
                .status
                .update_texts(|t| t.error = format!("analysis failed: {e}")),
        }
    }

    /// Publishes a window's reading (of the speaker with that index) begun
    /// at `t0`: readout, timeline and counters.
    fn publish(&self, reading: Reading, speaker: Option<u32>, t0: Instant) {
        let hop = self.analyser.config().hop_seconds;
        self.shared.readout.publish(&reading, speaker);
        self.shared.timeline.insert(reading, hop / 2.0);
        let status = &self.shared.status;
        status.set_real_time_factor((t0.elapsed().as_secs_f64() / hop) as f32);
        status
            .windows_analysed
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;

    /// Feeds `pace` `seconds` of wall time in 10 ms steps, with audio
    /// arriving at `speed` times real time; returns the verdicts.
    fn feed(pace: &mut Pace, now: &mut Instant, seconds: f64, speed: f64) -> Vec<bool> {
        let step = Duration::from_millis(10);
        let mut out = Vec::new();
        for _ in 0..(seconds / 0.01).round() as usize {
            *now += step;
            let ns = (speed * 1e7) as u64;
            pace.stats.delivered_ns.fetch_add(ns, Ordering::Relaxed);
            out.push(pace.update(*now));
        }
        out
    }

    #[test]
    fn pace_tells_a_fast_render_from_real_time_playback() {
        let stats = Arc::new(CaptureStats::default());
        let mut now = Instant::now();
        let mut pace = Pace::new(now, &stats);
        // Real time, and a host that prefetches, 20 % fast for a while: never fast.
        assert!(!feed(&mut pace, &mut now, 10.0, 1.0).contains(&true));
        assert!(!feed(&mut pace, &mut now, 10.0, 1.2).contains(&true));
        // Ten times real time: fast once the audio leads by a second
        // (within 0.12 s of wall time).
        let v = feed(&mut pace, &mut now, 1.0, 10.0);
        assert!(v[12..].iter().all(|&f| f), "{v:?}");
        // A pause (nothing arrives) does not end it.
        now += Duration::from_secs(30);
        assert!(pace.update(now));
        // Back to real time: judged once 2 s of audio have come since the
        // last mark (which may hold up to a second of the fast part, so it
        // can take two spans).
        let v = feed(&mut pace, &mut now, 5.0, 1.0);
        assert!(
            v[..90].iter().all(|&f| f) && !v[400..].contains(&true),
            "{v:?}"
        );
    }

    #[test]
    fn time_spent_loading_or_holding_the_host_back_does_not_count() {
        let stats = Arc::new(CaptureStats::default());
        let mut now = Instant::now();
        let mut pace = Pace::new(now, &stats);
        // 7 s of audio arrive while the worker loads a model for 10 s.
        stats.delivered_ns.store(7_000_000_000, Ordering::Relaxed);
        now += Duration::from_secs(10);
        pace.exclude(Duration::from_secs(10));
        assert!(pace.update(now));
        // Offline, held back to half real time by the worker: the audio
        // thread waited 80 % of the time, so the host itself runs at 2.5x.
        for _ in 0..500 {
            now += Duration::from_millis(10);
            stats.delivered_ns.fetch_add(5_000_000, Ordering::Relaxed);
            stats.waited_ns.fetch_add(8_000_000, Ordering::Relaxed);
            assert!(pace.update(now));
        }
    }

    /// Live playback 20 s behind at 48 kHz: the worker lets all but a
    /// window and a hop (4 s + 1 s by default) of the host's audio go,
    /// measured at the host's own rate (not at the highest rate accepted,
    /// which at 384 kHz would keep 40 s and never catch up).
    #[test]
    fn live_playback_keeps_a_window_and_a_hop_of_host_audio() {
        let rate = 48_000.0_f32;
        let (mut input, mut output) = crate::engine::capture::capture((25.0 * rate) as usize);
        let block = vec![0.1_f32; 480];
        let blocks = (20.0 * rate) as usize / block.len();
        for i in 0..blocks {
            input.push(&[&block[..]], (i * block.len()) as i64, rate, true);
        }
        let stats = output.stats().clone();
        let mut w = Worker {
            analyser: Analyser::new(AnalysisConfig::default(), 16_000),
            model: None,
            transcript: None,
            asr: Listener::new(Box::new(|_| Err("no recogniser in this test".into()))),
            shared: Arc::new(EngineShared::default()),
            block: Vec::with_capacity(MAX_CHUNK),
            pace: Pace::new(Instant::now(), &stats),
            queueing: false,
            dropped: 0,
            host_rate: AnalysisConfig::MAX_HOST_RATE as f32,
            speech_only: false,
            speech: SpeechGate::new(),
            speaker_turns: None,
            turns: None,
        };
        // The first round learns the rate from the blocks it takes.
        w.step_live(&mut output);
        for i in blocks..2 * blocks {
            input.push(&[&block[..]], (i * block.len()) as i64, rate, true);
        }
        let before = stats.samples_discarded.load(Ordering::Relaxed);
        w.step_live(&mut output);
        let discarded = stats.samples_discarded.load(Ordering::Relaxed) - before;
        let cfg = AnalysisConfig::default();
        let keep = ((cfg.window_seconds + cfg.hop_seconds) * f64::from(rate)) as u64;
        assert_eq!(discarded, (blocks * block.len()) as u64 - keep);
    }
}
