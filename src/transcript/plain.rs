//! Plain-text transcripts: the words of the whole recording with no times.
//!
//! The text becomes one segment spanning the audio, `[0, audio_seconds]`,
//! which is why the reader takes the audio's duration; every analysis window
//! then sees the whole text (the most a timeless transcript can say).

use std::path::Path;

use super::error::{Location, ReadError};
use super::markup::collapse_whitespace;
use super::{finish, Segment, Transcript};

/// Parses plain `text` read from `path` as one segment over `[0, audio_seconds]`.
/// Empty text gives an empty transcript.
pub fn parse(text: &str, path: &Path, audio_seconds: f64) -> Result<Transcript, ReadError> {
    if !(audio_seconds.is_finite() && audio_seconds >= 0.0) {
        return Err(ReadError::syntax(
            path,
            Location::File,
            "a finite, non-negative audio duration",
            &audio_seconds.to_string(),
        ));
    }
    let text = collapse_whitespace(text);
    if text.is_empty() {
        return finish(path, Vec::new());
    }
    finish(
        path,
        vec![Segment {
            start: 0.0,
            end: audio_seconds,
            text,
            ..Default::default()
        }],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_segment_over_the_audio() {
        let t = parse(
            "  The results\nwere   wonderful.\n",
            Path::new("a.txt"),
            3.5,
        )
        .unwrap();
        assert_eq!(t.segments().len(), 1);
        let s = &t.segments()[0];
        assert_eq!(
            (s.start, s.end, s.text.as_str()),
            (0.0, 3.5, "The results were wonderful.")
        );
        assert_eq!(t.text_between(1.0, 2.0), "The results were wonderful.");
    }

    #[test]
    fn empty_text_and_bad_durations() {
        assert!(parse(" \n", Path::new("a.txt"), 1.0)
            .unwrap()
            .segments()
            .is_empty());
        assert!(parse("x", Path::new("a.txt"), f64::NAN).is_err());
        assert!(parse("x", Path::new("a.txt"), -1.0).is_err());
    }
}
