//! Prediction heads: from pooled audio and text vectors to the outputs (three
//! dimensions, or one logit per category).
//!
//! An [`Mlp`] is a stack of `Linear` layers with an activation and dropout
//! between them (none after the last). [`Fusion`] decides how the branches
//! meet: early fusion concatenates the pooled audio vector and the text
//! embedding before one MLP; late fusion runs one MLP per branch and mixes
//! their predictions per output with learned weights `sigmoid(late_weight)`.
//!
//! Pooled vectors come in from the audio branch ([`super::AudioBranch::pool`])
//! and the text encoder; predictions in the manifest's label order go out to
//! [`super::EmotionModel`]. The layers load through [`Vb`] from the head
//! weights file (`head.safetensors`, or a published checkpoint's
//! `classifier.*`), like every other family's.

use candle_core::{Module, Result, Tensor, D};
use candle_nn::Linear;
use serde::{Deserialize, Serialize};

use crate::error::LoadError;
use crate::nn::linear;
use crate::weights::Vb;

/// Activation between MLP layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    /// max(0, x).
    Relu,
    /// tanh(x) (the audeering regression head).
    Tanh,
    /// Exact (erf) GELU.
    Gelu,
}

impl Activation {
    fn forward(self, x: &Tensor) -> Result<Tensor> {
        match self {
            Self::Relu => x.relu(),
            Self::Tanh => x.tanh(),
            Self::Gelu => x.gelu_erf(),
        }
    }
}

/// A multi-layer perceptron whose linear layers are named by the checkpoint.
pub struct Mlp {
    layers: Vec<Linear>,
    activation: Activation,
    dropout: f32,
    span: tracing::Span,
}

impl Mlp {
    /// Loads linear layers of widths `dims[i] -> dims[i + 1]` named `names[i]` under `vb`.
    pub fn load(
        dims: &[usize],
        names: &[String],
        activation: Activation,
        dropout: f32,
        vb: &Vb<'_>,
    ) -> std::result::Result<Self, LoadError> {
        if names.len() + 1 != dims.len() {
            return Err(LoadError::Weights {
                path: vb.path().to_owned(),
                message: format!(
                    "{} layer names for {} layers",
                    names.len(),
                    dims.len().saturating_sub(1)
                ),
            });
        }
        let layers = dims
            .windows(2)
            .zip(names)
            .map(|(d, name)| linear(&vb.pp(name), d[0], d[1]))
            .collect::<std::result::Result<_, _>>()?;
        Ok(Self {
            layers,
            activation,
            dropout,
            span: tracing::span!(tracing::Level::TRACE, "mlp"),
        })
    }

    /// The default layer names of Emoscope's own heads: `layers.0`, `layers.1`, …
    pub fn default_names(count: usize) -> Vec<String> {
        (0..count).map(|i| format!("layers.{i}")).collect()
    }

    /// `[batch, in]` -> `[batch, out]`; dropout only when `train`.
    pub fn forward(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let _enter = self.span.enter();
        let mut x = x.clone();
        let last = self.layers.len() - 1;
        for (i, layer) in self.layers.iter().enumerate() {
            if train && self.dropout > 0.0 {
                x = candle_nn::ops::dropout(&x, self.dropout)?;
            }
            x = layer.forward(&x)?;
            if i < last {
                x = self.activation.forward(&x)?;
            }
        }
        Ok(x)
    }
}

/// How audio and text meet.
pub enum Fusion {
    /// One MLP over whichever branches the model has, concatenated audio first.
    Early {
        /// The MLP (`head.*`).
        head: Mlp,
    },
    /// One MLP per branch; outputs mixed per dimension by `sigmoid(late_weight)`
    /// for audio and `1 - sigmoid(late_weight)` for text.
    Late {
        /// Audio MLP (`audio_head.*`).
        audio: Mlp,
        /// Text MLP (`text_head.*`).
        text: Mlp,
        /// `[outputs]` logits of the audio share.
        late_weight: Tensor,
    },
}

impl Fusion {
    /// Predictions `[batch, outputs]` from the pooled audio `[batch, a]` and
    /// text `[batch, t]` vectors the model has.
    pub fn forward(
        &self,
        audio: Option<&Tensor>,
        text: Option<&Tensor>,
        train: bool,
    ) -> Result<Tensor> {
        match self {
            Self::Early { head } => {
                let x = match (audio, text) {
                    (Some(a), Some(t)) => Tensor::cat(&[a, t], D::Minus1)?,
                    (Some(a), None) => a.clone(),
                    (None, Some(t)) => t.clone(),
                    (None, None) => candle_core::bail!("the head needs at least one branch"),
                };
                head.forward(&x, train)
            }
            Self::Late {
                audio: audio_head,
                text: text_head,
                late_weight,
            } => {
                let (Some(a), Some(t)) = (audio, text) else {
                    candle_core::bail!("late fusion needs both branches");
                };
                let w = candle_nn::ops::sigmoid(late_weight)?;
                let ya = audio_head.forward(a, train)?.broadcast_mul(&w)?;
                let yt = text_head
                    .forward(t, train)?
                    .broadcast_mul(&(w.ones_like()? - &w)?)?;
                ya + yt
            }
        }
    }
}
