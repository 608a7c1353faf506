//! CPU kernels for the convolution-heavy parts of the encoder.
//!
//! A plain candle port spends most of its time in the conv feature extractor
//! (im2col copies, a separate GroupNorm and GELU pass over 16M elements for
//! 10 s of audio). These kernels keep activations time-major (`[frames,
//! channels]`), where the im2col matrix of a strided conv is simply a strided
//! view of the input, hand that view straight to the `gemm` crate, and fuse
//! bias, normalisation and GELU into one pass over the output. They are used
//! on the CPU in f32; every other device runs the candle ops in the layer
//! modules, and both paths are checked against the reference fixtures.

pub mod conv;
pub mod ops;
pub mod simd;

/// Worker threads for the kernels: rayon's pool size (honours `RAYON_NUM_THREADS`).
pub fn threads() -> usize {
    rayon::current_num_threads().max(1)
}

/// `dst[m, n] = lhs[m, k] * rhs[k, n]` (or `+=` when `accumulate`), f32, any strides.
///
/// # Safety
/// Every pointer must be valid for the extent its strides and sizes describe,
/// and `dst` must not alias `lhs` or `rhs`.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn sgemm(
    m: usize,
    n: usize,
    k: usize,
    dst: *mut f32,
    dst_rs: isize,
    lhs: *const f32,
    lhs_rs: isize,
    rhs: *const f32,
    rhs_rs: isize,
    accumulate: bool,
    threads: usize,
) {
    let parallelism = if threads > 1 {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: forwarded from the caller's contract; unit column strides.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            1,
            dst_rs,
            accumulate,
            lhs,
            1,
            lhs_rs,
            rhs,
            1,
            rhs_rs,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        )
    }
}
