//! `encoder`: positional embedding plus the transformer layers, in the post-LN
//! (`HubertEncoder`, `Wav2Vec2Encoder`, `WavLMEncoder`) and the stable pre-LN
//! (`*EncoderStableLayerNorm`) arrangements. WavLM's attention adds the gated
//! relative position bias of [`super::wavlm`], computed once from the first
//! layer's table and passed to every layer.
//!
//! Returns every hidden state as transformers (5.x) does with
//! `output_hidden_states=True`: the input of the first layer, then each
//! layer's output; and the last hidden state, which in the stable variant is
//! the last layer's output after the encoder's final LayerNorm (in the post-LN
//! variant it equals the last hidden state of the list).

use candle_core::{Module, Tensor};
use candle_nn::Linear;

use super::config::SslConfig;
use super::positional::PositionalConvEmbedding;
use super::wavlm::{PositionGate, RelativePositionBias};
use crate::cpu::matrix::Precision;
use crate::cpu::ops;
use crate::cpu::transformer::{CpuEncoderLayer, LayerParams, LinearParams};
use crate::error::{LoadError, RunError};
use crate::nn::{layer_norm, linear, LayerNorm};
use crate::weights::Vb;

/// `attention`: multi-head self-attention with q/k/v/out projections.
struct Attention {
    q_proj: Linear,
    k_proj: Linear,
    v_proj: Linear,
    out_proj: Linear,
    heads: usize,
    head_dim: usize,
    scaling: f64,
    /// WavLM, every layer: `gru_rel_pos_linear` and `gru_rel_pos_const`.
    gate: Option<PositionGate>,
    /// WavLM, first layer only: `rel_attn_embed`.
    rel_attn_embed: Option<RelativePositionBias>,
    /// Vectorised softmax (CPU f32) instead of candle's.
    cpu_kernels: bool,
    span: tracing::Span,
}

impl Attention {
    fn load(
        cfg: &SslConfig,
        vb: &Vb<'_>,
        index: usize,
        cpu_kernels: bool,
    ) -> Result<Self, LoadError> {
        let h = cfg.hidden_size;
        let wavlm = cfg.relative_position_bias();
        Ok(Self {
            q_proj: linear(&vb.pp("q_proj"), h, h)?,
            k_proj: linear(&vb.pp("k_proj"), h, h)?,
            v_proj: linear(&vb.pp("v_proj"), h, h)?,
            out_proj: linear(&vb.pp("out_proj"), h, h)?,
            heads: cfg.num_attention_heads,
            head_dim: cfg.head_dim(),
            scaling: (cfg.head_dim() as f64).powf(-0.5),
            gate: wavlm.then(|| PositionGate::load(cfg, vb)).transpose()?,
            rel_attn_embed: (wavlm && index == 0)
                .then(|| RelativePositionBias::load(cfg, vb))
                .transpose()?,
            cpu_kernels,
            span: tracing::span!(tracing::Level::TRACE, "attention"),
        })
    }

    /// `mask` is additive, `[batch, 1, 1, frames]`: 0 for valid keys, `f32::MIN` for padding.
    /// `position_bias` is WavLM's `[heads, frames, frames]`, which this layer's gate scales.
    fn forward(
        &self,
        x: &Tensor,
        mask: Option<&Tensor>,
        position_bias: Option<&Tensor>,
    ) -> candle_core::Result<Tensor> {
        let _enter = self.span.enter();
        let (b, t, h) = x.dims3()?;
        let split = |y: Tensor| {
            y.reshape((b, t, self.heads, self.head_dim))?
                .transpose(1, 2)?
                .contiguous()
        };
        let q = split(self.q_proj.forward(x)?)?;
        let k = split(self.k_proj.forward(x)?)?;
        let v = split(self.v_proj.forward(x)?)?;
        let mut scores = (q.matmul(&k.t()?)? * self.scaling)?;
        if let (Some(gate), Some(bias)) = (&self.gate, position_bias) {
            scores = (scores + gate.gated_bias(x, bias)?)?;
        }
        if let Some(mask) = mask {
            scores = scores.broadcast_add(mask)?;
        }
        let probs = if self.cpu_kernels {
            ops::softmax_last_dim(&scores)?
        } else {
            crate::nn::softmax_last_dim(&scores, self.q_proj.weight().is_variable())?
        };
        let ctx = probs.matmul(&v)?.transpose(1, 2)?.reshape((b, t, h))?;
        self.out_proj.forward(&ctx)
    }
}

/// `feed_forward`: intermediate dense, GELU, output dense.
struct FeedForward {
    intermediate_dense: Linear,
    output_dense: Linear,
    /// Vectorised GELU (CPU f32) instead of candle's.
    cpu_kernels: bool,
    span: tracing::Span,
}

impl FeedForward {
    fn load(cfg: &SslConfig, vb: &Vb<'_>, cpu_kernels: bool) -> Result<Self, LoadError> {
        Ok(Self {
            intermediate_dense: linear(
                &vb.pp("intermediate_dense"),
                cfg.hidden_size,
                cfg.intermediate_size,
            )?,
            output_dense: linear(
                &vb.pp("output_dense"),
                cfg.intermediate_size,
                cfg.hidden_size,
            )?,
            cpu_kernels,
            span: tracing::span!(tracing::Level::TRACE, "feed-forward"),
        })
    }

    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let _enter = self.span.enter();
        let h = self.intermediate_dense.forward(x)?;
        let h = if self.cpu_kernels {
            ops::gelu(&h)?
        } else {
            h.gelu_erf()?
        };
        self.output_dense.forward(&h)
    }
}

/// `layers.N`: one transformer layer.
struct EncoderLayer {
    attention: Attention,
    layer_norm: LayerNorm,
    feed_forward: FeedForward,
    final_layer_norm: LayerNorm,
    /// Pre-LN (`EncoderLayerStableLayerNorm`) when true, post-LN otherwise.
    stable: bool,
    span: tracing::Span,
}

impl EncoderLayer {
    fn load(
        cfg: &SslConfig,
        vb: &Vb<'_>,
        index: usize,
        cpu_kernels: bool,
    ) -> Result<Self, LoadError> {
        Ok(Self {
            attention: Attention::load(cfg, &vb.pp("attention"), index, cpu_kernels)?,
            layer_norm: layer_norm(&vb.pp("layer_norm"), cfg.hidden_size, cfg.layer_norm_eps)?,
            feed_forward: FeedForward::load(cfg, &vb.pp("feed_forward"), cpu_kernels)?,
            final_layer_norm: layer_norm(
                &vb.pp("final_layer_norm"),
                cfg.hidden_size,
                cfg.layer_norm_eps,
            )?,
            stable: cfg.do_stable_layer_norm,
            span: tracing::span!(tracing::Level::TRACE, "encoder-layer", index),
        })
    }

    /// Copies the loaded weights into the CPU kernel's layout.
    fn to_cpu(
        &self,
        cfg: &SslConfig,
        precision: Precision,
    ) -> candle_core::Result<CpuEncoderLayer> {
        let lin = |l: &Linear| -> candle_core::Result<LinearParams> {
            Ok(LinearParams {
                weight: l.weight().flatten_all()?.to_vec1()?,
                bias: match l.bias() {
                    Some(b) => b.to_vec1()?,
                    None => vec![0.0; l.weight().dim(0)?],
                },
            })
        };
        let ln = |l: &LayerNorm| -> candle_core::Result<(Vec<f32>, Vec<f32>)> {
            let w = l.weight().to_vec1()?;
            Ok((w, l.bias().to_vec1()?))
        };
        let layer = CpuEncoderLayer::new(LayerParams {
            q: lin(&self.attention.q_proj)?,
            k: lin(&self.attention.k_proj)?,
            v: lin(&self.attention.v_proj)?,
            out: lin(&self.attention.out_proj)?,
            ln1: ln(&self.layer_norm)?,
            ff1: lin(&self.feed_forward.intermediate_dense)?,
            ff2: lin(&self.feed_forward.output_dense)?,
            ln2: ln(&self.final_layer_norm)?,
            heads: cfg.num_attention_heads,
            eps: cfg.layer_norm_eps as f32,
            stable: self.stable,
            precision,
        });
        Ok(match &self.attention.gate {
            Some(gate) => layer.with_position_gate(gate.cpu_params()?),
            None => layer,
        })
    }

    fn forward(
        &self,
        x: &Tensor,
        mask: Option<&Tensor>,
        position_bias: Option<&Tensor>,
    ) -> candle_core::Result<Tensor> {
        let _enter = self.span.enter();
        if self.stable {
            let attn = self
                .attention
                .forward(&self.layer_norm.forward(x)?, mask, position_bias)?;
            let x = (x + attn)?;
            let ff = self
                .feed_forward
                .forward(&self.final_layer_norm.forward(&x)?)?;
            x + ff
        } else {
            let attn = self.attention.forward(x, mask, position_bias)?;
            let x = self.layer_norm.forward(&(x + attn)?)?;
            let ff = self.feed_forward.forward(&x)?;
            self.final_layer_norm.forward(&(x + ff)?)
        }
    }
}

/// The device of the first hidden state (the CPU path rebuilds tensors there).
fn x_device(states: &[Tensor]) -> &candle_core::Device {
    states
        .first()
        .map_or(&candle_core::Device::Cpu, |t| t.device())
}

/// The transformer encoder with its positional embedding.
pub struct Encoder {
    pos_conv_embed: PositionalConvEmbedding,
    layer_norm: LayerNorm,
    layers: Vec<EncoderLayer>,
    /// The same layers packed for the CPU kernels, when they are used.
    cpu_layers: Option<Vec<CpuEncoderLayer>>,
    stable: bool,
    span: tracing::Span,
}

impl Encoder {
    /// Loads `encoder.*`; `cpu` selects the CPU kernels and their precision.
    pub fn load(cfg: &SslConfig, vb: &Vb<'_>, cpu: Option<Precision>) -> Result<Self, LoadError> {
        let cpu_kernels = cpu.is_some();
        let layers = (0..cfg.num_hidden_layers)
            .map(|i| EncoderLayer::load(cfg, &vb.pp(format!("layers.{i}")), i, cpu_kernels))
            .collect::<Result<Vec<_>, _>>()?;
        let cpu_layers = match cpu {
            Some(precision) => Some(
                layers
                    .iter()
                    .map(|l| l.to_cpu(cfg, precision).map_err(|e| vb.candle_err(e)))
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            None => None,
        };
        Ok(Self {
            pos_conv_embed: PositionalConvEmbedding::load(
                cfg,
                &vb.pp("pos_conv_embed"),
                cpu_kernels,
            )?,
            layer_norm: layer_norm(&vb.pp("layer_norm"), cfg.hidden_size, cfg.layer_norm_eps)?,
            layers,
            cpu_layers,
            stable: cfg.do_stable_layer_norm,
            span: tracing::span!(tracing::Level::TRACE, "encoder"),
        })
    }

    /// Runs the encoder on `[batch, frames, hidden]`, where item `i` has
    /// `frame_lengths[i]` valid frames (the rest is padding). Returns the
    /// `layers + 1` hidden states and the last hidden state.
    pub fn forward(
        &self,
        x: &Tensor,
        frame_lengths: &[usize],
    ) -> Result<(Vec<Tensor>, Tensor), RunError> {
        let _enter = self.span.enter();
        let (batch, frames, _) = x.dims3()?;
        let padded = frame_lengths.iter().any(|&n| n < frames);
        let (mut x, additive) = if padded {
            let mask: Vec<u8> = frame_lengths
                .iter()
                .flat_map(|&n| (0..frames).map(move |t| u8::from(t < n)))
                .collect();
            let valid = Tensor::from_vec(mask, (batch, frames), x.device())?;
            // Padded frames are zeroed before the positional conv, and masked
            // out of every softmax with the dtype's lowest value, as the reference does.
            let x = x.broadcast_mul(&valid.unsqueeze(2)?.to_dtype(x.dtype())?)?;
            let lowest =
                Tensor::full(f32::MIN, valid.shape(), valid.device())?.to_dtype(x.dtype())?;
            let zeros = lowest.zeros_like()?;
            let additive = valid
                .where_cond(&zeros, &lowest)?
                .unsqueeze(1)?
                .unsqueeze(1)?;
            (x, Some(additive))
        } else {
            (x.clone(), None)
        };
        let pos = self.pos_conv_embed.forward(&x)?;
        x = (x + pos)?;
        if !self.stable {
            x = self.layer_norm.forward(&x)?;
        }
        let mut hidden_states = Vec::with_capacity(self.layers.len() + 1);
        // WavLM: the first layer's relative position table gives the bias every layer gates.
        let rel_attn_embed = self
            .layers
            .first()
            .and_then(|l| l.attention.rel_attn_embed.as_ref());
        if let Some(cpu_layers) = &self.cpu_layers {
            let (batch, frames, hidden) = x.dims3()?;
            let mut data = x.flatten_all()?.to_vec1::<f32>()?;
            let position_bias = rel_attn_embed.map(|r| r.diagonals(frames));
            for (layer, cpu_layer) in self.layers.iter().zip(cpu_layers) {
                // The kernel runs this layer's weights, so it runs in its span.
                let _enter = layer.span.enter();
                hidden_states.push(x);
                for (item, &valid) in data.chunks_exact_mut(frames * hidden).zip(frame_lengths) {
                    match &position_bias {
                        Some(bias) => {
                            cpu_layer.forward_with_position_bias(item, frames, valid, bias)
                        }
                        None => cpu_layer.forward(item, frames, valid),
                    }
                }
                x = Tensor::from_slice(&data, (batch, frames, hidden), x_device(&hidden_states))?;
            }
        } else {
            let position_bias = match rel_attn_embed {
                Some(r) => Some(r.forward(frames)?.to_dtype(x.dtype())?),
                None => None,
            };
            for layer in &self.layers {
                hidden_states.push(x.clone());
                x = layer.forward(&x, additive.as_ref(), position_bias.as_ref())?;
            }
        }
        hidden_states.push(x.clone());
        if self.stable {
            x = self.layer_norm.forward(&x)?;
        }
        Ok((hidden_states, x))
    }
}
