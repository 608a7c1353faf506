//! Which files `annotate` works on, where their outputs go, and which shard
//! does which.
//!
//! Inputs are audio files, directories (searched recursively for the audio
//! extensions below, hidden entries and the output directory skipped) and
//! manifests (one audio path per line, optionally a TAB and its transcript;
//! lines starting with `#` are comments; relative paths are relative to the manifest). Every
//! input gets an output stem: its path below the directory it was found in
//! (or below the manifest's directory, or just its name) without the
//! extension, so a corpus's layout is mirrored under `--out`; inputs whose
//! stems would collide (`a.wav` and `a.flac`) keep their extension in it.
//! Jobs are sorted by input path and job `k` belongs to shard `k mod N`: the
//! same inputs give the same split on every machine of a job array.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// Extensions of the audio files a directory search picks up (lower case).
pub const AUDIO_EXTENSIONS: [&str; 9] = [
    "wav", "wave", "flac", "mp3", "ogg", "oga", "aif", "aiff", "aifc",
];

/// One file to annotate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// The audio file.
    pub input: PathBuf,
    /// A transcript given for it (command line or manifest), instead of a sidecar.
    pub transcript: Option<PathBuf>,
    /// Output path below `--out`, without the format suffix.
    pub stem: PathBuf,
}

/// `I/N`: this process does shard `index` of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 0-based shard index (`SLURM_ARRAY_TASK_ID`, `JOB_COMPLETION_INDEX`).
    pub index: usize,
    /// Number of shards.
    pub count: usize,
}

impl std::str::FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let parsed = s.split_once('/').and_then(|(i, n)| {
            Some((
                i.trim().parse::<usize>().ok()?,
                n.trim().parse::<usize>().ok()?,
            ))
        });
        match parsed {
            Some((index, count)) if count > 0 && index < count => Ok(Self { index, count }),
            _ => Err(format!("`{s}`: expected I/N with 0 <= I < N, e.g. 0/4")),
        }
    }
}

/// Collects the jobs for `inputs` and `manifests`, skipping anything under `out`.
pub fn collect(
    inputs: &[PathBuf],
    manifests: &[PathBuf],
    transcript: Option<&Path>,
    out: &Path,
) -> Result<Vec<Job>> {
    let out_abs = std::path::absolute(out).unwrap_or_else(|_| out.to_owned());
    let mut found: Vec<(PathBuf, Option<PathBuf>, PathBuf)> = Vec::new(); // input, transcript, stem base
    for input in inputs {
        let meta =
            std::fs::metadata(input).with_context(|| format!("input {}", input.display()))?;
        if meta.is_dir() {
            let mut files = Vec::new();
            walk(input, &out_abs, &mut files)
                .with_context(|| format!("searching {}", input.display()))?;
            files.sort();
            for f in files {
                let rel = f.strip_prefix(input).unwrap_or(&f).to_owned();
                found.push((f, None, rel));
            }
        } else {
            let name = PathBuf::from(input.file_name().unwrap_or(input.as_os_str()));
            found.push((input.clone(), None, name));
        }
    }
    for m in manifests {
        found.extend(read_manifest(m)?);
    }
    if let Some(t) = transcript {
        if found.len() != 1 {
            bail!("--transcript names one transcript, but there are {} inputs; give each its own sidecar or use a manifest", found.len());
        }
        found[0].1 = Some(t.to_owned());
    }
    if found.is_empty() {
        bail!(
            "no audio files found (looked for {})",
            AUDIO_EXTENSIONS.join(", ")
        );
    }
    // One job per file, even when it is named twice.
    let mut seen = std::collections::HashSet::new();
    found.retain(|(f, _, _)| seen.insert(std::path::absolute(f).unwrap_or_else(|_| f.clone())));
    found.sort_by(|a, b| a.0.cmp(&b.0));
    // Stems: without the extension unless that collides.
    let plain = |rel: &Path| rel.with_extension("");
    let mut count: HashMap<PathBuf, usize> = HashMap::new();
    for (_, _, rel) in &found {
        *count.entry(plain(rel)).or_default() += 1;
    }
    Ok(found
        .into_iter()
        .map(|(input, transcript, rel)| {
            let stem = if count[&plain(&rel)] > 1 {
                rel.clone()
            } else {
                plain(&rel)
            };
            Job {
                input,
                transcript,
                stem,
            }
        })
        .collect())
}

/// The jobs of `shard` (all of them without one).
pub fn shard(jobs: Vec<Job>, shard: Option<Shard>) -> Vec<Job> {
    match shard {
        None => jobs,
        Some(s) => jobs
            .into_iter()
            .enumerate()
            .filter(|(k, _)| k % s.count == s.index)
            .map(|(_, j)| j)
            .collect(),
    }
}

/// Audio files below `dir`, not descending into `skip` (the output folder)
/// when it is a subfolder.
fn walk(dir: &Path, skip: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let ty = entry.file_type()?;
        if ty.is_dir() || (ty.is_symlink() && path.is_dir()) {
            if std::path::absolute(&path).is_ok_and(|d| d == skip) {
                continue;
            }
            walk(&path, skip, out)?;
        } else if is_audio(&path) {
            out.push(path);
        }
    }
    Ok(())
}

/// Whether `path` has one of [`AUDIO_EXTENSIONS`].
pub fn is_audio(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| AUDIO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

fn read_manifest(path: &Path) -> Result<Vec<(PathBuf, Option<PathBuf>, PathBuf)>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading manifest {}", path.display()))?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end();
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let mut cols = line.split('\t');
        let audio = cols.next().unwrap_or("").trim();
        let transcript = cols.next().map(str::trim).filter(|t| !t.is_empty());
        if cols.next().is_some() || audio.is_empty() {
            bail!("{}: line {}: expected `audio path` or `audio path<TAB>transcript path`, found `{line}`", path.display(), i + 1);
        }
        let audio = base.join(audio);
        if !audio.is_file() {
            bail!(
                "{}: line {}: no audio file {}",
                path.display(),
                i + 1,
                audio.display()
            );
        }
        let rel = audio
            .strip_prefix(base)
            .map(Path::to_owned)
            .unwrap_or_else(|_| PathBuf::from(audio.file_name().unwrap_or_default()));
        out.push((audio, transcript.map(|t| base.join(t)), rel));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_and_split_round_robin() {
        assert_eq!("1/3".parse::<Shard>(), Ok(Shard { index: 1, count: 3 }));
        for bad in ["3/3", "1/0", "x/2", "1", "-1/2"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
        let jobs: Vec<Job> = (0..7)
            .map(|i| Job {
                input: format!("{i}.wav").into(),
                transcript: None,
                stem: format!("{i}").into(),
            })
            .collect();
        let s1 = shard(jobs.clone(), Some(Shard { index: 1, count: 3 }));
        let names: Vec<_> = s1
            .iter()
            .map(|j| j.stem.to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["1", "4"]);
        // The shards partition the jobs.
        let total: usize = (0..3)
            .map(|i| shard(jobs.clone(), Some(Shard { index: i, count: 3 })).len())
            .sum();
        assert_eq!(total, 7);
    }

    #[test]
    fn directories_mirror_and_collisions_keep_extensions() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("corpus");
        std::fs::create_dir_all(root.join("a/.hidden")).unwrap();
        std::fs::create_dir_all(root.join("out")).unwrap();
        for f in [
            "a/x.wav",
            "a/y.wav",
            "a/y.flac",
            "a/.hidden/z.wav",
            "out/o.wav",
            "notes.txt",
            "b.MP3",
        ] {
            std::fs::write(root.join(f), b"").unwrap();
        }
        let jobs = collect(std::slice::from_ref(&root), &[], None, &root.join("out")).unwrap();
        let stems: Vec<String> = jobs
            .iter()
            .map(|j| j.stem.to_string_lossy().into_owned())
            .collect();
        assert_eq!(stems, ["a/x", "a/y.flac", "a/y.wav", "b"]);
    }

    #[test]
    fn manifests() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("s")).unwrap();
        std::fs::write(d.path().join("s/one.wav"), b"").unwrap();
        std::fs::write(d.path().join("m.tsv"), "# corpus\ns/one.wav\ts/one.srt\n\n").unwrap();
        let jobs = collect(&[], &[d.path().join("m.tsv")], None, &d.path().join("out")).unwrap();
        assert_eq!(jobs.len(), 1);
        assert_eq!(jobs[0].stem, Path::new("s/one"));
        assert_eq!(
            jobs[0].transcript.as_deref(),
            Some(d.path().join("s/one.srt").as_path())
        );
        std::fs::write(d.path().join("bad.tsv"), "s/missing.wav\n").unwrap();
        let e = collect(&[], &[d.path().join("bad.tsv")], None, d.path()).unwrap_err();
        assert!(e.to_string().contains("line 1: no audio file"), "{e}");
    }
}
