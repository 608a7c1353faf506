//! Model checkpoints from the Hugging Face Hub, through the `hf-hub` crate,
//! into the standard Hugging Face cache (`$HF_HOME/hub`, by default
//! `~/.cache/huggingface/hub`), where Python's `huggingface_hub` and other
//! tools find them too. `HF_ENDPOINT` points the client at a mirror (the
//! tests point it at a local server); `HF_HOME` moves the cache.
//!
//! What to download comes from the model zoo ([`emoscope_models::Zoo`]): every
//! name in an entry's `files`, and the first name in its `weights` the
//! repository has. A repository the zoo does not list gets [`generic_entry`].

use std::path::{Path, PathBuf};

use emoscope_models::{ZooEntry, ZooKind};
use hf_hub::api::sync::{Api, ApiBuilder, ApiError};
use hf_hub::{Cache, Repo, RepoType};

/// Why a fetch failed. Messages are complete on their own (the client's
/// error, with its own causes, is part of the text), so no variant also
/// returns it as `source()`, which would print every cause twice or more.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// The `repo[@revision]` argument is malformed.
    #[error("`{spec}` is not a repository id: expected `owner/name` or `owner/name@revision`")]
    BadSpec {
        /// The argument as given.
        spec: String,
    },
    /// The client could not be built or a request failed.
    #[error("{what}: {error}")]
    Api {
        /// What was being done (`listing files of x@main`, `downloading config.json`).
        what: String,
        /// The client's error.
        error: Box<ApiError>,
    },
    /// A file the entry needs is not in the repository.
    #[error("{repo}@{revision} has no `{file}` (the repository holds: {listing})")]
    MissingFile {
        /// Repository id.
        repo: String,
        /// Revision asked for.
        revision: String,
        /// The file.
        file: String,
        /// The files it does hold.
        listing: String,
    },
}

/// A repository and revision to fetch, parsed from `owner/name[@revision]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoSpec {
    /// `owner/name`.
    pub repo: String,
    /// The revision after `@`, if any.
    pub revision: Option<String>,
}

impl std::str::FromStr for RepoSpec {
    type Err = HubError;

    fn from_str(spec: &str) -> Result<Self, HubError> {
        let bad = || HubError::BadSpec {
            spec: spec.to_owned(),
        };
        let (repo, revision) = match spec.split_once('@') {
            Some((r, rev)) if !rev.is_empty() => (r, Some(rev.to_owned())),
            Some(_) => return Err(bad()),
            None => (spec, None),
        };
        let ok_part = |p: &str| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        };
        match repo.split_once('/') {
            Some((owner, name)) if ok_part(owner) && ok_part(name) => Ok(Self {
                repo: repo.to_owned(),
                revision,
            }),
            _ => Err(bad()),
        }
    }
}

/// The download plan for a repository the zoo does not list: `config.json`,
/// whichever of the usual companion files it has (preprocessor, tokenizer,
/// Emoscope's own model files), and safetensors weights, else a PyTorch pickle.
pub fn generic_entry(repo: &str) -> ZooEntry {
    ZooEntry {
        repo: repo.to_owned(),
        revision: "main".into(),
        license: "unknown".into(),
        kind: ZooKind::AudioEncoder,
        purpose: "not in the zoo".into(),
        files: vec!["config.json".into()],
        weights: vec!["model.safetensors".into(), "pytorch_model.bin".into()],
        outputs: None,
    }
}

/// Files fetched for a generic entry when the repository has them.
pub const OPTIONAL_FILES: [&str; 5] = [
    "preprocessor_config.json",
    "tokenizer.json",
    "emoscope.json",
    "head.safetensors",
    "tokenizer_config.json",
];

/// A client configured from the environment (`HF_HOME`, `HF_ENDPOINT`, the
/// stored token), with download progress bars when `progress`.
pub fn api_from_env(progress: bool) -> Result<Api, HubError> {
    ApiBuilder::from_env()
        .with_progress(progress)
        .build()
        .map_err(|e| HubError::Api {
            what: "setting up the Hugging Face client".into(),
            error: Box::new(e),
        })
}

/// What a fetch brought into the cache.
#[derive(Debug, Clone, PartialEq)]
pub struct Fetched {
    /// The snapshot directory holding the files (pass it as `--model`).
    pub dir: PathBuf,
    /// Every file fetched (paths inside `dir`).
    pub files: Vec<PathBuf>,
    /// The revision fetched.
    pub revision: String,
}

/// Downloads `entry`'s files at `revision` (the entry's own when `None`)
/// into the cache `api` writes to; files already cached are checked against
/// the server's version and not downloaded again.
pub fn fetch(
    api: &Api,
    entry: &ZooEntry,
    revision: Option<&str>,
    optional: &[&str],
) -> Result<Fetched, HubError> {
    let revision = revision.unwrap_or(&entry.revision).to_owned();
    let repo = api.repo(Repo::with_revision(
        entry.repo.clone(),
        RepoType::Model,
        revision.clone(),
    ));
    let info = repo.info().map_err(|e| HubError::Api {
        what: format!("listing the files of {}@{revision}", entry.repo),
        error: Box::new(e),
    })?;
    let listed: Vec<&str> = info.siblings.iter().map(|s| s.rfilename.as_str()).collect();
    let missing = |file: &str| HubError::MissingFile {
        repo: entry.repo.clone(),
        revision: revision.clone(),
        file: file.to_owned(),
        listing: listed.join(", "),
    };
    let mut wanted: Vec<&str> = Vec::new();
    for f in &entry.files {
        if !listed.contains(&f.as_str()) {
            return Err(missing(f));
        }
        wanted.push(f);
    }
    for f in optional {
        if listed.contains(f) && !wanted.contains(f) {
            wanted.push(f);
        }
    }
    let weights = entry
        .weights
        .iter()
        .find(|w| listed.contains(&w.as_str()))
        .ok_or_else(|| missing(&entry.weights.join("` or `")))?;
    wanted.push(weights);
    let mut files = Vec::with_capacity(wanted.len());
    for f in wanted {
        let path = repo.download(f).map_err(|e| HubError::Api {
            what: format!("downloading {f} from {}@{revision}", entry.repo),
            error: Box::new(e),
        })?;
        files.push(path);
    }
    let dir = snapshot_dir(&files[0], &entry.files[0]);
    Ok(Fetched {
        dir,
        files,
        revision,
    })
}

/// The snapshot directory of a cached `file` (named `name` in the repository,
/// which may contain `/`).
fn snapshot_dir(file: &Path, name: &str) -> PathBuf {
    let depth = Path::new(name).components().count();
    let mut dir = file.to_path_buf();
    for _ in 0..depth {
        dir.pop();
    }
    dir
}

/// How much of an entry the local cache holds.
#[derive(Debug, Clone, PartialEq)]
pub enum LocalCopy {
    /// Every file and a weights file: the snapshot directory.
    Complete(PathBuf),
    /// Some files are there, these are not.
    Partial(Vec<String>),
    /// Nothing.
    Absent,
}

/// What `cache` holds of `entry` at its revision.
pub fn local_copy(cache: &Cache, entry: &ZooEntry) -> LocalCopy {
    let repo = cache.repo(Repo::with_revision(
        entry.repo.clone(),
        RepoType::Model,
        entry.revision.clone(),
    ));
    let mut missing: Vec<String> = Vec::new();
    let mut dir = None;
    for f in &entry.files {
        match repo.get(f) {
            Some(p) => dir = dir.or_else(|| Some(snapshot_dir(&p, f))),
            None => missing.push(f.clone()),
        }
    }
    let has_weights = entry.weights.iter().any(|w| repo.get(w).is_some());
    if !has_weights {
        missing.push(entry.weights.join(" or "));
    }
    match (missing.is_empty(), dir) {
        (true, Some(d)) => LocalCopy::Complete(d),
        (_, _) if missing.len() == entry.files.len() + 1 => LocalCopy::Absent,
        _ => LocalCopy::Partial(missing),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs() {
        let s: RepoSpec = "ntu-spml/distilhubert".parse().unwrap();
        assert_eq!(
            (s.repo.as_str(), s.revision),
            ("ntu-spml/distilhubert", None)
        );
        let s: RepoSpec = "a/b.c@v1.0".parse().unwrap();
        assert_eq!(
            (s.repo.as_str(), s.revision.as_deref()),
            ("a/b.c", Some("v1.0"))
        );
        for bad in ["noslash", "a/", "/b", "a/b@", "a/b/c", "a b/c"] {
            assert!(bad.parse::<RepoSpec>().is_err(), "{bad}");
        }
    }

    #[test]
    fn local_copies_complete_partial_absent() {
        let home = tempfile::tempdir().unwrap();
        let cache = Cache::new(home.path().to_owned());
        let entry = generic_entry("o/n");
        assert_eq!(local_copy(&cache, &entry), LocalCopy::Absent);
        // The cache layout: refs/<revision> holds the commit, snapshots/<commit>/<file>.
        let repo = home.path().join("models--o--n");
        std::fs::create_dir_all(repo.join("refs")).unwrap();
        std::fs::write(repo.join("refs/main"), "abc").unwrap();
        let snap = repo.join("snapshots/abc");
        std::fs::create_dir_all(&snap).unwrap();
        std::fs::write(snap.join("config.json"), "{}").unwrap();
        assert_eq!(
            local_copy(&cache, &entry),
            LocalCopy::Partial(vec!["model.safetensors or pytorch_model.bin".into()])
        );
        std::fs::write(snap.join("pytorch_model.bin"), "x").unwrap();
        assert_eq!(local_copy(&cache, &entry), LocalCopy::Complete(snap));
    }

    #[test]
    fn snapshot_dirs() {
        let p = Path::new("/c/snapshots/abc/1_Pooling/config.json");
        assert_eq!(
            snapshot_dir(p, "1_Pooling/config.json"),
            Path::new("/c/snapshots/abc")
        );
        assert_eq!(
            snapshot_dir(Path::new("/c/snapshots/abc/config.json"), "config.json"),
            Path::new("/c/snapshots/abc")
        );
    }
}
