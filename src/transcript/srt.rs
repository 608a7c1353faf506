//! SubRip (`.srt`) subtitles: numbered cues with `HH:MM:SS,mmm --> HH:MM:SS,mmm`
//! timing lines, as subtitle editors and most speech-to-text services write them.
//!
//! The file is cut into cues at blank lines here (so every error can name its
//! line), each timing line is checked for the exact timestamp shape, and the
//! cue itself is parsed by the `srtlib` crate. Formatting tags (`<i>`,
//! `<font …>`, `{\an8}`) are removed and the cue's lines joined with spaces.

use std::path::Path;

use super::error::{Location, ReadError};
use super::markup::{collapse_whitespace, strip_srt_markup};
use super::{finish, Segment, Transcript};

const TIMING: &str = "a timing line `HH:MM:SS,mmm --> HH:MM:SS,mmm`";

/// Parses SubRip text read from `path` (named in errors).
pub fn parse(text: &str, path: &Path) -> Result<Transcript, ReadError> {
    let lines: Vec<&str> = text.lines().collect();
    let mut segments = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim().is_empty() {
            i += 1;
            continue;
        }
        let first = i;
        while i < lines.len() && !lines[i].trim().is_empty() {
            i += 1;
        }
        segments.push(cue(&lines[first..i], first + 1, path)?);
    }
    finish(path, segments)
}

/// One cue: `lines` start at 1-based line `line` of the file.
fn cue(lines: &[&str], line: usize, path: &Path) -> Result<Segment, ReadError> {
    let number = lines[0].trim();
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ReadError::syntax(
            path,
            Location::line(line),
            "a cue number",
            lines[0],
        ));
    }
    let Some(timing) = lines.get(1) else {
        return Err(ReadError::syntax(
            path,
            Location::line(line + 1),
            TIMING,
            "",
        ));
    };
    let (start, end) = check_timing(timing)
        .ok_or_else(|| ReadError::syntax(path, Location::line(line + 1), TIMING, timing))?;
    // Hand srtlib the cue in its canonical form (single spaces around the arrow,
    // position information dropped).
    let canonical = format!("{number}\n{start} --> {end}\n{}", lines[2..].join("\n"));
    let sub = srtlib::Subtitle::parse(canonical).map_err(|e| {
        ReadError::syntax(
            path,
            Location::line(line + 1),
            TIMING,
            &format!("{timing} ({e})"),
        )
    })?;
    let (start, end) = (seconds(&sub.start_time), seconds(&sub.end_time));
    if end < start {
        return Err(ReadError::syntax(
            path,
            Location::line(line + 1),
            "an end time not before the start time",
            timing,
        ));
    }
    Ok(Segment {
        start,
        end,
        text: collapse_whitespace(&strip_srt_markup(&sub.text)),
        words: Vec::new(),
    })
}

/// The two timestamps of a timing line if both have the exact SubRip shape
/// (`H+:MM:SS,mmm`, a `.` accepted for the comma, minutes and seconds below 60).
fn check_timing(line: &str) -> Option<(&str, &str)> {
    let (start, rest) = line.trim().split_once("-->")?;
    let start = start.trim();
    let end = rest.split_whitespace().next()?;
    (timestamp_ok(start) && timestamp_ok(end)).then_some((start, end))
}

fn timestamp_ok(t: &str) -> bool {
    let digits = |s: &str, n: Option<usize>| {
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && n.is_none_or(|n| s.len() == n)
    };
    let mut parts = t.split(':');
    let (Some(h), Some(m), Some(rest), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let Some((s, ms)) = rest.split_once([',', '.']) else {
        return false;
    };
    digits(h, None)
        && h.len() <= 3
        && h.parse::<u16>().is_ok_and(|h| h <= 255)
        && digits(m, Some(2))
        && digits(s, Some(2))
        && digits(ms, Some(3))
        && m < "60"
        && s < "60"
}

fn seconds(t: &srtlib::Timestamp) -> f64 {
    let (h, m, s, ms) = t.get();
    f64::from(srtlib::Timestamp::convert_to_milliseconds(h, m, s, ms)) / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> &'static Path {
        Path::new("talk.srt")
    }

    #[test]
    fn cues_with_tags_and_multiple_lines() {
        let text = "1\n00:00:01,000 --> 00:00:02,500\n<i>Hello</i>\nthere\n\n\
                    2\n00:01:02.250 --> 00:01:03,000 X1:40 X2:600\n{\\an8}General Kenobi\n";
        let t = parse(text, p()).unwrap();
        let s = t.segments();
        assert_eq!(s.len(), 2);
        assert_eq!(
            (s[0].start, s[0].end, s[0].text.as_str()),
            (1.0, 2.5, "Hello there")
        );
        // 1 min 2.25 s = 62.25 s.
        assert_eq!(
            (s[1].start, s[1].end, s[1].text.as_str()),
            (62.25, 63.0, "General Kenobi")
        );
    }

    #[test]
    fn bad_timing_names_its_line() {
        let text = "1\n00:00:01,000 --> 00:00:02,000\nok\n\n2\n00:00:03 --> 00:00:04,000\nbad\n";
        match parse(text, p()).unwrap_err() {
            ReadError::Syntax {
                location,
                expected,
                found,
                ..
            } => {
                assert_eq!(location, Location::line(6));
                assert_eq!(expected, TIMING);
                assert!(found.contains("00:00:03 -->"), "{found}");
            }
            e => panic!("{e:?}"),
        }
    }

    #[test]
    fn missing_number_and_reversed_times_are_errors() {
        let e = parse("hello\n00:00:01,000 --> 00:00:02,000\n", p()).unwrap_err();
        assert!(matches!(e, ReadError::Syntax { location, .. } if location == Location::line(1)));
        let e = parse("\n\n1\n00:00:03,000 --> 00:00:02,000\nx\n", p()).unwrap_err();
        assert!(
            matches!(&e, ReadError::Syntax { location, expected, .. } if *location == Location::line(4) && expected.contains("end time")),
            "{e}"
        );
        let e = parse("1\n00:61:00,000 --> 00:62:00,000\nx\n", p()).unwrap_err();
        assert!(e.to_string().contains("talk.srt: line 2"), "{e}");
    }

    #[test]
    fn empty_file_is_an_empty_transcript() {
        assert!(parse("", p()).unwrap().segments().is_empty());
        assert!(parse("\n \n", p()).unwrap().segments().is_empty());
    }
}
