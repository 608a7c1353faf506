//! Small layers on top of [`Vb`] and candle, shared by every model family.
//!
//! [`linear`], [`layer_norm`] and [`embedding`] load `nn.Linear`,
//! `nn.LayerNorm` and `nn.Embedding` from a [`Vb`], so a missing or
//! mis-shaped tensor is a typed [`LoadError`] naming the file and the key;
//! when the view is a builder over a `VarMap` that creates variables, they
//! are initialised as candle-nn's own `linear`, `layer_norm` and `embedding`
//! would.
//!
//! candle-nn's fused LayerNorm and last-dimension softmax have no backward
//! pass, so a model built on them cannot be trained. The [`LayerNorm`] here
//! and [`softmax_last_dim`] use the fused kernels when the weights are plain
//! tensors (inference) and candle's differentiable compositions when they are
//! trainable variables (`Tensor::is_variable`), so the same model code serves
//! inference at full speed and training with gradients everywhere.

use candle_core::{Module, Tensor, D};
use candle_nn::{Embedding, Init, Linear};

use crate::error::LoadError;
use crate::weights::Vb;

/// Loads `nn.Linear(in_dim, out_dim)` with bias from `vb` (`weight` is `[out, in]`).
pub fn linear(vb: &Vb<'_>, in_dim: usize, out_dim: usize) -> Result<Linear, LoadError> {
    let w = vb.get_with_init(
        &[out_dim, in_dim],
        "weight",
        candle_nn::init::DEFAULT_KAIMING_NORMAL,
    )?;
    let bound = 1.0 / (in_dim as f64).sqrt();
    let b = vb.get_with_init(
        &[out_dim],
        "bias",
        Init::Uniform {
            lo: -bound,
            up: bound,
        },
    )?;
    Ok(Linear::new(w, Some(b)))
}

/// Loads `nn.LayerNorm(dim, eps)` with affine weight and bias.
pub fn layer_norm(vb: &Vb<'_>, dim: usize, eps: f64) -> Result<LayerNorm, LoadError> {
    let w = vb.get_with_init(&[dim], "weight", Init::Const(1.0))?;
    let b = vb.get_with_init(&[dim], "bias", Init::Const(0.0))?;
    Ok(LayerNorm::new(w, b, eps))
}

/// Loads `nn.Embedding(vocab, dim)` (`weight` is `[vocab, dim]`).
pub fn embedding(vb: &Vb<'_>, vocab: usize, dim: usize) -> Result<Embedding, LoadError> {
    let w = vb.get_with_init(
        &[vocab, dim],
        "weight",
        Init::Randn {
            mean: 0.0,
            stdev: 1.0,
        },
    )?;
    Ok(Embedding::new(w, dim))
}

/// LayerNorm over the last dimension, differentiable when its weight is a variable.
#[derive(Clone, Debug)]
pub struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
    eps: f64,
    fused: candle_nn::LayerNorm,
}

impl LayerNorm {
    /// A LayerNorm with gain `weight`, shift `bias` and `eps`.
    pub fn new(weight: Tensor, bias: Tensor, eps: f64) -> Self {
        let fused = candle_nn::LayerNorm::new(weight.clone(), bias.clone(), eps);
        Self {
            weight,
            bias,
            eps,
            fused,
        }
    }

    /// The gain.
    pub fn weight(&self) -> &Tensor {
        &self.weight
    }

    /// The shift.
    pub fn bias(&self) -> &Tensor {
        &self.bias
    }
}

impl Module for LayerNorm {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        if self.weight.is_variable() || x.is_variable() {
            candle_nn::ops::layer_norm_slow(x, &self.weight, &self.bias, self.eps as f32)
        } else {
            self.fused.forward(x)
        }
    }
}

/// Softmax over the last dimension: candle's fused kernel, or its
/// differentiable composition when `autograd` (trainable weights upstream).
pub fn softmax_last_dim(x: &Tensor, autograd: bool) -> candle_core::Result<Tensor> {
    if autograd {
        candle_nn::ops::softmax(x, D::Minus1)
    } else {
        candle_nn::ops::softmax_last_dim(x)
    }
}
