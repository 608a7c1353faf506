//! DistilBERT (`DistilBertModel` in transformers' `models/distilbert/modeling_distilbert.py`).
//!
//! candle-transformers has a DistilBERT, but its `"gelu"` is the tanh
//! approximation, while transformers' `"gelu"` is the exact erf form; the
//! difference (about 1e-3 on the hidden states of a random model) breaks
//! parity, so the model is written here. The module tree mirrors the
//! checkpoint: `embeddings.{word_embeddings, position_embeddings, LayerNorm}`,
//! `transformer.layer.N.{attention.{q_lin, k_lin, v_lin, out_lin},
//! sa_layer_norm, ffn.{lin1, lin2}, output_layer_norm}`.

use candle_core::{Module, Tensor};
use candle_nn::{Activation, Embedding, Linear};
use serde::Deserialize;

use super::attention::mask_bias;
use crate::error::LoadError;
use crate::nn::{embedding, layer_norm, linear, softmax_last_dim, LayerNorm};
use crate::weights::Vb;

/// `config.json` of a DistilBERT checkpoint (the fields the encoder needs).
/// Upstream: transformers' `models/distilbert/configuration_distilbert.py`.
#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Hidden width.
    pub dim: usize,
    /// Transformer layers.
    pub n_layers: usize,
    /// Attention heads.
    pub n_heads: usize,
    /// Feed-forward width.
    pub hidden_dim: usize,
    /// Feed-forward activation (`"gelu"` is the exact erf GELU, as in transformers).
    #[serde(default = "default_activation")]
    pub activation: Activation,
    /// Learned position table size.
    pub max_position_embeddings: usize,
}

fn default_activation() -> Activation {
    Activation::Gelu
}

/// transformers hard-codes this epsilon for every DistilBERT LayerNorm.
const LAYER_NORM_EPS: f64 = 1e-12;

struct Embeddings {
    word_embeddings: Embedding,
    position_embeddings: Embedding,
    layer_norm: LayerNorm,
    span: tracing::Span,
}

impl Embeddings {
    fn load(cfg: &Config, vb: &Vb<'_>) -> Result<Self, LoadError> {
        Ok(Self {
            word_embeddings: embedding(&vb.pp("word_embeddings"), cfg.vocab_size, cfg.dim)?,
            position_embeddings: embedding(
                &vb.pp("position_embeddings"),
                cfg.max_position_embeddings,
                cfg.dim,
            )?,
            layer_norm: layer_norm(&vb.pp("LayerNorm"), cfg.dim, LAYER_NORM_EPS)?,
            span: tracing::span!(tracing::Level::TRACE, "distilbert-embeddings"),
        })
    }

    fn forward(&self, ids: &Tensor) -> candle_core::Result<Tensor> {
        let _enter = self.span.enter();
        let (_, n) = ids.dims2()?;
        let positions = Tensor::arange(0u32, n as u32, ids.device())?;
        let x = self
            .word_embeddings
            .forward(ids)?
            .broadcast_add(&self.position_embeddings.forward(&positions)?)?;
        self.layer_norm.forward(&x)
    }
}

struct Attention {
    q_lin: Linear,
    k_lin: Linear,
    v_lin: Linear,
    out_lin: Linear,
    heads: usize,
    span: tracing::Span,
}

impl Attention {
    fn load(cfg: &Config, vb: &Vb<'_>) -> Result<Self, LoadError> {
        let d = cfg.dim;
        Ok(Self {
            q_lin: linear(&vb.pp("q_lin"), d, d)?,
            k_lin: linear(&vb.pp("k_lin"), d, d)?,
            v_lin: linear(&vb.pp("v_lin"), d, d)?,
            out_lin: linear(&vb.pp("out_lin"), d, d)?,
            heads: cfg.n_heads,
            span: tracing::span!(tracing::Level::TRACE, "distilbert-attention"),
        })
    }

    /// `x` `[batch, tokens, dim]`; `bias` `[batch, 1, 1, tokens]` (0 for kept keys, -inf-like for masked).
    fn forward(&self, x: &Tensor, bias: &Tensor) -> candle_core::Result<Tensor> {
        let _enter = self.span.enter();
        let (b, n, d) = x.dims3()?;
        let dh = d / self.heads;
        let split = |t: Tensor| {
            t.reshape((b, n, self.heads, dh))?
                .transpose(1, 2)?
                .contiguous()
        };
        // transformers scales the query before the product.
        let q = split((self.q_lin.forward(x)? / (dh as f64).sqrt())?)?;
        let k = split(self.k_lin.forward(x)?)?;
        let v = split(self.v_lin.forward(x)?)?;
        let scores = q.matmul(&k.t()?)?.broadcast_add(bias)?;
        let weights = softmax_last_dim(&scores, self.q_lin.weight().is_variable())?;
        let context = weights.matmul(&v)?.transpose(1, 2)?.reshape((b, n, d))?;
        self.out_lin.forward(&context)
    }
}

struct Layer {
    attention: Attention,
    sa_layer_norm: LayerNorm,
    lin1: Linear,
    lin2: Linear,
    activation: Activation,
    output_layer_norm: LayerNorm,
    span: tracing::Span,
}

impl Layer {
    /// Loads `transformer.layer.{index}` from `vb`, rooted there.
    fn load(cfg: &Config, vb: &Vb<'_>, index: usize) -> Result<Self, LoadError> {
        Ok(Self {
            attention: Attention::load(cfg, &vb.pp("attention"))?,
            sa_layer_norm: layer_norm(&vb.pp("sa_layer_norm"), cfg.dim, LAYER_NORM_EPS)?,
            lin1: linear(&vb.pp("ffn").pp("lin1"), cfg.dim, cfg.hidden_dim)?,
            lin2: linear(&vb.pp("ffn").pp("lin2"), cfg.hidden_dim, cfg.dim)?,
            activation: cfg.activation,
            output_layer_norm: layer_norm(&vb.pp("output_layer_norm"), cfg.dim, LAYER_NORM_EPS)?,
            span: tracing::span!(tracing::Level::TRACE, "distilbert-layer", index),
        })
    }

    fn forward(&self, x: &Tensor, bias: &Tensor) -> candle_core::Result<Tensor> {
        let _enter = self.span.enter();
        let x = self
            .sa_layer_norm
            .forward(&(self.attention.forward(x, bias)? + x)?)?;
        let ffn = self
            .lin2
            .forward(&self.activation.forward(&self.lin1.forward(&x)?)?)?;
        self.output_layer_norm.forward(&(ffn + x)?)
    }
}

/// `DistilBertModel`: embeddings and the transformer stack.
pub struct DistilBertModel {
    embeddings: Embeddings,
    layers: Vec<Layer>,
    span: tracing::Span,
}

impl DistilBertModel {
    /// Builds the model from a view rooted where `embeddings.*` and `transformer.*` live.
    pub fn load(cfg: &Config, vb: &Vb<'_>) -> Result<Self, LoadError> {
        let layers = (0..cfg.n_layers)
            .map(|i| Layer::load(cfg, &vb.pp("transformer").pp("layer").pp(i.to_string()), i))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            embeddings: Embeddings::load(cfg, &vb.pp("embeddings"))?,
            layers,
            span: tracing::span!(tracing::Level::TRACE, "distilbert"),
        })
    }

    /// Last hidden state `[batch, tokens, dim]` for token ids `[batch, tokens]`
    /// and an attention mask `[batch, tokens]` (1 = real token, 0 = padding).
    pub fn forward(&self, ids: &Tensor, attention_mask: &Tensor) -> candle_core::Result<Tensor> {
        let _enter = self.span.enter();
        let mut x = self.embeddings.forward(ids)?;
        // Masked keys get the dtype's lowest value, as transformers' masked_fill does.
        let bias = mask_bias(attention_mask, x.dtype())?;
        for layer in &self.layers {
            x = layer.forward(&x, &bias)?;
        }
        Ok(x)
    }
}
