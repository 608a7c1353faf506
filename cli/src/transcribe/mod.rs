//! `emoscope transcribe`: speech to text with Whisper, as transcript files
//! the other verbs (and subtitle editors, Praat, WhisperX tools) read.
//!
//! Each audio file is recognised by [`crate::asr`] (decoded by the runtime,
//! streamed into 16 kHz mono, transcribed in 30 s windows with word
//! timestamps, times rounded to the millisecond), and one writer per format
//! turns the result into a file ([`format`]). Which files and where they
//! go: [`inputs`]. A file that fails (unreadable, not audio) is reported
//! with its name and the others go on; the exit code is 1 when any failed.
//!
//! The model is `--model`, else the default speech-recognition model
//! ([`emoscope::paths::default_asr_dir`]), which `scripts/setup.sh` installs.

mod format;
mod inputs;
mod json;
mod srt;
mod textgrid;
mod vtt;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};

use super::asr::{self, Recogniser, Transcribed};
use super::device::DeviceArg;
use super::output::note;
use format::OutputFormat;
use inputs::Job;

/// Arguments of `emoscope transcribe`.
#[derive(clap::Args)]
pub struct Args {
    /// Audio files (WAV, FLAC, MP3, Ogg Vorbis, AIFF, M4A) and folders (searched recursively).
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// With one input file: the transcript file, whose extension picks the
    /// format (.json, .srt, .vtt, .TextGrid). With several inputs, a folder,
    /// or a path ending in `/`: the output folder, where each input gets
    /// `<name>.<format>`.
    #[arg(long)]
    out: PathBuf,
    /// Format of the files written into an output folder [default: json].
    #[arg(long, value_enum)]
    format: Option<OutputFormat>,
    /// Whisper model directory, Hugging Face or CTranslate2 layout
    /// [default: $EMOSCOPE_ASR_MODEL, else <data dir>/emoscope/default-asr-model].
    #[arg(long)]
    model: Option<PathBuf>,
    /// Spoken language, as a code (`en`, `de`, …). English-only models
    /// (`*.en`) take only `en`; multilingual ones detect each recording's
    /// language from its first 30 s when it is not given (the JSON's
    /// `language` names it).
    #[arg(long)]
    language: Option<String>,
    /// Device to run on.
    #[arg(long, value_enum, default_value = "cpu")]
    device: DeviceArg,
}

/// Transcribes every input; fails (exit code 1) when any file failed. In
/// order: plan the outputs, load the model, settle the language, then
/// transcribe file after file under a progress bar and sum up.
pub fn run(args: Args) -> Result<()> {
    let plan = inputs::plan(&args.inputs, &args.out, args.format)?;
    let dir = asr::model_dir(args.model, "--model")?;
    let device = args.device.open()?;
    let recogniser = Recogniser::load(&dir, "--model", &device, args.language.as_deref())?;
    if plan.folder {
        super::create_output_dir(&args.out)?;
    }
    let progress = Progress::start(&plan.jobs);
    let mut failed = 0;
    for (k, job) in plan.jobs.iter().enumerate() {
        let t0 = Instant::now();
        let result = progress.track(k, &job.input, |bar| {
            transcribe_file(&recogniser, job, plan.format, bar)
        });
        progress.bar.suspend(|| report(job, &result, t0.elapsed()));
        match result {
            Ok(done) => progress.finished(done.duration),
            Err(_) => failed += 1,
        }
    }
    progress.bar.finish_and_clear();
    sum_up(&progress, plan.jobs.len(), failed)
}

/// openai-whisper's JSON for `file` (see [`json`]).
pub fn render_json(file: &Transcribed) -> String {
    json::render(file)
}

/// Transcribes and writes one job's file; `progress` hears how many
/// seconds of it are transcribed.
fn transcribe_file(
    recogniser: &Recogniser,
    job: &Job,
    format: OutputFormat,
    progress: &mut dyn FnMut(f64),
) -> Result<Transcribed> {
    if let Some(problem) = &job.problem {
        bail!("{problem}");
    }
    let done = recogniser.transcribe_file(&job.input, progress)?;
    for w in &done.audio_warnings {
        note!("warning  {w}");
    }
    if let Some(parent) = job.output.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating the folder {}", parent.display()))?;
    }
    emoscope::atomic_write::write_atomic(&job.output, format.render(&done).as_bytes())
        .with_context(|| format!("writing {}", job.output.display()))?;
    Ok(done)
}

/// The progress bar, in audio seconds (from the headers; a file that states
/// none adds its length when done), with files done and the real-time factor.
struct Progress {
    bar: ProgressBar,
    /// Each job's length from its header (0 when it states none).
    seconds: Vec<f64>,
    t0: Instant,
    /// Files transcribed and seconds of audio in them.
    done: std::cell::Cell<(usize, f64)>,
}

impl Progress {
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
        let bar = ProgressBar::new((seconds.iter().sum::<f64>() * 1000.0) as u64);
        bar.set_style(
            ProgressStyle::with_template("{spinner} {elapsed_precise} [{bar:30}] {msg} ETA {eta}")
                .expect("a valid template")
                .progress_chars("=> "),
        );
        bar.enable_steady_tick(Duration::from_millis(250));
        bar.set_message(format!("0/{} files", jobs.len()));
        Self {
            bar,
            seconds,
            t0: Instant::now(),
            done: std::cell::Cell::new((0, 0.0)),
        }
    }

    /// Runs job `k` on `input`, moving the bar (and saying how far into the
    /// file it is) as `run` reports seconds done, then over whatever of the
    /// file it did not report.
    fn track<T>(&self, k: usize, input: &Path, run: impl FnOnce(&mut dyn FnMut(f64)) -> T) -> T {
        let expected = self.seconds[k];
        let name = input
            .file_name()
            .unwrap_or(input.as_os_str())
            .to_string_lossy();
        let mut shown = 0u64;
        let result = run(&mut |t: f64| {
            let ms = ((t.min(expected) * 1000.0) as u64).max(shown);
            self.bar.inc(ms - shown);
            shown = ms;
            self.bar.set_message(format!(
                "file {}/{}: {t:.0} of {expected:.0} s of {name}",
                k + 1,
                self.seconds.len()
            ));
        });
        self.bar
            .inc(((expected * 1000.0) as u64).saturating_sub(shown));
        result
    }

    /// Counts a transcribed file of `seconds`.
    fn finished(&self, seconds: f64) {
        let (files, audio) = self.done.get();
        let (files, audio) = (files + 1, audio + seconds);
        self.done.set((files, audio));
        let rtf = self.t0.elapsed().as_secs_f64() / audio.max(1e-9);
        self.bar.set_message(format!(
            "{files}/{} files, {audio:.1} s audio, RTF {rtf:.3}",
            self.seconds.len()
        ));
    }
}

/// One line per file: `ok` with the output on stdout, `FAILED` with the
/// file and the reason on stderr. Progress, not results: a closed stream
/// drops them.
fn report(job: &Job, result: &Result<Transcribed>, took: Duration) {
    match result {
        Ok(done) => {
            use std::io::Write as _;
            let n = done.transcript.segments.len();
            let _ = writeln!(
                std::io::stdout().lock(),
                "ok       {}  {:.2} s audio in {:.2} s, {} segment{} -> {}",
                job.input.display(),
                done.duration,
                took.as_secs_f64(),
                n,
                if n == 1 { "" } else { "s" },
                job.output.display()
            );
        }
        Err(e) => note!(
            "FAILED   {}: {}",
            job.input.display(),
            super::output::error_chain(e)
        ),
    }
}

/// The closing line; an error when any file failed.
fn sum_up(progress: &Progress, total: usize, failed: usize) -> Result<()> {
    let (ok, audio) = progress.done.get();
    let elapsed = progress.t0.elapsed().as_secs_f64();
    let work = if audio > 0.0 {
        format!(
            "{audio:.1} s of audio in {elapsed:.1} s, real-time factor {:.3}",
            elapsed / audio
        )
    } else {
        format!("no audio transcribed, {elapsed:.1} s")
    };
    note!("transcribed {ok}, failed {failed} of {total} files ({work})");
    if failed > 0 {
        bail!("{failed} of {total} files failed (see above)");
    }
    Ok(())
}

/// Two segments with words, for the writers' tests: "Hello there." over
/// 0–1.5 s and "General Kenobi!" over 1.5–3.25 s (times exact in binary).
#[cfg(test)]
pub(crate) fn test_transcript() -> Transcribed {
    use emoscope_models::whisper::{Segment, Transcript, Word};
    let word = |word: &str, start: f64, end: f64, probability: f64| Word {
        word: word.into(),
        start,
        end,
        probability,
    };
    let segment = |start: f64, end: f64, text: &str, temperature: f32, words: Vec<Word>| Segment {
        start,
        end,
        text: text.into(),
        tokens: vec![50363, 1, 2, 50438],
        temperature,
        avg_logprob: -0.25,
        compression_ratio: 1.0,
        no_speech_prob: 0.125,
        words,
    };
    Transcribed {
        transcript: Transcript {
            segments: vec![
                segment(
                    0.0,
                    1.5,
                    " Hello there.",
                    0.0,
                    vec![
                        word(" Hello", 0.0, 0.5, 0.5),
                        word(" there.", 0.5, 1.25, 1.0),
                    ],
                ),
                segment(
                    1.5,
                    3.25,
                    " General Kenobi!",
                    0.2,
                    vec![
                        word(" General", 1.75, 2.25, 0.875),
                        word(" Kenobi!", 2.25, 3.25, 0.75),
                    ],
                ),
            ],
        },
        language: "en".into(),
        duration: 3.25,
        audio_warnings: Vec::new(),
    }
}
