//! `emoscope layers`: the layer-wise analysis of a frozen encoder (see
//! [`emoscope_training::layers`]).

use std::path::PathBuf;

use anyhow::{Context, Result};

use super::output::outln;
use emoscope_training::layers::{analyse, LayersOptions};

/// Arguments of `emoscope layers`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Encoder checkpoint directory (HuBERT / DistilHuBERT / wav2vec2; an
    /// emotion checkpoint's `audio/` directory works too).
    #[arg(long)]
    encoder: PathBuf,
    /// Training manifest.
    #[arg(long)]
    train: PathBuf,
    /// Dev manifest (the reported scores).
    #[arg(long)]
    dev: PathBuf,
    /// Output directory: layers.csv, layers.json, layers.png, layers.svg.
    #[arg(long, default_value = "layers")]
    out: PathBuf,
    /// Override the encoder's per-utterance normalisation (`do_normalize`).
    #[arg(long)]
    normalize: Option<bool>,
    /// Training epochs of the weights and of the probes.
    #[arg(long, default_value_t = 100)]
    epochs: usize,
    /// Mini-batch size.
    #[arg(long, default_value_t = 64)]
    batch_size: usize,
    /// AdamW learning rate.
    #[arg(long, default_value_t = 5e-3)]
    lr: f64,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// No progress bars.
    #[arg(long)]
    quiet: bool,
}

/// Runs the analysis and prints its table.
pub fn run(args: Args) -> Result<()> {
    let opts = LayersOptions {
        encoder: args.encoder.clone(),
        train: args.train,
        dev: args.dev,
        out: args.out.clone(),
        normalize: args.normalize,
        epochs: args.epochs,
        batch_size: args.batch_size,
        lr: args.lr,
        seed: args.seed,
        progress: !args.quiet,
        ..LayersOptions::default()
    };
    let r = analyse(&opts).with_context(|| format!("analysing {}", args.encoder.display()))?;
    for ext in ["png", "svg"] {
        crate::figure::layers::layer_plot(&r, &args.out.join(format!("layers.{ext}")))?;
    }
    let w = r.weights.to_array();
    let p = r.probe_dev_ccc.to_array();
    outln!(
        "{:<6} {:>9} {:>9} {:>9}   {:>9} {:>9} {:>9}",
        "layer",
        "w_A",
        "w_V",
        "w_D",
        "probe_A",
        "probe_V",
        "probe_D"
    );
    for s in 0..r.states {
        outln!(
            "{:<6} {:>9.3} {:>9.3} {:>9.3}   {:>9.3} {:>9.3} {:>9.3}",
            s,
            w[0][s],
            w[1][s],
            w[2][s],
            p[0][s],
            p[1][s],
            p[2][s]
        );
    }
    let c = r.weighted_dev_ccc.to_array();
    outln!(
        "weighted model dev CCC: arousal {:.3}, valence {:.3}, dominance {:.3}",
        c[0],
        c[1],
        c[2]
    );
    outln!(
        "wrote layers.csv, layers.json, layers.png, layers.svg into {}",
        args.out.display()
    );
    Ok(())
}
