//! Utterances and their cached features, in the form the training loops
//! consume them.
//!
//! Whatever a frozen part of the model computes is computed once per
//! utterance, before the first step, with the fast inference kernels:
//!
//! - a frozen conv stack under a trained transformer: the conv features
//!   `[frames, channels]` ([`AudioFeatures::Conv`]);
//! - a frozen audio backbone: the hidden states the head reads, mean-pooled
//!   per state when the head pools by mean (`[states, hidden]`,
//!   [`AudioFeatures::Pooled`]; a weighted sum of means is the mean of the
//!   weighted sum, so learned layer weights train on these exactly), or
//!   frame by frame for attentive pooling ([`AudioFeatures::Frames`]);
//! - a frozen text backbone: one embedding per distinct transcript ([`TextFeatures::Cached`]).
//!
//! Only a trained conv stack needs the raw samples ([`AudioFeatures::Samples`]).
//! [`Batch`] assembles padded batches from any of them and runs them
//! through the model, so training and evaluation share one code path.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use emoscope_models::emotion::{LayerSelection, PoolingKind};
use emoscope_models::{EmotionModel, EncoderOutput, SslEncoder, TextEncoder};
use rand::Rng;

use crate::error::TrainError;
use crate::manifest::Example;

/// What the model should output for an utterance.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// Arousal, valence, dominance: labels, or a teacher's predictions.
    Dimensions([f32; 3]),
    /// A probability per category, in the model's category order: one-hot
    /// for a label, a categorical teacher's probabilities in distillation.
    Categories(Vec<f32>),
}

/// One utterance and what the model should predict for it.
#[derive(Debug, Clone)]
pub struct Utterance {
    /// The audio file.
    pub audio: PathBuf,
    /// Its transcript (may be empty).
    pub transcript: String,
    /// Labels, or a teacher's outputs.
    pub target: Target,
}

impl Utterance {
    /// The labelled examples of a manifest as utterances; an example without
    /// labels is an error naming its audio file and the manifest.
    pub fn labelled(examples: &[Example], manifest: &Path) -> Result<Vec<Self>, TrainError> {
        examples
            .iter()
            .map(|e| {
                let target = e.labels.ok_or_else(|| {
                    TrainError::Config(format!(
                        "{}: {} has no labels; training needs arousal, valence and dominance for every row",
                        manifest.display(),
                        e.audio.display()
                    ))
                })?;
                Ok(Self {
                    audio: e.audio.clone(),
                    transcript: e.transcript.clone(),
                    target: Target::Dimensions(target),
                })
            })
            .collect()
    }

    /// The examples of a manifest with a categorical `label` as utterances
    /// whose targets are one-hot over `categories`; a row without a label,
    /// or with one not among them, is an error naming the manifest and line.
    pub fn categorical(
        examples: &[Example],
        manifest: &Path,
        categories: &[String],
    ) -> Result<Vec<Self>, TrainError> {
        examples
            .iter()
            .map(|e| {
                let k = crate::categories::class_of_row(e, manifest, categories)?;
                Ok(Self {
                    audio: e.audio.clone(),
                    transcript: e.transcript.clone(),
                    target: Target::Categories(crate::categories::one_hot(k, categories.len())),
                })
            })
            .collect()
    }

    /// Arousal, valence and dominance of a dimensional target. The
    /// dimensional code paths (CCC scores, routing, layer analysis) only see
    /// utterances made by [`Self::labelled`] or from a dimensional teacher;
    /// a categorical target there is a bug, and panics.
    pub fn avd(&self) -> [f32; 3] {
        match &self.target {
            Target::Dimensions(avd) => *avd,
            Target::Categories(_) => {
                unreachable!("a categorical target on a dimensional code path")
            }
        }
    }
}

/// Decodes every utterance's audio at `rate` Hz (mono).
pub fn load_samples(utts: &[Utterance], rate: u32) -> Result<Vec<Vec<f32>>, TrainError> {
    utts.iter()
        .map(|u| Ok(emoscope::audio::load_mono(&u.audio, rate)?))
        .collect()
}

/// Audio features of a set of utterances.
pub enum AudioFeatures {
    /// Raw samples, for a trained conv stack.
    Samples(Vec<Vec<f32>>),
    /// Conv features `[frames, channels]`, for a trained transformer on a
    /// frozen conv stack: per utterance, one tensor per phase (the input
    /// shifted by a fraction of a frame hop, see [`prepare`]); the first is
    /// the unshifted input, which evaluation uses.
    Conv(Vec<Vec<Tensor>>),
    /// Mean-pooled hidden states `[states, hidden]` of a frozen encoder (see [`StateLayout`]).
    Pooled(Vec<Tensor>),
    /// Frame-level hidden states `[states, frames, hidden]` of a frozen encoder.
    Frames(Vec<Tensor>),
}

/// Which hidden states a frozen-encoder cache keeps for a layer selection:
/// every state for learned weights, else only the selected one.
#[derive(Debug, Clone, Copy)]
pub struct StateLayout {
    /// The head's selection.
    pub selection: LayerSelection,
    /// Hidden states the encoder returns (`layers + 1`).
    pub states: usize,
}

impl StateLayout {
    /// The states kept from an encoder output, in order.
    fn keep(&self, out: &EncoderOutput) -> Vec<Tensor> {
        match self.selection {
            LayerSelection::Weighted => out.hidden_states.clone(),
            LayerSelection::Last => vec![out.last_hidden_state.clone()],
            LayerSelection::Index(i) => vec![out.hidden_states[i].clone()],
        }
    }

    /// An encoder output for the head whose states are `kept` (each `[batch, frames, hidden]`).
    fn output(&self, kept: Vec<Tensor>, frame_lengths: Vec<usize>) -> EncoderOutput {
        let (hidden_states, last) = match self.selection {
            LayerSelection::Weighted => {
                let last = kept[kept.len() - 1].clone();
                (kept, last)
            }
            // The head reads only the selected state; the others are placeholders.
            _ => (vec![kept[0].clone(); self.states], kept[0].clone()),
        };
        EncoderOutput {
            extract_features: last.clone(),
            hidden_states,
            last_hidden_state: last,
            frame_lengths,
        }
    }
}

/// Text features of a set of utterances.
pub enum TextFeatures {
    /// Embeddings of a frozen encoder: a table `[texts, dim]` and each utterance's row.
    Cached {
        /// One row per distinct transcript.
        table: Tensor,
        /// Row of each utterance.
        rows: Vec<u32>,
    },
    /// A trained encoder embeds each batch's transcripts.
    Live(Vec<String>),
}

/// Utterances with their features and targets, ready for batching.
pub struct Prepared {
    /// The utterances.
    pub utterances: Vec<Utterance>,
    /// Length of each utterance in frames (or samples for [`AudioFeatures::Samples`]; 1 without audio): the batching key.
    pub lengths: Vec<usize>,
    /// Audio features, when the model has an audio branch.
    pub audio: Option<AudioFeatures>,
    /// Text features, when the model has a text branch.
    pub text: Option<TextFeatures>,
}

/// What to cache for the audio branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudioCache {
    /// Raw samples (trained conv stack).
    Samples,
    /// Conv features (trained transformer).
    Conv,
    /// Hidden states of a frozen encoder, pooled or frame by frame as the head's pooling needs.
    Frozen,
}

/// Gain augmentation: each utterance is scaled by a gain drawn uniformly in
/// `±max_db` dB before its features are computed. Drawn once per utterance
/// (the features are cached), from `seed` and the utterance's index, so a run
/// is reproducible. Samples are not clipped: a gain above 0 dBFS is what a
/// float pipeline carries.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GainAugment {
    /// Largest gain either way, dB.
    pub max_db: f32,
    /// Seed of the draws.
    pub seed: u64,
}

impl GainAugment {
    /// The linear gain of utterance `index`.
    pub fn gain(&self, index: usize) -> f32 {
        use rand::SeedableRng;
        let mut rng =
            rand_chacha::ChaCha8Rng::seed_from_u64(self.seed ^ 0x6a1e_da7a ^ index as u64);
        let db: f32 = rng.random_range(-self.max_db..=self.max_db);
        10f32.powf(db / 20.0)
    }
}

/// Computes the features of `utts` once: audio through `encoder` (a
/// frozen, fast-kernel encoder) as `cache` says, at a random gain when
/// `gain` is given, text through `text` (a frozen encoder) or kept as text
/// for a trained one. `progress` is told after each utterance.
///
/// Conv features are computed at `phases` phases (at least one): the input
/// shifted by `k · hop / phases` samples, `k < phases`. A frozen conv stack
/// with a 20 ms stride aliases, so its frames change with where the signal
/// starts within a hop; training on a random phase per step teaches the
/// transformer not to depend on it, as a real recording's start is
/// anywhere.
pub fn prepare(
    utts: Vec<Utterance>,
    audio: Option<(&SslEncoder, AudioCache, StateLayout, PoolingKind)>,
    text: Option<(&TextEncoder, bool)>,
    gain: Option<GainAugment>,
    phases: usize,
    progress: &dyn Fn(),
) -> Result<Prepared, TrainError> {
    let mut lengths = vec![1; utts.len()];
    let audio = match audio {
        None => None,
        Some((encoder, cache, layout, pooling)) => {
            let rate = encoder.preprocessor().sampling_rate;
            let mut samples_out = Vec::new();
            let mut tensors = Vec::new();
            let mut conv = Vec::new();
            for (i, u) in utts.iter().enumerate() {
                let mut samples = emoscope::audio::load_mono(&u.audio, rate)?;
                if let Some(g) = gain {
                    let g = g.gain(i);
                    samples.iter_mut().for_each(|x| *x *= g);
                }
                let field = encoder.config().receptive_field();
                if samples.len() < field {
                    return Err(TrainError::Config(format!(
                        "{} has {} samples, fewer than the encoder's receptive field ({field})",
                        u.audio.display(),
                        samples.len()
                    )));
                }
                match cache {
                    AudioCache::Samples => {
                        lengths[i] = samples.len();
                        samples_out.push(samples);
                    }
                    AudioCache::Conv => {
                        let hop = encoder.config().hop_samples();
                        let phases = phases.clamp(1, hop);
                        let mut variants = Vec::with_capacity(phases);
                        for k in 0..phases {
                            let shifted = &samples[(k * hop / phases).min(samples.len())..];
                            if shifted.len() < field {
                                break;
                            }
                            let (input, _) = encoder.prepare_batch(&[shifted])?;
                            let (f, _) = encoder.extract_features(&input, None)?;
                            variants.push(f.squeeze(0)?);
                        }
                        lengths[i] = variants[0].dim(0)?;
                        conv.push(variants);
                    }
                    AudioCache::Frozen => {
                        let out = encoder.encode(&samples)?;
                        let kept = Tensor::stack(&layout.keep(&out), 0)?.squeeze(1)?; // [states, frames, hidden]
                        lengths[i] = kept.dim(1)?;
                        tensors.push(match pooling {
                            PoolingKind::Mean => kept.mean(1)?,
                            PoolingKind::AttentiveStatistics => kept,
                        });
                    }
                }
                progress();
            }
            Some(match (cache, pooling) {
                (AudioCache::Samples, _) => AudioFeatures::Samples(samples_out),
                (AudioCache::Conv, _) => AudioFeatures::Conv(conv),
                (AudioCache::Frozen, PoolingKind::Mean) => AudioFeatures::Pooled(tensors),
                (AudioCache::Frozen, PoolingKind::AttentiveStatistics) => {
                    AudioFeatures::Frames(tensors)
                }
            })
        }
    };
    let text = match text {
        None => None,
        Some((encoder, trainable)) => {
            if let Some(u) = utts.iter().find(|u| u.transcript.trim().is_empty()) {
                return Err(TrainError::Config(format!(
                    "{} has no transcript; a model with a text branch trains on transcripts for every utterance",
                    u.audio.display()
                )));
            }
            Some(if trainable {
                TextFeatures::Live(utts.iter().map(|u| u.transcript.clone()).collect())
            } else {
                embed_distinct(encoder, &utts)?
            })
        }
    };
    Ok(Prepared {
        utterances: utts,
        lengths,
        audio,
        text,
    })
}

/// Embeds each distinct transcript once, in batches.
fn embed_distinct(encoder: &TextEncoder, utts: &[Utterance]) -> Result<TextFeatures, TrainError> {
    let mut index: HashMap<&str, u32> = HashMap::new();
    let mut distinct: Vec<&str> = Vec::new();
    let rows = utts
        .iter()
        .map(|u| {
            let t = u.transcript.trim();
            *index.entry(t).or_insert_with(|| {
                distinct.push(t);
                (distinct.len() - 1) as u32
            })
        })
        .collect();
    let parts = distinct
        .chunks(32)
        .map(|c| encoder.embed_batch(c))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(TextFeatures::Cached {
        table: Tensor::cat(&parts, 0)?,
        rows,
    })
}

/// Pads `[frames, …]` tensors along the first axis to the longest and stacks them.
fn pad_stack(items: &[Tensor], axis: usize) -> Result<(Tensor, Vec<usize>), TrainError> {
    let lengths: Vec<usize> = items
        .iter()
        .map(|t| t.dim(axis))
        .collect::<Result<_, _>>()?;
    let max = lengths.iter().copied().max().unwrap_or(0);
    let padded = items
        .iter()
        .zip(&lengths)
        .map(|(t, &n)| {
            if n == max {
                Ok(t.clone())
            } else {
                t.pad_with_zeros(axis, 0, max - n)
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((Tensor::stack(&padded, 0)?, lengths))
}

/// A random window of at most `max` along `axis` (the whole tensor when
/// shorter) and where it starts.
fn random_window(
    t: &Tensor,
    axis: usize,
    max: Option<usize>,
    rng: &mut impl Rng,
) -> Result<(Tensor, usize), TrainError> {
    let n = t.dim(axis)?;
    match max {
        Some(m) if n > m => {
            let start = rng.random_range(0..=n - m);
            Ok((t.narrow(axis, start, m)?, start))
        }
        _ => Ok((t.clone(), 0)),
    }
}

/// What one forward pass over a batch produced.
pub struct BatchOutput {
    /// Predictions `[batch, outputs]` in the manifest's output order (logits for categories).
    pub predictions: Tensor,
    /// The audio-only fallback's predictions, when the model has one and text was used.
    pub fallback: Option<Tensor>,
    /// The audio encoder's output (trained audio only), for hidden-state losses.
    pub encoder_output: Option<EncoderOutput>,
    /// Where each item's training crop starts (frames of conv features; 0 uncropped).
    pub offsets: Vec<usize>,
}

/// Runs a batch through the model.
pub struct Batch<'a> {
    /// The model (head, pooling, text branch).
    pub model: &'a EmotionModel,
    /// The audio encoder for trained audio (conv or samples cache); `None` for frozen features.
    pub encoder: Option<&'a SslEncoder>,
    /// Cache layout of frozen features.
    pub layout: StateLayout,
    /// Training mode (dropout, cropping).
    pub train: bool,
    /// Crop length in frames (conv features, frames) or samples (raw audio) when training.
    pub crop: Option<usize>,
}

impl Batch<'_> {
    /// Predictions for utterances `idx` of `data`.
    pub fn run(
        &self,
        data: &Prepared,
        idx: &[usize],
        rng: &mut impl Rng,
    ) -> Result<BatchOutput, TrainError> {
        let crop = if self.train { self.crop } else { None };
        let mut encoder_output = None;
        let mut offsets = vec![0; idx.len()];
        let audio = match (&data.audio, self.model.audio()) {
            (None, _) | (_, None) => None,
            (Some(features), Some(branch)) => {
                let out = match features {
                    AudioFeatures::Conv(all) => {
                        let mut items = Vec::with_capacity(idx.len());
                        for (k, &i) in idx.iter().enumerate() {
                            // Training: a random phase; evaluation: the input as it is.
                            let phase = match all[i].len() {
                                n if self.train && n > 1 => rng.random_range(0..n),
                                _ => 0,
                            };
                            let (t, start) = random_window(&all[i][phase], 0, crop, rng)?;
                            items.push(t);
                            offsets[k] = start;
                        }
                        let (x, lengths) = pad_stack(&items, 0)?;
                        let enc = self.encoder.ok_or_else(|| {
                            TrainError::Config("conv features need the trained encoder".into())
                        })?;
                        let out = enc.forward_features(&x, &lengths)?;
                        encoder_output = Some(out.clone());
                        out
                    }
                    AudioFeatures::Samples(all) => {
                        let enc = self.encoder.ok_or_else(|| {
                            TrainError::Config("raw audio needs the trained encoder".into())
                        })?;
                        // Crops start on frame boundaries so frame offsets are exact.
                        let hop = enc.config().hop_samples();
                        let items: Vec<&[f32]> = idx
                            .iter()
                            .enumerate()
                            .map(|(k, &i)| {
                                let s = &all[i];
                                match crop {
                                    Some(m) if s.len() > m => {
                                        let frame = rng.random_range(0..=(s.len() - m) / hop);
                                        offsets[k] = frame;
                                        &s[frame * hop..frame * hop + m]
                                    }
                                    _ => s.as_slice(),
                                }
                            })
                            .collect();
                        let out = enc.encode_batch(&items)?;
                        encoder_output = Some(out.clone());
                        out
                    }
                    AudioFeatures::Pooled(all) => {
                        let x = Tensor::stack(
                            &idx.iter().map(|&i| all[i].clone()).collect::<Vec<_>>(),
                            1,
                        )?; // [states, batch, hidden]
                        let kept = (0..x.dim(0)?)
                            .map(|s| x.get(s)?.unsqueeze(1))
                            .collect::<Result<Vec<_>, _>>()?;
                        self.layout.output(kept, vec![1; idx.len()])
                    }
                    AudioFeatures::Frames(all) => {
                        let items = idx
                            .iter()
                            .map(|&i| Ok(random_window(&all[i], 1, crop, rng)?.0))
                            .collect::<Result<Vec<_>, TrainError>>()?;
                        let (x, lengths) = pad_stack(&items, 1)?; // [batch, states, frames, hidden]
                        let kept = (0..x.dim(1)?)
                            .map(|s| x.narrow(1, s, 1)?.squeeze(1))
                            .collect::<Result<Vec<_>, _>>()?;
                        self.layout.output(kept, lengths)
                    }
                };
                Some(branch.pool(&out)?)
            }
        };
        let text = match &data.text {
            None => None,
            Some(TextFeatures::Cached { table, rows }) => {
                let r: Vec<u32> = idx.iter().map(|&i| rows[i]).collect();
                let r = Tensor::from_vec(r, idx.len(), &Device::Cpu)?;
                Some(table.index_select(&r, 0)?)
            }
            Some(TextFeatures::Live(texts)) => {
                let enc = self.model.text().ok_or_else(|| {
                    TrainError::Config("live text features need a text branch".into())
                })?;
                let batch: Vec<&str> = idx.iter().map(|&i| texts[i].as_str()).collect();
                Some(enc.embed_batch(&batch)?)
            }
        };
        let predictions = self
            .model
            .head_forward(audio.as_ref(), text.as_ref(), self.train)?;
        let fallback = match (&audio, &text) {
            (Some(a), Some(_)) if self.model.manifest().head.audio_fallback => {
                Some(self.model.head_forward(Some(a), None, self.train)?)
            }
            _ => None,
        };
        Ok(BatchOutput {
            predictions,
            fallback,
            encoder_output,
            offsets,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::GainAugment;

    #[test]
    fn augmentation_gains_are_reproducible_spread_and_bounded() {
        let g = GainAugment {
            max_db: 12.0,
            seed: 5,
        };
        let db: Vec<f32> = (0..2000).map(|i| 20.0 * g.gain(i).log10()).collect();
        assert!(db.iter().all(|d| d.abs() <= 12.0 + 1e-4), "within ±12 dB");
        // Uniform in dB: about a quarter below −6 dB and a quarter above +6 dB.
        let low = db.iter().filter(|&&d| d < -6.0).count();
        let high = db.iter().filter(|&&d| d > 6.0).count();
        assert!(
            (400..600).contains(&low) && (400..600).contains(&high),
            "{low} {high}"
        );
        // The same seed and index give the same gain; another seed another one.
        assert_eq!(g.gain(17), g.gain(17));
        assert_ne!(g.gain(17), GainAugment { seed: 6, ..g }.gain(17));
    }
}
