//! Annotating one file: decode, find the transcript, run the engine's
//! offline analysis, detect speech, build the annotation and write every
//! requested format.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use emoscope::audio::vad::{speech_regions, VadConfig};
use emoscope::audio::{decode_file, downmix_checked};
use emoscope::engine::{analyze_offline, AnalysisConfig, EmotionPredictor, TimelineEntry};
use emoscope::export::{render, Annotation, BuildInfo, ExportFormat, LabelStyle};
use emoscope::transcript::{read_file, sidecar_for, ReadOptions};

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
    /// Recompute even when every output exists.
    pub force: bool,
    /// The TextGrid or EAF tier holding the segments, instead of the reader's choice.
    pub tier: Option<String>,
}

/// The output files of `job`, absolute and relative to the output directory.
pub fn outputs(job: &Job, s: &Settings) -> Vec<(PathBuf, String)> {
    s.formats
        .iter()
        .flat_map(|f| f.suffixes().iter())
        .map(|suffix| {
            let mut name = job.stem.as_os_str().to_owned();
            name.push(suffix);
            let rel = PathBuf::from(name);
            (s.out.join(&rel), rel.to_string_lossy().into_owned())
        })
        .collect()
}

/// Runs `job` with `model`; never fails itself: errors become a failed entry.
pub fn run(job: &Job, model: &mut dyn EmotionPredictor, s: &Settings) -> Entry {
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
        seconds: 0.0,
    };
    if let Err(e) = transcript_path(job, &files) {
        entry.status = Status::Failed;
        entry.error = Some(format!("{e:#}"));
    } else if !s.force && files.iter().all(|(p, _)| p.is_file()) {
        entry.status = Status::Skipped;
        summarise_existing(&mut entry, &files);
    } else if let Err(e) = annotate(job, model, s, &files, &mut entry) {
        entry.status = Status::Failed;
        entry.error = Some(format!("{e:#}"));
    }
    entry.seconds = t0.elapsed().as_secs_f64();
    entry
}

/// The transcript: given, or the sidecar. It must not be one of the outputs
/// (an output folder equal to the input folder would put `name.json` on a
/// whisper sidecar, `name.txt` on a text one); checked before anything is
/// skipped or written, so no transcript is ever taken for a finished output
/// or overwritten.
fn transcript_path(job: &Job, files: &[(PathBuf, String)]) -> Result<Option<PathBuf>> {
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
    files: &[(PathBuf, String)],
    entry: &mut Entry,
) -> Result<()> {
    let path = &job.input;
    let decoded = decode_file(path)?;
    let mono = downmix_checked(&decoded, path)?;
    let rate = decoded.sample_rate;
    let duration = mono.len() as f64 / f64::from(rate);
    entry.audio_seconds = Some(duration);

    let transcript_path = transcript_path(job, files)?;
    let transcript = match &transcript_path {
        Some(p) => Some(read_file(
            p,
            &ReadOptions {
                audio_seconds: Some(duration),
                tier: s.tier.clone(),
                ..Default::default()
            },
        )?),
        None => None,
    };
    entry.transcript = transcript_path.map(|p| p.display().to_string());

    let windows = analyze_offline(&mono, rate as f32, model, &s.config, transcript.as_ref())
        .with_context(|| format!("analysing {}", path.display()))?;
    let timeline: Vec<TimelineEntry> = windows
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
    let speech = speech_regions(&mono, rate, &VadConfig::default())?;
    let audio = std::path::absolute(path).unwrap_or_else(|_| path.clone());
    let doc = Annotation::build(
        &timeline,
        &BuildInfo {
            audio: &audio.to_string_lossy(),
            duration,
            model: model.id(),
            output_range: model.output_range(),
            config: &s.config,
            speech: &speech,
            transcript: transcript.as_ref(),
            labels: s.labels,
        },
    );
    entry.windows = Some(doc.timeline.len());
    entry.mean = Some(mean(&doc));
    let mut written = files.iter();
    for format in &s.formats {
        for file in render(*format, &doc) {
            let (target, _) = written.next().expect("one output path per rendered file");
            debug_assert!(target.to_string_lossy().ends_with(file.suffix));
            if let Some(dir) = target.parent() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
            }
            super::write_atomic(target, &file.bytes)
                .with_context(|| format!("writing {}", target.display()))?;
        }
    }
    Ok(())
}

/// Mean arousal, valence, dominance over the document's windows.
fn mean(doc: &Annotation) -> [f32; 3] {
    let n = doc.timeline.len().max(1) as f32;
    let sum = doc.timeline.iter().fold([0.0f32; 3], |a, r| {
        [a[0] + r.arousal, a[1] + r.valence, a[2] + r.dominance]
    });
    [sum[0] / n, sum[1] / n, sum[2] / n]
}

/// For a skipped input, the summary from its JSON output when there is one.
fn summarise_existing(entry: &mut Entry, files: &[(PathBuf, String)]) {
    let Some((json, _)) = files
        .iter()
        .find(|(p, _)| p.extension().is_some_and(|e| e == "json"))
    else {
        return;
    };
    if let Some(doc) = std::fs::read_to_string(json)
        .ok()
        .and_then(|t| Annotation::from_json(&t).ok())
    {
        entry.audio_seconds = Some(doc.duration);
        entry.windows = Some(doc.timeline.len());
        entry.mean = Some(mean(&doc));
        entry.transcript = None;
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}
