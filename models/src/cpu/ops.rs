//! candle custom ops that run the vectorised element-wise kernels on CPU
//! tensors: exact GELU and last-axis softmax.
//!
//! candle's CPU `gelu_erf` and `softmax_last_dim` evaluate `erf` / `exp` one
//! scalar at a time; these run [`super::simd`]'s branch-free versions, which
//! LLVM vectorises. Inference only: they have no backward pass, so training
//! loads models with [`crate::Kernels::Candle`].

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp1, Layout, Shape, Tensor};
use rayon::prelude::*;

use super::simd;

/// Elements per parallel task.
const CHUNK: usize = 16 * 1024;

fn contiguous_f32<'a>(
    storage: &'a CpuStorage,
    layout: &Layout,
    op: &str,
) -> candle_core::Result<&'a [f32]> {
    let CpuStorage::F32(data) = storage else {
        candle_core::bail!("{op}: expected f32, got {:?}", storage.dtype());
    };
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&data[start..end]),
        None => candle_core::bail!("{op}: input must be contiguous"),
    }
}

struct Gelu;

impl CustomOp1 for Gelu {
    fn name(&self) -> &'static str {
        "emoscope-gelu"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let mut out = contiguous_f32(storage, layout, self.name())?.to_vec();
        out.par_chunks_mut(CHUNK).for_each(simd::gelu_slice);
        Ok((CpuStorage::F32(out), layout.shape().clone()))
    }
}

struct SoftmaxLastDim;

impl CustomOp1 for SoftmaxLastDim {
    fn name(&self) -> &'static str {
        "emoscope-softmax-last-dim"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let mut out = contiguous_f32(storage, layout, self.name())?.to_vec();
        let n = layout.shape().dims().last().copied().unwrap_or(1).max(1);
        let rows_per_task = (CHUNK / n).max(1);
        out.par_chunks_mut(rows_per_task * n)
            .for_each(|rows| rows.chunks_exact_mut(n).for_each(simd::softmax_row));
        Ok((CpuStorage::F32(out), layout.shape().clone()))
    }
}

/// Whether a tensor can take the CPU kernels (CPU, f32).
fn on_cpu_f32(x: &Tensor) -> bool {
    x.device().is_cpu() && x.dtype() == candle_core::DType::F32
}

/// Exact GELU: the vectorised kernel for CPU f32 tensors, candle's `gelu_erf` otherwise.
pub fn gelu(x: &Tensor) -> candle_core::Result<Tensor> {
    if on_cpu_f32(x) {
        x.contiguous()?.apply_op1_no_bwd(&Gelu)
    } else {
        x.gelu_erf()
    }
}

/// Softmax over the last axis: the vectorised kernel for CPU f32 tensors, candle's otherwise.
pub fn softmax_last_dim(x: &Tensor) -> candle_core::Result<Tensor> {
    if on_cpu_f32(x) {
        x.contiguous()?.apply_op1_no_bwd(&SoftmaxLastDim)
    } else {
        candle_nn::ops::softmax_last_dim(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
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
    }

    #[test]
    fn gelu_op_equals_candle_gelu_erf() {
        // A grid over [-12, 12]; |gelu(x)| grows like |x|, so the bound is relative.
        let x = Tensor::arange(-6000i64, 6000, &Device::Cpu)
            .unwrap()
            .to_dtype(candle_core::DType::F32)
            .unwrap();
        let x = (x / 500.0).unwrap();
        let (a, b) = (gelu(&x).unwrap(), x.gelu_erf().unwrap());
        let scale = b.abs().unwrap().maximum(1f32).unwrap();
        let rel = ((&a - &b).unwrap().abs().unwrap() / scale).unwrap();
        let worst: f32 = rel.max(0).unwrap().to_scalar().unwrap();
        assert!(worst < 1e-6, "worst relative difference {worst}");
    }

    #[test]
    fn softmax_op_equals_candle_softmax_on_strided_input() {
        // A transposed (non-contiguous) view exercises the contiguous copy.
        let x = Tensor::randn(0f32, 4.0, (3, 67, 45), &Device::Cpu)
            .unwrap()
            .transpose(1, 2)
            .unwrap();
        let expected = candle_nn::ops::softmax_last_dim(&x.contiguous().unwrap()).unwrap();
        // Probabilities are at most 1, so 1e-6 is a few f32 ulp.
        assert!(max_diff(&softmax_last_dim(&x).unwrap(), &expected) < 1e-6);
    }
}
