//! WavLM's gated relative position bias: what `WavLMModel` adds to wav2vec2
//! (`WavLMAttention` in transformers' `models/wavlm/modeling_wavlm.py`).
//!
//! The first layer's attention owns `rel_attn_embed`, a `[num_buckets, heads]`
//! table. Once per forward pass it turns into the position bias
//! `bias[h, q, k] = rel_attn_embed[bucket(k - q), h]` ([`RelativePositionBias`]),
//! which every layer then adds to its attention scores before the softmax,
//! scaled per head and query frame by a gate computed from that layer's
//! attention input `x` ([`PositionGate`]):
//!
//! ```text
//! p = gru_rel_pos_linear(x[q, head h])       head_dim -> 8
//! a = sigmoid(p0 + p1 + p2 + p3),  b = sigmoid(p4 + p5 + p6 + p7)
//! gate[h, q] = a * (b * gru_rel_pos_const[h] - 1) + 2
//! scores[h, q, k] = q·k / sqrt(head_dim) + gate[h, q] * bias[h, q, k]  (+ padding mask)
//! ```
//!
//! Everything else in WavLM (conv feature encoder, feature projection,
//! positional conv, the layers' LayerNorms and feed-forward, in the post-LN
//! base and the pre-LN large arrangement) is wav2vec2's, so a WavLM checkpoint
//! (`model_type: "wavlm"`) loads into [`super::SslEncoder`] with the modules
//! of [`super::encoder`], whose attention holds these two parts:
//!
//! ```text
//! encoder.layers.0.attention.rel_attn_embed.weight      RelativePositionBias
//! encoder.layers.N.attention.gru_rel_pos_linear.{weight, bias}
//! encoder.layers.N.attention.gru_rel_pos_const           PositionGate
//! ```
//!
//! On the CPU the transformer kernel applies the same gate and bias
//! ([`crate::cpu::transformer::CpuEncoderLayer::with_position_gate`]).

use candle_core::{DType, Module, Tensor};
use candle_nn::{Init, Linear};

use super::config::SslConfig;
use crate::cpu::transformer::PositionGateParams;
use crate::error::LoadError;
use crate::nn::linear;
use crate::weights::Vb;

/// Outputs of `gru_rel_pos_linear`: two gates of four summed terms each.
const GATE_TERMS: usize = 8;

/// `_relative_positions_bucket` for one relative position `k - q`.
///
/// Half the buckets are for keys after the query (`relative > 0`), half for
/// the others. Within a half, distances below `exact = num_buckets / 4` get
/// a bucket each; longer ones share buckets spaced logarithmically up to
/// `max_distance`, beyond which everything falls in the half's last bucket.
/// The logarithm is taken in f32 in the reference's order of operations,
/// so the bucket edges fall where PyTorch puts them.
pub fn relative_position_bucket(relative: i64, num_buckets: usize, max_distance: usize) -> usize {
    let half = num_buckets / 2;
    let offset = if relative > 0 { half } else { 0 };
    let distance = relative.unsigned_abs() as usize;
    let exact = half / 2;
    if distance < exact {
        return offset + distance;
    }
    let log_ratio = (max_distance as f64 / exact as f64).ln() as f32;
    let scaled = (distance as f32 / exact as f32).ln() / log_ratio * (half - exact) as f32;
    // `.to(torch.long)` truncates toward zero; the value is at least `exact`.
    let large = (exact as f32 + scaled) as usize;
    offset + large.min(half - 1)
}

/// `rel_attn_embed` of the first layer's attention: the relative position bias.
pub struct RelativePositionBias {
    /// `[num_buckets, heads]`.
    rel_attn_embed: Tensor,
    /// The same table as f32 values, for the CPU kernels.
    table: Vec<f32>,
    num_buckets: usize,
    max_distance: usize,
    heads: usize,
    span: tracing::Span,
}

impl RelativePositionBias {
    /// Loads `rel_attn_embed.weight` under the attention's view `vb`.
    pub fn load(cfg: &SslConfig, vb: &Vb<'_>) -> Result<Self, LoadError> {
        let heads = cfg.num_attention_heads;
        let rel_attn_embed = vb.pp("rel_attn_embed").get_with_init(
            &[cfg.num_buckets, heads],
            "weight",
            Init::Randn {
                mean: 0.0,
                stdev: 1.0,
            },
        )?;
        let table = rel_attn_embed
            .to_dtype(DType::F32)
            .and_then(|t| t.flatten_all())
            .and_then(|t| t.to_vec1())
            .map_err(|e| vb.candle_err(e))?;
        Ok(Self {
            rel_attn_embed,
            table,
            num_buckets: cfg.num_buckets,
            max_distance: cfg.max_bucket_distance,
            heads,
            span: tracing::span!(tracing::Level::TRACE, "rel-attn-embed"),
        })
    }

    /// The bucket of each relative position `k - q` of `frames` frames,
    /// indexed by `k - q + frames - 1`.
    fn buckets(&self, frames: usize) -> Vec<usize> {
        let n = frames as i64;
        (1 - n..n)
            .map(|r| relative_position_bucket(r, self.num_buckets, self.max_distance))
            .collect()
    }

    /// The bias `[heads, frames, frames]` (`compute_bias`), differentiable
    /// with respect to the table.
    pub fn forward(&self, frames: usize) -> candle_core::Result<Tensor> {
        let _enter = self.span.enter();
        let buckets = self.buckets(frames);
        let index: Vec<u32> = (0..frames)
            .flat_map(|q| (0..frames).map(move |k| k + frames - 1 - q))
            .map(|i| buckets[i] as u32)
            .collect();
        let index = Tensor::from_vec(index, frames * frames, self.rel_attn_embed.device())?;
        self.rel_attn_embed
            .index_select(&index, 0)?
            .reshape((frames, frames, self.heads))?
            .permute((2, 0, 1))?
            .contiguous()
    }

    /// The bias as f32 values for the CPU kernels, by diagonal: `[heads,
    /// 2 * frames - 1]`, where `bias[h, q, k]` is element `k - q + frames - 1`
    /// of row `h`. The bias depends on `k - q` only, so this holds all of it
    /// in `O(frames)` memory, and each query's row is a contiguous slice.
    pub fn diagonals(&self, frames: usize) -> Vec<f32> {
        let _enter = self.span.enter();
        let buckets = self.buckets(frames);
        (0..self.heads)
            .flat_map(|h| buckets.iter().map(move |&b| (b, h)))
            .map(|(b, h)| self.table[b * self.heads + h])
            .collect()
    }
}

/// `gru_rel_pos_linear` and `gru_rel_pos_const` of one layer's attention:
/// the gate that scales the position bias per head and query frame.
pub struct PositionGate {
    /// `head_dim -> 8`.
    gru_rel_pos_linear: Linear,
    /// `[1, heads, 1, 1]`.
    gru_rel_pos_const: Tensor,
    heads: usize,
    head_dim: usize,
    span: tracing::Span,
}

impl PositionGate {
    /// Loads `gru_rel_pos_linear.*` and `gru_rel_pos_const` under the attention's view `vb`.
    pub fn load(cfg: &SslConfig, vb: &Vb<'_>) -> Result<Self, LoadError> {
        let heads = cfg.num_attention_heads;
        let head_dim = cfg.head_dim();
        Ok(Self {
            gru_rel_pos_linear: linear(&vb.pp("gru_rel_pos_linear"), head_dim, GATE_TERMS)?,
            gru_rel_pos_const: vb.get_with_init(
                &[1, heads, 1, 1],
                "gru_rel_pos_const",
                Init::Const(1.0),
            )?,
            heads,
            head_dim,
            span: tracing::span!(tracing::Level::TRACE, "gru-rel-pos"),
        })
    }

    /// The gate `[batch, heads, frames, 1]` for the attention input `x`
    /// (`[batch, frames, hidden]`).
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let _enter = self.span.enter();
        let (b, t, _) = x.dims3()?;
        let per_head = x
            .reshape((b, t, self.heads, self.head_dim))?
            .transpose(1, 2)?
            .contiguous()?;
        let terms = self
            .gru_rel_pos_linear
            .forward(&per_head)?
            .reshape((b, self.heads, t, 2, GATE_TERMS / 2))?
            .sum(4)?;
        let gates = candle_nn::ops::sigmoid(&terms)?;
        let (gate_a, gate_b) = (gates.narrow(3, 0, 1)?, gates.narrow(3, 1, 1)?);
        let scaled = (gate_b.broadcast_mul(&self.gru_rel_pos_const)? - 1.0)?;
        (gate_a * scaled)? + 2.0
    }

    /// The gated bias `[batch, heads, frames, frames]` this layer adds to its
    /// attention scores, for the attention input `x` and the first layer's
    /// `bias` (`[heads, frames, frames]`).
    pub fn gated_bias(&self, x: &Tensor, bias: &Tensor) -> candle_core::Result<Tensor> {
        self.forward(x)?.broadcast_mul(&bias.unsqueeze(0)?)
    }

    /// The weights as the CPU kernel takes them.
    pub fn cpu_params(&self) -> candle_core::Result<PositionGateParams> {
        let f32_vec = |t: &Tensor| t.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>();
        let bias = match self.gru_rel_pos_linear.bias() {
            Some(b) => f32_vec(b)?,
            None => vec![0.0; GATE_TERMS],
        };
        Ok(PositionGateParams {
            weight: f32_vec(self.gru_rel_pos_linear.weight())?,
            bias,
            constant: f32_vec(&self.gru_rel_pos_const)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::relative_position_bucket;

    /// WavLM-base's buckets (320, 800): 160 per direction, exact below 80;
    /// from there `80 + floor(ln(d / 80) / ln(10) * 80)`, so the next bucket
    /// starts where `d / 80` passes `10^(1/80)` (d = 83 gives 81.3, d = 82
    /// gives 80.9), and 800 reaches the clamp at 159 (799 gives 159.96). Keys
    /// after the query (`k - q > 0`) use buckets 160 and up.
    #[test]
    fn published_configuration_buckets() {
        let b = |r| relative_position_bucket(r, 320, 800);
        assert_eq!(b(0), 0);
        assert_eq!(b(-79), 79);
        assert_eq!(b(79), 160 + 79);
        assert_eq!(b(-80), 80);
        assert_eq!(b(-82), 80);
        assert_eq!(b(-83), 81);
        assert_eq!(b(-799), 159);
        assert_eq!(b(800), 160 + 159);
        assert_eq!(b(-100_000), 159);
    }
}
