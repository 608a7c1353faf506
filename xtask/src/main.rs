//! Project tasks, run as `cargo xtask <task>`.
//!
//! - `bench encoder`: times the DistilHuBERT-size encoder in Emoscope (candle
//!   plus our CPU kernels), PyTorch (transformers) and ONNX Runtime in one run,
//!   each in its own process, and prints time ratios and peak memory.
//! - `corpus`: the synthetic emotional-speech corpus (espeak-ng + sox).
//! - `corpus-check`: how much of each corpus label F0, level and rate explain.
//! - `demo-model`: train the offline demo model and install it as the default model.

mod bench;
mod bench_engine;
mod corpus;
mod demo_model;

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
    /// Train the demo model on the synthetic corpus (offline) and install it as the default model.
    DemoModel(demo_model::Args),
    /// Internal: time Emoscope's encoder in this process (spawned by `bench encoder`).
    #[command(hide = true)]
    BenchWorker(bench::WorkerArgs),
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().task {
        Task::Bench { which } => bench::run(which),
        Task::BenchWorker(args) => bench::worker(args),
        Task::Corpus(args) => corpus::run(args),
        Task::CorpusCheck(args) => corpus::check(args),
        Task::DemoModel(args) => demo_model::run(args),
    }
}
