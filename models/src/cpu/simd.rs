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
        let mean = x.iter().sum::<f32>() / n;
        let var = x.iter().map(|&v| (v - mean) * (v - mean)).sum::<f32>() / n;
        let rstd = 1.0 / (var + eps).sqrt();
        for ((v, &g), &c) in x.iter_mut().zip(w).zip(b) {
            *v = gelu((*v - mean) * rstd * g + c);
        }
    }
}

multiversion! {
    /// Accumulates per-channel sums of `rows` (row-major, `sum.len()` channels) into `sum` (f64).
    pub fn column_sums(rows: &[f32], sum: &mut [f64]) {
        let c = sum.len();
        for row in rows.chunks_exact(c) {
            for (s, &v) in sum.iter_mut().zip(row) {
                *s += v as f64;
            }
        }
    }
}

multiversion! {
    /// Accumulates per-channel sums of squared deviations from `mean` into `sum` (f64).
    pub fn column_sq_dev(rows: &[f32], mean: &[f32], sum: &mut [f64]) {
        let c = sum.len();
        for row in rows.chunks_exact(c) {
            for ((s, &v), &m) in sum.iter_mut().zip(row).zip(mean) {
                let d = v - m;
                *s += (d * d) as f64;
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
