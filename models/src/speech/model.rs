//! The speech SSL encoder as a whole (`HubertModel` / `Wav2Vec2Model` /
//! `WavLMModel`): checkpoint directory in, every hidden state out.
//!
//! [`SslEncoder`] reads the two configuration files, finds the key prefix
//! (`""`, `hubert.`, `wav2vec2.`, `wavlm.`), chooses the CPU kernels or candle ops
//! ([`LoadOptions`]) and owns the three stages; [`SslEncoder::encode`] and
//! friends prepare the samples and return an [`EncoderOutput`] to the
//! emotion model's audio branch, layer analysis and training.

use std::path::Path;

use candle_core::{DType, Device, Tensor};

use super::config::{PreprocessorConfig, SslConfig};
use super::encoder::Encoder;
use super::feature_extractor::FeatureEncoder;
use super::feature_projection::FeatureProjection;
use super::preprocess::{pad_batch, zero_mean_unit_var};
use crate::cpu::matrix::Precision;
use crate::error::{LoadError, RunError};
use crate::weights::Checkpoint;

/// Key prefixes under which task models store the encoder (`HubertForSequenceClassification`
/// saves `hubert.*`, `Wav2Vec2ForSequenceClassification` `wav2vec2.*`,
/// `WavLMForSequenceClassification` `wavlm.*`,
/// `Data2VecAudioForSequenceClassification` `data2vec_audio.*`, the Odyssey
/// 2024 challenge baseline `ssl_model.*`); a bare model uses none.
const PREFIXES: [&str; 6] = [
    "",
    "hubert.",
    "wav2vec2.",
    "wavlm.",
    "data2vec_audio.",
    "ssl_model.",
];
/// A key every checkpoint of the family has, used to find the prefix.
const PROBE_KEY: &str = "feature_extractor.conv_layers.0.conv.weight";

/// Which implementation runs the conv stack and the positional conv.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Kernels {
    /// The CPU kernels on the CPU, candle ops elsewhere.
    #[default]
    Auto,
    /// candle ops everywhere (the device-generic path; used on CUDA / Metal).
    Candle,
}

/// How to load an encoder.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Where the weights live and the computation runs.
    pub device: Device,
    /// Compute dtype. `F32` by default. `BF16` on a CPU with AVX512-BF16
    /// runs the matrix products of the conv stack and the transformer in bf16
    /// with f32 sums (everything else, and the outputs, stay f32); on other
    /// devices it runs every candle op in bf16.
    pub dtype: DType,
    /// Implementation choice for the conv-heavy parts.
    pub kernels: Kernels,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            device: Device::Cpu,
            dtype: DType::F32,
            kernels: Kernels::Auto,
        }
    }
}

/// The CPU kernels' precision for these options, or `None` for candle ops.
fn cpu_precision(opts: &LoadOptions) -> Option<Precision> {
    if opts.kernels != Kernels::Auto || !opts.device.is_cpu() {
        return None;
    }
    match opts.dtype {
        DType::F32 => Some(Precision::F32),
        DType::BF16 if crate::cpu::bf16_available() => Some(Precision::Bf16),
        _ => None,
    }
}

/// The dtype tensors are stored and exchanged in: f32 whenever the CPU
/// kernels run (they round to bf16 inside the products), else the requested one.
pub(crate) fn storage_dtype(opts: &LoadOptions) -> DType {
    if cpu_precision(opts).is_some() {
        DType::F32
    } else {
        opts.dtype
    }
}

/// Every hidden state of one forward pass.
#[derive(Debug, Clone)]
pub struct EncoderOutput {
    /// Output of the conv feature extractor, `[batch, frames, conv_dim[-1]]`.
    pub extract_features: Tensor,
    /// `num_hidden_layers + 1` tensors `[batch, frames, hidden]`: the
    /// encoder input, then each layer's output (before the final LayerNorm of
    /// the stable variant, as transformers 5 records them). Layer analysis and
    /// weighted-layer pooling read these.
    pub hidden_states: Vec<Tensor>,
    /// The encoder's output `[batch, frames, hidden]`: the last layer's output,
    /// after the final LayerNorm in the stable variant. Task heads read this.
    pub last_hidden_state: Tensor,
    /// Valid frames of each batch item (all equal to `frames` for an unpadded input).
    pub frame_lengths: Vec<usize>,
}

impl EncoderOutput {
    /// Batch item `i` alone, `[1, ...]` like the output of encoding it alone.
    pub fn item(&self, i: usize) -> candle_core::Result<EncoderOutput> {
        let frames = self.frame_lengths[i];
        // Padding frames go: the item alone has none.
        let cut = |t: &Tensor| t.narrow(0, i, 1)?.narrow(1, 0, frames);
        Ok(EncoderOutput {
            extract_features: self.extract_features.narrow(0, i, 1)?.narrow(
                1,
                0,
                frames.min(self.extract_features.dim(1)?),
            )?,
            hidden_states: self
                .hidden_states
                .iter()
                .map(cut)
                .collect::<Result<_, _>>()?,
            last_hidden_state: cut(&self.last_hidden_state)?,
            frame_lengths: vec![frames],
        })
    }
}

/// A HuBERT / DistilHuBERT / wav2vec2 / WavLM encoder loaded from a Hugging Face checkpoint.
pub struct SslEncoder {
    config: SslConfig,
    preprocessor: PreprocessorConfig,
    feature_extractor: FeatureEncoder,
    feature_projection: FeatureProjection,
    encoder: Encoder,
    device: Device,
    dtype: DType,
    span: tracing::Span,
}

impl SslEncoder {
    /// Loads `config.json`, `preprocessor_config.json` (optional) and the
    /// safetensors weights from `dir`, on the CPU in f32.
    pub fn load(dir: &Path) -> Result<Self, LoadError> {
        Self::load_with(dir, &LoadOptions::default())
    }

    /// Loads from `dir` with explicit options.
    pub fn load_with(dir: &Path, opts: &LoadOptions) -> Result<Self, LoadError> {
        let config = SslConfig::from_file(&dir.join("config.json"))?;
        let preprocessor = PreprocessorConfig::from_file(&dir.join("preprocessor_config.json"))?
            .unwrap_or_default();
        let ckpt = Checkpoint::open_dir(dir, storage_dtype(opts), &opts.device)?;
        Self::from_checkpoint(config, preprocessor, &ckpt, opts)
    }

    /// Builds the encoder from an opened checkpoint, finding the key prefix
    /// (`""`, `hubert.`, `wav2vec2.` or `wavlm.`) by itself.
    pub fn from_checkpoint(
        config: SslConfig,
        preprocessor: PreprocessorConfig,
        ckpt: &Checkpoint,
        opts: &LoadOptions,
    ) -> Result<Self, LoadError> {
        let prefix = PREFIXES
            .iter()
            .find(|p| ckpt.contains(&format!("{p}{PROBE_KEY}")))
            .ok_or_else(|| LoadError::MissingTensor {
                path: ckpt.path().to_owned(),
                key: format!(
                    "{PROBE_KEY} (also looked under \"hubert.\", \"wav2vec2.\", \"wavlm.\", \"data2vec_audio.\" and \"ssl_model.\")"
                ),
                expected: vec![config.conv_dim[0], 1, config.conv_kernel[0]],
            })?;
        let vb = ckpt.root(prefix);
        let cpu = cpu_precision(opts);
        Ok(Self {
            feature_extractor: FeatureEncoder::load(&config, &vb.pp("feature_extractor"), cpu)?,
            feature_projection: FeatureProjection::load(&config, &vb.pp("feature_projection"))?,
            encoder: Encoder::load(&config, &vb.pp("encoder"), cpu)?,
            config,
            preprocessor,
            device: opts.device.clone(),
            dtype: storage_dtype(opts),
            span: tracing::span!(tracing::Level::TRACE, "ssl-encoder"),
        })
    }

    /// The model's `config.json`.
    pub fn config(&self) -> &SslConfig {
        &self.config
    }

    /// Overrides `do_normalize` (an emotion checkpoint may train with or without it).
    pub fn set_do_normalize(&mut self, on: bool) {
        self.preprocessor.do_normalize = on;
    }

    /// The model's `preprocessor_config.json` (or its defaults).
    pub fn preprocessor(&self) -> &PreprocessorConfig {
        &self.preprocessor
    }

    /// The device the model runs on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Applies the preprocessor to one utterance at the model's sample rate.
    pub fn prepare(&self, samples: &[f32]) -> Vec<f32> {
        let mut x = samples.to_vec();
        if self.preprocessor.do_normalize {
            zero_mean_unit_var(&mut x);
        }
        x
    }

    /// Encodes one utterance (16 kHz mono samples): preprocessing, then
    /// [`Self::forward`] with a batch of one.
    pub fn encode(&self, samples: &[f32]) -> Result<EncoderOutput, RunError> {
        let (input, lengths) = self.prepare_batch(&[samples])?;
        self.forward(&input, lengths.as_deref())
    }

    /// Encodes several utterances as one right-padded batch with an attention
    /// mask, each normalised over its own samples, as the reference feature
    /// extractor does with `padding=True, return_attention_mask=True`.
    pub fn encode_batch(&self, utterances: &[&[f32]]) -> Result<EncoderOutput, RunError> {
        let (input, lengths) = self.prepare_batch(utterances)?;
        self.forward(&input, lengths.as_deref())
    }

    /// Preprocessed input `[batch, samples]` for utterances, and each item's
    /// length when the batch is padded (`None` for a single utterance).
    pub fn prepare_batch(
        &self,
        utterances: &[&[f32]],
    ) -> Result<(Tensor, Option<Vec<usize>>), RunError> {
        if let [one] = utterances {
            let x = self.prepare(one);
            let input = Tensor::from_vec(x, (1, one.len()), &self.device)?.to_dtype(self.dtype)?;
            return Ok((input, None));
        }
        let items: Vec<Vec<f32>> = utterances.iter().map(|u| self.prepare(u)).collect();
        let (buf, max_len, lengths) = pad_batch(&items, self.preprocessor.padding_value);
        let input =
            Tensor::from_vec(buf, (items.len(), max_len), &self.device)?.to_dtype(self.dtype)?;
        Ok((input, Some(lengths)))
    }

    /// The conv feature extractor alone: `[batch, frames, conv_dim[-1]]` for
    /// prepared input, and the valid frames of each item. Training runs this
    /// on a frozen fast copy and the rest on trainable weights
    /// ([`Self::forward_features`]).
    pub fn extract_features(
        &self,
        input: &Tensor,
        lengths: Option<&[usize]>,
    ) -> Result<(Tensor, Vec<usize>), RunError> {
        let (batch, samples) = input.dims2().map_err(|_| {
            RunError::Input(format!("expected [batch, samples], got {:?}", input.dims()))
        })?;
        let field = self.config.receptive_field();
        if samples < field {
            return Err(RunError::Input(format!(
                "{samples} samples is shorter than the encoder's receptive field of {field} samples"
            )));
        }
        if let Some(lengths) = lengths {
            if lengths.len() != batch {
                return Err(RunError::Input(format!(
                    "{} lengths for a batch of {batch}",
                    lengths.len()
                )));
            }
            if let Some(&bad) = lengths.iter().find(|&&l| l > samples || l < field) {
                return Err(RunError::Input(format!(
                    "item length {bad} is outside {field}..={samples} samples"
                )));
            }
        }
        // Inputs of any float dtype are accepted; the model computes in its own.
        let input = input.to_dtype(self.dtype)?;
        let extract_features = self.feature_extractor.forward(&input)?;
        let frames = extract_features.dim(1)?;
        let frame_lengths: Vec<usize> = match lengths {
            Some(l) => l
                .iter()
                .map(|&n| self.config.frames_for_samples(n))
                .collect(),
            None => vec![frames; batch],
        };
        Ok((extract_features, frame_lengths))
    }

    /// Everything after the conv feature extractor: feature projection and
    /// transformer on `[batch, frames, conv_dim[-1]]` features.
    pub fn forward_features(
        &self,
        extract_features: &Tensor,
        frame_lengths: &[usize],
    ) -> Result<EncoderOutput, RunError> {
        let extract_features = extract_features.to_dtype(self.dtype)?;
        let hidden = self.feature_projection.forward(&extract_features)?;
        let (hidden_states, last_hidden_state) = self.encoder.forward(&hidden, frame_lengths)?;
        Ok(EncoderOutput {
            extract_features,
            hidden_states,
            last_hidden_state,
            frame_lengths: frame_lengths.to_vec(),
        })
    }

    /// Runs the model on prepared input `[batch, samples]`. `lengths` gives
    /// each item's valid samples in a right-padded batch; the frame mask is
    /// derived from them exactly as `_get_feature_vector_attention_mask`.
    pub fn forward(
        &self,
        input: &Tensor,
        lengths: Option<&[usize]>,
    ) -> Result<EncoderOutput, RunError> {
        let _enter = self.span.enter();
        let (extract_features, frame_lengths) = self.extract_features(input, lengths)?;
        self.forward_features(&extract_features, &frame_lengths)
    }
}
