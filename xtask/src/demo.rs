//! `cargo xtask demo`: the README's main job. Makes sure the default model
//! exists (training the offline demo model with [`crate::demo_model`] when it
//! does not), then runs the `emoscope` CLI on `examples/speech.wav` with its
//! subtitle sidecar: the utterance's arousal, valence and dominance, the
//! per-window timeline, marker files in every export format and a plot, all
//! under `target/demo/`. Then once more on a copy of the recording without
//! its subtitles, in `target/demo/without-subtitles/`: Whisper writes down
//! the words (the default speech-recognition model, when installed), and
//! the demo prints them with the readings they got.

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
    without_subtitles(audio, &args.out.join("without-subtitles"), &windowing)?;
    let mut files: Vec<PathBuf> = std::fs::read_dir(&args.out)
        .with_context(|| format!("listing {out}"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    println!("\n== {} files in {out}:", files.len());
    for f in files {
        let folder = if f.is_dir() { "/" } else { "" };
        println!("   {}{folder}", f.display());
    }
    Ok(())
}

/// Annotates a copy of `audio` with no subtitles next to it in `dir`, and
/// prints the words Whisper recognised with each segment's reading and the
/// windows' readings.
fn without_subtitles(audio: &str, dir: &Path, windowing: &[&str]) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let copy = dir.join("speech.wav");
    std::fs::copy(audio, &copy).with_context(|| format!("copying {audio}"))?;
    let (copy, out) = (copy.to_string_lossy(), dir.to_string_lossy());
    println!(
        "\n== emoscope annotate {copy} --format all {} --out {out}\n   \
         (no subtitles: the speech-recognition model writes down the words)",
        windowing.join(" ")
    );
    emoscope(
        &[
            &[
                "annotate", &copy, "--format", "all", "--out", &out, "--force",
            ][..],
            windowing,
        ]
        .concat(),
    )?;
    let transcript = dir.join("speech.emoscope.transcript.json");
    if !transcript.is_file() {
        println!("   no words recognised (see the note above): the audio alone was analysed");
        return Ok(());
    }
    let read = |path: &Path| -> Result<serde_json::Value> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    };
    let words = read(&transcript)?;
    println!(
        "   recognised ({}): {}",
        transcript.display(),
        words["text"].as_str().unwrap_or_default().trim()
    );
    let doc = read(&dir.join("speech.emoscope.json"))?;
    let none = Vec::new();
    for s in doc["segments"].as_array().unwrap_or(&none) {
        println!("   segment: {}", s["label"].as_str().unwrap_or_default());
    }
    println!(
        "   {:>5} {:>5}  {:>5} {:>5} {:>5}  words",
        "start", "end", "A", "V", "D"
    );
    for w in doc["timeline"].as_array().unwrap_or(&none) {
        let f = |k: &str| w[k].as_f64().unwrap_or(f64::NAN);
        println!(
            "   {:>5.2} {:>5.2}  {:>5.2} {:>5.2} {:>5.2}  {}",
            f("start"),
            f("end"),
            f("arousal"),
            f("valence"),
            f("dominance"),
            w["text"].as_str().unwrap_or_default()
        );
    }
    Ok(())
}
