//! `emoscope predict`: arousal, valence and dominance of an utterance, or,
//! with `--windows`, of every analysis window of a longer file (the engine's
//! offline mode).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use emoscope::audio::decode_file;
use emoscope::engine::{analyze_offline, load_predictor};

use super::window::WindowArgs;
use emoscope::transcript::{read_file, ReadOptions, Segment, Transcript};

use super::device::DeviceArg;

/// Arguments of `emoscope predict`.
#[derive(clap::Args)]
pub struct Args {
    /// Audio file (WAV, FLAC, MP3, Ogg Vorbis); any rate and channel count.
    audio: PathBuf,
    /// Model directory: an Emoscope checkpoint (`emoscope.json`) or a published
    /// checkpoint Emoscope recognises. Default: `$EMOSCOPE_MODEL`, else the installed default model.
    #[arg(long)]
    model: Option<PathBuf>,
    /// Transcript of the audio for the text branch, in any format `annotate`
    /// reads (SRT, WebVTT, TextGrid, EAF, Audacity labels, whisper JSON, plain
    /// text). With `--windows` each window gets the words it overlaps; without,
    /// the whole text.
    #[arg(long, conflicts_with = "text")]
    transcript: Option<PathBuf>,
    /// Transcript given inline.
    #[arg(long)]
    text: Option<String>,
    /// Analyse in windows (the engine's offline mode) instead of the whole file at once;
    /// `--window`, `--hop` and `--smoothing` apply then.
    #[arg(long)]
    windows: bool,
    /// Windowing (with `--windows`).
    #[command(flatten)]
    windowing: WindowArgs,
    /// Machine-readable output: one JSON object (per window with `--windows`),
    /// keys `arousal`, `valence`, `dominance` at full precision.
    #[arg(long)]
    json: bool,
    /// Device to run on.
    #[arg(long, value_enum, default_value = "cpu")]
    device: DeviceArg,
}

/// Runs the prediction and prints it.
pub fn run(args: Args) -> Result<()> {
    let config = args.windowing.config()?;
    let model_dir = super::model_dir(args.model.clone())?;
    let device = args.device.open()?;
    let mut model = load_predictor(&model_dir, &device)
        .with_context(|| format!("loading model from {}", model_dir.display()))?;
    let decoded =
        decode_file(&args.audio).with_context(|| format!("reading {}", args.audio.display()))?;
    let mono = emoscope::audio::downmix_checked(&decoded, &args.audio)?;
    let seconds = mono.len() as f64 / decoded.sample_rate as f64;
    // A timed transcript from a file, or inline text covering the whole file.
    let transcript = match (&args.transcript, &args.text) {
        (Some(path), _) => Some(read_file(
            path,
            &ReadOptions {
                audio_seconds: Some(seconds),
                ..ReadOptions::default()
            },
        )?),
        (None, Some(t)) if !t.trim().is_empty() => Some(Transcript::new(vec![Segment {
            start: 0.0,
            end: seconds,
            text: t.split_whitespace().collect::<Vec<_>>().join(" "),
            words: Vec::new(),
        }])?),
        _ => None,
    };
    let text = transcript
        .as_ref()
        .map(|t| t.text_between(f64::NEG_INFINITY, f64::INFINITY))
        .unwrap_or_default();
    let t0 = Instant::now();
    if !args.windows {
        let samples =
            emoscope::audio::resample_mono(&mono, decoded.sample_rate, model.sample_rate())
                .with_context(|| format!("resampling {}", args.audio.display()))?;
        let avd = model
            .predict(&samples, &text)
            .with_context(|| format!("analysing {}", args.audio.display()))?;
        if args.json {
            let (min, max) = model.output_range();
            let line = serde_json::json!({
                "arousal": avd.arousal, "valence": avd.valence, "dominance": avd.dominance,
                "model": model.id(), "output_range": [min, max], "text": text,
            });
            println!("{line}");
        } else {
            println!("arousal   {:>9.4}", avd.arousal);
            println!("valence   {:>9.4}", avd.valence);
            println!("dominance {:>9.4}", avd.dominance);
        }
    } else {
        let results = analyze_offline(
            &mono,
            decoded.sample_rate as f32,
            model.as_mut(),
            &config,
            transcript.as_ref(),
        )
        .with_context(|| format!("analysing {}", args.audio.display()))?;
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
    }
    let elapsed = t0.elapsed().as_secs_f64();
    eprintln!(
        "{seconds:.2} s of audio in {elapsed:.3} s ({:.1}x faster than real time) with {} on {}",
        seconds / elapsed.max(1e-9),
        model.id(),
        model.device()
    );
    Ok(())
}
