//! `emoscope train`: the training loop of an emotion model.
//!
//! Loss `Σ_d (1 − CCC_d)` per batch over arousal, valence and dominance
//! (plus the same loss for the audio-only fallback of an audio+text model,
//! and for distillation an MSE term and hidden-state terms); AdamW with
//! linear warm-up and cosine or linear decay, one optimiser for the head
//! (`--lr`) and one for the backbones (`--backbone-lr`); gradient
//! accumulation; batches of similar length; evaluation on the dev set every
//! epoch (or `--eval-every` steps) with early stopping on the dev mean CCC.
//!
//! A categorical model (`--task categorical`, [`Task::Categorical`]) learns
//! the manifests' `label` column instead: its categories are the training
//! split's distinct labels, sorted, or the order `--labels` gives
//! ([`crate::categories`]); its loss is the cross-entropy of the head's
//! logits ([`cross_entropy`], the fallback's too), and the dev UAR takes the
//! mean CCC's place in early stopping and in choosing the best checkpoint.
//!
//! Output directory: the best model so far as an emotion checkpoint
//! (`emoscope.json`, `head.safetensors`, `audio/`, `text/`), `training.json`
//! (options, data, every evaluation, the best one, timings), and `last/` —
//! the state to resume from, rewritten at every evaluation:
//! `head.safetensors`, `audio.safetensors`, `text.safetensors` (every
//! trained variable), `state.json` (step, best score, evaluations without
//! improvement, log). `--resume` restores all of that and continues at the
//! next step with the same batch order (batches are drawn from the seed and
//! the epoch) and learning-rate schedule. Not restored: AdamW's moment
//! estimates (candle's optimiser does not expose them; they restart from
//! zero, which the schedule's rate at that point then governs), the random
//! crop positions and dropout masks of the steps to come.

use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::backprop::GradStore;
use candle_core::{Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use emoscope_models::emotion::{LayerSelection, PoolingKind, Task};
use emoscope_models::{Mode, SslEncoder};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::batches::epoch_batches;
use crate::class_metrics::classification_scores;
use crate::data::{self, AudioCache, Batch, BatchOutput, Prepared, StateLayout, Target, Utterance};
use crate::error::{io_err, TrainError};
use crate::init::{Freeze, HeadOptions, Init, OutputSpec};
use crate::loss::{ccc_loss, cross_entropy, mse_loss};
use crate::manifest::read_manifest;
use crate::metrics::{score, TaskScores};
use crate::model::TrainableModel;
use crate::schedule::{Decay, Schedule};

/// Hyper-parameters of the loop (shared by `train` and `distill`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoopOptions {
    /// Maximum passes over the training set.
    pub epochs: usize,
    /// Stop after this many optimiser steps (the schedule still spans `epochs`;
    /// a later `--resume` without it continues the same run).
    pub max_steps: Option<usize>,
    /// Utterances per batch (the CCC is computed over each batch).
    pub batch_size: usize,
    /// Batches whose gradients are summed before each optimiser step.
    pub accumulate: usize,
    /// Peak learning rate of the head.
    pub lr: f64,
    /// Peak learning rate of trained backbones.
    pub backbone_lr: f64,
    /// AdamW's decoupled weight decay.
    pub weight_decay: f64,
    /// Warm-up as a fraction of the total steps.
    pub warmup: f64,
    /// Decay after the warm-up.
    pub decay: Decay,
    /// Final learning rate as a fraction of the peak.
    pub lr_floor: f64,
    /// Evaluations without a better dev score (mean CCC, or UAR for
    /// categories) before stopping.
    pub patience: usize,
    /// Evaluate every this many optimiser steps (default: once per epoch).
    pub eval_every: Option<usize>,
    /// Training crops: at most this many seconds of each utterance per step (whole utterances when `None`).
    pub crop_seconds: Option<f32>,
    /// Seed of initialisation, batch order and crops.
    pub seed: u64,
    /// Gain augmentation: each training utterance at a random gain within
    /// this many dB either way (drawn once per utterance, see
    /// [`crate::data::GainAugment`]).
    #[serde(default)]
    pub gain_augment_db: Option<f32>,
    /// Shift augmentation: the training set's conv features at this many
    /// phases of a frame hop, one drawn per step (1: none; see
    /// [`crate::data::prepare`]).
    #[serde(default = "one")]
    pub shift_phases: usize,
    /// Weight of the MSE term (0 in `train`; distillation matches values
    /// too). Dimensional outputs only.
    pub mse_weight: f64,
    /// Show the progress bar.
    pub progress: bool,
}

fn one() -> usize {
    1
}

impl LoopOptions {
    /// The gain augmentation these options ask for.
    pub fn gain_augment(&self) -> Option<crate::data::GainAugment> {
        self.gain_augment_db.map(|max_db| crate::data::GainAugment {
            max_db,
            seed: self.seed,
        })
    }
}

impl Default for LoopOptions {
    fn default() -> Self {
        Self {
            epochs: 30,
            max_steps: None,
            batch_size: 32,
            accumulate: 1,
            lr: 1e-3,
            backbone_lr: 1e-4,
            weight_decay: 0.01,
            warmup: 0.1,
            decay: Decay::Cosine,
            lr_floor: 0.05,
            patience: 5,
            eval_every: None,
            crop_seconds: None,
            seed: 0,
            gain_augment_db: None,
            shift_phases: 1,
            mse_weight: 0.0,
            progress: true,
        }
    }
}

/// Everything `emoscope train` needs.
#[derive(Debug, Clone, Serialize)]
pub struct TrainOptions {
    /// Training manifest.
    pub train: PathBuf,
    /// Dev manifest (early stopping).
    pub dev: PathBuf,
    /// `--init` values.
    pub init: Vec<String>,
    /// Which branches.
    #[serde(serialize_with = "ser_mode")]
    pub mode: Mode,
    /// Dimensions (the CCC loss on arousal, valence and dominance) or
    /// categories (the cross-entropy on the `label` column).
    pub task: Task,
    /// The categories in the order the model outputs them (`--labels`;
    /// categorical only). Default: the training split's distinct labels, sorted.
    pub labels: Option<Vec<String>>,
    /// Output directory.
    pub out: PathBuf,
    /// Architecture of a new head.
    pub head: HeadOptions,
    /// Frozen backbones.
    pub freeze: Freeze,
    /// Train the conv feature extractor too (slow: no feature cache).
    pub train_conv: bool,
    /// The loop.
    #[serde(flatten)]
    pub run: LoopOptions,
    /// Declared output range (default: the labels' range rounded out to
    /// integers). Dimensional only: probabilities lie in 0..1.
    pub output_range: Option<[f32; 2]>,
    /// Model name in `emoscope.json` (default: the output directory's name).
    pub name: Option<String>,
    /// Continue from `out/last`.
    pub resume: bool,
}

fn ser_mode<S: serde::Serializer>(m: &Mode, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(mode_name(*m))
}

/// The CLI spelling of a mode.
pub fn mode_name(m: Mode) -> &'static str {
    match m {
        Mode::Audio => "audio",
        Mode::Text => "text",
        Mode::AudioText => "audio+text",
    }
}

/// One evaluation on the dev set.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Evaluation {
    /// Optimiser steps done.
    pub step: usize,
    /// Epoch (0-based) the step belongs to.
    pub epoch: usize,
    /// Head learning rate at that step.
    pub lr: f64,
    /// Mean training loss since the previous evaluation.
    pub train_loss: f64,
    /// Dev scores.
    pub dev: TaskScores,
    /// Seconds since training started (this run).
    pub seconds: f64,
}

/// The resumable state in `last/state.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    /// Optimiser steps done.
    pub step: usize,
    /// Best dev score so far ([`TaskScores::selection`]: the mean CCC, or
    /// the UAR); `best_ccc` in state files written before categories existed.
    #[serde(alias = "best_ccc")]
    pub best_score: f64,
    /// Step of the best evaluation.
    pub best_step: usize,
    /// Evaluations since the best one.
    pub stale: usize,
    /// Every evaluation so far.
    pub evaluations: Vec<Evaluation>,
}

/// What a run ended with (also in `training.json`).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Steps done.
    pub steps: usize,
    /// Best dev evaluation.
    pub best: Evaluation,
    /// Why training stopped.
    pub stopped: String,
    /// Seconds spent computing cached features.
    pub features_seconds: f64,
    /// Seconds spent in the loop.
    pub train_seconds: f64,
    /// Every evaluation.
    pub evaluations: Vec<Evaluation>,
    /// The per-output routing decided on the dev set (audio+text models with
    /// an audio-only path, `emoscope train` only).
    pub routing: Option<crate::routing::RoutingReport>,
}

/// A loss term computed from the trained encoder's output (distillation of hidden states).
pub trait ExtraLoss {
    /// Its variables (optimised with the head).
    fn vars(&self) -> Vec<Var>;
    /// The term for batch `idx`, given the trained encoder's output of that
    /// batch and where each item's crop starts (in frames).
    fn loss(
        &self,
        idx: &[usize],
        offsets: &[usize],
        out: &emoscope_models::EncoderOutput,
    ) -> Result<Tensor, TrainError>;
}

/// Where the loop's data and model come from.
pub struct Setup<'a> {
    /// The model.
    pub model: &'a mut TrainableModel,
    /// Training utterances with features.
    pub train: &'a Prepared,
    /// Dev utterances with features.
    pub dev: &'a Prepared,
    /// Whether the audio encoder trains (conv or samples cache).
    pub audio_trains: bool,
    /// Whether the conv stack trains.
    pub train_conv: bool,
    /// Cache layout for frozen features.
    pub layout: StateLayout,
    /// Output directory.
    pub out: &'a Path,
    /// Extra loss term.
    pub extra: Option<&'a dyn ExtraLoss>,
    /// Written into `training.json` beside the report.
    pub log_header: serde_json::Value,
    /// Seconds spent preparing features.
    pub features_seconds: f64,
    /// Resume from `out/last`.
    pub resume: bool,
}

/// Reads the manifests, builds the model, caches what frozen parts compute,
/// trains, and writes the checkpoint and log into `opts.out`.
pub fn train(opts: &TrainOptions) -> Result<Report, TrainError> {
    let train_examples = read_manifest(&opts.train)?;
    let dev_examples = read_manifest(&opts.dev)?;
    let (train_utts, dev_utts, outputs) = match opts.task {
        Task::Dimensional => {
            if opts.labels.is_some() {
                return Err(TrainError::Config(
                    "--labels names categories; it needs --task categorical".into(),
                ));
            }
            let train_utts = Utterance::labelled(&train_examples, &opts.train)?;
            let dev_utts = Utterance::labelled(&dev_examples, &opts.dev)?;
            let range = opts
                .output_range
                .unwrap_or_else(|| label_range(&train_utts));
            (train_utts, dev_utts, OutputSpec::Dimensions { range })
        }
        Task::Categorical => {
            if opts.output_range.is_some() {
                return Err(TrainError::Config(
                    "--output-range applies to --task dimensional; a categorical model's \
                     outputs are probabilities in 0..1"
                        .into(),
                ));
            }
            if opts.run.mse_weight > 0.0 {
                return Err(TrainError::Config(
                    "--mse-weight applies to --task dimensional; a categorical model trains on \
                     the cross-entropy"
                        .into(),
                ));
            }
            let categories =
                crate::categories::label_set(&train_examples, &opts.train, opts.labels.as_deref())?;
            let train_utts = Utterance::categorical(&train_examples, &opts.train, &categories)?;
            let dev_utts = Utterance::categorical(&dev_examples, &opts.dev, &categories)?;
            (train_utts, dev_utts, OutputSpec::Categories(categories))
        }
    };
    if train_utts.len() < 2 || dev_utts.len() < 2 {
        return Err(TrainError::Config(format!(
            "training needs at least 2 utterances in each of {} ({}) and {} ({})",
            opts.train.display(),
            train_utts.len(),
            opts.dev.display(),
            dev_utts.len()
        )));
    }
    let name = opts.name.clone().unwrap_or_else(|| {
        opts.out.file_name().map_or("emoscope-model".into(), |n| {
            n.to_string_lossy().into_owned()
        })
    });
    let init = Init::parse(&opts.init)?;
    if opts.train_conv && opts.freeze.audio {
        return Err(TrainError::Config(
            "--train-conv and --freeze-audio contradict each other".into(),
        ));
    }
    let (mut model, head_loaded) = crate::init::build(
        &init,
        opts.mode,
        &opts.head,
        opts.freeze,
        &outputs,
        &name,
        opts.run.seed,
    )?;
    model.manifest.provenance.insert(
        "trained_with".into(),
        serde_json::json!(format!("emoscope train {}", env!("CARGO_PKG_VERSION"))),
    );
    model
        .manifest
        .provenance
        .insert("train".into(), serde_json::json!(opts.train));
    model
        .manifest
        .provenance
        .insert("init".into(), serde_json::json!(opts.init));
    std::fs::create_dir_all(&opts.out).map_err(io_err(&opts.out))?;
    let t0 = Instant::now();
    let (train, dev, layout, audio_trains) = prepare_sets(
        &model,
        train_utts,
        dev_utts,
        !opts.freeze.audio,
        opts.train_conv,
        &opts.run,
    )?;
    let features_seconds = t0.elapsed().as_secs_f64();
    let header = serde_json::json!({
        "command": "emoscope train",
        "options": opts,
        "head_from_checkpoint": head_loaded,
        "data": {
            "train": opts.train, "train_utterances": train.utterances.len(),
            "dev": opts.dev, "dev_utterances": dev.utterances.len(),
        },
    });
    let mut report = run_loop(
        Setup {
            model: &mut model,
            train: &train,
            dev: &dev,
            audio_trains,
            train_conv: opts.train_conv,
            layout,
            out: &opts.out,
            extra: None,
            log_header: header,
            features_seconds,
            resume: opts.resume,
        },
        &opts.run,
    )?;
    if crate::routing::routable(&model.manifest) {
        let routing = crate::routing::route(&opts.out, &train.utterances, &dev.utterances)?;
        let log_path = opts.out.join("training.json");
        let mut log: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&log_path).map_err(io_err(&log_path))?)
                .map_err(|source| TrainError::Json {
                path: log_path.clone(),
                source,
            })?;
        log["routing"] = serde_json::to_value(&routing).expect("serialisable");
        write_json(&log_path, &log)?;
        report.routing = Some(routing);
    }
    Ok(report)
}

/// `[floor(min), ceil(max)]` over every label.
fn label_range(utts: &[Utterance]) -> [f32; 2] {
    let (lo, hi) = utts
        .iter()
        .flat_map(Utterance::avd)
        .fold((f32::MAX, f32::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let (lo, hi) = (lo.floor(), hi.ceil());
    if hi > lo {
        [lo, hi]
    } else {
        [lo, lo + 1.0]
    }
}

/// Caches the features of both sets for `model` (the training set's with
/// `run`'s gain and shift augmentation); returns them, the frozen cache layout
/// and whether the audio encoder trains.
pub fn prepare_sets(
    model: &TrainableModel,
    train_utts: Vec<Utterance>,
    dev_utts: Vec<Utterance>,
    audio_trains: bool,
    train_conv: bool,
    run: &LoopOptions,
) -> Result<(Prepared, Prepared, StateLayout, bool), TrainError> {
    let (gain, phases, progress) = (run.gain_augment(), run.shift_phases, run.progress);
    let emotion = model.model();
    let audio_trains = audio_trains && model.audio.is_some();
    let states = model
        .audio
        .as_ref()
        .map_or(1, |a| a.config().num_hidden_layers + 1);
    let spec = model.manifest.audio.as_ref();
    let layout = StateLayout {
        selection: spec.map_or(LayerSelection::Last, |s| s.layers),
        states,
    };
    let pooling = spec.map_or(PoolingKind::Mean, |s| s.pooling);
    let cache = if !audio_trains {
        AudioCache::Frozen
    } else if train_conv {
        AudioCache::Samples
    } else {
        AudioCache::Conv
    };
    let text_trains = model.text.as_ref().is_some_and(|t| t.trainable());
    let total = (train_utts.len() + dev_utts.len()) as u64;
    let bar = progress_bar(
        progress,
        total,
        "{bar:30} {pos}/{len} utterances: caching features [{elapsed}<{eta}]",
    );
    let tick = || bar.inc(1);
    let audio = emotion
        .audio()
        .map(|b| (b.encoder(), cache, layout, pooling));
    let text = emotion.text().map(|t| (t, text_trains));
    let train = data::prepare(train_utts, audio, text, gain, phases, &tick)?;
    let dev = data::prepare(dev_utts, audio, text, None, 1, &tick)?;
    bar.finish_and_clear();
    Ok((train, dev, layout, audio_trains))
}

fn progress_bar(show: bool, len: u64, template: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len).with_style(
        indicatif::ProgressStyle::with_template(template).expect("a valid progress template"),
    );
    if !show {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    bar
}

/// Targets `[batch, outputs]` of utterances `idx` in the model's output
/// order: arousal, valence and dominance placed at their columns (`order`,
/// dimensional models), or each utterance's distribution over the categories.
fn targets(
    data: &Prepared,
    idx: &[usize],
    order: Option<[usize; 3]>,
) -> Result<Tensor, TrainError> {
    let mut t = Vec::new();
    let mut width = 0;
    for &i in idx {
        match (&data.utterances[i].target, order) {
            (Target::Dimensions(avd), Some(order)) => {
                // order[k] is the output column of dimension k (A, V, D).
                let mut row = [0f32; 3];
                for k in 0..3 {
                    row[order[k]] = avd[k];
                }
                t.extend_from_slice(&row);
                width = 3;
            }
            (Target::Categories(q), None) => {
                t.extend_from_slice(q);
                width = q.len();
            }
            _ => {
                return Err(TrainError::Config(
                    "the targets do not match the model's outputs (dimensions against categories)"
                        .into(),
                ))
            }
        }
    }
    Ok(Tensor::from_vec(
        t,
        (idx.len(), width),
        &candle_core::Device::Cpu,
    )?)
}

/// The head's outputs for a whole set, in batches, one row per utterance
/// in the model's output order (a categorical model's logits).
pub fn predict_rows(
    model: &TrainableModel,
    encoder: Option<&SslEncoder>,
    layout: StateLayout,
    data: &Prepared,
) -> Result<Vec<Vec<f32>>, TrainError> {
    let batch = Batch {
        model: model.model(),
        encoder,
        layout,
        train: false,
        crop: None,
    };
    let mut idx: Vec<usize> = (0..data.utterances.len()).collect();
    idx.sort_by_key(|&i| data.lengths[i]);
    let mut out = vec![Vec::new(); idx.len()];
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    for chunk in idx.chunks(16) {
        let y = batch
            .run(data, chunk, &mut rng)?
            .predictions
            .to_vec2::<f32>()?;
        for (&i, row) in chunk.iter().zip(y) {
            out[i] = row;
        }
    }
    Ok(out)
}

/// The scores of the head's output `rows` (output order) against the
/// targets of `data`: CCC, r and MAE per dimension, or for categories the
/// most probable (largest logit) against the target's most probable (the
/// label; a teacher's most probable label in distillation).
fn scores_of(model: &TrainableModel, rows: &[Vec<f32>], data: &Prepared) -> TaskScores {
    match model.manifest.task {
        Task::Dimensional => {
            let order = model.manifest.output_index();
            let preds: Vec<[f32; 3]> = rows.iter().map(|r| order.map(|c| r[c])).collect();
            let targets: Vec<[f32; 3]> = data.utterances.iter().map(Utterance::avd).collect();
            TaskScores::Dimensions(score(&preds, &targets))
        }
        Task::Categorical => {
            let truth: Vec<usize> = data
                .utterances
                .iter()
                .map(|u| match &u.target {
                    Target::Categories(q) => crate::categories::top(q),
                    Target::Dimensions(_) => {
                        unreachable!("a categorical model trains on categorical targets")
                    }
                })
                .collect();
            let predicted: Vec<usize> = rows.iter().map(|r| crate::categories::top(r)).collect();
            TaskScores::Categories(classification_scores(
                &truth,
                &predicted,
                model.manifest.categories.len(),
            ))
        }
    }
}

/// Writes `value` as pretty JSON.
pub(crate) fn write_json(path: &Path, value: &impl Serialize) -> Result<(), TrainError> {
    let text = serde_json::to_string_pretty(value).expect("serialisable") + "\n";
    std::fs::write(path, text).map_err(io_err(path))
}

/// The loop itself (see the module docs): restore or start the state, plan
/// the steps, then per step accumulate a group of batches' gradients, step
/// both optimisers and, when due, evaluate on the dev set and record the
/// result (best model, resumable state, log), until the planned steps are
/// done or the dev score stops improving.
pub fn run_loop(setup: Setup<'_>, o: &LoopOptions) -> Result<Report, TrainError> {
    let Setup {
        model,
        train,
        dev,
        audio_trains,
        train_conv,
        layout,
        out,
        extra,
        log_header,
        features_seconds,
        resume,
    } = setup;
    let t0 = Instant::now();
    let last_dir = out.join("last");
    let mut state = if resume {
        resume_state(model, &last_dir)?
    } else {
        State::fresh()
    };
    let plan = Plan::new(train.utterances.len(), o);
    let mut optimisers = Optimisers::new(model, extra, audio_trains, train_conv, o, &plan)?;
    let crop = crop_length(o.crop_seconds, train_conv, model);
    let terms = LossTerms {
        order: (model.manifest.task == Task::Dimensional).then(|| model.manifest.output_index()),
        mse_weight: o.mse_weight,
        extra,
    };
    let bar = progress_bar(
        o.progress,
        plan.total as u64,
        "{bar:30} step {pos}/{len} [{elapsed}<{eta}] {msg}",
    );
    bar.set_position(state.step as u64);
    let mut losses = LossMean::default();
    let mut stopped = plan.completion();
    let mut rng = ChaCha8Rng::seed_from_u64(o.seed ^ 0xc409 ^ state.step as u64);
    let log = Log {
        header: log_header,
        out,
        features_seconds,
        t0,
    };
    'epochs: while state.step < plan.total {
        let epoch = state.step / plan.steps_per_epoch;
        let batches = epoch_batches(&train.lengths, plan.batch_size, 2, o.seed, epoch);
        let skip = (state.step % plan.steps_per_epoch) * plan.accumulate;
        for group in batches[skip.min(batches.len())..].chunks(plan.accumulate) {
            let encoder = trained_encoder(model, audio_trains)?;
            let runner = Batch {
                model: model.model(),
                encoder: encoder.as_ref(),
                layout,
                train: true,
                crop,
            };
            let Some(grads) = accumulate_gradients(
                &runner,
                train,
                group,
                &terms,
                &mut rng,
                &mut losses,
                state.step,
            )?
            else {
                continue;
            };
            optimisers.step(&grads, state.step)?;
            state.step += 1;
            show_progress(&bar, &state, &losses);
            if plan.evaluates_after(state.step, o) {
                let eval = evaluate(
                    model,
                    audio_trains,
                    layout,
                    dev,
                    Evaluated {
                        step: state.step,
                        steps_per_epoch: plan.steps_per_epoch,
                        lr: optimisers.head_rate(state.step - 1),
                        train_loss: losses.mean(),
                        seconds: t0.elapsed().as_secs_f64(),
                    },
                )?;
                losses = LossMean::default();
                bar.suspend(|| print_evaluation(&eval));
                record(&mut state, eval, model, out, &last_dir, &log)?;
                if state.stale >= o.patience {
                    let measure = state
                        .evaluations
                        .last()
                        .map_or("score", |e| e.dev.selection_name());
                    stopped = format!(
                        "early stopping: {} evaluations without a better dev {measure}",
                        state.stale
                    );
                    break 'epochs;
                }
            }
            if state.step >= plan.total {
                break 'epochs;
            }
        }
    }
    bar.finish_and_clear();
    let best = state
        .evaluations
        .iter()
        .find(|e| e.step == state.best_step)
        .cloned()
        .ok_or_else(|| TrainError::Config("training ended before its first evaluation".into()))?;
    log.write(&state, Some(&stopped))?;
    Ok(Report {
        steps: state.step,
        best,
        stopped,
        features_seconds,
        train_seconds: t0.elapsed().as_secs_f64(),
        evaluations: state.evaluations,
        routing: None,
    })
}

impl State {
    /// Before the first step.
    fn fresh() -> Self {
        Self {
            step: 0,
            best_score: f64::NEG_INFINITY,
            best_step: 0,
            stale: 0,
            evaluations: Vec::new(),
        }
    }
}

/// `--resume`: the state in `last/state.json`, with the model's trained
/// variables restored from `last/`.
fn resume_state(model: &mut TrainableModel, last_dir: &Path) -> Result<State, TrainError> {
    let p = last_dir.join("state.json");
    let text = std::fs::read_to_string(&p).map_err(io_err(&p))?;
    let state = serde_json::from_str(&text).map_err(|source| TrainError::Json {
        path: p.clone(),
        source,
    })?;
    model.load_vars(last_dir)?;
    Ok(state)
}

/// How many steps the run takes and when it evaluates.
struct Plan {
    /// Utterances per batch (at least 2: the CCC needs two).
    batch_size: usize,
    /// Batches per optimiser step (at least 1).
    accumulate: usize,
    /// Optimiser steps per pass over the training set.
    steps_per_epoch: usize,
    /// Steps of `--epochs` passes: what the learning-rate schedules span.
    planned: usize,
    /// Steps this run stops at (`--max-steps`, else `planned`).
    total: usize,
    /// Evaluate every this many steps.
    eval_every: usize,
    /// Warm-up steps of both schedules.
    warmup: usize,
    /// Decay of both schedules after the warm-up.
    decay: Decay,
    /// Final rate of both schedules, as a fraction of the peak.
    floor: f64,
}

impl Plan {
    fn new(train_utterances: usize, o: &LoopOptions) -> Self {
        let batch_size = o.batch_size.max(2);
        let accumulate = o.accumulate.max(1);
        let batches_per_epoch = train_utterances.div_ceil(batch_size).max(1);
        let steps_per_epoch = batches_per_epoch.div_ceil(accumulate);
        let planned = (o.epochs * steps_per_epoch).max(1);
        Self {
            batch_size,
            accumulate,
            steps_per_epoch,
            planned,
            total: o.max_steps.unwrap_or(usize::MAX).min(planned),
            eval_every: o.eval_every.unwrap_or(steps_per_epoch).max(1),
            warmup: ((planned as f64 * o.warmup) as usize).max(1),
            decay: o.decay,
            floor: o.lr_floor,
        }
    }

    /// The learning-rate schedule with peak `peak`, spanning the planned steps.
    fn schedule(&self, peak: f64) -> Schedule {
        Schedule {
            peak,
            warmup: self.warmup,
            total: self.planned,
            decay: self.decay,
            floor: self.floor,
        }
    }

    /// Why the run stops when no early stopping cuts it short.
    fn completion(&self) -> String {
        if self.total < self.planned {
            format!(
                "stopped at --max-steps {} of {} planned steps",
                self.total, self.planned
            )
        } else {
            format!("completed {} steps", self.planned)
        }
    }

    /// Whether to evaluate once `step` steps are done: every `eval_every`
    /// steps, at the last step, and (without `--eval-every`) at every epoch's end.
    fn evaluates_after(&self, step: usize, o: &LoopOptions) -> bool {
        let end_of_epoch = step.is_multiple_of(self.steps_per_epoch);
        step.is_multiple_of(self.eval_every)
            || step == self.total
            || (o.eval_every.is_none() && end_of_epoch)
    }
}

/// One AdamW for the head (and the extra loss's variables) at `--lr`, one
/// for the trained backbones at `--backbone-lr`, each with its schedule.
struct Optimisers {
    head: AdamW,
    backbone: Option<AdamW>,
    head_schedule: Schedule,
    backbone_schedule: Schedule,
}

impl Optimisers {
    fn new(
        model: &TrainableModel,
        extra: Option<&dyn ExtraLoss>,
        audio_trains: bool,
        train_conv: bool,
        o: &LoopOptions,
        plan: &Plan,
    ) -> Result<Self, TrainError> {
        let mut head_vars = model.head_trainable_vars();
        if let Some(e) = extra {
            head_vars.extend(e.vars());
        }
        let mut backbone_vars = Vec::new();
        if audio_trains {
            if let Some(a) = &model.audio {
                backbone_vars.extend(a.trainable_vars(train_conv));
            }
        }
        if let Some(t) = &model.text {
            backbone_vars.extend(t.trainable_vars());
        }
        let params = |lr| ParamsAdamW {
            lr,
            weight_decay: o.weight_decay,
            ..ParamsAdamW::default()
        };
        let head = AdamW::new(head_vars, params(o.lr))?;
        let backbone = if backbone_vars.is_empty() {
            None
        } else {
            Some(AdamW::new(backbone_vars, params(o.backbone_lr))?)
        };
        Ok(Self {
            head,
            backbone,
            head_schedule: plan.schedule(o.lr),
            backbone_schedule: plan.schedule(o.backbone_lr),
        })
    }

    /// The head's learning rate at `step`.
    fn head_rate(&self, step: usize) -> f64 {
        self.head_schedule.rate(step)
    }

    /// Optimiser step number `step` (0-based) with `grads`.
    fn step(&mut self, grads: &GradStore, step: usize) -> Result<(), TrainError> {
        self.head.set_learning_rate(self.head_schedule.rate(step));
        self.head.step(grads)?;
        if let Some(opt) = &mut self.backbone {
            opt.set_learning_rate(self.backbone_schedule.rate(step));
            opt.step(grads)?;
        }
        Ok(())
    }
}

/// Training crops in the unit the prepared features use: samples for raw
/// audio (`--train-conv`), else frames of the encoder's conv features.
fn crop_length(
    crop_seconds: Option<f32>,
    train_conv: bool,
    model: &TrainableModel,
) -> Option<usize> {
    let hop = model
        .audio
        .as_ref()
        .map_or(320, |a| a.config().hop_samples());
    crop_seconds.map(|s| {
        let samples = (s * 16_000.0) as usize;
        if train_conv {
            samples
        } else {
            (samples / hop).max(1)
        }
    })
}

/// The audio encoder as it is now, when it trains (else the features are cached).
fn trained_encoder(
    model: &TrainableModel,
    audio_trains: bool,
) -> Result<Option<SslEncoder>, TrainError> {
    if audio_trains {
        model.audio.as_ref().map(|a| a.encoder()).transpose()
    } else {
        Ok(None)
    }
}

/// Mean training loss since the last evaluation.
#[derive(Default)]
struct LossMean {
    sum: f64,
    count: usize,
}

impl LossMean {
    fn add(&mut self, value: f64) {
        self.sum += value;
        self.count += 1;
    }

    fn mean(&self) -> f64 {
        self.sum / self.count.max(1) as f64
    }
}

/// What a batch's loss is made of.
struct LossTerms<'a> {
    /// Output column of each dimension (A, V, D) of a dimensional model;
    /// `None` for a categorical one.
    order: Option<[usize; 3]>,
    /// Weight of the MSE term (0: none; dimensional outputs only).
    mse_weight: f64,
    /// Distillation's hidden-state term.
    extra: Option<&'a dyn ExtraLoss>,
}

impl LossTerms<'_> {
    /// `Σ_d (1 − CCC_d)` of the predictions (plus the same for the
    /// audio-only fallback) and the weighted MSE, or for categories the
    /// cross-entropy of the logits (and the fallback's); then the extra term.
    fn loss(&self, y: &BatchOutput, t: &Tensor, idx: &[usize]) -> Result<Tensor, TrainError> {
        let mut loss = if self.order.is_some() {
            let mut loss = ccc_loss(&y.predictions, t)?;
            if let Some(f) = &y.fallback {
                loss = (loss + ccc_loss(f, t)?)?;
            }
            if self.mse_weight > 0.0 {
                loss = (loss + (mse_loss(&y.predictions, t)? * self.mse_weight)?)?;
            }
            loss
        } else {
            let mut loss = cross_entropy(&y.predictions, t)?;
            if let Some(f) = &y.fallback {
                loss = (loss + cross_entropy(f, t)?)?;
            }
            loss
        };
        if let (Some(e), Some(enc_out)) = (self.extra, &y.encoder_output) {
            loss = (loss + e.loss(idx, &y.offsets, enc_out)?)?;
        }
        Ok(loss)
    }
}

/// Runs the batches of optimiser step `step` (0-based) and sums their
/// gradients (`None` for an empty group); each finite loss goes into
/// `losses`, a non-finite one ends training as [`TrainError::Diverged`].
fn accumulate_gradients(
    runner: &Batch<'_>,
    train: &Prepared,
    group: &[Vec<usize>],
    terms: &LossTerms<'_>,
    rng: &mut ChaCha8Rng,
    losses: &mut LossMean,
    step: usize,
) -> Result<Option<GradStore>, TrainError> {
    let mut grads: Option<GradStore> = None;
    for idx in group {
        let y = runner.run(train, idx, rng)?;
        let t = targets(train, idx, terms.order)?;
        let loss = terms.loss(&y, &t, idx)?;
        let value = f64::from(loss.to_scalar::<f32>()?);
        if !value.is_finite() {
            return Err(TrainError::Diverged { step, loss: value });
        }
        losses.add(value);
        let g = loss.backward()?;
        match &mut grads {
            Some(acc) => acc.extend(g)?,
            None => grads = Some(g),
        }
    }
    Ok(grads)
}

/// The progress bar's position and message after a step.
fn show_progress(bar: &indicatif::ProgressBar, state: &State, losses: &LossMean) {
    bar.set_position(state.step as u64);
    let last = state.evaluations.last().map_or("-".into(), |e| {
        format!("{} {:.3}", e.dev.selection_name(), e.dev.selection())
    });
    bar.set_message(format!("loss {:.3} | dev {last}", losses.mean()));
}

/// What an evaluation records besides the dev scores.
struct Evaluated {
    step: usize,
    steps_per_epoch: usize,
    /// The head's learning rate of the last step.
    lr: f64,
    train_loss: f64,
    seconds: f64,
}

/// Scores the model on the dev set after `at.step` steps.
fn evaluate(
    model: &TrainableModel,
    audio_trains: bool,
    layout: StateLayout,
    dev: &Prepared,
    at: Evaluated,
) -> Result<Evaluation, TrainError> {
    let enc = trained_encoder(model, audio_trains)?;
    let rows = predict_rows(model, enc.as_ref(), layout, dev)?;
    Ok(Evaluation {
        step: at.step,
        epoch: (at.step - 1) / at.steps_per_epoch,
        lr: at.lr,
        train_loss: at.train_loss,
        dev: scores_of(model, &rows, dev),
        seconds: at.seconds,
    })
}

/// One line per evaluation on stderr.
fn print_evaluation(eval: &Evaluation) {
    eprintln!(
        "step {:>5}  loss {:.4}  dev {}",
        eval.step,
        eval.train_loss,
        eval.dev.describe()
    );
}

/// Adds `eval` to the state and writes what it changed: the model into
/// `out` when it is the best so far, the trained variables and the state
/// into `last/`, and the log.
fn record(
    state: &mut State,
    eval: Evaluation,
    model: &TrainableModel,
    out: &Path,
    last_dir: &Path,
    log: &Log<'_>,
) -> Result<(), TrainError> {
    let score = eval.dev.selection();
    state.evaluations.push(eval);
    if score > state.best_score {
        state.best_score = score;
        state.best_step = state.step;
        state.stale = 0;
        model.save(out)?;
    } else {
        state.stale += 1;
    }
    model.save_vars(last_dir)?;
    write_json(&last_dir.join("state.json"), state)?;
    log.write(state, None)
}

/// `training.json`: the header, every evaluation, the best step, the
/// timings and, at the end, why training stopped.
struct Log<'a> {
    header: serde_json::Value,
    out: &'a Path,
    features_seconds: f64,
    /// When the loop started.
    t0: Instant,
}

impl Log<'_> {
    fn write(&self, state: &State, stopped: Option<&str>) -> Result<(), TrainError> {
        let mut log = self.header.clone();
        log["evaluations"] = serde_json::to_value(&state.evaluations).expect("serialisable");
        log["best_step"] = state.best_step.into();
        log["timing"] = serde_json::json!({
            "features_seconds": self.features_seconds,
            "train_seconds": self.t0.elapsed().as_secs_f64(),
        });
        if let Some(s) = stopped {
            log["stopped"] = s.into();
        }
        write_json(&self.out.join("training.json"), &log)
    }
}
