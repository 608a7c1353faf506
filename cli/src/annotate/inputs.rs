//! Which files `annotate` works on, where their outputs go, and which shard
//! does which.
//!
//! Inputs are audio files, directories (searched recursively for the audio
//! extensions below, hidden entries and the output directory skipped) and
//! manifests (one audio path per line, optionally a TAB and its transcript;
//! lines starting with `#` are comments; relative paths are relative to the manifest). Every
//! input gets an output stem: its path below the directory it was found in
//! (or below the manifest's directory, or just its name) without the
//! extension, so a corpus's layout is mirrored under `--out`. Inputs whose
//! stems would collide get unique ones: files of the same name from
//! different folders (`dup/a/x.wav` and `dup/b/x.wav`, given as files or as
//! the folders `dup/a` and `dup/b`) keep their path below the folder the
//! colliding files share (`a/x`, `b/x`), and files that differ only in
//! their extension (`a.wav` and `a.flac`) keep it (`a.wav`, `a.flac`). An
//! input that cannot be taken (a missing file, a bad manifest line) becomes
//! a job that fails with the reason, so that one bad line never stops the
//! others.
//! Jobs are sorted by input path and job `k` belongs to shard `k mod N`: the
//! same inputs give the same split on every machine of a job array.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use emoscope::audio::{find_audio_files, AUDIO_EXTENSIONS};

/// One file to annotate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// The audio file.
    pub input: PathBuf,
    /// A transcript given for it (command line or manifest), instead of a sidecar.
    pub transcript: Option<PathBuf>,
    /// A speaker file given for it (`--speakers`), instead of a sidecar.
    pub speakers: Option<PathBuf>,
    /// Output path below `--out`, without the format suffix.
    pub stem: PathBuf,
    /// Why this input cannot be annotated (missing file, bad manifest line):
    /// the job fails with this message without touching anything.
    pub problem: Option<String>,
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

/// An input as found: the audio, its transcript, its path below the folder
/// it was found in (the stem's base) and what is wrong with it, if anything.
struct Found {
    input: PathBuf,
    transcript: Option<PathBuf>,
    rel: PathBuf,
    problem: Option<String>,
}

impl Found {
    fn new(input: PathBuf, transcript: Option<PathBuf>, rel: PathBuf) -> Self {
        Self {
            input,
            transcript,
            rel,
            problem: None,
        }
    }
}

/// Collects the jobs for `inputs` and `manifests`, skipping anything under
/// `out`. Fails only when nothing at all can be annotated or `--transcript`
/// or `--speakers` does not name exactly one input; a missing input or a
/// bad manifest line is a job that fails.
pub fn collect(
    inputs: &[PathBuf],
    manifests: &[PathBuf],
    (transcript, speakers): (Option<&Path>, Option<&Path>),
    out: &Path,
) -> Result<Vec<Job>> {
    let out_abs = std::path::absolute(out).unwrap_or_else(|_| out.to_owned());
    let mut found: Vec<Found> = Vec::new();
    for input in inputs {
        let name = PathBuf::from(input.file_name().unwrap_or(input.as_os_str()));
        match std::fs::metadata(input) {
            Err(e) => found.push(Found {
                problem: Some(format!("cannot read the input: {}", super::io_reason(&e))),
                ..Found::new(input.clone(), None, name)
            }),
            Ok(meta) if meta.is_dir() => {
                let mut files = Vec::new();
                if let Err(e) = find_audio_files(input, &out_abs, &mut files) {
                    found.push(Found {
                        problem: Some(format!("searching the folder: {}", super::io_reason(&e))),
                        ..Found::new(input.clone(), None, name)
                    });
                }
                files.sort();
                for f in files {
                    let rel = f.strip_prefix(input).unwrap_or(&f).to_owned();
                    found.push(Found::new(f, None, rel));
                }
            }
            Ok(_) => found.push(Found::new(input.clone(), None, name)),
        }
    }
    for m in manifests {
        found.extend(read_manifest(m));
    }
    if let Some(t) = transcript {
        if found.len() != 1 {
            bail!("--transcript names one transcript, but there are {} inputs; give each its own sidecar or use a manifest", found.len());
        }
        found[0].transcript = Some(t.to_owned());
    }
    if speakers.is_some() && found.len() != 1 {
        bail!("--speakers names the speaker turns of one recording, but there are {} inputs; give each its own `name.rttm` beside it", found.len());
    }
    if found.is_empty() {
        bail!(
            "no audio files found (looked for {})",
            AUDIO_EXTENSIONS.join(", ")
        );
    }
    // One job per file, even when it is named twice.
    let mut seen = std::collections::HashSet::new();
    found.retain(|f| seen.insert(absolute(&f.input)));
    found.sort_by(|a, b| a.input.cmp(&b.input));
    let stems = unique_stems(&found);
    Ok(found
        .into_iter()
        .zip(stems)
        .map(|(f, stem)| Job {
            input: f.input,
            transcript: f.transcript,
            speakers: speakers.map(Path::to_owned),
            stem,
            problem: f.problem,
        })
        .collect())
}

/// The file's real path (symbolic links and `..` resolved), else its absolute path.
fn absolute(p: &Path) -> PathBuf {
    std::fs::canonicalize(p)
        .or_else(|_| std::path::absolute(p))
        .unwrap_or_else(|_| p.to_owned())
}

/// Output stems for `found` (see the module docs): unique, and the same for
/// the same inputs on every machine.
fn unique_stems(found: &[Found]) -> Vec<PathBuf> {
    let plain = |rel: &Path| rel.with_extension("");
    let groups = |rels: &[PathBuf]| {
        let mut g: HashMap<PathBuf, Vec<usize>> = HashMap::new();
        for (i, rel) in rels.iter().enumerate() {
            g.entry(plain(rel)).or_default().push(i);
        }
        g
    };
    let mut rels: Vec<PathBuf> = found.iter().map(|f| f.rel.clone()).collect();
    // Same name from different folders: the path below the folder they share.
    for members in groups(&rels).into_values().filter(|m| m.len() > 1) {
        let abs: Vec<PathBuf> = members.iter().map(|&i| absolute(&found[i].input)).collect();
        if abs.iter().all(|a| a.parent() == abs[0].parent()) {
            continue; // one folder: only the extensions differ
        }
        let mut common: PathBuf = abs[0].parent().map(Path::to_owned).unwrap_or_default();
        while !abs.iter().all(|a| a.starts_with(&common)) {
            if !common.pop() {
                break;
            }
        }
        for (&i, a) in members.iter().zip(&abs) {
            if let Ok(below) = a.strip_prefix(&common) {
                rels[i] = below.to_owned();
            }
        }
    }
    // Same path but for the extension: keep the extension.
    let collide = groups(&rels);
    let mut stems: Vec<PathBuf> = rels
        .iter()
        .map(|rel| {
            if collide[&plain(rel)].len() > 1 {
                rel.clone()
            } else {
                plain(rel)
            }
        })
        .collect();
    // A stem stays below --out: nothing absolute, no `..`.
    for (stem, f) in stems.iter_mut().zip(found) {
        if stem
            .components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)))
        {
            *stem = plain(Path::new(f.input.file_name().unwrap_or_default()));
        }
    }
    // Whatever still collides (a re-rooted path meeting another input's)
    // gets a number, in input order.
    let mut taken: std::collections::HashSet<PathBuf> = std::collections::HashSet::new();
    for stem in &mut stems {
        let mut n = 1;
        let base = stem.clone();
        while !taken.insert(stem.clone()) {
            n += 1;
            let mut name = base.as_os_str().to_owned();
            name.push(format!("-{n}"));
            *stem = PathBuf::from(name);
        }
    }
    stems
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

/// The manifest's inputs; an unreadable manifest or a bad line is an input
/// that fails (named `manifest:line`), so the other lines still run.
fn read_manifest(path: &Path) -> Vec<Found> {
    let failed = |input: PathBuf, problem: String| Found {
        problem: Some(problem),
        ..Found::new(
            input.clone(),
            None,
            PathBuf::from(input.file_name().unwrap_or_default()),
        )
    };
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            return vec![failed(
                path.to_owned(),
                format!("cannot read the manifest: {}", super::io_reason(&e)),
            )]
        }
    };
    let base = path.parent().unwrap_or(Path::new("."));
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end();
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let at = format!("{}: line {}", path.display(), i + 1);
        let mut cols = line.split('\t');
        let audio = cols.next().unwrap_or("").trim();
        let transcript = cols.next().map(str::trim).filter(|t| !t.is_empty());
        if cols.next().is_some() || audio.is_empty() {
            out.push(failed(
                PathBuf::from(format!("{}:{}", path.display(), i + 1)),
                format!("{at}: expected `audio path` or `audio path<TAB>transcript path`, found `{line}`"),
            ));
            continue;
        }
        let audio = base.join(audio);
        let rel = audio
            .strip_prefix(base)
            .map(Path::to_owned)
            .unwrap_or_else(|_| PathBuf::from(audio.file_name().unwrap_or_default()));
        let mut f = Found::new(audio.clone(), transcript.map(|t| base.join(t)), rel);
        if !audio.is_file() {
            f.problem = Some(format!("{at}: no audio file {}", audio.display()));
        }
        out.push(f);
    }
    out
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
                speakers: None,
                stem: format!("{i}").into(),
                problem: None,
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
        let jobs = collect(
            std::slice::from_ref(&root),
            &[],
            (None, None),
            &root.join("out"),
        )
        .unwrap();
        let stems: Vec<String> = jobs
            .iter()
            .map(|j| j.stem.to_string_lossy().into_owned())
            .collect();
        assert_eq!(stems, ["a/x", "a/y.flac", "a/y.wav", "b"]);
    }

    /// A folder search finds every format the decoder reads, M4A/MP4 voice
    /// memos and podcasts included (it once skipped them).
    #[test]
    fn directories_find_every_decoded_format() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("corpus");
        std::fs::create_dir_all(&root).unwrap();
        for ext in emoscope::audio::AUDIO_EXTENSIONS {
            std::fs::write(root.join(format!("f.{ext}")), b"").unwrap();
        }
        std::fs::write(root.join("memo.M4A"), b"").unwrap();
        let jobs = collect(
            std::slice::from_ref(&root),
            &[],
            (None, None),
            &d.path().join("out"),
        )
        .unwrap();
        let names: Vec<String> = jobs
            .iter()
            .map(|j| j.input.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            jobs.len(),
            emoscope::audio::AUDIO_EXTENSIONS.len() + 1,
            "{names:?}"
        );
        assert!(names.contains(&"f.m4a".to_owned()) && names.contains(&"memo.M4A".to_owned()));
    }

    #[test]
    fn manifests() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("s")).unwrap();
        std::fs::write(d.path().join("s/one.wav"), b"").unwrap();
        std::fs::write(d.path().join("m.tsv"), "# corpus\ns/one.wav\ts/one.srt\n\n").unwrap();
        let jobs = collect(
            &[],
            &[d.path().join("m.tsv")],
            (None, None),
            &d.path().join("out"),
        )
        .unwrap();
        assert_eq!(jobs.len(), 1);
        assert_eq!(jobs[0].stem, Path::new("s/one"));
        assert_eq!(
            jobs[0].transcript.as_deref(),
            Some(d.path().join("s/one.srt").as_path())
        );
        // Bad lines fail on their own; the good ones still run.
        std::fs::write(
            d.path().join("bad.tsv"),
            "s/missing.wav\ns/one.wav\ta.srt\tthird column\ns/one.wav\n",
        )
        .unwrap();
        let jobs = collect(&[], &[d.path().join("bad.tsv")], (None, None), d.path()).unwrap();
        let problems: Vec<Option<&str>> = jobs.iter().map(|j| j.problem.as_deref()).collect();
        assert_eq!(jobs.len(), 3, "{jobs:?}");
        assert!(
            problems
                .iter()
                .any(|p| p.is_some_and(|p| p.contains("line 1: no audio file"))),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.is_some_and(|p| p.contains("line 2: expected"))),
            "{problems:?}"
        );
        assert_eq!(problems.iter().filter(|p| p.is_none()).count(), 1);
        // An unreadable manifest is one failed input, and a missing input another.
        let jobs = collect(
            &[d.path().join("nowhere.wav")],
            &[d.path().join("missing.tsv")],
            (None, None),
            d.path(),
        )
        .unwrap();
        assert_eq!(jobs.len(), 2);
        assert!(jobs.iter().all(|j| j.problem.is_some()), "{jobs:?}");
    }

    #[test]
    fn same_names_in_different_folders_get_their_own_stems() {
        // dup/a/x.wav and dup/b/x.wav, given as files or as folders, must not
        // share outputs: they keep their path below dup.
        let d = tempfile::tempdir().unwrap();
        let dup = d.path().join("dup");
        for f in ["a/x.wav", "b/x.wav", "b/x.flac", "b/y.wav"] {
            std::fs::create_dir_all(dup.join(f).parent().unwrap()).unwrap();
            std::fs::write(dup.join(f), b"").unwrap();
        }
        let stems = |inputs: &[PathBuf]| -> Vec<String> {
            collect(inputs, &[], (None, None), &d.path().join("out"))
                .unwrap()
                .iter()
                .map(|j| j.stem.to_string_lossy().into_owned())
                .collect()
        };
        assert_eq!(
            stems(&[dup.join("a/x.wav"), dup.join("b/x.wav")]),
            ["a/x", "b/x"]
        );
        assert_eq!(
            stems(&[dup.join("a"), dup.join("b")]),
            ["a/x", "b/x.flac", "b/x.wav", "y"]
        );
        // Alone, a file keeps its plain name.
        assert_eq!(stems(&[dup.join("a/x.wav")]), ["x"]);
        // `..` in a path never takes an output out of --out (jobs are in
        // the order of the paths as given: `dup/a/../b` sorts first).
        assert_eq!(
            stems(&[dup.join("a/x.wav"), dup.join("a/../b/x.wav")]),
            ["b/x", "a/x"]
        );
    }
}
