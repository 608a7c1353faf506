//! `emoscope train`: train an emotion model on a labelled manifest (see
//! [`emoscope_training::trainer`] for the loop, [`emoscope_training::init`] for `--init`),
//! dimensional (arousal, valence, dominance) or categorical (`--task categorical`).

use std::path::PathBuf;

use anyhow::{Context, Result};

use super::output::outln;
use emoscope_models::emotion::{FusionKind, LayerSelection, PoolingKind, Task};
use emoscope_models::head::Activation;
use emoscope_models::Mode;
use emoscope_training::init::{Freeze, HeadOptions};
use emoscope_training::metrics::TaskScores;
use emoscope_training::schedule::Decay;
use emoscope_training::trainer::{train, LoopOptions, TrainOptions};

/// Which branches the model has.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum ModeArg {
    /// Speech only.
    Audio,
    /// Transcript only.
    Text,
    /// Speech and transcript.
    #[value(name = "audio+text")]
    AudioText,
}

impl From<ModeArg> for Mode {
    fn from(m: ModeArg) -> Self {
        match m {
            ModeArg::Audio => Mode::Audio,
            ModeArg::Text => Mode::Text,
            ModeArg::AudioText => Mode::AudioText,
        }
    }
}

/// What the model learns to output.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum TaskArg {
    /// Arousal, valence and dominance (CCC loss).
    Dimensional,
    /// A probability per category (cross-entropy loss; dev UAR for early stopping).
    Categorical,
}

impl From<TaskArg> for Task {
    fn from(t: TaskArg) -> Self {
        match t {
            TaskArg::Dimensional => Task::Dimensional,
            TaskArg::Categorical => Task::Categorical,
        }
    }
}

/// How the learning rate falls after the warm-up.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum DecayArg {
    /// Half a cosine from the peak down to the floor.
    Cosine,
    /// A straight line from the peak down to the floor.
    Linear,
}

impl From<DecayArg> for Decay {
    fn from(d: DecayArg) -> Self {
        match d {
            DecayArg::Cosine => Decay::Cosine,
            DecayArg::Linear => Decay::Linear,
        }
    }
}

/// Parses `last`, `weighted` or a hidden-state index.
pub fn parse_layers(s: &str) -> Result<LayerSelection, String> {
    match s {
        "last" => Ok(LayerSelection::Last),
        "weighted" => Ok(LayerSelection::Weighted),
        n => n
            .parse()
            .map(LayerSelection::Index)
            .map_err(|_| format!("{s:?}: expected `last`, `weighted` or a hidden-state index")),
    }
}

/// Time pooling.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum PoolingArg {
    /// Mean over frames.
    Mean,
    /// Attentive statistics pooling (mean and standard deviation).
    Attentive,
}

/// Fusion of audio and text.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum FusionArg {
    /// One MLP over the concatenated vectors.
    Early,
    /// One MLP per branch, mixed per output.
    Late,
}

/// Activation between head layers.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum ActivationArg {
    /// max(0, x).
    Relu,
    /// tanh.
    Tanh,
    /// GELU.
    Gelu,
}

/// Head architecture options (shared with `distill`).
#[derive(clap::Args, Debug)]
pub struct HeadArgs {
    /// Hidden states the audio branch reads: `last`, `weighted` (learned softmax weights) or an index.
    #[arg(long, default_value = "weighted", value_parser = parse_layers)]
    pub layers: LayerSelection,
    /// Time pooling of the audio branch.
    #[arg(long, value_enum, default_value = "mean")]
    pub pooling: PoolingArg,
    /// Hidden widths of the head MLP, comma-separated (empty for a linear head).
    #[arg(long, value_delimiter = ',', default_value = "128")]
    pub hidden: Vec<usize>,
    /// Activation between head layers.
    #[arg(long, value_enum, default_value = "relu")]
    pub activation: ActivationArg,
    /// Dropout before each head layer while training (candle's dropout masks are not seeded).
    #[arg(long, default_value_t = 0.0)]
    pub dropout: f32,
    /// Fusion of audio and text (audio+text only).
    #[arg(long, value_enum, default_value = "early")]
    pub fusion: FusionArg,
    /// No audio-only fallback head in an early-fusion audio+text model (it then needs transcripts).
    #[arg(long)]
    pub no_fallback: bool,
}

impl HeadArgs {
    /// The library's options.
    pub fn options(&self) -> HeadOptions {
        HeadOptions {
            layers: self.layers,
            pooling: match self.pooling {
                PoolingArg::Mean => PoolingKind::Mean,
                PoolingArg::Attentive => PoolingKind::AttentiveStatistics,
            },
            hidden: self.hidden.clone(),
            activation: match self.activation {
                ActivationArg::Relu => Activation::Relu,
                ActivationArg::Tanh => Activation::Tanh,
                ActivationArg::Gelu => Activation::Gelu,
            },
            dropout: self.dropout,
            fusion: match self.fusion {
                FusionArg::Early => FusionKind::Early,
                FusionArg::Late => FusionKind::Late,
            },
            audio_fallback: !self.no_fallback,
        }
    }
}

/// Loop options (shared with `distill`).
#[derive(clap::Args, Debug)]
pub struct LoopArgs {
    /// Maximum passes over the training data.
    #[arg(long, default_value_t = 30)]
    pub epochs: usize,
    /// Stop after this many optimiser steps (the learning-rate schedule still
    /// spans --epochs; --resume continues the run).
    #[arg(long)]
    pub max_steps: Option<usize>,
    /// Utterances per batch (the CCC loss is computed per batch; at least 2).
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// Batches whose gradients are summed per optimiser step.
    #[arg(long, default_value_t = 1)]
    pub accumulate: usize,
    /// Peak learning rate of the head.
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f64,
    /// Peak learning rate of trained backbones.
    #[arg(long, default_value_t = 1e-4)]
    pub backbone_lr: f64,
    /// AdamW weight decay.
    #[arg(long, default_value_t = 0.01)]
    pub weight_decay: f64,
    /// Warm-up, as a fraction of all steps.
    #[arg(long, default_value_t = 0.1)]
    pub warmup: f64,
    /// Learning-rate decay after the warm-up.
    #[arg(long, value_enum, default_value = "cosine")]
    pub decay: DecayArg,
    /// Final learning rate as a fraction of the peak.
    #[arg(long, default_value_t = 0.05)]
    pub lr_floor: f64,
    /// Stop after this many evaluations without a better dev mean CCC (UAR
    /// for categories).
    #[arg(long, default_value_t = 5)]
    pub patience: usize,
    /// Evaluate every this many steps (default: every epoch).
    #[arg(long)]
    pub eval_every: Option<usize>,
    /// Train on random crops of at most this many seconds (evaluation uses whole utterances).
    #[arg(long)]
    pub crop_seconds: Option<f32>,
    /// Seed of initialisation, batch order and crops.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Gain augmentation: each training utterance at a random gain of up to
    /// this many dB either way (drawn once per utterance from the seed).
    #[arg(long, value_name = "DB", value_parser = parse_gain)]
    pub gain_augment: Option<f32>,
    /// Shift augmentation: the frozen conv features of each training
    /// utterance at this many phases of a frame hop (the input starting
    /// 0, 1/N, 2/N … of a hop later), one drawn per step; 1: none.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = parse_phases)]
    pub shift_augment: usize,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

impl LoopArgs {
    /// The library's options.
    pub fn options(&self) -> LoopOptions {
        LoopOptions {
            epochs: self.epochs,
            max_steps: self.max_steps,
            batch_size: self.batch_size,
            accumulate: self.accumulate,
            lr: self.lr,
            backbone_lr: self.backbone_lr,
            weight_decay: self.weight_decay,
            warmup: self.warmup,
            decay: self.decay.into(),
            lr_floor: self.lr_floor,
            patience: self.patience,
            eval_every: self.eval_every,
            crop_seconds: self.crop_seconds,
            seed: self.seed,
            gain_augment_db: self.gain_augment,
            shift_phases: self.shift_augment,
            mse_weight: 0.0,
            progress: !self.quiet,
        }
    }
}

/// Parses `--shift-augment`: 1 to 64 phases.
fn parse_phases(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n @ 1..=64) => Ok(n),
        _ => Err(format!(
            "{s}: expected a whole number of phases from 1 to 64"
        )),
    }
}

/// Parses `--gain-augment`: a finite, positive number of dB up to 60.
fn parse_gain(s: &str) -> Result<f32, String> {
    let db: f32 = s.parse().map_err(|e| format!("{s:?}: {e}"))?;
    if db.is_finite() && db > 0.0 && db <= 60.0 {
        Ok(db)
    } else {
        Err(format!("{s}: expected dB in (0, 60]"))
    }
}

/// Parses `MIN,MAX`.
fn parse_range(s: &str) -> Result<[f32; 2], String> {
    let (a, b) = s
        .split_once(',')
        .ok_or_else(|| format!("{s:?}: expected MIN,MAX"))?;
    let parse = |v: &str| v.trim().parse::<f32>().map_err(|e| format!("{v:?}: {e}"));
    Ok([parse(a)?, parse(b)?])
}

/// Arguments of `emoscope train`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Training manifest (CSV: audio,transcript,arousal,valence,dominance; for
    /// --task categorical a `label` column, e.g. audio,label).
    #[arg(long)]
    train: PathBuf,
    /// Dev manifest, for early stopping.
    #[arg(long)]
    dev: PathBuf,
    /// What the model learns: `dimensional` (arousal, valence and dominance,
    /// CCC loss, best checkpoint by the dev mean CCC) or `categorical` (the
    /// manifests' `label` column, one output per category, cross-entropy loss,
    /// best checkpoint by the dev UAR; every row needs a label, and a dev
    /// label the training split lacks is an error).
    #[arg(long, value_enum, default_value = "dimensional")]
    task: TaskArg,
    /// The categories in output order, comma-separated (--task categorical;
    /// default: the training split's distinct labels, sorted).
    #[arg(long, value_delimiter = ',', value_name = "LABEL,...")]
    labels: Option<Vec<String>>,
    /// What to start from, repeatable: an emotion checkpoint directory;
    /// `audio=DIR` / `text=DIR` backbones (a bare DIR is recognised by its
    /// config.json); `student:tiny`, `student:small` or `student:CONFIG.json`
    /// for a fresh audio student.
    #[arg(long, required = true)]
    init: Vec<String>,
    /// Which branches the model has.
    #[arg(long, value_enum)]
    mode: ModeArg,
    /// Output directory (the best checkpoint, training.json, last/ for --resume).
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    head: HeadArgs,
    /// Keep the audio backbone as it is (its pooled features are computed once).
    #[arg(long)]
    freeze_audio: bool,
    /// Keep the text backbone as it is (each transcript is embedded once).
    #[arg(long)]
    freeze_text: bool,
    /// Train the conv feature extractor too (no feature cache: much slower).
    #[arg(long)]
    train_conv: bool,
    #[command(flatten)]
    run: LoopArgs,
    /// Declared output range MIN,MAX (default: the labels' range rounded out to integers;
    /// dimensional only).
    #[arg(long, value_parser = parse_range)]
    output_range: Option<[f32; 2]>,
    /// Model name in emoscope.json (default: the output directory's name).
    #[arg(long)]
    name: Option<String>,
    /// Continue from OUT/last (weights, step, schedule, best score, log).
    #[arg(long)]
    resume: bool,
    /// Weight of an MSE term beside the CCC loss (0: the SER literature's pure CCC loss;
    /// a little MSE anchors the mean of outputs the inputs cannot predict; dimensional only).
    #[arg(long, default_value_t = 0.0)]
    mse_weight: f64,
}

/// Trains and prints the best dev scores.
pub fn run(args: Args) -> Result<()> {
    let opts = TrainOptions {
        train: args.train,
        dev: args.dev,
        init: args.init,
        mode: args.mode.into(),
        task: args.task.into(),
        labels: args.labels,
        out: args.out.clone(),
        head: args.head.options(),
        freeze: Freeze {
            audio: args.freeze_audio,
            text: args.freeze_text,
        },
        train_conv: args.train_conv,
        run: LoopOptions {
            mse_weight: args.mse_weight,
            ..args.run.options()
        },
        output_range: args.output_range,
        name: args.name,
        resume: args.resume,
    };
    let report = train(&opts).with_context(|| format!("training into {}", args.out.display()))?;
    let b = &report.best;
    match &b.dev {
        TaskScores::Dimensions(d) => outln!(
            "best dev mean CCC {:.4} at step {} (arousal {:.4}, valence {:.4}, dominance {:.4}); {}",
            d.mean_ccc,
            b.step,
            d.arousal.ccc,
            d.valence.ccc,
            d.dominance.ccc,
            report.stopped
        ),
        TaskScores::Categories(c) => outln!(
            "best dev UAR {:.4} at step {} (accuracy {:.4}, macro-F1 {:.4}); {}",
            c.uar,
            b.step,
            c.accuracy,
            c.macro_f1,
            report.stopped
        ),
    }
    outln!(
        "features {:.1} s, training {:.1} s; model in {}",
        report.features_seconds,
        report.train_seconds,
        args.out.display()
    );
    if let Some(r) = &report.routing {
        outln!("{}", emoscope_training::routing::describe(r));
    }
    Ok(())
}
