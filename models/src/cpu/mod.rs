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

/// Whether this CPU's bf16 products are faster than its f32 ones, measured
/// once per process on a conv-layer-sized product (1024 × 1536 by 1536 ×
/// 512, the best of three runs each after a warm-up): bf16 must take less
/// than 0.9 of f32's time. AVX512-BF16 halves the work per instruction on
/// some CPUs (AMD Zen 4: 1.7 times faster on DistilHuBERT) but not on others
/// (Intel Sapphire Rapids, whose two 512-bit FMA ports already match its
/// `vdpbf16ps` rate: 1.5 times slower), so only a measurement can say.
/// `false` without AVX512-BF16.
pub fn bf16_faster() -> bool {
    static FASTER: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *FASTER.get_or_init(|| bf16_available() && measure_bf16_speedup() < 0.9)
}

/// bf16's time over f32's for one product of the shape [`bf16_faster`] uses.
fn measure_bf16_speedup() -> f64 {
    use matrix::{Precision, Weight};
    let (m, k, n) = (1024, 1536, 512);
    let a: Vec<f32> = (0..m * k)
        .map(|i| ((i % 97) as f32 - 48.0) / 97.0)
        .collect();
    let b: Vec<f32> = (0..k * n)
        .map(|i| ((i % 89) as f32 - 44.0) / 89.0)
        .collect();
    let mut out = vec![0f32; m * n];
    let mut best = |precision| {
        let w = Weight::new(b.clone(), k, n, precision);
        w.matmul(m, &a, k, &mut out, n, false);
        (0..3)
            .map(|_| {
                let t0 = std::time::Instant::now();
                w.matmul(m, &a, k, &mut out, n, false);
                t0.elapsed().as_secs_f64()
            })
            .fold(f64::INFINITY, f64::min)
    };
    let f32_s = best(Precision::F32);
    let bf16_s = best(Precision::Bf16);
    tracing::debug!(f32_s, bf16_s, "bf16 against f32 products");
    bf16_s / f32_s
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
