//! Which files `transcribe` reads and where each transcript goes.
//!
//! One input file and an `--out` that is not a folder: `--out` is the
//! transcript, in the format its extension names. Otherwise (several
//! inputs, a folder, or an `--out` that is a folder or ends in `/`) `--out`
//! is a folder and each audio file gets `<stem>.<extension>` there: a file
//! given by name its own stem, a file found in a folder (searched
//! recursively, hidden entries and the output folder skipped) its path below
//! that folder, so a corpus's layout is mirrored. Inputs that would share a
//! name keep their audio extension where that tells them apart (`a.wav.json`,
//! `a.flac.json`), and any still sharing one are numbered (`a-2.json`) in
//! input order. An input that
//! cannot be read is a job that fails with the reason, so the others still
//! run.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use emoscope::audio::{find_audio_files, AUDIO_EXTENSIONS};

use super::format::OutputFormat;

/// One file to transcribe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// The audio file.
    pub input: PathBuf,
    /// The transcript file to write.
    pub output: PathBuf,
    /// Why this input cannot be transcribed (it does not exist, a folder
    /// cannot be searched): the job fails with this message.
    pub problem: Option<String>,
}

/// What the command line asks for: the jobs, their format, and whether
/// `--out` is a folder (to be created) rather than one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// In input order, folders' files sorted.
    pub jobs: Vec<Job>,
    /// The format every job writes.
    pub format: OutputFormat,
    /// `--out` is a folder.
    pub folder: bool,
}

/// The plan for `inputs`, `--out` and `--format` (see the module docs).
pub fn plan(inputs: &[PathBuf], out: &Path, format: Option<OutputFormat>) -> Result<Plan> {
    if inputs.is_empty() {
        bail!("nothing to transcribe: give audio files or folders");
    }
    let names_folder = out.is_dir() || out.as_os_str().to_string_lossy().ends_with(['/', '\\']);
    if let [input] = inputs {
        if !input.is_dir() && !names_folder {
            let Some(named) = OutputFormat::from_path(out) else {
                bail!(
                    "--out {}: with one input, --out is the transcript file and its extension \
                     picks the format ({}); to write into a folder, end it with `/`",
                    out.display(),
                    OutputFormat::listing()
                );
            };
            if let Some(f) = format.filter(|&f| f != named) {
                bail!(
                    "--format {} but --out {} is a .{} file; drop --format (the extension \
                     picks the format) or change the extension",
                    f.extension().to_lowercase(),
                    out.display(),
                    named.extension()
                );
            }
            return Ok(Plan {
                jobs: vec![Job {
                    input: input.clone(),
                    output: out.to_owned(),
                    problem: missing(input),
                }],
                format: named,
                folder: false,
            });
        }
    }
    let format = format.unwrap_or(OutputFormat::Json);
    let found = find(inputs, out);
    if found.is_empty() {
        bail!(
            "no audio files found in {} (looked for {})",
            inputs
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            AUDIO_EXTENSIONS.join(", ")
        );
    }
    let names = unique_names(&found);
    let jobs = found
        .into_iter()
        .zip(names)
        .map(|(f, name)| {
            let mut file = name.into_os_string();
            file.push(".");
            file.push(format.extension());
            Job {
                input: f.input,
                output: out.join(file),
                problem: f.problem,
            }
        })
        .collect();
    Ok(Plan {
        jobs,
        format,
        folder: true,
    })
}

/// An input as found: the audio, its path below the folder it was found in
/// (or its file name), and what is wrong with it.
struct Found {
    input: PathBuf,
    rel: PathBuf,
    problem: Option<String>,
}

/// The audio files of `inputs`, folders searched, nothing under `out`.
fn find(inputs: &[PathBuf], out: &Path) -> Vec<Found> {
    let out_abs = std::path::absolute(out).unwrap_or_else(|_| out.to_owned());
    let mut found = Vec::new();
    let mut seen = HashSet::new();
    for input in inputs {
        let name = PathBuf::from(input.file_name().unwrap_or(input.as_os_str()));
        if input.is_dir() {
            let mut files = Vec::new();
            if let Err(e) = find_audio_files(input, &out_abs, &mut files) {
                found.push(Found {
                    input: input.clone(),
                    rel: name,
                    problem: Some(format!("cannot search the folder: {e}")),
                });
            }
            files.sort();
            for f in files {
                if seen.insert(absolute(&f)) {
                    let rel = f.strip_prefix(input).unwrap_or(&f).to_owned();
                    found.push(Found {
                        input: f,
                        rel,
                        problem: None,
                    });
                }
            }
        } else if seen.insert(absolute(input)) {
            found.push(Found {
                input: input.clone(),
                rel: name,
                problem: missing(input),
            });
        }
    }
    found
}

/// Why `input` cannot be read, if it cannot.
fn missing(input: &Path) -> Option<String> {
    match std::fs::metadata(input) {
        Ok(_) => None,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Some("cannot read the input: it does not exist".into())
        }
        Err(e) => Some(format!("cannot read the input: {e}")),
    }
}

/// The file's real path, else its absolute path.
fn absolute(p: &Path) -> PathBuf {
    std::fs::canonicalize(p)
        .or_else(|_| std::path::absolute(p))
        .unwrap_or_else(|_| p.to_owned())
}

/// Output names (without the format's extension) for `found`, unique (see
/// the module docs).
fn unique_names(found: &[Found]) -> Vec<PathBuf> {
    let plain: Vec<PathBuf> = found.iter().map(|f| f.rel.with_extension("")).collect();
    fn count<'a>(paths: impl Iterator<Item = &'a Path>) -> HashMap<&'a Path, usize> {
        let mut n = HashMap::new();
        for p in paths {
            *n.entry(p).or_default() += 1;
        }
        n
    }
    let plain_count = count(plain.iter().map(PathBuf::as_path));
    let rel_count = count(found.iter().map(|f| f.rel.as_path()));
    let mut taken = HashSet::new();
    let mut names = Vec::with_capacity(found.len());
    for (f, p) in found.iter().zip(&plain) {
        // The extension only where it tells the clashing names apart.
        let base = if plain_count[p.as_path()] > 1 && rel_count[f.rel.as_path()] == 1 {
            f.rel.clone()
        } else {
            p.clone()
        };
        let mut name = base.clone();
        let mut n = 1;
        while !taken.insert(name.clone()) {
            n += 1;
            let mut numbered = base.clone().into_os_string();
            numbered.push(format!("-{n}"));
            name = PathBuf::from(numbered);
        }
        names.push(name);
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(p: &Path) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, b"").unwrap();
    }

    #[test]
    fn one_file_writes_the_named_file_in_its_format() {
        let tmp = tempfile::tempdir().unwrap();
        let wav = tmp.path().join("talk.wav");
        touch(&wav);
        let out = tmp.path().join("talk.TextGrid");
        let p = plan(std::slice::from_ref(&wav), &out, None).unwrap();
        assert_eq!(
            p,
            Plan {
                jobs: vec![Job {
                    input: wav.clone(),
                    output: out.clone(),
                    problem: None
                }],
                format: OutputFormat::TextGrid,
                folder: false,
            }
        );
        let e = plan(std::slice::from_ref(&wav), &tmp.path().join("t.txt"), None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("picks the format (.json, .srt, .vtt or .TextGrid)"),
            "{e}"
        );
        let e = plan(std::slice::from_ref(&wav), &out, Some(OutputFormat::Srt))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("--format srt but --out "), "{e}");
    }

    #[test]
    fn a_folder_out_takes_one_file_too() {
        let tmp = tempfile::tempdir().unwrap();
        let wav = tmp.path().join("talk.wav");
        touch(&wav);
        let out = format!("{}/", tmp.path().join("out").display());
        let p = plan(&[wav], Path::new(&out), Some(OutputFormat::Vtt)).unwrap();
        assert!(p.folder);
        assert_eq!(p.jobs[0].output, Path::new(&out).join("talk.vtt"));
    }

    #[test]
    fn folders_are_mirrored_and_clashing_names_kept_apart() {
        let tmp = tempfile::tempdir().unwrap();
        let c = tmp.path().join("corpus");
        for f in [
            "a.wav",
            "a.flac",
            "sub/b.mp3",
            "notes.txt",
            ".hidden/c.wav",
            "out/d.wav",
        ] {
            touch(&c.join(f));
        }
        let other = tmp.path().join("elsewhere/b.wav");
        touch(&other);
        let out = c.join("out");
        let p = plan(&[c.clone(), other.clone(), c.join("sub/b.mp3")], &out, None).unwrap();
        let got: Vec<(PathBuf, PathBuf)> = p
            .jobs
            .iter()
            .map(|j| {
                (
                    j.input.clone(),
                    j.output.strip_prefix(&out).unwrap().to_owned(),
                )
            })
            .collect();
        // a.flac and a.wav share `a`: both keep their extension. sub/b.mp3
        // (below the folder) and elsewhere/b.wav (by name) have different
        // names; sub/b.mp3 named again is one job.
        assert_eq!(
            got,
            [
                (c.join("a.flac"), PathBuf::from("a.flac.json")),
                (c.join("a.wav"), PathBuf::from("a.wav.json")),
                (c.join("sub/b.mp3"), PathBuf::from("sub/b.json")),
                (other, PathBuf::from("b.json")),
            ]
        );
        assert_eq!(p.format, OutputFormat::Json);
    }

    #[test]
    fn the_same_name_from_two_places_is_numbered() {
        let tmp = tempfile::tempdir().unwrap();
        let (x, y) = (tmp.path().join("x/a.wav"), tmp.path().join("y/a.wav"));
        touch(&x);
        touch(&y);
        let p = plan(&[x, y], &tmp.path().join("out"), Some(OutputFormat::Srt)).unwrap();
        let names: Vec<_> = p
            .jobs
            .iter()
            .map(|j| j.output.file_name().unwrap())
            .collect();
        assert_eq!(names, ["a.srt", "a-2.srt"]);
    }

    #[test]
    fn a_missing_input_is_a_job_that_fails() {
        let tmp = tempfile::tempdir().unwrap();
        let gone = tmp.path().join("gone.wav");
        let p = plan(std::slice::from_ref(&gone), &tmp.path().join("g.srt"), None).unwrap();
        assert_eq!(
            p.jobs[0].problem.as_deref(),
            Some("cannot read the input: it does not exist")
        );
        let e = plan(&[tmp.path().to_owned()], &tmp.path().join("o"), None)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("no audio files found in "), "{e}");
    }
}
