//! Speech recognition beside the emotion worker: transcripts for the text
//! branch when no transcript file is set.
//!
//! The emotion worker hands every stretch of model-rate audio it takes in
//! ([`Analyser::fresh`](super::analyser::Analyser::fresh)) to a second
//! thread, the recogniser, over a channel bounded in seconds of audio
//! ([`MAX_QUEUED_SECONDS`]). Live, audio that finds the queue full is
//! dropped and counted ([`AsrStatus::samples_dropped`]), so the emotion
//! worker never waits for speech recognition; when it is queueing (an
//! offline bounce) it waits for room instead, so every word of a bounce is
//! heard. The recogniser finds speech with the voice-activity detector
//! ([`SpeechDetector`]), cuts each region when the pause after it is long
//! enough or when it reaches [`MAX_REGION_SECONDS`], transcribes it with
//! Whisper ([`emoscope_models::whisper`]) and sends the segments, with word
//! times on the host timeline, back to the emotion worker
//! ([`Recognised`]). There they replace what the live transcript said about
//! the region ([`Transcript::replace_between`]), the windows already
//! analysed over it are scored again with their words, and the transcript
//! is published for the editor and the exports
//! ([`EngineShared::recognised`](super::EngineShared::recognised)).
//!
//! ```text
//! emotion worker --(Feed: audio, settings, end of run)--> recogniser
//!                <--(Recognised: region + segments)------
//! ```

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use emoscope_models::whisper::{self, TranscribeOptions, Whisper};

use crate::audio::vad::{SpeechDetector, VadConfig};
use crate::audio::StreamResampler;
use crate::reading::Span;
use crate::transcript::{Segment, Transcript};

/// Whisper's sample rate.
pub const ASR_RATE: u32 = 16_000;
/// Longest region handed to Whisper, seconds: speech that goes on longer
/// is cut there, so its words arrive with a bounded delay.
pub const MAX_REGION_SECONDS: f64 = 10.0;
/// Audio added before and after a region, seconds, so Whisper hears the
/// onset of the first word and the release of the last.
pub const REGION_PAD_SECONDS: f64 = 0.2;
/// Most audio waiting for the recogniser, seconds.
pub const MAX_QUEUED_SECONDS: f64 = 20.0;
/// Latencies kept for [`AsrStatus::latencies`].
const LATENCIES_KEPT: usize = 1024;

/// What the user chose for speech recognition.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AsrSettings {
    /// Recognise speech (when no transcript file is set).
    pub enabled: bool,
    /// Whisper model folder (Hugging Face or CTranslate2 layout).
    pub model_dir: Option<PathBuf>,
    /// Spoken language code for multilingual models (`None`: English).
    pub language: Option<String>,
}

/// Where the recogniser is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsrState {
    /// Off, or no model chosen.
    Off,
    /// Loading the model.
    Loading,
    /// Listening.
    Ready,
    /// The model could not be loaded (see [`AsrStatus::error`]); the
    /// emotion analysis goes on without words.
    Failed,
}

/// Shared status of the recogniser, for the editor's status line and the
/// tests. Written by the recogniser and the emotion worker; the counters are
/// relaxed atomics, the rest sits behind a mutex only non-real-time threads take.
#[derive(Debug, Default)]
pub struct AsrStatus {
    state: AtomicU8,
    /// Regions transcribed.
    pub regions: AtomicU64,
    /// Model-rate samples dropped because the recogniser was behind (live only).
    pub samples_dropped: AtomicU64,
    /// Windows scored again when their words arrived.
    pub windows_rescored: AtomicU64,
    /// Whether the emotion model in use reads words; written by the emotion
    /// worker on each load. When it does not, the recogniser is not fed.
    pub model_reads_text: AtomicBool,
    texts: Mutex<AsrTexts>,
}

/// The text parts of [`AsrStatus`].
#[derive(Debug, Default, Clone, PartialEq)]
pub struct AsrTexts {
    /// The model folder in use.
    pub model: String,
    /// The last error (load failure, failed region); empty when none.
    pub error: String,
    /// Seconds from the end of a region's audio reaching the engine to its
    /// words reaching the timeline: for each window scored again with them,
    /// and for each region whose words changed no window; the latest
    /// [`LATENCIES_KEPT`], oldest first.
    pub latencies: Vec<f64>,
}

impl AsrStatus {
    /// The recogniser's state.
    pub fn state(&self) -> AsrState {
        match self.state.load(Ordering::Relaxed) {
            1 => AsrState::Loading,
            2 => AsrState::Ready,
            3 => AsrState::Failed,
            _ => AsrState::Off,
        }
    }

    fn set_state(&self, s: AsrState) {
        let v = match s {
            AsrState::Off => 0,
            AsrState::Loading => 1,
            AsrState::Ready => 2,
            AsrState::Failed => 3,
        };
        self.state.store(v, Ordering::Relaxed);
    }

    /// A copy of the texts (takes a lock: not for the audio thread).
    pub fn texts(&self) -> AsrTexts {
        self.texts.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn update_texts(&self, f: impl FnOnce(&mut AsrTexts)) {
        f(&mut self.texts.lock().unwrap_or_else(|e| e.into_inner()));
    }

    /// Records an error for the status line.
    pub(crate) fn record_error(&self, message: String) {
        self.update_texts(|t| t.error = message);
    }

    /// Records one region's latency.
    pub(crate) fn record_latency(&self, seconds: f64) {
        self.update_texts(|t| {
            if t.latencies.len() == LATENCIES_KEPT {
                t.latencies.remove(0);
            }
            t.latencies.push(seconds);
        });
    }
}

/// The live transcript, as the recogniser has heard the session so far.
/// Written by the emotion worker, read by the editor and the exports.
#[derive(Debug, Default)]
pub struct RecognisedTranscript {
    current: Mutex<Arc<Transcript>>,
}

impl RecognisedTranscript {
    /// The transcript now (a cheap copy of a shared pointer).
    pub fn snapshot(&self) -> Arc<Transcript> {
        self.current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(crate) fn publish(&self, t: Arc<Transcript>) {
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = t;
    }
}

/// One transcribed region, as the recogniser sends it back.
#[derive(Debug, Clone, PartialEq)]
pub struct Recognised {
    /// The region, host timeline seconds (padding included).
    pub region: Span,
    /// What was said there, host timeline seconds (empty: nothing).
    pub segments: Vec<Segment>,
    /// When the end of the region's audio reached the engine.
    pub ended_at: Instant,
}

/// Audio of one run, as the emotion worker forwards it.
#[derive(Debug)]
pub(crate) struct Chunk {
    /// The analyser's run: a new value is a discontinuity.
    pub run: u64,
    /// Host timeline seconds of the first sample.
    pub start: f64,
    /// Sample rate.
    pub rate: u32,
    pub samples: Vec<f32>,
    /// When the worker took it in.
    pub arrived: Instant,
}

enum Feed {
    Settings(AsrSettings),
    Audio(Chunk),
    EndOfRun,
}

/// Turns a Whisper model folder into a transcriber (on the recogniser's thread).
pub type AsrLoader =
    Box<dyn FnMut(&AsrSettings) -> Result<Box<dyn Transcribe>, String> + Send + 'static>;

/// Speech to segments: Whisper, for the recogniser.
pub trait Transcribe: Send {
    /// The segments of `samples` (mono, [`ASR_RATE`]), seconds from the first sample.
    fn transcribe(&mut self, samples: &[f32]) -> Result<Vec<Segment>, String>;
}

/// Whisper with word timestamps, openai-whisper's decoding, each region on
/// its own (no previous text: regions are separate utterances).
pub struct WhisperTranscriber {
    whisper: Whisper,
    options: TranscribeOptions,
}

impl WhisperTranscriber {
    /// Loads the model folder of `settings` on the CPU.
    pub fn load(settings: &AsrSettings) -> Result<Self, String> {
        let dir = settings
            .model_dir
            .clone()
            .unwrap_or_else(crate::paths::default_asr_dir);
        Self::load_dir(&dir, settings.language.as_deref())
    }

    /// Loads `dir` on the CPU, for `language` (multilingual models; English when `None`).
    pub fn load_dir(dir: &Path, language: Option<&str>) -> Result<Self, String> {
        if !dir.is_dir() {
            return Err(format!(
                "{}: no such folder (`bash scripts/setup.sh` installs Whisper tiny.en as the default)",
                dir.display()
            ));
        }
        let whisper = Whisper::load(dir, &candle_core::Device::Cpu)
            .map_err(|e| format!("{}: {e}", dir.display()))?;
        let english_only = !whisper.model().config().is_multilingual();
        let language = language.unwrap_or("en").to_owned();
        if english_only && language != "en" {
            return Err(format!(
                "{} is an English-only model; it cannot transcribe `{language}`",
                dir.display()
            ));
        }
        Ok(Self {
            whisper,
            options: TranscribeOptions {
                language,
                word_timestamps: true,
                condition_on_previous_text: false,
                ..TranscribeOptions::default()
            },
        })
    }
}

impl Transcribe for WhisperTranscriber {
    fn transcribe(&mut self, samples: &[f32]) -> Result<Vec<Segment>, String> {
        let t = self
            .whisper
            .transcribe(samples, &self.options)
            .map_err(|e| e.to_string())?;
        Ok(segments_of(&t))
    }
}

/// The runtime's segments of a Whisper transcript: text and words with
/// their whitespace collapsed, as the whisper JSON reader gives them back
/// from a file `emoscope transcribe` wrote.
pub fn segments_of(t: &whisper::Transcript) -> Vec<Segment> {
    let collapse = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    t.segments
        .iter()
        .filter_map(|s| {
            let text = collapse(&s.text);
            let words = crate::transcript::whisper::join_pieces(
                s.words
                    .iter()
                    .map(|w| (w.word.as_str(), w.start, w.end.max(w.start))),
            );
            (!text.is_empty()).then_some(Segment {
                start: s.start,
                end: s.end.max(s.start),
                text,
                words,
                ..Default::default()
            })
        })
        .collect()
}

/// The emotion worker's end of the recogniser: the channel, the thread and
/// what comes back.
pub(crate) struct AsrLink {
    feed: Option<Sender<Feed>>,
    results: Receiver<Recognised>,
    /// Samples sent and not yet taken by the recogniser.
    queued: Arc<AtomicUsize>,
    thread: Option<JoinHandle<()>>,
    status: Arc<AsrStatus>,
    /// The settings last sent.
    pub settings: AsrSettings,
}

impl AsrLink {
    /// Starts the recogniser thread.
    pub fn spawn(loader: AsrLoader, status: Arc<AsrStatus>) -> Self {
        let (feed_tx, feed_rx) = mpsc::channel();
        let (result_tx, result_rx) = mpsc::channel();
        let queued = Arc::new(AtomicUsize::new(0));
        let mut recogniser = Recogniser {
            loader,
            model: None,
            segmenter: None,
            results: result_tx,
            queued: queued.clone(),
            status: status.clone(),
        };
        let thread = std::thread::Builder::new()
            .name("emoscope-asr".into())
            .spawn(move || recogniser.run(feed_rx))
            .expect("spawning the speech-recognition thread");
        Self {
            feed: Some(feed_tx),
            results: result_rx,
            queued,
            thread: Some(thread),
            status,
            settings: AsrSettings::default(),
        }
    }

    /// Sends new settings (loads, swaps or drops the model on the recogniser).
    pub fn configure(&mut self, settings: AsrSettings) {
        if settings == self.settings && self.status.state() != AsrState::Failed {
            return;
        }
        self.settings = settings.clone();
        // Set here, not only on the recogniser, so audio sent from now on is
        // taken while the model loads.
        self.status.set_state(if settings.enabled {
            AsrState::Loading
        } else {
            AsrState::Off
        });
        if let Some(tx) = &self.feed {
            let _ = tx.send(Feed::Settings(settings));
        }
    }

    /// Whether audio is wanted: on, with a model loading or loaded.
    pub fn listening(&self) -> bool {
        self.settings.enabled && matches!(self.status.state(), AsrState::Loading | AsrState::Ready)
    }

    /// Hands audio over. `wait`: block until the queue has room (offline);
    /// otherwise audio that does not fit is dropped and counted.
    pub fn send_audio(&self, chunk: Chunk, wait: bool) {
        let Some(tx) = &self.feed else { return };
        let max = (MAX_QUEUED_SECONDS * f64::from(chunk.rate)) as usize;
        let n = chunk.samples.len();
        if wait {
            while self.queued.load(Ordering::Acquire) + n > max
                && self.queued.load(Ordering::Acquire) > 0
                && self.thread.as_ref().is_some_and(|t| !t.is_finished())
            {
                std::thread::sleep(Duration::from_millis(2));
            }
        } else if self.queued.load(Ordering::Acquire) + n > max {
            self.status
                .samples_dropped
                .fetch_add(n as u64, Ordering::Relaxed);
            // What follows no longer joins what came before.
            let _ = tx.send(Feed::EndOfRun);
            return;
        }
        self.queued.fetch_add(n, Ordering::AcqRel);
        if tx.send(Feed::Audio(chunk)).is_err() {
            self.queued.fetch_sub(n, Ordering::AcqRel);
        }
    }

    /// The current run ended (a jump, a stop): the open region is transcribed now.
    pub fn end_run(&self) {
        if let Some(tx) = &self.feed {
            let _ = tx.send(Feed::EndOfRun);
        }
    }

    /// A region's words, if one is ready.
    pub fn try_recv(&self) -> Option<Recognised> {
        self.results.try_recv().ok()
    }

    /// Stops feeding: the recogniser transcribes what it holds and ends.
    /// The results still come through [`Self::recv_until_done`].
    pub fn close(&mut self) {
        self.feed = None;
    }

    /// After [`Self::close`]: the next region's words, waiting for them;
    /// `None` once the recogniser has finished.
    pub fn recv_until_done(&self) -> Option<Recognised> {
        self.results.recv().ok()
    }
}

impl Drop for AsrLink {
    fn drop(&mut self) {
        self.feed = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Seconds of analysed audio kept beyond a window for re-scoring: the
/// longest a region's words can take to come back (a full queue, a whole
/// region, and time to transcribe it).
pub(crate) const HISTORY_SECONDS: f64 = MAX_QUEUED_SECONDS + MAX_REGION_SECONDS + 10.0;

/// The emotion worker's side of speech recognition: the recogniser (started
/// when first turned on), the live transcript, and the recent audio and
/// windows that words arriving late re-score.
pub(crate) struct Listener {
    loader: Option<AsrLoader>,
    /// What the user asked for; in effect while the emotion model reads words.
    wanted: AsrSettings,
    pub link: Option<AsrLink>,
    /// The analyser run the recogniser is hearing.
    pub run: Option<u64>,
    pub history: History,
    /// What has been recognised, host timeline seconds.
    pub recognised: Arc<Transcript>,
}

impl Listener {
    pub fn new(loader: AsrLoader) -> Self {
        Self {
            loader: Some(loader),
            wanted: AsrSettings::default(),
            link: None,
            run: None,
            history: History::default(),
            recognised: Arc::new(Transcript::default()),
        }
    }

    /// New settings from the user.
    pub fn configure(&mut self, settings: AsrSettings, shared: &super::EngineShared) {
        self.wanted = settings;
        self.sync(shared);
    }

    /// Puts the user's settings in effect while the emotion model reads
    /// words, and turns recognition off (no model in memory, no CPU) while
    /// it does not. The recogniser thread starts the first time it is on.
    pub fn sync(&mut self, shared: &super::EngineShared) {
        let reads_text = shared.asr.model_reads_text.load(Ordering::Relaxed);
        let settings = AsrSettings {
            enabled: self.wanted.enabled && reads_text,
            ..self.wanted.clone()
        };
        if self.link.is_none() {
            if !settings.enabled {
                return;
            }
            let Some(loader) = self.loader.take() else {
                return;
            };
            self.link = Some(AsrLink::spawn(loader, shared.asr.clone()));
        }
        if let Some(link) = self.link.as_mut() {
            link.configure(settings);
        }
    }

    /// The audio stops continuing (a jump, a stop, a transcript file set).
    pub fn end_run(&self) {
        if let Some(link) = &self.link {
            link.end_run();
        }
    }
}

/// A window as analysed, kept for re-scoring.
#[derive(Debug, Clone)]
pub(crate) struct Analysed {
    /// The analyser run it belongs to.
    pub run: u64,
    pub span: Span,
    /// The smoothing state before it.
    pub before: Option<crate::reading::Emotion>,
    /// The text it was scored with.
    pub text: String,
    /// Set when words arrived that change its text: when the end of their
    /// region reached the engine (the earliest, if several).
    pub stale: Option<Instant>,
}

/// The recent model-rate audio of one analyser run.
#[derive(Debug)]
struct RunAudio {
    run: u64,
    /// Host timeline seconds of the run's first sample held at any time.
    base: f64,
    /// Samples dropped from the front since.
    dropped: usize,
    audio: VecDeque<f32>,
}

/// The recent model-rate audio and analysed windows, over the last runs
/// (a run that ended, by a stop or a jump, keeps its windows until the
/// words of its last region come back).
#[derive(Debug, Default)]
pub(crate) struct History {
    runs: VecDeque<RunAudio>,
    pub windows: VecDeque<Analysed>,
}

impl History {
    pub fn clear(&mut self) {
        *self = Self::default();
    }

    /// Appends the analyser's newest audio and keeps the last `keep`
    /// seconds over all runs.
    pub fn push(&mut self, fresh: &super::analyser::Fresh<'_>, rate: u32, keep: f64) {
        if self.runs.back().is_none_or(|r| r.run != fresh.run) {
            self.runs.push_back(RunAudio {
                run: fresh.run,
                base: fresh.start,
                dropped: 0,
                audio: VecDeque::new(),
            });
        }
        if let Some(r) = self.runs.back_mut() {
            r.audio.extend(fresh.samples.iter().copied());
        }
        let mut excess = self
            .runs
            .iter()
            .map(|r| r.audio.len())
            .sum::<usize>()
            .saturating_sub((keep * f64::from(rate)) as usize);
        while excess > 0 {
            let Some(r) = self.runs.front_mut() else {
                break;
            };
            let n = excess.min(r.audio.len());
            r.audio.drain(..n);
            r.dropped += n;
            excess -= n;
            if r.audio.is_empty() && self.runs.len() > 1 {
                self.runs.pop_front();
            }
        }
        let runs = &self.runs;
        self.windows.retain(|w| {
            runs.iter().any(|r| {
                r.run == w.run && w.span.start >= r.base + r.dropped as f64 / f64::from(rate)
            })
        });
    }

    /// Notes a window just analysed.
    pub fn analysed(
        &mut self,
        run: u64,
        span: Span,
        before: Option<crate::reading::Emotion>,
        text: String,
    ) {
        self.windows.push_back(Analysed {
            run,
            span,
            before,
            text,
            stale: None,
        });
    }

    /// The audio of window `w`, if still held.
    pub fn samples(&self, w: &Analysed, rate: u32) -> Option<Vec<f32>> {
        let r = self.runs.iter().find(|r| r.run == w.run)?;
        let rate = f64::from(rate);
        let first = ((w.span.start - r.base) * rate).round() as i64 - r.dropped as i64;
        let len = ((w.span.end - w.span.start) * rate).round() as usize;
        let first = usize::try_from(first).ok()?;
        (first + len <= r.audio.len()).then(|| r.audio.range(first..first + len).copied().collect())
    }
}

/// The recogniser thread's state.
struct Recogniser {
    loader: AsrLoader,
    model: Option<Box<dyn Transcribe>>,
    segmenter: Option<Segmenter>,
    results: Sender<Recognised>,
    queued: Arc<AtomicUsize>,
    status: Arc<AsrStatus>,
}

impl Recogniser {
    fn run(&mut self, feed: Receiver<Feed>) {
        while let Ok(message) = feed.recv() {
            match message {
                Feed::Settings(s) => self.configure(&s),
                Feed::Audio(chunk) => {
                    self.queued.fetch_sub(chunk.samples.len(), Ordering::AcqRel);
                    if self.model.is_none() {
                        continue;
                    }
                    let cuts = self.segmenter().push(chunk);
                    self.transcribe(cuts);
                }
                Feed::EndOfRun => {
                    let cuts = self.segmenter.take().map(Segmenter::finish);
                    self.transcribe(cuts.unwrap_or_default());
                }
            }
        }
        // The emotion worker is done: what is still open is heard too.
        let cuts = self.segmenter.take().map(Segmenter::finish);
        self.transcribe(cuts.unwrap_or_default());
    }

    fn segmenter(&mut self) -> &mut Segmenter {
        self.segmenter.get_or_insert_with(Segmenter::new)
    }

    fn configure(&mut self, s: &AsrSettings) {
        self.segmenter = None;
        self.model = None;
        if !s.enabled {
            self.status.set_state(AsrState::Off);
            return;
        }
        self.status.set_state(AsrState::Loading);
        let dir = s
            .model_dir
            .clone()
            .unwrap_or_else(crate::paths::default_asr_dir);
        self.status.update_texts(|t| {
            t.model = dir.display().to_string();
            t.error.clear();
        });
        match (self.loader)(s) {
            Ok(m) => {
                self.model = Some(m);
                self.status.set_state(AsrState::Ready);
            }
            Err(e) => {
                self.status
                    .update_texts(|t| t.error = format!("speech recognition off: {e}"));
                self.status.set_state(AsrState::Failed);
            }
        }
    }

    fn transcribe(&mut self, cuts: Vec<Cut>) {
        let Some(model) = self.model.as_mut() else {
            return;
        };
        for cut in cuts {
            let segments = match model.transcribe(&cut.samples) {
                Ok(s) => s,
                Err(e) => {
                    self.status.update_texts(|t| {
                        t.error = format!(
                            "speech recognition failed at {:.1}..{:.1} s: {e}",
                            cut.span.start, cut.span.end
                        )
                    });
                    continue;
                }
            };
            let segments = segments
                .into_iter()
                .map(|mut s| {
                    s.start += cut.span.start;
                    s.end += cut.span.start;
                    for w in &mut s.words {
                        w.start += cut.span.start;
                        w.end += cut.span.start;
                    }
                    s
                })
                .collect();
            self.status.regions.fetch_add(1, Ordering::Relaxed);
            let _ = self.results.send(Recognised {
                region: cut.span,
                segments,
                ended_at: cut.ended_at,
            });
        }
    }
}

/// A region's audio, ready for Whisper.
#[derive(Debug)]
struct Cut {
    /// Host timeline seconds of the audio (padding included).
    span: Span,
    /// Mono, [`ASR_RATE`].
    samples: Vec<f32>,
    /// When the region's last sample reached the engine.
    ended_at: Instant,
}

/// One run of audio cut into speech regions: the detector, the audio from
/// the earliest sample a region may still need, and when each stretch
/// arrived.
struct Segmenter {
    run: Option<u64>,
    /// Host timeline seconds of the run's first sample (the detector's 0).
    origin: f64,
    resampler: Option<StreamResampler>,
    detector: SpeechDetector,
    /// Audio at [`ASR_RATE`] from run sample `offset` on.
    audio: VecDeque<f32>,
    offset: usize,
    /// Run samples received so far.
    received: usize,
    /// (run sample index one past the stretch, arrival) per stretch held.
    arrivals: VecDeque<(usize, Instant)>,
}

impl Segmenter {
    fn new() -> Self {
        Self {
            run: None,
            origin: 0.0,
            resampler: None,
            detector: SpeechDetector::new(ASR_RATE, &VadConfig::default())
                .expect("16 kHz is the detector's own rate"),
            audio: VecDeque::new(),
            offset: 0,
            received: 0,
            arrivals: VecDeque::new(),
        }
    }

    /// Takes the next stretch; returns the regions it completed (a new
    /// run first completes the old one).
    fn push(&mut self, chunk: Chunk) -> Vec<Cut> {
        let mut cuts = Vec::new();
        if self.run.is_some_and(|r| r != chunk.run) {
            cuts = std::mem::replace(self, Self::new()).finish();
        }
        if self.run.is_none() {
            self.run = Some(chunk.run);
            self.origin = chunk.start;
            self.resampler = (chunk.rate != ASR_RATE)
                .then(|| StreamResampler::new(chunk.rate, ASR_RATE).ok())
                .flatten();
            if chunk.rate != ASR_RATE && self.resampler.is_none() {
                return cuts;
            }
        }
        let mut resampled = Vec::new();
        let samples = match self.resampler.as_mut() {
            Some(r) => {
                if r.push(&chunk.samples, &mut resampled).is_err() {
                    return cuts;
                }
                &resampled[..]
            }
            None => &chunk.samples[..],
        };
        self.audio.extend(samples.iter().copied());
        self.received += samples.len();
        self.arrivals.push_back((self.received, chunk.arrived));
        if self.detector.push(samples).is_err() {
            return cuts;
        }
        for region in self.detector.take_closed() {
            cuts.push(self.cut(region));
        }
        if let Some(open) = self.detector.open_region() {
            if open.end - open.start >= MAX_REGION_SECONDS {
                self.detector.cut();
                for region in self.detector.take_closed() {
                    cuts.push(self.cut(region));
                }
            }
        }
        self.trim();
        cuts
    }

    /// Ends the run: the open region is cut where the audio ends.
    fn finish(self) -> Vec<Cut> {
        let mut this = self;
        let detector = std::mem::replace(
            &mut this.detector,
            SpeechDetector::new(ASR_RATE, &VadConfig::default()).expect("16 kHz"),
        );
        let regions = detector.finish().unwrap_or_default();
        regions.into_iter().map(|r| this.cut(r)).collect()
    }

    /// The audio of `region` (run seconds) with its padding, as far as it is held.
    fn cut(&mut self, region: Span) -> Cut {
        let rate = f64::from(ASR_RATE);
        let first = (((region.start - REGION_PAD_SECONDS) * rate)
            .floor()
            .max(0.0) as usize)
            .max(self.offset);
        let last = (((region.end + REGION_PAD_SECONDS) * rate).ceil() as usize)
            .min(self.received)
            .max(first);
        let samples: Vec<f32> = self
            .audio
            .range(first - self.offset..last - self.offset)
            .copied()
            .collect();
        let end_sample = ((region.end * rate).ceil() as usize).min(self.received);
        let ended_at = self
            .arrivals
            .iter()
            .find(|(upto, _)| *upto >= end_sample)
            .or(self.arrivals.back())
            .map_or_else(Instant::now, |a| a.1);
        Cut {
            span: Span::new(
                self.origin + first as f64 / rate,
                self.origin + last as f64 / rate,
            ),
            samples,
            ended_at,
        }
    }

    /// Drops audio no region can need: before the open region's padding,
    /// or before the last padding's worth when no region is open.
    fn trim(&mut self) {
        let rate = f64::from(ASR_RATE);
        let pad = (REGION_PAD_SECONDS * rate) as usize;
        let keep_from = match self.detector.open_region() {
            Some(open) => ((open.start * rate) as usize).saturating_sub(pad),
            // Frames not yet scored may open a region: keep from a pad
            // before the first unscored sample.
            None => ((self.detector.scored_seconds() * rate) as usize).saturating_sub(pad),
        }
        .min(self.received);
        if keep_from > self.offset {
            self.audio.drain(..keep_from - self.offset);
            self.offset = keep_from;
        }
        while self.arrivals.len() > 1 && self.arrivals[0].0 < self.offset {
            self.arrivals.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tone burst earshot scores as speech is hard to make; the segmenter's
    /// cutting is tested on real speech in `tests/engine_asr.rs`. Here: the
    /// bookkeeping of audio offsets and padding.
    #[test]
    fn cuts_take_the_padded_region_from_the_audio_held() {
        let mut s = Segmenter::new();
        s.run = Some(0);
        s.origin = 100.0;
        let n = 3 * ASR_RATE as usize;
        s.audio = (0..n).map(|i| i as f32).collect();
        s.received = n;
        s.arrivals.push_back((n, Instant::now()));
        let c = s.cut(Span::new(1.0, 2.0));
        // 0.8 s .. 2.2 s of the run = samples 12 800 .. 35 200.
        assert_eq!(c.samples.len(), 35_200 - 12_800);
        assert_eq!(c.samples[0], 12_800.0);
        assert!((c.span.start - 100.8).abs() < 1e-9 && (c.span.end - 102.2).abs() < 1e-9);
        // A region at the start of the run gets no padding before it.
        let c = s.cut(Span::new(0.1, 0.5));
        assert_eq!(c.samples[0], 0.0);
        assert!((c.span.start - 100.0).abs() < 1e-9);
    }
}
