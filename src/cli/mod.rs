//! Command-line front end: argument parsing and one module per verb.

mod annotate;
mod device;
mod features;
mod merge;
mod models;
mod plot;
mod predict;

use clap::{Parser, Subcommand};

/// Dimensional speech emotion (arousal, valence, dominance) from distilled speech models.
#[derive(Parser)]
#[command(name = "emoscope", version, about)]
struct Cli {
    /// Log filter (tracing's env-filter syntax, e.g. `info` or `emoscope=debug`).
    #[arg(long, global = true, default_value = "warn", env = "EMOSCOPE_LOG")]
    log: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a speech encoder on an audio file, print per-layer summaries and
    /// optionally write every hidden state to safetensors.
    Features(features::Args),
    /// Analyse a file with the streaming engine's offline mode and print
    /// arousal, valence and dominance per window.
    Predict(predict::Args),
    /// Annotate audio files, folders or a manifest: markers and timelines for
    /// Audacity, REAPER, Sonic Visualiser, Praat, ELAN, WebVTT, CSV, JSON and MIDI.
    Annotate(annotate::Args),
    /// Join the indexes of `annotate --shard I/N` runs into one index.json.
    Merge(merge::Args),
    /// List known checkpoints (and which are downloaded) or fetch one from the Hugging Face Hub.
    Models(models::Args),
    /// Draw an annotation (the JSON `annotate` writes) as PNG or SVG.
    Plot(plot::Args),
}

/// Parses the arguments, runs the verb, and turns errors into a message and exit code 1.
pub fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(&cli.log))
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        Command::Features(args) => features::run(args),
        Command::Predict(args) => predict::run(args),
        Command::Annotate(args) => annotate::run(args),
        Command::Merge(args) => merge::run(args),
        Command::Models(args) => models::run(args),
        Command::Plot(args) => plot::run(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
