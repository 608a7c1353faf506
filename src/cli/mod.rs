//! Command-line front end: argument parsing and one module per verb.

mod device;
mod distill;
mod eval;
mod features;
mod layers;
mod predict;
mod train;

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
    /// Score a model on a labelled manifest: CCC, Pearson r and MAE per dimension.
    Eval(eval::Args),
    /// Train an emotion model (audio, text or both) on a labelled manifest.
    Train(Box<train::Args>),
    /// Layer-wise analysis of a frozen encoder: learned layer weights and linear probes per dimension.
    Layers(layers::Args),
    /// Distil a teacher emotion model into an audio-only student on unlabelled audio.
    Distill(Box<distill::Args>),
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
        Command::Eval(args) => eval::run(args),
        Command::Train(args) => train::run(*args),
        Command::Layers(args) => layers::run(args),
        Command::Distill(args) => distill::run(*args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
