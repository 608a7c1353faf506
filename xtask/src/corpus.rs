//! `cargo xtask corpus` and `cargo xtask corpus-check`: make the synthetic
//! emotional-speech corpus and check that its labels live where they should.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use emoscope_training::corpus::{generate, prosody, CorpusSize};

/// Which preset.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Size {
    /// 1728 train, 144 dev and 192 test utterances (the demo model's corpus).
    Full,
    /// 192 train, 48 dev and 48 test utterances (CI).
    Ci,
}

/// Arguments of `corpus`.
#[derive(clap::Args)]
pub struct Args {
    /// Output directory.
    #[arg(long, default_value = "target/corpus")]
    out: PathBuf,
    /// Seed of every random draw; the same seed gives the same bytes.
    #[arg(long, default_value_t = 2023)]
    seed: u64,
    /// Size preset.
    #[arg(long, value_enum, default_value = "full")]
    size: Size,
    /// Parallel renderers (0: one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
}

/// Makes the corpus.
pub fn run(args: Args) -> Result<()> {
    let size = match args.size {
        Size::Full => CorpusSize::FULL,
        Size::Ci => CorpusSize::CI,
    };
    let t0 = Instant::now();
    let info = generate(&args.out, args.seed, size, args.threads)
        .with_context(|| format!("making the corpus in {}", args.out.display()))?;
    let seconds = t0.elapsed().as_secs_f64();
    println!(
        "{} utterances in {} ({:.1} s, {:.1} ms per utterance); manifests train.csv, dev.csv, test.csv",
        info.utterances.len(),
        args.out.display(),
        seconds,
        1000.0 * seconds / info.utterances.len() as f64
    );
    Ok(())
}

/// Arguments of `corpus-check`.
#[derive(clap::Args)]
pub struct CheckArgs {
    /// The corpus directory.
    #[arg(long, default_value = "target/corpus")]
    dir: PathBuf,
}

/// Fits each label on level-free acoustic measures (F0, pitch range,
/// spectral tilt, speaking rate), and arousal and dominance on the level
/// alone, and prints the R².
pub fn check(args: CheckArgs) -> Result<()> {
    let r = prosody::check(&args.dir)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| format!("checking the corpus in {}", args.dir.display()))?;
    println!(
        "linear fit on voice-normalised log F0, pitch range, spectral tilt and words per second\n(valence: and the speech RMS level), {} utterances:",
        r.utterances
    );
    println!("  arousal   R² = {:.3}", r.arousal_r2);
    println!("  valence   R² = {:.3}", r.valence_r2);
    println!("  dominance R² = {:.3}", r.dominance_r2);
    println!(
        "  arousal   R² on the level alone = {:.3}",
        r.arousal_level_r2
    );
    println!(
        "  dominance R² on the level alone = {:.3}",
        r.dominance_level_r2
    );
    Ok(())
}
