//! Project tasks, run as `cargo xtask <task>`.
//!
//! - `bench encoder`: times the DistilHuBERT-size encoder in Emoscope (candle
//!   plus our CPU kernels), PyTorch (transformers) and ONNX Runtime in one run,
//!   each in its own process, and prints time ratios and peak memory.

mod bench;
mod bench_engine;

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
    /// Internal: time Emoscope's encoder in this process (spawned by `bench encoder`).
    #[command(hide = true)]
    BenchWorker(bench::WorkerArgs),
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().task {
        Task::Bench { which } => bench::run(which),
        Task::BenchWorker(args) => bench::worker(args),
    }
}
