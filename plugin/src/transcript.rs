//! Reading the transcript sidecar the user points the plugin at.
//!
//! [`load_transcript`] is the one place the plugin turns a sidecar file into
//! an [`emoscope::transcript::Transcript`]. It reads two formats today:
//! Audacity label tracks (`start<TAB>end<TAB>text` per line, seconds; the
//! spectral-selection lines Audacity writes, starting with `\`, are skipped)
//! and plain text (one untimed segment covering the whole timeline, so every
//! window sees the whole text). The interchange layer's readers (SRT, WebVTT,
//! TextGrid, EAF, JSON, ...) are meant to replace the body of this function;
//! the editor and the activation path only call this.

use std::path::{Path, PathBuf};

use emoscope::transcript::{Segment, Transcript, TranscriptError};

/// Why a sidecar could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TranscriptLoadError {
    /// The file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The sidecar.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A label-track line is malformed.
    #[error("{}:{line}: {message}", path.display())]
    Line {
        /// The sidecar.
        path: PathBuf,
        /// One-based line number.
        line: usize,
        /// What was expected.
        message: String,
    },
    /// The segments are inconsistent (end before start).
    #[error("{}: {source}", path.display())]
    Invalid {
        /// The sidecar.
        path: PathBuf,
        /// The transcript's complaint.
        source: TranscriptError,
    },
    /// No text at all.
    #[error("{}: the file holds no text", path.display())]
    Empty {
        /// The sidecar.
        path: PathBuf,
    },
}

/// Reads the sidecar at `path` (see the module docs for the formats) and
/// places it on the host timeline with `offset_seconds`.
pub fn load_transcript(
    path: &Path,
    offset_seconds: f64,
) -> Result<Transcript, TranscriptLoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| TranscriptLoadError::Io {
        path: path.to_owned(),
        source,
    })?;
    let segments = if looks_like_labels(&text) {
        parse_labels(&text, path)?
    } else {
        let all = text.split_whitespace().collect::<Vec<_>>().join(" ");
        if all.is_empty() {
            return Err(TranscriptLoadError::Empty {
                path: path.to_owned(),
            });
        }
        vec![Segment {
            start: 0.0,
            end: f64::MAX,
            text: all,
            words: Vec::new(),
        }]
    };
    let t = Transcript::new(segments).map_err(|source| TranscriptLoadError::Invalid {
        path: path.to_owned(),
        source,
    })?;
    Ok(t.with_offset(offset_seconds))
}

/// A label track: the first non-empty line starts with two numbers and a tab.
fn looks_like_labels(text: &str) -> bool {
    text.lines()
        .find(|l| !l.trim().is_empty())
        .is_some_and(|l| {
            let mut f = l.split('\t');
            let num = |s: Option<&str>| s.is_some_and(|s| s.trim().parse::<f64>().is_ok());
            num(f.next()) && num(f.next())
        })
}

fn parse_labels(text: &str, path: &Path) -> Result<Vec<Segment>, TranscriptLoadError> {
    let mut segments = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('\\') {
            continue;
        }
        let err = |message: String| TranscriptLoadError::Line {
            path: path.to_owned(),
            line: i + 1,
            message,
        };
        let mut fields = line.splitn(3, '\t');
        let mut time = |what: &str| -> Result<f64, TranscriptLoadError> {
            let f = fields.next().unwrap_or("").trim();
            f.parse::<f64>().map_err(|_| {
                err(format!(
                    "expected `start<TAB>end<TAB>text` with {what} in seconds, found {f:?}"
                ))
            })
        };
        let start = time("start")?;
        let end = time("end")?;
        let label = fields.next().unwrap_or("").trim();
        if !label.is_empty() {
            segments.push(Segment {
                start,
                end,
                text: label.to_owned(),
                words: Vec::new(),
            });
        }
    }
    if segments.is_empty() {
        return Err(TranscriptLoadError::Empty {
            path: path.to_owned(),
        });
    }
    Ok(segments)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut f, text.as_bytes()).unwrap();
        f
    }

    #[test]
    fn audacity_labels_are_timed_segments_shifted_by_the_offset() {
        let f = write("0.5\t1.5\thello there\n\\\t100\t200\n2.0\t3.0\tgeneral kenobi\n");
        let t = load_transcript(f.path(), 10.0).unwrap();
        assert_eq!(t.segments().len(), 2);
        // Host 10.5..11.5 is transcript 0.5..1.5.
        assert_eq!(t.text_between(10.0, 11.0), "hello there");
        assert_eq!(t.text_between(12.0, 13.0), "general kenobi");
        assert_eq!(t.text_between(0.0, 10.0), "");
    }

    #[test]
    fn a_bad_label_line_names_the_file_and_line() {
        let f = write("0.5\t1.5\tok\n2.0\tlater\toops\n");
        let e = load_transcript(f.path(), 0.0).unwrap_err();
        let msg = e.to_string();
        assert!(
            matches!(e, TranscriptLoadError::Line { line: 2, .. }),
            "{msg}"
        );
        assert!(msg.contains(&f.path().display().to_string()), "{msg}");
        assert!(msg.contains("\"later\""), "{msg}");
    }

    #[test]
    fn reversed_spans_are_refused() {
        let f = write("3.0\t1.0\tbackwards\n");
        assert!(matches!(
            load_transcript(f.path(), 0.0),
            Err(TranscriptLoadError::Invalid { .. })
        ));
    }

    #[test]
    fn plain_text_is_one_untimed_segment() {
        let f = write("I can't believe\n  it's  over.\n");
        let t = load_transcript(f.path(), 0.0).unwrap();
        assert_eq!(t.text_between(100.0, 104.0), "I can't believe it's over.");
        let empty = write(" \n\n");
        assert!(matches!(
            load_transcript(empty.path(), 0.0),
            Err(TranscriptLoadError::Empty { .. })
        ));
    }

    #[test]
    fn a_missing_file_is_an_io_error_naming_it() {
        let e = load_transcript(Path::new("/nonexistent/emoscope.txt"), 0.0).unwrap_err();
        assert!(e.to_string().starts_with("/nonexistent/emoscope.txt: "));
    }
}
