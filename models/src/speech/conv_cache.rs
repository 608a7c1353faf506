//! Re-using conv features across overlapping streaming windows.
//!
//! The streaming engine analyses a 4 s window every 1 s, so three quarters
//! of each window were already seen. A conv frame depends only on its
//! receptive field (400 samples for the HuBERT / wav2vec2 stack) **when
//! nothing normalises across frames or samples**: the conv stack uses
//! LayerNorm per frame (`feat_extract_norm = "layer"`) and the preprocessor
//! does not normalise the window (`do_normalize = false`). Then the frames of
//! the overlap are exactly the previous window's frames shifted, and only
//! the frames of the new hop need the convs; the feature projection and the
//! transformer still see the whole window.
//!
//! DistilHuBERT and HuBERT-base normalise the first conv with a GroupNorm
//! over the whole window, and the large models normalise the input, so for
//! them every frame changes when the window moves: [`SslEncoder::encode_cached`]
//! then computes the whole window, exactly as [`SslEncoder::encode`].

use candle_core::Tensor;

use super::config::FeatExtractNorm;
use super::model::{EncoderOutput, SslEncoder};
use crate::error::RunError;

/// The previous window's samples and conv features, owned by whoever
/// streams windows through one encoder (the engine's predictor).
#[derive(Debug, Default)]
pub struct ConvFeatureCache {
    /// Samples of the last window (prepared input; only kept when the
    /// encoder's conv features are local).
    samples: Vec<f32>,
    /// Its conv features `[1, frames, conv_dim[-1]]`.
    features: Option<Tensor>,
    /// Windows whose overlap came from the cache, for the status line and tests.
    hits: u64,
    /// Windows computed in full.
    misses: u64,
}

impl ConvFeatureCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets the last window, so the next one is computed in full (a new
    /// run of audio is detected without it: its samples do not continue the
    /// last window).
    pub fn clear(&mut self) {
        self.samples.clear();
        self.features = None;
    }

    /// Windows that re-used cached frames.
    pub fn hits(&self) -> u64 {
        self.hits
    }

    /// Windows computed in full (first of a run, not overlapping, or an
    /// encoder whose conv features are not local).
    pub fn misses(&self) -> u64 {
        self.misses
    }

    /// The shift, in whole conv frames, that maps the last window onto
    /// `samples`: `samples[..n - d]` equals the last window's `[d..]`
    /// for `d = frames * stride`, with at least one frame left to re-use.
    fn shift_frames(&self, samples: &[f32], stride: usize, field: usize) -> Option<usize> {
        let n = samples.len();
        if self.features.is_none() || self.samples.len() != n || n < field + stride {
            return None;
        }
        // Same-length windows: the smallest shift whose overlap matches
        // bit for bit (most candidates fail on the first sample).
        (1..=(n - field) / stride).find(|&k| {
            let d = k * stride;
            bits_equal(&samples[..n - d], &self.samples[d..])
        })
    }
}

/// Exact equality, NaN-safe and without treating -0.0 as 0.0.
fn bits_equal(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

impl SslEncoder {
    /// Whether each conv frame depends on its receptive field alone, which
    /// is when [`Self::encode_cached`] can re-use frames.
    pub fn conv_features_are_local(&self) -> bool {
        self.config().feat_extract_norm == FeatExtractNorm::Layer
            && !self.preprocessor().do_normalize
    }

    /// [`Self::encode`] for consecutive overlapping windows of a stream: when
    /// `samples` continues the last window by a whole number of conv frames
    /// and the conv features are local, only the new frames go through the
    /// conv stack. The result equals [`Self::encode`] up to float rounding
    /// in the conv kernels (the tests bound it by 1e-4).
    pub fn encode_cached(
        &self,
        samples: &[f32],
        cache: &mut ConvFeatureCache,
    ) -> Result<EncoderOutput, RunError> {
        if !self.conv_features_are_local() {
            cache.clear();
            cache.misses += 1;
            return self.encode(samples);
        }
        let cfg = self.config();
        let stride: usize = cfg.conv_stride.iter().product();
        let field = cfg.receptive_field();
        let input = |x: &[f32]| Tensor::from_slice(x, (1, x.len()), self.device());
        let features = match (cache.shift_frames(samples, stride, field), &cache.features) {
            (Some(k), Some(old)) => {
                let frames = old.dim(1)?;
                // The last k frames start at sample (frames - k) * stride.
                let first = (frames - k) * stride;
                let (new, _) = self.extract_features(&input(&samples[first..])?, None)?;
                cache.hits += 1;
                Tensor::cat(&[&old.narrow(1, k, frames - k)?, &new], 1)?
            }
            _ => {
                cache.misses += 1;
                self.extract_features(&input(samples)?, None)?.0
            }
        };
        cache.samples.clear();
        cache.samples.extend_from_slice(samples);
        cache.features = Some(features.clone());
        let frames = features.dim(1)?;
        self.forward_features(&features, &[frames])
    }
}
