//! `emoscope eval`: a model's CCC, Pearson r and MAE per dimension on a
//! labelled manifest, each utterance predicted whole with its transcript.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use emoscope::engine::load_predictor;
use emoscope::train::manifest::read_manifest;
use emoscope::train::metrics::score;

use super::device::DeviceArg;

/// Arguments of `emoscope eval`.
#[derive(clap::Args)]
pub struct Args {
    /// Model directory (default: `$EMOSCOPE_MODEL`, else the installed default model).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Labelled manifest (CSV: audio,transcript,arousal,valence,dominance).
    #[arg(long)]
    data: PathBuf,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Device to run on.
    #[arg(long, value_enum, default_value = "cpu")]
    device: DeviceArg,
}

/// Predicts every utterance and prints the scores.
pub fn run(args: Args) -> Result<()> {
    let model_dir = super::model_dir(args.model.clone())?;
    let device = args.device.open()?;
    let mut model = load_predictor(&model_dir, &device)
        .with_context(|| format!("loading model from {}", model_dir.display()))?;
    let examples = read_manifest(&args.data)?;
    let labelled: Vec<_> = examples
        .iter()
        .filter_map(|e| e.labels.map(|l| (e, l)))
        .collect();
    if labelled.is_empty() {
        bail!("{} has no labelled utterance", args.data.display());
    }
    let bar = indicatif::ProgressBar::new(labelled.len() as u64).with_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} utterances, {elapsed} (ETA {eta})",
        )
        .expect("a valid template"),
    );
    if args.json {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let mut predictions = Vec::with_capacity(labelled.len());
    let mut labels = Vec::with_capacity(labelled.len());
    for (e, l) in &labelled {
        let samples = emoscope::audio::load_mono(&e.audio, model.sample_rate())
            .with_context(|| format!("reading {}", e.audio.display()))?;
        let p = model
            .predict(&samples, &e.transcript)
            .with_context(|| format!("analysing {}", e.audio.display()))?;
        predictions.push([p.arousal, p.valence, p.dominance]);
        labels.push(*l);
        bar.inc(1);
    }
    bar.finish_and_clear();
    let s = score(&predictions, &labels);
    if args.json {
        let v = serde_json::json!({
            "model": model.id(), "data": args.data, "utterances": labels.len(),
            "arousal": s.arousal, "valence": s.valence, "dominance": s.dominance, "mean_ccc": s.mean_ccc,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!("{} utterances, model {}", labels.len(), model.id());
        println!("{:<10} {:>8} {:>8} {:>8}", "", "CCC", "r", "MAE");
        for (name, d) in [
            ("arousal", s.arousal),
            ("valence", s.valence),
            ("dominance", s.dominance),
        ] {
            println!(
                "{name:<10} {:>8.4} {:>8.4} {:>8.4}",
                d.ccc, d.pearson, d.mae
            );
        }
        println!("{:<10} {:>8.4}", "mean CCC", s.mean_ccc);
    }
    Ok(())
}
