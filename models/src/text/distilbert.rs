//! DistilBERT (`DistilBertModel` in transformers' `models/distilbert/modeling_distilbert.py`).
//!
//! candle-transformers has a DistilBERT, but its `"gelu"` is the tanh
//! approximation, while transformers' `"gelu"` is the exact erf form; the
//! difference (about 1e-3 on the hidden states of a random model) breaks
//! parity, so the model is written here. The module tree mirrors the
//! checkpoint: `embeddings.{word_embeddings, position_embeddings, LayerNorm}`,
//! `transformer.layer.N.{attention.{q_lin, k_lin, v_lin, out_lin},
//! sa_layer_norm, ffn.{lin1, lin2}, output_layer_norm}`.

use candle_core::{DType, Module, Result, Tensor};
use candle_nn::{embedding, linear, Activation, Embedding, Linear, VarBuilder};
use serde::Deserialize;

use super::bert::layer_norm;
use crate::nn::{softmax_last_dim, LayerNorm};

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
}

impl Embeddings {
    fn load(cfg: &Config, vb: VarBuilder<'_>) -> Result<Self> {
        Ok(Self {
            word_embeddings: embedding(cfg.vocab_size, cfg.dim, vb.pp("word_embeddings"))?,
            position_embeddings: embedding(
                cfg.max_position_embeddings,
                cfg.dim,
                vb.pp("position_embeddings"),
            )?,
            layer_norm: layer_norm(cfg.dim, LAYER_NORM_EPS, vb.pp("LayerNorm"))?,
        })
    }

    fn forward(&self, ids: &Tensor) -> Result<Tensor> {
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
}

impl Attention {
    fn load(cfg: &Config, vb: VarBuilder<'_>) -> Result<Self> {
        let d = cfg.dim;
        Ok(Self {
            q_lin: linear(d, d, vb.pp("q_lin"))?,
            k_lin: linear(d, d, vb.pp("k_lin"))?,
            v_lin: linear(d, d, vb.pp("v_lin"))?,
            out_lin: linear(d, d, vb.pp("out_lin"))?,
            heads: cfg.n_heads,
        })
    }

    /// `x` `[batch, tokens, dim]`; `bias` `[batch, 1, 1, tokens]` (0 for kept keys, -inf-like for masked).
    fn forward(&self, x: &Tensor, bias: &Tensor) -> Result<Tensor> {
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
}

impl Layer {
    fn load(cfg: &Config, vb: VarBuilder<'_>) -> Result<Self> {
        Ok(Self {
            attention: Attention::load(cfg, vb.pp("attention"))?,
            sa_layer_norm: layer_norm(cfg.dim, LAYER_NORM_EPS, vb.pp("sa_layer_norm"))?,
            lin1: linear(cfg.dim, cfg.hidden_dim, vb.pp("ffn").pp("lin1"))?,
            lin2: linear(cfg.hidden_dim, cfg.dim, vb.pp("ffn").pp("lin2"))?,
            activation: cfg.activation,
            output_layer_norm: layer_norm(cfg.dim, LAYER_NORM_EPS, vb.pp("output_layer_norm"))?,
        })
    }

    fn forward(&self, x: &Tensor, bias: &Tensor) -> Result<Tensor> {
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
}

impl DistilBertModel {
    /// Builds the model from a view rooted where `embeddings.*` and `transformer.*` live.
    pub fn load(cfg: &Config, vb: VarBuilder<'_>) -> Result<Self> {
        let layers = (0..cfg.n_layers)
            .map(|i| Layer::load(cfg, vb.pp("transformer").pp("layer").pp(i.to_string())))
            .collect::<Result<_>>()?;
        Ok(Self {
            embeddings: Embeddings::load(cfg, vb.pp("embeddings"))?,
            layers,
        })
    }

    /// Last hidden state `[batch, tokens, dim]` for token ids `[batch, tokens]`
    /// and an attention mask `[batch, tokens]` (1 = real token, 0 = padding).
    pub fn forward(&self, ids: &Tensor, attention_mask: &Tensor) -> Result<Tensor> {
        let mut x = self.embeddings.forward(ids)?;
        // Masked keys get the dtype's lowest value, as transformers' masked_fill does.
        let keep = attention_mask
            .to_dtype(DType::F32)?
            .unsqueeze(1)?
            .unsqueeze(1)?;
        let bias = ((keep.ones_like()? - &keep)? * f32::MIN as f64)?.to_dtype(x.dtype())?;
        for layer in &self.layers {
            x = layer.forward(&x, &bias)?;
        }
        Ok(x)
    }
}

/// The additive attention bias `[batch, 1, 1, tokens]` of a `[batch, tokens]`
/// mask: 0 for real tokens, the lowest f32 for padding (transformers' masked_fill).
pub(crate) fn mask_bias(attention_mask: &Tensor, dtype: DType) -> Result<Tensor> {
    let keep = attention_mask
        .to_dtype(DType::F32)?
        .unsqueeze(1)?
        .unsqueeze(1)?;
    ((keep.ones_like()? - &keep)? * f32::MIN as f64)?.to_dtype(dtype)
}
