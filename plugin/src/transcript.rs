//! Reading the transcript sidecar the user points the plugin at.
//!
//! [`load_transcript`] is the one place the plugin turns a sidecar file into
//! an [`emoscope::transcript::Transcript`], with the same readers as
//! `emoscope annotate`: SRT, WebVTT, Praat TextGrid, ELAN EAF, Audacity label
//! tracks, openai-whisper / WhisperX JSON and plain text, chosen by the file
//! extension (a `.txt` holding `start<TAB>end<TAB>text` lines is a label
//! track). A plain-text transcript has no times, so it covers the whole host
//! timeline: every window sees the whole text. What a reader repairs or
//! skips comes back as the transcript's warnings (the editor shows them);
//! with `strict` it is an error instead.
//!
//! A diarisation tool's RTTM file (`.rttm`) gives speaker turns without
//! words: it is read as a transcript whose segments are the turns, so the
//! analysis follows the speakers while the text branch gets no words (an
//! RTTM holding several recordings is refused, naming them).

use std::path::Path;

use emoscope::transcript::{read_file, read_speakers, ReadError, ReadOptions, Transcript};

/// How far a plain-text transcript reaches on the host timeline, seconds
/// (about 116 days: any session).
const PLAIN_TEXT_SPAN: f64 = 1.0e7;

/// Why a sidecar could not be read: the reader's error, which names the file,
/// the line (or byte offset) and what was expected.
#[derive(Debug, thiserror::Error)]
pub enum TranscriptLoadError {
    /// The reader refused the file.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// The file parsed but holds no text at all.
    #[error("{}: the file holds no text", path.display())]
    Empty {
        /// The sidecar.
        path: std::path::PathBuf,
    },
}

/// Reads the sidecar at `path` (see the module docs for the formats) and
/// places it on the host timeline with `offset_seconds`; `strict` makes any
/// repair or skip an error.
pub fn load_transcript(
    path: &Path,
    offset_seconds: f64,
    strict: bool,
) -> Result<Transcript, TranscriptLoadError> {
    let options = ReadOptions {
        audio_seconds: Some(PLAIN_TEXT_SPAN),
        strict,
        ..ReadOptions::default()
    };
    let rttm = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("rttm"));
    if rttm {
        let t = Transcript::from_turns(&read_speakers(path, &options)?);
        if t.segments().is_empty() {
            return Err(TranscriptLoadError::Empty {
                path: path.to_owned(),
            });
        }
        return Ok(t.with_offset(offset_seconds));
    }
    let t = read_file(path, &options)?;
    if t.segments().iter().all(|s| s.text.trim().is_empty()) {
        return Err(TranscriptLoadError::Empty {
            path: path.to_owned(),
        });
    }
    Ok(t.with_offset(offset_seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> tempfile::NamedTempFile {
        write_as(text, ".txt")
    }

    fn write_as(text: &str, suffix: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::Builder::new().suffix(suffix).tempfile().unwrap();
        std::io::Write::write_all(&mut f, text.as_bytes()).unwrap();
        f
    }

    #[test]
    fn audacity_labels_are_timed_segments_shifted_by_the_offset() {
        let f = write("0.5\t1.5\thello there\n\\\t100\t200\n2.0\t3.0\tgeneral kenobi\n");
        let t = load_transcript(f.path(), 10.0, false).unwrap();
        assert_eq!(t.segments().len(), 2);
        // Host 10.5..11.5 is transcript 0.5..1.5.
        assert_eq!(t.text_between(10.0, 11.0), "hello there");
        assert_eq!(t.text_between(12.0, 13.0), "general kenobi");
        assert_eq!(t.text_between(0.0, 10.0), "");
    }

    #[test]
    fn a_bad_label_line_names_the_file_and_line() {
        let f = write("0.5\t1.5\tok\n2.0\tlater\toops\n");
        let e = load_transcript(f.path(), 0.0, false).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains(&f.path().display().to_string()), "{msg}");
        assert!(msg.contains("line 2"), "{msg}");
        assert!(msg.contains("later"), "{msg}");
    }

    #[test]
    fn reversed_spans_are_refused() {
        let f = write("3.0\t1.0\tbackwards\n");
        assert!(matches!(
            load_transcript(f.path(), 0.0, false),
            Err(TranscriptLoadError::Read(_))
        ));
    }

    #[test]
    fn plain_text_is_one_untimed_segment() {
        let f = write("I can't believe\n  it's  over.\n");
        let t = load_transcript(f.path(), 0.0, false).unwrap();
        assert_eq!(t.text_between(100.0, 104.0), "I can't believe it's over.");
        let empty = write(" \n\n");
        assert!(matches!(
            load_transcript(empty.path(), 0.0, false),
            Err(TranscriptLoadError::Empty { .. })
        ));
    }

    #[test]
    fn subtitles_are_read_with_their_times() {
        let f = write_as(
            "1\n00:00:01,000 --> 00:00:02,500\nWhat a lovely day.\n\n2\n00:00:04,000 --> 00:00:05,000\nIndeed.\n",
            ".srt",
        );
        let t = load_transcript(f.path(), 2.0, false).unwrap();
        assert_eq!(t.segments().len(), 2);
        assert_eq!(t.text_between(3.0, 4.0), "What a lovely day.");
        assert_eq!(t.text_between(6.5, 6.9), "Indeed.");
        assert_eq!(t.text_between(0.0, 2.9), "");
    }

    /// An RTTM gives the turns, named, on the host timeline, without words.
    #[test]
    fn an_rttm_file_gives_speaker_turns_without_words() {
        let f = write_as(
            "SPEAKER call 1 0.50 2.00 <NA> <NA> alice <NA> <NA>\n\
             SPEAKER call 1 2.30 1.20 <NA> <NA> bob <NA> <NA>\n",
            ".rttm",
        );
        let t = load_transcript(f.path(), 10.0, false).unwrap();
        let turns = t.timeline_speaker_turns();
        let got: Vec<(String, f64, f64)> = turns
            .turns()
            .iter()
            .map(|t| (t.speaker.to_string(), t.span.start, t.span.end))
            .collect();
        assert_eq!(
            got,
            [("alice".into(), 10.5, 12.5), ("bob".into(), 12.3, 13.5)]
        );
        assert_eq!(t.text_between(10.0, 14.0), "");
        let bad = write_as(
            "SPEAKER call 1 zero 2.00 <NA> <NA> alice <NA> <NA>\n",
            ".rttm",
        );
        let e = load_transcript(bad.path(), 0.0, false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 1"), "{e}");
    }

    #[test]
    fn a_missing_file_is_an_io_error_naming_it() {
        let e = load_transcript(Path::new("/nonexistent/emoscope.txt"), 0.0, false).unwrap_err();
        assert!(
            matches!(e, TranscriptLoadError::Read(ReadError::Io { .. })),
            "{e}"
        );
        assert!(e.to_string().contains("/nonexistent/emoscope.txt: "), "{e}");
    }
}

#[cfg(test)]
mod strict_tests {
    use super::*;

    #[test]
    fn repairs_are_warnings_unless_strict() {
        // The second cue has no number: read with a warning naming line 5;
        // strict refuses the file with the same line.
        let mut f = tempfile::Builder::new().suffix(".srt").tempfile().unwrap();
        std::io::Write::write_all(
            &mut f,
            b"1\n00:00:01,000 --> 00:00:02,000\nhello\n\n00:00:03,000 --> 00:00:04,000\nthere\n",
        )
        .unwrap();
        let t = load_transcript(f.path(), 0.0, false).unwrap();
        assert_eq!(t.segments().len(), 2);
        assert_eq!(t.warnings().len(), 1);
        assert!(
            t.warnings()[0].to_string().contains("line 5"),
            "{}",
            t.warnings()[0]
        );
        let e = load_transcript(f.path(), 0.0, true).unwrap_err();
        assert!(e.to_string().contains("line 5"), "{e}");
    }
}
