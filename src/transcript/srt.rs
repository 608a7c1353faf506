//! SubRip (`.srt`) subtitles: numbered cues with `HH:MM:SS,mmm --> HH:MM:SS,mmm`
//! timing lines, as subtitle editors and most speech-to-text services write them.
//!
//! SubRip has no specification, and files in the wild bend every rule, so
//! this reader follows the tolerant parsers people already trust (`srt` and
//! `pysrt`): a cue starts at each timing line; the number on the line before
//! it is optional; its text runs to the next cue (blank lines inside it
//! included), or to the end of the file. Timestamps may lack milliseconds,
//! have 1–2 digit milliseconds (read as milliseconds, as both do), unpadded
//! fields, leading zeros, a `.` or `:` before the milliseconds, full-width
//! `：`/`，`; the arrow may be `- >` or `-- >`, and text attached to the end
//! time (`00:01:20,000?`) is ignored. Each such repair, and each cue or line skipped, is a
//! [`ReadWarning`](super::ReadWarning) naming the line (an error under strict
//! reading). A cue whose end is before its start is skipped with a warning.
//! Formatting tags (`<i>`, `<font …>`, `{\an8}`) are removed, the character
//! references WebVTT defines (`&lt;`, `&amp;`, …; files converted from
//! WebVTT carry them) decoded, and the cue's lines joined with spaces.

use std::path::Path;

use super::error::{Location, ReadError, Warnings};
use super::markup::{collapse_whitespace, decode_entities, strip_srt_markup};
use super::{finish_located, Segment, Transcript};

const TIMING: &str = "a timing line `HH:MM:SS,mmm --> HH:MM:SS,mmm`";

/// Parses SubRip text read from `path` (named in errors), accepting the
/// repairs described in the module docs without a word.
pub fn parse(text: &str, path: &Path) -> Result<Transcript, ReadError> {
    read(text, path, Warnings::new(path, false))
}

/// A cue being collected: its timing line (1-based) and text lines.
struct Open<'a> {
    line: usize,
    start: f64,
    end: f64,
    text: Vec<(usize, &'a str)>,
}

/// Parses SubRip text, adding repairs to `warnings`.
pub(crate) fn read(
    text: &str,
    path: &Path,
    mut warnings: Warnings,
) -> Result<Transcript, ReadError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<&str> = text.lines().collect();
    let mut segments = Vec::new();
    let mut open: Option<Open<'_>> = None;
    let mut timings = 0;
    let mut stray: Option<usize> = None;
    for (i, &line) in lines.iter().enumerate() {
        let Some(timing) = timing_line(line) else {
            match &mut open {
                Some(cue) => cue.text.push((i + 1, line)),
                None if line.trim().is_empty() => {}
                // The first cue's number (blank lines may follow it).
                None if is_index(line)
                    && lines[i + 1..]
                        .iter()
                        .find(|l| !l.trim().is_empty())
                        .is_some_and(|l| timing_line(l).is_some()) => {}
                None => {
                    stray.get_or_insert(i + 1);
                }
            }
            continue;
        };
        timings += 1;
        // The cue number: the line before, or the last line before a blank line
        // before it (`2`, blank, timing: an editor's stray blank line).
        let number = (0..i)
            .rev()
            .find(|&k| !lines[k].trim().is_empty())
            .filter(|&k| {
                is_index(lines[k])
                    && (k + 1 == i || k == 0 || lines[k - 1].trim().is_empty())
                    && open.as_ref().is_none_or(|c| k >= c.line)
            });
        let numbered = number.is_some();
        if let Some(mut cue) = open.take() {
            if let Some(k) = number {
                // Lines are 1-based in `text`: drop line k + 1 and what follows.
                cue.text.retain(|(at, _)| *at < k + 1);
            }
            close(cue, &mut segments, &mut warnings)?;
        }
        if let Some(at) = stray.take() {
            warnings.warn(
                Location::line(at),
                "text before the first cue's timing line; skipped",
            )?;
        }
        if !numbered {
            warnings.warn(
                Location::line(i + 1),
                "cue without a number on the line before its timing line; read it anyway",
            )?;
        }
        let Timing {
            start,
            end,
            repaired,
        } = match timing {
            Ok(t) => t,
            Err(()) => {
                // Timestamps the tolerant grammar does not cover: the cue's text
                // goes with it, so it is not appended to the previous cue.
                warnings.warn(
                    Location::line(i + 1),
                    format!(
                        "expected {TIMING}, found {}; cue skipped",
                        super::error::excerpt(line)
                    ),
                )?;
                open = Some(Open {
                    line: i + 1,
                    start: f64::NAN,
                    end: f64::NAN,
                    text: Vec::new(),
                });
                continue;
            }
        };
        if let Some(what) = repaired {
            warnings.warn(
                Location::line(i + 1),
                format!("{what}; read as {start:.3} --> {end:.3} s"),
            )?;
        }
        open = Some(Open {
            line: i + 1,
            start,
            end,
            text: Vec::new(),
        });
    }
    if let Some(cue) = open {
        close(cue, &mut segments, &mut warnings)?;
    }
    if timings == 0 {
        if let Some(at) = stray {
            // Text and no timing line at all: not something to skip silently.
            return Err(ReadError::syntax(
                path,
                Location::line(at),
                format!("{TIMING} (this file has none)"),
                lines[at - 1],
            ));
        }
    }
    finish_located(path, segments, warnings)
}

/// Ends `cue`: drops trailing blank lines, warns about blank lines inside
/// its text and skips it when its times are unusable.
fn close(
    mut cue: Open<'_>,
    segments: &mut Vec<(Segment, Location)>,
    warnings: &mut Warnings,
) -> Result<(), ReadError> {
    while cue.text.last().is_some_and(|(_, l)| l.trim().is_empty()) {
        cue.text.pop();
    }
    if cue.start.is_nan() {
        return Ok(());
    }
    if let Some((at, _)) = cue.text.iter().find(|(_, l)| l.trim().is_empty()) {
        warnings.warn(
            Location::line(*at),
            "blank line inside a cue's text (the next line is not a timing line); kept the text in this cue",
        )?;
    }
    if cue.end < cue.start {
        return warnings.warn(
            Location::line(cue.line),
            format!(
                "cue ends ({:.3} s) before it starts ({:.3} s); cue skipped",
                cue.end, cue.start
            ),
        );
    }
    let joined: Vec<&str> = cue.text.iter().map(|(_, l)| *l).collect();
    segments.push((
        Segment {
            start: cue.start,
            end: cue.end,
            text: collapse_whitespace(&decode_entities(&strip_srt_markup(&joined.join("\n")))),
            ..Default::default()
        },
        Location::line(cue.line),
    ));
    Ok(())
}

/// A cue number: digits on their own (`srt` also allows `-` and a decimal part).
fn is_index(line: &str) -> bool {
    let t = line.trim().trim_start_matches('\u{feff}');
    let t = t.strip_prefix('-').unwrap_or(t);
    let (int, frac) = t.split_once('.').unwrap_or((t, ""));
    !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
}

/// The times of a timing line, seconds.
struct Timing {
    start: f64,
    end: f64,
    /// What was not canonical about the line, when something was.
    repaired: Option<String>,
}

/// `None` when `line` is no timing line (no arrow after a timestamp-like
/// start); `Some(Err)` when it has the arrow but timestamps beyond repair;
/// otherwise the times and, when the line was not canonical, what was repaired.
fn timing_line(line: &str) -> Option<Result<Timing, ()>> {
    let normalised: String = line
        .trim()
        .chars()
        .map(|c| match c {
            '：' => ':',
            '，' => ',',
            '．' | '。' => '.',
            c => c,
        })
        .collect();
    let (left, right) = split_arrow(&normalised)?;
    let start_text = left.trim();
    if !start_text.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    // The end time runs to the first character no timestamp holds; what follows
    // is either coordinates after a space (`X1:40 X2:600`, kept out of the text)
    // or something attached to the time (`00:01:20,000?`), which srt and pysrt
    // ignore and so do we, with a warning.
    let right = right.trim_start();
    let cut = right
        .find(|c: char| !(c.is_ascii_digit() || matches!(c, ':' | ',' | '.')))
        .unwrap_or(right.len());
    let (end_text, after) = right.split_at(cut);
    let attached = !after.is_empty() && !after.starts_with(char::is_whitespace);
    let (Some((start, start_ok)), Some((end, end_ok))) =
        (timestamp(start_text), timestamp(end_text))
    else {
        return Some(Err(()));
    };
    let arrow_ok = normalised.contains(" --> ");
    let written_ok = normalised == line.trim();
    let repaired = (!(start_ok && end_ok && arrow_ok && written_ok) || attached).then(|| {
        format!(
            "timing line `{}` is not `HH:MM:SS,mmm --> HH:MM:SS,mmm`",
            line.trim()
        )
    });
    Some(Ok(Timing {
        start,
        end,
        repaired,
    }))
}

/// The text before and after the arrow: `-->`, or the spaced arrows srt
/// reads (its pattern `-[ -] *>`: `- >`, `-- >`, `-  >`).
fn split_arrow(line: &str) -> Option<(&str, &str)> {
    if let Some(pair) = line.split_once("-->") {
        return Some(pair);
    }
    let b = line.as_bytes();
    line.match_indices('-').find_map(|(dash, _)| {
        if !matches!(b.get(dash + 1), Some(b'-' | b' ')) {
            return None;
        }
        let mut k = dash + 2;
        while b.get(k) == Some(&b' ') {
            k += 1;
        }
        (b.get(k) == Some(&b'>')).then(|| (&line[..dash], &line[k + 1..]))
    })
}

/// Seconds of a SubRip timestamp and whether it had the canonical shape
/// (`HH:MM:SS,mmm`, a `.` accepted for the comma). Tolerated: any number of
/// digits per field (leading zeros included: `,000000500` is 500 ms), no
/// milliseconds, `:` or `.` before them. Milliseconds are the integer written
/// (`,5` is 5 ms), as `srt` and `pysrt` read them.
fn timestamp(t: &str) -> Option<(f64, bool)> {
    let fields: Vec<&str> = t.split([':', ',', '.']).collect();
    let (h, m, s, ms) = match fields.as_slice() {
        [h, m, s] => (*h, *m, *s, None),
        [h, m, s, ms] => (*h, *m, *s, Some(*ms)),
        _ => return None,
    };
    // At most 9 significant digits, so the sum below cannot overflow.
    let digits = |x: &str| {
        !x.is_empty()
            && x.bytes().all(|b| b.is_ascii_digit())
            && x.trim_start_matches('0').len() <= 9
    };
    if !(digits(h) && digits(m) && digits(s) && ms.is_none_or(|ms| ms.is_empty() || digits(ms))) {
        return None;
    }
    let n = |x: &str| x.trim_start_matches('0').parse::<u64>().unwrap_or(0);
    let millis = ms.map_or(0, n);
    let total = (n(h) * 3600 + n(m) * 60 + n(s)) * 1000 + millis;
    let canonical = h.len() >= 2
        && m.len() == 2
        && s.len() == 2
        && ms.is_some_and(|ms| ms.len() == 3)
        && n(m) < 60
        && n(s) < 60
        && t.as_bytes().get(h.len() + m.len() + s.len() + 2) != Some(&b':');
    Some((total as f64 / 1000.0, canonical))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> &'static Path {
        Path::new("talk.srt")
    }

    fn lenient(text: &str) -> (Vec<(f64, f64, String)>, Vec<String>) {
        let t = read(text, p(), Warnings::new(p(), false)).unwrap();
        (
            t.segments()
                .iter()
                .map(|s| (s.start, s.end, s.text.clone()))
                .collect(),
            t.warnings().iter().map(|w| w.to_string()).collect(),
        )
    }

    fn cue(start: f64, end: f64, text: &str) -> (f64, f64, String) {
        (start, end, text.to_owned())
    }

    #[test]
    fn cues_with_tags_and_multiple_lines() {
        let text = "1\n00:00:01,000 --> 00:00:02,500\n<i>Hello</i>\nthere\n\n\
                    2\n00:01:02.250 --> 00:01:03,000 X1:40 X2:600\n{\\an8}General Kenobi\n";
        let (cues, warnings) = lenient(text);
        // 1 min 2.25 s = 62.25 s.
        assert_eq!(
            cues,
            vec![
                cue(1.0, 2.5, "Hello there"),
                cue(62.25, 63.0, "General Kenobi")
            ]
        );
        assert_eq!(warnings, Vec::<String>::new());
    }

    #[test]
    fn text_that_looks_like_tags_but_is_not_stays() {
        // pysrt strips `<3,5>` as a tag; it is text (a tag starts with a letter or `/`).
        let (cues, _) = lenient("1\n00:00:01,000 --> 00:00:02,000\n2<3,5>1,4<6\n");
        assert_eq!(cues, vec![cue(1.0, 2.0, "2<3,5>1,4<6")]);
        // A reference is decoded after the tags are gone: `&lt;i&gt;` is text.
        let (cues, _) = lenient("1\n00:00:01,000 --> 00:00:02,000\n2 &lt; 3, &lt;i&gt;\n");
        assert_eq!(cues, vec![cue(1.0, 2.0, "2 < 3, <i>")]);
    }

    #[test]
    fn repaired_timings_are_read_and_warned_about_on_their_line() {
        // 0:0:1 → 1 s; `,5` is 5 ms as srt and pysrt read it; `- >` arrow;
        // full-width `：` and `，`; no milliseconds.
        let text = "1\n0:0:1,5 --> 0:0:2,25\na\n\n\
                    2\n00:00:03,000 - > 00:00:04,000\nb\n\n\
                    3\n00：00：05，000 --> 00：00：06，000\nc\n\n\
                    4\n00:00:07 --> 00:00:08\nd\n";
        let (cues, warnings) = lenient(text);
        assert_eq!(
            cues,
            vec![
                cue(1.005, 2.025, "a"),
                cue(3.0, 4.0, "b"),
                cue(5.0, 6.0, "c"),
                cue(7.0, 8.0, "d")
            ]
        );
        let lines: Vec<&str> = warnings
            .iter()
            .map(|w| w.split(": ").nth(1).unwrap())
            .collect();
        assert_eq!(lines, vec!["line 2", "line 6", "line 10", "line 14"]);
        assert!(
            warnings[0].contains("read as 1.005 --> 2.025 s"),
            "{warnings:?}"
        );
    }

    #[test]
    fn spaced_arrows_attached_text_and_leading_zeros_are_repaired() {
        // srt reads `-- >` (its arrow pattern is `-[ -] *>`); pysrt and webvtt-py
        // ignore `?`/`xyz` attached to the end time; 33 digits of milliseconds with
        // leading zeros are 500 ms (srt and webvtt-py read the integer).
        let text = "1\n00:00:01,500 -- > 00:00:03,250\na\n\n\
                    2\n00:01:00,000 --> 00:01:20,000?\nb\n\n\
                    3\n00:02:00,000 --> 00:02:07,000xyz\nc\n\n\
                    4\n00:03:00,000000000000000000000000000000500 --> 00:03:07,000\nd\n\n\
                    5\n00:04:00,000 --> 00:04:01,000 X1:000 X2:000\ne\n";
        let (cues, warnings) = lenient(text);
        // 1 min = 60 s, 1 min 20 s = 80 s; 2 min 7 s = 127 s; 3 min + 0.5 s = 180.5 s.
        assert_eq!(
            cues,
            vec![
                cue(1.5, 3.25, "a"),
                cue(60.0, 80.0, "b"),
                cue(120.0, 127.0, "c"),
                cue(180.5, 187.0, "d"),
                cue(240.0, 241.0, "e")
            ]
        );
        // Coordinates after a space are not a repair; the other four are.
        let lines: Vec<&str> = warnings
            .iter()
            .map(|w| w.split(": ").nth(1).unwrap())
            .collect();
        assert_eq!(lines, vec!["line 2", "line 6", "line 10", "line 14"]);
    }

    #[test]
    fn an_arrow_inside_a_cue_starts_a_new_cue() {
        // No blank line between the cues: the second timing line still starts a cue
        // (it used to be kept as the first cue's text).
        let text =
            "1\n00:00:00,500 --> 00:00:04,300\nfirst\n2\n00:00:07,000 --> 00:00:09,000\nsecond\n";
        let (cues, warnings) = lenient(text);
        assert_eq!(cues, vec![cue(0.5, 4.3, "first"), cue(7.0, 9.0, "second")]);
        assert_eq!(warnings, Vec::<String>::new());
    }

    #[test]
    fn blank_lines_inside_text_and_missing_numbers() {
        let text = "1\n00:00:01,000 --> 00:00:02,000\nfirst\n\nstill first\n\n\
                    00:00:03,000 --> 00:00:04,000\nunnumbered\n";
        let (cues, warnings) = lenient(text);
        assert_eq!(
            cues,
            vec![
                cue(1.0, 2.0, "first still first"),
                cue(3.0, 4.0, "unnumbered")
            ]
        );
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].starts_with("talk.srt: line 4: blank line inside"));
        assert!(warnings[1].starts_with("talk.srt: line 7: cue without a number"));
    }

    #[test]
    fn a_number_separated_from_its_timing_by_a_blank_line_is_still_the_number() {
        let text =
            "1\n00:00:01,000 --> 00:00:02,000\nfirst\n\n2\n\n00:00:03,000 --> 00:00:04,000\n42\n";
        let (cues, warnings) = lenient(text);
        assert_eq!(cues, vec![cue(1.0, 2.0, "first"), cue(3.0, 4.0, "42")]);
        assert_eq!(warnings, Vec::<String>::new());
    }

    #[test]
    fn reversed_and_unreadable_cues_are_skipped_with_a_warning() {
        let text = "1\n00:00:03,000 --> 00:00:02,000\nreversed\n\n\
                    2\n00:00:0x,000 --> 00:00:04,000\nbroken\n\n\
                    3\n00:00:05,000 --> 00:00:06,000\nok\n";
        let (cues, warnings) = lenient(text);
        assert_eq!(cues, vec![cue(5.0, 6.0, "ok")]);
        assert!(warnings[0].contains("line 2: cue ends (2.000 s) before it starts"));
        assert!(warnings[1].contains("line 6: expected a timing line"));
    }

    #[test]
    fn strict_reading_refuses_the_first_repair() {
        let text = "1\n00:00:01,000 --> 00:00:02,000\nok\n\n00:00:03,000 --> 00:00:04,000\nx\n";
        let e = read(text, p(), Warnings::new(p(), true)).unwrap_err();
        assert!(matches!(e, ReadError::Strict { .. }), "{e}");
        assert!(
            e.to_string()
                .starts_with("talk.srt: line 5: cue without a number"),
            "{e}"
        );
    }

    #[test]
    fn a_file_with_text_and_no_timing_line_is_an_error() {
        let e = parse("hello\nworld\n", p()).unwrap_err();
        assert!(
            matches!(&e, ReadError::Syntax { location, .. } if *location == Location::line(1)),
            "{e}"
        );
    }

    #[test]
    fn a_lone_number_is_no_transcript() {
        // webvtt-py's invalid_format1.srt: `1` and nothing else.
        let e = parse("1", p()).unwrap_err();
        assert!(
            e.to_string().contains("(this file has none), found `1`"),
            "{e}"
        );
    }

    #[test]
    fn empty_file_is_an_empty_transcript() {
        assert!(parse("", p()).unwrap().segments().is_empty());
        assert!(parse("\n \n", p()).unwrap().segments().is_empty());
    }
}
