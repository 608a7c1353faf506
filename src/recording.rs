//! Analysing one recording, in named steps: decode it (or stream it), read
//! its transcript, find its speech, run the engine's windows, read each
//! segment from its own audio and text, and build its annotation.
//!
//! [`analyse_recording`] does all of it for an audio file and returns a
//! [`Recording`]: what `emoscope annotate` writes for each input. The other
//! front ends take the steps they need: `emoscope predict` decodes a file
//! whole ([`MonoRecording::decode`]) and reads its transcript
//! ([`TranscriptSource::read`]) before running the model its own way; the
//! plugin, which keeps no audio, describes its session by its timeline
//! ([`Recording::from_timeline`]) and shares the annotation step
//! ([`Recording::into_annotation`]), so a marker file reads the same
//! whichever wrote it.
//!
//! The audio is streamed from the file in three passes, so a recording of
//! any length is analysed in the memory of a few packets and one analysis
//! window: the first finds its length and its speech, the second runs the
//! engine's analysis ([`OfflineRun`]), the third reads each segment
//! ([`SpanReader`]) and stops after the last. Each pass gives the model the
//! same samples, in the same order, as decoding the file whole
//! ([`RecordingOptions::whole_file`], kept as the reference), so the
//! results are identical.
//!
//! Speakers: once the transcript is read, the caller may give the
//! recording's speaker turns ([`RecordingHooks::speakers`], from a
//! [`SpeakerSource`]); the engine then analyses each turn on its own
//! ([`OfflineOptions::turns`]), every reading names its speaker, and the
//! annotation sums up each speaker.

use std::path::{Path, PathBuf};

use crate::audio::vad::{speech_regions, SpeechDetector, VadConfig};
use crate::audio::{
    decode_file, downmix_checked, resample_mono, AudioError, Gap, MonoStream, StreamResampler,
};
use crate::engine::{
    analyse_offline_with, predict_span, AnalysisConfig, EmotionPredictor, OfflineAnalysis,
    OfflineOptions, OfflineRun, PredictError, SpanReader, SpanRequest,
};
use crate::export::segments::plan_segments;
use crate::export::{transcript_segments, Annotation, BuildInfo, LabelStyle};
use crate::reading::{Emotion, OutputRange, Reading, Span};
use crate::transcript::{
    read_file, read_speakers, ReadError, ReadOptions, Segment, Speaker, SpeakerTurns, Transcript,
    TranscriptError,
};

/// Why a recording could not be analysed. Each message names the file (the
/// audio and transcript errors do so themselves); the cause is the error's
/// `source()`, never repeated in its message.
#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    /// The audio could not be opened, decoded or resampled for the speech detector.
    #[error(transparent)]
    Audio(#[from] AudioError),
    /// The transcript file could not be read.
    #[error(transparent)]
    Transcript(#[from] ReadError),
    /// A transcript given as text could not be placed on the recording.
    #[error(transparent)]
    Text(#[from] TranscriptError),
    /// The audio could not be resampled to the model's rate.
    #[error("resampling {}", path.display())]
    Resample {
        /// The audio file.
        path: PathBuf,
        /// Why.
        #[source]
        source: AudioError,
    },
    /// The engine's analysis (or the model on one of its windows) failed.
    #[error("analysing {}", path.display())]
    Analysis {
        /// The audio file.
        path: PathBuf,
        /// Why (boxed: a model's error is large, and this one is rare).
        #[source]
        source: Box<PredictError>,
    },
    /// The model failed on one segment.
    #[error("analysing the segment {:.3}..{:.3} s of {}", span.start, span.end, path.display())]
    Segment {
        /// The audio file.
        path: PathBuf,
        /// The segment, seconds.
        span: Span,
        /// Why (boxed, as for [`Self::Analysis`]).
        #[source]
        source: Box<PredictError>,
    },
    /// The speaker asked for ([`RecordingOptions::speaker`]) has no turn in
    /// the recording's speaker turns.
    #[error(
        "{}: no speaker `{name}` in its speaker turns ({})",
        path.display(),
        if known.is_empty() { "none are known: give --speakers FILE or a transcript that names its speakers".to_owned() } else { format!("its speakers: {}", known.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", ")) }
    )]
    UnknownSpeaker {
        /// The audio file.
        path: PathBuf,
        /// The name asked for.
        name: Speaker,
        /// The speakers the turns name, in the order of their first turn.
        known: Vec<Speaker>,
    },
    /// A later pass over the file read another length than the first (the
    /// file changed underneath).
    #[error("{} changed while it was analysed ({first} frames at first, {now} now)", path.display())]
    Changed {
        /// The audio file.
        path: PathBuf,
        /// Frames the first pass read.
        first: usize,
        /// Frames this pass read.
        now: usize,
    },
}

/// Where a recording's transcript comes from.
#[derive(Debug, Clone, Default)]
pub enum TranscriptSource {
    /// None: the audio alone.
    #[default]
    None,
    /// A transcript file in any format the readers know, read with `options`
    /// (its `audio_seconds` is set to the recording's length).
    File {
        /// The file.
        path: PathBuf,
        /// How to read it.
        options: ReadOptions,
    },
    /// Text covering the whole recording (one segment; runs of white space
    /// become one space; blank text is no transcript).
    Text(String),
}

impl TranscriptSource {
    /// The transcript for a recording of `duration` seconds.
    pub fn read(&self, duration: f64) -> Result<Option<Transcript>, RecordingError> {
        match self {
            Self::None => Ok(None),
            Self::File { path, options } => {
                let options = ReadOptions {
                    audio_seconds: Some(duration),
                    ..options.clone()
                };
                Ok(Some(read_file(path, &options)?))
            }
            Self::Text(text) if text.trim().is_empty() => Ok(None),
            Self::Text(text) => Ok(Some(Transcript::new(vec![Segment {
                start: 0.0,
                end: duration,
                text: text.split_whitespace().collect::<Vec<_>>().join(" "),
                ..Default::default()
            }])?)),
        }
    }
}

/// Where a recording's speaker turns come from.
#[derive(Debug, Clone, Default)]
pub enum SpeakerSource {
    /// Nowhere: the recording is one stream, whatever its transcript says.
    #[default]
    None,
    /// The speakers the transcript names (none when it names none).
    Transcript,
    /// A speaker file: RTTM, STM or any transcript that names its speakers
    /// ([`read_speakers`]), read with `options` (its `audio_seconds` set to
    /// the recording's length). Its turns name the speaker of each
    /// transcript segment ([`Transcript::with_speakers`]).
    File {
        /// The file.
        path: PathBuf,
        /// How to read it (`recording`: the recording's name in a file of several).
        options: ReadOptions,
    },
}

impl SpeakerSource {
    /// The speaker turns of a recording of `duration` seconds with
    /// `transcript`, whose segments then name the speakers of a speaker
    /// file; `None` when none are known.
    pub fn read(
        &self,
        duration: f64,
        transcript: &mut Option<Transcript>,
    ) -> Result<Option<SpeakerTurns>, RecordingError> {
        match self {
            Self::None => Ok(None),
            Self::Transcript => Ok(transcript
                .as_ref()
                .map(Transcript::speaker_turns)
                .filter(|t| !t.is_empty())),
            Self::File { path, options } => {
                let options = ReadOptions {
                    audio_seconds: Some(duration),
                    ..options.clone()
                };
                let turns = read_speakers(path, &options)?;
                if let Some(t) = transcript.take() {
                    *transcript = Some(t.with_speakers(&turns));
                }
                Ok(Some(turns))
            }
        }
    }
}

/// A recording decoded whole and mixed down to mono.
#[derive(Debug, Clone)]
pub struct MonoRecording {
    /// The samples, mono.
    pub samples: Vec<f32>,
    /// Their rate, Hz.
    pub sample_rate: u32,
    /// Stretches the decoder skipped as corrupt, filled with silence.
    pub gaps: Vec<Gap>,
}

impl MonoRecording {
    /// Decodes `path` whole (any container and codec the decoder knows) and
    /// mixes it down to mono; a sample that is not a number is an error
    /// naming its place.
    pub fn decode(path: &Path) -> Result<Self, RecordingError> {
        let decoded = decode_file(path)?;
        let samples = downmix_checked(&decoded, path)?;
        Ok(Self {
            samples,
            sample_rate: decoded.sample_rate,
            gaps: decoded.gaps,
        })
    }

    /// Length, seconds.
    pub fn duration(&self) -> f64 {
        self.samples.len() as f64 / f64::from(self.sample_rate)
    }

    /// The samples at the model's rate.
    pub fn resampled(&self, rate: u32, path: &Path) -> Result<Vec<f32>, RecordingError> {
        resample_mono(&self.samples, self.sample_rate, rate).map_err(|source| {
            RecordingError::Resample {
                path: path.to_owned(),
                source,
            }
        })
    }
}

/// How [`analyse_recording`] analyses.
#[derive(Debug, Clone, Copy)]
pub struct RecordingOptions<'a> {
    /// Window, hop and smoothing; a segment is read in pieces of at most one window.
    pub config: &'a AnalysisConfig,
    /// Run the model on every window, speech or not (by default windows
    /// with too little speech get no reading; see
    /// [`MIN_SPEECH_IN_WINDOW`](crate::engine::MIN_SPEECH_IN_WINDOW)).
    pub analyse_silence: bool,
    /// Decode the file whole into memory first (the reference the streamed
    /// passes are tested against: the same results, memory growing with the
    /// file's length).
    pub whole_file: bool,
    /// Windows read per model call (`None`: [`DEFAULT_BATCH`](crate::engine::DEFAULT_BATCH));
    /// the readings are the same whatever the batch.
    pub batch: Option<usize>,
    /// Read only this speaker's turns (with speaker turns known; a name
    /// they do not have is [`RecordingError::UnknownSpeaker`]).
    pub speaker: Option<&'a Speaker>,
}

/// What a recording's first pass found: its length and its corrupt
/// stretches, before its transcript is read.
#[derive(Debug, Clone, Copy)]
pub struct Opened<'a> {
    /// Length, seconds.
    pub duration: f64,
    /// Stretches the decoder skipped as corrupt, filled with silence.
    pub gaps: &'a [Gap],
}

/// The passes [`analyse_recording`] makes over a recording, in order (see
/// the module docs), for progress reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    /// Decoding it to find its length, its speech and its corrupt stretches.
    Scan,
    /// The engine's windows.
    Windows,
    /// Each segment from its own audio and text (up to the last segment).
    Segments,
}

impl Pass {
    /// Every pass, in order.
    pub const ALL: [Pass; 3] = [Pass::Scan, Pass::Windows, Pass::Segments];

    /// A word for a progress line.
    pub fn name(self) -> &'static str {
        match self {
            Pass::Scan => "scanning",
            Pass::Windows => "windows",
            Pass::Segments => "segments",
        }
    }
}

/// What the caller of [`analyse_recording`] supplies and hears while a
/// recording is analysed, step by step; a caller keeping a record (the
/// index of `emoscope annotate`) notes what each step found, so a failure
/// in a later step still leaves it.
pub trait RecordingHooks {
    /// The first pass knows the recording's length and corrupt stretches:
    /// the transcript to analyse it with.
    fn transcript(&mut self, opened: Opened<'_>) -> Result<Option<Transcript>, RecordingError>;

    /// How far `pass` has come through the recording, in seconds of it:
    /// told as each packet is scanned, each window read and each segment read.
    fn progress(&mut self, _pass: Pass, _seconds: f64) {}

    /// The engine's windows have been analysed; the segments are read next.
    fn windows_analysed(&mut self, _analysis: &OfflineAnalysis) {}

    /// Once the transcript is read: the recording's speaker turns, if
    /// known (a [`SpeakerSource`] reads them), with the transcript to name
    /// its segments' speakers from them. `None` (the default): one stream.
    fn speakers(
        &mut self,
        _opened: Opened<'_>,
        _transcript: &mut Option<Transcript>,
    ) -> Result<Option<SpeakerTurns>, RecordingError> {
        Ok(None)
    }
}

/// The transcript is all a caller may have to say.
impl RecordingHooks for TranscriptSource {
    fn transcript(&mut self, opened: Opened<'_>) -> Result<Option<Transcript>, RecordingError> {
        self.read(opened.duration)
    }
}

/// What analysing a recording found: everything its annotation is built from.
#[derive(Debug, Clone, PartialEq)]
pub struct Recording {
    /// Length, seconds.
    pub duration: f64,
    /// Where someone speaks, seconds (the voice-activity detector's regions).
    pub speech: Vec<Span>,
    /// The transcript the analysis used.
    pub transcript: Option<Transcript>,
    /// The engine's windows, in time order.
    pub timeline: Vec<Reading>,
    /// Windows left out because too little of them is speech, in time order.
    pub no_speech: Vec<Span>,
    /// A reading per segment of the annotation (its
    /// [`Annotation::segment_spans`]), read from the segment's own audio and
    /// text; `None` without audio, where each segment takes the
    /// overlap-weighted mean of the windows over it.
    pub segment_readings: Option<Vec<Emotion>>,
    /// Stretches the decoder skipped as corrupt, filled with silence.
    pub gaps: Vec<Gap>,
    /// Who speaks when, when known: each turn was analysed on its own, and
    /// the annotation sums up each speaker (only the speaker asked for,
    /// with [`RecordingOptions::speaker`]).
    pub turns: Option<SpeakerTurns>,
}

/// What an annotation records besides the recording: the audio's name, the
/// model, its range, the analysis settings and the label style.
#[derive(Debug, Clone, Copy)]
pub struct AnnotationContext<'a> {
    /// The audio file (the EAF media link points at it), or a description.
    pub audio: &'a str,
    /// The model's identifier.
    pub model: &'a str,
    /// The model's declared output range.
    pub output_range: OutputRange,
    /// The model's category labels (empty for a dimensional model).
    pub categories: &'a [String],
    /// The analysis settings the timeline was made with.
    pub config: &'a AnalysisConfig,
    /// How labels are written.
    pub labels: LabelStyle,
}

impl Recording {
    /// A session known only from its timeline (the plugin keeps no audio):
    /// its speech is what was analysed (the windows, overlapping or touching
    /// ones merged), its length ends with the last of them, and its
    /// segments take the windows' means. The transcript's segments come
    /// first, as with audio.
    pub fn from_timeline(mut timeline: Vec<Reading>, transcript: Option<Transcript>) -> Self {
        timeline.sort_by(|a, b| a.span.start.total_cmp(&b.span.start));
        let mut speech: Vec<Span> = Vec::new();
        for r in &timeline {
            match speech.last_mut() {
                Some(last) if r.span.start <= last.end => last.end = last.end.max(r.span.end),
                _ => speech.push(r.span),
            }
        }
        Self {
            duration: speech.last().map_or(0.0, |s| s.end),
            speech,
            transcript,
            timeline,
            no_speech: Vec::new(),
            segment_readings: None,
            gaps: Vec::new(),
            turns: None,
        }
    }

    /// What [`Annotation`]'s builders need, with `context`.
    pub fn build_info<'a>(&'a self, context: &AnnotationContext<'a>) -> BuildInfo<'a> {
        BuildInfo {
            audio: context.audio,
            duration: self.duration,
            model: context.model,
            output_range: context.output_range,
            categories: context.categories,
            config: context.config,
            speech: &self.speech,
            transcript: self.transcript.as_ref(),
            labels: context.labels,
            no_speech: &self.no_speech,
            turns: self.turns.as_ref(),
        }
    }

    /// The segments to read from the audio: the annotation's segments
    /// ([`plan_segments`]), each with its own text.
    pub fn segment_requests(&self) -> Vec<SpanRequest> {
        let transcript = self
            .transcript
            .as_ref()
            .map(transcript_segments)
            .unwrap_or_default();
        plan_segments(
            &self.speech,
            &transcript,
            self.duration,
            self.turns.as_ref(),
        )
        .into_iter()
        .map(|s| SpanRequest {
            span: s.span,
            text: s.text,
        })
        .collect()
    }

    /// The recording's annotation (the one step every front end shares):
    /// segments with their own readings where the audio gave them, else the
    /// windows' means; markers where the quadrant changes; values outside
    /// the range flagged.
    pub fn into_annotation(mut self, context: &AnnotationContext<'_>) -> Annotation {
        let timeline = std::mem::take(&mut self.timeline);
        let info = self.build_info(context);
        match &self.segment_readings {
            Some(readings) => Annotation::build_with_segment_readings(timeline, &info, readings),
            None => Annotation::build(timeline, &info),
        }
    }
}

/// Analyses the audio file `path` with `model` (see the module docs),
/// asking `hooks` for the transcript once the first pass knows the
/// recording's length and telling it how the analysis goes.
pub fn analyse_recording(
    path: &Path,
    model: &mut dyn EmotionPredictor,
    options: &RecordingOptions<'_>,
    hooks: &mut dyn RecordingHooks,
) -> Result<Recording, RecordingError> {
    if options.whole_file {
        whole_file(path, model, options, hooks)
    } else {
        streamed(path, model, options, hooks)
    }
}

/// The recording's engine analysis and speech, before its segments are read.
fn analysed(
    duration: f64,
    speech: Vec<Span>,
    transcript: Option<Transcript>,
    analysis: OfflineAnalysis,
    gaps: Vec<Gap>,
    turns: Option<SpeakerTurns>,
) -> Recording {
    Recording {
        duration,
        speech,
        transcript,
        timeline: analysis.windows.into_iter().map(|w| w.reading).collect(),
        no_speech: analysis.no_speech,
        segment_readings: None,
        gaps,
        turns,
    }
}

/// `--speaker NAME`'s check: `name` must be one of the speakers of `turns`
/// (none: there are no turns), else [`RecordingError::UnknownSpeaker`]
/// naming the recording at `path` and the speakers it has.
pub fn check_speaker(
    path: &Path,
    turns: Option<&SpeakerTurns>,
    name: &Speaker,
) -> Result<(), RecordingError> {
    let known = turns.map(SpeakerTurns::speakers).unwrap_or_default();
    if known.contains(name) {
        Ok(())
    } else {
        Err(RecordingError::UnknownSpeaker {
            path: path.to_owned(),
            name: name.clone(),
            known,
        })
    }
}

/// The transcript and speaker turns of `path` once its length is known
/// (`opened`): the speaker asked for must have a turn.
fn transcript_and_turns(
    path: &Path,
    opened: Opened<'_>,
    options: &RecordingOptions<'_>,
    hooks: &mut dyn RecordingHooks,
) -> Result<(Option<Transcript>, Option<SpeakerTurns>), RecordingError> {
    let mut transcript = hooks.transcript(opened)?;
    let turns = hooks.speakers(opened, &mut transcript)?;
    if let Some(name) = options.speaker {
        check_speaker(path, turns.as_ref(), name)?;
    }
    Ok((transcript, turns))
}

/// The turns an annotation sums up: those of the speaker asked for, or all.
fn kept_turns(turns: Option<SpeakerTurns>, speaker: Option<&Speaker>) -> Option<SpeakerTurns> {
    match (turns, speaker) {
        (Some(t), Some(name)) => Some(t.only(name)),
        (turns, _) => turns,
    }
}

/// The speech gate of the engine's analysis: the regions, unless every
/// window is to be read.
fn gate<'a>(options: &RecordingOptions<'_>, speech: &'a [Span]) -> Option<&'a [Span]> {
    (!options.analyse_silence).then_some(speech)
}

/// The analysis with the whole file decoded into memory (the reference).
fn whole_file(
    path: &Path,
    model: &mut dyn EmotionPredictor,
    options: &RecordingOptions<'_>,
    hooks: &mut dyn RecordingHooks,
) -> Result<Recording, RecordingError> {
    let mono = MonoRecording::decode(path)?;
    let duration = mono.duration();
    hooks.progress(Pass::Scan, duration);
    let opened = Opened {
        duration,
        gaps: &mono.gaps,
    };
    let (transcript, turns) = transcript_and_turns(path, opened, options, hooks)?;
    let speech = speech_regions(&mono.samples, mono.sample_rate, &VadConfig::default())?;
    let analysis = analyse_offline_with(
        &mono.samples,
        mono.sample_rate as f32,
        model,
        options.config,
        OfflineOptions {
            transcript: transcript.as_ref(),
            speech: gate(options, &speech),
            progress: Some(&mut |t| hooks.progress(Pass::Windows, t)),
            batch: options.batch,
            turns: turns.as_ref(),
            speaker: options.speaker,
        },
    )
    .map_err(|source| analysis_error(path, source))?;
    hooks.windows_analysed(&analysis);
    let gaps = mono.gaps.clone();
    let turns = kept_turns(turns, options.speaker);
    let mut recording = analysed(duration, speech, transcript, analysis, gaps, turns);
    // Each segment from its own audio and its own text.
    let spans = recording.segment_requests();
    let samples = mono.resampled(model.sample_rate(), path)?;
    drop(mono);
    let mut readings = Vec::with_capacity(spans.len());
    for span in &spans {
        let r = predict_span(
            model,
            &samples,
            span.span,
            &span.text,
            options.config.window_seconds,
        )
        .map_err(|source| segment_error(path, span, source))?;
        readings.push(r);
        hooks.progress(Pass::Segments, span.span.end);
    }
    recording.segment_readings = Some(readings);
    Ok(recording)
}

/// The analysis streamed from the file in three passes (see the module docs).
fn streamed(
    path: &Path,
    model: &mut dyn EmotionPredictor,
    options: &RecordingOptions<'_>,
    hooks: &mut dyn RecordingHooks,
) -> Result<Recording, RecordingError> {
    let first = first_pass(path, &mut |t| hooks.progress(Pass::Scan, t))?;
    let opened = Opened {
        duration: first.duration(),
        gaps: &first.gaps,
    };
    let (transcript, turns) = transcript_and_turns(path, opened, options, hooks)?;
    let analysis = engine_pass(
        path,
        model,
        options,
        &first,
        (transcript.as_ref(), turns.as_ref()),
        &mut |t| hooks.progress(Pass::Windows, t),
    )?;
    hooks.windows_analysed(&analysis);
    let mut recording = analysed(
        first.duration(),
        first.speech.clone(),
        transcript,
        analysis,
        first.gaps.clone(),
        kept_turns(turns, options.speaker),
    );
    let spans = recording.segment_requests();
    recording.segment_readings = Some(segment_pass(
        path,
        model,
        options,
        &first,
        &spans,
        &mut |t| hooks.progress(Pass::Segments, t),
    )?);
    Ok(recording)
}

/// What the first pass over a streamed file found.
struct FirstPass {
    /// Sample rate, Hz.
    rate: u32,
    /// Frames (mono samples).
    frames: usize,
    /// Speech regions.
    speech: Vec<Span>,
    /// Corrupt stretches.
    gaps: Vec<Gap>,
}

impl FirstPass {
    fn duration(&self) -> f64 {
        self.frames as f64 / f64::from(self.rate)
    }
}

/// Pass 1: length, rate, speech and corrupt stretches; `progress` hears
/// the seconds decoded after each packet.
fn first_pass(path: &Path, progress: &mut dyn FnMut(f64)) -> Result<FirstPass, RecordingError> {
    let mut stream = MonoStream::open(path)?;
    let mut vad: Option<SpeechDetector> = None;
    while stream.advance()? {
        progress(stream.frames() as f64 / f64::from(stream.sample_rate()?));
        let detector = match &mut vad {
            Some(d) => d,
            None => vad.insert(SpeechDetector::new(
                stream.sample_rate()?,
                &VadConfig::default(),
            )?),
        };
        detector.push(stream.block())?;
    }
    let rate = stream.sample_rate()?;
    let _ = stream.truncation();
    for gap in stream.gaps() {
        tracing::warn!("{gap}");
    }
    let speech = vad
        .expect("a stream that ended without error had samples")
        .finish()?;
    Ok(FirstPass {
        rate,
        frames: stream.frames(),
        speech,
        gaps: stream.gaps().to_vec(),
    })
}

/// Pass 2: the engine's windows, with the transcript and speaker turns.
fn engine_pass(
    path: &Path,
    model: &mut dyn EmotionPredictor,
    options: &RecordingOptions<'_>,
    first: &FirstPass,
    (transcript, turns): (Option<&Transcript>, Option<&SpeakerTurns>),
    progress: &mut dyn FnMut(f64),
) -> Result<OfflineAnalysis, RecordingError> {
    let mut run = OfflineRun::new(
        first.rate as f32,
        model,
        options.config,
        OfflineOptions {
            transcript,
            speech: gate(options, &first.speech),
            progress: Some(progress),
            batch: options.batch,
            turns,
            speaker: options.speaker,
        },
    );
    let mut stream = MonoStream::open(path)?;
    while stream.advance()? {
        run.push(stream.block())
            .map_err(|source| analysis_error(path, source))?;
    }
    check_same_length(&stream, path, first.frames)?;
    run.finish().map_err(|source| analysis_error(path, source))
}

/// Pass 3: each segment from its own audio and its own text, up to the end
/// of the last segment (no further when there is none); `progress` hears
/// the seconds decoded after each packet.
fn segment_pass(
    path: &Path,
    model: &mut dyn EmotionPredictor,
    options: &RecordingOptions<'_>,
    first: &FirstPass,
    spans: &[SpanRequest],
    progress: &mut dyn FnMut(f64),
) -> Result<Vec<Emotion>, RecordingError> {
    let resample_error = |source| RecordingError::Resample {
        path: path.to_owned(),
        source,
    };
    let mut resampler =
        StreamResampler::new(first.rate, model.sample_rate()).map_err(resample_error)?;
    let len = resampler.output_len(first.frames);
    let mut reader = SpanReader::new(model, spans, len, options.config.window_seconds);
    let mut stream = MonoStream::open(path)?;
    let mut samples = Vec::new();
    let feed = |reader: &mut SpanReader<'_>, samples: &mut Vec<f32>| {
        let at = reader.current_span();
        reader
            .push(samples)
            .map_err(|source| match at.map(|i| &spans[i]) {
                Some(span) => segment_error(path, span, source),
                None => analysis_error(path, source),
            })?;
        samples.clear();
        Ok::<_, RecordingError>(())
    };
    let rate = f64::from(first.rate);
    while !reader.is_done() && stream.advance()? {
        resampler
            .push(stream.block(), &mut samples)
            .map_err(resample_error)?;
        feed(&mut reader, &mut samples)?;
        progress(stream.frames() as f64 / rate);
    }
    if !reader.is_done() {
        check_same_length(&stream, path, first.frames)?;
        resampler.finish(&mut samples).map_err(resample_error)?;
        feed(&mut reader, &mut samples)?;
    }
    Ok(reader.finish())
}

/// A later pass must read what the first did (the file changed underneath otherwise).
fn check_same_length(
    stream: &MonoStream,
    path: &Path,
    frames: usize,
) -> Result<(), RecordingError> {
    if stream.frames() != frames {
        return Err(RecordingError::Changed {
            path: path.to_owned(),
            first: frames,
            now: stream.frames(),
        });
    }
    Ok(())
}

/// The error of the engine's analysis of `path`.
fn analysis_error(path: &Path, source: PredictError) -> RecordingError {
    RecordingError::Analysis {
        path: path.to_owned(),
        source: Box::new(source),
    }
}

/// The error of reading `span` of `path`.
fn segment_error(path: &Path, span: &SpanRequest, source: PredictError) -> RecordingError {
    RecordingError::Segment {
        path: path.to_owned(),
        span: span.span,
        source: Box::new(source),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reading::Emotion;

    fn reading(start: f64, end: f64) -> Reading {
        Reading {
            span: Span::new(start, end),
            emotion: Emotion::new(0.5, 0.5, 0.5),
            model_id: "m".into(),
            ..Reading::default()
        }
    }

    #[test]
    fn a_timeline_alone_speaks_where_it_was_analysed() {
        // Windows 4..8 and 0..4 (touching) and 10..14: two analysed regions,
        // 0..8 and 10..14; the recording ends with the last window.
        let r = Recording::from_timeline(
            vec![reading(4.0, 8.0), reading(0.0, 4.0), reading(10.0, 14.0)],
            None,
        );
        assert_eq!(r.speech, [Span::new(0.0, 8.0), Span::new(10.0, 14.0)]);
        assert_eq!(r.duration, 14.0);
        assert_eq!(r.timeline[0].span, Span::new(0.0, 4.0));
        assert_eq!(r.segment_readings, None);
        let empty = Recording::from_timeline(Vec::new(), None);
        assert_eq!((empty.duration, empty.speech.len()), (0.0, 0));
    }

    #[test]
    fn text_is_one_segment_over_the_recording_and_blank_text_is_none() {
        let t = TranscriptSource::Text("  what a\n lovely   day ".into())
            .read(3.5)
            .unwrap()
            .unwrap();
        assert_eq!(t.segments().len(), 1);
        let s = &t.segments()[0];
        assert_eq!(
            (s.start, s.end, s.text.as_str()),
            (0.0, 3.5, "what a lovely day")
        );
        assert!(TranscriptSource::Text(" \n".into())
            .read(3.5)
            .unwrap()
            .is_none());
        assert!(TranscriptSource::None.read(3.5).unwrap().is_none());
    }

    #[test]
    fn errors_name_the_file_and_keep_their_cause() {
        let e = RecordingError::Changed {
            path: "talk.wav".into(),
            first: 10,
            now: 8,
        };
        assert_eq!(
            e.to_string(),
            "talk.wav changed while it was analysed (10 frames at first, 8 now)"
        );
        let e = RecordingError::Segment {
            path: "talk.wav".into(),
            span: Span::new(1.0, 2.5),
            source: Box::new(PredictError::NonFinite {
                model: "m".into(),
                values: Box::new(Emotion::new(f32::NAN, 0.0, 0.0)),
            }),
        };
        assert_eq!(
            e.to_string(),
            "analysing the segment 1.000..2.500 s of talk.wav"
        );
        let cause = std::error::Error::source(&e).unwrap().to_string();
        assert!(
            cause.starts_with("the model m produced a non-finite output"),
            "{cause}"
        );
    }
}
