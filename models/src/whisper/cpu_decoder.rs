//! Whisper's decoder and output projection on the CPU, for decoding: a few
//! tokens per call (one per greedy step; the prompt, or a window's text for
//! word timing, at once).
//!
//! A step feeds one token, so every weight of the decoder and the
//! `[vocab, d_model]` output projection is read to produce a handful of
//! numbers: the step is bound by memory bandwidth, not arithmetic (tiny's
//! projection alone is 80 MB in f32). So this path
//!
//! - keeps a matrix in f16 when every value of it is an f16 value (a
//!   CTranslate2 float16 checkpoint: the f32 the loader restores are exactly
//!   those), halving what a step reads; products and sums stay f32, so
//!   results are the f32 ones up to the order of summation;
//! - multiplies by `W^T` as dot products with `W`'s rows, each row read once
//!   for all the tokens of the call, rows split across rayon's pool;
//! - attends per (token, head) over the self-attention cache (`[positions,
//!   d_model]`) and over the encoder's keys and values, which [`CpuDecoder::start`]
//!   computes once per window and stores per head, transposed (`[heads,
//!   head_dim, frames]`), so a query's scores and its context are runs of
//!   contiguous multiply-adds over the frames.
//!
//! The arithmetic is that of the candle layers in `model.rs` (transformers'
//! `WhisperDecoder`), which other devices run; `model.rs`'s tests compare the
//! two.

use std::sync::Arc;

use candle_core::{DType, Module, Tensor};
use rayon::prelude::*;

use super::config::LAYER_NORM_EPS;
use crate::cpu::simd;
use crate::nn::LayerNorm;

/// Matrix rows per parallel task.
const ROW_BLOCK: usize = 64;

/// Multiply-adds below which work is not split across threads: waking a
/// worker costs more than a small product (a step's 384 × 384 ones).
const MIN_TASK_WORK: usize = 1 << 18;

/// How many of `tasks` of `work` multiply-adds each one parallel job takes.
fn min_tasks(work: usize) -> usize {
    MIN_TASK_WORK.div_ceil(work.max(1))
}

/// The widest vector instructions of this CPU that the kernels use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Isa {
    /// AVX-512F with F16C and FMA.
    Avx512,
    /// AVX2 with F16C and FMA.
    Avx2,
    /// Plain Rust.
    Portable,
}

impl Isa {
    fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected as has;
            if has!("fma") && has!("f16c") {
                if has!("avx512f") {
                    return Self::Avx512;
                }
                if has!("avx2") {
                    return Self::Avx2;
                }
            }
        }
        Self::Portable
    }
}

/// `a · b` (equal lengths).
fn dot(isa: Isa, a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    match isa {
        // SAFETY: the instruction sets were detected on this CPU (`Isa::detect`).
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { x86::dot_avx512(a, b) },
        // SAFETY: as above.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { x86::dot_avx2(a, b) },
        _ => a.iter().zip(b).map(|(x, y)| x * y).sum(),
    }
}

/// `a · b` with `b` as f16 bits (equal lengths), in f32.
fn dot_f16(isa: Isa, a: &[f32], b: &[u16]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    match isa {
        // SAFETY: the instruction sets were detected on this CPU (`Isa::detect`).
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { x86::dot_f16_avx512(a, b) },
        // SAFETY: as above.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { x86::dot_f16_avx2(a, b) },
        _ => a
            .iter()
            .zip(b)
            .map(|(x, &y)| x * half::f16::from_bits(y).to_f32())
            .sum(),
    }
}

/// `y += alpha * x` (equal lengths).
fn axpy(isa: Isa, alpha: f32, x: &[f32], y: &mut [f32]) {
    debug_assert_eq!(x.len(), y.len());
    match isa {
        // SAFETY: the instruction sets were detected on this CPU (`Isa::detect`).
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { x86::axpy_avx512(alpha, x, y) },
        // SAFETY: as above.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { x86::axpy_avx2(alpha, x, y) },
        _ => y.iter_mut().zip(x).for_each(|(y, x)| *y += alpha * x),
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    //! The kernels with intrinsics: four independent accumulators of one
    //! register each, then the tail one element at a time.
    use std::arch::x86_64::*;

    #[target_feature(enable = "avx512f,fma")]
    pub(super) unsafe fn dot_avx512(a: &[f32], b: &[f32]) -> f32 {
        let n = a.len().min(b.len());
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let mut acc = [_mm512_setzero_ps(); 4];
        let mut i = 0;
        // SAFETY: every load reads 16 floats below n.
        unsafe {
            while i + 64 <= n {
                for (j, s) in acc.iter_mut().enumerate() {
                    let o = i + 16 * j;
                    *s =
                        _mm512_fmadd_ps(_mm512_loadu_ps(pa.add(o)), _mm512_loadu_ps(pb.add(o)), *s);
                }
                i += 64;
            }
            while i + 16 <= n {
                acc[0] = _mm512_fmadd_ps(
                    _mm512_loadu_ps(pa.add(i)),
                    _mm512_loadu_ps(pb.add(i)),
                    acc[0],
                );
                i += 16;
            }
        }
        let s = _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3]));
        let mut total = _mm512_reduce_add_ps(s);
        for k in i..n {
            total += a[k] * b[k];
        }
        total
    }

    #[target_feature(enable = "avx512f,f16c,fma")]
    pub(super) unsafe fn dot_f16_avx512(a: &[f32], b: &[u16]) -> f32 {
        let n = a.len().min(b.len());
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let mut acc = [_mm512_setzero_ps(); 4];
        let mut i = 0;
        // SAFETY: every load reads 16 elements below n.
        unsafe {
            while i + 64 <= n {
                for (j, s) in acc.iter_mut().enumerate() {
                    let o = i + 16 * j;
                    let w = _mm512_cvtph_ps(_mm256_loadu_si256(pb.add(o) as *const __m256i));
                    *s = _mm512_fmadd_ps(_mm512_loadu_ps(pa.add(o)), w, *s);
                }
                i += 64;
            }
            while i + 16 <= n {
                let w = _mm512_cvtph_ps(_mm256_loadu_si256(pb.add(i) as *const __m256i));
                acc[0] = _mm512_fmadd_ps(_mm512_loadu_ps(pa.add(i)), w, acc[0]);
                i += 16;
            }
        }
        let s = _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3]));
        let mut total = _mm512_reduce_add_ps(s);
        for k in i..n {
            total += a[k] * half::f16::from_bits(b[k]).to_f32();
        }
        total
    }

    #[target_feature(enable = "avx512f,fma")]
    pub(super) unsafe fn axpy_avx512(alpha: f32, x: &[f32], y: &mut [f32]) {
        let n = x.len().min(y.len());
        let (px, py) = (x.as_ptr(), y.as_mut_ptr());
        let a = _mm512_set1_ps(alpha);
        let mut i = 0;
        // SAFETY: every access covers 16 floats below n.
        unsafe {
            while i + 16 <= n {
                let v = _mm512_fmadd_ps(a, _mm512_loadu_ps(px.add(i)), _mm512_loadu_ps(py.add(i)));
                _mm512_storeu_ps(py.add(i), v);
                i += 16;
            }
        }
        for k in i..n {
            y[k] += alpha * x[k];
        }
    }

    /// Horizontal sum of a 256-bit register.
    #[target_feature(enable = "avx2")]
    unsafe fn sum256(v: __m256) -> f32 {
        let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        let s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
        _mm_cvtss_f32(s)
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn dot_avx2(a: &[f32], b: &[f32]) -> f32 {
        let n = a.len().min(b.len());
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let mut acc = [_mm256_setzero_ps(); 4];
        let mut i = 0;
        // SAFETY: every load reads 8 floats below n.
        unsafe {
            while i + 32 <= n {
                for (j, s) in acc.iter_mut().enumerate() {
                    let o = i + 8 * j;
                    *s =
                        _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(o)), _mm256_loadu_ps(pb.add(o)), *s);
                }
                i += 32;
            }
            while i + 8 <= n {
                acc[0] = _mm256_fmadd_ps(
                    _mm256_loadu_ps(pa.add(i)),
                    _mm256_loadu_ps(pb.add(i)),
                    acc[0],
                );
                i += 8;
            }
        }
        let s = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
        // SAFETY: avx2 is enabled here.
        let mut total = unsafe { sum256(s) };
        for k in i..n {
            total += a[k] * b[k];
        }
        total
    }

    #[target_feature(enable = "avx2,f16c,fma")]
    pub(super) unsafe fn dot_f16_avx2(a: &[f32], b: &[u16]) -> f32 {
        let n = a.len().min(b.len());
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let mut acc = [_mm256_setzero_ps(); 4];
        let mut i = 0;
        // SAFETY: every load reads 8 elements below n.
        unsafe {
            while i + 32 <= n {
                for (j, s) in acc.iter_mut().enumerate() {
                    let o = i + 8 * j;
                    let w = _mm256_cvtph_ps(_mm_loadu_si128(pb.add(o) as *const __m128i));
                    *s = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(o)), w, *s);
                }
                i += 32;
            }
            while i + 8 <= n {
                let w = _mm256_cvtph_ps(_mm_loadu_si128(pb.add(i) as *const __m128i));
                acc[0] = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i)), w, acc[0]);
                i += 8;
            }
        }
        let s = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
        // SAFETY: avx2 is enabled here.
        let mut total = unsafe { sum256(s) };
        for k in i..n {
            total += a[k] * half::f16::from_bits(b[k]).to_f32();
        }
        total
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn axpy_avx2(alpha: f32, x: &[f32], y: &mut [f32]) {
        let n = x.len().min(y.len());
        let (px, py) = (x.as_ptr(), y.as_mut_ptr());
        let a = _mm256_set1_ps(alpha);
        let mut i = 0;
        // SAFETY: every access covers 8 floats below n.
        unsafe {
            while i + 8 <= n {
                let v = _mm256_fmadd_ps(a, _mm256_loadu_ps(px.add(i)), _mm256_loadu_ps(py.add(i)));
                _mm256_storeu_ps(py.add(i), v);
                i += 8;
            }
        }
        for k in i..n {
            y[k] += alpha * x[k];
        }
    }
}

/// A weight matrix in PyTorch's `[out, in]` layout, row-major.
enum Storage {
    F32(Vec<f32>),
    /// f16 bits: every value of the f32 matrix it came from is exactly one of these.
    F16(Vec<u16>),
}

/// A `[rows, cols]` matrix multiplied from the right as `x W^T` (a linear
/// layer's weight, the output projection).
struct RowMatrix {
    storage: Storage,
    rows: usize,
    cols: usize,
}

impl RowMatrix {
    /// The values of `t` (`[rows, cols]`), in f16 when that loses nothing.
    fn from_tensor(t: &Tensor) -> candle_core::Result<Self> {
        let (rows, cols) = t.dims2()?;
        let t = t.to_dtype(DType::F32)?;
        // The tensor's own values where it is a contiguous CPU tensor (the
        // checkpoint's), so a large matrix is not copied before it is packed.
        let (storage, layout) = t.storage_and_layout();
        let owned;
        let data: &[f32] = match (&*storage, layout.contiguous_offsets()) {
            (candle_core::Storage::Cpu(cpu), Some((start, end))) => {
                &cpu.as_slice::<f32>()?[start..end]
            }
            _ => {
                owned = t.flatten_all()?.to_vec1::<f32>()?;
                &owned
            }
        };
        let exact = data
            .iter()
            .all(|&x| half::f16::from_f32(x).to_f32().to_bits() == x.to_bits());
        let storage = if exact {
            Storage::F16(
                data.iter()
                    .map(|&x| half::f16::from_f32(x).to_bits())
                    .collect(),
            )
        } else {
            Storage::F32(data.to_vec())
        };
        Ok(Self {
            storage,
            rows,
            cols,
        })
    }

    /// Row `r` into `dst` (`cols` values).
    fn row(&self, r: usize, dst: &mut [f32]) {
        let range = r * self.cols..(r + 1) * self.cols;
        match &self.storage {
            Storage::F32(d) => dst.copy_from_slice(&d[range]),
            Storage::F16(d) => dst
                .iter_mut()
                .zip(&d[range])
                .for_each(|(o, &b)| *o = half::f16::from_bits(b).to_f32()),
        }
    }

    /// `x[i] · row(r)`.
    fn dot_row(&self, isa: Isa, r: usize, x: &[f32]) -> f32 {
        let range = r * self.cols..(r + 1) * self.cols;
        match &self.storage {
            Storage::F32(d) => dot(isa, x, &d[range]),
            Storage::F16(d) => dot_f16(isa, x, &d[range]),
        }
    }

    /// `out[i, j] = x[i] · row(j) + bias[j]` for the `m` rows of `x`
    /// (`[m, cols]`), into `out` (`[m, rows]`).
    fn matvec(&self, x: &[f32], m: usize, bias: Option<&[f32]>, out: &mut [f32]) {
        let (rows, cols) = (self.rows, self.cols);
        assert_eq!(x.len(), m * cols, "input of a {rows}x{cols} product");
        assert_eq!(out.len(), m * rows, "output of a {rows}x{cols} product");
        let isa = Isa::detect();
        let b = |j: usize| bias.map_or(0.0, |b| b[j]);
        let per_job = min_tasks(ROW_BLOCK * cols * m);
        if m == 1 {
            out.par_chunks_mut(ROW_BLOCK)
                .with_min_len(per_job)
                .enumerate()
                .for_each(|(block, o)| {
                    for (k, y) in o.iter_mut().enumerate() {
                        let j = block * ROW_BLOCK + k;
                        *y = self.dot_row(isa, j, x) + b(j);
                    }
                });
            return;
        }
        // Each task reads its rows once, for every input: `[rows, m]`, then transposed.
        let mut t = vec![0f32; rows * m];
        t.par_chunks_mut(ROW_BLOCK * m)
            .with_min_len(per_job)
            .enumerate()
            .for_each(|(block, o)| {
                let mut w = vec![0f32; cols];
                for (k, ys) in o.chunks_exact_mut(m).enumerate() {
                    let j = block * ROW_BLOCK + k;
                    self.row(j, &mut w);
                    for (y, xi) in ys.iter_mut().zip(x.chunks_exact(cols)) {
                        *y = dot(isa, xi, &w) + b(j);
                    }
                }
            });
        for (j, ys) in t.chunks_exact(m).enumerate() {
            for (i, &y) in ys.iter().enumerate() {
                out[i * rows + j] = y;
            }
        }
    }
}

/// A linear layer: weight and bias (zero where the checkpoint has none).
struct Linear {
    weight: RowMatrix,
    bias: Vec<f32>,
}

impl Linear {
    fn new(weight: RowMatrix, bias: Vec<f32>) -> Self {
        Self { weight, bias }
    }

    fn from_candle(l: &candle_nn::Linear) -> candle_core::Result<Self> {
        let weight = RowMatrix::from_tensor(l.weight())?;
        let bias = match l.bias() {
            Some(b) => b.to_dtype(DType::F32)?.to_vec1()?,
            None => vec![0.0; weight.rows],
        };
        Ok(Self::new(weight, bias))
    }

    /// `x W^T + b` for `m` rows.
    fn forward(&self, x: &[f32], m: usize) -> Vec<f32> {
        let mut out = vec![0f32; m * self.weight.rows];
        self.weight.matvec(x, m, Some(&self.bias), &mut out);
        out
    }
}

/// LayerNorm gain and shift.
struct Norm {
    weight: Vec<f32>,
    bias: Vec<f32>,
}

impl Norm {
    fn from_candle(l: &LayerNorm) -> candle_core::Result<Self> {
        Ok(Self {
            weight: l.weight().to_dtype(DType::F32)?.to_vec1()?,
            bias: l.bias().to_dtype(DType::F32)?.to_vec1()?,
        })
    }

    /// Each `d`-wide row of `x`, normalised, into a new buffer.
    fn forward(&self, x: &[f32]) -> Vec<f32> {
        let d = self.weight.len();
        let mut out = vec![0f32; x.len()];
        for (src, dst) in x.chunks_exact(d).zip(out.chunks_exact_mut(d)) {
            simd::bias_layer_norm_row(
                src,
                &[],
                &self.weight,
                &self.bias,
                LAYER_NORM_EPS as f32,
                dst,
            );
        }
        out
    }
}

/// The weights of one `WhisperDecoderLayer`, as [`DecoderLayerParams`] gives them.
struct CpuDecoderLayer {
    span: tracing::Span,
    self_attn_layer_norm: Norm,
    /// q, k and v stacked: `[3 d, d]` (k's bias is zero).
    self_qkv: Linear,
    self_out: Linear,
    encoder_attn_layer_norm: Norm,
    cross_q: Linear,
    /// The model's own `k_proj` and `v_proj` (shared, not copied): they run
    /// once per window, over all frames, as candle GEMMs.
    cross_k: candle_nn::Linear,
    cross_v: candle_nn::Linear,
    cross_out: Linear,
    final_layer_norm: Norm,
    fc1: Linear,
    fc2: Linear,
}

/// The candle modules of one decoder layer, for [`CpuDecoder::new`].
pub(crate) struct DecoderLayerParams<'a> {
    pub self_attn_layer_norm: &'a LayerNorm,
    pub self_q: &'a candle_nn::Linear,
    pub self_k: &'a candle_nn::Linear,
    pub self_v: &'a candle_nn::Linear,
    pub self_out: &'a candle_nn::Linear,
    pub encoder_attn_layer_norm: &'a LayerNorm,
    pub cross_q: &'a candle_nn::Linear,
    pub cross_k: &'a candle_nn::Linear,
    pub cross_v: &'a candle_nn::Linear,
    pub cross_out: &'a candle_nn::Linear,
    pub final_layer_norm: &'a LayerNorm,
    pub fc1: &'a candle_nn::Linear,
    pub fc2: &'a candle_nn::Linear,
    /// The layer's `whisper-decoder-layer` span, entered while it runs here too.
    pub span: &'a tracing::Span,
}

/// One layer's state for a window: its self-attention keys and values so
/// far (`[positions, d]`) and the encoder's keys and values per head,
/// transposed (`[heads, head_dim, frames]`, shared by clones).
#[derive(Clone)]
struct LayerState {
    self_k: Vec<f32>,
    self_v: Vec<f32>,
    cross_k: Arc<Vec<f32>>,
    cross_v: Arc<Vec<f32>>,
}

/// What [`CpuDecoder::forward`] has seen in one window.
#[derive(Clone)]
pub(crate) struct CpuState {
    layers: Vec<LayerState>,
    frames: usize,
    offset: usize,
}

impl CpuState {
    /// Tokens seen.
    pub(crate) fn len(&self) -> usize {
        self.offset
    }
}

/// The decoder and the output projection, packed for the CPU.
pub(crate) struct CpuDecoder {
    /// `embed_tokens`; also the output projection when `proj_out` is `None` (tied).
    embed_tokens: RowMatrix,
    proj_out: Option<RowMatrix>,
    embed_positions: Vec<f32>,
    layers: Vec<CpuDecoderLayer>,
    layer_norm: Norm,
    d: usize,
    heads: usize,
    max_positions: usize,
}

impl CpuDecoder {
    /// Packs the decoder: its layers, embeddings and final LayerNorm, and
    /// the output projection (`proj_out`, which may be `embed_tokens` itself).
    pub(crate) fn new(
        layers: &[DecoderLayerParams<'_>],
        embed_tokens: &Tensor,
        embed_positions: &Tensor,
        layer_norm: &LayerNorm,
        proj_out: &Tensor,
        heads: usize,
    ) -> candle_core::Result<Self> {
        let (max_positions, d) = embed_positions.dims2()?;
        let stack = |ls: [&candle_nn::Linear; 3]| -> candle_core::Result<Linear> {
            let weights: Vec<Tensor> = ls.iter().map(|l| l.weight().clone()).collect();
            let mut bias = Vec::with_capacity(3 * d);
            for l in ls {
                match l.bias() {
                    Some(b) => bias.extend(b.to_dtype(DType::F32)?.to_vec1::<f32>()?),
                    None => bias.extend(std::iter::repeat_n(0.0, d)),
                }
            }
            Ok(Linear::new(
                RowMatrix::from_tensor(&Tensor::cat(&weights, 0)?)?,
                bias,
            ))
        };
        let layers = layers
            .iter()
            .map(|p| {
                Ok(CpuDecoderLayer {
                    span: p.span.clone(),
                    self_attn_layer_norm: Norm::from_candle(p.self_attn_layer_norm)?,
                    self_qkv: stack([p.self_q, p.self_k, p.self_v])?,
                    self_out: Linear::from_candle(p.self_out)?,
                    encoder_attn_layer_norm: Norm::from_candle(p.encoder_attn_layer_norm)?,
                    cross_q: Linear::from_candle(p.cross_q)?,
                    cross_k: p.cross_k.clone(),
                    cross_v: p.cross_v.clone(),
                    cross_out: Linear::from_candle(p.cross_out)?,
                    final_layer_norm: Norm::from_candle(p.final_layer_norm)?,
                    fc1: Linear::from_candle(p.fc1)?,
                    fc2: Linear::from_candle(p.fc2)?,
                })
            })
            .collect::<candle_core::Result<_>>()?;
        let tied = proj_out.id() == embed_tokens.id();
        Ok(Self {
            embed_tokens: RowMatrix::from_tensor(embed_tokens)?,
            proj_out: if tied {
                None
            } else {
                Some(RowMatrix::from_tensor(proj_out)?)
            },
            embed_positions: embed_positions
                .to_dtype(DType::F32)?
                .flatten_all()?
                .to_vec1()?,
            layers,
            layer_norm: Norm::from_candle(layer_norm)?,
            d,
            heads,
            max_positions,
        })
    }

    fn proj(&self) -> &RowMatrix {
        self.proj_out.as_ref().unwrap_or(&self.embed_tokens)
    }

    /// Vocabulary size.
    pub(crate) fn vocab(&self) -> usize {
        self.proj().rows
    }

    /// A fresh state for the encoder states `[1, frames, d]` of one window:
    /// every layer's cross-attention keys and values.
    pub(crate) fn start(&self, encoder_states: &Tensor) -> candle_core::Result<CpuState> {
        let (batch, frames, d) = encoder_states.dims3()?;
        if batch != 1 || d != self.d {
            candle_core::bail!(
                "the CPU decoder takes encoder states [1, frames, {}], not [{batch}, {frames}, {d}]",
                self.d
            );
        }
        // [frames, d] -> [d, frames], which is [heads, head_dim, frames].
        let per_head = |x: Tensor| -> candle_core::Result<Arc<Vec<f32>>> {
            let x: Vec<f32> = x.flatten_all()?.to_vec1()?;
            let mut t = vec![0f32; x.len()];
            for (f, row) in x.chunks_exact(d).enumerate() {
                for (c, &v) in row.iter().enumerate() {
                    t[c * frames + f] = v;
                }
            }
            Ok(Arc::new(t))
        };
        let states = encoder_states.to_dtype(DType::F32)?;
        // GEMMs over all frames, by candle (the `gemm` crate), with the model's own weights.
        let layers = self
            .layers
            .iter()
            .map(|l| {
                Ok(LayerState {
                    self_k: Vec::new(),
                    self_v: Vec::new(),
                    cross_k: per_head(l.cross_k.forward(&states)?)?,
                    cross_v: per_head(l.cross_v.forward(&states)?)?,
                })
            })
            .collect::<candle_core::Result<_>>()?;
        Ok(CpuState {
            layers,
            frames,
            offset: 0,
        })
    }

    /// Runs `ids` after what `state` has seen: the final hidden states
    /// (`[n, d]`, after the last LayerNorm) and, with `cross_attentions`,
    /// each layer's cross-attention probabilities (`[heads, n, frames]`).
    pub(crate) fn forward(
        &self,
        ids: &[u32],
        state: &mut CpuState,
        cross_attentions: bool,
    ) -> candle_core::Result<(Vec<f32>, Vec<Vec<f32>>)> {
        let (n, d) = (ids.len(), self.d);
        let past = state.offset;
        if past + n > self.max_positions {
            candle_core::bail!(
                "{} tokens exceed the decoder's {} positions",
                past + n,
                self.max_positions
            );
        }
        let vocab = self.embed_tokens.rows;
        let mut x = vec![0f32; n * d];
        for (i, (row, &id)) in x.chunks_exact_mut(d).zip(ids).enumerate() {
            if id as usize >= vocab {
                candle_core::bail!("token {id} is outside the vocabulary of {vocab}");
            }
            self.embed_tokens.row(id as usize, row);
            let pos = &self.embed_positions[(past + i) * d..(past + i + 1) * d];
            row.iter_mut().zip(pos).for_each(|(v, p)| *v += p);
        }
        let mut attentions = Vec::new();
        for (layer, ls) in self.layers.iter().zip(&mut state.layers) {
            let _enter = layer.span.enter();
            let probs = self.layer(layer, ls, &mut x, n, past, state.frames, cross_attentions);
            if cross_attentions {
                attentions.push(probs);
            }
        }
        state.offset += n;
        Ok((self.layer_norm.forward(&x), attentions))
    }

    /// The logits of the `m` rows of `h` (`[m, d]`): `[m, vocab]`.
    pub(crate) fn logits(&self, h: &[f32], m: usize) -> Vec<f32> {
        let proj = self.proj();
        let mut out = vec![0f32; m * proj.rows];
        proj.matvec(h, m, None, &mut out);
        out
    }

    /// One layer over `x` (`[n, d]`, in place); the cross-attention
    /// probabilities `[heads, n, frames]` when asked for.
    #[allow(clippy::too_many_arguments)]
    fn layer(
        &self,
        l: &CpuDecoderLayer,
        ls: &mut LayerState,
        x: &mut [f32],
        n: usize,
        past: usize,
        frames: usize,
        want_probs: bool,
    ) -> Vec<f32> {
        let d = self.d;
        let heads = self.heads;
        let dh = d / heads;
        let scale = (dh as f32).powf(-0.5);
        let isa = Isa::detect();
        let add = |x: &mut [f32], h: &[f32]| x.iter_mut().zip(h).for_each(|(a, b)| *a += b);

        // Self-attention: append this call's keys and values, then token i
        // attends to positions 0..=past + i.
        let qkv = l.self_qkv.forward(&l.self_attn_layer_norm.forward(x), n);
        let mut q = Vec::with_capacity(n * d);
        for row in qkv.chunks_exact(3 * d) {
            q.extend_from_slice(&row[..d]);
            ls.self_k.extend_from_slice(&row[d..2 * d]);
            ls.self_v.extend_from_slice(&row[2 * d..]);
        }
        let mut ctx = vec![0f32; n * d];
        let (keys, values) = (&ls.self_k, &ls.self_v);
        let per_job = min_tasks(2 * (past + n) * dh);
        ctx.par_chunks_mut(dh)
            .with_min_len(per_job)
            .enumerate()
            .for_each(|(task, out)| {
                let (i, h) = (task / heads, task % heads);
                let seen = past + i + 1;
                let qh = &q[i * d + h * dh..i * d + (h + 1) * dh];
                let mut scores: Vec<f32> = (0..seen)
                    .map(|p| dot(isa, qh, &keys[p * d + h * dh..p * d + (h + 1) * dh]) * scale)
                    .collect();
                simd::softmax_row(&mut scores);
                for (p, &w) in scores.iter().enumerate() {
                    axpy(isa, w, &values[p * d + h * dh..p * d + (h + 1) * dh], out);
                }
            });
        add(x, &l.self_out.forward(&ctx, n));

        // Cross-attention over the encoder's keys and values ([heads, head_dim, frames]).
        let q = l.cross_q.forward(&l.encoder_attn_layer_norm.forward(x), n);
        let (keys, values) = (&*ls.cross_k, &*ls.cross_v);
        let mut probs = vec![0f32; if want_probs { heads * n * frames } else { 0 }];
        let mut ctx = vec![0f32; n * d];
        let tasks: Vec<(usize, &mut [f32])> = ctx.chunks_mut(dh).enumerate().collect();
        let rows: Vec<Vec<f32>> = tasks
            .into_par_iter()
            .with_min_len(min_tasks(2 * frames * dh))
            .map(|(task, out)| {
                let (i, h) = (task / heads, task % heads);
                let qh = &q[i * d + h * dh..i * d + (h + 1) * dh];
                let kh = &keys[h * dh * frames..(h + 1) * dh * frames];
                let vh = &values[h * dh * frames..(h + 1) * dh * frames];
                let mut scores = vec![0f32; frames];
                for (k, &qk) in qh.iter().enumerate() {
                    axpy(isa, qk, &kh[k * frames..(k + 1) * frames], &mut scores);
                }
                scores.iter_mut().for_each(|s| *s *= scale);
                simd::softmax_row(&mut scores);
                for (k, o) in out.iter_mut().enumerate() {
                    *o = dot(isa, &scores, &vh[k * frames..(k + 1) * frames]);
                }
                if want_probs {
                    scores
                } else {
                    Vec::new()
                }
            })
            .collect();
        if want_probs {
            for (task, row) in rows.into_iter().enumerate() {
                let (i, h) = (task / heads, task % heads);
                probs[(h * n + i) * frames..(h * n + i + 1) * frames].copy_from_slice(&row);
            }
        }
        add(x, &l.cross_out.forward(&ctx, n));

        // Feed-forward.
        let mut mid = l.fc1.forward(&l.final_layer_norm.forward(x), n);
        let ffn = mid.len() / n;
        mid.par_chunks_mut(ffn)
            .with_min_len(min_tasks(16 * ffn))
            .for_each(|row| simd::bias_gelu_row(row, &[]));
        add(x, &l.fc2.forward(&mid, n));
        probs
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use candle_core::{Device, Tensor};

    use super::{RowMatrix, Storage};
    use crate::whisper::Whisper;

    /// `x W^T + b` in f64, the definition.
    fn reference(w: &[f32], rows: usize, cols: usize, x: &[f32], bias: &[f32]) -> Vec<f64> {
        x.chunks_exact(cols)
            .flat_map(|xi| {
                (0..rows).map(move |j| {
                    let row = &w[j * cols..(j + 1) * cols];
                    f64::from(bias[j])
                        + xi.iter()
                            .zip(row)
                            .map(|(&a, &b)| f64::from(a) * f64::from(b))
                            .sum::<f64>()
                })
            })
            .collect()
    }

    #[test]
    fn row_products_match_the_definition_in_both_storages() {
        // 130 rows: two full blocks of 64 and a ragged one; 83 columns: tails
        // after the 64-, 16- and 8-wide loops.
        let (rows, cols) = (130, 83);
        // Multiples of 1/64 below 4: exact in f16, so this matrix is kept in f16 ...
        let exact: Vec<f32> = (0..rows * cols)
            .map(|i| ((i * 37) % 512) as f32 / 64.0 - 4.0)
            .collect();
        // ... and with a third added to each, not.
        let inexact: Vec<f32> = exact.iter().map(|v| v + 1.0 / 3.0).collect();
        let bias: Vec<f32> = (0..rows).map(|j| j as f32 * 0.01).collect();
        let x: Vec<f32> = (0..3 * cols)
            .map(|i| ((i * 11) % 97) as f32 / 97.0 - 0.5)
            .collect();
        for (w, f16) in [(&exact, true), (&inexact, false)] {
            let t = Tensor::from_slice(w, (rows, cols), &Device::Cpu).unwrap();
            let m = RowMatrix::from_tensor(&t).unwrap();
            assert_eq!(matches!(m.storage, Storage::F16(_)), f16);
            for n in [1, 3] {
                let mut out = vec![0f32; n * rows];
                m.matvec(&x[..n * cols], n, Some(&bias), &mut out);
                let expected = reference(w, rows, cols, &x[..n * cols], &bias);
                for (o, e) in out.iter().zip(&expected) {
                    assert!(
                        (f64::from(*o) - e).abs() < 1e-4,
                        "{n} rows, f16 {f16}: {o} vs {e}"
                    );
                }
            }
        }
    }

    /// The CPU decoder against candle's ops on the fixtures: logits and
    /// cross-attentions of a whole sequence, then token by token.
    #[test]
    fn the_cpu_decoder_equals_candles_ops() {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/whisper");
        for layout in ["hf", "ct2"] {
            let mut w = Whisper::load(&fixtures.join(layout), &Device::Cpu).unwrap();
            let frames = w.model().config().max_source_positions;
            let d = w.model().config().d_model;
            let states: Vec<f32> = (0..frames * d)
                .map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0)
                .collect();
            let states = Tensor::from_vec(states, (1, frames, d), &Device::Cpu).unwrap();
            let ids: Vec<u32> = vec![3, 1, 2, 150, 44, 100, 198];
            let t = Tensor::new(ids.as_slice(), &Device::Cpu)
                .unwrap()
                .unsqueeze(0)
                .unwrap();
            let mut runs = Vec::new();
            for cpu in [true, false] {
                w.model_mut().set_cpu_kernels(cpu).unwrap();
                let mut state = w.model().start(&states).unwrap();
                let whole = w.model().decode(&t, &mut state, true).unwrap();
                let mut state = w.model().start(&states).unwrap();
                let mut steps = w.model().all_logits(&ids[..3], &mut state).unwrap();
                for &id in &ids[3..] {
                    let l = w.model().next_logits(&[id], &mut state).unwrap();
                    let row = Tensor::new(l, &Device::Cpu).unwrap().unsqueeze(0).unwrap();
                    steps = Tensor::cat(&[&steps, &row], 0).unwrap();
                }
                assert_eq!(state.len(), ids.len());
                runs.push((whole, steps));
            }
            let diff = |a: &Tensor, b: &Tensor| -> f32 {
                (a - b)
                    .unwrap()
                    .abs()
                    .unwrap()
                    .flatten_all()
                    .unwrap()
                    .max(0)
                    .unwrap()
                    .to_scalar()
                    .unwrap()
            };
            let ((cpu, cpu_steps), (candle, candle_steps)) = (&runs[0], &runs[1]);
            let d = diff(&cpu.logits, &candle.logits);
            assert!(d < 1e-4, "{layout}: logits differ by {d}");
            let d = diff(&cpu.logits.squeeze(0).unwrap(), cpu_steps);
            assert!(d < 1e-4, "{layout}: step by step differs by {d}");
            let d = diff(cpu_steps, candle_steps);
            assert!(d < 1e-4, "{layout}: steps differ from candle's by {d}");
            assert_eq!(cpu.cross_attentions.len(), candle.cross_attentions.len());
            for (a, b) in cpu.cross_attentions.iter().zip(&candle.cross_attentions) {
                assert_eq!(a.dims(), b.dims());
                let d = diff(a, b);
                assert!(d < 1e-6, "{layout}: cross-attention differs by {d}");
            }
        }
    }
}
