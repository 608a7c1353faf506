//! The offline driver: the live engine's analysis of a signal given whole
//! ([`analyse_offline`], [`analyse_offline_with`]) or block by block
//! ([`OfflineRun`]), as fast as the model goes, with nothing skipped. With
//! speaker turns ([`OfflineOptions::turns`]) each turn is analysed on its
//! own (the engine's `turns` module) and every reading names its speaker.

use super::analyser::{Analyser, AnalysisConfig, Window};
use super::capture::{BlockInfo, MAX_CHUNK};
use super::gate::enough_speech;
use super::predictor::{EmotionPredictor, PredictError, DEFAULT_BATCH};
use super::turns::TurnRuns;
use crate::reading::{Emotion, Reading, Span};
use crate::transcript::{Speaker, SpeakerTurns, Transcript};

/// One analysed window, as the offline driver returns it.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowResult {
    /// The window's reading as the engine publishes it: its span (timeline
    /// seconds), the emotion after smoothing (the model's output when
    /// smoothing is off), the transcript text used, the model's id, and
    /// whether the smoothed values leave the model's declared range.
    pub reading: Reading,
    /// The model's output before smoothing.
    pub raw: Emotion,
}

/// Runs the model on one window and returns the result (shared by the worker and offline mode).
pub(super) fn analyse(
    analyser: &mut Analyser,
    model: &mut dyn EmotionPredictor,
    transcript: Option<&Transcript>,
    w: Window,
) -> Result<WindowResult, PredictError> {
    let text = window_text(transcript, &w);
    let raw = model.predict(&w.samples, &text)?;
    Ok(result(analyser, model, &w, text, raw))
}

/// The transcript's words over window `w` (empty without a transcript).
fn window_text(transcript: Option<&Transcript>, w: &Window) -> String {
    transcript
        .map(|t| t.text_between(w.start, w.end))
        .unwrap_or_default()
}

/// Window `w`'s result from the model's raw reading, smoothed in order.
fn result(
    analyser: &mut Analyser,
    model: &dyn EmotionPredictor,
    w: &Window,
    text: String,
    raw: Emotion,
) -> WindowResult {
    let emotion = analyser.smooth(raw);
    WindowResult {
        reading: reading(model, w, text, emotion),
        raw,
    }
}

/// Window `w`'s reading with its smoothed `emotion`.
pub(super) fn reading(
    model: &dyn EmotionPredictor,
    w: &Window,
    text: String,
    emotion: Emotion,
) -> Reading {
    Reading {
        span: Span::new(w.start, w.end),
        emotion,
        text,
        model_id: model.id().to_owned(),
        out_of_range: !model.output_range().covers(&emotion),
        ..Reading::default()
    }
}

/// Analyses `samples` (mono, `rate` Hz, starting at timeline position 0)
/// with the same windowing as the live engine, without skipping anything;
/// the end of the signal counts as followed by silence. A signal shorter
/// than one window is analysed whole, as one window.
pub fn analyse_offline(
    samples: &[f32],
    rate: f32,
    model: &mut dyn EmotionPredictor,
    config: &AnalysisConfig,
    transcript: Option<&Transcript>,
) -> Result<Vec<WindowResult>, PredictError> {
    let options = OfflineOptions {
        transcript,
        ..OfflineOptions::default()
    };
    Ok(analyse_offline_with(samples, rate, model, config, options)?.windows)
}

/// A window less than this share of which is speech (by the speech regions
/// given) has too little speech to read: speech-gated offline analysis does
/// not run the model on it. A quarter: 1 s of a 4 s window.
pub const MIN_SPEECH_IN_WINDOW: f64 = 0.25;

/// Options of [`analyse_offline_with`].
#[derive(Default)]
pub struct OfflineOptions<'a> {
    /// The transcript for the text branch.
    pub transcript: Option<&'a Transcript>,
    /// Speech regions (seconds, from the voice-activity detector). With
    /// them, windows less than [`MIN_SPEECH_IN_WINDOW`] of which is speech
    /// are not sent to the model: they come back
    /// in [`OfflineAnalysis::no_speech`], with no reading, and smoothing
    /// starts over after them. `None`: every window is analysed.
    pub speech: Option<&'a [Span]>,
    /// Told how many seconds of the signal have been analysed after each
    /// window (a progress bar inside a long file).
    pub progress: Option<&'a mut dyn FnMut(f64)>,
    /// Windows read per model call ([`EmotionPredictor::predict_batch`]);
    /// `None`: [`DEFAULT_BATCH`]. The readings are the same whatever the
    /// batch; only the speed changes.
    pub batch: Option<usize>,
    /// Who speaks when (seconds of the signal). With them, windows never
    /// mix speakers: each turn is analysed on its own, as a file of its own
    /// would be (windowed inside, one window over a turn shorter than one,
    /// smoothing within the turn), turns of different speakers that overlap
    /// are each read and their readings flagged
    /// ([`Reading::overlap`]), and audio outside every turn is not read.
    /// Every reading names its speaker; the windows come back sorted by
    /// start. The speech gate and the transcript apply as without turns
    /// (a window gets the words of its speaker's segments and of those that
    /// name no one). `None`: one stream, as ever.
    pub turns: Option<&'a SpeakerTurns>,
    /// With `turns`: read only this speaker's turns (another speaker
    /// talking over them still flags the overlap).
    pub speaker: Option<&'a Speaker>,
}

/// What [`analyse_offline_with`] found.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OfflineAnalysis {
    /// The analysed windows, in time order.
    pub windows: Vec<WindowResult>,
    /// The windows left out for want of speech, in time order.
    pub no_speech: Vec<Span>,
}

/// [`analyse_offline`] with speech gating and progress (see [`OfflineOptions`]).
/// This is [`OfflineRun`] given the whole signal at once.
pub fn analyse_offline_with(
    samples: &[f32],
    rate: f32,
    model: &mut dyn EmotionPredictor,
    config: &AnalysisConfig,
    options: OfflineOptions<'_>,
) -> Result<OfflineAnalysis, PredictError> {
    let mut run = OfflineRun::new(rate, model, config, options);
    run.push(samples)?;
    run.finish()
}

/// [`analyse_offline_with`] over a signal given block by block: a recording
/// of any length analysed in the memory of one window. The blocks are cut
/// into the same analyser blocks as the whole signal would be, so the
/// result equals [`analyse_offline_with`] of the whole signal, whatever the
/// blocks pushed.
pub struct OfflineRun<'a, 'm> {
    analyser: Analyser,
    model: &'m mut dyn EmotionPredictor,
    options: OfflineOptions<'a>,
    rate: f32,
    out: OfflineAnalysis,
    /// Samples not yet given to the analyser (less than [`MAX_CHUNK`] between calls).
    pending: Vec<f32>,
    /// Timeline position of `pending[0]`, samples.
    position: i64,
    /// Windows waiting for the model, with their transcript text and their
    /// turn (with speaker turns), in time order (fewer than the batch
    /// between calls).
    queued: Vec<(Window, String, Option<usize>)>,
    /// Windows per model call.
    batch: usize,
    /// Each speaker turn's analysis, when the turns are known.
    turns: Option<TurnRuns>,
}

impl<'a, 'm> OfflineRun<'a, 'm> {
    /// A run over mono audio at `rate` Hz starting at timeline position 0.
    pub fn new(
        rate: f32,
        model: &'m mut dyn EmotionPredictor,
        config: &AnalysisConfig,
        options: OfflineOptions<'a>,
    ) -> Self {
        let batch = options.batch.unwrap_or(DEFAULT_BATCH).max(1);
        let turns = options
            .turns
            .map(|t| TurnRuns::new(t, options.speaker, rate, config, model.sample_rate()));
        Self {
            turns,
            analyser: Analyser::new(config.clone(), model.sample_rate()),
            model,
            options,
            rate,
            out: OfflineAnalysis::default(),
            pending: Vec::with_capacity(MAX_CHUNK),
            position: 0,
            queued: Vec::new(),
            batch,
        }
    }

    /// The next block of the signal; analyses every window it completes.
    pub fn push(&mut self, samples: &[f32]) -> Result<(), PredictError> {
        if let Some(turns) = self.turns.as_mut() {
            let mut windows = Vec::new();
            let ended = turns.push(samples, &mut windows);
            return self.take_turn_windows(windows, ended);
        }
        let mut rest = samples;
        while !rest.is_empty() {
            let n = (MAX_CHUNK - self.pending.len()).min(rest.len());
            self.pending.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
            if self.pending.len() == MAX_CHUNK {
                self.ingest_pending()?;
            }
        }
        Ok(())
    }

    /// Analyses what is left (the end of the signal counts as followed by
    /// silence; a signal shorter than one window is one window) and returns
    /// the analysis, or the analyser's error.
    pub fn finish(mut self) -> Result<OfflineAnalysis, PredictError> {
        if let Some(turns) = self.turns.as_mut() {
            let mut windows = Vec::new();
            let ended = turns.finish(&mut windows);
            self.take_turn_windows(windows, ended)?;
            self.read_queued()?;
            let by_start = |a: &Span, b: &Span| a.start.total_cmp(&b.start);
            self.out
                .windows
                .sort_by(|a, b| by_start(&a.reading.span, &b.reading.span));
            self.out.no_speech.sort_by(by_start);
            return Ok(self.out);
        }
        if !self.pending.is_empty() {
            self.ingest_pending()?;
        }
        self.analyser.finish();
        self.take_ready()?;
        self.read_queued()?;
        if self.out.windows.is_empty() && self.out.no_speech.is_empty() {
            if let Some(w) = self.analyser.pop_short_run() {
                self.take(w, None)?;
                self.read_queued()?;
            }
        }
        // Offline, nothing is skipped silently: an error the analyser met
        // (which the live worker shows in its status line) fails the analysis.
        if let Some(e) = self.analyser.take_error() {
            return Err(PredictError::Audio(e));
        }
        Ok(self.out)
    }

    /// Gives `pending` to the analyser as one block and takes its windows.
    fn ingest_pending(&mut self) -> Result<(), PredictError> {
        let info = BlockInfo {
            position: self.position,
            frames: self.pending.len() as u32,
            sample_rate: self.rate,
            playing: true,
            discontinuity: false,
        };
        self.analyser.ingest(&info, &self.pending);
        self.position += self.pending.len() as i64;
        self.pending.clear();
        self.take_ready()
    }

    fn take_ready(&mut self) -> Result<(), PredictError> {
        while let Some(w) = self.analyser.pop_window() {
            self.take(w, None)?;
        }
        Ok(())
    }

    /// Takes the windows the speaker turns gave (each with its turn), then
    /// fails with the error a turn's analyser met, if any.
    fn take_turn_windows(
        &mut self,
        windows: Vec<(usize, Window)>,
        ended: Result<(), super::AnalyserError>,
    ) -> Result<(), PredictError> {
        for (turn, w) in windows {
            self.take(w, Some(turn))?;
        }
        ended.map_err(PredictError::Audio)
    }

    /// Queues window `w` (of speaker turn `turn`, when the turns are known)
    /// for the model (reading the queue once it holds a batch), or leaves it
    /// out for want of speech.
    fn take(&mut self, w: Window, turn: Option<usize>) -> Result<(), PredictError> {
        let span = Span::new(w.start, w.end);
        if self
            .options
            .speech
            .is_some_and(|regions| !enough_speech(regions.iter().copied(), span))
        {
            // Smoothing starts over after the gap: the windows before it first.
            self.read_queued()?;
            match (turn, self.turns.as_mut()) {
                (Some(i), Some(turns)) => turns.run_mut(i).ema = None,
                _ => self.analyser.restart_smoothing(),
            }
            self.out.no_speech.push(span);
            self.progress(span.end);
        } else {
            let text = match (turn, &self.turns, self.options.transcript) {
                (Some(i), Some(turns), Some(t)) => {
                    t.speaker_text_between(&turns.run(i).speaker, w.start, w.end)
                }
                _ => window_text(self.options.transcript, &w),
            };
            self.queued.push((w, text, turn));
            if self.queued.len() >= self.batch {
                self.read_queued()?;
            }
        }
        Ok(())
    }

    /// Reads the queued windows in one model call, in time order.
    fn read_queued(&mut self) -> Result<(), PredictError> {
        if self.queued.is_empty() {
            return Ok(());
        }
        let inputs: Vec<(&[f32], &str)> = self
            .queued
            .iter()
            .map(|(w, text, _)| (w.samples.as_slice(), text.as_str()))
            .collect();
        let raws = self.model.predict_batch(&inputs)?;
        debug_assert_eq!(raws.len(), self.queued.len());
        for ((w, text, turn), raw) in std::mem::take(&mut self.queued).into_iter().zip(raws) {
            let end = w.end;
            let r = match (turn, self.turns.as_mut()) {
                (Some(i), Some(turns)) => {
                    let emotion = self.analyser.smooth_from(turns.run(i).ema, raw);
                    turns.run_mut(i).ema = Some(emotion);
                    let mut reading = reading(&*self.model, &w, text, emotion);
                    reading.speaker = Some(turns.run(i).speaker.clone());
                    reading.overlap = turns.overlaps(i, reading.span);
                    WindowResult { reading, raw }
                }
                _ => result(&mut self.analyser, &*self.model, &w, text, raw),
            };
            self.out.windows.push(r);
            self.progress(end);
        }
        Ok(())
    }

    /// Tells the progress callback how far the analysis has come.
    fn progress(&mut self, seconds: f64) {
        if let Some(p) = self.options.progress.as_mut() {
            p(seconds);
        }
    }
}
