//! Whisper's encoder and decoder, numerically equal to transformers'
//! `WhisperForConditionalGeneration`, with a key/value cache for decoding and
//! the decoder's cross-attention weights returned on request (word timing
//! reads them).
//!
//! The module tree mirrors the state dict (`models/whisper/modeling_whisper.py`):
//!
//! ```text
//! WhisperForConditionalGeneration
//! ├── model.encoder                     WhisperEncoder
//! │   ├── conv1, conv2                  Conv1d(k=3, padding 1; conv2 stride 2) + GELU
//! │   ├── embed_positions.weight        sinusoids, [max_source_positions, d_model]
//! │   ├── layers.N                      WhisperEncoderLayer (pre-norm)
//! │   │   ├── self_attn.{q_proj, k_proj (no bias), v_proj, out_proj}
//! │   │   ├── self_attn_layer_norm
//! │   │   ├── fc1, fc2                  GELU between
//! │   │   └── final_layer_norm
//! │   └── layer_norm
//! ├── model.decoder                     WhisperDecoder
//! │   ├── embed_tokens, embed_positions learned, [vocab, d], [max_target_positions, d]
//! │   ├── layers.N                      WhisperDecoderLayer: self_attn (causal),
//! │   │                                 encoder_attn (cross), fc1/fc2, three LayerNorms
//! │   └── layer_norm
//! └── proj_out                          tied to embed_tokens when absent
//! ```

use candle_core::{DType, Module, Tensor};
use candle_nn::{Embedding, Linear};

use super::config::{WhisperConfig, LAYER_NORM_EPS};
use super::cpu_conv::CpuConvFrontEnd;
use super::cpu_decoder::{CpuDecoder, CpuState, DecoderLayerParams};
use crate::cpu::matrix::Precision;
use crate::cpu::transformer::{CpuEncoderLayer, LayerParams, LinearParams};
use crate::error::LoadError;
use crate::nn::{embedding, layer_norm, linear, softmax_last_dim, LayerNorm};
use crate::weights::Vb;

/// `nn.Linear(d, d, bias=False)` (Whisper's `k_proj`).
fn linear_no_bias(vb: &Vb<'_>, in_dim: usize, out_dim: usize) -> Result<Linear, LoadError> {
    Ok(Linear::new(vb.get(&[out_dim, in_dim], "weight")?, None))
}

/// `WhisperAttention`: self-attention (encoder, causal decoder) or cross-attention.
struct Attention {
    q_proj: Linear,
    k_proj: Linear,
    v_proj: Linear,
    out_proj: Linear,
    heads: usize,
    span: tracing::Span,
}

impl Attention {
    fn load(vb: &Vb<'_>, d: usize, heads: usize, span: tracing::Span) -> Result<Self, LoadError> {
        Ok(Self {
            q_proj: linear(&vb.pp("q_proj"), d, d)?,
            k_proj: linear_no_bias(&vb.pp("k_proj"), d, d)?,
            v_proj: linear(&vb.pp("v_proj"), d, d)?,
            out_proj: linear(&vb.pp("out_proj"), d, d)?,
            heads,
            span,
        })
    }

    /// `[b, n, d]` -> `[b, heads, n, d / heads]`.
    fn split(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let (b, n, d) = x.dims3()?;
        x.reshape((b, n, self.heads, d / self.heads))?
            .transpose(1, 2)?
            .contiguous()
    }

    /// Keys and values of `x`, split into heads.
    fn keys_values(&self, x: &Tensor) -> candle_core::Result<(Tensor, Tensor)> {
        Ok((
            self.split(&self.k_proj.forward(x)?)?,
            self.split(&self.v_proj.forward(x)?)?,
        ))
    }

    /// Attends from `x` to `k`/`v` (already split); `mask` is added to the
    /// scores. Returns the output and the attention probabilities `[b, heads, n, keys]`.
    fn attend(
        &self,
        x: &Tensor,
        k: &Tensor,
        v: &Tensor,
        mask: Option<&Tensor>,
    ) -> candle_core::Result<(Tensor, Tensor)> {
        let (b, n, d) = x.dims3()?;
        let dh = d / self.heads;
        let q = self.split(&self.q_proj.forward(x)?)?;
        let mut scores = (q.matmul(&k.t()?)? * (dh as f64).powf(-0.5))?;
        if let Some(m) = mask {
            scores = scores.broadcast_add(m)?;
        }
        let probs = softmax_last_dim(&scores, false)?;
        let ctx = probs.matmul(v)?.transpose(1, 2)?.reshape((b, n, d))?;
        Ok((self.out_proj.forward(&ctx)?, probs))
    }

    /// Self-attention over `x`; with a cache, over the cached keys and values too
    /// (which it extends).
    fn forward_self(
        &self,
        x: &Tensor,
        mask: Option<&Tensor>,
        cache: Option<&mut Option<(Tensor, Tensor)>>,
    ) -> candle_core::Result<Tensor> {
        let _enter = self.span.enter();
        let (mut k, mut v) = self.keys_values(x)?;
        if let Some(cache) = cache {
            if let Some((pk, pv)) = cache.as_ref() {
                k = Tensor::cat(&[pk, &k], 2)?;
                v = Tensor::cat(&[pv, &v], 2)?;
            }
            *cache = Some((k.clone(), v.clone()));
        }
        Ok(self.attend(x, &k, &v, mask)?.0)
    }

    /// Cross-attention to the encoder's keys and values.
    fn forward_cross(
        &self,
        x: &Tensor,
        kv: &(Tensor, Tensor),
    ) -> candle_core::Result<(Tensor, Tensor)> {
        let _enter = self.span.enter();
        self.attend(x, &kv.0, &kv.1, None)
    }
}

/// `fc1`, GELU, `fc2`.
struct FeedForward {
    fc1: Linear,
    fc2: Linear,
    span: tracing::Span,
}

impl FeedForward {
    fn load(vb: &Vb<'_>, d: usize, ffn: usize) -> Result<Self, LoadError> {
        Ok(Self {
            fc1: linear(&vb.pp("fc1"), d, ffn)?,
            fc2: linear(&vb.pp("fc2"), ffn, d)?,
            span: tracing::span!(tracing::Level::TRACE, "whisper-feed-forward"),
        })
    }

    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let _enter = self.span.enter();
        self.fc2.forward(&self.fc1.forward(x)?.gelu_erf()?)
    }
}

/// `WhisperEncoderLayer`.
struct EncoderLayer {
    self_attn: Attention,
    self_attn_layer_norm: LayerNorm,
    ffn: FeedForward,
    final_layer_norm: LayerNorm,
    span: tracing::Span,
}

impl EncoderLayer {
    fn load(cfg: &WhisperConfig, vb: &Vb<'_>, index: usize) -> Result<Self, LoadError> {
        let d = cfg.d_model;
        Ok(Self {
            self_attn: Attention::load(
                &vb.pp("self_attn"),
                d,
                cfg.encoder_attention_heads,
                tracing::span!(tracing::Level::TRACE, "whisper-self-attention"),
            )?,
            self_attn_layer_norm: layer_norm(&vb.pp("self_attn_layer_norm"), d, LAYER_NORM_EPS)?,
            ffn: FeedForward::load(vb, d, cfg.encoder_ffn_dim)?,
            final_layer_norm: layer_norm(&vb.pp("final_layer_norm"), d, LAYER_NORM_EPS)?,
            span: tracing::span!(tracing::Level::TRACE, "whisper-encoder-layer", index),
        })
    }

    /// The same weights in the layout of the CPU kernel (which computes the
    /// same pre-norm layer; `k_proj`'s missing bias is zero).
    fn to_cpu(&self, heads: usize, precision: Precision) -> candle_core::Result<CpuEncoderLayer> {
        let lin = |l: &Linear| -> candle_core::Result<LinearParams> {
            Ok(LinearParams {
                weight: l.weight().flatten_all()?.to_vec1()?,
                bias: match l.bias() {
                    Some(b) => b.to_vec1()?,
                    None => vec![0.0; l.weight().dim(0)?],
                },
            })
        };
        let ln = |l: &LayerNorm| -> candle_core::Result<(Vec<f32>, Vec<f32>)> {
            Ok((l.weight().to_vec1()?, l.bias().to_vec1()?))
        };
        Ok(CpuEncoderLayer::new(LayerParams {
            q: lin(&self.self_attn.q_proj)?,
            k: lin(&self.self_attn.k_proj)?,
            v: lin(&self.self_attn.v_proj)?,
            out: lin(&self.self_attn.out_proj)?,
            ln1: ln(&self.self_attn_layer_norm)?,
            ff1: lin(&self.ffn.fc1)?,
            ff2: lin(&self.ffn.fc2)?,
            ln2: ln(&self.final_layer_norm)?,
            heads,
            eps: LAYER_NORM_EPS as f32,
            stable: true,
            precision,
        }))
    }

    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let _enter = self.span.enter();
        let h = self
            .self_attn
            .forward_self(&self.self_attn_layer_norm.forward(x)?, None, None)?;
        let x = (x + h)?;
        let h = self.ffn.forward(&self.final_layer_norm.forward(&x)?)?;
        x + h
    }
}

/// `WhisperEncoder`: log-mel `[batch, n_mels, frames]` in, states `[batch, frames / 2, d_model]` out.
pub struct WhisperEncoder {
    conv1: (Tensor, Tensor),
    conv2: (Tensor, Tensor),
    embed_positions: Tensor,
    layers: Vec<EncoderLayer>,
    /// The layers packed for the CPU kernels ([`crate::cpu::transformer`]),
    /// used on the CPU; `None` on other devices or when turned off.
    cpu_layers: Option<Vec<CpuEncoderLayer>>,
    /// The convs and positions packed for the CPU kernels, alongside `cpu_layers`.
    cpu_front: Option<CpuConvFrontEnd>,
    /// Arithmetic of the CPU kernels' projections and feed-forward products.
    precision: Precision,
    heads: usize,
    layer_norm: LayerNorm,
    span: tracing::Span,
}

impl WhisperEncoder {
    /// Loads `model.encoder.*` from a view rooted there.
    pub fn load(cfg: &WhisperConfig, vb: &Vb<'_>) -> Result<Self, LoadError> {
        let d = cfg.d_model;
        let conv = |name: &str, in_dim: usize| -> Result<(Tensor, Tensor), LoadError> {
            let vb = vb.pp(name);
            Ok((vb.get(&[d, in_dim, 3], "weight")?, vb.get(&[d], "bias")?))
        };
        let layers = (0..cfg.encoder_layers)
            .map(|i| EncoderLayer::load(cfg, &vb.pp(format!("layers.{i}")), i))
            .collect::<Result<_, _>>()?;
        let mut encoder = Self {
            conv1: conv("conv1", cfg.num_mel_bins)?,
            conv2: conv("conv2", d)?,
            embed_positions: vb
                .pp("embed_positions")
                .get(&[cfg.max_source_positions, d], "weight")?,
            layers,
            cpu_layers: None,
            cpu_front: None,
            precision: Precision::F32,
            heads: cfg.encoder_attention_heads,
            layer_norm: layer_norm(&vb.pp("layer_norm"), d, LAYER_NORM_EPS)?,
            span: tracing::span!(tracing::Level::TRACE, "whisper-encoder"),
        };
        if vb.device().is_cpu() {
            encoder
                .set_cpu_kernels(true)
                .map_err(|e| vb.candle_err(e))?;
        }
        Ok(encoder)
    }

    /// Runs the transformer layers on the CPU kernels (`true`, the default
    /// on the CPU) or on candle ops (`false`; the only choice elsewhere).
    pub fn set_cpu_kernels(&mut self, enabled: bool) -> candle_core::Result<()> {
        if enabled && self.embed_positions.device().is_cpu() {
            self.cpu_layers = Some(
                self.layers
                    .iter()
                    .map(|l| l.to_cpu(self.heads, self.precision))
                    .collect::<candle_core::Result<_>>()?,
            );
            self.cpu_front = Some(CpuConvFrontEnd::new(
                &self.conv1,
                &self.conv2,
                &self.embed_positions,
                self.precision,
            )?);
        } else {
            self.cpu_layers = None;
            self.cpu_front = None;
        }
        Ok(())
    }

    /// The arithmetic of the CPU kernels' matrix products: f32 (the default),
    /// or bf16-rounded inputs with f32 sums where the CPU has AVX512-BF16
    /// ([`crate::cpu::bf16_available`]; elsewhere the weights stay f32).
    /// Attention products stay f32 either way. Turns the CPU kernels on.
    pub fn set_cpu_precision(&mut self, precision: Precision) -> candle_core::Result<()> {
        self.precision = precision;
        self.set_cpu_kernels(true)
    }

    /// Encodes log-mel features `[batch, n_mels, frames]` (3000 frames for a
    /// 30 s window; at most `2 × max_source_positions`).
    pub fn forward(&self, mel: &Tensor) -> candle_core::Result<Tensor> {
        let _enter = self.span.enter();
        let (batch, n_mels, frames) = mel.dims3()?;
        let positions = self.embed_positions.dim(0)?;
        let n = CpuConvFrontEnd::output_frames(frames);
        if n > positions {
            candle_core::bail!(
                "{frames} mel frames give {n} encoder positions, more than the model's {positions}"
            );
        }
        if let (Some(front), Some(cpu_layers)) = (&self.cpu_front, &self.cpu_layers) {
            if n_mels != self.conv1.0.dim(1)? {
                candle_core::bail!(
                    "{n_mels} mel bins, but the model takes {}",
                    self.conv1.0.dim(1)?
                );
            }
            let hidden = self.embed_positions.dim(1)?;
            let values = mel.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
            let mut data = Vec::with_capacity(batch * n * hidden);
            for item in values.chunks_exact(n_mels * frames) {
                data.extend(front.forward(item, frames));
            }
            for (layer, cpu_layer) in self.layers.iter().zip(cpu_layers) {
                // The kernel runs this layer's weights, so it runs in its span.
                let _enter = layer.span.enter();
                for item in data.chunks_exact_mut(n * hidden) {
                    cpu_layer.forward(item, n, n);
                }
            }
            let x = Tensor::from_vec(data, (batch, n, hidden), mel.device())?;
            return self.layer_norm.forward(&x);
        }
        let conv = |x: &Tensor, (w, b): &(Tensor, Tensor), stride| {
            x.conv1d(w, 1, stride, 1, 1)?
                .broadcast_add(&b.reshape((1, (), 1))?)?
                .gelu_erf()
        };
        let x = conv(mel, &self.conv1, 1)?;
        let x = conv(&x, &self.conv2, 2)?.transpose(1, 2)?;
        let mut x = x.broadcast_add(&self.embed_positions.narrow(0, 0, n)?)?;
        for layer in &self.layers {
            x = layer.forward(&x)?;
        }
        self.layer_norm.forward(&x)
    }
}

/// `WhisperDecoderLayer`.
struct DecoderLayer {
    self_attn: Attention,
    self_attn_layer_norm: LayerNorm,
    encoder_attn: Attention,
    encoder_attn_layer_norm: LayerNorm,
    ffn: FeedForward,
    final_layer_norm: LayerNorm,
    span: tracing::Span,
}

impl DecoderLayer {
    fn load(cfg: &WhisperConfig, vb: &Vb<'_>, index: usize) -> Result<Self, LoadError> {
        let d = cfg.d_model;
        let h = cfg.decoder_attention_heads;
        Ok(Self {
            self_attn: Attention::load(
                &vb.pp("self_attn"),
                d,
                h,
                tracing::span!(tracing::Level::TRACE, "whisper-self-attention"),
            )?,
            self_attn_layer_norm: layer_norm(&vb.pp("self_attn_layer_norm"), d, LAYER_NORM_EPS)?,
            encoder_attn: Attention::load(
                &vb.pp("encoder_attn"),
                d,
                h,
                tracing::span!(tracing::Level::TRACE, "whisper-cross-attention"),
            )?,
            encoder_attn_layer_norm: layer_norm(
                &vb.pp("encoder_attn_layer_norm"),
                d,
                LAYER_NORM_EPS,
            )?,
            ffn: FeedForward::load(vb, d, cfg.decoder_ffn_dim)?,
            final_layer_norm: layer_norm(&vb.pp("final_layer_norm"), d, LAYER_NORM_EPS)?,
            span: tracing::span!(tracing::Level::TRACE, "whisper-decoder-layer", index),
        })
    }

    /// Returns the new states and the cross-attention probabilities.
    fn forward(
        &self,
        x: &Tensor,
        mask: Option<&Tensor>,
        cache: &mut LayerCache,
    ) -> candle_core::Result<(Tensor, Tensor)> {
        let _enter = self.span.enter();
        let h = self.self_attn.forward_self(
            &self.self_attn_layer_norm.forward(x)?,
            mask,
            Some(&mut cache.self_kv),
        )?;
        let x = (x + h)?;
        let (h, probs) = self
            .encoder_attn
            .forward_cross(&self.encoder_attn_layer_norm.forward(&x)?, &cache.cross_kv)?;
        let x = (x + h)?;
        let h = self.ffn.forward(&self.final_layer_norm.forward(&x)?)?;
        Ok(((x + h)?, probs))
    }
}

/// One decoder layer's cache: its self-attention keys/values so far and the
/// cross-attention keys/values of the encoder states.
#[derive(Clone)]
struct LayerCache {
    self_kv: Option<(Tensor, Tensor)>,
    cross_kv: (Tensor, Tensor),
}

/// The decoder's state for one audio window: what the decoder has seen so
/// far. Clone it to branch (a fallback decode restarts from a fresh one).
#[derive(Clone)]
pub struct DecoderState {
    caches: Caches,
}

/// The caches of whichever path started the window.
#[derive(Clone)]
enum Caches {
    /// Candle ops (any device): per layer, and the tokens seen.
    Candle(Vec<LayerCache>, usize),
    /// The CPU decoder ([`super::cpu_decoder`]).
    Cpu(CpuState),
}

impl DecoderState {
    /// Tokens the decoder has seen.
    pub fn len(&self) -> usize {
        match &self.caches {
            Caches::Candle(_, offset) => *offset,
            Caches::Cpu(state) => state.len(),
        }
    }

    /// Whether no token has been decoded yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What one decoder step returns.
pub struct DecoderOutput {
    /// Next-token logits `[batch, tokens, vocab]`.
    pub logits: Tensor,
    /// Per decoder layer, the cross-attention probabilities `[batch, heads, tokens, frames]`
    /// (empty unless asked for).
    pub cross_attentions: Vec<Tensor>,
}

/// `WhisperDecoder` (with `proj_out`, which it shares with `WhisperForConditionalGeneration`).
pub struct WhisperDecoder {
    embed_tokens: Embedding,
    embed_positions: Tensor,
    layers: Vec<DecoderLayer>,
    layer_norm: LayerNorm,
    span: tracing::Span,
}

impl WhisperDecoder {
    /// Loads `model.decoder.*` from a view rooted there.
    pub fn load(cfg: &WhisperConfig, vb: &Vb<'_>) -> Result<Self, LoadError> {
        let d = cfg.d_model;
        let layers = (0..cfg.decoder_layers)
            .map(|i| DecoderLayer::load(cfg, &vb.pp(format!("layers.{i}")), i))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            embed_tokens: embedding(&vb.pp("embed_tokens"), cfg.vocab_size, d)?,
            embed_positions: vb
                .pp("embed_positions")
                .get(&[cfg.max_target_positions, d], "weight")?,
            layers,
            layer_norm: layer_norm(&vb.pp("layer_norm"), d, LAYER_NORM_EPS)?,
            span: tracing::span!(tracing::Level::TRACE, "whisper-decoder"),
        })
    }

    /// The same weights packed for the CPU decoder, with the output projection `proj_out`.
    fn to_cpu(&self, proj_out: &Tensor, heads: usize) -> candle_core::Result<CpuDecoder> {
        let layers: Vec<DecoderLayerParams<'_>> = self
            .layers
            .iter()
            .map(|l| DecoderLayerParams {
                self_attn_layer_norm: &l.self_attn_layer_norm,
                self_q: &l.self_attn.q_proj,
                self_k: &l.self_attn.k_proj,
                self_v: &l.self_attn.v_proj,
                self_out: &l.self_attn.out_proj,
                encoder_attn_layer_norm: &l.encoder_attn_layer_norm,
                cross_q: &l.encoder_attn.q_proj,
                cross_k: &l.encoder_attn.k_proj,
                cross_v: &l.encoder_attn.v_proj,
                cross_out: &l.encoder_attn.out_proj,
                final_layer_norm: &l.final_layer_norm,
                fc1: &l.ffn.fc1,
                fc2: &l.ffn.fc2,
                span: &l.span,
            })
            .collect();
        CpuDecoder::new(
            &layers,
            self.embed_tokens.embeddings(),
            &self.embed_positions,
            &self.layer_norm,
            proj_out,
            heads,
        )
    }

    /// A fresh state for `encoder_states` `[batch, frames, d_model]`: the
    /// cross-attention keys and values, computed once per window.
    pub fn start(&self, encoder_states: &Tensor) -> candle_core::Result<DecoderState> {
        let layers = self
            .layers
            .iter()
            .map(|l| {
                Ok(LayerCache {
                    self_kv: None,
                    cross_kv: l.encoder_attn.keys_values(encoder_states)?,
                })
            })
            .collect::<candle_core::Result<_>>()?;
        Ok(DecoderState {
            caches: Caches::Candle(layers, 0),
        })
    }

    /// The final hidden states of `ids` `[batch, tokens]`, appended to
    /// `state`; with `cross_attentions`, also each layer's cross-attention probabilities.
    fn forward(
        &self,
        ids: &Tensor,
        state: &mut DecoderState,
        cross_attentions: bool,
    ) -> candle_core::Result<(Tensor, Vec<Tensor>)> {
        let _enter = self.span.enter();
        let (_, n) = ids.dims2()?;
        let Caches::Candle(caches, offset) = &mut state.caches else {
            candle_core::bail!("this window was started on the CPU decoder, which is now off");
        };
        let past = *offset;
        if past + n > self.embed_positions.dim(0)? {
            candle_core::bail!(
                "{} tokens exceed the decoder's {} positions",
                past + n,
                self.embed_positions.dim(0)?
            );
        }
        let positions = self.embed_positions.narrow(0, past, n)?;
        let mut x = self.embed_tokens.forward(ids)?.broadcast_add(&positions)?;
        // Causal mask over [past + n] keys: token i sees keys 0..=past + i.
        let mask = if n > 1 {
            let values: Vec<f32> = (0..n)
                .flat_map(|i| {
                    (0..past + n).map(move |j| {
                        if j <= past + i {
                            0.0
                        } else {
                            f32::NEG_INFINITY
                        }
                    })
                })
                .collect();
            Some(Tensor::from_vec(values, (n, past + n), ids.device())?.to_dtype(x.dtype())?)
        } else {
            None
        };
        let mut attentions = Vec::new();
        for (layer, cache) in self.layers.iter().zip(caches.iter_mut()) {
            let (y, probs) = layer.forward(&x, mask.as_ref(), cache)?;
            x = y;
            if cross_attentions {
                attentions.push(probs);
            }
        }
        *offset += n;
        Ok((self.layer_norm.forward(&x)?, attentions))
    }
}

/// `WhisperModel`: the encoder and the decoder.
pub struct WhisperModel {
    /// `model.encoder`.
    pub encoder: WhisperEncoder,
    /// `model.decoder`.
    pub decoder: WhisperDecoder,
}

/// `WhisperForConditionalGeneration`: [`WhisperModel`] and the output projection.
pub struct WhisperForConditionalGeneration {
    /// `model`.
    pub model: WhisperModel,
    /// `proj_out.weight` `[vocab, d_model]` (the token embeddings when the checkpoint ties them).
    proj_out: Tensor,
    /// The decoder and `proj_out` packed for the CPU ([`super::cpu_decoder`]),
    /// used on the CPU; `None` on other devices or when turned off.
    cpu_decoder: Option<CpuDecoder>,
    config: WhisperConfig,
    span: tracing::Span,
}

impl WhisperForConditionalGeneration {
    /// Loads the whole model from a view rooted at the checkpoint's top level.
    pub fn load(cfg: &WhisperConfig, vb: &Vb<'_>) -> Result<Self, LoadError> {
        let model = WhisperModel {
            encoder: WhisperEncoder::load(cfg, &vb.pp("model").pp("encoder"))?,
            decoder: WhisperDecoder::load(cfg, &vb.pp("model").pp("decoder"))?,
        };
        let proj_out = if vb.pp("proj_out").contains("weight") {
            vb.pp("proj_out")
                .get(&[cfg.vocab_size, cfg.d_model], "weight")?
        } else {
            model.decoder.embed_tokens.embeddings().clone()
        };
        let mut whisper = Self {
            model,
            proj_out,
            cpu_decoder: None,
            config: cfg.clone(),
            span: tracing::span!(tracing::Level::TRACE, "whisper"),
        };
        if vb.device().is_cpu() {
            whisper
                .set_cpu_kernels(true)
                .map_err(|e| vb.candle_err(e))?;
        }
        Ok(whisper)
    }

    /// The hyper-parameters.
    pub fn config(&self) -> &WhisperConfig {
        &self.config
    }

    /// Runs the encoder layers (see [`WhisperEncoder::set_cpu_kernels`]) and
    /// the decoder ([`super::cpu_decoder`]) on the CPU kernels (`true`, the
    /// default on the CPU) or on candle ops (`false`; the only choice
    /// elsewhere). A window keeps the path it was started on
    /// ([`WhisperForConditionalGeneration::start`]).
    pub fn set_cpu_kernels(&mut self, enabled: bool) -> candle_core::Result<()> {
        self.model.encoder.set_cpu_kernels(enabled)?;
        self.cpu_decoder = if enabled && self.proj_out.device().is_cpu() {
            Some(
                self.model
                    .decoder
                    .to_cpu(&self.proj_out, self.config.decoder_attention_heads)?,
            )
        } else {
            None
        };
        Ok(())
    }

    /// The encoder's CPU arithmetic (see [`WhisperEncoder::set_cpu_precision`]).
    pub fn set_cpu_precision(&mut self, precision: Precision) -> candle_core::Result<()> {
        self.model.encoder.set_cpu_precision(precision)
    }

    /// Encodes log-mel features `[batch, n_mels, frames]`.
    pub fn encode(&self, mel: &Tensor) -> candle_core::Result<Tensor> {
        let _enter = self.span.enter();
        self.model.encoder.forward(mel)
    }

    /// A fresh decoder state for the encoder's output `[1, frames, d_model]`
    /// (any batch on candle ops).
    pub fn start(&self, encoder_states: &Tensor) -> candle_core::Result<DecoderState> {
        match &self.cpu_decoder {
            Some(cpu) => Ok(DecoderState {
                caches: Caches::Cpu(cpu.start(encoder_states)?),
            }),
            None => self.model.decoder.start(encoder_states),
        }
    }

    /// Runs the decoder over `ids` `[batch, tokens]` after what `state` has
    /// seen, returning the logits of every new position and, with
    /// `cross_attentions`, each layer's cross-attention probabilities.
    pub fn decode(
        &self,
        ids: &Tensor,
        state: &mut DecoderState,
        cross_attentions: bool,
    ) -> candle_core::Result<DecoderOutput> {
        let _enter = self.span.enter();
        if let Caches::Cpu(cpu_state) = &mut state.caches {
            let cpu = self.cpu_for_state()?;
            let _decoder = self.model.decoder.span.enter();
            let device = self.proj_out.device();
            let ids: Vec<u32> = ids.squeeze(0)?.to_vec1()?;
            let n = ids.len();
            let (h, attentions) = cpu.forward(&ids, cpu_state, cross_attentions)?;
            let frames = attentions.first().map_or(0, |a| {
                a.len() / n.max(1) / self.config.decoder_attention_heads
            });
            let heads = self.config.decoder_attention_heads;
            return Ok(DecoderOutput {
                logits: Tensor::from_vec(cpu.logits(&h, n), (1, n, cpu.vocab()), device)?,
                cross_attentions: attentions
                    .into_iter()
                    .map(|a| Tensor::from_vec(a, (1, heads, n, frames), device))
                    .collect::<candle_core::Result<_>>()?,
            });
        }
        let (h, attentions) = self.model.decoder.forward(ids, state, cross_attentions)?;
        let logits = h.broadcast_matmul(&self.proj_out.t()?)?;
        Ok(DecoderOutput {
            logits,
            cross_attentions: attentions,
        })
    }

    /// The CPU decoder, for a state it started.
    fn cpu_for_state(&self) -> candle_core::Result<&CpuDecoder> {
        self.cpu_decoder.as_ref().ok_or_else(|| {
            candle_core::Error::Msg(
                "this window was started on the CPU decoder, which is now off".into(),
            )
        })
    }

    /// The logits of the last position only, as f32 values (the decoding loop's step).
    pub fn next_logits(
        &self,
        ids: &[u32],
        state: &mut DecoderState,
    ) -> candle_core::Result<Vec<f32>> {
        if ids.is_empty() {
            candle_core::bail!("no tokens to decode");
        }
        if let Caches::Cpu(cpu_state) = &mut state.caches {
            let cpu = self.cpu_for_state()?;
            let _decoder = self.model.decoder.span.enter();
            let d = self.config.d_model;
            let (h, _) = cpu.forward(ids, cpu_state, false)?;
            return Ok(cpu.logits(&h[h.len() - d..], 1));
        }
        let device = self.proj_out.device();
        let t = Tensor::new(ids, device)?.unsqueeze(0)?;
        let (h, _) = self.model.decoder.forward(&t, state, false)?;
        let last = h.narrow(1, ids.len() - 1, 1)?.squeeze(1)?;
        last.matmul(&self.proj_out.t()?)?
            .squeeze(0)?
            .to_dtype(DType::F32)?
            .to_vec1()
    }

    /// The logits of every position of `ids` (used for the no-speech
    /// probability at the start-of-transcript position).
    pub fn all_logits(&self, ids: &[u32], state: &mut DecoderState) -> candle_core::Result<Tensor> {
        let device = self.proj_out.device();
        let t = Tensor::new(ids, device)?.unsqueeze(0)?;
        let out = self.decode(&t, state, false)?;
        out.logits.squeeze(0)?.to_dtype(DType::F32)
    }
}

/// The log-softmax of one row of logits (sums in f64).
pub(crate) fn log_softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f64 = logits.iter().map(|&l| f64::from(l - max).exp()).sum();
    let lse = max + sum.ln() as f32;
    logits.iter().map(|&l| l - lse).collect()
}
