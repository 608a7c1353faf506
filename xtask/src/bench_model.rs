//! The model both benchmarks run (`bench encoder` in `bench.rs`, `bench
//! engine` in `bench_engine.rs`): a random-weight encoder of DistilHuBERT's
//! exact shape with its ONNX export and PyTorch's reference hidden states,
//! built by `models/reference/bench_encoder.py make` into a directory under
//! the workspace.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

/// The workspace root (the folder above `xtask/`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or(Path::new("."))
        .to_owned()
}

/// `path` relative to the workspace root unless absolute.
pub fn in_workspace(path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_owned()
    } else {
        workspace_root().join(path)
    }
}

/// Builds the DistilHuBERT-size random model in `model` unless it is there.
pub fn ensure_model(model: &Path, python: &str) -> Result<()> {
    if model.join("model.onnx").exists() && model.join("parity.safetensors").exists() {
        return Ok(());
    }
    let script = workspace_root().join("models/reference/bench_encoder.py");
    eprintln!(
        "building the DistilHuBERT-size random model in {}",
        model.display()
    );
    let status = Command::new(python)
        .arg(&script)
        .args(["make", "--out"])
        .arg(model)
        .status()
        .context("running bench_encoder.py make (is the reference Python stack installed?)")?;
    if !status.success() {
        bail!("bench_encoder.py make failed");
    }
    Ok(())
}
