//! Small loaders for the standard layers (Linear, LayerNorm) on top of [`Vb`],
//! so shape errors carry the checkpoint key.

use candle_nn::{LayerNorm, Linear};

use crate::error::LoadError;
use crate::weights::Vb;

/// Loads `nn.Linear(in_dim, out_dim)` with bias from `vb` (`weight` is `[out, in]`).
pub fn linear(vb: &Vb<'_>, in_dim: usize, out_dim: usize) -> Result<Linear, LoadError> {
    let w = vb.get(&[out_dim, in_dim], "weight")?;
    let b = vb.get(&[out_dim], "bias")?;
    Ok(Linear::new(w, Some(b)))
}

/// Loads `nn.LayerNorm(dim, eps)` with affine weight and bias.
pub fn layer_norm(vb: &Vb<'_>, dim: usize, eps: f64) -> Result<LayerNorm, LoadError> {
    let w = vb.get(&[dim], "weight")?;
    let b = vb.get(&[dim], "bias")?;
    Ok(LayerNorm::new(w, b, eps))
}
