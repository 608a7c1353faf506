//! Time-major convolutions on the CPU: the conv feature extractor stack and
//! the grouped positional conv.
//!
//! With activations stored `[frames, channels]`, output frame `t` of a conv
//! with kernel `k` and stride `s` reads input rows `t*s .. t*s+k`, which are
//! `k * channels` consecutive floats. The im2col matrix is therefore the input
//! itself read with row stride `s * channels`, and the conv is a single GEMM
//! against the weight repacked as `[k * in, out]`, with no copy at all.

use rayon::prelude::*;

use super::matrix::{Precision, Weight};
use super::simd;
use super::{sgemm, threads, SendPtr};

/// Normalisation after a conv layer, with its affine parameters.
#[derive(Debug, Clone)]
pub enum ConvNorm {
    /// No normalisation.
    None,
    /// GroupNorm with one group per channel (statistics over time), weight and bias.
    Group(Vec<f32>, Vec<f32>),
    /// LayerNorm over channels (statistics per frame), weight and bias.
    Layer(Vec<f32>, Vec<f32>),
}

/// One conv layer's weights as loaded (PyTorch layout `[out, in, kernel]`).
#[derive(Debug, Clone)]
pub struct ConvLayerWeights {
    /// `[out, in, kernel]`, row-major.
    pub weight: Vec<f32>,
    /// `[out]`, when the conv has a bias.
    pub bias: Option<Vec<f32>>,
    /// Input channels.
    pub in_dim: usize,
    /// Output channels.
    pub out_dim: usize,
    /// Kernel width.
    pub kernel: usize,
    /// Stride.
    pub stride: usize,
    /// Normalisation after the conv (GELU always follows).
    pub norm: ConvNorm,
}

/// A conv layer with its weight packed `[kernel * in, out]` for the GEMM.
struct PackedConv {
    /// `[kernel * in, out]` row-major: read directly by the single-input kernel.
    packed: Vec<f32>,
    /// The same matrix for the GEMM (layers with more than one input channel).
    weight: Option<Weight>,
    bias: Vec<f32>,
    in_dim: usize,
    out_dim: usize,
    kernel: usize,
    stride: usize,
    norm: ConvNorm,
}

/// The conv feature extractor: conv -> (norm) -> GELU, layer after layer.
pub struct ConvStack {
    layers: Vec<PackedConv>,
    /// Reused activation buffers (see [`ConvStack::forward`]); a lock only
    /// because the model is `Sync`, never contended in practice.
    scratch: std::sync::Mutex<(Vec<f32>, Vec<f32>)>,
}

/// Epsilon of PyTorch's `nn.GroupNorm` / `nn.LayerNorm` defaults, used by the conv stack.
const NORM_EPS: f32 = 1e-5;

/// Rows per parallel chunk of the element-wise passes (large enough to amortise scheduling).
const ROWS_PER_TASK: usize = 64;

impl ConvStack {
    /// Packs the weights of every layer for products at `precision`.
    pub fn new(layers: Vec<ConvLayerWeights>, precision: Precision) -> Self {
        let layers = layers
            .into_iter()
            .map(|l| {
                let (o_n, i_n, k_n) = (l.out_dim, l.in_dim, l.kernel);
                let mut packed = vec![0f32; k_n * i_n * o_n];
                for o in 0..o_n {
                    for c in 0..i_n {
                        for j in 0..k_n {
                            packed[(j * i_n + c) * o_n + o] = l.weight[(o * i_n + c) * k_n + j];
                        }
                    }
                }
                let weight =
                    (i_n > 1).then(|| Weight::new(packed.clone(), k_n * i_n, o_n, precision));
                PackedConv {
                    packed,
                    weight,
                    bias: l.bias.unwrap_or_default(),
                    in_dim: i_n,
                    out_dim: o_n,
                    kernel: k_n,
                    stride: l.stride,
                    norm: l.norm,
                }
            })
            .collect();
        Self {
            layers,
            scratch: Default::default(),
        }
    }

    /// Frames produced for `samples` input samples (0 when too short).
    pub fn output_frames(&self, samples: usize) -> usize {
        self.layers.iter().fold(samples, |len, l| {
            if len < l.kernel {
                0
            } else {
                (len - l.kernel) / l.stride + 1
            }
        })
    }

    /// Channels of the last layer.
    pub fn output_channels(&self) -> usize {
        self.layers.last().map_or(0, |l| l.out_dim)
    }

    /// Runs the stack on one utterance; returns `[frames, channels]` row-major.
    pub fn forward(&self, samples: &[f32]) -> Vec<f32> {
        // Two ping-pong buffers kept between calls: fresh 64 MB allocations
        // per call cost page faults and zeroing comparable to a conv layer.
        let (mut x, mut y) = self
            .scratch
            .lock()
            .map(|mut s| std::mem::take(&mut *s))
            .unwrap_or_default();
        let mut len = samples.len();
        let mut channels = 1;
        for (i, layer) in self.layers.iter().enumerate() {
            if len < layer.kernel {
                return Vec::new();
            }
            let input: &[f32] = if i == 0 {
                samples
            } else {
                &x[..len * layer.in_dim]
            };
            let frames = (len - layer.kernel) / layer.stride + 1;
            let n = frames * layer.out_dim;
            if y.len() < n {
                y.resize(n, 0.0);
            }
            let out = &mut y[..n];
            match &layer.weight {
                // The im2col matrix is `input` itself read with row stride `stride * in`.
                Some(w) => w.matmul(
                    frames,
                    input,
                    layer.stride * layer.in_dim,
                    out,
                    layer.out_dim,
                    false,
                ),
                None => layer.forward_single_input(input, out),
            }
            layer.post(out);
            std::mem::swap(&mut x, &mut y);
            len = frames;
            channels = layer.out_dim;
        }
        let result = x[..len * channels].to_vec();
        if let Ok(mut s) = self.scratch.lock() {
            *s = (x, y);
        }
        result
    }
}

impl PackedConv {
    /// The first conv (one input channel): direct kernel, rows in parallel.
    /// `packed` is `[kernel, out]` here, the layout [`simd::conv_single_input`] reads.
    fn forward_single_input(&self, x: &[f32], y: &mut [f32]) {
        let c = self.out_dim;
        y.par_chunks_mut(ROWS_PER_TASK * c)
            .enumerate()
            .for_each(|(i, rows)| {
                let t0 = i * ROWS_PER_TASK;
                let t1 = t0 + rows.len() / c;
                let xs = &x[t0 * self.stride..(t1 - 1) * self.stride + self.kernel];
                simd::conv_single_input(xs, &self.packed, self.kernel, self.stride, rows);
            });
    }

    /// Bias, normalisation and GELU over the GEMM output `[frames, out]`, in one pass
    /// (two for GroupNorm, which needs statistics over all frames first).
    fn post(&self, y: &mut [f32]) {
        let c = self.out_dim;
        let chunk = ROWS_PER_TASK * c;
        match &self.norm {
            ConvNorm::None => y.par_chunks_mut(chunk).for_each(|rows| {
                rows.chunks_exact_mut(c)
                    .for_each(|r| simd::bias_gelu_row(r, &self.bias))
            }),
            ConvNorm::Layer(w, b) => y.par_chunks_mut(chunk).for_each(|rows| {
                rows.chunks_exact_mut(c)
                    .for_each(|r| simd::bias_layer_norm_gelu_row(r, &self.bias, w, b, NORM_EPS))
            }),
            ConvNorm::Group(w, b) => {
                if !self.bias.is_empty() {
                    y.par_chunks_mut(chunk)
                        .for_each(|rows| simd::add_bias_rows(rows, &self.bias));
                }
                let frames = (y.len() / c).max(1) as f64;
                let (sum, sum_sq) = y
                    .par_chunks(chunk * 16)
                    .map(|rows| {
                        let (mut s, mut q) = (vec![0f64; c], vec![0f64; c]);
                        simd::column_moments(rows, &mut s, &mut q);
                        (s, q)
                    })
                    .reduce(
                        || (vec![0f64; c], vec![0f64; c]),
                        |(a, b), (x, y)| (add_vecs(a, x), add_vecs(b, y)),
                    );
                let mean: Vec<f64> = sum.iter().map(|&s| s / frames).collect();
                let var: Vec<f64> = sum_sq
                    .iter()
                    .zip(&mean)
                    .map(|(&q, &m)| (q / frames - m * m).max(0.0))
                    .collect();
                // y = (x - mean) * rstd * w + b = x * scale + shift.
                let scale: Vec<f32> = var
                    .iter()
                    .zip(w)
                    .map(|(&v, &g)| (g as f64 / (v + NORM_EPS as f64).sqrt()) as f32)
                    .collect();
                let shift: Vec<f32> = mean
                    .iter()
                    .zip(&scale)
                    .zip(b)
                    .map(|((&m, &a), &bb)| (bb as f64 - m * a as f64) as f32)
                    .collect();
                y.par_chunks_mut(chunk)
                    .for_each(|rows| simd::scale_shift_gelu(rows, &scale, &shift));
            }
        }
    }
}

fn add_vecs(mut a: Vec<f64>, b: Vec<f64>) -> Vec<f64> {
    a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
    a
}

/// A grouped stride-1 conv with "same" padding `kernel / 2`, followed by GELU:
/// the positional conv embedding.
pub struct GroupedConv {
    /// Per group `[kernel * group_dim, group_dim]`, concatenated.
    packed: Vec<f32>,
    bias: Vec<f32>,
    channels: usize,
    groups: usize,
    kernel: usize,
}

impl GroupedConv {
    /// Packs a PyTorch grouped conv weight `[channels, channels / groups, kernel]`.
    pub fn new(
        weight: &[f32],
        bias: Vec<f32>,
        channels: usize,
        groups: usize,
        kernel: usize,
    ) -> Self {
        let cg = channels / groups;
        let mut packed = vec![0f32; groups * kernel * cg * cg];
        for g in 0..groups {
            let base = g * kernel * cg * cg;
            for o in 0..cg {
                for c in 0..cg {
                    for j in 0..kernel {
                        packed[base + (j * cg + c) * cg + o] =
                            weight[((g * cg + o) * cg + c) * kernel + j];
                    }
                }
            }
        }
        Self {
            packed,
            bias,
            channels,
            groups,
            kernel,
        }
    }

    /// `dst[frames, channels] = gelu(conv(src) + bias)` keeping the first
    /// `frames` outputs (which drops the extra frame of an even kernel).
    pub fn forward_same_gelu(&self, src: &[f32], frames: usize, dst: &mut [f32]) {
        let (c, cg, k) = (self.channels, self.channels / self.groups, self.kernel);
        let pad = k / 2;
        let padded_len = frames + k;
        let out = SendPtr(dst.as_mut_ptr());
        let threads_inside = if self.groups >= threads() {
            1
        } else {
            threads()
        };
        (0..self.groups).into_par_iter().for_each(|g| {
            // This group's channels, contiguous and zero-padded in time, so the
            // im2col rows are consecutive: row t starts at t * cg.
            let mut xg = vec![0f32; padded_len * cg];
            for t in 0..frames {
                xg[(t + pad) * cg..(t + pad + 1) * cg]
                    .copy_from_slice(&src[t * c + g * cg..t * c + (g + 1) * cg]);
            }
            let w = &self.packed[g * k * cg * cg..(g + 1) * k * cg * cg];
            // SAFETY: `xg` holds `(frames + k) * cg` floats and the last row read
            // spans `(frames - 1) * cg .. (frames - 1 + k) * cg`; `w` is
            // `[k * cg, cg]`; the destination block starts at column `g * cg` of
            // `dst` (`frames * c` floats, row stride `c`), disjoint across groups.
            unsafe {
                sgemm(
                    frames,
                    cg,
                    k * cg,
                    out.get().add(g * cg),
                    c as isize,
                    xg.as_ptr(),
                    cg as isize,
                    w.as_ptr(),
                    cg as isize,
                    false,
                    threads_inside,
                );
            }
        });
        dst.par_chunks_mut(ROWS_PER_TASK * c).for_each(|rows| {
            rows.chunks_exact_mut(c)
                .for_each(|r| simd::bias_gelu_row(r, &self.bias))
        });
    }
}
