//! Annotating one file: find its transcript (or, when it has none and the
//! run has a speech recogniser, recognise one and write it among the
//! outputs, to be read back like a sidecar), analyse the recording
//! ([`emoscope::recording::analyse_recording`]: decode, read the transcript,
//! find the speech, run the engine's windows, read each segment from its
//! own audio and text), build the annotation and write every requested
//! format; the index entry records what each step found. Speaker turns come
//! from the file `--speakers` gives, else `name.rttm` or `name.stm` beside
//! the audio, else the transcript's own speakers.
//!
//! The runtime streams the file in three passes, so a recording of any
//! length is annotated in the memory of a few packets and one analysis
//! window; the hidden `--whole-file` decodes it whole instead (the
//! reference the streamed passes are tested against: the same outputs).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use emoscope::engine::{AnalysisConfig, EmotionPredictor, OfflineAnalysis};
use emoscope::export::{Annotation, ExportFormat, LabelStyle, OUTPUT_TAG};
use emoscope::recording::{
    analyse_recording, AnnotationContext, Opened, Pass, RecordingError, RecordingHooks,
    RecordingOptions, SpeakerSource, TranscriptSource,
};
use emoscope::transcript::{
    sidecar_for, speakers_sidecar_for, ReadOptions, Speaker, SpeakerTurns, Transcript,
};
use emoscope::Emotion;

use super::fingerprint::{Fingerprint, Words};
use super::index::{Entry, Origin, Status};
use super::inputs::Job;
use crate::asr::Asr;

/// What the name of a recognised transcript has after the stem:
/// [`OUTPUT_TAG`] (so it is never read as a sidecar itself) and the
/// openai-whisper JSON `emoscope transcribe` writes.
pub const ASR_SUFFIX: &str = ".transcript.json";

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
    /// Windows read per model call.
    pub batch: usize,
    /// Only this speaker's readings (`--speaker`).
    pub speaker: Option<Speaker>,
    /// What every output of this run depends on besides the input and its
    /// transcript: the model's files and the settings above.
    pub run_fingerprint: Fingerprint,
    /// The speech recogniser for inputs without a transcript, if this run
    /// has one.
    pub asr: Option<Recogniser>,
    /// The previous run's index entries in this output folder, by input.
    pub previous: HashMap<String, Entry>,
    /// The model's category labels (empty for a dimensional model): they
    /// name a categorical model's Sonic Visualiser layers.
    pub categories: Vec<String>,
}

/// The run's speech recogniser and what its transcripts depend on.
pub struct Recogniser {
    /// The Whisper model, loaded when the first input needs it.
    pub asr: Asr,
    /// Its [`Fingerprint::for_asr`].
    pub fingerprint: Fingerprint,
}

/// How far one job has got, for the progress bar.
#[derive(Debug, Clone, Copy)]
pub enum Step {
    /// Seconds of the file transcribed.
    Transcribed(f64),
    /// Seconds of the file a pass has been through.
    Read(Pass, f64),
}

/// Where one job's transcript comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    /// Nowhere: the audio alone.
    None,
    /// A file that is there (given, or the sidecar).
    File { path: PathBuf, origin: Origin },
    /// Recognised from the audio, written to `path` ([`asr_output`]).
    Asr { path: PathBuf },
}

/// Where the recognised transcript of `job` goes, absolute and relative to
/// the output directory: `stem` + [`OUTPUT_TAG`] + [`ASR_SUFFIX`].
pub fn asr_output(job: &Job, s: &Settings) -> (PathBuf, String) {
    let mut name = job.stem.as_os_str().to_owned();
    name.push(OUTPUT_TAG);
    name.push(ASR_SUFFIX);
    let rel = PathBuf::from(name);
    (s.out.join(&rel), rel.to_string_lossy().into_owned())
}

/// The output files of `job`, absolute and relative to the output directory:
/// `stem` + [`OUTPUT_TAG`] + each format's suffix. (With speakers, Sonic
/// Visualiser writes each speaker's layers besides, named the same way:
/// [`speaker_layers`].)
pub fn outputs(job: &Job, s: &Settings) -> Vec<(PathBuf, String)> {
    s.formats
        .iter()
        .flat_map(|f| f.suffixes_for(&s.categories))
        .map(|suffix| output(job, s, &suffix))
        .collect()
}

/// The output of `job` with `suffix`, absolute and relative to the output directory.
fn output(job: &Job, s: &Settings, suffix: &str) -> (PathBuf, String) {
    let mut name = job.stem.as_os_str().to_owned();
    name.push(OUTPUT_TAG);
    name.push(suffix);
    let rel = PathBuf::from(name);
    (s.out.join(&rel), rel.to_string_lossy().into_owned())
}

/// The outputs of `before` past `now` (the outputs every run of `job`
/// writes) when they are each speaker's Sonic Visualiser layers of a run
/// that writes them, `None` when `before` had other outputs.
fn speaker_layers<'a>(
    job: &Job,
    s: &Settings,
    now: &[String],
    before: &'a [String],
) -> Option<&'a [String]> {
    let extra = before.strip_prefix(now)?;
    let prefix = output(job, s, ".sv-").1;
    let writes_sv = s.formats.contains(&ExportFormat::SonicVisualiser);
    extra
        .iter()
        .all(|rel| writes_sv && rel.starts_with(&prefix) && rel.ends_with(".csv"))
        .then_some(extra)
}

/// Runs `job` with `model`; never fails itself: errors become a failed entry.
/// `progress` is told how many seconds of the file have been transcribed
/// and analysed.
pub fn run(
    job: &Job,
    model: &mut dyn EmotionPredictor,
    s: &Settings,
    progress: &mut dyn FnMut(Step),
) -> Entry {
    let t0 = Instant::now();
    let files = outputs(job, s);
    let mut entry = Entry {
        input: job.input.display().to_string(),
        transcript: None,
        transcript_source: None,
        outputs: files.iter().map(|f| f.1.clone()).collect(),
        status: Status::Ok,
        error: None,
        audio_seconds: None,
        windows: None,
        mean: None,
        mean_probabilities: None,
        out_of_range: None,
        seconds: 0.0,
        fingerprint: None,
        warnings: Vec::new(),
        no_speech_windows: None,
        speakers_file: None,
        speakers: Vec::new(),
    };
    let outcome = (|| -> Result<()> {
        if let Some(problem) = &job.problem {
            bail!("{problem}");
        }
        let source = transcript_source(job, s, &files)?;
        let words = match (&source, &s.asr) {
            (Source::File { path, .. }, _) => Words::File(path),
            (Source::Asr { .. }, Some(r)) => Words::Recognised(&r.fingerprint),
            _ => Words::None,
        };
        let speakers = speakers_source(job, s, &source);
        let speakers_file = match &speakers {
            SpeakerSource::File { path, .. } => Some(path.clone()),
            _ => None,
        };
        let fingerprint = s
            .run_fingerprint
            .for_input(&job.input, words)?
            .with_speakers(speakers_file.as_deref())?;
        entry.fingerprint = Some(fingerprint.to_string());
        let mut written: Vec<PathBuf> = files.iter().map(|f| f.0.clone()).collect();
        if let Source::Asr { path } = &source {
            entry.outputs.push(asr_output(job, s).1);
            written.push(path.clone());
        }
        if !s.force && up_to_date(job, &entry, s, &written) {
            entry.status = Status::Skipped;
            let before = &s.previous[&entry.input];
            entry.outputs = before.outputs.clone();
            entry.transcript = before.transcript.clone();
            entry.transcript_source = before.transcript_source;
            entry.audio_seconds = before.audio_seconds;
            entry.windows = before.windows;
            entry.mean = before.mean;
            entry.mean_probabilities = before.mean_probabilities.clone();
            entry.out_of_range = before.out_of_range;
            entry.warnings = before.warnings.clone();
            entry.no_speech_windows = before.no_speech_windows;
            entry.speakers_file = before.speakers_file.clone();
            entry.speakers = before.speakers.clone();
            return Ok(());
        }
        annotate(
            job,
            model,
            s,
            (source, speakers),
            &files,
            &mut entry,
            progress,
        )
    })();
    if let Err(e) = outcome {
        entry.status = Status::Failed;
        entry.error = Some(format!("{e:#}"));
    }
    entry.seconds = t0.elapsed().as_secs_f64();
    entry
}

/// Whether the previous run annotated this input from the same audio,
/// transcript, model and settings, and all its outputs (`written`, and the
/// speakers' own layers it wrote) are still there.
fn up_to_date(job: &Job, entry: &Entry, s: &Settings, written: &[PathBuf]) -> bool {
    s.previous.get(&entry.input).is_some_and(|before| {
        matches!(before.status, Status::Ok | Status::Skipped)
            && before.fingerprint.is_some()
            && before.fingerprint == entry.fingerprint
            && speaker_layers(job, s, &entry.outputs, &before.outputs)
                .is_some_and(|extra| extra.iter().all(|rel| s.out.join(rel).is_file()))
            && written.iter().all(|p| p.is_file())
    })
}

/// The transcript: none with `--no-transcript`, else the one given, else
/// the sidecar (never one of Emoscope's own outputs), else, when the run
/// has a speech recogniser, one recognised from the audio. A file must not
/// be one of this job's outputs; checked before anything is skipped or
/// written, so no transcript is ever overwritten.
fn transcript_source(job: &Job, s: &Settings, files: &[(PathBuf, String)]) -> Result<Source> {
    if s.no_transcript {
        return Ok(Source::None);
    }
    let found = match &job.transcript {
        Some(t) => Some((t.clone(), Origin::Given)),
        None => sidecar_for(&job.input).map(|t| (t, Origin::Sidecar)),
    };
    let Some((path, origin)) = found else {
        return Ok(match s.asr {
            Some(_) => Source::Asr {
                path: asr_output(job, s).0,
            },
            None => Source::None,
        });
    };
    if let Some((f, _)) = files.iter().find(|(f, _)| same_file(f, &path)) {
        bail!(
            "the output {} would overwrite the transcript {}; write the outputs to another --out folder",
            f.display(),
            path.display()
        );
    }
    Ok(Source::File { path, origin })
}

/// Where the speaker turns of `job` come from: the file given, else a
/// sidecar (`name.rttm`, `name.stm`), else the transcript's own speakers.
/// An STM sidecar that is the transcript too is read once, as the transcript.
fn speakers_source(job: &Job, s: &Settings, transcript: &Source) -> SpeakerSource {
    let path = match &job.speakers {
        Some(p) => Some(p.clone()),
        None => speakers_sidecar_for(&job.input).filter(|p| match transcript {
            Source::File { path, .. } => !same_file(p, path),
            _ => true,
        }),
    };
    match path {
        Some(path) => SpeakerSource::File {
            path,
            options: ReadOptions {
                recording: job
                    .input
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned()),
                strict: s.strict,
                ..ReadOptions::default()
            },
        },
        None => SpeakerSource::Transcript,
    }
}

/// Recognises the speech of `job` with the run's recogniser and writes it
/// to `path` as openai-whisper JSON.
fn recognise(job: &Job, s: &Settings, path: &Path, progress: &mut dyn FnMut(Step)) -> Result<()> {
    let r = s
        .asr
        .as_ref()
        .expect("only a run with a recogniser recognises");
    let done = r
        .asr
        .transcribe(&job.input, &mut |t| progress(Step::Transcribed(t)))
        .context("recognising the speech")?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    emoscope::atomic_write::write_atomic(path, done.to_json().as_bytes())
        .with_context(|| format!("writing the recognised transcript {}", path.display()))
}

/// What `annotate` notes in a file's index entry while the runtime
/// analyses it, step by step, so a failure in a later step still leaves
/// what the earlier ones found.
struct Record<'a> {
    entry: &'a mut Entry,
    /// The transcript file, if any, and where it came from.
    transcript_path: Option<(PathBuf, Origin)>,
    /// How to read it.
    source: TranscriptSource,
    /// Where the speaker turns come from.
    speakers: SpeakerSource,
    /// The progress bar's callback.
    progress: &'a mut dyn FnMut(Step),
}

impl RecordingHooks for Record<'_> {
    /// The audio's length, then the transcript (its warnings and path),
    /// then the corrupt stretches of the audio, as warnings.
    fn transcript(&mut self, opened: Opened<'_>) -> Result<Option<Transcript>, RecordingError> {
        self.entry.audio_seconds = Some(opened.duration);
        let transcript = self.source.read(opened.duration)?;
        if let Some(t) = &transcript {
            self.entry.warnings = t.warnings().iter().map(ToString::to_string).collect();
        }
        self.entry.transcript = self
            .transcript_path
            .as_ref()
            .map(|(p, _)| p.display().to_string());
        self.entry.transcript_source = self.transcript_path.as_ref().map(|(_, o)| *o);
        self.entry
            .warnings
            .extend(opened.gaps.iter().map(ToString::to_string));
        Ok(transcript)
    }

    fn progress(&mut self, pass: Pass, seconds: f64) {
        (self.progress)(Step::Read(pass, seconds));
    }

    fn windows_analysed(&mut self, analysis: &OfflineAnalysis) {
        self.entry.no_speech_windows = Some(analysis.no_speech.len());
    }

    /// The speaker turns (the file's repairs as warnings, its path).
    fn speakers(
        &mut self,
        opened: Opened<'_>,
        transcript: &mut Option<Transcript>,
    ) -> Result<Option<SpeakerTurns>, RecordingError> {
        let turns = self.speakers.read(opened.duration, transcript)?;
        if let SpeakerSource::File { path, .. } = &self.speakers {
            self.entry.speakers_file = Some(path.display().to_string());
        }
        if let Some(t) = &turns {
            self.entry
                .warnings
                .extend(t.warnings().iter().map(ToString::to_string));
        }
        Ok(turns)
    }
}

fn annotate(
    job: &Job,
    model: &mut dyn EmotionPredictor,
    s: &Settings,
    (source, speakers): (Source, SpeakerSource),
    files: &[(PathBuf, String)],
    entry: &mut Entry,
    progress: &mut dyn FnMut(Step),
) -> Result<()> {
    let path = &job.input;
    let audio = std::path::absolute(path).unwrap_or_else(|_| path.clone());
    let audio = audio.to_string_lossy();
    // A recognised transcript is read back from its file like a sidecar,
    // so the outputs are those of a run with that file as the sidecar.
    let transcript_path = match source {
        Source::None => None,
        Source::File { path, origin } => Some((path, origin)),
        Source::Asr { path } => {
            recognise(job, s, &path, progress)?;
            Some((path, Origin::Asr))
        }
    };
    let source = match &transcript_path {
        Some((p, _)) => TranscriptSource::File {
            path: p.clone(),
            options: ReadOptions {
                tier: s.tier.clone(),
                strict: s.strict,
                ..ReadOptions::default()
            },
        },
        None => TranscriptSource::None,
    };
    let options = RecordingOptions {
        config: &s.config,
        analyse_silence: s.analyse_silence,
        whole_file: s.whole_file,
        batch: Some(s.batch),
        speaker: s.speaker.as_ref(),
    };
    let mut record = Record {
        entry,
        transcript_path,
        source,
        speakers,
        progress,
    };
    let recording = analyse_recording(path, model, &options, &mut record)?;
    let entry = record.entry;
    let doc = recording.into_annotation(&AnnotationContext {
        audio: &audio,
        model: model.id(),
        output_range: model.output_range(),
        categories: model.categories(),
        config: &s.config,
        labels: s.labels,
    });
    entry.windows = Some(doc.timeline.len());
    let mean = Emotion::weighted_mean(doc.timeline.iter().map(|r| (1.0, r.emotion)));
    entry.mean = mean.filter(Emotion::has_dimensions).map(|m| m.dimensions());
    entry.mean_probabilities = mean.filter(|_| !doc.categories.is_empty()).map(|m| {
        let p = m.probabilities.as_slice();
        doc.categories
            .iter()
            .cloned()
            .zip(p.iter().copied())
            .collect()
    });
    let flagged = doc.timeline.iter().filter(|r| r.out_of_range).count();
    entry.out_of_range = (flagged > 0).then_some(flagged);
    entry.speakers = doc.speakers.clone();
    let extra = write_outputs(job, &doc, s, files)?;
    entry.outputs.extend(extra);
    Ok(())
}

/// Writes every requested format of `doc` to `files` (see [`outputs`]),
/// creating their folder first; returns the files written besides them
/// (each speaker's own layers), relative to the output directory.
fn write_outputs(
    job: &Job,
    doc: &Annotation,
    s: &Settings,
    files: &[(PathBuf, String)],
) -> Result<Vec<String>> {
    for dir in files.iter().filter_map(|(path, _)| path.parent()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut extra = Vec::new();
    for format in &s.formats {
        emoscope::export::write(*format, doc, |suffix| {
            let (path, rel) = output(job, s, suffix);
            if !format
                .suffixes_for(&s.categories)
                .iter()
                .any(|own| own == suffix)
            {
                extra.push(rel);
            }
            path
        })?;
    }
    debug_assert!(files.iter().all(|(path, _)| path.is_file()));
    Ok(extra)
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}
