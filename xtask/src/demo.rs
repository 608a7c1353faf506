//! `cargo xtask demo`: the README's main job. Makes sure the default model
//! exists (training the offline demo model with [`crate::demo_model`] when it
//! does not), then runs the `emoscope` CLI on `examples/speech.wav` with its
//! subtitle sidecar: the utterance's arousal, valence and dominance, the
//! per-window timeline, marker files in every export format and a plot, all
//! under `target/demo/`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

/// Arguments of `demo`.
#[derive(clap::Args)]
pub struct Args {
    /// Train the demo model again even when a default model is installed.
    #[arg(long)]
    retrain: bool,
    /// Where the outputs go.
    #[arg(long, default_value = "target/demo")]
    out: PathBuf,
}

/// Runs `emoscope` (release build) with `args`, failing when it fails.
fn emoscope(args: &[&str]) -> Result<()> {
    let status = Command::new(env!("CARGO"))
        .args([
            "run",
            "--release",
            "--quiet",
            "--package",
            "emoscope-cli",
            "--bin",
            "emoscope",
            "--",
        ])
        .args(args)
        .status()
        .context("running cargo")?;
    if !status.success() {
        bail!("emoscope {} failed ({status})", args.join(" "));
    }
    Ok(())
}

/// The demo (see the module docs).
pub fn run(args: Args) -> Result<()> {
    let model = emoscope::paths::default_model_dir();
    if args.retrain || !model.join("emoscope.json").is_file() {
        println!(
            "== no default model in {}: training the offline demo model",
            model.display()
        );
        crate::demo_model::run(crate::demo_model::Args::default())?;
    } else {
        println!(
            "== default model: {} (`cargo xtask demo --retrain` trains it again)",
            model.display()
        );
    }
    let audio = "examples/speech.wav";
    let transcript = "examples/speech.srt";
    if !Path::new(audio).is_file() {
        bail!("{audio} not found: run from the repository root");
    }
    let out = args.out.to_string_lossy().into_owned();
    println!("\n== emoscope predict {audio} --transcript {transcript}");
    emoscope(&["predict", audio, "--transcript", transcript])?;
    // The example is 3.5 s: 2 s windows every 0.5 s give it a timeline
    // (the default 4 s window would give one reading over the whole file).
    let windowing = ["--window", "2", "--hop", "0.5"];
    println!(
        "\n== emoscope predict {audio} --transcript {transcript} --windows {}",
        windowing.join(" ")
    );
    emoscope(
        &[
            &["predict", audio, "--transcript", transcript, "--windows"][..],
            &windowing,
        ]
        .concat(),
    )?;
    println!(
        "\n== emoscope annotate {audio} --format all {} --out {out}",
        windowing.join(" ")
    );
    emoscope(
        &[
            &[
                "annotate", audio, "--format", "all", "--out", &out, "--force",
            ][..],
            &windowing,
        ]
        .concat(),
    )?;
    let json = format!("{out}/speech.emoscope.json");
    let png = format!("{out}/speech.png");
    println!("\n== emoscope plot {json} --out {png}");
    emoscope(&["plot", &json, "--out", &png])?;
    let mut files: Vec<PathBuf> = std::fs::read_dir(&args.out)
        .with_context(|| format!("listing {out}"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    println!("\n== {} files in {out}:", files.len());
    for f in files {
        println!("   {}", f.display());
    }
    Ok(())
}
