//! `encoder.pos_conv_embed`: the convolutional relative positional embedding.
//!
//! A grouped conv (`num_conv_pos_embeddings` taps, padding `taps / 2`) whose
//! weight is stored weight-normalised along the tap axis (`dim = 2`), either as
//! `conv.weight_g` / `conv.weight_v` (older PyTorch) or as
//! `conv.parametrizations.weight.original0` / `original1` (current PyTorch).
//! The effective weight `g * v / ||v||` is computed once at load. An even tap
//! count yields one extra frame, which `SamePadLayer` drops; GELU follows.
//!
//! Data2Vec-Audio has a stack instead (`pos_conv_embed.layers.N.conv`,
//! `Data2VecAudioPositionalConvEmbedding`): `num_conv_pos_embeddings` plain
//! grouped convs of `conv_pos_kernel_size` taps, each followed by the same
//! even-kernel drop, a LayerNorm over channels without weights (eps 1e-5)
//! and GELU. It runs on candle ops on every device.

use candle_core::{Tensor, D};

use super::config::SslConfig;
use crate::cpu::conv::GroupedConv;
use crate::error::{LoadError, RunError};
use crate::weights::Vb;

/// The positional conv embedding of the transformer encoder.
pub enum PositionalConvEmbedding {
    /// HuBERT, wav2vec2, WavLM: one weight-normalised grouped conv and GELU.
    Conv(ConvEmbedding),
    /// Data2Vec-Audio: a stack of grouped convs, each with a LayerNorm and GELU.
    Stack(ConvStack),
}

impl PositionalConvEmbedding {
    /// Loads `pos_conv_embed.*` of the family `cfg` describes.
    pub fn load(cfg: &SslConfig, vb: &Vb<'_>, cpu_kernels: bool) -> Result<Self, LoadError> {
        Ok(match cfg.positional_conv_stack() {
            Some((layers, taps)) => Self::Stack(ConvStack::load(cfg, layers, taps, vb)?),
            None => Self::Conv(ConvEmbedding::load(cfg, vb, cpu_kernels)?),
        })
    }

    /// `[batch, frames, hidden]` -> positional embedding of the same shape.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor, RunError> {
        match self {
            Self::Conv(c) => c.forward(x),
            Self::Stack(s) => s.forward(x),
        }
    }
}

/// Data2Vec-Audio's positional conv stack.
pub struct ConvStack {
    /// Each layer's `[hidden, hidden / groups, taps]` weight and bias.
    layers: Vec<(Tensor, Tensor)>,
    taps: usize,
    groups: usize,
    span: tracing::Span,
}

impl ConvStack {
    /// Loads `layers.{0..n}.conv.{weight,bias}`.
    fn load(cfg: &SslConfig, n: usize, taps: usize, vb: &Vb<'_>) -> Result<Self, LoadError> {
        let h = cfg.hidden_size;
        let groups = cfg.num_conv_pos_embedding_groups;
        let layers = (0..n)
            .map(|i| {
                let conv = vb.pp(format!("layers.{i}.conv"));
                Ok((
                    conv.get(&[h, h / groups, taps], "weight")?,
                    conv.get(&[h], "bias")?,
                ))
            })
            .collect::<Result<_, LoadError>>()?;
        Ok(Self {
            layers,
            taps,
            groups,
            span: tracing::span!(tracing::Level::TRACE, "pos-conv-stack"),
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor, RunError> {
        let _enter = self.span.enter();
        let frames = x.dim(1)?;
        let pad = self.taps / 2;
        // [batch, hidden, frames] through the stack.
        let mut y = x.transpose(1, 2)?.contiguous()?;
        for (weight, bias) in &self.layers {
            y = y
                .pad_with_zeros(2, pad, pad)?
                .conv1d(weight, 0, 1, 1, self.groups)?
                .broadcast_add(&bias.reshape((1, (), 1))?)?
                .narrow(2, 0, frames)?;
            // LayerNorm over channels, no weights.
            let t = y.transpose(1, 2)?;
            let mean = t.mean_keepdim(D::Minus1)?;
            let centred = t.broadcast_sub(&mean)?;
            let var = centred.sqr()?.mean_keepdim(D::Minus1)?;
            let normed = centred.broadcast_div(&(var + 1e-5)?.sqrt()?)?;
            y = normed.gelu_erf()?.transpose(1, 2)?.contiguous()?;
        }
        Ok(y.transpose(1, 2)?.contiguous()?)
    }
}

/// The one weight-normalised grouped conv of HuBERT, wav2vec2 and WavLM.
pub struct ConvEmbedding {
    /// Effective weight `[hidden, hidden / groups, taps]`.
    weight: Tensor,
    bias: Tensor,
    taps: usize,
    groups: usize,
    /// The same weight packed for the CPU kernel, when on the CPU.
    cpu: Option<GroupedConv>,
    span: tracing::Span,
}

impl ConvEmbedding {
    /// Loads `pos_conv_embed.conv.*` in either weight-norm layout (or an already fused `conv.weight`).
    fn load(cfg: &SslConfig, vb: &Vb<'_>, cpu_kernels: bool) -> Result<Self, LoadError> {
        let h = cfg.hidden_size;
        let taps = cfg.num_conv_pos_embeddings;
        let groups = cfg.num_conv_pos_embedding_groups;
        let conv = vb.pp("conv");
        let v_shape = [h, h / groups, taps];
        let g_shape = [1, 1, taps];
        let weight = if conv.contains("weight_v") {
            weight_norm(
                &conv.get(&g_shape, "weight_g")?,
                &conv.get(&v_shape, "weight_v")?,
            )
            .map_err(|e| vb.candle_err(e))?
        } else if conv.contains("parametrizations.weight.original1") {
            let p = conv.pp("parametrizations.weight");
            weight_norm(
                &p.get(&g_shape, "original0")?,
                &p.get(&v_shape, "original1")?,
            )
            .map_err(|e| vb.candle_err(e))?
        } else if conv.contains("weight") {
            conv.get(&v_shape, "weight")?
        } else {
            // Report the layout current PyTorch writes.
            conv.get(&v_shape, "parametrizations.weight.original1")?
        };
        let bias = conv.get(&[h], "bias")?;
        let cpu = if cpu_kernels {
            let w: Vec<f32> = weight
                .to_dtype(candle_core::DType::F32)
                .and_then(|w| w.flatten_all())
                .and_then(|w| w.to_vec1())
                .map_err(|e| vb.candle_err(e))?;
            let b: Vec<f32> = bias
                .to_dtype(candle_core::DType::F32)
                .and_then(|b| b.to_vec1())
                .map_err(|e| vb.candle_err(e))?;
            Some(GroupedConv::new(&w, b, h, groups, taps))
        } else {
            None
        };
        Ok(Self {
            weight,
            bias,
            taps,
            groups,
            cpu,
            span: tracing::span!(tracing::Level::TRACE, "pos-conv-embed"),
        })
    }

    /// `[batch, frames, hidden]` -> positional embedding of the same shape.
    fn forward(&self, x: &Tensor) -> Result<Tensor, RunError> {
        let _enter = self.span.enter();
        let (batch, frames, hidden) = x.dims3()?;
        if let Some(cpu) = &self.cpu {
            let data = x
                .to_dtype(candle_core::DType::F32)?
                .flatten_all()?
                .to_vec1::<f32>()?;
            let mut out = vec![0f32; data.len()];
            for (src, dst) in data
                .chunks_exact(frames * hidden)
                .zip(out.chunks_exact_mut(frames * hidden))
            {
                cpu.forward_same_gelu(src, frames, dst);
            }
            return Ok(
                Tensor::from_vec(out, (batch, frames, hidden), x.device())?.to_dtype(x.dtype())?
            );
        }
        // Explicit zero padding rather than the conv's own: equal forward, and
        // candle's conv backward underflows when the padding exceeds the input.
        let pad = self.taps / 2;
        let y = x
            .transpose(1, 2)?
            .pad_with_zeros(2, pad, pad)?
            .conv1d(&self.weight, 0, 1, 1, self.groups)?
            .broadcast_add(&self.bias.reshape((1, (), 1))?)?;
        // SamePadLayer: an even kernel gives frames + 1 outputs; drop the last.
        let y = y.narrow(2, 0, frames)?;
        Ok(y.gelu_erf()?.transpose(1, 2)?.contiguous()?)
    }
}

/// `torch.nn.utils.weight_norm(dim=2)`: `w = g * v / ||v||`, the norm taken over
/// every axis but the tap axis.
fn weight_norm(g: &Tensor, v: &Tensor) -> candle_core::Result<Tensor> {
    let norm = v.sqr()?.sum_keepdim(0)?.sum_keepdim(1)?.sqrt()?;
    v.broadcast_mul(&g.broadcast_div(&norm)?)
}
