//! Audacity label tracks (File > Export > Export Labels): one label per line,
//! `start<TAB>end<TAB>text`, times in seconds. A point label has
//! `start == end` and becomes a zero-length segment. Lines starting with `\`
//! carry the frequency range of a spectral selection and are skipped.

use std::path::Path;

use super::error::{Location, ReadError};
use super::markup::collapse_whitespace;
use super::{finish, Segment, Transcript};

const LABEL: &str = "a label line `start<TAB>end<TAB>text` with times in seconds";

/// Whether `text` starts like a label track (its first non-empty line has two
/// tab-separated numbers); used to tell it from a plain-text `.txt`.
pub fn looks_like_labels(text: &str) -> bool {
    text.lines()
        .find(|l| !l.trim().is_empty())
        .is_some_and(|l| times(l).is_some())
}

/// Parses an Audacity label track read from `path` (named in errors).
pub fn parse(text: &str, path: &Path) -> Result<Transcript, ReadError> {
    let mut segments = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('\\') {
            continue;
        }
        let (start, end, label) = times(line)
            .ok_or_else(|| ReadError::syntax(path, Location::line(i + 1), LABEL, line))?;
        if end < start {
            return Err(ReadError::syntax(
                path,
                Location::line(i + 1),
                "an end time not before the start time",
                line,
            ));
        }
        segments.push(Segment {
            start,
            end,
            text: collapse_whitespace(label),
            ..Default::default()
        });
    }
    finish(path, segments)
}

/// Start, end and label of a label line, if its first two fields are finite numbers.
fn times(line: &str) -> Option<(f64, f64, &str)> {
    let mut fields = line.splitn(3, '\t');
    let num = |s: Option<&str>| {
        s.and_then(|s| s.trim().parse::<f64>().ok())
            .filter(|v| v.is_finite())
    };
    let start = num(fields.next())?;
    let end = num(fields.next())?;
    Some((start, end, fields.next().unwrap_or("")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_points_and_spectral_lines() {
        let text =
            "0.500000\t1.250000\thello there\n\\\t100.0\t4000.0\n2.000000\t2.000000\tclap\n3\t4\n";
        let t = parse(text, Path::new("l.txt")).unwrap();
        let s = t.segments();
        assert_eq!(s.len(), 3);
        assert_eq!(
            (s[0].start, s[0].end, s[0].text.as_str()),
            (0.5, 1.25, "hello there")
        );
        assert_eq!(
            (s[1].start, s[1].end, s[1].text.as_str()),
            (2.0, 2.0, "clap")
        );
        assert_eq!((s[2].start, s[2].end, s[2].text.as_str()), (3.0, 4.0, ""));
    }

    #[test]
    fn bad_lines_are_named() {
        let e = parse("0.5\t1.0\tok\n0.5 1.0 spaces\n", Path::new("l.txt")).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("l.txt: line 2: expected a label line"),
            "{e}"
        );
        let e = parse("2\t1\tbackwards\n", Path::new("l.txt")).unwrap_err();
        assert!(e.to_string().contains("line 1"), "{e}");
        assert!(parse("nan\t1\tx\n", Path::new("l.txt")).is_err());
    }

    #[test]
    fn sniffing() {
        assert!(looks_like_labels("\n1.0\t2.0\tx"));
        assert!(!looks_like_labels("It was 1.0\t2.0"));
        assert!(!looks_like_labels(""));
    }
}
