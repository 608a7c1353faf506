//! BERT and RoBERTa / XLM-R encoders (`BertModel`, `RobertaModel`,
//! `XLMRobertaModel` in transformers), one implementation: they differ only in
//! how position ids are numbered (RoBERTa counts from `pad_token_id + 1` and
//! gives padding the padding index).
//!
//! Written here rather than taken from candle-transformers so that the
//! LayerNorms and softmaxes are differentiable when the weights are trainable
//! (see [`crate::nn`]): the text backbone can then be fine-tuned. The module
//! tree mirrors the checkpoint: `embeddings.{word_embeddings,
//! position_embeddings, token_type_embeddings, LayerNorm}`,
//! `encoder.layer.N.attention.self.{query, key, value}`,
//! `encoder.layer.N.attention.output.{dense, LayerNorm}`,
//! `encoder.layer.N.intermediate.dense`, `encoder.layer.N.output.{dense, LayerNorm}`.

use candle_core::{DType, Module, Tensor};
use candle_nn::{Activation, Embedding, Linear};
use serde::Deserialize;

use super::attention::mask_bias;
use crate::error::LoadError;
use crate::nn::{embedding, layer_norm, linear, softmax_last_dim, LayerNorm};
use crate::weights::Vb;

/// `config.json` of a BERT / RoBERTa / XLM-R checkpoint (the fields the encoder needs).
/// Upstream: transformers' `models/bert/configuration_bert.py`, `models/roberta/configuration_roberta.py`.
#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    /// `"bert"`, `"roberta"` or `"xlm-roberta"`.
    pub model_type: String,
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Hidden width.
    pub hidden_size: usize,
    /// Transformer layers.
    pub num_hidden_layers: usize,
    /// Attention heads.
    pub num_attention_heads: usize,
    /// Feed-forward width.
    pub intermediate_size: usize,
    /// Feed-forward activation (`"gelu"` is the exact erf GELU).
    #[serde(default = "default_act")]
    pub hidden_act: Activation,
    /// Learned position table size.
    pub max_position_embeddings: usize,
    /// Token-type table size.
    #[serde(default = "default_types")]
    pub type_vocab_size: usize,
    /// LayerNorm epsilon.
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
    /// Padding token id (RoBERTa numbers positions after it).
    #[serde(default)]
    pub pad_token_id: u32,
    /// Only `"absolute"` is supported (transformers 5 no longer writes the field).
    #[serde(default = "default_position")]
    pub position_embedding_type: String,
}

fn default_act() -> Activation {
    Activation::Gelu
}
fn default_types() -> usize {
    2
}
fn default_eps() -> f64 {
    1e-12
}
fn default_position() -> String {
    "absolute".into()
}

impl Config {
    /// Whether positions are numbered the RoBERTa way.
    pub fn roberta_positions(&self) -> bool {
        self.model_type != "bert"
    }
}

struct Embeddings {
    word_embeddings: Embedding,
    position_embeddings: Embedding,
    token_type_embeddings: Embedding,
    layer_norm: LayerNorm,
    roberta_positions: bool,
    pad: u32,
    span: tracing::Span,
}

impl Embeddings {
    fn load(cfg: &Config, vb: &Vb<'_>) -> Result<Self, LoadError> {
        let h = cfg.hidden_size;
        Ok(Self {
            word_embeddings: embedding(&vb.pp("word_embeddings"), cfg.vocab_size, h)?,
            position_embeddings: embedding(
                &vb.pp("position_embeddings"),
                cfg.max_position_embeddings,
                h,
            )?,
            token_type_embeddings: embedding(
                &vb.pp("token_type_embeddings"),
                cfg.type_vocab_size,
                h,
            )?,
            layer_norm: layer_norm(&vb.pp("LayerNorm"), h, cfg.layer_norm_eps)?,
            roberta_positions: cfg.roberta_positions(),
            pad: cfg.pad_token_id,
            span: tracing::span!(tracing::Level::TRACE, "bert-embeddings"),
        })
    }

    fn forward(&self, ids: &Tensor, mask: &Tensor) -> candle_core::Result<Tensor> {
        let _enter = self.span.enter();
        let (b, n) = ids.dims2()?;
        let positions = if self.roberta_positions {
            // create_position_ids_from_input_ids: cumsum of the non-padding
            // mask, zero at padding, shifted by the padding index.
            let m = mask.to_dtype(DType::F32)?;
            (m.cumsum(1)? * &m)?
                .affine(1.0, f64::from(self.pad))?
                .to_dtype(DType::U32)?
        } else {
            Tensor::arange(0u32, n as u32, ids.device())?
                .unsqueeze(0)?
                .broadcast_as((b, n))?
                .contiguous()?
        };
        let types = ids.zeros_like()?;
        let x = (self.word_embeddings.forward(ids)?
            + self.position_embeddings.forward(&positions)?)?
        .add(&self.token_type_embeddings.forward(&types)?)?;
        self.layer_norm.forward(&x)
    }
}

struct Layer {
    query: Linear,
    key: Linear,
    value: Linear,
    attention_dense: Linear,
    attention_norm: LayerNorm,
    intermediate: Linear,
    output: Linear,
    output_norm: LayerNorm,
    activation: Activation,
    heads: usize,
    span: tracing::Span,
}

impl Layer {
    /// Loads `encoder.layer.{index}` from `vb`, rooted there.
    fn load(cfg: &Config, vb: &Vb<'_>, index: usize) -> Result<Self, LoadError> {
        let h = cfg.hidden_size;
        let eps = cfg.layer_norm_eps;
        let att = vb.pp("attention");
        Ok(Self {
            query: linear(&att.pp("self").pp("query"), h, h)?,
            key: linear(&att.pp("self").pp("key"), h, h)?,
            value: linear(&att.pp("self").pp("value"), h, h)?,
            attention_dense: linear(&att.pp("output").pp("dense"), h, h)?,
            attention_norm: layer_norm(&att.pp("output").pp("LayerNorm"), h, eps)?,
            intermediate: linear(&vb.pp("intermediate").pp("dense"), h, cfg.intermediate_size)?,
            output: linear(&vb.pp("output").pp("dense"), cfg.intermediate_size, h)?,
            output_norm: layer_norm(&vb.pp("output").pp("LayerNorm"), h, eps)?,
            activation: cfg.hidden_act,
            heads: cfg.num_attention_heads,
            span: tracing::span!(tracing::Level::TRACE, "bert-layer", index),
        })
    }

    fn forward(&self, x: &Tensor, bias: &Tensor) -> candle_core::Result<Tensor> {
        let _enter = self.span.enter();
        let (b, n, d) = x.dims3()?;
        let dh = d / self.heads;
        let split = |t: Tensor| {
            t.reshape((b, n, self.heads, dh))?
                .transpose(1, 2)?
                .contiguous()
        };
        let q = split(self.query.forward(x)?)?;
        let k = split(self.key.forward(x)?)?;
        let v = split(self.value.forward(x)?)?;
        let scores = (q.matmul(&k.t()?)? / (dh as f64).sqrt())?.broadcast_add(bias)?;
        let probs = softmax_last_dim(&scores, self.query.weight().is_variable())?;
        let ctx = probs.matmul(&v)?.transpose(1, 2)?.reshape((b, n, d))?;
        let x = self
            .attention_norm
            .forward(&(self.attention_dense.forward(&ctx)? + x)?)?;
        let ff = self
            .output
            .forward(&self.activation.forward(&self.intermediate.forward(&x)?)?)?;
        self.output_norm.forward(&(ff + x)?)
    }
}

/// `BertModel` / `RobertaModel` without the pooler.
pub struct BertModel {
    embeddings: Embeddings,
    layers: Vec<Layer>,
    span: tracing::Span,
}

impl BertModel {
    /// Builds the model from a view rooted where `embeddings.*` and `encoder.*` live.
    pub fn load(cfg: &Config, vb: &Vb<'_>) -> Result<Self, LoadError> {
        if cfg.position_embedding_type != "absolute" {
            return Err(vb.candle_err(candle_core::Error::Msg(format!(
                "position_embedding_type {:?} is not supported (only \"absolute\")",
                cfg.position_embedding_type
            ))));
        }
        let layers = (0..cfg.num_hidden_layers)
            .map(|i| Layer::load(cfg, &vb.pp("encoder").pp("layer").pp(i.to_string()), i))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            embeddings: Embeddings::load(cfg, &vb.pp("embeddings"))?,
            layers,
            span: tracing::span!(tracing::Level::TRACE, "bert"),
        })
    }

    /// Last hidden state `[batch, tokens, hidden]` for token ids `[batch, tokens]`
    /// and an attention mask `[batch, tokens]` (1 = real token, 0 = padding).
    pub fn forward(&self, ids: &Tensor, attention_mask: &Tensor) -> candle_core::Result<Tensor> {
        let _enter = self.span.enter();
        let mut x = self.embeddings.forward(ids, attention_mask)?;
        let bias = mask_bias(attention_mask, x.dtype())?;
        for layer in &self.layers {
            x = layer.forward(&x, &bias)?;
        }
        Ok(x)
    }
}
