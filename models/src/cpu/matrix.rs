//! A constant right-hand matrix (a layer's weight) in the precision the model
//! runs at, and its product with activations.
//!
//! In f32 the weight is kept `[k, n]` row-major and multiplied through the
//! `gemm` crate; in bf16 it is rounded and packed once for [`super::bf16`],
//! and the activations are rounded right before each product.

use std::cell::RefCell;

#[cfg(target_arch = "x86_64")]
use super::bf16::{self, PackedBf16};
use super::{sgemm, threads};

/// Arithmetic of the matrix products in the CPU kernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    /// f32 inputs, f32 sums.
    F32,
    /// bf16-rounded inputs, f32 sums (AVX512-BF16).
    Bf16,
}

enum Storage {
    F32(Vec<f32>),
    #[cfg(target_arch = "x86_64")]
    Bf16(PackedBf16),
}

/// A `[k, n]` weight matrix ready for [`Weight::matmul`].
pub struct Weight {
    storage: Storage,
    k: usize,
    n: usize,
}

#[cfg(target_arch = "x86_64")]
thread_local! {
    /// bf16 copy of the activations, reused between calls (no fresh pages per product).
    static SCRATCH: RefCell<Vec<u16>> = const { RefCell::new(Vec::new()) };
}

impl Weight {
    /// Wraps `b` (`[k, n]`, row-major) for products at `precision`. bf16
    /// needs [`super::bf16_available`] and an even `k` (whole k-pairs);
    /// otherwise the weight stays f32.
    pub fn new(b: Vec<f32>, k: usize, n: usize, precision: Precision) -> Self {
        let storage = match precision {
            #[cfg(target_arch = "x86_64")]
            Precision::Bf16 if super::bf16_available() && k.is_multiple_of(2) => {
                Storage::Bf16(PackedBf16::new(&b, k, n))
            }
            _ => Storage::F32(b),
        };
        Self { storage, k, n }
    }

    /// Inner dimension.
    pub fn k(&self) -> usize {
        self.k
    }

    /// `out[m, n] (+)= a[m, k] * self`, where row `i` of `a` starts at
    /// `a[i * a_rs]` (rows may overlap: a convolution's im2col view) and `out`
    /// has row stride `out_rs`. Panics if a slice is too short.
    #[allow(clippy::too_many_arguments)]
    pub fn matmul(
        &self,
        m: usize,
        a: &[f32],
        a_rs: usize,
        out: &mut [f32],
        out_rs: usize,
        accumulate: bool,
    ) {
        if m == 0 {
            return;
        }
        assert!(
            (m - 1) * a_rs + self.k <= a.len(),
            "activation buffer too short"
        );
        assert!(
            (m - 1) * out_rs + self.n <= out.len(),
            "output buffer too short"
        );
        match &self.storage {
            // SAFETY: bounds asserted above; `b` is [k, n] with row stride n.
            Storage::F32(b) => unsafe {
                sgemm(
                    m,
                    self.n,
                    self.k,
                    out.as_mut_ptr(),
                    out_rs as isize,
                    a.as_ptr(),
                    a_rs as isize,
                    b.as_ptr(),
                    self.n as isize,
                    accumulate,
                    threads(),
                )
            },
            #[cfg(target_arch = "x86_64")]
            Storage::Bf16(b) => SCRATCH.with(|s| {
                let mut s = s.borrow_mut();
                if a_rs.is_multiple_of(2) {
                    // Rows start on k-pairs: convert the (possibly overlapping) view once.
                    bf16::to_bf16(&a[..(m - 1) * a_rs + self.k], &mut s);
                    bf16::matmul(m, &s, a_rs, b, out, out_rs, accumulate);
                } else {
                    // Odd row stride: convert row by row into a compact [m, k] copy.
                    let mut row = Vec::new();
                    s.clear();
                    for i in 0..m {
                        bf16::to_bf16(&a[i * a_rs..i * a_rs + self.k], &mut row);
                        s.extend_from_slice(&row);
                    }
                    bf16::matmul(m, &s, self.k, b, out, out_rs, accumulate);
                }
            }),
        }
    }
}
