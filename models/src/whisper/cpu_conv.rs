//! The encoder's two convolutions on the CPU (`conv1`, `conv2`: kernel 3,
//! padding 1, strides 1 and 2, each followed by GELU) and the positional
//! embeddings, from the log-mel features to the first layer's input.
//!
//! Activations are time-major (`[frames, channels]`), with one zero frame
//! before and after: output frame `t` of a kernel-3 conv with stride `s`
//! reads input rows `t*s .. t*s+3`, which are `3 * channels` consecutive
//! floats, so the im2col matrix is the padded input itself read with row
//! stride `s * channels`, and each conv is one GEMM against the weight
//! repacked as `[3 * in, out]` ([`crate::cpu::matrix::Weight`], f32 or bf16
//! products like the layers), as `crate::cpu::conv` does for the speech
//! encoders. Bias and GELU follow in one pass over each output row. The
//! result is what the layers' kernels take, so no transpose or copy sits
//! between the front end and the first layer.

use candle_core::{DType, Tensor};
use rayon::prelude::*;

use crate::cpu::matrix::{Precision, Weight};
use crate::cpu::{give_buffer, simd, take_buffer};

/// Rows per parallel task of the bias + GELU pass.
const ROWS: usize = 16;

/// One conv: `[3 * in, out]` weight and `[out]` bias.
struct Conv {
    weight: Weight,
    bias: Vec<f32>,
    out: usize,
}

impl Conv {
    /// From PyTorch's `[out, in, 3]` weight and `[out]` bias.
    fn new(w: &Tensor, b: &Tensor, precision: Precision) -> candle_core::Result<Self> {
        let (out, inp, k) = w.dims3()?;
        if k != 3 {
            candle_core::bail!("Whisper's convs have kernel 3, not {k}");
        }
        let w: Vec<f32> = w.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?;
        // b[(j * in + c) * out + o] = w[o, c, j]: tap j of input channel c.
        let mut packed = vec![0f32; 3 * inp * out];
        for o in 0..out {
            for c in 0..inp {
                for j in 0..3 {
                    packed[(j * inp + c) * out + o] = w[(o * inp + c) * 3 + j];
                }
            }
        }
        Ok(Self {
            weight: Weight::new(packed, 3 * inp, out, precision),
            bias: b.to_dtype(DType::F32)?.to_vec1()?,
            out,
        })
    }

    /// `m` output frames from `x` (padded, time-major), input rows `stride`
    /// apart, into `dst` (`[m, out]`), then bias and GELU.
    fn forward(&self, m: usize, x: &[f32], stride: usize, dst: &mut [f32]) {
        let inp = self.weight.k() / 3;
        self.weight.matmul(m, x, stride * inp, dst, self.out, false);
        dst[..m * self.out]
            .par_chunks_mut(ROWS * self.out)
            .for_each(|rows| {
                rows.chunks_exact_mut(self.out)
                    .for_each(|r| simd::bias_gelu_row(r, &self.bias))
            });
    }
}

/// `conv1`, `conv2` and `embed_positions`, packed for the CPU.
pub(crate) struct CpuConvFrontEnd {
    conv1: Conv,
    conv2: Conv,
    /// `[max_source_positions, d_model]`.
    positions: Vec<f32>,
    n_mels: usize,
    d: usize,
}

impl CpuConvFrontEnd {
    pub(crate) fn new(
        conv1: &(Tensor, Tensor),
        conv2: &(Tensor, Tensor),
        embed_positions: &Tensor,
        precision: Precision,
    ) -> candle_core::Result<Self> {
        let conv1 = Conv::new(&conv1.0, &conv1.1, precision)?;
        let conv2 = Conv::new(&conv2.0, &conv2.1, precision)?;
        let n_mels = conv1.weight.k() / 3;
        let d = conv2.out;
        Ok(Self {
            conv1,
            conv2,
            positions: embed_positions
                .to_dtype(DType::F32)?
                .flatten_all()?
                .to_vec1()?,
            n_mels,
            d,
        })
    }

    /// Encoder positions for `frames` mel frames (`conv2`'s stride halves them).
    pub(crate) fn output_frames(frames: usize) -> usize {
        (frames.max(1) - 1) / 2 + 1
    }

    /// One item's features `[n_mels, frames]` (mel bin after mel bin) to
    /// `[output_frames, d_model]`: `gelu(conv2(gelu(conv1(x))))` plus the
    /// positional embeddings. `frames` must leave at most as many positions
    /// as the model has.
    pub(crate) fn forward(&self, mel: &[f32], frames: usize) -> Vec<f32> {
        let (n, d) = (self.n_mels, self.d);
        assert_eq!(mel.len(), n * frames, "features are [n_mels, frames]");
        let out = Self::output_frames(frames);
        assert!(
            out * d <= self.positions.len(),
            "more frames than positions"
        );
        // [frames + 2, n_mels], zero first and last rows.
        let mut x = take_buffer((frames + 2) * n);
        x[..n].fill(0.0);
        x[(frames + 1) * n..].fill(0.0);
        for (c, row) in mel.chunks_exact(frames).enumerate() {
            for (t, &v) in row.iter().enumerate() {
                x[(t + 1) * n + c] = v;
            }
        }
        // conv1 into rows 1..=frames of a padded [frames + 2, d] buffer.
        let mut h = take_buffer((frames + 2) * d);
        h[..d].fill(0.0);
        h[(frames + 1) * d..].fill(0.0);
        self.conv1
            .forward(frames, &x, 1, &mut h[d..(frames + 1) * d]);
        give_buffer(x);
        let mut y = vec![0f32; out * d];
        self.conv2.forward(out, &h, 2, &mut y);
        give_buffer(h);
        y.par_chunks_mut(ROWS * d)
            .zip(self.positions[..out * d].par_chunks(ROWS * d))
            .for_each(|(a, p)| a.iter_mut().zip(p).for_each(|(a, p)| *a += p));
        y
    }
}
