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

/// What one process cost, from `/usr/bin/time -v`.
pub struct Cost {
    /// Wall time, seconds.
    pub wall_s: f64,
    /// Peak resident memory, MB.
    pub peak_rss_mb: f64,
    /// What it printed.
    pub stdout: String,
}

/// Runs `cmd` under `/usr/bin/time -v`: wall time, peak RSS, stdout.
pub fn timed(cmd: &mut Command) -> Result<Cost> {
    let program = cmd.get_program().to_owned();
    let mut wrapped = Command::new("/usr/bin/time");
    wrapped.arg("-v").arg(&program).args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            wrapped.env(k, v);
        }
    }
    let t0 = std::time::Instant::now();
    let out = wrapped.output().with_context(|| {
        format!("running /usr/bin/time -v {program:?} (is GNU time installed?)")
    })?;
    let wall_s = t0.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        let args: Vec<_> = cmd.get_args().collect();
        bail!("{program:?} {args:?} failed:\n{stderr}");
    }
    let kb: f64 = stderr
        .lines()
        .find_map(|l| l.trim().strip_prefix("Maximum resident set size (kbytes):"))
        .context("no peak RSS in /usr/bin/time -v's report")?
        .trim()
        .parse()?;
    Ok(Cost {
        wall_s,
        peak_rss_mb: kb / 1024.0,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
    })
}
