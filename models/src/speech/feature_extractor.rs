//! The conv feature encoder (`feature_extractor.conv_layers.N`): raw 16 kHz
//! samples in, one 512-channel frame per 20 ms out.
//!
//! Mirrors `HubertFeatureEncoder` / `Wav2Vec2FeatureEncoder`: seven strided
//! convs, each followed by GELU; with `feat_extract_norm = "group"` the first
//! conv is followed by a GroupNorm with one group per channel, with `"layer"`
//! every conv is followed by a LayerNorm over channels. On the CPU the stack
//! runs through [`crate::cpu::conv::ConvStack`] (time-major GEMM convolution
//! with fused normalisation and GELU); on other devices through candle ops.

use candle_core::{Module, Tensor};
use candle_nn::GroupNorm;

use crate::nn::LayerNorm;

use super::config::{FeatExtractNorm, SslConfig};
use crate::cpu::conv::{ConvLayerWeights, ConvNorm, ConvStack};
use crate::cpu::matrix::Precision;
use crate::error::{LoadError, RunError};
use crate::weights::Vb;

/// Normalisation after one conv layer.
enum Norm {
    None,
    Group(GroupNorm),
    Layer(LayerNorm),
}

/// `conv_layers.N`: conv, optional norm, GELU.
struct ConvLayer {
    weight: Tensor,
    bias: Option<Tensor>,
    norm: Norm,
    stride: usize,
    span: tracing::Span,
}

impl ConvLayer {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let _enter = self.span.enter();
        let mut x = x.conv1d(&self.weight, 0, self.stride, 1, 1)?;
        if let Some(b) = &self.bias {
            x = x.broadcast_add(&b.reshape((1, (), 1))?)?;
        }
        x = match &self.norm {
            Norm::None => x,
            Norm::Group(gn) => gn.forward(&x)?,
            Norm::Layer(ln) => ln.forward(&x.transpose(1, 2)?)?.transpose(1, 2)?,
        };
        x.gelu_erf()
    }
}

/// The whole conv stack.
pub struct FeatureEncoder {
    layers: Vec<ConvLayer>,
    /// The same weights repacked for the CPU kernels; `None` off the CPU or when disabled.
    cpu: Option<ConvStack>,
    span: tracing::Span,
}

impl FeatureEncoder {
    /// Loads `feature_extractor.conv_layers.*`; `cpu` selects the CPU kernels
    /// and their precision (`None`: candle ops).
    pub fn load(cfg: &SslConfig, vb: &Vb<'_>, cpu: Option<Precision>) -> Result<Self, LoadError> {
        let cpu_kernels = cpu.is_some();
        let mut layers = Vec::with_capacity(cfg.conv_dim.len());
        let mut cpu_layers = Vec::with_capacity(cfg.conv_dim.len());
        let mut in_dim = 1;
        for (i, ((&out_dim, &kernel), &stride)) in cfg
            .conv_dim
            .iter()
            .zip(&cfg.conv_kernel)
            .zip(&cfg.conv_stride)
            .enumerate()
        {
            let vb = vb.pp(format!("conv_layers.{i}"));
            let weight = vb.get(&[out_dim, in_dim, kernel], "conv.weight")?;
            let bias = if cfg.conv_bias {
                Some(vb.get(&[out_dim], "conv.bias")?)
            } else {
                None
            };
            let norm_vb = vb.pp("layer_norm");
            let (norm, cpu_norm) = match (cfg.feat_extract_norm, i) {
                (FeatExtractNorm::Group, 0) => {
                    let w = norm_vb.get(&[out_dim], "weight")?;
                    let b = norm_vb.get(&[out_dim], "bias")?;
                    let cpu = ConvNorm::Group(to_vec(&w, &vb)?, to_vec(&b, &vb)?);
                    let gn = GroupNorm::new(w, b, out_dim, out_dim, 1e-5)
                        .map_err(|e| vb.candle_err(e))?;
                    (Norm::Group(gn), cpu)
                }
                (FeatExtractNorm::Layer, _) => {
                    let w = norm_vb.get(&[out_dim], "weight")?;
                    let b = norm_vb.get(&[out_dim], "bias")?;
                    let cpu = ConvNorm::Layer(to_vec(&w, &vb)?, to_vec(&b, &vb)?);
                    (Norm::Layer(LayerNorm::new(w, b, 1e-5)), cpu)
                }
                _ => (Norm::None, ConvNorm::None),
            };
            if cpu_kernels {
                cpu_layers.push(ConvLayerWeights {
                    weight: weight
                        .flatten_all()
                        .and_then(|t| t.to_vec1())
                        .map_err(|e| vb.candle_err(e))?,
                    bias: bias.as_ref().map(|b| to_vec(b, &vb)).transpose()?,
                    in_dim,
                    out_dim,
                    kernel,
                    stride,
                    norm: cpu_norm,
                });
            }
            layers.push(ConvLayer {
                weight,
                bias,
                norm,
                stride,
                span: tracing::span!(tracing::Level::TRACE, "conv-layer", i),
            });
            in_dim = out_dim;
        }
        Ok(Self {
            layers,
            cpu: cpu.map(|p| ConvStack::new(cpu_layers, p)),
            span: tracing::span!(tracing::Level::TRACE, "feature-extractor"),
        })
    }

    /// `[batch, samples]` -> `[batch, frames, conv_dim[-1]]`.
    pub fn forward(&self, input: &Tensor) -> Result<Tensor, RunError> {
        let _enter = self.span.enter();
        let (batch, samples) = input.dims2()?;
        if let Some(cpu) = &self.cpu {
            let data = input
                .to_dtype(candle_core::DType::F32)?
                .flatten_all()?
                .to_vec1::<f32>()?;
            let frames = cpu.output_frames(samples);
            let channels = cpu.output_channels();
            let mut out = Vec::with_capacity(batch * frames * channels);
            for item in data.chunks_exact(samples.max(1)).take(batch) {
                out.extend_from_slice(&cpu.forward(item));
            }
            let t = Tensor::from_vec(out, (batch, frames, channels), input.device())?;
            return Ok(t.to_dtype(input.dtype())?);
        }
        let mut x = input.unsqueeze(1)?;
        for layer in &self.layers {
            x = layer.forward(&x)?;
        }
        Ok(x.transpose(1, 2)?.contiguous()?)
    }
}

fn to_vec(t: &Tensor, vb: &Vb<'_>) -> Result<Vec<f32>, LoadError> {
    t.to_dtype(candle_core::DType::F32)
        .and_then(|t| t.to_vec1())
        .map_err(|e| vb.candle_err(e))
}
