//! `emoscope layers`: where in a frozen encoder arousal, valence and
//! dominance live — the paper's layer-wise analysis, in two views.
//!
//! Every utterance's hidden states (`layers + 1` of them: the transformer
//! input, then each layer's output) are mean-pooled once with the fast
//! kernels. Each state's pooled features are standardised with the training
//! set's mean and standard deviation, so that a layer's weight reflects
//! what it carries rather than the size of its activations.
//!
//! 1. **Learned layer weights** (SUPERB's weighted sum): per dimension, a
//!    softmax over one logit per hidden state and a linear map from the
//!    weighted sum to that dimension, trained with `1 − CCC` on the training
//!    set. The softmax weights show which layers the dimension draws on;
//!    the dev CCC of the weighted model is reported beside them.
//! 2. **Linear probes**: per hidden state and dimension, a linear map from
//!    that state alone, trained the same way; each probe's dev CCC shows how
//!    linearly decodable the dimension is at that depth.
//!
//! Both train for a fixed number of epochs (no selection on the dev set,
//! which only measures). Outputs: `layers.csv` and `layers.json`; the
//! command line draws them as `layers.png` / `layers.svg`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::{DType, Device, Tensor, Var, D};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use emoscope_models::emotion::{LayerSelection, PoolingKind};
use emoscope_models::SslEncoder;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::data::{self, AudioCache, AudioFeatures, StateLayout, Utterance};
use crate::error::{io_err, TrainError};
use crate::loss::ccc_per_column;
use crate::manifest::read_manifest;
use crate::metrics::ccc;

/// Options of the analysis.
#[derive(Debug, Clone, Serialize)]
pub struct LayersOptions {
    /// Encoder checkpoint directory.
    pub encoder: PathBuf,
    /// Training manifest.
    pub train: PathBuf,
    /// Dev manifest (scores).
    pub dev: PathBuf,
    /// Output directory.
    pub out: PathBuf,
    /// Overrides the encoder's `do_normalize`.
    pub normalize: Option<bool>,
    /// Training epochs of both views.
    pub epochs: usize,
    /// Mini-batch size.
    pub batch_size: usize,
    /// AdamW learning rate.
    pub lr: f64,
    /// AdamW weight decay.
    pub weight_decay: f64,
    /// Seed of initialisation and batch order.
    pub seed: u64,
    /// Show progress bars.
    pub progress: bool,
}

impl Default for LayersOptions {
    fn default() -> Self {
        Self {
            encoder: PathBuf::new(),
            train: PathBuf::new(),
            dev: PathBuf::new(),
            out: PathBuf::new(),
            normalize: None,
            epochs: 100,
            batch_size: 64,
            lr: 5e-3,
            weight_decay: 1e-2,
            seed: 0,
            progress: true,
        }
    }
}

/// Per-dimension values.
#[derive(Debug, Clone, Serialize)]
pub struct PerDimension<T> {
    /// Arousal.
    pub arousal: T,
    /// Valence.
    pub valence: T,
    /// Dominance.
    pub dominance: T,
}

impl<T: Clone> PerDimension<T> {
    fn from_array(a: [T; 3]) -> Self {
        let [arousal, valence, dominance] = a;
        Self {
            arousal,
            valence,
            dominance,
        }
    }

    /// The three values in A, V, D order.
    pub fn to_array(&self) -> [T; 3] {
        [
            self.arousal.clone(),
            self.valence.clone(),
            self.dominance.clone(),
        ]
    }
}

/// The analysis' result (`layers.json`).
#[derive(Debug, Clone, Serialize)]
pub struct LayerReport {
    /// Options it ran with.
    pub options: LayersOptions,
    /// Hidden states analysed (`layers + 1`; state 0 is the transformer input).
    pub states: usize,
    /// Training and dev utterances.
    pub utterances: [usize; 2],
    /// Softmax layer weights per dimension (`states` values each, summing to 1).
    pub weights: PerDimension<Vec<f64>>,
    /// Dev CCC of the weighted model per dimension.
    pub weighted_dev_ccc: PerDimension<f64>,
    /// Dev CCC of each state's linear probe per dimension.
    pub probe_dev_ccc: PerDimension<Vec<f64>>,
    /// Seconds spent encoding and training.
    pub seconds: [f64; 2],
}

/// Pooled, standardised features `[n, states, hidden]` and targets `[n, 3]`.
struct Set {
    x: Tensor,
    y: Tensor,
    targets: Vec<[f32; 3]>,
}

fn pooled(
    encoder: &SslEncoder,
    utts: Vec<Utterance>,
    progress: &dyn Fn(),
) -> Result<(Tensor, Vec<[f32; 3]>), TrainError> {
    let layout = StateLayout {
        selection: LayerSelection::Weighted,
        states: encoder.config().num_hidden_layers + 1,
    };
    let targets = utts.iter().map(Utterance::avd).collect();
    let prepared = data::prepare(
        utts,
        Some((encoder, AudioCache::Frozen, layout, PoolingKind::Mean)),
        None,
        None,
        1,
        progress,
    )?;
    let Some(AudioFeatures::Pooled(items)) = prepared.audio else {
        unreachable!("a frozen cache with mean pooling is pooled")
    };
    Ok((Tensor::stack(&items, 0)?, targets))
}

fn target_tensor(t: &[[f32; 3]]) -> Result<Tensor, TrainError> {
    let flat: Vec<f32> = t.iter().flatten().copied().collect();
    Ok(Tensor::from_vec(flat, (t.len(), 3), &Device::Cpu)?)
}

/// Runs the analysis and writes its files into `opts.out`.
pub fn analyse(opts: &LayersOptions) -> Result<LayerReport, TrainError> {
    let t0 = Instant::now();
    let mut encoder = SslEncoder::load(&opts.encoder)?;
    if let Some(n) = opts.normalize {
        encoder.set_do_normalize(n);
    }
    let train_utts = Utterance::labelled(&read_manifest(&opts.train)?, &opts.train)?;
    let dev_utts = Utterance::labelled(&read_manifest(&opts.dev)?, &opts.dev)?;
    if train_utts.len() < 2 || dev_utts.len() < 2 {
        return Err(TrainError::Config(
            "the layer analysis needs at least 2 utterances in each manifest".into(),
        ));
    }
    let counts = [train_utts.len(), dev_utts.len()];
    let bar = progress(
        opts.progress,
        (counts[0] + counts[1]) as u64,
        "{bar:30} {pos}/{len} utterances: pooling hidden states [{elapsed}<{eta}]",
    );
    let tick = || bar.inc(1);
    let (xt, yt) = pooled(&encoder, train_utts, &tick)?;
    let (xd, yd) = pooled(&encoder, dev_utts, &tick)?;
    bar.finish_and_clear();
    let encode_seconds = t0.elapsed().as_secs_f64();
    // Standardise each state's features with the training statistics.
    let mean = xt.mean_keepdim(0)?;
    let std = xt
        .broadcast_sub(&mean)?
        .sqr()?
        .mean_keepdim(0)?
        .sqrt()?
        .affine(1.0, 1e-6)?;
    let norm = |x: &Tensor| -> Result<Tensor, TrainError> {
        Ok(x.broadcast_sub(&mean)?.broadcast_div(&std)?)
    };
    let train = Set {
        x: norm(&xt)?,
        y: target_tensor(&yt)?,
        targets: yt,
    };
    let dev = Set {
        x: norm(&xd)?,
        y: target_tensor(&yd)?,
        targets: yd,
    };
    let (_, states, hidden) = train.x.dims3()?;
    let t1 = Instant::now();
    let weighted = Weighted::new(states, hidden, opts.seed)?;
    fit(&weighted, &train, opts, "layer weights")?;
    let probes = Probes::new(states, hidden, opts.seed)?;
    fit(&probes, &train, opts, "linear probes")?;
    // Scores on dev.
    let wd = weighted.forward(&dev.x)?.to_vec2::<f32>()?;
    let weighted_ccc = (0..3)
        .map(|d| column_ccc(&wd, d, &dev.targets))
        .collect::<Vec<_>>();
    let pd = probes.forward(&dev.x)?; // [states, n, 3]
    let mut probe_ccc = vec![vec![0.0; states]; 3];
    for s in 0..states {
        let p = pd.get(s)?.to_vec2::<f32>()?;
        for (d, row) in probe_ccc.iter_mut().enumerate() {
            row[s] = column_ccc(&p, d, &dev.targets);
        }
    }
    let w = weighted.weights()?.to_dtype(DType::F64)?.to_vec2::<f64>()?;
    let report = LayerReport {
        options: opts.clone(),
        states,
        utterances: counts,
        weights: PerDimension::from_array([w[0].clone(), w[1].clone(), w[2].clone()]),
        weighted_dev_ccc: PerDimension::from_array([
            weighted_ccc[0],
            weighted_ccc[1],
            weighted_ccc[2],
        ]),
        probe_dev_ccc: PerDimension::from_array([
            probe_ccc[0].clone(),
            probe_ccc[1].clone(),
            probe_ccc[2].clone(),
        ]),
        seconds: [encode_seconds, t1.elapsed().as_secs_f64()],
    };
    let _ = &train.y;
    let _ = &dev.y;
    write_outputs(&report, &opts.out)?;
    Ok(report)
}

fn column_ccc(pred: &[Vec<f32>], d: usize, targets: &[[f32; 3]]) -> f64 {
    let x: Vec<f64> = pred.iter().map(|r| f64::from(r[d])).collect();
    let y: Vec<f64> = targets.iter().map(|t| f64::from(t[d])).collect();
    ccc(&x, &y)
}

fn progress(show: bool, len: u64, template: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len).with_style(
        indicatif::ProgressStyle::with_template(template).expect("a valid progress template"),
    );
    if !show {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    bar
}

/// A model over standardised pooled states `[n, states, hidden]`.
trait Probe {
    fn vars(&self) -> Vec<Var>;
    /// The loss on a batch.
    fn loss(&self, x: &Tensor, y: &Tensor) -> Result<Tensor, TrainError>;
}

/// Per-dimension softmax layer weights and linear maps.
struct Weighted {
    /// `[3, states]` logits.
    logits: Var,
    /// `[3, hidden]`.
    w: Var,
    /// `[3]`.
    b: Var,
}

fn uniform(shape: &[usize], bound: f32, rng: &mut ChaCha8Rng) -> Result<Var, TrainError> {
    let n: usize = shape.iter().product();
    let v: Vec<f32> = (0..n).map(|_| rng.random_range(-bound..bound)).collect();
    Ok(Var::from_tensor(&Tensor::from_vec(
        v,
        shape,
        &Device::Cpu,
    )?)?)
}

impl Weighted {
    fn new(states: usize, hidden: usize, seed: u64) -> Result<Self, TrainError> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x7765);
        let bound = 1.0 / (hidden as f32).sqrt();
        Ok(Self {
            logits: Var::zeros((3, states), DType::F32, &Device::Cpu)?,
            w: uniform(&[3, hidden], bound, &mut rng)?,
            b: Var::zeros(3, DType::F32, &Device::Cpu)?,
        })
    }

    fn weights(&self) -> Result<Tensor, TrainError> {
        Ok(candle_nn::ops::softmax(self.logits.as_tensor(), D::Minus1)?)
    }

    /// `[n, 3]`: `Σ_s softmax(l_d)_s · (x[:, s] · w_d) + b_d`.
    fn forward(&self, x: &Tensor) -> Result<Tensor, TrainError> {
        let z = x.broadcast_matmul(&self.w.as_tensor().t()?)?; // [n, states, 3]
        let a = self.weights()?.t()?.unsqueeze(0)?; // [1, states, 3]
        Ok(z.broadcast_mul(&a)?
            .sum(1)?
            .broadcast_add(self.b.as_tensor())?)
    }
}

impl Probe for Weighted {
    fn vars(&self) -> Vec<Var> {
        vec![self.logits.clone(), self.w.clone(), self.b.clone()]
    }

    fn loss(&self, x: &Tensor, y: &Tensor) -> Result<Tensor, TrainError> {
        let c = ccc_per_column(&self.forward(x)?, y)?;
        Ok(c.affine(-1.0, 1.0)?.sum_all()?)
    }
}

/// One linear map per state: `[states, hidden, 3]` and `[states, 1, 3]`.
struct Probes {
    w: Var,
    b: Var,
}

impl Probes {
    fn new(states: usize, hidden: usize, seed: u64) -> Result<Self, TrainError> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x7072);
        Ok(Self {
            w: uniform(&[states, hidden, 3], 1.0 / (hidden as f32).sqrt(), &mut rng)?,
            b: Var::zeros((states, 1, 3), DType::F32, &Device::Cpu)?,
        })
    }

    /// `[states, n, 3]`.
    fn forward(&self, x: &Tensor) -> Result<Tensor, TrainError> {
        let xs = x.transpose(0, 1)?.contiguous()?; // [states, n, hidden]
        Ok(xs
            .matmul(self.w.as_tensor())?
            .broadcast_add(self.b.as_tensor())?)
    }
}

impl Probe for Probes {
    fn vars(&self) -> Vec<Var> {
        vec![self.w.clone(), self.b.clone()]
    }

    fn loss(&self, x: &Tensor, y: &Tensor) -> Result<Tensor, TrainError> {
        let p = self.forward(x)?;
        let states = p.dim(0)?;
        let mut total = Tensor::zeros((), DType::F32, &Device::Cpu)?;
        for s in 0..states {
            let c = ccc_per_column(&p.get(s)?, y)?;
            total = (total + c.affine(-1.0, 1.0)?.sum_all()?)?;
        }
        Ok(total)
    }
}

fn fit(model: &dyn Probe, data: &Set, o: &LayersOptions, what: &str) -> Result<(), TrainError> {
    let n = data.x.dim(0)?;
    let mut opt = AdamW::new(
        model.vars(),
        ParamsAdamW {
            lr: o.lr,
            weight_decay: o.weight_decay,
            ..ParamsAdamW::default()
        },
    )?;
    let mut rng = ChaCha8Rng::seed_from_u64(o.seed ^ 0x6669);
    let mut order: Vec<u32> = (0..n as u32).collect();
    let bar = progress(
        o.progress,
        o.epochs as u64,
        &format!("{{bar:30}} epoch {{pos}}/{{len}}: {what} {{msg}}"),
    );
    let batch = o.batch_size.max(2);
    for _ in 0..o.epochs {
        order.shuffle(&mut rng);
        let mut total = 0.0;
        let mut chunks = order.chunks(batch).collect::<Vec<_>>();
        // A last batch too small for a CCC joins the one before it.
        if chunks.len() > 1 && chunks.last().is_some_and(|c| c.len() < 2) {
            chunks.pop();
        }
        for c in &chunks {
            let idx = Tensor::from_slice(c, c.len(), &Device::Cpu)?;
            let loss = model.loss(
                &data.x.index_select(&idx, 0)?,
                &data.y.index_select(&idx, 0)?,
            )?;
            total += f64::from(loss.to_scalar::<f32>()?);
            opt.backward_step(&loss)?;
        }
        bar.set_message(format!("loss {:.3}", total / chunks.len() as f64));
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(())
}

const DIMS: [&str; 3] = ["arousal", "valence", "dominance"];

fn write_outputs(r: &LayerReport, out: &Path) -> Result<(), TrainError> {
    std::fs::create_dir_all(out).map_err(io_err(out))?;
    let csv_path = out.join("layers.csv");
    let mut w = csv::Writer::from_path(&csv_path).map_err(|e| TrainError::Io {
        path: csv_path.clone(),
        source: e.into(),
    })?;
    let mut header = vec!["layer".to_string()];
    header.extend(DIMS.iter().map(|d| format!("weight_{d}")));
    header.extend(DIMS.iter().map(|d| format!("probe_ccc_{d}")));
    let csv_err = |e: csv::Error| TrainError::Io {
        path: csv_path.clone(),
        source: e.into(),
    };
    w.write_record(&header).map_err(csv_err)?;
    let weights = r.weights.to_array();
    let probes = r.probe_dev_ccc.to_array();
    for s in 0..r.states {
        let mut row = vec![s.to_string()];
        row.extend(weights.iter().map(|v| format!("{:.6}", v[s])));
        row.extend(probes.iter().map(|v| format!("{:.6}", v[s])));
        w.write_record(&row).map_err(csv_err)?;
    }
    w.flush().map_err(io_err(&csv_path))?;
    crate::trainer::write_json(&out.join("layers.json"), r)
}
