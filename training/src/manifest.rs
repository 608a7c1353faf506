//! Labelled manifests: the CSV files `train`, `eval`, `layers` and `distill` read.
//!
//! Header `audio,transcript,arousal,valence,dominance`; one utterance per
//! row. `audio` is a path (relative paths are relative to the manifest's
//! directory). `transcript` is either a path to a sidecar file (a value
//! ending in `.txt`, read whole; the file must exist) or the transcript text
//! itself; empty means none. Labels are numbers (empty cells are allowed only
//! in files used without labels, such as distillation audio lists).
//!
//! A categorical label goes in a `label` column (a category name, as the
//! model's labels spell it; empty for none), beside the dimensions or
//! instead of them: `audio,label` is a manifest too (`transcript` may be
//! left out wherever no text is read).

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// One labelled utterance.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    /// The audio file.
    pub audio: PathBuf,
    /// The transcript text (read from the sidecar when the manifest names one); empty when none.
    pub transcript: String,
    /// Arousal, valence, dominance; `None` where the manifest leaves them empty.
    pub labels: Option<[f32; 3]>,
    /// The category (`label` column); `None` where there is none.
    pub label: Option<String>,
    /// The row's line in the manifest (1-based; the header is line 1), for
    /// errors about it found later.
    pub line: u64,
}

/// Why a manifest could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The manifest itself could not be opened.
    #[error("cannot read manifest {path}: {source}")]
    Io {
        /// The manifest.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A row is malformed.
    #[error("{path}, line {line}: {message}")]
    Row {
        /// The manifest.
        path: PathBuf,
        /// 1-based line number (the header is line 1).
        line: u64,
        /// What is wrong and what was expected.
        message: String,
    },
}

#[derive(Deserialize)]
struct Row {
    audio: String,
    #[serde(default)]
    transcript: String,
    #[serde(default)]
    arousal: Option<f32>,
    #[serde(default)]
    valence: Option<f32>,
    #[serde(default)]
    dominance: Option<f32>,
    #[serde(default)]
    label: Option<String>,
}

/// Reads a manifest; every row is checked (audio present, transcript file
/// readable, labels all or none and finite).
pub fn read_manifest(path: &Path) -> Result<Vec<Example>, ManifestError> {
    let file = std::fs::File::open(path).map_err(|source| ManifestError::Io {
        path: path.to_owned(),
        source,
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(file);
    let headers = reader
        .headers()
        .map_err(|e| row_error(path, 1, e.to_string()))?
        .clone();
    let has = |name: &str| headers.iter().any(|h| h == name);
    let dimensions = ["arousal", "valence", "dominance"];
    let categorical = has("label") && !dimensions.iter().any(|d| has(d));
    let required: &[&str] = if categorical {
        &["audio"]
    } else {
        &["audio", "transcript", "arousal", "valence", "dominance"]
    };
    for required in required {
        if !has(required) {
            return Err(row_error(
                path,
                1,
                format!(
                    "the header lacks `{required}` (expected audio,transcript,arousal,valence,dominance \
                     and optionally label, or audio,label)"
                ),
            ));
        }
    }
    let mut out = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, csv::Position::line);
            row_error(path, line, e.to_string())
        })?;
        let line = record.position().map_or(0, csv::Position::line);
        let row: Row = record
            .deserialize(Some(&headers))
            .map_err(|e| row_error(path, line, format!("{e} (labels must be numbers or empty)")))?;
        if row.audio.is_empty() {
            return Err(row_error(path, line, "the `audio` cell is empty".into()));
        }
        let audio = base.join(&row.audio);
        let transcript = if row.transcript.ends_with(".txt") {
            let sidecar = base.join(&row.transcript);
            let text = std::fs::read_to_string(&sidecar).map_err(|e| {
                row_error(
                    path,
                    line,
                    format!("cannot read the transcript file {}: {e}", sidecar.display()),
                )
            })?;
            text.split_whitespace().collect::<Vec<_>>().join(" ")
        } else {
            row.transcript.clone()
        };
        let labels = match (row.arousal, row.valence, row.dominance) {
            (Some(a), Some(v), Some(d)) => {
                if !(a.is_finite() && v.is_finite() && d.is_finite()) {
                    return Err(row_error(path, line, "labels must be finite".into()));
                }
                Some([a, v, d])
            }
            (None, None, None) => None,
            _ => {
                return Err(row_error(
                    path,
                    line,
                    "give all three of arousal, valence and dominance, or none".into(),
                ))
            }
        };
        let label = row.label.filter(|l| !l.is_empty());
        out.push(Example {
            audio,
            transcript,
            labels,
            label,
            line,
        });
    }
    Ok(out)
}

fn row_error(path: &Path, line: u64, message: String) -> ManifestError {
    ManifestError::Row {
        path: path.to_owned(),
        line,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, text: &str) -> PathBuf {
        let p = dir.join("m.csv");
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn reads_inline_and_sidecar_transcripts_relative_to_the_manifest() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.txt"), "  hello\n world \n").unwrap();
        let p = write(
            dir.path(),
            "audio,transcript,arousal,valence,dominance\na.wav,a.txt,0.1,0.2,0.3\nb.wav,\"so, inline\",0.4,0.5,0.6\nc.wav,,,,\n",
        );
        let m = read_manifest(&p).unwrap();
        assert_eq!(m.len(), 3);
        assert_eq!(m[0].audio, dir.path().join("a.wav"));
        assert_eq!(m[0].transcript, "hello world");
        assert_eq!(m[0].labels, Some([0.1, 0.2, 0.3]));
        assert_eq!(m[1].transcript, "so, inline");
        assert_eq!((m[0].line, m[2].line), (2, 4));
        assert_eq!(m[2].transcript, "");
        assert_eq!(m[2].labels, None);
        assert!(m.iter().all(|e| e.label.is_none()));
    }

    /// A category per row, beside the dimensions or alone (`audio,label`);
    /// an empty cell is no label, and a header with neither is an error.
    #[test]
    fn reads_categorical_labels_with_or_without_dimensions() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "audio,label
a.wav,happy
b.wav,
",
        );
        let m = read_manifest(&p).unwrap();
        assert_eq!(m[0].label.as_deref(), Some("happy"));
        assert_eq!((m[0].labels, m[0].transcript.as_str()), (None, ""));
        assert_eq!(m[1].label, None);
        let p = write(
            dir.path(),
            "audio,transcript,arousal,valence,dominance,label
a.wav,hi,0.1,0.2,0.3,sad
",
        );
        let m = read_manifest(&p).unwrap();
        assert_eq!(
            (m[0].labels, m[0].label.as_deref()),
            (Some([0.1, 0.2, 0.3]), Some("sad"))
        );
        let p = write(
            dir.path(),
            "audio,transcript
a.wav,hi
",
        );
        let e = read_manifest(&p).unwrap_err().to_string();
        assert!(
            e.contains("lacks `arousal`") && e.contains("audio,label"),
            "{e}"
        );
    }

    #[test]
    fn errors_name_the_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "audio,transcript,arousal,valence,dominance\na.wav,,0.1,0.2,0.3\nb.wav,,high,0.2,0.3\n",
        );
        let e = read_manifest(&p).unwrap_err().to_string();
        assert!(
            e.contains("m.csv") && e.contains("line 3") && e.contains("numbers"),
            "{e}"
        );
        let p = write(
            dir.path(),
            "audio,transcript,arousal,valence,dominance\na.wav,missing.txt,0.1,0.2,0.3\n",
        );
        let e = read_manifest(&p).unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("missing.txt"), "{e}");
        let p = write(dir.path(), "audio,text,arousal,valence,dominance\n");
        let e = read_manifest(&p).unwrap_err().to_string();
        assert!(e.contains("line 1") && e.contains("transcript"), "{e}");
        let p = write(
            dir.path(),
            "audio,transcript,arousal,valence,dominance\na.wav,,0.1,,0.3\n",
        );
        let e = read_manifest(&p).unwrap_err().to_string();
        assert!(e.contains("all three"), "{e}");
    }
}
