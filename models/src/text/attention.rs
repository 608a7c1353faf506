//! What the BERT and DistilBERT encoders share: the additive attention bias
//! built from a tokenizer's attention mask.
//!
//! Both backbones ([`super::bert`], [`super::distilbert`]) depend on this
//! module and not on each other. Their attention layers themselves stay
//! apart: BERT divides the scores by `sqrt(head_dim)` and DistilBERT scales
//! the query before the product, each as transformers does, so one shared
//! layer would change the rounding of one of them.

use candle_core::{DType, Tensor};

/// The additive attention bias `[batch, 1, 1, tokens]` of a `[batch, tokens]`
/// mask: 0 for real tokens, the lowest f32 for padding (transformers' masked_fill).
pub(crate) fn mask_bias(attention_mask: &Tensor, dtype: DType) -> candle_core::Result<Tensor> {
    let keep = attention_mask
        .to_dtype(DType::F32)?
        .unsqueeze(1)?
        .unsqueeze(1)?;
    ((keep.ones_like()? - &keep)? * f32::MIN as f64)?.to_dtype(dtype)
}
