//! Writing a file so that it is either complete or absent: every export
//! (`emoscope annotate`'s outputs and index, the plugin's marker files) and
//! every model manifest (`emoscope.json`, which training rewrites as it
//! records routing and precision checks) goes through [`write_atomic`]. The bytes go to a temporary file beside the
//! target, are flushed to disk, and the temporary file is renamed over the
//! target; on any failure (a full disk, a vanished folder) the temporary
//! file is removed and the target is left as it was.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` atomically (see the module docs).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomic_with(path, |f| f.write_all(bytes))
}

/// Like [`write_atomic`], with `fill` writing the contents into the
/// temporary file.
pub fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut File) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let tmp = temporary_name(path);
    let result = (|| {
        let mut file = File::create(&tmp)?;
        fill(&mut file)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)?;
        // The rename itself is durable once the folder is synced (best
        // effort: not every platform lets a folder be opened for this).
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// `name.tmp-PID` beside `path`.
fn temporary_name(path: &Path) -> PathBuf {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp-{}", std::process::id()));
    PathBuf::from(tmp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_replace_the_target_whole() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("out.json");
        write_atomic(&p, b"first").unwrap();
        write_atomic(&p, b"second").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"second");
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_failed_write_leaves_no_temporary_file_and_the_old_target() {
        // A full disk fails part-way through the contents: simulate it with a
        // writer that writes some bytes and then reports ENOSPC.
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("out.json");
        write_atomic(&p, b"old").unwrap();
        let e = write_atomic_with(&p, |f| {
            f.write_all(b"partial")?;
            Err(std::io::Error::from_raw_os_error(28)) // ENOSPC
        })
        .unwrap_err();
        assert_eq!(e.raw_os_error(), Some(28));
        let names: Vec<_> = std::fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["out.json"], "no .tmp file left behind");
        assert_eq!(std::fs::read(&p).unwrap(), b"old");
        // A folder that does not exist: the error, and nothing written.
        let missing = d.path().join("no/such/dir/out.json");
        assert!(write_atomic(&missing, b"x").is_err());
    }
}
