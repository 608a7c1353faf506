//! From a sequence of frame vectors to one utterance vector.
//!
//! - [`LayerWeights`]: a learnable softmax-weighted sum over every hidden
//!   state of the encoder (SUPERB's featurizer), which is how the paper finds
//!   that arousal sits in shallow layers and valence in deep ones.
//! - [`TimePooling::Mean`]: the mean over valid frames.
//! - [`TimePooling::AttentiveStatistics`]: attentive statistics pooling as in
//!   the Odyssey 2024 SER challenge baseline (`AttentiveStatisticsPooling` in
//!   MSP-UTD's `MSP-Podcast_Challenge`): frame weights from
//!   `softmax(tanh(sap_linear(x)) · attention)` over time, output the
//!   weighted mean and standard deviation (`[mean, std]`, twice the width).
//!
//! Every function takes padded batches `[batch, frames, hidden]` with the
//! valid frame count of each item, so padding never leaks into a result.
//! The frames come from a [`crate::speech`] encoder's hidden states; the
//! learned tensors (`layer_weights`, `pooling.*`) load through [`Vb`] from
//! the emotion checkpoint's head weights.

use candle_core::{DType, Device, Module, Result, Tensor, D};
use candle_nn::{Init, Linear};

use crate::error::LoadError;
use crate::nn::linear;
use crate::weights::Vb;

/// A `[batch, frames]` mask (1 for valid frames, 0 for padding) in `dtype`.
pub fn frame_mask(
    lengths: &[usize],
    frames: usize,
    dtype: DType,
    device: &Device,
) -> Result<Tensor> {
    let mut m = vec![0f32; lengths.len() * frames];
    for (b, &len) in lengths.iter().enumerate() {
        m[b * frames..b * frames + len.min(frames)].fill(1.0);
    }
    Tensor::from_vec(m, (lengths.len(), frames), device)?.to_dtype(dtype)
}

/// Mean over the valid frames: `[batch, frames, hidden]` -> `[batch, hidden]`.
pub fn masked_mean(x: &Tensor, lengths: &[usize]) -> Result<Tensor> {
    let (_, frames, _) = x.dims3()?;
    let mask = frame_mask(lengths, frames, x.dtype(), x.device())?;
    let counts = mask.sum_keepdim(1)?;
    x.broadcast_mul(&mask.unsqueeze(2)?)?
        .sum(1)?
        .broadcast_div(&counts)
}

/// Attentive statistics pooling (module tree: `sap_linear`, `attention`).
pub struct AttentiveStatistics {
    sap_linear: Linear,
    /// `[hidden, 1]`: the learned query the frame keys are scored against.
    attention: Tensor,
    span: tracing::Span,
}

impl AttentiveStatistics {
    /// Loads `sap_linear.{weight,bias}` and `attention` for `hidden`-wide frames.
    pub fn load(hidden: usize, vb: &Vb<'_>) -> std::result::Result<Self, LoadError> {
        Ok(Self {
            sap_linear: linear(&vb.pp("sap_linear"), hidden, hidden)?,
            attention: vb.get_with_init(
                &[hidden, 1],
                "attention",
                Init::Randn {
                    mean: 0.0,
                    stdev: 1.0,
                },
            )?,
            span: tracing::span!(tracing::Level::TRACE, "attentive-statistics"),
        })
    }

    /// `[batch, frames, hidden]` -> `[batch, 2 * hidden]` (weighted mean, then weighted std).
    pub fn forward(&self, x: &Tensor, lengths: &[usize]) -> Result<Tensor> {
        let _enter = self.span.enter();
        let (batch, frames, _) = x.dims3()?;
        let h = self.sap_linear.forward(x)?.tanh()?;
        let scores = h.broadcast_matmul(&self.attention)?.squeeze(2)?; // [batch, frames]
                                                                       // Padding gets a score far below any real one, so its softmax weight is exactly 0.
        let mask = frame_mask(lengths, frames, x.dtype(), x.device())?;
        let penalty = ((mask.ones_like()? - &mask)? * -1e30)?;
        let w = candle_nn::ops::softmax(&(scores + penalty)?, D::Minus1)?.unsqueeze(2)?;
        let mu = x.broadcast_mul(&w)?.sum(1)?;
        let second = x.sqr()?.broadcast_mul(&w)?.sum(1)?;
        let var = (second - mu.sqr()?)?.clamp(1e-5, f64::MAX)?;
        let out = Tensor::cat(&[&mu, &var.sqrt()?], D::Minus1)?;
        debug_assert_eq!(out.dims2()?.0, batch);
        Ok(out)
    }
}

/// How frames become one vector.
pub enum TimePooling {
    /// Mean over valid frames (output width = hidden).
    Mean,
    /// Attentive statistics (output width = 2 × hidden).
    AttentiveStatistics(AttentiveStatistics),
}

impl TimePooling {
    /// Output width for `hidden`-wide frames.
    pub fn output_size(&self, hidden: usize) -> usize {
        match self {
            Self::Mean => hidden,
            Self::AttentiveStatistics(_) => 2 * hidden,
        }
    }

    /// `[batch, frames, hidden]` -> `[batch, output_size]`.
    pub fn forward(&self, x: &Tensor, lengths: &[usize]) -> Result<Tensor> {
        match self {
            Self::Mean => masked_mean(x, lengths),
            Self::AttentiveStatistics(p) => p.forward(x, lengths),
        }
    }
}

/// A learnable softmax-weighted sum over hidden states (`layer_weights`, one logit per state).
pub struct LayerWeights {
    /// `[states]` logits; zeros (a plain average) when freshly initialised.
    logits: Tensor,
    span: tracing::Span,
}

impl LayerWeights {
    /// Loads `layer_weights` for `states` hidden states (encoder input + every layer).
    pub fn load(states: usize, vb: &Vb<'_>) -> std::result::Result<Self, LoadError> {
        Ok(Self {
            logits: vb.get_with_init(&[states], "layer_weights", Init::Const(0.0))?,
            span: tracing::span!(tracing::Level::TRACE, "layer-weights"),
        })
    }

    /// The normalised weights (softmax of the logits), one per hidden state.
    pub fn weights(&self) -> Result<Tensor> {
        candle_nn::ops::softmax(&self.logits, D::Minus1)
    }

    /// `Σ_l softmax(w)_l · states[l]` over equally shaped tensors.
    pub fn forward(&self, states: &[Tensor]) -> Result<Tensor> {
        let _enter = self.span.enter();
        let w = self.weights()?.to_dtype(states[0].dtype())?;
        let stacked = Tensor::stack(states, 0)?; // [states, ...]
        let shape: Vec<usize> = std::iter::once(states.len())
            .chain(std::iter::repeat_n(1, stacked.rank() - 1))
            .collect();
        stacked.broadcast_mul(&w.reshape(shape)?)?.sum(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked_mean_ignores_padding() {
        // Item 0: frames [1, 2] valid, [100] padding -> mean 1.5; item 1: all three valid -> 2.
        let x = Tensor::new(&[[[1f32], [2.], [100.]], [[1.], [2.], [3.]]], &Device::Cpu).unwrap();
        let m = masked_mean(&x, &[2, 3])
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        assert_eq!(m, vec![1.5, 2.0]);
    }

    #[test]
    fn zero_logits_weight_layers_equally() {
        let zeros = candle_nn::VarBuilder::zeros(DType::F32, &Device::Cpu);
        let vb = Vb::from_var_builder(zeros, std::path::Path::new("<zeros>"));
        let lw = LayerWeights::load(3, &vb).unwrap();
        let states: Vec<Tensor> = [1f32, 2., 6.]
            .iter()
            .map(|&v| Tensor::new(&[v, v], &Device::Cpu).unwrap())
            .collect();
        // (1 + 2 + 6) / 3 = 3.
        let y = lw.forward(&states).unwrap().to_vec1::<f32>().unwrap();
        assert!(y.iter().all(|v| (v - 3.0).abs() < 1e-6), "{y:?}");
    }
}
