//! bf16 matrix products with AVX-512 BF16 (`vdpbf16ps`), f32 accumulation.
//!
//! Weights are rounded to bf16 once at load and packed in panels of 32
//! output columns, each k-pair of a column stored as one 32-bit word
//! (`lo = w[2q]`, `hi = w[2q + 1]`), which is the operand layout
//! `vdpbf16ps` multiplies lane by lane. Activations are rounded to bf16 right
//! before each product (one vectorised pass); sums stay f32. One instruction
//! does 32 multiply-adds where an f32 FMA does 16.
//!
//! Available when the CPU reports `avx512bf16` ([`available`]); callers fall
//! back to f32 otherwise.

use std::arch::x86_64::*;

use rayon::prelude::*;

/// Output columns per packed panel (two zmm registers).
const NR: usize = 32;
/// Output rows per micro-kernel call (24 accumulators + 2 weight registers).
const MR: usize = 12;
/// k-pairs per cache block: a 32-column panel block is `KC * 128` bytes (32 KB, L1).
const KC: usize = 256;
/// Rows per parallel task.
const ROWS_PER_TASK: usize = 8 * MR;

/// Whether this CPU runs the bf16 kernels.
pub fn available() -> bool {
    std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512bw")
        && std::arch::is_x86_feature_detected!("avx512bf16")
}

/// A `[k, n]` weight matrix rounded to bf16 and packed for [`matmul`].
pub struct PackedBf16 {
    /// `panels * k_pairs * NR` words.
    data: Vec<u32>,
    k: usize,
    n: usize,
    k_pairs: usize,
}

/// Rounds to the nearest bf16 (ties to even), as `vcvtne2ps2bf16` does.
fn bf16_bits(x: f32) -> u32 {
    half::bf16::from_f32(x).to_bits() as u32
}

impl PackedBf16 {
    /// Packs `b[i * n + j]` (`[k, n]`, row-major).
    pub fn new(b: &[f32], k: usize, n: usize) -> Self {
        let k_pairs = k.div_ceil(2);
        let panels = n.div_ceil(NR);
        let mut data = vec![0u32; panels * k_pairs * NR];
        let at = |i: usize, j: usize| if i < k && j < n { b[i * n + j] } else { 0.0 };
        for p in 0..panels {
            for q in 0..k_pairs {
                for c in 0..NR {
                    let j = p * NR + c;
                    data[(p * k_pairs + q) * NR + c] =
                        bf16_bits(at(2 * q, j)) | (bf16_bits(at(2 * q + 1, j)) << 16);
                }
            }
        }
        Self {
            data,
            k,
            n,
            k_pairs,
        }
    }

    /// Inner dimension.
    pub fn k(&self) -> usize {
        self.k
    }

    /// Output columns.
    pub fn n(&self) -> usize {
        self.n
    }
}

/// Converts `src` to bf16 bits in `dst` (same length; `dst` is resized).
pub fn to_bf16(src: &[f32], dst: &mut Vec<u16>) {
    dst.resize(src.len(), 0);
    dst.par_chunks_mut(64 * 1024)
        .zip(src.par_chunks(64 * 1024))
        .for_each(|(d, s)| {
            // SAFETY: `available()` was checked when the bf16 path was chosen.
            unsafe { convert_chunk(s, d) }
        });
}

#[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
unsafe fn convert_chunk(src: &[f32], dst: &mut [u16]) {
    let n = src.len();
    let mut i = 0;
    while i + 32 <= n {
        // SAFETY: i + 32 <= n for both slices (equal lengths).
        unsafe {
            let lo = _mm512_loadu_ps(src.as_ptr().add(i));
            let hi = _mm512_loadu_ps(src.as_ptr().add(i + 16));
            let packed: __m512i = std::mem::transmute(_mm512_cvtne2ps_pbh(hi, lo));
            _mm512_storeu_si512(dst.as_mut_ptr().add(i) as *mut _, packed);
        }
        i += 32;
    }
    for j in i..n {
        dst[j] = bf16_bits(src[j]) as u16;
    }
}

/// `c[m, n] (+)= a[m, k] * b[k, n]`: `a` holds bf16 bits with rows starting
/// every `a_rs` elements (`a_rs` and `k` even, so k-pairs are aligned 32-bit
/// words inside each row; a strided view such as a convolution's im2col is fine), `c` is
/// row-major with row stride `c_rs`. Rows are split across rayon's pool.
pub fn matmul(
    m: usize,
    a: &[u16],
    a_rs: usize,
    b: &PackedBf16,
    c: &mut [f32],
    c_rs: usize,
    accumulate: bool,
) {
    assert!(
        a_rs.is_multiple_of(2) && b.k.is_multiple_of(2),
        "bf16 rows must start on k-pairs"
    );
    if m == 0 {
        return;
    }
    assert!((m - 1) * a_rs + b.k <= a.len(), "a is too short");
    assert!((m - 1) * c_rs + b.n <= c.len(), "c is too short");
    let a_words = a.as_ptr() as usize;
    c.par_chunks_mut(ROWS_PER_TASK * c_rs)
        .enumerate()
        .for_each(|(task, c_rows)| {
            let row0 = task * ROWS_PER_TASK;
            let rows = (m - row0).min(ROWS_PER_TASK);
            // SAFETY: rows row0..row0+rows of `a` lie within `a` (asserted above)
            // and `c_rows` holds those rows of `c`.
            unsafe {
                block(
                    rows,
                    (a_words as *const u16).add(row0 * a_rs),
                    a_rs,
                    b,
                    c_rows.as_mut_ptr(),
                    c_rs,
                    accumulate,
                )
            }
        });
}

/// One task's rows: k in cache blocks, then micro-tiles of `MR x NR`.
#[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
unsafe fn block(
    rows: usize,
    a: *const u16,
    a_rs: usize,
    b: &PackedBf16,
    c: *mut f32,
    c_rs: usize,
    accumulate: bool,
) {
    let panels = b.n.div_ceil(NR);
    let mut q0 = 0;
    while q0 < b.k_pairs {
        let kc = (b.k_pairs - q0).min(KC);
        let acc_in = accumulate || q0 > 0;
        let mut r = 0;
        while r < rows {
            let mr = (rows - r).min(MR);
            for p in 0..panels {
                let cols = (b.n - p * NR).min(NR);
                // SAFETY: in-bounds by construction of the loops and the caller's checks.
                unsafe {
                    let a_tile = (a.add(r * a_rs) as *const u32).add(q0);
                    let b_tile = b.data.as_ptr().add((p * b.k_pairs + q0) * NR);
                    let c_tile = c.add(r * c_rs + p * NR);
                    match mr {
                        MR => {
                            kernel::<MR>(kc, a_tile, a_rs / 2, b_tile, c_tile, c_rs, cols, acc_in)
                        }
                        _ => {
                            kernel_dyn(mr, kc, a_tile, a_rs / 2, b_tile, c_tile, c_rs, cols, acc_in)
                        }
                    }
                }
            }
            r += mr;
        }
        q0 += kc;
    }
}

/// Micro-tiles of fewer than `MR` rows, one row at a time.
#[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
#[allow(clippy::too_many_arguments)]
unsafe fn kernel_dyn(
    mr: usize,
    kc: usize,
    a: *const u32,
    a_rs: usize,
    b: *const u32,
    c: *mut f32,
    c_rs: usize,
    cols: usize,
    acc_in: bool,
) {
    for r in 0..mr {
        // SAFETY: row r < mr of the tile.
        unsafe {
            kernel::<1>(
                kc,
                a.add(r * a_rs),
                a_rs,
                b,
                c.add(r * c_rs),
                c_rs,
                cols,
                acc_in,
            )
        }
    }
}

/// `R x 32` tile: `kc` k-pairs of `vdpbf16ps`, then (masked) stores.
#[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
#[allow(clippy::too_many_arguments)]
#[inline]
unsafe fn kernel<const R: usize>(
    kc: usize,
    a: *const u32,
    a_rs: usize,
    b: *const u32,
    c: *mut f32,
    c_rs: usize,
    cols: usize,
    acc_in: bool,
) {
    let mask_lo: __mmask16 = if cols >= 16 {
        0xffff
    } else {
        (1u32 << cols) as u16 - 1
    };
    let mask_hi: __mmask16 = if cols >= 32 {
        0xffff
    } else if cols > 16 {
        (1u32 << (cols - 16)) as u16 - 1
    } else {
        0
    };
    let mut acc = [[_mm512_setzero_ps(); 2]; R];
    // SAFETY (whole body): pointers are in bounds per the caller; masked
    // loads and stores touch only the `cols` valid columns.
    unsafe {
        if acc_in {
            for (r, row) in acc.iter_mut().enumerate() {
                row[0] = _mm512_maskz_loadu_ps(mask_lo, c.add(r * c_rs));
                row[1] = _mm512_maskz_loadu_ps(mask_hi, c.add(r * c_rs + 16));
            }
        }
        for q in 0..kc {
            let b0: __m512bh = std::mem::transmute(_mm512_loadu_si512(b.add(q * NR) as *const _));
            let b1: __m512bh =
                std::mem::transmute(_mm512_loadu_si512(b.add(q * NR + 16) as *const _));
            for (r, row) in acc.iter_mut().enumerate() {
                let av: __m512bh =
                    std::mem::transmute(_mm512_set1_epi32(*a.add(r * a_rs + q) as i32));
                row[0] = _mm512_dpbf16_ps(row[0], av, b0);
                row[1] = _mm512_dpbf16_ps(row[1], av, b1);
            }
        }
        for (r, row) in acc.iter().enumerate() {
            _mm512_mask_storeu_ps(c.add(r * c_rs), mask_lo, row[0]);
            _mm512_mask_storeu_ps(c.add(r * c_rs + 16), mask_hi, row[1]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Products of bf16-rounded inputs, summed in f64: what the kernel computes up to f32 summation.
    fn reference(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f64> {
        let r = |x: f32| half::bf16::from_f32(x).to_f32() as f64;
        let mut c = vec![0f64; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|l| r(a[i * k + l]) * r(b[l * n + j])).sum();
            }
        }
        c
    }

    #[test]
    fn bf16_matmul_matches_rounded_reference_on_ragged_shapes() {
        if !available() {
            eprintln!("skipping: this CPU has no AVX512-BF16");
            return;
        }
        // m not a multiple of MR or of the task size, n not a multiple of 32, k > KC pairs.
        let (m, k, n) = (101, 2 * KC + 6, 45);
        let a: Vec<f32> = (0..m * k)
            .map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0)
            .collect();
        let b: Vec<f32> = (0..k * n)
            .map(|i| ((i * 104_729) % 997) as f32 / 498.5 - 1.0)
            .collect();
        let packed = PackedBf16::new(&b, k, n);
        let mut a16 = Vec::new();
        to_bf16(&a, &mut a16);
        let mut c = vec![1.0f32; m * n];
        matmul(m, &a16, k, &packed, &mut c, n, false);
        let expected = reference(&a, &b, m, k, n);
        for (x, y) in c.iter().zip(&expected) {
            assert!((*x as f64 - y).abs() < 1e-3, "{x} vs {y}");
        }
        // Accumulating adds the same product again.
        matmul(m, &a16, k, &packed, &mut c, n, true);
        for (x, y) in c.iter().zip(&expected) {
            assert!((*x as f64 - 2.0 * y).abs() < 2e-3, "{x} vs {}", 2.0 * y);
        }
    }

    #[test]
    fn conversion_rounds_to_nearest_even_like_half() {
        if !available() {
            return;
        }
        let x: Vec<f32> = (0..1000)
            .map(|i| (i as f32 * 0.37).sin() * 1e3 + 1.0 / (i as f32 + 1.0))
            .collect();
        let mut d = Vec::new();
        to_bf16(&x, &mut d);
        for (v, bits) in x.iter().zip(&d) {
            assert_eq!(*bits, half::bf16::from_f32(*v).to_bits());
        }
    }
}
