//! `--device` parsing shared by the verbs that run a model.

use anyhow::{bail, Result};
use candle_core::Device;

/// Where a model runs.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum DeviceArg {
    /// The CPU (always available).
    Cpu,
    /// The first CUDA GPU (build with `--features cuda`).
    Cuda,
    /// The Apple GPU (build with `--features metal`).
    Metal,
}

impl DeviceArg {
    /// Opens the device, with a clear message when the build lacks its feature.
    pub fn open(self) -> Result<Device> {
        Ok(match self {
            DeviceArg::Cpu => Device::Cpu,
            DeviceArg::Cuda => {
                if !candle_core::utils::cuda_is_available() {
                    bail!("CUDA is not available: build with `--features cuda` on a machine with a CUDA GPU");
                }
                Device::new_cuda(0)?
            }
            DeviceArg::Metal => {
                if !candle_core::utils::metal_is_available() {
                    bail!("Metal is not available: build with `--features metal` on macOS");
                }
                Device::new_metal(0)?
            }
        })
    }
}

/// `--precision`: the number format the model computes in.
#[derive(Clone, Copy, Debug, Default, clap::ValueEnum)]
pub enum PrecisionArg {
    /// f32 throughout: the reference, the same on every machine.
    F32,
    /// bf16 matrix products with f32 sums (fast on CPUs with AVX512-BF16).
    Bf16,
    /// bf16 on a CPU with AVX512-BF16 for a model whose manifest records a
    /// bf16 check within budget, else f32.
    #[default]
    Auto,
}

impl PrecisionArg {
    /// The runtime's precision.
    pub fn precision(self) -> emoscope::engine::Precision {
        match self {
            PrecisionArg::F32 => emoscope::engine::Precision::F32,
            PrecisionArg::Bf16 => emoscope::engine::Precision::Bf16,
            PrecisionArg::Auto => emoscope::engine::Precision::Auto,
        }
    }

    /// Loads the model in `dir` onto `device` in this precision, saying
    /// (at info level) what `auto` chose and why.
    pub fn load(
        self,
        dir: &std::path::Path,
        device: &Device,
    ) -> Result<Box<dyn emoscope::engine::EmotionPredictor>> {
        use anyhow::Context as _;
        use emoscope::engine::ResolvedPrecision;
        let precision = self.precision();
        match precision.resolve(dir, device) {
            ResolvedPrecision::F32(Some(why)) => {
                tracing::info!("computing in f32 ({why})")
            }
            ResolvedPrecision::F32(None) => tracing::debug!("computing in f32"),
            ResolvedPrecision::Bf16 => {
                tracing::info!("computing in bf16 (--precision {precision})")
            }
        }
        emoscope::engine::load_predictor_with(dir, device, precision)
            .with_context(|| format!("loading model from {}", dir.display()))
    }
}
