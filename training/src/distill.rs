//! `emoscope distill`: an audio-only student learns a teacher's arousal,
//! valence and dominance on unlabelled audio.
//!
//! The teacher (any emotion checkpoint; an audio+text teacher reads each
//! utterance's transcript when there is one, else its audio-only path) runs
//! once over every utterance with the fast kernels; its predictions, and its
//! hidden states at the layers named by `--hidden-layers`, are cached. The
//! student then trains with the [`super::trainer`] loop on
//! `Σ_d (1 − CCC_d) + mse_weight · MSE` against the teacher's predictions,
//! plus, per chosen pair of layers `(student s, teacher t)`, DistilHuBERT's
//! hidden-state loss through a learned linear projection:
//! `hidden_weight · (L1(P_s h_s, h_t) + mean(1 − cos(P_s h_s, h_t)))` over
//! valid frames. The projections exist only for training and are not saved.
//! Early stopping watches the dev mean CCC against the teacher.
//!
//! A categorical teacher (an Emoscope checkpoint with `"task":
//! "categorical"`) gives its probabilities instead: the student gets the
//! teacher's categories and learns its distributions with the cross-entropy
//! against them (the KL divergence up to the teacher's entropy, a constant;
//! no MSE term), and early stopping watches the dev UAR of the student's most
//! probable category against the teacher's.

use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::{DType, Device, Module, Tensor, Var};
use candle_nn::{Linear, VarBuilder, VarMap};
use emoscope_models::emotion::Task;
use emoscope_models::{EmotionModel, EncoderOutput, LoadOptions, Mode};

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::class_metrics::classification_scores;
use crate::data::{Target, Utterance};
use crate::error::{io_err, StudentError, TrainError};
use crate::init::{Freeze, HeadOptions, Init, OutputSpec};
use crate::manifest::read_manifest;
use crate::metrics::{score, TaskScores};
use crate::trainer::{prepare_sets, run_loop, write_json, ExtraLoss, LoopOptions, Report, Setup};
use emoscope::engine::TextEmbeddingCache;

/// Options of `emoscope distill`.
#[derive(Debug, Clone, Serialize)]
pub struct DistillOptions {
    /// Teacher emotion checkpoint.
    pub teacher: PathBuf,
    /// Student `--init` value (`student:tiny`, a backbone directory, an emotion checkpoint).
    pub student: String,
    /// Audio: a directory (searched recursively) or a manifest.
    pub audio: PathBuf,
    /// Dev audio (a directory or manifest); default: a seeded tenth of `audio`.
    pub dev: Option<PathBuf>,
    /// Held-out audio on which the saved student's agreement with the teacher is reported.
    pub test: Option<PathBuf>,
    /// Output directory.
    pub out: PathBuf,
    /// What the student learns: the teacher's task, which this (`--task`)
    /// must match when given.
    pub task: Option<Task>,
    /// The student's head.
    pub head: HeadOptions,
    /// `(student layer, teacher layer)` pairs of hidden states to match (hidden-state indices).
    pub hidden_layers: Vec<(usize, usize)>,
    /// Weight of the hidden-state term.
    pub hidden_weight: f64,
    /// Train the student's conv stack too.
    pub train_conv: bool,
    /// The loop (its `mse_weight` weighs the MSE term of a dimensional teacher).
    pub run: LoopOptions,
}

/// Audio files with sidecar transcripts: a manifest's rows, or every audio
/// file under a directory with its same-stem `.txt` when present.
pub fn audio_list(path: &Path) -> Result<Vec<(PathBuf, String)>, TrainError> {
    if path.is_file() {
        return Ok(read_manifest(path)?
            .into_iter()
            .map(|e| (e.audio, e.transcript))
            .collect());
    }
    let mut out = Vec::new();
    let mut stack = vec![path.to_owned()];
    while let Some(dir) = stack.pop() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map_err(io_err(&dir))?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()
            .map_err(io_err(&dir))?;
        entries.sort();
        for p in entries {
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().and_then(|e| e.to_str()).is_some_and(|e| {
                ["wav", "flac", "mp3", "ogg"].contains(&e.to_ascii_lowercase().as_str())
            }) {
                let side = p.with_extension("txt");
                let text = std::fs::read_to_string(&side)
                    .map(|t| t.split_whitespace().collect::<Vec<_>>().join(" "))
                    .unwrap_or_default();
                out.push((p, text));
            }
        }
    }
    out.sort();
    if out.is_empty() {
        return Err(TrainError::Config(format!(
            "{}: no audio files (wav, flac, mp3, ogg) found",
            path.display()
        )));
    }
    Ok(out)
}

/// What the teacher said about a set of utterances.
pub struct TeacherOutputs {
    /// Utterances whose targets are the teacher's predictions (A, V, D, or
    /// a probability per category).
    pub utterances: Vec<Utterance>,
    /// Per utterance, per requested teacher layer, `[frames, hidden]`.
    pub hidden: Vec<Vec<Tensor>>,
}

/// Runs the teacher once over `audio`, keeping hidden states `layers`.
pub fn teach(
    teacher: &EmotionModel,
    audio: &[(PathBuf, String)],
    layers: &[usize],
    progress: &dyn Fn(),
) -> Result<TeacherOutputs, TrainError> {
    let rate = teacher.manifest().sample_rate;
    let mut text_cache = TextEmbeddingCache::default();
    let mut utterances = Vec::with_capacity(audio.len());
    let mut hidden = Vec::with_capacity(audio.len());
    let branch = match (teacher.audio(), layers.is_empty()) {
        (Some(b), _) => Some(b),
        (None, true) => None,
        (None, false) => {
            return Err(TrainError::Config(
                "--hidden-layers needs a teacher with an audio branch".into(),
            ))
        }
    };
    for (path, transcript) in audio {
        let samples = emoscope::audio::load_mono(path, rate)?;
        let embedding = match teacher.text() {
            Some(enc) => text_cache.embed(enc, transcript)?,
            None => None,
        };
        // One encoder pass gives both the prediction and the hidden states.
        let out = match branch {
            Some(b) => Some(b.encoder().encode(&samples)?),
            None => None,
        };
        let pooled = match (branch, &out) {
            (Some(b), Some(out)) => Some(b.pool(out)?),
            _ => None,
        };
        let target = match teacher.manifest().task {
            Task::Dimensional => {
                Target::Dimensions(teacher.predict_pooled(pooled.as_ref(), embedding)?)
            }
            Task::Categorical => {
                Target::Categories(teacher.classify_pooled(pooled.as_ref(), embedding)?)
            }
        };
        let mut states = Vec::new();
        if let Some(out) = &out {
            for &l in layers {
                let h = out.hidden_states.get(l).ok_or_else(|| {
                    TrainError::Config(format!(
                        "--hidden-layers: the teacher has hidden states 0..={}, not {l}",
                        out.hidden_states.len() - 1
                    ))
                })?;
                states.push(h.squeeze(0)?);
            }
        }
        hidden.push(states);
        utterances.push(Utterance {
            audio: path.clone(),
            transcript: transcript.clone(),
            target,
        });
        progress();
    }
    Ok(TeacherOutputs { utterances, hidden })
}

/// DistilHuBERT's hidden-state loss through learned projections.
struct HiddenLoss {
    pairs: Vec<(usize, usize)>,
    vars: VarMap,
    projections: Vec<Linear>,
    /// Per utterance of the training set, per pair, the teacher's `[frames, hidden]`.
    teacher: Vec<Vec<Tensor>>,
    weight: f64,
}

impl HiddenLoss {
    fn new(
        pairs: Vec<(usize, usize)>,
        student_hidden: usize,
        teacher: Vec<Vec<Tensor>>,
        weight: f64,
        seed: u64,
    ) -> Result<Self, TrainError> {
        let vars = VarMap::new();
        let vb = VarBuilder::from_varmap(&vars, DType::F32, &Device::Cpu);
        let mut projections = Vec::new();
        for (k, _) in pairs.iter().enumerate() {
            let teacher_hidden = teacher
                .first()
                .and_then(|t| t.get(k))
                .map_or(Ok(0), |t| t.dim(1))?;
            projections.push(candle_nn::linear(
                student_hidden,
                teacher_hidden,
                vb.pp(format!("projection.{k}")),
            )?);
        }
        // Seeded values in place of candle's unseeded initialisers.
        let data = vars.data().lock().unwrap_or_else(|e| e.into_inner());
        let mut names: Vec<&String> = data.keys().collect();
        names.sort();
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x6869);
        for name in names {
            let var = &data[name];
            let dims = var.dims().to_vec();
            let values: Vec<f32> = if name.ends_with("bias") {
                vec![0.0; var.elem_count()]
            } else {
                let bound = 1.0 / (dims[1] as f32).sqrt();
                (0..var.elem_count())
                    .map(|_| rand::Rng::random_range(&mut rng, -bound..bound))
                    .collect()
            };
            var.set(&Tensor::from_vec(values, dims.as_slice(), &Device::Cpu)?)?;
        }
        drop(data);
        Ok(Self {
            pairs,
            vars,
            projections,
            teacher,
            weight,
        })
    }
}

impl ExtraLoss for HiddenLoss {
    fn vars(&self) -> Vec<Var> {
        self.vars.all_vars()
    }

    fn loss(
        &self,
        idx: &[usize],
        offsets: &[usize],
        out: &EncoderOutput,
    ) -> Result<Tensor, TrainError> {
        let frames = out.last_hidden_state.dim(1)?;
        let lengths = &out.frame_lengths;
        let mask = emoscope_models::pooling::frame_mask(lengths, frames, DType::F32, &Device::Cpu)?;
        let valid = mask.sum_all()?.to_scalar::<f32>()?.max(1.0);
        let mut total = Tensor::zeros((), DType::F32, &Device::Cpu)?;
        for (k, &(s, _)) in self.pairs.iter().enumerate() {
            let student = self.projections[k].forward(&out.hidden_states[s])?; // [batch, frames, H]
            let items = idx
                .iter()
                .zip(offsets)
                .zip(lengths)
                .map(|((&i, &off), &n)| {
                    let t = self.teacher[i][k].narrow(0, off, n)?;
                    t.pad_with_zeros(0, 0, frames - n)
                })
                .collect::<Result<Vec<_>, _>>()?;
            let teacher = Tensor::stack(&items, 0)?;
            let m = mask.unsqueeze(2)?;
            let width = teacher.dim(2)? as f64;
            // Masked means: padding contributes 0 to both sums and is not counted.
            let l1 = ((student.broadcast_mul(&m)? - teacher.broadcast_mul(&m)?)?
                .abs()?
                .sum_all()?
                / (f64::from(valid) * width))?;
            let cos = cosine_per_frame(&student, &teacher)?;
            let cos_term = ((cos.affine(-1.0, 1.0)? * &mask)?.sum_all()? / f64::from(valid))?;
            total = (total + ((l1 + cos_term)? * self.weight)?)?;
        }
        Ok(total)
    }
}

/// `[batch, frames]` cosine similarity of frame vectors.
fn cosine_per_frame(a: &Tensor, b: &Tensor) -> Result<Tensor, TrainError> {
    let dot = (a * b)?.sum(2)?;
    let na = a.sqr()?.sum(2)?.sqrt()?;
    let nb = b.sqr()?.sum(2)?.sqrt()?;
    Ok(dot.div(&(na * nb)?.affine(1.0, 1e-8)?)?)
}

/// The saved student's agreement with the teacher on held-out audio.
#[derive(Debug, Clone, Serialize)]
pub struct Agreement {
    /// The audio it was measured on.
    pub audio: PathBuf,
    /// Utterances.
    pub utterances: usize,
    /// CCC, r and MAE of the student against the teacher, per dimension;
    /// or for categories the scores of the student's most probable category
    /// against the teacher's.
    pub scores: TaskScores,
}

/// The outcome of a distillation.
#[derive(Debug, Clone, Serialize)]
pub struct DistillReport {
    /// The training loop's report (dev scores are against the teacher).
    pub training: Report,
    /// Agreement on `--test`, when given.
    pub test: Option<Agreement>,
    /// Seconds the teacher took over all the audio.
    pub teacher_seconds: f64,
}

/// Distils the teacher into the student and writes the student checkpoint
/// and `training.json` into `opts.out`.
pub fn distill(opts: &DistillOptions) -> Result<DistillReport, TrainError> {
    let teacher = EmotionModel::load(&opts.teacher, &LoadOptions::default())?;
    let task = teacher.manifest().task;
    if let Some(asked) = opts.task.filter(|&t| t != task) {
        return Err(TrainError::Config(format!(
            "--task {}: the teacher {} is {} (a student learns the teacher's outputs)",
            asked.name(),
            opts.teacher.display(),
            task.name()
        )));
    }
    if task == Task::Categorical && opts.run.mse_weight > 0.0 {
        return Err(TrainError::Config(
            "--mse-weight applies to a dimensional teacher; a categorical student learns the \
             teacher's probabilities by cross-entropy"
                .into(),
        ));
    }
    let mut all = audio_list(&opts.audio)?;
    let dev_list = match &opts.dev {
        Some(d) => audio_list(d)?,
        None => {
            let mut rng = ChaCha8Rng::seed_from_u64(opts.run.seed ^ 0xd15);
            all.shuffle(&mut rng);
            let n_dev = (all.len() / 10).max(2);
            let dev = all.split_off(all.len().saturating_sub(n_dev));
            all.sort();
            dev
        }
    };
    if all.len() < 2 || dev_list.len() < 2 {
        return Err(TrainError::Config(format!(
            "distillation needs at least 2 training and 2 dev utterances; {} has {}",
            opts.audio.display(),
            all.len() + dev_list.len()
        )));
    }
    let teacher_layers: Vec<usize> = opts.hidden_layers.iter().map(|p| p.1).collect();
    let t0 = Instant::now();
    let bar = indicatif::ProgressBar::new((all.len() + dev_list.len()) as u64).with_style(
        indicatif::ProgressStyle::with_template(
            "{bar:30} {pos}/{len} utterances: running the teacher [{elapsed}<{eta}]",
        )
        .expect("a valid progress template"),
    );
    if !opts.run.progress {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let tick = || bar.inc(1);
    let train_t = teach(&teacher, &all, &teacher_layers, &tick)?;
    let dev_t = teach(&teacher, &dev_list, &[], &tick)?;
    bar.finish_and_clear();
    let teacher_seconds = t0.elapsed().as_secs_f64();
    let init = Init::parse(std::slice::from_ref(&opts.student))?;
    let outputs = match task {
        Task::Dimensional => OutputSpec::Dimensions {
            range: teacher.manifest().output_range,
        },
        Task::Categorical => OutputSpec::Categories(teacher.categories().to_vec()),
    };
    let name = opts
        .out
        .file_name()
        .map_or("student".into(), |n| n.to_string_lossy().into_owned());
    let (mut model, _) = crate::init::build(
        &init,
        Mode::Audio,
        &opts.head,
        Freeze {
            audio: false,
            text: true,
        },
        &outputs,
        &name,
        opts.run.seed,
    )?;
    model.manifest.provenance.insert(
        "trained_with".into(),
        serde_json::json!(format!("emoscope distill {}", env!("CARGO_PKG_VERSION"))),
    );
    model
        .manifest
        .provenance
        .insert("teacher".into(), serde_json::json!(opts.teacher));
    let student_cfg = model
        .audio
        .as_ref()
        .map(|a| a.config().clone())
        .ok_or(StudentError::NoAudioEncoder)?;
    if let Some(&(s, _)) = opts
        .hidden_layers
        .iter()
        .find(|p| p.0 > student_cfg.num_hidden_layers)
    {
        return Err(TrainError::Config(format!(
            "--hidden-layers: the student has hidden states 0..={}, not {s}",
            student_cfg.num_hidden_layers
        )));
    }
    if let Some(t) = teacher.audio() {
        let tc = t.encoder().config();
        if !opts.hidden_layers.is_empty() && tc.hop_samples() != student_cfg.hop_samples() {
            return Err(TrainError::Config(format!(
                "--hidden-layers: teacher and student frames differ ({} vs {} samples per frame)",
                tc.hop_samples(),
                student_cfg.hop_samples()
            )));
        }
    }
    std::fs::create_dir_all(&opts.out).map_err(io_err(&opts.out))?;
    let t1 = Instant::now();
    let (train, dev, layout, audio_trains) = prepare_sets(
        &model,
        train_t.utterances,
        dev_t.utterances,
        true,
        opts.train_conv,
        &opts.run,
    )?;
    let features_seconds = t1.elapsed().as_secs_f64();
    let extra = if opts.hidden_layers.is_empty() {
        None
    } else {
        Some(HiddenLoss::new(
            opts.hidden_layers.clone(),
            student_cfg.hidden_size,
            train_t.hidden,
            opts.hidden_weight,
            opts.run.seed,
        )?)
    };
    let header = serde_json::json!({
        "command": "emoscope distill",
        "options": opts,
        "data": {
            "audio": opts.audio, "train_utterances": train.utterances.len(),
            "dev_utterances": dev.utterances.len(),
        },
        "teacher_seconds": teacher_seconds,
    });
    let training = run_loop(
        Setup {
            model: &mut model,
            train: &train,
            dev: &dev,
            audio_trains,
            train_conv: opts.train_conv,
            layout,
            out: &opts.out,
            extra: extra.as_ref().map(|e| e as &dyn ExtraLoss),
            log_header: header,
            features_seconds,
            resume: false,
        },
        &opts.run,
    )?;
    let test = match &opts.test {
        None => None,
        Some(path) => Some(agreement(&teacher, &opts.out, path)?),
    };
    if let Some(a) = &test {
        let log_path = opts.out.join("training.json");
        let text = std::fs::read_to_string(&log_path).map_err(io_err(&log_path))?;
        let mut log: serde_json::Value =
            serde_json::from_str(&text).map_err(|source| TrainError::Json {
                path: log_path.clone(),
                source,
            })?;
        log["test_agreement"] = serde_json::to_value(a).expect("serialisable");
        write_json(&log_path, &log)?;
    }
    Ok(DistillReport {
        training,
        test,
        teacher_seconds,
    })
}

/// The saved student's agreement (loaded as users load it) with the teacher
/// on `path`: the CCC per dimension, or for categories the scores of the
/// student's most probable category against the teacher's.
pub fn agreement(
    teacher: &EmotionModel,
    student_dir: &Path,
    path: &Path,
) -> Result<Agreement, TrainError> {
    let list = audio_list(path)?;
    let t = teach(teacher, &list, &[], &|| {})?;
    let mut student =
        emoscope::engine::load_predictor(student_dir, &Device::Cpu).map_err(|error| {
            StudentError::Load {
                dir: student_dir.to_owned(),
                error: Box::new(error),
            }
        })?;
    let mut readings = Vec::with_capacity(list.len());
    for (p, _) in &list {
        let samples = emoscope::audio::load_mono(p, student.sample_rate())?;
        let y = student
            .predict(&samples, "")
            .map_err(|error| StudentError::Run {
                audio: p.clone(),
                error: Box::new(error),
            })?;
        readings.push(y);
    }
    let scores = match teacher.manifest().task {
        Task::Dimensional => {
            let preds: Vec<[f32; 3]> = readings.iter().map(|y| y.dimensions()).collect();
            let targets: Vec<[f32; 3]> = t.utterances.iter().map(Utterance::avd).collect();
            TaskScores::Dimensions(score(&preds, &targets))
        }
        Task::Categorical => {
            let predicted: Vec<usize> = readings
                .iter()
                .map(|y| y.probabilities.top().map_or(0, |(k, _)| k))
                .collect();
            let truth: Vec<usize> = t
                .utterances
                .iter()
                .map(|u| match &u.target {
                    Target::Categories(q) => crate::categories::top(q),
                    Target::Dimensions(_) => unreachable!("a categorical teacher's targets"),
                })
                .collect();
            TaskScores::Categories(classification_scores(
                &truth,
                &predicted,
                teacher.categories().len(),
            ))
        }
    };
    Ok(Agreement {
        audio: path.to_owned(),
        utterances: list.len(),
        scores,
    })
}
