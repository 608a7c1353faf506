//! Annotating one file: find its transcript, analyse the recording
//! ([`emoscope::recording::analyse_recording`]: decode, read the transcript,
//! find the speech, run the engine's windows, read each segment from its
//! own audio and text), build the annotation and write every requested
//! format; the index entry records what each step found.
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
    analyse_recording, AnnotationContext, Opened, RecordingError, RecordingHooks, RecordingOptions,
    TranscriptSource,
};
use emoscope::transcript::{sidecar_for, ReadOptions, Transcript};

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

/// What `annotate` notes in a file's index entry while the runtime
/// analyses it, step by step, so a failure in a later step still leaves
/// what the earlier ones found.
struct Record<'a> {
    entry: &'a mut Entry,
    /// The transcript file, if any.
    transcript_path: Option<PathBuf>,
    /// How to read it.
    source: TranscriptSource,
    /// The progress bar's callback.
    progress: &'a mut dyn FnMut(f64),
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
            .map(|p| p.display().to_string());
        self.entry
            .warnings
            .extend(opened.gaps.iter().map(ToString::to_string));
        Ok(transcript)
    }

    fn progress(&mut self, seconds: f64) {
        (self.progress)(seconds);
    }

    fn windows_analysed(&mut self, analysis: &OfflineAnalysis) {
        self.entry.no_speech_windows = Some(analysis.no_speech.len());
    }
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
    let source = match &transcript_path {
        Some(p) => TranscriptSource::File {
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
    };
    let mut record = Record {
        entry,
        transcript_path,
        source,
        progress,
    };
    let recording = analyse_recording(path, model, &options, &mut record)?;
    let entry = record.entry;
    let doc = recording.into_annotation(&AnnotationContext {
        audio: &audio,
        model: model.id(),
        output_range: model.output_range(),
        config: &s.config,
        labels: s.labels,
    });
    entry.windows = Some(doc.timeline.len());
    entry.mean = Some(mean(&doc));
    let flagged = doc.timeline.iter().filter(|r| r.out_of_range).count();
    entry.out_of_range = (flagged > 0).then_some(flagged);
    write_outputs(&doc, s, files)
}

/// Writes every requested format of `doc` to `files` (see [`outputs`]),
/// creating their folder first.
fn write_outputs(doc: &Annotation, s: &Settings, files: &[(PathBuf, String)]) -> Result<()> {
    for dir in files.iter().filter_map(|(path, _)| path.parent()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut targets = files.iter().map(|(path, _)| path);
    for format in &s.formats {
        emoscope::export::write(*format, doc, |suffix| {
            let target = targets.next().expect("one output path per rendered file");
            debug_assert!(target.to_string_lossy().ends_with(suffix));
            target.clone()
        })?;
    }
    Ok(())
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
