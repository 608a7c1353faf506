//! Where Emoscope keeps things on the user's machine.

use std::path::PathBuf;

/// The model used when a command is given no `--model`: `$EMOSCOPE_MODEL`
/// if set, else `<data dir>/emoscope/default-model` (on Linux
/// `~/.local/share/emoscope/default-model`), where `cargo xtask demo-model`
/// installs the demo model.
pub fn default_model_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("EMOSCOPE_MODEL") {
        return PathBuf::from(dir);
    }
    dirs::data_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join("emoscope")
        .join("default-model")
}
