//! Project tasks, run as `cargo xtask <task>`.
//!
//! - `bench encoder`: times the DistilHuBERT-size encoder in Emoscope (candle
//!   plus our CPU kernels), PyTorch (transformers) and ONNX Runtime in one run,
//!   each in its own process, and prints time ratios and peak memory.
//! - `bench asr`: Emoscope's Whisper against the CTranslate2 runtime (f32 and
//!   the fastest precision of each) on the LibriVox clips: time, word error
//!   rate and peak memory.
//! - `bench engine`: what the streaming engine costs (capture, the model per
//!   hop, end-to-end latency); both benchmarks run the model `bench_model`
//!   builds.
//! - `corpus`: the synthetic emotional-speech corpus (espeak-ng + sox).
//! - `corpus-check`: how much of each corpus label F0, level and rate explain.
//! - `bundle <package> [--release]` (and `bundle-universal`, `known-packages`):
//!   nice-plug-xtask builds the plugin and writes the CLAP and VST3 bundles to
//!   `target/bundled/` (bundle names from `bundler.toml`).
//! - `demo`: the README's main job (demo model if missing, then predict, annotate, plot).
//! - `demo-model`: train the offline demo model and install it as the default model.
//! - `demo-check`: what the demo model ignores (level, a 10 ms shift, a transcript for
//!   arousal and dominance), on the test split and on real recordings.
//! - `check-cuda`: `cargo check` with the `cuda` feature on a machine without a
//!   GPU (candle's kernels compiled by the pinned nvcc from PyPI, nothing linked).

mod bench;
mod bench_annotate;
mod bench_asr;
mod bench_engine;
mod bench_model;
mod check_cuda;
mod corpus;
mod demo;
mod demo_check;
mod demo_model;
/// Real speech (the LibriVox clips), its reference texts and word error
/// rate: the same helpers the speech-recognition tests use.
#[path = "../../tests/common/speech.rs"]
mod speech;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "xtask")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Benchmarks.
    Bench {
        #[command(subcommand)]
        which: bench::Which,
    },
    /// Make the synthetic emotional-speech corpus (needs espeak-ng and sox).
    Corpus(corpus::Args),
    /// Fit the corpus labels on F0, level and speaking rate and print the R².
    CorpusCheck(corpus::CheckArgs),
    /// The README's main job: the demo model (trained if missing), then predict, annotate and plot examples/speech.wav.
    Demo(demo::Args),
    /// Train the demo model on the synthetic corpus (offline) and install it as the default model.
    DemoModel(demo_model::Args),
    /// Measure how far a model's readings move with level, a 10 ms shift or a transcript.
    DemoCheck(demo_check::Args),
    /// Check that the `cuda` feature builds (no GPU needed): installs the pinned CUDA compiler if missing, then `cargo check --features cuda`.
    CheckCuda(check_cuda::Args),
    /// Internal: time Emoscope's encoder in this process (spawned by `bench encoder`).
    #[command(hide = true)]
    BenchWorker(bench::WorkerArgs),
    /// Internal: time Emoscope's Whisper in this process (spawned by `bench asr`).
    #[command(hide = true)]
    BenchAsrWorker(bench_asr::WorkerArgs),
}

/// Subcommands handed to nice-plug-xtask as they are.
const BUNDLER_COMMANDS: [&str; 3] = ["bundle", "bundle-universal", "known-packages"];

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args
        .first()
        .is_some_and(|a| BUNDLER_COMMANDS.contains(&a.as_str()))
    {
        return nice_plug_xtask::main_with_args("cargo xtask", args);
    }
    match Cli::parse().task {
        Task::Bench { which } => bench::run(which),
        Task::BenchWorker(args) => bench::worker(args),
        Task::BenchAsrWorker(args) => bench_asr::worker(args),
        Task::Corpus(args) => corpus::run(args),
        Task::CorpusCheck(args) => corpus::check(args),
        Task::Demo(args) => demo::run(args),
        Task::DemoModel(args) => demo_model::run(args),
        Task::DemoCheck(args) => demo_check::run(args),
        Task::CheckCuda(args) => check_cuda::run(args),
    }
}
