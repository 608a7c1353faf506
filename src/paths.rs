//! Where Emoscope looks for things on disk by default.

use std::path::PathBuf;

/// Environment variable naming the default model directory.
pub const MODEL_ENV: &str = "EMOSCOPE_MODEL";

/// The model used when a command is given no `--model`: `$EMOSCOPE_MODEL`
/// when set (and not empty), else `<data dir>/emoscope/default-model`, the
/// data dir being `$XDG_DATA_HOME` or `~/.local/share` on Linux,
/// `~/Library/Application Support` on macOS and `%APPDATA%` on Windows.
/// `None` when neither the variable nor a data directory is available.
pub fn default_model_dir() -> Option<PathBuf> {
    match std::env::var_os(MODEL_ENV) {
        Some(v) if !v.is_empty() => Some(PathBuf::from(v)),
        _ => dirs::data_dir().map(|d| d.join("emoscope").join("default-model")),
    }
}
