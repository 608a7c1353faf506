//! `cargo xtask bench encoder`: Emoscope vs PyTorch vs ONNX Runtime on the CPU.
//!
//! 1. `models/reference/bench_encoder.py make` builds a random-weight model of
//!    DistilHuBERT's exact shape, its ONNX export, and reference hidden states
//!    for 10 s of audio (skipped when the directory already holds them).
//! 2. Each framework runs in its own process with the same thread count, so
//!    peak memory is per framework: Emoscope through `xtask bench-worker`,
//!    PyTorch and ONNX Runtime through `bench_encoder.py time`.
//! 3. The table gives median seconds per forward pass, the ratio to ONNX
//!    Runtime and to PyTorch, and peak resident memory; the worker also checks
//!    its hidden states against PyTorch's on the 10 s input.
//!
//! `bench engine` is in `bench_engine.rs`; both use the model that
//! `bench_model.rs` builds.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use candle_core::{DType, Device, Tensor};
use emoscope_models::{Kernels, LoadOptions, SslEncoder};
use serde::{Deserialize, Serialize};

use crate::bench_model::{ensure_model, in_workspace, workspace_root};

/// Which benchmark to run.
#[derive(clap::Subcommand)]
pub enum Which {
    /// The speech encoder on DistilHuBERT's shape.
    Encoder(EncoderArgs),
    /// The streaming engine: capture cost, per-hop model cost, end-to-end latency.
    Engine(EngineArgs),
    /// Whisper speech recognition against the CTranslate2 runtime (`bench_asr.rs`).
    Asr(crate::bench_asr::Args),
    /// `emoscope annotate` on an hour of speech against a PyTorch loop (`bench_annotate.rs`).
    Annotate(crate::bench_annotate::Args),
}

/// Options of `bench engine`.
#[derive(clap::Args)]
pub struct EngineArgs {
    /// Model directory (made by `bench encoder` when missing).
    #[arg(long, default_value = "bench-out/distilhubert-random")]
    model: PathBuf,
    /// Python interpreter, used only to build the model when it is missing.
    #[arg(long, default_value = "python3")]
    python: String,
    /// Seconds of real-time playback for the latency measurement.
    #[arg(long, default_value_t = 12.0)]
    seconds: f64,
}

/// Options of `bench encoder`.
#[derive(clap::Args)]
pub struct EncoderArgs {
    /// Audio lengths to time, in seconds.
    #[arg(long, value_delimiter = ',', default_value = "10,60")]
    seconds: Vec<f64>,
    /// Threads for every framework.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Timed runs per measurement (after one warm-up); the median is reported.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Working directory for the generated model.
    #[arg(long, default_value = "bench-out/distilhubert-random")]
    model: PathBuf,
    /// Python interpreter with models/reference/requirements.txt installed.
    #[arg(long, default_value = "python3")]
    python: String,
}

/// Options of the hidden worker.
#[derive(clap::Args)]
pub struct WorkerArgs {
    #[arg(long)]
    model: PathBuf,
    #[arg(long)]
    seconds: f64,
    #[arg(long)]
    runs: usize,
    /// `auto` (CPU kernels) or `candle` (plain candle ops).
    #[arg(long, default_value = "auto")]
    kernels: String,
    /// Compute dtype: f32 or bf16 (bf16 uses the AVX512-BF16 products where the CPU has them).
    #[arg(long, default_value = "f32")]
    dtype: String,
}

/// One timing, as printed by each worker process.
#[derive(Debug, Serialize, Deserialize)]
struct Timing {
    framework: String,
    seconds_audio: f64,
    median_s: f64,
    min_s: f64,
    peak_rss_mb: f64,
    #[serde(default)]
    max_abs_diff_vs_torch: Option<f64>,
    /// Largest relative RMS difference `||ours - torch|| / ||torch||` over the hidden states.
    #[serde(default)]
    rel_rms_vs_torch: Option<f64>,
}

/// Runs a command and parses the last JSON line of its stdout.
fn json_line(cmd: &mut Command) -> Result<Timing> {
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!("{cmd:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .with_context(|| format!("no JSON from {cmd:?}: {stdout}"))?;
    serde_json::from_str(line).with_context(|| format!("parsing {line}"))
}

/// Entry point of `bench`.
pub fn run(which: Which) -> Result<()> {
    match which {
        Which::Encoder(args) => encoder(args),
        Which::Engine(args) => crate::bench_engine::run(args.model, &args.python, args.seconds),
        Which::Asr(args) => crate::bench_asr::run(args),
        Which::Annotate(args) => crate::bench_annotate::run(args),
    }
}

fn encoder(args: EncoderArgs) -> Result<()> {
    let root = workspace_root();
    let script = root.join("models/reference/bench_encoder.py");
    let model = in_workspace(&args.model);
    ensure_model(&model, &args.python)?;
    let exe = std::env::current_exe()?;
    let threads = args.threads.to_string();
    let runs = args.runs.to_string();
    let mut rows = Vec::new();
    for &s in &args.seconds {
        let secs = s.to_string();
        let worker = |kernels: &str, dtype: &str| {
            json_line(
                Command::new(&exe)
                    .args(["bench-worker", "--model"])
                    .arg(&model)
                    .args([
                        "--seconds",
                        &secs,
                        "--runs",
                        &runs,
                        "--kernels",
                        kernels,
                        "--dtype",
                        dtype,
                    ])
                    .env("RAYON_NUM_THREADS", &threads),
            )
        };
        let ours = worker("auto", "f32")?;
        let plain = worker("candle", "f32")?;
        let bf16 = worker("auto", "bf16")?;
        let reference = |fw: &str| {
            json_line(
                Command::new(&args.python)
                    .arg(&script)
                    .args(["time", "--model"])
                    .arg(&model)
                    .args([
                        "--framework",
                        fw,
                        "--seconds",
                        &secs,
                        "--threads",
                        &threads,
                        "--runs",
                        &runs,
                    ])
                    .env("OMP_NUM_THREADS", &threads),
            )
        };
        let torch = reference("torch")?;
        let onnx = reference("onnx")?;
        rows.push((s, ours, plain, bf16, torch, onnx));
    }
    println!(
        "\nDistilHuBERT-size encoder (random weights), CPU, {} threads, median of {} runs\n",
        args.threads, args.runs
    );
    println!("| audio | implementation | median s | min s | vs ONNX Runtime | vs PyTorch | peak RSS MB | max abs diff vs PyTorch | rel. RMS diff vs PyTorch |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for (s, ours, plain, bf16, torch, onnx) in &rows {
        for t in [ours, bf16, plain, torch, onnx] {
            println!(
                "| {s} s | {} | {:.3} | {:.3} | {:.2}x | {:.2}x | {:.0} | {} | {} |",
                t.framework,
                t.median_s,
                t.min_s,
                t.median_s / onnx.median_s,
                t.median_s / torch.median_s,
                t.peak_rss_mb,
                t.max_abs_diff_vs_torch
                    .map_or("-".into(), |d| format!("{d:.2e}")),
                t.rel_rms_vs_torch
                    .map_or("-".into(), |d| format!("{d:.2e}")),
            );
        }
    }
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_default();
    println!("\nCPU: {cpu}; the parity columns compare every hidden state with PyTorch on the 10 s reference input.");
    Ok(())
}

/// Peak resident set size of this process (VmHWM), in MiB.
fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<f64>().ok())
            })
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Entry point of the hidden `bench-worker`: load, check parity, time.
pub fn worker(args: WorkerArgs) -> Result<()> {
    let kernels = match args.kernels.as_str() {
        "auto" => Kernels::Auto,
        "candle" => Kernels::Candle,
        k => bail!("unknown kernels {k}"),
    };
    let dtype = match args.dtype.as_str() {
        "f32" => DType::F32,
        "bf16" => DType::BF16,
        d => bail!("unknown dtype {d}"),
    };
    let opts = LoadOptions {
        device: Device::Cpu,
        dtype,
        kernels,
    };
    let encoder = SslEncoder::load_with(&args.model, &opts)?;
    // Parity on the reference's 10 s input, at full size.
    let parity =
        candle_core::safetensors::load(args.model.join("parity.safetensors"), &Device::Cpu)?;
    let input = parity["input"].to_dtype(dtype)?.unsqueeze(0)?;
    let out = encoder.forward(&input, None)?;
    let (mut max_diff, mut rel_rms) = (0f64, 0f64);
    for (i, h) in out.hidden_states.iter().enumerate() {
        let expected = &parity[&format!("hidden_states.{i}")];
        let diff = (h.squeeze(0)?.to_dtype(DType::F32)? - expected)?;
        let d = diff.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>()?;
        max_diff = max_diff.max(d as f64);
        let num = diff.sqr()?.sum_all()?.sqrt()?.to_scalar::<f32>()?;
        let den = expected.sqr()?.sum_all()?.sqrt()?.to_scalar::<f32>()?;
        rel_rms = rel_rms.max((num / den) as f64);
    }
    let n = (args.seconds * 16_000.0) as usize;
    // Timing does not depend on values; a fixed pseudo-random signal.
    let x: Vec<f32> = (0..n)
        .map(|i| ((i as f32 * 12.9898).sin() * 43_758.547).fract() * 0.2 - 0.1)
        .collect();
    let input = Tensor::from_vec(x, (1, n), &Device::Cpu)?.to_dtype(dtype)?;
    encoder.forward(&input, None)?; // warm-up
    let mut times = Vec::with_capacity(args.runs);
    for _ in 0..args.runs {
        let t0 = Instant::now();
        encoder.forward(&input, None)?;
        times.push(t0.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    let label = match (kernels, dtype) {
        (Kernels::Auto, DType::F32) => "Emoscope f32 (CPU kernels)".to_owned(),
        (Kernels::Auto, DType::BF16) if emoscope_models::cpu::bf16_available() => {
            "Emoscope bf16 (AVX512-BF16 products, f32 sums)".to_owned()
        }
        (Kernels::Candle, DType::F32) => "candle ops only, f32 (no CPU kernels)".to_owned(),
        (k, d) => format!("Emoscope ({k:?} kernels, {d:?})"),
    };
    let timing = Timing {
        framework: label,
        seconds_audio: args.seconds,
        median_s: times[times.len() / 2],
        min_s: times[0],
        peak_rss_mb: peak_rss_mb(),
        max_abs_diff_vs_torch: Some(max_diff),
        rel_rms_vs_torch: Some(rel_rms),
    };
    println!("{}", serde_json::to_string(&timing)?);
    Ok(())
}
