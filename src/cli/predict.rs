//! `emoscope predict`: the engine's offline mode over one file, printing the
//! emotion timeline.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use emoscope::audio::decode_file;
use emoscope::engine::{analyze_offline, load_predictor, AnalysisConfig};

use super::device::DeviceArg;

/// Arguments of `emoscope predict`.
#[derive(clap::Args)]
pub struct Args {
    /// Audio file (WAV, FLAC, MP3, Ogg Vorbis); any rate and channel count.
    audio: PathBuf,
    /// Model directory: an encoder checkpoint plus `head.safetensors` (`head.weight` [3, hidden], `head.bias` [3]).
    #[arg(long)]
    model: PathBuf,
    /// Analysis window in seconds.
    #[arg(long, default_value_t = 4.0)]
    window: f64,
    /// Hop between windows in seconds.
    #[arg(long, default_value_t = 1.0)]
    hop: f64,
    /// Smoothing time constant in seconds (0: none).
    #[arg(long, default_value_t = 0.0)]
    smoothing: f64,
    /// Print JSON lines instead of a table.
    #[arg(long)]
    json: bool,
    /// Device to run on.
    #[arg(long, value_enum, default_value = "cpu")]
    device: DeviceArg,
}

/// Runs the offline analysis and prints one line per window.
pub fn run(args: Args) -> Result<()> {
    if !(args.window > 0.0 && args.hop > 0.0 && args.smoothing >= 0.0) {
        anyhow::bail!("--window and --hop must be positive and --smoothing non-negative");
    }
    let device = args.device.open()?;
    let mut model = load_predictor(&args.model, &device)
        .with_context(|| format!("loading model from {}", args.model.display()))?;
    let decoded =
        decode_file(&args.audio).with_context(|| format!("reading {}", args.audio.display()))?;
    let mono = emoscope::audio::downmix_checked(&decoded, &args.audio)?;
    let config = AnalysisConfig {
        window_seconds: args.window,
        hop_seconds: args.hop,
        smoothing_seconds: args.smoothing,
        analyse_while_stopped: false,
    };
    let t0 = Instant::now();
    let results = analyze_offline(
        &mono,
        decoded.sample_rate as f32,
        model.as_mut(),
        &config,
        None,
    )
    .with_context(|| format!("analysing {}", args.audio.display()))?;
    let elapsed = t0.elapsed().as_secs_f64();
    let seconds = mono.len() as f64 / decoded.sample_rate as f64;
    if args.json {
        for r in &results {
            let line = serde_json::json!({
                "start": r.start, "end": r.end,
                "arousal": r.smoothed.arousal, "valence": r.smoothed.valence, "dominance": r.smoothed.dominance,
                "model": model.id(),
            });
            println!("{line}");
        }
    } else {
        println!(
            "{:>9} {:>9} {:>9} {:>9} {:>9}",
            "start", "end", "arousal", "valence", "dominance"
        );
        for r in &results {
            let s = r.smoothed;
            println!(
                "{:>9.3} {:>9.3} {:>9.4} {:>9.4} {:>9.4}",
                r.start, r.end, s.arousal, s.valence, s.dominance
            );
        }
    }
    eprintln!(
        "{} windows over {seconds:.2} s of audio in {elapsed:.3} s ({:.1}x faster than real time) with {} on {}",
        results.len(),
        seconds / elapsed.max(1e-9),
        model.id(),
        model.device()
    );
    Ok(())
}
