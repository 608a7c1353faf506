//! Annotating one file: decode, find the transcript, run the engine's
//! offline analysis, detect speech, read each segment from its own audio and
//! text, build the annotation and write every requested format.
//!
//! The audio is streamed from the file in three passes, so a recording of
//! any length is annotated in the memory of a few packets and one analysis
//! window ([`streamed`]): the first finds its length and its speech, the
//! second runs the engine's analysis, the third reads each segment (and
//! stops after the last). Each
//! pass gives the model the same samples, in the same order, as the
//! whole-file path ([`whole_file`], kept as the reference behind the hidden
//! `--whole-file`), so the outputs are identical.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use emoscope::atomic_write::write_atomic;
use emoscope::audio::vad::{speech_regions, SpeechDetector, VadConfig};
use emoscope::audio::{
    decode_file, downmix_checked, resample_mono, Gap, MonoStream, StreamResampler,
};
use emoscope::engine::{
    analyze_offline_with, predict_span, AnalysisConfig, EmotionPredictor, OfflineAnalysis,
    OfflineOptions, OfflineRun, SpanReader, SpanRequest, WindowResult,
};
use emoscope::export::{render, Annotation, BuildInfo, ExportFormat, LabelStyle, OUTPUT_TAG};
use emoscope::transcript::{read_file, sidecar_for, ReadOptions, Transcript};
use emoscope::{Emotion, OutputRange, Reading, Span};

use super::fingerprint::Fingerprint;
use super::index::{Entry, Status};
use super::inputs::Job;

/// Settings shared by every job of a run.
pub struct Settings {
    /// Output directory.
    pub out: PathBuf,
    /// Formats to write.
    pub formats: Vec<ExportFormat>,
    /// Analysis window, hop and smoothing.
    pub config: AnalysisConfig,
    /// Label style.
    pub labels: LabelStyle,
    /// Recompute even when the previous run's outputs are up to date.
    pub force: bool,
    /// The TextGrid or EAF tier holding the segments, instead of the reader's choice.
    pub tier: Option<String>,
    /// Analyse audio only: no transcript, not even a sidecar.
    pub no_transcript: bool,
    /// Transcript repairs are errors.
    pub strict: bool,
    /// Run the model on every window, speech or not (default: windows
    /// without speech get no reading).
    pub analyse_silence: bool,
    /// Decode each file whole before analysing it (the reference for the
    /// streamed analysis; the same outputs).
    pub whole_file: bool,
    /// What every output of this run depends on besides the input and its
    /// transcript: the model's files and the settings above.
    pub run_fingerprint: Fingerprint,
    /// The previous run's index entries in this output folder, by input.
    pub previous: HashMap<String, Entry>,
}

/// The output files of `job`, absolute and relative to the output directory:
/// `stem` + [`OUTPUT_TAG`] + each format's suffix.
pub fn outputs(job: &Job, s: &Settings) -> Vec<(PathBuf, String)> {
    s.formats
        .iter()
        .flat_map(|f| f.suffixes().iter())
        .map(|suffix| {
            let mut name = job.stem.as_os_str().to_owned();
            name.push(OUTPUT_TAG);
            name.push(suffix);
            let rel = PathBuf::from(name);
            (s.out.join(&rel), rel.to_string_lossy().into_owned())
        })
        .collect()
}

/// Runs `job` with `model`; never fails itself: errors become a failed entry.
/// `progress` is told how many seconds of the file have been analysed.
pub fn run(
    job: &Job,
    model: &mut dyn EmotionPredictor,
    s: &Settings,
    progress: &mut dyn FnMut(f64),
) -> Entry {
    let t0 = Instant::now();
    let files = outputs(job, s);
    let mut entry = Entry {
        input: job.input.display().to_string(),
        transcript: None,
        outputs: files.iter().map(|f| f.1.clone()).collect(),
        status: Status::Ok,
        error: None,
        audio_seconds: None,
        windows: None,
        mean: None,
        out_of_range: None,
        seconds: 0.0,
        fingerprint: None,
        warnings: Vec::new(),
        no_speech_windows: None,
    };
    let outcome = (|| -> Result<()> {
        if let Some(problem) = &job.problem {
            bail!("{problem}");
        }
        let transcript = transcript_path(job, s, &files)?;
        let fingerprint = s
            .run_fingerprint
            .for_input(&job.input, transcript.as_deref())?;
        entry.fingerprint = Some(fingerprint.to_string());
        if !s.force && up_to_date(&entry, s, &files) {
            entry.status = Status::Skipped;
            let before = &s.previous[&entry.input];
            entry.transcript = before.transcript.clone();
            entry.audio_seconds = before.audio_seconds;
            entry.windows = before.windows;
            entry.mean = before.mean;
            entry.out_of_range = before.out_of_range;
            entry.warnings = before.warnings.clone();
            entry.no_speech_windows = before.no_speech_windows;
            return Ok(());
        }
        annotate(job, model, s, transcript, &files, &mut entry, progress)
    })();
    if let Err(e) = outcome {
        entry.status = Status::Failed;
        entry.error = Some(format!("{e:#}"));
    }
    entry.seconds = t0.elapsed().as_secs_f64();
    entry
}

/// Whether the previous run annotated this input from the same audio,
/// transcript, model and settings, and all its outputs are still there.
fn up_to_date(entry: &Entry, s: &Settings, files: &[(PathBuf, String)]) -> bool {
    s.previous.get(&entry.input).is_some_and(|before| {
        matches!(before.status, Status::Ok | Status::Skipped)
            && before.fingerprint.is_some()
            && before.fingerprint == entry.fingerprint
            && before.outputs == entry.outputs
            && files.iter().all(|(p, _)| p.is_file())
    })
}

/// The transcript: none with `--no-transcript`, else the one given, else
/// the sidecar (never one of Emoscope's own outputs). It must not be one of
/// this job's outputs either; checked before anything is skipped or
/// written, so no transcript is ever overwritten.
fn transcript_path(
    job: &Job,
    s: &Settings,
    files: &[(PathBuf, String)],
) -> Result<Option<PathBuf>> {
    if s.no_transcript {
        return Ok(None);
    }
    let path = job.transcript.clone().or_else(|| sidecar_for(&job.input));
    if let Some(t) = &path {
        if let Some((f, _)) = files.iter().find(|(f, _)| same_file(f, t)) {
            bail!(
                "the output {} would overwrite the transcript {}; write the outputs to another --out folder",
                f.display(),
                t.display()
            );
        }
    }
    Ok(path)
}

/// What the analysis of a file found, before the document is built.
struct Analysed {
    /// Seconds of audio.
    duration: f64,
    /// Speech regions from the voice-activity detector.
    speech: Vec<Span>,
    /// The transcript read, if any.
    transcript: Option<Transcript>,
    /// The engine's windows (smoothed) and the windows left out for want of speech.
    timeline: Vec<Reading>,
    no_speech: Vec<Span>,
    /// A reading per segment of [`Annotation::segment_spans`].
    readings: Vec<Emotion>,
}

impl Analysed {
    /// The analysis of a file before its segments are read; the count of
    /// windows left out goes to `entry`.
    fn new(
        duration: f64,
        speech: Vec<Span>,
        transcript: Option<Transcript>,
        analysis: OfflineAnalysis,
        entry: &mut Entry,
    ) -> Self {
        entry.no_speech_windows = Some(analysis.no_speech.len());
        Self {
            duration,
            speech,
            transcript,
            timeline: timeline_of(analysis.windows),
            no_speech: analysis.no_speech,
            readings: Vec::new(),
        }
    }
}

/// The file's transcript (if any), read with the audio's length; its
/// warnings and path go to `entry`.
fn read_transcript(
    s: &Settings,
    transcript_path: Option<PathBuf>,
    duration: f64,
    entry: &mut Entry,
) -> Result<Option<Transcript>> {
    let transcript = match &transcript_path {
        Some(p) => Some(read_file(
            p,
            &ReadOptions {
                audio_seconds: Some(duration),
                tier: s.tier.clone(),
                strict: s.strict,
                ..Default::default()
            },
        )?),
        None => None,
    };
    if let Some(t) = &transcript {
        entry.warnings = t.warnings().iter().map(ToString::to_string).collect();
    }
    entry.transcript = transcript_path.map(|p| p.display().to_string());
    Ok(transcript)
}

/// The readings of the engine's windows.
fn timeline_of(windows: Vec<WindowResult>) -> Vec<Reading> {
    windows.into_iter().map(|w| w.reading).collect()
}

/// The build info of a file's document.
fn build_info<'a>(
    audio: &'a str,
    model_id: &'a str,
    output_range: OutputRange,
    s: &'a Settings,
    a: &'a Analysed,
) -> BuildInfo<'a> {
    BuildInfo {
        audio,
        duration: a.duration,
        model: model_id,
        output_range,
        config: &s.config,
        speech: &a.speech,
        transcript: a.transcript.as_ref(),
        labels: s.labels,
        no_speech: &a.no_speech,
    }
}

/// The segments to read, as span requests.
fn segment_requests(info: &BuildInfo<'_>) -> Vec<SpanRequest> {
    Annotation::segment_spans(info)
        .into_iter()
        .map(|span| SpanRequest {
            span: span.span,
            text: span.text,
        })
        .collect()
}

fn annotate(
    job: &Job,
    model: &mut dyn EmotionPredictor,
    s: &Settings,
    transcript_path: Option<PathBuf>,
    files: &[(PathBuf, String)],
    entry: &mut Entry,
    progress: &mut dyn FnMut(f64),
) -> Result<()> {
    let path = &job.input;
    let audio = std::path::absolute(path).unwrap_or_else(|_| path.clone());
    let audio = audio.to_string_lossy();
    let analysed = if s.whole_file {
        whole_file(path, &audio, model, s, transcript_path, entry, progress)?
    } else {
        streamed(path, &audio, model, s, transcript_path, entry, progress)?
    };
    let model_id = model.id().to_owned();
    let info = build_info(&audio, &model_id, model.output_range(), s, &analysed);
    let doc = Annotation::build_with_segment_readings(
        analysed.timeline.clone(),
        &info,
        &analysed.readings,
    );
    entry.windows = Some(doc.timeline.len());
    entry.mean = Some(mean(&doc));
    let flagged = doc.timeline.iter().filter(|r| r.out_of_range).count();
    entry.out_of_range = (flagged > 0).then_some(flagged);
    let mut written = files.iter();
    for format in &s.formats {
        for file in render(*format, &doc) {
            let (target, _) = written.next().expect("one output path per rendered file");
            debug_assert!(target.to_string_lossy().ends_with(file.suffix));
            if let Some(dir) = target.parent() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
            }
            write_atomic(target, &file.bytes)
                .with_context(|| format!("writing {}", target.display()))?;
        }
    }
    Ok(())
}

/// The analysis with the whole file decoded into memory (the reference).
fn whole_file(
    path: &Path,
    audio: &str,
    model: &mut dyn EmotionPredictor,
    s: &Settings,
    transcript_path: Option<PathBuf>,
    entry: &mut Entry,
    progress: &mut dyn FnMut(f64),
) -> Result<Analysed> {
    let decoded = decode_file(path)?;
    let mono = downmix_checked(&decoded, path)?;
    let rate = decoded.sample_rate;
    let duration = mono.len() as f64 / f64::from(rate);
    entry.audio_seconds = Some(duration);
    let transcript = read_transcript(s, transcript_path, duration, entry)?;
    note_gaps(&decoded.gaps, entry);
    let speech = speech_regions(&mono, rate, &VadConfig::default())?;
    let analysis = analyze_offline_with(
        &mono,
        rate as f32,
        model,
        &s.config,
        OfflineOptions {
            transcript: transcript.as_ref(),
            speech: (!s.analyse_silence).then_some(speech.as_slice()),
            progress: Some(progress),
        },
    )
    .with_context(|| format!("analysing {}", path.display()))?;
    let mut a = Analysed::new(duration, speech, transcript, analysis, entry);
    // Each segment from its own audio and its own text.
    let model_id = model.id().to_owned();
    let spans = segment_requests(&build_info(audio, &model_id, model.output_range(), s, &a));
    let samples = resample_mono(&mono, rate, model.sample_rate())
        .with_context(|| format!("resampling {}", path.display()))?;
    drop(mono);
    for span in &spans {
        let r = predict_span(
            model,
            &samples,
            span.span,
            &span.text,
            s.config.window_seconds,
        )
        .with_context(|| segment_context(span, path))?;
        a.readings.push(r);
    }
    Ok(a)
}

/// The analysis streamed from the file in three passes (see the module docs).
fn streamed(
    path: &Path,
    audio: &str,
    model: &mut dyn EmotionPredictor,
    s: &Settings,
    transcript_path: Option<PathBuf>,
    entry: &mut Entry,
    progress: &mut dyn FnMut(f64),
) -> Result<Analysed> {
    // Pass 1: length, rate and speech.
    let mut stream = MonoStream::open(path)?;
    let mut vad: Option<SpeechDetector> = None;
    while stream.advance()? {
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
    let frames = stream.frames();
    let _ = stream.truncation();
    for gap in stream.gaps() {
        tracing::warn!("{gap}");
    }
    let speech = vad
        .expect("a stream that ended without error had samples")
        .finish()?;
    let duration = frames as f64 / f64::from(rate);
    entry.audio_seconds = Some(duration);
    let transcript = read_transcript(s, transcript_path, duration, entry)?;
    note_gaps(stream.gaps(), entry);

    // Pass 2: the engine's windows.
    let analysis = {
        let mut run = OfflineRun::new(
            rate as f32,
            model,
            &s.config,
            OfflineOptions {
                transcript: transcript.as_ref(),
                speech: (!s.analyse_silence).then_some(speech.as_slice()),
                progress: Some(progress),
            },
        );
        let mut stream = MonoStream::open(path)?;
        while stream.advance()? {
            run.push(stream.block())
                .with_context(|| format!("analysing {}", path.display()))?;
        }
        check_same_length(&stream, path, frames)?;
        run.finish()
            .with_context(|| format!("analysing {}", path.display()))?
    };
    let mut a = Analysed::new(duration, speech, transcript, analysis, entry);

    // Pass 3: each segment from its own audio and its own text.
    let model_id = model.id().to_owned();
    let spans = segment_requests(&build_info(audio, &model_id, model.output_range(), s, &a));
    let mut resampler = StreamResampler::new(rate, model.sample_rate())
        .with_context(|| format!("resampling {}", path.display()))?;
    let len = resampler.output_len(frames);
    let mut reader = SpanReader::new(model, &spans, len, s.config.window_seconds);
    let mut stream = MonoStream::open(path)?;
    let mut samples = Vec::new();
    let feed = |reader: &mut SpanReader<'_>, samples: &mut Vec<f32>| -> Result<()> {
        let at = reader.current_span();
        reader
            .push(samples)
            .with_context(|| match at.map(|i| &spans[i]) {
                Some(span) => segment_context(span, path),
                None => format!("analysing {}", path.display()),
            })?;
        samples.clear();
        Ok(())
    };
    // Up to the end of the last segment (no further when there is none).
    while !reader.is_done() && stream.advance()? {
        resampler
            .push(stream.block(), &mut samples)
            .with_context(|| format!("resampling {}", path.display()))?;
        feed(&mut reader, &mut samples)?;
    }
    if !reader.is_done() {
        check_same_length(&stream, path, frames)?;
        resampler
            .finish(&mut samples)
            .with_context(|| format!("resampling {}", path.display()))?;
        feed(&mut reader, &mut samples)?;
    }
    a.readings = reader.finish();
    Ok(a)
}

/// Corrupt stretches of the audio, filled with silence, join the entry's warnings.
fn note_gaps(gaps: &[Gap], entry: &mut Entry) {
    entry.warnings.extend(gaps.iter().map(ToString::to_string));
}

/// A later pass must read what the first did (the file changed underneath otherwise).
fn check_same_length(stream: &MonoStream, path: &Path, frames: usize) -> Result<()> {
    if stream.frames() != frames {
        bail!(
            "{} changed while it was analysed ({} frames at first, {} now)",
            path.display(),
            frames,
            stream.frames()
        );
    }
    Ok(())
}

/// The context of an error reading `span` of `path`.
fn segment_context(span: &SpanRequest, path: &Path) -> String {
    format!(
        "analysing the segment {:.3}..{:.3} s of {}",
        span.span.start,
        span.span.end,
        path.display()
    )
}

/// Mean arousal, valence, dominance over the document's windows (with
/// speech-gated analysis, the windows with speech).
fn mean(doc: &Annotation) -> [f32; 3] {
    let n = doc.timeline.len().max(1) as f32;
    let sum = doc.timeline.iter().fold([0.0f32; 3], |a, r| {
        let e = r.emotion;
        [a[0] + e.arousal, a[1] + e.valence, a[2] + e.dominance]
    });
    [sum[0] / n, sum[1] / n, sum[2] / n]
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}
