//! Where Emoscope looks for things on disk by default.

use std::path::PathBuf;

/// Environment variable naming the default model directory.
pub const MODEL_ENV: &str = "EMOSCOPE_MODEL";

/// The model used when a command is given no `--model`: `$EMOSCOPE_MODEL`
/// when set (and not empty), else `<data dir>/emoscope/default-model`, the
/// data dir being `$XDG_DATA_HOME` or `~/.local/share` on Linux,
/// `~/Library/Application Support` on macOS and `%APPDATA%` on Windows (the
/// current directory where the platform has none). `cargo xtask demo-model`
/// installs the demo model there.
pub fn default_model_dir() -> PathBuf {
    match std::env::var_os(MODEL_ENV) {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => dirs::data_dir()
            .unwrap_or_else(|| PathBuf::from("."))
            .join("emoscope")
            .join("default-model"),
    }
}
