//! The `emoscope` command-line tool: argument parsing and one module per verb.
//!
//! The verbs call the runtime (the `emoscope` crate: decoding, the engine,
//! transcripts, exports) and the offline tools (`emoscope-training`: training,
//! evaluation, distillation, layer analysis, the synthetic corpus). What only
//! the command line needs lives here: the Hugging Face Hub client ([`hub`]),
//! the figures ([`figure`]) and the terminal output ([`output`]).

mod annotate;
mod asr;
mod device;
mod distill;
mod eval;
mod features;
mod figure;
mod hub;
mod layers;
mod logging;
mod merge;
mod models;
pub(crate) mod output;
mod plot;
mod predict;
mod train;
mod transcribe;
mod window;

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::{Parser, Subcommand};

/// The model directory a verb uses: `--model`, else the default model
/// ([`emoscope::paths::default_model_dir`]), which must exist.
pub(crate) fn model_dir(arg: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(dir) = arg {
        if !dir.exists() {
            bail!("--model {}: no such folder", dir.display());
        }
        return Ok(dir);
    }
    let dir = emoscope::paths::default_model_dir();
    if !dir.is_dir() {
        bail!(
            "no --model given and the default model is missing: {} does not exist.\n\
             Make the offline demo model with `cargo xtask demo-model`, copy (or link) a model \
             directory there, point {} at one, or pass --model <dir>; see the README section \
             \"Models\" (`emoscope models list` shows the known checkpoints)",
            dir.display(),
            emoscope::paths::MODEL_ENV
        );
    }
    Ok(dir)
}

/// Creates the output folder `dir` (and its parents) if needed, with a
/// message that says what is wrong when it cannot: a file in its place, or
/// no permission.
pub(crate) fn create_output_dir(dir: &std::path::Path) -> Result<()> {
    if let Some(file) = dir.ancestors().find(|a| a.exists()).filter(|a| !a.is_dir()) {
        bail!(
            "--out {}: {} is a file, not a folder; give a folder for the outputs",
            dir.display(),
            file.display()
        );
    }
    std::fs::create_dir_all(dir).map_err(|e| match e.kind() {
        std::io::ErrorKind::PermissionDenied => anyhow::anyhow!(
            "cannot create the output folder {}: permission denied",
            dir.display()
        ),
        _ => anyhow::anyhow!("cannot create the output folder {}: {e}", dir.display()),
    })
}

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
    /// Arousal, valence and dominance of an audio file: one reading for the
    /// whole file (files over 30 s in pieces, averaged), or one per window with `--windows`.
    Predict(predict::Args),
    /// Score a model on a labelled manifest: CCC, Pearson r and MAE per dimension.
    Eval(eval::Args),
    /// Train an emotion model (audio, text or both) on a labelled manifest.
    Train(Box<train::Args>),
    /// Layer-wise analysis of a frozen encoder: learned layer weights and linear probes per dimension.
    Layers(layers::Args),
    /// Distil a teacher emotion model into an audio-only student on unlabelled audio.
    Distill(Box<distill::Args>),
    /// Annotate audio files, folders or a manifest: markers and timelines for
    /// Audacity, REAPER, Sonic Visualiser, Praat, ELAN, WebVTT, CSV, JSON and MIDI.
    Annotate(annotate::Args),
    /// Join the indexes of `annotate --shard I/N` runs into one index.json.
    Merge(merge::Args),
    /// List known checkpoints (and which are downloaded) or fetch one from the Hugging Face Hub.
    Models(models::Args),
    /// Draw an annotation (the JSON `annotate` writes) as PNG or SVG.
    Plot(plot::Args),
    /// Speech to text with Whisper: openai-whisper JSON (with word times),
    /// SubRip, WebVTT or Praat TextGrid, for files or folders.
    Transcribe(transcribe::Args),
}

/// Parses the arguments, runs the verb, and turns errors into a message and
/// exit code 1 (a closed stdout pipe ends quietly with 0; see [`output`]).
fn main() -> std::process::ExitCode {
    release_freed_memory();
    output::quiet_decoder_panics();
    let cli = Cli::parse();
    if let Err(e) = logging::init(&cli.log) {
        return output::finish(Err(e));
    }
    let result = match cli.command {
        Command::Features(args) => features::run(args),
        Command::Predict(args) => predict::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Train(args) => train::run(*args),
        Command::Layers(args) => layers::run(args),
        Command::Distill(args) => distill::run(*args),
        Command::Annotate(args) => annotate::run(args),
        Command::Merge(args) => merge::run(args),
        Command::Models(args) => models::run(args),
        Command::Plot(args) => plot::run(args),
        Command::Transcribe(args) => transcribe::run(args),
    };
    output::finish(result)
}

/// Makes glibc give freed memory back to the system: a fixed trim
/// threshold, which also stops glibc from raising its mmap threshold after
/// each large free. Without it, the text branch's many differently sized
/// tensors (one sentence length after another) left freed heap behind, and
/// `annotate`'s peak memory grew with a recording's length when it had a
/// transcript (416 MB for 1 min, 589 MB for 20 min, 1044 MB for 1 h of
/// LibriVox speech); with it, 10 min took the memory of 1 min. Only the
/// command line does this: the plugin shares its host's allocator.
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; called first thing
    // in main, before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_TRIM_THRESHOLD, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_output_folder_that_is_a_file_is_named_as_such() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("notes.txt");
        std::fs::write(&file, "x").unwrap();
        for out in [file.clone(), file.join("sub")] {
            let e = create_output_dir(&out).unwrap_err().to_string();
            assert!(
                e.contains(&format!("{} is a file, not a folder", file.display())),
                "{e}"
            );
        }
        let fresh = tmp.path().join("a/b");
        create_output_dir(&fresh).unwrap();
        assert!(fresh.is_dir());
    }
}
