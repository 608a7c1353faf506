//! Element-wise kernels (GELU, fused bias / normalisation + GELU), compiled
//! for AVX-512 and AVX2 and chosen at run time, with a portable fallback.
//!
//! The loops are written plainly so LLVM vectorises them; `multiversion!`
//! compiles each body once per instruction set.

/// Compiles `$body` for AVX-512, AVX2+FMA and the baseline, and dispatches at run time.
macro_rules! multiversion {
    ($(#[$m:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $body:block) => {
        $(#[$m])* $vis fn $name($($arg: $ty),*) {
            #[inline(always)]
            fn inner($($arg: $ty),*) $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
                unsafe fn avx512($($arg: $ty),*) { inner($($arg),*) }
                #[target_feature(enable = "avx2,fma")]
                unsafe fn avx2($($arg: $ty),*) { inner($($arg),*) }
                if std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512vl")
                {
                    // SAFETY: the instruction sets were detected on this CPU.
                    return unsafe { avx512($($arg),*) };
                }
                if std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
                {
                    // SAFETY: as above.
                    return unsafe { avx2($($arg),*) };
                }
            }
            inner($($arg),*)
        }
    };
}

/// `erf(x)` in f32 by Eigen's rational approximation (`generic_fast_erf_float`):
/// an odd degree-13 over an even degree-8 polynomial on `[-4, 4]`, clamped
/// outside, where erf is ±1 in single precision. Branch-free, so it vectorises;
/// its error against the exact erf is a few ulp (checked in the tests below).
#[inline(always)]
pub fn erf(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let mut p = x2 * -2.726_142_3e-10 + 2.770_681_4e-8;
    p = x2 * p + -2.101_024e-6;
    p = x2 * p + -5.692_506_4e-5;
    p = x2 * p + -7.349_906_3e-4;
    p = x2 * p + -2.954_6e-3;
    p = x2 * p + -1.609_603_3e-2;
    p *= x;
    let mut q = x2 * -1.456_607_2e-5 + -2.133_740_6e-4;
    q = x2 * q + -1.682_827e-3;
    q = x2 * q + -7.373_329e-3;
    q = x2 * q + -1.426_474e-2;
    p / q
}

/// Exact (erf-based) GELU, as PyTorch's default `nn.GELU()` / `ACT2FN["gelu"]`.
#[inline(always)]
pub fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// `e^x` in f32, branch-free so it vectorises: Cephes' `expf` (range
/// reduction `x = n ln 2 + r` with a two-part ln 2, a degree-6 polynomial for
/// `e^r`, and `2^n` built in the exponent bits). Inputs are clamped to
/// `[-87.3, 88.0]`, so `exp(-inf)` gives about `1e-38` rather than 0, which no
/// softmax can tell apart. Relative error is about 1e-7 (tested below).
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    let x = x.clamp(-87.3, 88.0);
    let n = (x * std::f32::consts::LOG2_E + 0.5).floor();
    let r = x - n * 0.693_359_4 - n * -2.121_944_4e-4;
    let mut p = 1.987_569_1e-4f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 0.166_666_65;
    p = p * r + 0.5;
    let er = p * r * r + r + 1.0;
    er * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

/// Lanes of the partial accumulators in [`sum`] and [`max`]: independent
/// accumulators let LLVM vectorise a reduction it must otherwise run in order.
const LANES: usize = 16;

/// Sum of a slice with [`LANES`] partial sums (the order differs from a plain
/// left fold by rounding only).
#[inline(always)]
pub fn sum(x: &[f32]) -> f32 {
    let mut acc = [0f32; LANES];
    let chunks = x.chunks_exact(LANES);
    let tail: f32 = chunks.remainder().iter().sum();
    for c in chunks {
        for l in 0..LANES {
            acc[l] += c[l];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// Maximum of a slice (`-inf` for an empty one) with [`LANES`] partial maxima.
#[inline(always)]
pub fn max(x: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; LANES];
    let chunks = x.chunks_exact(LANES);
    let tail = chunks
        .remainder()
        .iter()
        .copied()
        .fold(f32::NEG_INFINITY, f32::max);
    for c in chunks {
        for l in 0..LANES {
            acc[l] = if c[l] > acc[l] { c[l] } else { acc[l] };
        }
    }
    acc.iter().copied().fold(tail, f32::max)
}

multiversion! {
    /// Exact-form GELU over a slice, in place.
    pub fn gelu_slice(x: &mut [f32]) {
        for v in x.iter_mut() {
            *v = gelu(*v);
        }
    }
}

multiversion! {
    /// Numerically stable softmax of one row, in place (subtracts the row maximum).
    pub fn softmax_row(x: &mut [f32]) {
        let m = max(x);
        for v in x.iter_mut() {
            *v = exp(*v - m);
        }
        let inv = 1.0 / sum(x);
        for v in x.iter_mut() {
            *v *= inv;
        }
    }
}

multiversion! {
    /// A stride-`stride` conv with one input channel, written directly (a GEMM
    /// with an inner dimension of `kernel` would waste most of its time on
    /// packing): `out[t, o] = sum_j x[t * stride + j] * wt[j, o]`, with `wt`
    /// stored `[kernel, channels]`. `out` holds whole rows of `wt`'s width.
    pub fn conv_single_input(x: &[f32], wt: &[f32], kernel: usize, stride: usize, out: &mut [f32]) {
        let c = wt.len() / kernel;
        for (t, row) in out.chunks_exact_mut(c).enumerate() {
            let xs = &x[t * stride..t * stride + kernel];
            let mut o = 0;
            while o + 16 <= c {
                let mut acc = [0f32; 16];
                for (j, &a) in xs.iter().enumerate() {
                    let w = &wt[j * c + o..j * c + o + 16];
                    for l in 0..16 {
                        acc[l] += a * w[l];
                    }
                }
                row[o..o + 16].copy_from_slice(&acc);
                o += 16;
            }
            for (oo, v) in row.iter_mut().enumerate().skip(o) {
                *v = xs.iter().enumerate().map(|(j, &a)| a * wt[j * c + oo]).sum();
            }
        }
    }
}

multiversion! {
    /// `x = gelu(x + bias)` for one row of `bias.len()` channels (no bias when `bias` is empty).
    pub fn bias_gelu_row(x: &mut [f32], bias: &[f32]) {
        if bias.is_empty() {
            for v in x.iter_mut() {
                *v = gelu(*v);
            }
        } else {
            for (v, &b) in x.iter_mut().zip(bias) {
                *v = gelu(*v + b);
            }
        }
    }
}

multiversion! {
    /// One frame of a conv followed by LayerNorm over channels and GELU:
    /// `x = gelu(ln(x + bias) * w + b)` with the population variance and `eps`.
    pub fn bias_layer_norm_gelu_row(x: &mut [f32], bias: &[f32], w: &[f32], b: &[f32], eps: f32) {
        if !bias.is_empty() {
            for (v, &c) in x.iter_mut().zip(bias) {
                *v += c;
            }
        }
        let n = x.len() as f32;
        let mean = sum(x) / n;
        let mut acc = [0f32; LANES];
        let chunks = x.chunks_exact(LANES);
        let tail: f32 = chunks.remainder().iter().map(|&v| (v - mean) * (v - mean)).sum();
        for c in chunks {
            for l in 0..LANES {
                acc[l] += (c[l] - mean) * (c[l] - mean);
            }
        }
        let var = (acc.iter().sum::<f32>() + tail) / n;
        let rstd = 1.0 / (var + eps).sqrt();
        for ((v, &g), &c) in x.iter_mut().zip(w).zip(b) {
            *v = gelu((*v - mean) * rstd * g + c);
        }
    }
}

multiversion! {
    /// `dst = layer_norm(src + bias) * w + b` for one row (`bias` may be
    /// empty), population variance, as `nn.LayerNorm`. `dst` may be `src`'s
    /// copy target; both have `w.len()` elements.
    pub fn bias_layer_norm_row(src: &[f32], bias: &[f32], w: &[f32], b: &[f32], eps: f32, dst: &mut [f32]) {
        if bias.is_empty() {
            dst.copy_from_slice(src);
        } else {
            for ((d, &s), &c) in dst.iter_mut().zip(src).zip(bias) {
                *d = s + c;
            }
        }
        let n = dst.len() as f32;
        let mean = sum(dst) / n;
        let mut acc = [0f32; LANES];
        let chunks = dst.chunks_exact(LANES);
        let tail: f32 = chunks.remainder().iter().map(|&v| (v - mean) * (v - mean)).sum();
        for c in chunks {
            for l in 0..LANES {
                acc[l] += (c[l] - mean) * (c[l] - mean);
            }
        }
        let var = (acc.iter().sum::<f32>() + tail) / n;
        let rstd = 1.0 / (var + eps).sqrt();
        for ((v, &g), &c) in dst.iter_mut().zip(w).zip(b) {
            *v = (*v - mean) * rstd * g + c;
        }
    }
}

multiversion! {
    /// Accumulates per-channel sums and sums of squares of `rows` (row-major,
    /// `sum.len()` channels) in f64, so `E[x^2] - E[x]^2` keeps its precision.
    pub fn column_moments(rows: &[f32], sum: &mut [f64], sum_sq: &mut [f64]) {
        let c = sum.len();
        for row in rows.chunks_exact(c) {
            for ((s, q), &v) in sum.iter_mut().zip(sum_sq.iter_mut()).zip(row) {
                let v = v as f64;
                *s += v;
                *q += v * v;
            }
        }
    }
}

multiversion! {
    /// `x = gelu(x * scale + shift)` per channel, for rows of `scale.len()` channels.
    pub fn scale_shift_gelu(rows: &mut [f32], scale: &[f32], shift: &[f32]) {
        let c = scale.len();
        for row in rows.chunks_exact_mut(c) {
            for ((v, &a), &b) in row.iter_mut().zip(scale).zip(shift) {
                *v = gelu(*v * a + b);
            }
        }
    }
}

multiversion! {
    /// Adds `bias` to every row of `rows`.
    pub fn add_bias_rows(rows: &mut [f32], bias: &[f32]) {
        let c = bias.len();
        for row in rows.chunks_exact_mut(c) {
            for (v, &b) in row.iter_mut().zip(bias) {
                *v += b;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// erf by its Maclaurin series (alternating, converges for all x; f64 is
    /// exact enough for |x| <= 4 with 80 terms) as the independent reference.
    fn erf_series(x: f64) -> f64 {
        let mut term = x;
        let mut sum = x;
        for n in 1..120 {
            term *= -x * x / n as f64;
            sum += term / (2 * n + 1) as f64;
        }
        sum * 2.0 / std::f64::consts::PI.sqrt()
    }

    #[test]
    fn fast_erf_matches_series_to_single_precision() {
        let mut worst = 0f64;
        for i in -4000..=4000 {
            let x = i as f64 / 1000.0;
            let err = (erf(x as f32) as f64 - erf_series(x)).abs();
            worst = worst.max(err);
        }
        assert!(worst < 1e-6, "max |erf error| {worst}");
        // Saturated to within one ulp of ±1 outside the fitted range.
        assert!((erf(10.0) - 1.0).abs() <= f32::EPSILON);
        assert!((erf(-10.0) + 1.0).abs() <= f32::EPSILON);
    }

    #[test]
    fn lane_reductions_equal_plain_folds() {
        for n in [0, 1, 15, 16, 17, 100, 1037] {
            let x: Vec<f32> = (0..n).map(|i| ((i * 31) % 97) as f32 - 40.0).collect();
            // Small integers sum exactly in f32, so any order gives the same value.
            assert_eq!(sum(&x), x.iter().sum::<f32>());
            assert_eq!(max(&x), x.iter().copied().fold(f32::NEG_INFINITY, f32::max));
        }
    }

    #[test]
    fn fast_exp_has_single_precision_relative_error() {
        let mut worst = 0f64;
        for i in -8700..=8800 {
            // Compare at the f32 input itself, so input rounding is not counted.
            let x = (i as f64 / 100.0) as f32;
            let exact = (x as f64).exp();
            let rel = ((exp(x) as f64) - exact).abs() / exact;
            worst = worst.max(rel);
        }
        assert!(worst < 3e-7, "max relative error {worst}");
        assert!(exp(f32::NEG_INFINITY) < 1e-37);
    }

    #[test]
    fn softmax_row_sums_to_one_and_matches_the_definition() {
        let mut x: Vec<f32> = (0..333)
            .map(|i| ((i * 37) % 101) as f32 / 7.0 - 5.0)
            .collect();
        x[17] = f32::MIN; // a masked key, as the attention mask adds
        let max = x.iter().copied().fold(f32::MIN, f32::max) as f64;
        let denom: f64 = x.iter().map(|&v| (v as f64 - max).exp()).sum();
        let expected: Vec<f64> = x.iter().map(|&v| (v as f64 - max).exp() / denom).collect();
        softmax_row(&mut x);
        for (a, b) in x.iter().zip(&expected) {
            assert!((*a as f64 - b).abs() < 1e-7, "{a} vs {b}");
        }
        assert!(x[17] < 1e-30);
    }

    #[test]
    fn direct_single_input_conv_matches_the_definition() {
        // 3 frames of a kernel-4 stride-2 conv over 9 samples into 19 channels
        // (one full block of 16 and a remainder of 3).
        let (k, s, c) = (4, 2, 19);
        let x: Vec<f32> = (0..9).map(|i| i as f32 * 0.5 - 1.0).collect();
        let wt: Vec<f32> = (0..k * c).map(|i| ((i * 7) % 11) as f32 - 5.0).collect();
        let frames = (x.len() - k) / s + 1;
        let mut out = vec![0f32; frames * c];
        conv_single_input(&x, &wt, k, s, &mut out);
        for t in 0..frames {
            for o in 0..c {
                let expected: f32 = (0..k).map(|j| x[t * s + j] * wt[j * c + o]).sum();
                assert!((out[t * c + o] - expected).abs() < 1e-5);
            }
        }
    }

    #[test]
    fn dispatched_gelu_equals_scalar_gelu() {
        let mut x: Vec<f32> = (0..1037).map(|i| (i as f32 - 500.0) / 77.0).collect();
        let expected: Vec<f32> = x.iter().map(|&v| gelu(v + 0.25)).collect();
        let bias = vec![0.25; x.len()];
        bias_gelu_row(&mut x, &bias);
        for (a, b) in x.iter().zip(&expected) {
            assert!((a - b).abs() <= 1e-6 * b.abs().max(1.0));
        }
    }
}
