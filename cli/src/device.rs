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
