//! `emoscope annotate`: the engine's offline analysis over files, folders or
//! a manifest, writing markers and timelines in every format annotation
//! tools import (see `emoscope::export`), with a progress bar, parallel
//! jobs, deterministic shards for job arrays, resumption and an index.
//!
//! Outputs are named `<stem>.emoscope.<format suffix>` (see
//! [`emoscope::export::OUTPUT_TAG`]) so that they are never read back as a
//! transcript sidecar. When the model has a text branch, an input with no
//! transcript (none given, no sidecar) is transcribed by Whisper
//! ([`crate::asr`]; `--asr-model`, `--no-asr`) into
//! `<stem>.emoscope.transcript.json` among the outputs, and analysed with
//! it as with a sidecar; without an installed speech-recognition model such
//! inputs are analysed from their audio alone, after one note saying so.
//! A resumed run skips an input only when the previous
//! run's index records the same fingerprint (audio, transcript or speech
//! recogniser, model, settings; see `fingerprint`) and its outputs are all there; skipped
//! inputs keep the previous run's readings in the new index. A failure of
//! one input (missing, unreadable, a bad manifest line, a broken model
//! output) is that input's failure: the others still run, and the exit
//! code says that some failed.

mod fingerprint;
mod index;
mod inputs;
mod job;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use candle_core::Device;
use emoscope::engine::{AnalysisConfig, EmotionPredictor};
use emoscope::export::{ExportFormat, LabelStyle};
use indicatif::{ProgressBar, ProgressStyle};

use super::asr::{AsrArgs, Recognition};
use super::device::{DeviceArg, PrecisionArg};
use super::output::note;
use super::window::WindowArgs;
use emoscope::recording::Pass;
use fingerprint::Fingerprint;
use index::{Entry, Index, Status, INDEX_FORMAT};
use inputs::{Job, Shard};
use job::{Recogniser, Step};

pub use index::merge as merge_indexes;
pub use index::write as write_index;

/// Arguments of `emoscope annotate`.
#[derive(clap::Args)]
pub struct Args {
    /// Audio files (WAV, FLAC, MP3, Ogg Vorbis, AIFF) and folders (searched recursively).
    inputs: Vec<PathBuf>,
    /// A manifest: one audio path per line, optionally `<TAB>transcript path`; paths relative to the manifest.
    #[arg(long)]
    manifest: Vec<PathBuf>,
    /// The transcript of the (single) input, instead of a sidecar next to it
    /// (`name.srt`, `.vtt`, `.TextGrid`, `.eaf`, `.json`, `.txt`).
    #[arg(long)]
    transcript: Option<PathBuf>,
    /// Comma list of audacity, reaper, sv, textgrid, eaf, vtt, csv, json, midi; or `all`.
    #[arg(long, default_value = "all", value_parser = |s: &str| ExportFormat::parse_list(s).map(Formats))]
    format: Formats,
    /// Output folder; outputs are named after the input (a folder's layout is mirrored).
    #[arg(long, default_value = "emoscope-out")]
    out: PathBuf,
    /// Model directory [default: $EMOSCOPE_MODEL, else <data dir>/emoscope/default-model].
    #[arg(long)]
    model: Option<PathBuf>,
    /// Files analysed in parallel (each job holds its own copy of the model).
    #[arg(long, default_value_t = 1)]
    jobs: usize,
    /// Only do shard I of N (0-based; e.g. `--shard $SLURM_ARRAY_TASK_ID/8`); then `emoscope merge`.
    #[arg(long)]
    shard: Option<Shard>,
    /// Recompute every file, even those whose outputs are up to date (same
    /// audio, transcript, model and settings as the run that wrote them).
    #[arg(long)]
    force: bool,
    /// Who speaks when in the (single) input: an RTTM file (diarisation
    /// output), an STM file, or any transcript that names its speakers
    /// (WhisperX, ELAN, TextGrid, WebVTT voices). Default: `name.rttm` or
    /// `name.stm` beside the audio, else the speakers the transcript names.
    /// With speaker turns, each turn is analysed on its own and every
    /// reading names its speaker.
    #[arg(long, value_name = "FILE")]
    speakers: Option<PathBuf>,
    /// Only this speaker's readings (a name the speaker turns use; an
    /// input whose turns do not name it fails, listing those they do).
    #[arg(long, value_name = "NAME")]
    speaker: Option<String>,
    /// Analyse the audio only: read no transcript, not even a sidecar, and
    /// transcribe nothing.
    #[arg(long, conflicts_with = "transcript")]
    no_transcript: bool,
    /// Speech recognition for inputs without a transcript (when the model
    /// has a text branch).
    #[command(flatten)]
    asr: AsrArgs,
    /// Run the model on every window, as earlier versions did: by default,
    /// windows in which the voice-activity detector finds no speech get no
    /// reading (shown as "no speech" in the JSON, the plot and the labels).
    #[arg(long)]
    analyse_silence: bool,
    /// Treat every repair or skip in a transcript (a cue without a timing
    /// line, an unknown encoding guessed, ...) as an error that fails its
    /// file, instead of a warning.
    #[arg(long)]
    strict: bool,
    #[command(flatten)]
    windowing: WindowArgs,
    /// The TextGrid or EAF tier whose annotations are the transcript segments
    /// (default: the first interval tier / top-level tier with annotations).
    #[arg(long)]
    tier: Option<String>,
    /// Add the circumplex quadrant (excited, tense, subdued, calm) to segment labels.
    #[arg(long)]
    quadrants: bool,
    /// Device to run on.
    #[arg(long, value_enum, default_value = "cpu")]
    device: DeviceArg,
    /// Number format of the model's computation: `auto` is bf16 on a CPU
    /// with AVX512-BF16 for a model whose manifest records a bf16 check
    /// within budget (the installed demo model does), else f32.
    #[arg(long, value_enum, default_value = "auto")]
    precision: PrecisionArg,
    /// Windows read per model call (the readings are the same whatever the
    /// batch; larger batches use the encoder better, on GPUs especially).
    #[arg(long, default_value_t = emoscope::engine::DEFAULT_BATCH, value_parser = batch_size)]
    batch: usize,
    /// Decode each file whole into memory before analysing it (the
    /// reference the streamed analysis is tested against: the same outputs,
    /// memory growing with the file's length).
    #[arg(long, hide = true)]
    whole_file: bool,
}

/// `--batch`: 1 to 1024 windows.
fn batch_size(s: &str) -> std::result::Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n @ 1..=1024) => Ok(n),
        _ => Err(format!("{s:?} is not a batch size from 1 to 1024")),
    }
}

/// The parsed `--format` list.
#[derive(Clone, Debug)]
struct Formats(Vec<ExportFormat>);

/// Annotates every input; fails (exit code 1) when any file failed. In
/// order: check the arguments, load the first model, collect and shard the
/// inputs, gather the settings every job shares, run the jobs in parallel
/// with a progress bar, write the index and sum up.
pub fn run(args: Args) -> Result<()> {
    let config = args.windowing.config()?;
    check_counts(&args)?;
    let model_dir = super::model_dir(args.model.clone())?;
    let models = Models {
        device: args.device.open()?,
        dir: model_dir,
        precision: args.precision,
    };
    let first = models.load()?;
    let recognition = args
        .asr
        .recognition(&models.dir, args.no_transcript, &models.device)?;
    let all = inputs::collect(
        &args.inputs,
        &args.manifest,
        (args.transcript.as_deref(), args.speakers.as_deref()),
        &args.out,
    )?;
    let jobs = inputs::shard(all, args.shard);
    super::create_output_dir(&args.out)?;
    let asr = recogniser(recognition, &jobs)?;
    let asr_model = asr.as_ref().map(|r| r.asr.dir().display().to_string());
    let settings = settings(&args, config, &models, asr, first.categories())?;
    let progress = Progress::start(&jobs);
    let entries = run_jobs(&jobs, first, &models, &settings, args.jobs, &progress)?;
    progress.bar.finish_and_clear();
    let index = Index {
        format: INDEX_FORMAT.into(),
        model: models.dir.display().to_string(),
        asr_model,
        formats: settings
            .formats
            .iter()
            .map(|f| f.name().to_owned())
            .collect(),
        shard: args.shard.map(|s| [s.index, s.count]),
        entries,
    };
    let index_path = write_index(&args.out, &index, args.shard)?;
    sum_up(&index, &index_path, progress.t0)
}

/// `--jobs` and the inputs: at least one of each.
fn check_counts(args: &Args) -> Result<()> {
    if args.jobs == 0 {
        bail!("--jobs must be at least 1");
    }
    if args.inputs.is_empty() && args.manifest.is_empty() {
        bail!("nothing to annotate: give audio files, folders or --manifest");
    }
    Ok(())
}

/// Where each job's copy of the model comes from.
struct Models {
    dir: PathBuf,
    device: Device,
    precision: PrecisionArg,
}

impl Models {
    /// A copy of the model.
    fn load(&self) -> Result<Box<dyn EmotionPredictor>> {
        self.precision.load(&self.dir, &self.device)
    }

    /// The number format the model computes in (part of the run's fingerprint).
    fn dtype(&self) -> candle_core::DType {
        self.precision
            .precision()
            .resolve(&self.dir, &self.device)
            .dtype()
    }
}

/// The run's speech recogniser, with its fingerprint, when it has one. A
/// missing model is noted once, and only when some input would need it.
fn recogniser(recognition: Recognition, jobs: &[Job]) -> Result<Option<Recogniser>> {
    match recognition {
        Recognition::Off => Ok(None),
        Recognition::Missing(why) => {
            let needs_words = |j: &Job| {
                j.problem.is_none()
                    && j.transcript.is_none()
                    && emoscope::transcript::sidecar_for(&j.input).is_none()
            };
            if jobs.iter().any(needs_words) {
                note!("{why}");
            }
            Ok(None)
        }
        Recognition::Ready(asr) => Ok(Some(Recogniser {
            fingerprint: Fingerprint::for_asr(asr.dir(), &asr.language())?,
            asr,
        })),
    }
}

/// The settings every job shares, with the run's fingerprint over them and
/// the previous run's index.
fn settings(
    args: &Args,
    config: AnalysisConfig,
    models: &Models,
    asr: Option<Recogniser>,
    categories: &[String],
) -> Result<job::Settings> {
    let model_dir = &models.dir;
    let formats = args.format.0.clone();
    let labels = LabelStyle {
        quadrant: args.quadrants,
    };
    // The batch changes nothing in the outputs; the precision does.
    let dtype = models.dtype();
    let described = format!(
        "{config:?} formats={formats:?} tier={:?} {labels:?} no_transcript={} strict={} analyse_silence={}{}{}",
        args.tier,
        args.no_transcript,
        args.strict,
        args.analyse_silence,
        if dtype == candle_core::DType::F32 {
            String::new()
        } else {
            format!(" dtype={dtype:?}")
        },
        args.speaker
            .as_ref()
            .map_or(String::new(), |name| format!(" speaker={name:?}"))
    );
    Ok(job::Settings {
        out: args.out.clone(),
        formats,
        config,
        labels,
        force: args.force,
        tier: args.tier.clone(),
        no_transcript: args.no_transcript,
        strict: args.strict,
        analyse_silence: args.analyse_silence,
        whole_file: args.whole_file,
        batch: args.batch,
        speaker: args
            .speaker
            .as_deref()
            .map(emoscope::transcript::Speaker::new),
        run_fingerprint: Fingerprint::for_run(model_dir, &described)?,
        asr,
        categories: categories.to_vec(),
        previous: index::previous(&args.out, args.shard),
    })
}

/// The progress bar, in audio seconds (from the headers; files that do not
/// state their length add it when decoded), with files done, audio analysed
/// and the real-time factor as its message.
struct Progress {
    bar: ProgressBar,
    /// Each job's length from its header (0 when it states none).
    seconds: Vec<f64>,
    /// When the jobs started.
    t0: Instant,
    /// Files finished, and seconds of audio analysed now.
    done: Mutex<(usize, f64)>,
}

impl Progress {
    /// A bar over `jobs`, shown at once.
    fn start(jobs: &[Job]) -> Self {
        let seconds: Vec<f64> = jobs
            .iter()
            .map(|j| {
                emoscope::audio::probe_seconds(&j.input)
                    .ok()
                    .flatten()
                    .unwrap_or(0.0)
            })
            .collect();
        // Each file's length once per pass (see `track`).
        let passes = Pass::ALL.len() as f64;
        let bar = ProgressBar::new((passes * seconds.iter().sum::<f64>() * 1000.0) as u64);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} {elapsed_precise} [{bar:30}] {prefix:9} {msg} ETA {eta}",
            )
            .expect("a valid template")
            .progress_chars("=> "),
        );
        bar.enable_steady_tick(Duration::from_millis(250));
        bar.set_message(format!("0/{} files", jobs.len()));
        Self {
            bar,
            seconds,
            t0: Instant::now(),
            done: Mutex::new((0, 0.0)),
        }
    }

    /// Runs job `k` (`run` gets the callback that moves the bar through
    /// each of the file's passes: scanning it, its windows, its segments;
    /// each pass counts the file's length once), then moves the bar over
    /// whatever the passes did not report and reports the file. A file that
    /// is transcribed first adds its length to the bar once more, for the
    /// transcription.
    fn track(&self, k: usize, run: impl FnOnce(&mut dyn FnMut(Step)) -> Entry) -> Entry {
        let expected = self.seconds[k];
        let expected_ms = (expected * 1000.0) as u64;
        let mut transcribed = None::<u64>;
        let mut shown = [0u64; Pass::ALL.len()];
        let entry = run(&mut |step: Step| match step {
            Step::Transcribed(t) => {
                let done = transcribed.get_or_insert_with(|| {
                    self.bar.inc_length(expected_ms);
                    0
                });
                let ms = ((t.min(expected) * 1000.0) as u64).max(*done);
                self.bar.inc(ms - *done);
                *done = ms;
            }
            Step::Read(pass, t) => {
                if let Some(done) = transcribed.as_mut() {
                    self.bar.inc(expected_ms.saturating_sub(*done));
                    *done = expected_ms;
                }
                let shown = &mut shown[pass as usize];
                let ms = ((t.min(expected) * 1000.0) as u64).max(*shown);
                self.bar.inc(ms - *shown);
                *shown = ms;
                self.bar.set_prefix(pass.name());
            }
        });
        if let Some(done) = transcribed {
            self.bar.inc(expected_ms.saturating_sub(done));
        }
        let audio = entry.audio_seconds.unwrap_or(expected);
        if audio > expected {
            self.bar
                .inc_length(Pass::ALL.len() as u64 * ((audio - expected) * 1000.0) as u64);
        }
        let audio_ms = (audio * 1000.0) as u64;
        self.bar.inc(
            shown
                .iter()
                .map(|&s| audio_ms.saturating_sub(s))
                .sum::<u64>(),
        );
        let (files, analysed) = {
            let mut d = self.done.lock().expect("not poisoned");
            d.0 += 1;
            if entry.status == Status::Ok {
                d.1 += audio;
            }
            *d
        };
        let rtf = self.t0.elapsed().as_secs_f64() / analysed.max(1e-9);
        self.bar.set_message(format!(
            "{files}/{} files, {analysed:.1} s audio, RTF {rtf:.3}",
            self.seconds.len()
        ));
        self.bar.suspend(|| report(&entry));
        entry
    }
}

/// Runs `jobs` on up to `workers` threads, each with its own copy of the
/// model (the first thread takes `first`), the next job going to whichever
/// thread is free; the entries come back in job order. Fails only when a
/// copy of the model cannot be loaded (a job's failure is its entry's).
fn run_jobs(
    jobs: &[Job],
    first: Box<dyn EmotionPredictor>,
    models: &Models,
    settings: &job::Settings,
    workers: usize,
    progress: &Progress,
) -> Result<Vec<Entry>> {
    let next = AtomicUsize::new(0);
    let entries: Mutex<Vec<Option<Entry>>> = Mutex::new(vec![None; jobs.len()]);
    let first = Mutex::new(Some(first));
    let workers = workers.min(jobs.len().max(1));
    std::thread::scope(|scope| -> Result<()> {
        let mut handles = Vec::new();
        for _ in 0..workers {
            handles.push(scope.spawn(|| -> Result<()> {
                let mut model: Option<Box<dyn EmotionPredictor>> =
                    first.lock().expect("not poisoned").take();
                loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    let Some(j) = jobs.get(k) else { return Ok(()) };
                    if model.is_none() {
                        model = Some(models.load()?);
                    }
                    let model = model.as_deref_mut().expect("loaded");
                    let entry = progress.track(k, |bar| job::run(j, model, settings, bar));
                    entries.lock().expect("not poisoned")[k] = Some(entry);
                }
            }));
        }
        for h in handles {
            h.join().expect("a worker panicked")?;
        }
        Ok(())
    })?;
    Ok(entries
        .into_inner()
        .expect("not poisoned")
        .into_iter()
        .flatten()
        .collect())
}

/// The closing line (files annotated, skipped and failed; audio analysed
/// and how fast since `t0`); an error when any file failed.
fn sum_up(index: &Index, index_path: &Path, t0: Instant) -> Result<()> {
    let total = index.entries.len();
    let count = |s: Status| index.entries.iter().filter(|e| e.status == s).count();
    let (ok, skipped, failed) = (
        count(Status::Ok),
        count(Status::Skipped),
        count(Status::Failed),
    );
    let analysed: f64 = index
        .entries
        .iter()
        .filter(|e| e.status == Status::Ok)
        .filter_map(|e| e.audio_seconds)
        .sum();
    let elapsed = t0.elapsed().as_secs_f64();
    let work = if analysed > 0.0 {
        format!(
            "{analysed:.1} s of audio in {elapsed:.1} s, real-time factor {:.3}",
            elapsed / analysed
        )
    } else {
        format!("no audio analysed, {elapsed:.1} s")
    };
    note!(
        "annotated {ok}, skipped {skipped} (up to date), failed {failed} of {total} files ({work}); index: {}",
        index_path.display()
    );
    if failed > 0 {
        bail!(
            "{failed} of {total} files failed (see above and {})",
            index_path.display()
        );
    }
    Ok(())
}

/// One line per finished file: outcomes on stdout, failures and warnings on
/// stderr. These lines are progress, not results (the results are the output
/// files and the index), so a closed or full stdout or stderr drops them
/// instead of stopping the run.
fn report(e: &Entry) {
    for w in &e.warnings {
        note!("warning  {}: {w}", e.input);
    }
    match e.status {
        Status::Ok => out!(
            "ok       {}  {:.2} s audio in {:.2} s -> {} files{}",
            e.input,
            e.audio_seconds.unwrap_or(0.0),
            e.seconds,
            e.outputs.len(),
            e.out_of_range.map_or(String::new(), |n| format!(
                "  ({n} windows outside the model's declared range, flagged)"
            ))
        ),
        Status::Skipped => out!(
            "skipped  {}  (outputs up to date; --force recomputes)",
            e.input
        ),
        Status::Failed => note!(
            "FAILED   {}: {}",
            e.input,
            e.error.as_deref().unwrap_or("unknown error")
        ),
    }
}

/// `println!` that drops what cannot be written (see [`report`]).
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}
use out;

/// The reason in an I/O error, without the OS error number.
pub(super) fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "it does not exist".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}
