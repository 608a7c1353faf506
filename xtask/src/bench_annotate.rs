//! `cargo xtask bench annotate`: `emoscope annotate` on an hour of real
//! speech with a DistilHuBERT-size audio+text model, against a PyTorch loop
//! reading the same windows and segments with transformers.
//!
//! 1. The model: `bench engine`'s audio+text model (the random-weight
//!    DistilHuBERT-size encoder of `bench encoder`, built if missing, the
//!    real all-MiniLM-L6-v2 sentence encoder, an early-fusion linear head
//!    over both and an audio-only fallback).
//! 2. The speech: the five LibriVox clips of `pocketsphinx-testdata`, one
//!    after another with 0.4 s pauses, repeated to the length asked, as a
//!    16 kHz 16-bit WAV with an SRT of their reference transcripts (a
//!    sidecar, so annotate reads it as a user's subtitles).
//! 3. The goal run: the released `emoscope annotate` over `--minutes` (60)
//!    in each precision asked, in its own process under `/usr/bin/time -v`
//!    (wall time, peak RSS), 4 s windows every 1 s, speech-gated, JSON out.
//! 4. The ratio: Emoscope and `models/reference/bench_annotate.py` (PyTorch
//!    with transformers and sentence-transformers, the same windows, texts
//!    and segment pieces, read from Emoscope's JSON, batches of the same
//!    size) over the first `--compare-minutes`, each in its own process,
//!    both with `--threads` threads; the script also reports how far its
//!    readings are from Emoscope's.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::bench_model::{ensure_model, in_workspace, timed, workspace_root, Cost};
use crate::speech::{clips, LIBRIVOX};

/// Options of `bench annotate`.
#[derive(clap::Args)]
pub struct Args {
    /// Minutes of speech for the goal run.
    #[arg(long, default_value_t = 60.0)]
    minutes: f64,
    /// Minutes both Emoscope and PyTorch annotate for the ratio.
    #[arg(long, default_value_t = 5.0)]
    compare_minutes: f64,
    /// Precisions of the goal run (`f32`, `bf16`), comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "f32,bf16")]
    precisions: Vec<String>,
    /// Windows per model call, on both sides.
    #[arg(long, default_value_t = emoscope::engine::DEFAULT_BATCH)]
    batch: usize,
    /// Threads for both sides.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// The DistilHuBERT-size encoder (made by `bench encoder` when missing).
    #[arg(long, default_value = "bench-out/distilhubert-random")]
    encoder: PathBuf,
    /// Python interpreter with models/reference/requirements.txt installed.
    #[arg(long, default_value = "python3")]
    python: String,
    /// Leave out the PyTorch comparison.
    #[arg(long)]
    no_reference: bool,
}

/// Entry point.
pub fn run(args: Args) -> Result<()> {
    let encoder = in_workspace(&args.encoder);
    ensure_model(&encoder, &args.python)?;
    let root = in_workspace(Path::new("bench-out/annotate"));
    // The `bench engine` model plus its text branch, as the issue asks.
    let model = crate::bench_engine::audio_text_model(&encoder, &args.python)?;
    let emoscope = build_cli()?;

    let goal = speech(&root, args.minutes)?;
    println!(
        "| run | audio | precision | batch | windows read | no speech | wall s | audio per second | peak RSS MB |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for precision in &args.precisions {
        let out = root.join(format!("out-{precision}"));
        let cost = annotate(&emoscope, &model, &goal, &out, precision, &args)?;
        let doc = annotation(&out, &goal)?;
        println!(
            "| goal | {:.0} min | {precision} | {} | {} | {} | {:.1} | {:.1} s | {:.0} |",
            args.minutes,
            args.batch,
            doc["timeline"].as_array().map_or(0, Vec::len),
            doc["no_speech"].as_array().map_or(0, Vec::len),
            cost.wall_s,
            args.minutes * 60.0 / cost.wall_s,
            cost.peak_rss_mb
        );
    }
    if args.no_reference {
        return Ok(());
    }

    let part = speech(&root, args.compare_minutes)?;
    let script = workspace_root().join("models/reference/bench_annotate.py");
    println!();
    println!("| side | precision | wall s | of which loading s | windows | segments | ratio to PyTorch f32 | max window diff | max segment diff | peak RSS MB |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let mut rows = Vec::new();
    let mut json_of_f32 = None;
    for precision in &args.precisions {
        let out = root.join(format!("compare-{precision}"));
        let cost = annotate(&emoscope, &model, &part, &out, precision, &args)?;
        if precision == "f32" || json_of_f32.is_none() {
            json_of_f32 = Some(out.clone());
        }
        rows.push((format!("Emoscope {precision}"), cost, out));
    }
    let reference_json = json_of_f32.context("no precision given")?;
    let torch = |bf16: bool| -> Result<(Cost, serde_json::Value)> {
        let mut cmd = Command::new(&args.python);
        cmd.arg(&script)
            .arg("--model")
            .arg(&model)
            .arg("--audio")
            .arg(&part)
            .arg("--annotation")
            .arg(json_path(&reference_json, &part))
            .args(["--threads", &args.threads.to_string()])
            .args(["--batch", &args.batch.to_string()]);
        if bf16 {
            cmd.arg("--bf16");
        }
        let cost = timed(&mut cmd)?;
        let line = cost
            .stdout
            .lines()
            .rev()
            .find(|l| l.starts_with('{'))
            .context("no JSON line from bench_annotate.py")?;
        let v: serde_json::Value = serde_json::from_str(line)?;
        Ok((cost, v))
    };
    let (torch_f32, torch_f32_json) = torch(false)?;
    let (torch_bf16, torch_bf16_json) = torch(true)?;
    let base = torch_f32.wall_s;
    for (name, cost, out) in &rows {
        let doc = annotation(out, &part)?;
        println!(
            "| {name} | | {:.1} | | {} | {} | **{:.2}x** | | | {:.0} |",
            cost.wall_s,
            doc["timeline"].as_array().map_or(0, Vec::len),
            doc["segments"].as_array().map_or(0, Vec::len),
            cost.wall_s / base,
            cost.peak_rss_mb
        );
    }
    for (name, cost, v) in [
        ("PyTorch f32", &torch_f32, &torch_f32_json),
        ("PyTorch bf16 autocast", &torch_bf16, &torch_bf16_json),
    ] {
        println!(
            "| {name} | | {:.1} | {:.1} | {} | {} | {:.2}x | {:.2e} | {:.2e} | {:.0} |",
            cost.wall_s,
            v["load_s"].as_f64().unwrap_or(f64::NAN),
            v["windows"],
            v["segments"],
            cost.wall_s / base,
            v["max_window_diff"].as_f64().unwrap_or(f64::NAN),
            v["max_segment_diff"].as_f64().unwrap_or(f64::NAN),
            cost.peak_rss_mb
        );
    }
    println!(
        "(max diffs: PyTorch's readings against Emoscope {}'s, on the same windows and segments)",
        reference_json
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .trim_start_matches("compare-")
    );
    Ok(())
}

/// Builds the released `emoscope` binary and returns its path.
fn build_cli() -> Result<PathBuf> {
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(workspace_root())
        .args([
            "build",
            "--release",
            "--locked",
            "-p",
            "emoscope-cli",
            "--bin",
            "emoscope",
        ])
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("building the emoscope CLI failed");
    }
    Ok(workspace_root().join("target/release/emoscope"))
}

/// Annotates `audio` (its SRT is the sidecar) into `out` and returns the cost.
fn annotate(
    emoscope: &Path,
    model: &Path,
    audio: &Path,
    out: &Path,
    precision: &str,
    args: &Args,
) -> Result<Cost> {
    let _ = std::fs::remove_dir_all(out);
    let mut cmd = Command::new(emoscope);
    cmd.arg("annotate")
        .arg(audio)
        .arg("--model")
        .arg(model)
        .args(["--format", "json", "--no-asr", "--force"])
        .args(["--precision", precision])
        .args(["--batch", &args.batch.to_string()])
        .arg("--out")
        .arg(out)
        .env("RAYON_NUM_THREADS", args.threads.to_string())
        .env("EMOSCOPE_LOG", "warn");
    timed(&mut cmd)
}

/// The JSON annotation `annotate` wrote for `audio` into `out`.
fn json_path(out: &Path, audio: &Path) -> PathBuf {
    let stem = audio.file_stem().unwrap_or_default().to_string_lossy();
    out.join(format!("{stem}.emoscope.json"))
}

fn annotation(out: &Path, audio: &Path) -> Result<serde_json::Value> {
    let path = json_path(out, audio);
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    Ok(serde_json::from_str(&text)?)
}

/// The LibriVox clips repeated to `minutes` as `speech-<minutes>min.wav`
/// with its SRT sidecar, made once.
fn speech(root: &Path, minutes: f64) -> Result<PathBuf> {
    let wav = root.join(format!("speech-{minutes}min.wav"));
    let srt = wav.with_extension("srt");
    if wav.exists() && srt.exists() {
        return Ok(wav);
    }
    std::fs::create_dir_all(root)?;
    let clips = clips();
    if clips.is_empty() {
        bail!("no LibriVox clips in {LIBRIVOX} (scripts/setup.sh installs pocketsphinx-testdata)");
    }
    let mut audio: Vec<Vec<i16>> = Vec::new();
    for (path, _) in &clips {
        let mut r =
            hound::WavReader::open(path).with_context(|| format!("reading {}", path.display()))?;
        let spec = r.spec();
        if spec.sample_rate != 16_000 || spec.channels != 1 || spec.bits_per_sample != 16 {
            bail!("{}: expected 16 kHz 16-bit mono", path.display());
        }
        audio.push(r.samples::<i16>().collect::<Result<_, _>>()?);
    }
    let pause = vec![0i16; 6_400];
    let target = (minutes * 60.0 * 16_000.0) as usize;
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 16_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let tmp = wav.with_extension("wav.part");
    let mut w = hound::WavWriter::create(&tmp, spec)?;
    let mut subtitles = String::new();
    let (mut written, mut cue) = (0usize, 0usize);
    'outer: loop {
        for (samples, (_, text)) in audio.iter().zip(&clips) {
            if written + samples.len() > target {
                break 'outer;
            }
            let start = written as f64 / 16_000.0;
            for &s in samples {
                w.write_sample(s)?;
            }
            written += samples.len();
            cue += 1;
            subtitles.push_str(&format!(
                "{cue}\n{} --> {}\n{text}\n\n",
                srt_time(start),
                srt_time(written as f64 / 16_000.0)
            ));
            for &s in &pause {
                w.write_sample(s)?;
            }
            written += pause.len();
        }
    }
    w.finalize()?;
    std::fs::write(&srt, subtitles)?;
    std::fs::rename(&tmp, &wav)?;
    Ok(wav)
}

/// `HH:MM:SS,mmm`.
fn srt_time(t: f64) -> String {
    let ms = (t * 1000.0).round() as u64;
    format!(
        "{:02}:{:02}:{:02},{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}
