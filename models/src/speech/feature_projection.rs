//! `feature_projection`: optional LayerNorm over the conv channels, then a
//! Linear from `conv_dim[-1]` to `hidden_size` (`HubertFeatureProjection`,
//! `Wav2Vec2FeatureProjection`). Dropout is an identity at inference.

use candle_core::{Module, Tensor};
use candle_nn::Linear;

use super::config::SslConfig;
use crate::error::LoadError;
use crate::nn::{layer_norm, linear, LayerNorm};
use crate::weights::Vb;

/// The projection from conv features to the transformer width.
pub struct FeatureProjection {
    layer_norm: Option<LayerNorm>,
    projection: Linear,
    span: tracing::Span,
}

impl FeatureProjection {
    /// Loads `feature_projection.{layer_norm,projection}`.
    pub fn load(cfg: &SslConfig, vb: &Vb<'_>) -> Result<Self, LoadError> {
        let conv_out = *cfg.conv_dim.last().unwrap_or(&0);
        let layer_norm = if cfg.feature_projection_layer_norm() {
            Some(layer_norm(
                &vb.pp("layer_norm"),
                conv_out,
                cfg.layer_norm_eps,
            )?)
        } else {
            None
        };
        Ok(Self {
            layer_norm,
            projection: linear(&vb.pp("projection"), conv_out, cfg.hidden_size)?,
            span: tracing::span!(tracing::Level::TRACE, "feature-projection"),
        })
    }

    /// `[batch, frames, conv_dim[-1]]` -> `[batch, frames, hidden_size]`.
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let _enter = self.span.enter();
        match &self.layer_norm {
            Some(ln) => self.projection.forward(&ln.forward(x)?),
            None => self.projection.forward(x),
        }
    }
}
