//! WebVTT (`.vtt`) subtitles and captions, as browsers, YouTube and
//! speech-to-text services write them.
//!
//! The file structure (header, cues, timings, notes) is parsed by the
//! `webvtt-parser` crate; STYLE and REGION blocks are blanked first (line
//! numbers stay put). The cue text is cleaned here: voice, class, italic and
//! other tags (`<v Alice>`, `<c.loud>`, `</i>`) are removed, the character
//! references `&amp;` `&lt;` `&gt;` `&nbsp;` `&lrm;` `&rlm;` are decoded, and
//! inline timestamps (`<00:00:01.250>`, karaoke-style captions) become word
//! timings: each piece of text between two timestamps is one [`Word`] from
//! its timestamp (the cue start for the first) to the next (the cue end for
//! the last).

use std::path::Path;

use super::error::{Location, ReadError};
use super::markup::collapse_whitespace;
use super::{finish, Segment, Transcript, Word};

/// Parses WebVTT text read from `path` (named in errors).
pub fn parse(text: &str, path: &Path) -> Result<Transcript, ReadError> {
    let blanked = blank_style_and_region_blocks(text);
    let vtt = webvtt_parser::Vtt::parse(&blanked).map_err(|e| {
        let expected = if e.offset == 0 {
            "a file starting with `WEBVTT`".to_owned()
        } else {
            format!(
                "a cue: an optional identifier line, a timing line `HH:MM:SS.mmm --> HH:MM:SS.mmm` with end >= start, then text (parser looked for {})",
                e.looking_for
            )
        };
        ReadError::syntax(
            path,
            Location::of_offset(&blanked, e.offset),
            expected,
            blanked.get(e.offset..).unwrap_or(""),
        )
    })?;
    let mut segments = Vec::with_capacity(vtt.cues.len());
    for cue in &vtt.cues {
        let start = cue.start.as_milliseconds() as f64 / 1000.0;
        let end = cue.end.as_milliseconds() as f64 / 1000.0;
        // The payload is a slice of `blanked`: its offset locates errors.
        let offset = (cue.text.as_ptr() as usize).saturating_sub(blanked.as_ptr() as usize);
        let (text, words) = cue_text(cue.text, start, end).map_err(|(at, expected)| {
            ReadError::syntax(
                path,
                Location::of_offset(&blanked, offset + at),
                expected,
                &cue.text[at..],
            )
        })?;
        segments.push(Segment {
            start,
            end,
            text,
            words,
        });
    }
    finish(path, segments)
}

/// Replaces the lines of STYLE and REGION blocks (up to the next blank line) with empty lines.
fn blank_style_and_region_blocks(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blanking = false;
    for line in text.split_inclusive('\n') {
        let bare = line.trim_end_matches('\n');
        if bare.trim().is_empty() {
            blanking = false;
        } else if !blanking {
            let first = bare.split_whitespace().next().unwrap_or("");
            blanking = (first == "STYLE" || first == "REGION") && !bare.contains("-->");
        }
        if blanking {
            if line.ends_with('\n') {
                out.push('\n');
            }
        } else {
            out.push_str(line);
        }
    }
    out
}

/// Plain text and inline-timestamp words of a cue payload spanning `start..end`.
/// On error: the byte offset in `payload` and what was expected.
fn cue_text(payload: &str, start: f64, end: f64) -> Result<(String, Vec<Word>), (usize, String)> {
    // Pieces of text, each with the time it starts at (None before any timestamp).
    let mut pieces: Vec<(f64, String)> = vec![(start, String::new())];
    let mut stamped = false;
    let mut rest = payload;
    let mut pos = 0;
    while let Some(i) = rest.find('<') {
        pieces
            .last_mut()
            .expect("never empty")
            .1
            .push_str(&decode_entities(&rest[..i]));
        let tail = &rest[i..];
        let Some(close) = tail.find('>') else {
            return Err((pos + i, "a tag closed by `>`".into()));
        };
        let tag = &tail[1..close];
        if tag.starts_with(|c: char| c.is_ascii_digit()) {
            let t = timestamp(tag).ok_or((
                pos + i,
                "an inline timestamp `<HH:MM:SS.mmm>` or `<MM:SS.mmm>`".to_owned(),
            ))?;
            let previous = pieces.last().expect("never empty").0;
            if t < previous || t > end {
                return Err((
                    pos + i,
                    format!("an inline timestamp within the cue ({start:.3}..{end:.3} s) and after the previous one ({previous:.3} s)"),
                ));
            }
            stamped = true;
            pieces.push((t, String::new()));
        }
        pos += i + close + 1;
        rest = &tail[close + 1..];
    }
    pieces
        .last_mut()
        .expect("never empty")
        .1
        .push_str(&decode_entities(rest));
    let text = collapse_whitespace(
        &pieces
            .iter()
            .map(|p| p.1.as_str())
            .collect::<Vec<_>>()
            .join(" "),
    );
    let mut words = Vec::new();
    if stamped {
        for (k, (t, piece)) in pieces.iter().enumerate() {
            let piece = collapse_whitespace(piece);
            if piece.is_empty() {
                continue;
            }
            let until = pieces.get(k + 1).map_or(end, |n| n.0);
            words.push(Word {
                start: *t,
                end: until,
                text: piece,
            });
        }
    }
    Ok((text, words))
}

/// Seconds of a WebVTT timestamp `HH:MM:SS.mmm` (hours optional, at least two digits).
fn timestamp(s: &str) -> Option<f64> {
    let parts: Vec<&str> = s.split(':').collect();
    let (h, m, sec) = match parts.as_slice() {
        [m, s] => ("0", *m, *s),
        [h, m, s] if h.len() >= 2 => (*h, *m, *s),
        _ => return None,
    };
    let (s, ms) = sec.split_once('.')?;
    let all_digits = |x: &str, n: usize| x.len() == n && x.bytes().all(|b| b.is_ascii_digit());
    if !(h.bytes().all(|b| b.is_ascii_digit())
        && all_digits(m, 2)
        && all_digits(s, 2)
        && all_digits(ms, 3))
    {
        return None;
    }
    let (h, m, s, ms): (u64, u64, u64, u64) = (
        h.parse().ok()?,
        m.parse().ok()?,
        s.parse().ok()?,
        ms.parse().ok()?,
    );
    if m > 59 || s > 59 {
        return None;
    }
    let total = h
        .checked_mul(3600)?
        .checked_add(m * 60 + s)?
        .checked_mul(1000)?
        .checked_add(ms)?;
    Some(total as f64 / 1000.0)
}

/// Decodes the character references WebVTT text uses; others stay as written.
fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let known = [
            ("&amp;", "&"),
            ("&lt;", "<"),
            ("&gt;", ">"),
            ("&nbsp;", "\u{a0}"),
            ("&lrm;", "\u{200e}"),
            ("&rlm;", "\u{200f}"),
            ("&quot;", "\""),
            ("&apos;", "'"),
        ];
        match known.iter().find(|(e, _)| tail.starts_with(e)) {
            Some((e, c)) => {
                out.push_str(c);
                rest = &tail[e.len()..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> &'static Path {
        Path::new("cap.vtt")
    }

    #[test]
    fn cues_voices_entities_and_styles() {
        let text = "WEBVTT - demo\n\nSTYLE\n::cue { color: red }\n\nNOTE a comment\n\n\
                    intro\n00:01.000 --> 00:02.500 align:start\n<v Alice>Fish &amp; <i>chips</i></v>\n\n\
                    01:00:00.000 --> 01:00:01.000\n<c.loud>Bye</c>\nnow\n";
        let t = parse(text, p()).unwrap();
        let s = t.segments();
        assert_eq!(s.len(), 2);
        assert_eq!(
            (s[0].start, s[0].end, s[0].text.as_str()),
            (1.0, 2.5, "Fish & chips")
        );
        assert!(s[0].words.is_empty());
        assert_eq!(
            (s[1].start, s[1].end, s[1].text.as_str()),
            (3600.0, 3601.0, "Bye now")
        );
    }

    #[test]
    fn inline_timestamps_become_words() {
        // Words: "The" 1.0..1.3, "results" 1.3..1.9, "were great" 1.9..3.0 (cue end).
        let text = "WEBVTT\n\n00:00:01.000 --> 00:00:03.000\n<v Bob>The <00:00:01.300><c>results</c> <00:00:01.900><c>were great</c>\n";
        let t = parse(text, p()).unwrap();
        let s = &t.segments()[0];
        assert_eq!(s.text, "The results were great");
        let w: Vec<(f64, f64, &str)> = s
            .words
            .iter()
            .map(|w| (w.start, w.end, w.text.as_str()))
            .collect();
        assert_eq!(
            w,
            vec![
                (1.0, 1.3, "The"),
                (1.3, 1.9, "results"),
                (1.9, 3.0, "were great")
            ]
        );
    }

    #[test]
    fn errors_name_their_line() {
        let e = parse("WEBVTX\n", p()).unwrap_err();
        assert!(e.to_string().contains("line 1"), "{e}");
        let text = "WEBVTT\n\n00:01.000 --> 00:02.000\nok\n\n00:03.000 -> 00:04.000\nbad\n";
        // `00:03.000 -> 00:04.000` has no `-->`, so it reads as a cue identifier
        // and the timing line is missing on line 7.
        let e = parse(text, p()).unwrap_err();
        assert!(e.to_string().contains("cap.vtt: line 7"), "{e}");
        // Timestamp outside the cue: line 4.
        let text = "WEBVTT\n\n00:01.000 --> 00:02.000\nok <00:05.000>late\n";
        let e = parse(text, p()).unwrap_err();
        match e {
            ReadError::Syntax {
                location: Location::Line { line, .. },
                expected,
                ..
            } => {
                assert_eq!(line, 4);
                assert!(expected.contains("within the cue"), "{expected}");
            }
            e => panic!("{e:?}"),
        }
    }

    #[test]
    fn youtube_auto_captions() {
        // The shape YouTube's automatic captions download as: header metadata,
        // cue settings, and karaoke timestamps with <c> tags.
        let text = "WEBVTT\nKind: captions\nLanguage: en\n\n\
            00:00:00.030 --> 00:00:02.110 align:start position:0%\n \n\
            hello<00:00:00.359><c> everyone</c><00:00:00.719><c> and</c><00:00:01.079><c> welcome</c>\n\n\
            00:00:02.110 --> 00:00:02.120 align:start position:0%\n\
            hello everyone and welcome\n";
        let t = parse(text, Path::new("yt.vtt")).unwrap();
        let s = t.segments();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].text, "hello everyone and welcome");
        let w: Vec<(f64, &str)> = s[0]
            .words
            .iter()
            .map(|w| (w.start, w.text.as_str()))
            .collect();
        assert_eq!(
            w,
            vec![
                (0.03, "hello"),
                (0.359, "everyone"),
                (0.719, "and"),
                (1.079, "welcome")
            ]
        );
        assert_eq!(s[0].words[3].end, 2.11);
    }
}
