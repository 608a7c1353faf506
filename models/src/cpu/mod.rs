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

#[cfg(target_arch = "x86_64")]
pub mod bf16;
pub mod conv;
pub mod matrix;
pub mod ops;
pub mod simd;
pub mod transformer;

/// A raw pointer handed to rayon workers that write disjoint column blocks
/// of one buffer (GEMM outputs of different groups or heads).
#[derive(Clone, Copy)]
pub(crate) struct SendPtr(pub(crate) *mut f32);
// SAFETY: only used to write disjoint column blocks of one buffer from different threads.
unsafe impl Send for SendPtr {}
// SAFETY: as above.
unsafe impl Sync for SendPtr {}

impl SendPtr {
    /// The pointer (a method, so closures capture the whole `Send` wrapper).
    pub(crate) fn get(self) -> *mut f32 {
        self.0
    }
}

thread_local! {
    /// Activation buffers returned by [`give_buffer`], reused by [`take_buffer`].
    static BUFFERS: std::cell::RefCell<Vec<Vec<f32>>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A buffer of `len` floats with unspecified contents, from this thread's
/// pool when one is there. Large fresh allocations are fresh pages from the
/// kernel, whose faults and zeroing cost as much as a small layer; a forward
/// pass takes and gives buffers in the same order every time, so after the
/// first pass every request is met from the pool.
pub(crate) fn take_buffer(len: usize) -> Vec<f32> {
    let mut v = BUFFERS.with(|b| b.borrow_mut().pop()).unwrap_or_default();
    v.resize(len, 0.0);
    v
}

/// Returns a buffer to this thread's pool.
pub(crate) fn give_buffer(v: Vec<f32>) {
    BUFFERS.with(|b| {
        let mut b = b.borrow_mut();
        // A bound, so a pathological caller cannot grow the pool without limit.
        if b.len() < 16 {
            b.push(v);
        }
    });
}

/// Whether this CPU runs bf16 products natively (AVX512-BF16).
pub fn bf16_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        bf16::available()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Worker threads for the kernels: rayon's pool size (honours `RAYON_NUM_THREADS`).
pub fn threads() -> usize {
    rayon::current_num_threads().max(1)
}

/// `dst[m, n] = lhs[m, k] * rhs[k, n]` (or `+=` when `accumulate`), f32;
/// `dst` and `lhs` have unit column stride, `rhs` has row stride `rhs_rs`
/// and column stride 1 (see [`sgemm_rhs_strided`] for any `rhs` layout).
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
    // SAFETY: forwarded from the caller's contract.
    unsafe {
        sgemm_rhs_strided(
            m, n, k, dst, dst_rs, lhs, lhs_rs, rhs, rhs_rs, 1, accumulate, threads,
        )
    }
}

/// As [`sgemm`], with `rhs` of any row and column strides (a transposed view,
/// for example `K^T` read straight out of a `[frames, 3 * hidden]` QKV buffer).
///
/// # Safety
/// As [`sgemm`].
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn sgemm_rhs_strided(
    m: usize,
    n: usize,
    k: usize,
    dst: *mut f32,
    dst_rs: isize,
    lhs: *const f32,
    lhs_rs: isize,
    rhs: *const f32,
    rhs_rs: isize,
    rhs_cs: isize,
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
            rhs_cs,
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
