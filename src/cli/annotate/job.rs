//! Annotating one file: decode, find the transcript, run the engine's
//! offline analysis, detect speech, read each segment from its own audio and
//! text, build the annotation and write every requested format.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use emoscope::atomic_write::write_atomic;
use emoscope::audio::vad::{speech_regions, VadConfig};
use emoscope::audio::{decode_file, downmix_checked, resample_mono};
use emoscope::engine::{
    analyze_offline_with, predict_span, AnalysisConfig, EmotionPredictor, OfflineOptions,
    TimelineEntry,
};
use emoscope::export::{render, Annotation, BuildInfo, ExportFormat, LabelStyle, OUTPUT_TAG};
use emoscope::transcript::{read_file, sidecar_for, ReadOptions};

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
    let decoded = decode_file(path)?;
    let mono = downmix_checked(&decoded, path)?;
    let rate = decoded.sample_rate;
    let duration = mono.len() as f64 / f64::from(rate);
    entry.audio_seconds = Some(duration);

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
    let timeline: Vec<TimelineEntry> = analysis
        .windows
        .into_iter()
        .map(|w| TimelineEntry {
            start: w.start,
            end: w.end,
            arousal: w.smoothed.arousal,
            valence: w.smoothed.valence,
            dominance: w.smoothed.dominance,
            text: w.text,
            model_id: model.id().to_owned(),
        })
        .collect();
    entry.no_speech_windows = Some(analysis.no_speech.len());
    let audio = std::path::absolute(path).unwrap_or_else(|_| path.clone());
    let model_id = model.id().to_owned();
    let info = BuildInfo {
        audio: &audio.to_string_lossy(),
        duration,
        model: &model_id,
        output_range: model.output_range(),
        config: &s.config,
        speech: &speech,
        transcript: transcript.as_ref(),
        labels: s.labels,
        no_speech: &analysis.no_speech,
    };
    // Each segment from its own audio and its own text.
    let spans = Annotation::segment_spans(&info);
    let model_rate = model.sample_rate();
    let samples = resample_mono(&mono, rate, model_rate)
        .with_context(|| format!("resampling {}", path.display()))?;
    let mut readings = Vec::with_capacity(spans.len());
    for span in &spans {
        let r = predict_span(
            model,
            &samples,
            span.start,
            span.end,
            &span.text,
            s.config.window_seconds,
        )
        .with_context(|| {
            format!(
                "analysing the segment {:.3}..{:.3} s of {}",
                span.start,
                span.end,
                path.display()
            )
        })?;
        readings.push([r.arousal, r.valence, r.dominance]);
    }
    let doc = Annotation::build_with_segment_readings(&timeline, &info, &readings);
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

/// Mean arousal, valence, dominance over the document's windows (with
/// speech-gated analysis, the windows with speech).
fn mean(doc: &Annotation) -> [f32; 3] {
    let n = doc.timeline.len().max(1) as f32;
    let sum = doc.timeline.iter().fold([0.0f32; 3], |a, r| {
        [a[0] + r.arousal, a[1] + r.valence, a[2] + r.dominance]
    });
    [sum[0] / n, sum[1] / n, sum[2] / n]
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}
