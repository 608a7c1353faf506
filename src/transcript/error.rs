//! Why a transcript file could not be read, and where in it.
//!
//! Every reader reports malformed input as a [`ReadError::Syntax`] naming the
//! file, a [`Location`] (a line, a byte offset, or a key path for JSON), what
//! was expected there and what was found, so a user can open the file at the
//! right place and fix it.
//!
//! Input a reader can still use after a repair (a cue without a number, a
//! timing without milliseconds, a block a WebVTT parser skips, a guessed
//! encoding) is a [`ReadWarning`] instead: same file and location, plus what
//! the reader did about it. With [`ReadOptions::strict`](super::ReadOptions)
//! the first warning is returned as [`ReadError::Strict`].

use std::fmt;
use std::path::PathBuf;

/// Where in a transcript file something went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A 1-based line, with a 1-based column when known.
    Line {
        /// Line number, from 1.
        line: usize,
        /// Column (in characters), from 1, when known.
        column: Option<usize>,
    },
    /// A byte offset from the start of the file (XML readers report these).
    Byte(usize),
    /// A path of keys and indices inside a JSON document, e.g. `segments[3].words[0].start`.
    Key(String),
    /// The file as a whole (for example: it is empty).
    File,
}

impl Location {
    /// A line without a column.
    pub fn line(line: usize) -> Self {
        Self::Line { line, column: None }
    }

    /// The line and column of byte `offset` in `text` (both 1-based).
    pub fn of_offset(text: &str, offset: usize) -> Self {
        let offset = offset.min(text.len());
        let mut start = offset;
        while !text.is_char_boundary(start) {
            start -= 1;
        }
        let before = &text[..start];
        let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        Self::Line {
            line,
            column: Some(column),
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Line { line, column: None } => write!(f, "line {line}"),
            Location::Line {
                line,
                column: Some(c),
            } => write!(f, "line {line}, column {c}"),
            Location::Byte(b) => write!(f, "byte {b}"),
            Location::Key(k) => write!(f, "at `{k}`"),
            Location::File => write!(f, "whole file"),
        }
    }
}

/// Why a transcript file was rejected.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file could not be read.
    #[error("cannot read transcript {path}: {source}")]
    Io {
        /// The transcript file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file's contents do not follow its format.
    #[error("{path}: {location}: expected {expected}, found {found}")]
    Syntax {
        /// The transcript file.
        path: PathBuf,
        /// Where the problem is.
        location: Location,
        /// What the format requires there.
        expected: String,
        /// What the file has there (shortened).
        found: String,
    },
    /// A plain-text transcript has no times of its own: it spans the whole
    /// audio file, so the reader needs the audio's duration.
    #[error(
        "{path}: a plain-text transcript carries no times; reading it needs the audio's duration"
    )]
    NeedsDuration {
        /// The transcript file.
        path: PathBuf,
    },
    /// Strict reading ([`ReadOptions::strict`](super::ReadOptions)) refuses
    /// input that the reader would otherwise have repaired or skipped.
    #[error("{warning} (refused: strict reading does not repair input)")]
    Strict {
        /// What the reader would have warned about.
        warning: ReadWarning,
    },
    /// The file name does not say which format it is in.
    #[error("{path}: unknown transcript format (expected a .srt, .vtt, .TextGrid, .eaf, .stm, .json or .txt file)")]
    UnknownFormat {
        /// The transcript file.
        path: PathBuf,
    },
}

impl ReadError {
    /// A syntax error; `found` is shortened to 60 characters on one line.
    pub fn syntax(
        path: &std::path::Path,
        location: Location,
        expected: impl Into<String>,
        found: &str,
    ) -> Self {
        ReadError::Syntax {
            path: path.to_owned(),
            location,
            expected: expected.into(),
            found: excerpt(found),
        }
    }
}

/// Input a reader repaired or skipped, and where: printed as
/// `file: line 12: <what was found>; <what was done>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadWarning {
    /// The transcript file.
    pub path: PathBuf,
    /// Where the repaired or skipped input is.
    pub location: Location,
    /// What was found there and what the reader did about it.
    pub message: String,
}

impl fmt::Display for ReadWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}: {}",
            self.path.display(),
            self.location,
            self.message
        )
    }
}

/// At most this many warnings are kept one by one; the rest are counted in a
/// last warning, so a file with a repair on every cue does not flood the log.
pub const MAX_WARNINGS: usize = 20;

/// The warnings of one read, and whether they are errors ([`ReadError::Strict`]).
#[derive(Debug)]
pub(crate) struct Warnings {
    path: PathBuf,
    strict: bool,
    list: Vec<ReadWarning>,
    dropped: usize,
}

impl Warnings {
    pub(crate) fn new(path: &std::path::Path, strict: bool) -> Self {
        Self {
            path: path.to_owned(),
            strict,
            list: Vec::new(),
            dropped: 0,
        }
    }

    /// Records that the input at `location` was repaired or skipped
    /// (`message` says what was found and what was done); an error when strict.
    pub(crate) fn warn(
        &mut self,
        location: Location,
        message: impl Into<String>,
    ) -> Result<(), ReadError> {
        let warning = ReadWarning {
            path: self.path.clone(),
            location,
            message: message.into(),
        };
        if self.strict {
            return Err(ReadError::Strict { warning });
        }
        if self.list.len() < MAX_WARNINGS {
            self.list.push(warning);
        } else {
            self.dropped += 1;
        }
        Ok(())
    }

    /// The warnings, with a last one counting those not kept.
    pub(crate) fn into_vec(mut self) -> Vec<ReadWarning> {
        if self.dropped > 0 {
            self.list.push(ReadWarning {
                path: self.path,
                location: Location::File,
                message: format!("{} more warnings like the above", self.dropped),
            });
        }
        self.list
    }
}

/// `s` on one line, at most 60 characters, quoted; `end of file` when empty.
pub(crate) fn excerpt(s: &str) -> String {
    let line = s.lines().next().unwrap_or("");
    if line.trim().is_empty() && s.trim().is_empty() {
        return if s.is_empty() {
            "end of file".into()
        } else {
            "an empty line".into()
        };
    }
    let mut out: String = line.chars().take(60).collect();
    if line.chars().count() > 60 {
        out.push('…');
    }
    format!("`{out}`")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_map_to_lines_and_columns() {
        let text = "ab\ncdé\nf";
        assert_eq!(
            Location::of_offset(text, 0),
            Location::Line {
                line: 1,
                column: Some(1)
            }
        );
        // "ab\n" is 3 bytes; offset 4 is `d`, column 2 of line 2.
        assert_eq!(
            Location::of_offset(text, 4),
            Location::Line {
                line: 2,
                column: Some(2)
            }
        );
        // `é` is 2 bytes at offsets 5..7; "\n" at 7; `f` at 8, line 3.
        assert_eq!(
            Location::of_offset(text, 8),
            Location::Line {
                line: 3,
                column: Some(1)
            }
        );
        // Inside a multi-byte character rounds down to its start.
        assert_eq!(
            Location::of_offset(text, 6),
            Location::Line {
                line: 2,
                column: Some(3)
            }
        );
        assert_eq!(
            Location::of_offset(text, 99),
            Location::Line {
                line: 3,
                column: Some(2)
            }
        );
    }

    #[test]
    fn strict_turns_the_first_warning_into_an_error() {
        let p = std::path::Path::new("a.srt");
        let mut w = Warnings::new(p, false);
        w.warn(Location::line(3), "no cue number; read the cue anyway")
            .unwrap();
        let list = w.into_vec();
        assert_eq!(
            list[0].to_string(),
            "a.srt: line 3: no cue number; read the cue anyway"
        );
        let mut w = Warnings::new(p, true);
        let e = w.warn(Location::line(3), "no cue number").unwrap_err();
        assert!(matches!(e, ReadError::Strict { .. }), "{e}");
        assert!(
            e.to_string().starts_with("a.srt: line 3: no cue number"),
            "{e}"
        );
    }

    #[test]
    fn warnings_beyond_the_cap_are_counted() {
        let mut w = Warnings::new(std::path::Path::new("a.srt"), false);
        for i in 0..MAX_WARNINGS + 5 {
            w.warn(Location::line(i + 1), "x").unwrap();
        }
        let list = w.into_vec();
        assert_eq!(list.len(), MAX_WARNINGS + 1);
        assert_eq!(list[MAX_WARNINGS].message, "5 more warnings like the above");
    }

    #[test]
    fn excerpts_are_one_short_line() {
        assert_eq!(excerpt(""), "end of file");
        assert_eq!(excerpt("  \n"), "an empty line");
        assert_eq!(excerpt("abc\ndef"), "`abc`");
        let long = "x".repeat(100);
        assert_eq!(excerpt(&long), format!("`{}…`", "x".repeat(60)));
    }
}
