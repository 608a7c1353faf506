//! The model zoo: the checkpoints Emoscope knows by name (`models/zoo.toml`).
//!
//! The file is compiled in ([`Zoo::builtin`]) so that `emoscope models list`
//! and `emoscope models fetch` work from an installed binary; [`Zoo::from_toml`]
//! reads another list with the same schema (a lab's own checkpoints).

use std::path::Path;

use serde::Deserialize;

use crate::error::LoadError;

/// The zoo file shipped with this version of Emoscope.
pub const BUILTIN_ZOO: &str = include_str!("../zoo.toml");

/// What a checkpoint is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ZooKind {
    /// A HuBERT / wav2vec2-family speech encoder (student or teacher backbone).
    AudioEncoder,
    /// A BERT-family sentence encoder for the transcript branch.
    TextEncoder,
    /// A complete emotion model (dimensions, categories or both; see [`ZooOutputs`]).
    Emotion,
}

/// One known checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZooEntry {
    /// Hugging Face repository id (`owner/name`).
    pub repo: String,
    /// Branch, tag or commit fetched when the user names none.
    pub revision: String,
    /// SPDX-style licence id as the model card states it.
    pub license: String,
    /// What kind of model it is.
    pub kind: ZooKind,
    /// One sentence on why Emoscope lists it.
    pub purpose: String,
    /// Files a usable local copy must have.
    pub files: Vec<String>,
    /// Weight files in order of preference; the first the repository has is fetched.
    pub weights: Vec<String>,
    /// What an emotion model outputs, as its configuration declares it.
    #[serde(default)]
    pub outputs: Option<ZooOutputs>,
}

/// What an emotion model outputs.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZooOutputs {
    /// `dimensions` (values) or `categories` (a probability per label).
    pub kind: ZooOutputKind,
    /// The output names in output order.
    pub names: Vec<String>,
    /// The range of the values, as the model card or training code gives it.
    #[serde(default)]
    pub range: Option<String>,
}

/// Dimensions or categories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ZooOutputKind {
    /// Named values (arousal, valence, dominance, ...).
    Dimensions,
    /// A probability per category label.
    Categories,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ZooFile {
    model: Vec<ZooEntry>,
}

/// A list of known checkpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zoo {
    /// The entries in file order.
    pub models: Vec<ZooEntry>,
}

impl Zoo {
    /// The list compiled into this build (`models/zoo.toml`).
    pub fn builtin() -> Self {
        Self::from_toml(BUILTIN_ZOO, Path::new("models/zoo.toml"))
            .expect("the built-in zoo.toml is valid (checked by a unit test)")
    }

    /// Parses a zoo file's text; `path` is only used in the error.
    pub fn from_toml(text: &str, path: &Path) -> Result<Self, LoadError> {
        let file: ZooFile = toml::from_str(text).map_err(|e| LoadError::Unsupported {
            path: path.to_owned(),
            field: "zoo".into(),
            message: e.to_string(),
        })?;
        Ok(Self { models: file.model })
    }

    /// The entry for `repo` (case-insensitive, as the Hub treats ids).
    pub fn find(&self, repo: &str) -> Option<&ZooEntry> {
        self.models
            .iter()
            .find(|m| m.repo.eq_ignore_ascii_case(repo))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_zoo_parses_and_covers_the_issue_list() {
        let zoo = Zoo::builtin();
        for repo in [
            "ntu-spml/distilhubert",
            "facebook/hubert-base-ls960",
            "facebook/hubert-large-ll60k",
            "audeering/wav2vec2-large-robust-12-ft-emotion-msp-dim",
            "sentence-transformers/all-MiniLM-L6-v2",
            "distilbert/distilbert-base-uncased",
            "FacebookAI/roberta-base",
            "3loi/SER-Odyssey-Baseline-WavLM-Multi-Attributes",
            "superb/hubert-large-superb-er",
        ] {
            let e = zoo.find(repo).unwrap_or_else(|| panic!("{repo} missing"));
            assert!(e.files.iter().any(|f| f == "config.json"), "{repo}");
            assert!(!e.weights.is_empty(), "{repo}");
        }
        assert_eq!(
            zoo.find("AUDEERING/wav2vec2-large-robust-12-ft-emotion-msp-dim")
                .map(|e| e.kind),
            Some(ZooKind::Emotion)
        );
        // Every emotion model says what it outputs.
        for e in zoo.models.iter().filter(|e| e.kind == ZooKind::Emotion) {
            let o = e.outputs.as_ref().unwrap_or_else(|| panic!("{}", e.repo));
            assert!(!o.names.is_empty(), "{}", e.repo);
        }
    }

    #[test]
    fn unknown_fields_are_rejected_with_the_path() {
        let err = Zoo::from_toml(
            "[[model]]\nrepo='a/b'\nrevison='main'\n",
            Path::new("lab-zoo.toml"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("lab-zoo.toml"), "{err}");
    }
}
