//! WebVTT (`.vtt`) subtitles and captions, as browsers, YouTube, Netflix and
//! speech-to-text services write them.
//!
//! The file is read with the block loop of the WebVTT parsing algorithm
//! (W3C WebVTT, "WebVTT parser algorithm"): after the `WEBVTT` line and its
//! header, the file is a sequence of blocks separated by empty lines. A block
//! whose first or second line holds `-->` is a cue (the line before the
//! timing line is its identifier); a later line holding `-->` ends the block
//! and starts the next one, even without an empty line before it. Blocks
//! without a timing line are skipped: `NOTE`, `STYLE` and `REGION` blocks
//! silently, others with a warning. A line of spaces is not an empty line
//! (the algorithm keeps it as text), so it never splits a cue.
//!
//! Where the algorithm drops a cue (a timing line it cannot parse) this
//! reader drops it too, with a warning naming the line. Beyond the algorithm,
//! and as `webvtt-py` does, timestamps with unpadded fields (`0:0:3.5`) or a
//! comma are read, with a warning; strict reading
//! ([`ReadOptions::strict`](super::ReadOptions)) refuses each of these.
//!
//! The cue text is cleaned here: voice, class, italic and other tags
//! (`<v Alice>`, `<c.loud>`, `</i>`, open or closed) are removed (the name
//! of a cue's first voice, `Alice` in `<v Alice>` or `<v.loud Alice>`, is
//! the segment's [`Speaker`](super::Speaker)), the
//! character references `&amp;` `&lt;` `&gt;` `&nbsp;` `&lrm;` `&rlm;` are
//! decoded, and inline timestamps (`<00:00:01.250>`, karaoke-style captions)
//! become word timings: each piece of text between two timestamps is one
//! [`Word`] from its timestamp (the cue start for the first) to the next (the
//! cue end for the last). A cue whose inline timestamps leave the cue or go
//! backwards keeps its text without word timings, with a warning.

use std::path::Path;

use super::error::{excerpt, Location, ReadError, Warnings};
use super::markup::{collapse_whitespace, decode_entities};
use super::speakers::Names;
use super::{finish_located, Segment, Transcript, Word};

const TIMING: &str = "a timing line `HH:MM:SS.mmm --> HH:MM:SS.mmm`";

/// Parses WebVTT text read from `path` (named in errors), accepting the
/// repairs described in the module docs without a word.
pub fn parse(text: &str, path: &Path) -> Result<Transcript, ReadError> {
    read(text, path, Warnings::new(path, false))
}

/// Parses WebVTT text, adding repairs and skipped blocks to `warnings`.
pub(crate) fn read(
    text: &str,
    path: &Path,
    mut warnings: Warnings,
) -> Result<Transcript, ReadError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // Text from `read_file` has `\n` line ends already; text given directly may have CRLF.
    let lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    let signature = lines[0];
    let ok = signature
        .strip_prefix("WEBVTT")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t']));
    if !ok {
        return Err(ReadError::syntax(
            path,
            Location::line(1),
            "a file starting with `WEBVTT`",
            signature,
        ));
    }
    // The header: up to the first empty line, or a line holding an arrow.
    let mut i = 1;
    while i < lines.len() && !lines[i].is_empty() && !lines[i].contains("-->") {
        i += 1;
    }
    let mut segments = Vec::new();
    let mut names = Names::default();
    while i < lines.len() {
        if lines[i].is_empty() {
            i += 1;
            continue;
        }
        i = block(&lines, i, &mut segments, &mut names, &mut warnings)?;
    }
    finish_located(path, segments, warnings)
}

/// Reads the block starting at line index `first` (0-based); returns the
/// index of the first line after it.
fn block(
    lines: &[&str],
    first: usize,
    segments: &mut Vec<(Segment, Location)>,
    names: &mut Names,
    warnings: &mut Warnings,
) -> Result<usize, ReadError> {
    let mut buffer: Vec<&str> = Vec::new();
    // The timing line's index and what it held (None: not parseable).
    let mut timing: Option<(usize, Option<(f64, f64)>)> = None;
    let mut i = first;
    let mut ended_by_arrow = false;
    while i < lines.len() {
        let line = lines[i];
        let count = i - first + 1;
        // `NOTE a --> b`: a comment, though the algorithm would take it for a timing line.
        let comment = count == 1 && is_keyword_line(line, "NOTE");
        if line.contains("-->") && !comment {
            if timing.is_none() && (count == 1 || count == 2) {
                timing = Some((i, timings(line, i, warnings)?));
                buffer.clear(); // The identifier, if any, is not text.
                i += 1;
                continue;
            }
            ended_by_arrow = true;
            break;
        }
        i += 1;
        if line.is_empty() {
            break;
        }
        buffer.push(line);
    }
    match timing {
        Some((at, Some((start, end)))) => {
            if ended_by_arrow {
                warnings.warn(
                    Location::line(i + 1),
                    "timing line without an empty line before it; it starts a new cue (as the WebVTT parsing algorithm says)",
                )?;
            }
            let payload = buffer.join("\n");
            let cue = cue_text(&payload, start, end, at, warnings)?;
            segments.push((
                Segment {
                    start,
                    end,
                    text: cue.text,
                    words: cue.words,
                    speaker: cue.voice.and_then(|v| names.get(&v)),
                },
                Location::line(at + 1),
            ));
        }
        Some((_, None)) => {}
        None => {
            // A NOTE, STYLE or REGION block is meant to be skipped.
            let first_line = buffer.first().copied().unwrap_or("");
            if ["NOTE", "STYLE", "REGION"]
                .iter()
                .any(|k| is_keyword_line(first_line, k))
            {
                return Ok(i);
            }
            if ended_by_arrow {
                // The line before a timing line is the next cue's identifier.
                buffer.pop();
            }
            if let Some(k) = buffer.iter().position(|l| !l.trim().is_empty()) {
                warnings.warn(
                    Location::line(first + k + 1),
                    format!(
                        "block without a timing line ({}); skipped",
                        excerpt(buffer[k].trim())
                    ),
                )?;
            }
        }
    }
    Ok(i)
}

/// Whether `line` is `keyword` alone or followed by a space or tab.
fn is_keyword_line(line: &str, keyword: &str) -> bool {
    line.strip_prefix(keyword)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t']))
}

/// The start and end of the timing line at index `at`, or `None` (with a
/// warning) when the cue has to be dropped.
fn timings(
    line: &str,
    at: usize,
    warnings: &mut Warnings,
) -> Result<Option<(f64, f64)>, ReadError> {
    let (left, right) = line.split_once("-->").expect("the caller saw the arrow");
    let start_text = left.trim();
    // The algorithm collects the end timestamp's characters and parses the cue
    // settings from whatever follows, space or not (`00:04.300line:0`).
    let right = right.trim_start();
    let cut = right
        .find(|c: char| !(c.is_ascii_digit() || matches!(c, ':' | '.' | ',')))
        .unwrap_or(right.len());
    let (end_text, after) = right.split_at(cut);
    // Settings attached without a space follow a complete `.mmm` end time only;
    // `00:00:1d.890` is a broken time, not `00:00:1` and settings `d.890`.
    let attached = !after.is_empty() && !after.starts_with(char::is_whitespace);
    let end = if attached {
        timestamp(end_text)
    } else {
        lenient_timestamp(end_text)
    };
    let (Some(start), Some(end)) = (lenient_timestamp(start_text), end) else {
        warnings.warn(
            Location::line(at + 1),
            format!("expected {TIMING}, found {}; cue skipped", excerpt(line)),
        )?;
        return Ok(None);
    };
    if timestamp(start_text).is_none() || timestamp(end_text).is_none() {
        warnings.warn(
            Location::line(at + 1),
            format!(
                "timestamps `{start_text} --> {end_text}` are not `HH:MM:SS.mmm`; read as {start:.3} --> {end:.3} s"
            ),
        )?;
    }
    if end < start {
        warnings.warn(
            Location::line(at + 1),
            format!("cue ends ({end:.3} s) before it starts ({start:.3} s); cue skipped"),
        )?;
        return Ok(None);
    }
    Ok(Some((start, end)))
}

/// Seconds of a timestamp as `webvtt-py` reads them beyond the specification:
/// `[H:]M:S[.f]` with any number of digits per field, `,` or `.` before the
/// fraction, which is a decimal fraction (`3.5` is 3.500 s) of at most three
/// digits. Minutes and seconds above 59 fail, as in the specification.
fn lenient_timestamp(s: &str) -> Option<f64> {
    let (clock, frac) = match s.split_once(['.', ',']) {
        // `07.` and `07.-004`: a separator and no digits after it.
        Some((_, "")) => return None,
        Some((c, f)) => (c, f),
        None => (s, ""),
    };
    let fields: Vec<&str> = clock.split(':').collect();
    let digits = |x: &str| !x.is_empty() && x.len() <= 9 && x.bytes().all(|b| b.is_ascii_digit());
    if fields.len() < 2 || fields.len() > 3 || !fields.iter().all(|f| digits(f)) {
        return None;
    }
    if !(frac.is_empty() || (frac.len() <= 3 && digits(frac))) {
        return None;
    }
    let n = |x: &str| x.parse::<u64>().unwrap_or(0);
    let (h, m, sec) = match fields.as_slice() {
        [m, s] => (0, n(m), n(s)),
        [h, m, s] => (n(h), n(m), n(s)),
        _ => return None,
    };
    // Out of range is a failure in the algorithm (the cue is dropped), not a
    // padding slip: `00:00:61.000` is no time.
    if m > 59 || sec > 59 {
        return None;
    }
    let millis = if frac.is_empty() {
        0
    } else {
        n(frac) * 10u64.pow(3 - frac.len() as u32)
    };
    Some(((h * 3600 + m * 60 + sec) * 1000 + millis) as f64 / 1000.0)
}

/// What a cue's payload says.
struct CueText {
    /// The text without tags.
    text: String,
    /// Words timed by inline timestamps (empty without them).
    words: Vec<Word>,
    /// The name of the first voice span (`<v Alice>`), if any.
    voice: Option<String>,
}

/// Plain text, inline-timestamp words and voice of a cue payload spanning
/// `start..end` whose timing line has index `at` (the payload starts on the
/// line after it).
fn cue_text(
    payload: &str,
    start: f64,
    end: f64,
    at: usize,
    warnings: &mut Warnings,
) -> Result<CueText, ReadError> {
    let line_of = |offset: usize| at + 2 + payload[..offset].matches('\n').count();
    // Pieces of text, each with the time it starts at.
    let mut pieces: Vec<(f64, String)> = vec![(start, String::new())];
    let mut stamped = false;
    let mut words_ok = true;
    let mut voice: Option<String> = None;
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
            // The algorithm would read a tag to the end of the cue and drop it;
            // a `<` that opens nothing is more likely text written without `&lt;`.
            warnings.warn(
                Location::line(line_of(pos + i)),
                format!("`<` that opens no tag ({}); kept as text", excerpt(tail)),
            )?;
            pieces.last_mut().expect("never empty").1.push('<');
            pos += i + 1;
            rest = &tail[1..];
            continue;
        };
        let tag = &tail[1..close];
        if voice.is_none() {
            voice = voice_name(tag);
        }
        if tag.starts_with(|c: char| c.is_ascii_digit()) && words_ok {
            let previous = pieces.last().expect("never empty").0;
            match timestamp(tag) {
                Some(t) if t >= previous && t <= end => {
                    stamped = true;
                    pieces.push((t, String::new()));
                }
                other => {
                    let why = match other {
                        Some(_) => format!("outside the cue ({start:.3}..{end:.3} s) or before the previous one ({previous:.3} s)"),
                        None => "not `<HH:MM:SS.mmm>` or `<MM:SS.mmm>`".to_owned(),
                    };
                    warnings.warn(
                        Location::line(line_of(pos + i)),
                        format!("inline timestamp <{tag}> {why}; the cue's text is kept without word timings"),
                    )?;
                    words_ok = false;
                }
            }
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
    if stamped && words_ok {
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
    Ok(CueText { text, words, voice })
}

/// The annotation of a voice start tag (`v Alice`, `v.loud.quiet Alice Smith`,
/// the text between `<` and `>`): the name, entities decoded and whitespace
/// collapsed; `None` for other tags and a voice without a name.
fn voice_name(tag: &str) -> Option<String> {
    let (name, annotation) = tag.split_once([' ', '\t', '\n', '\x0c'])?;
    if name.split('.').next() != Some("v") {
        return None;
    }
    let annotation = collapse_whitespace(&decode_entities(annotation));
    (!annotation.is_empty()).then_some(annotation)
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
    fn voices_name_the_speaker_and_leave_the_text() {
        let text = "WEBVTT\n\n00:01.000 --> 00:02.000\n<v Alice>Fish &amp; <i>chips</i></v>\n\n\
                    00:02.000 --> 00:03.000\n<v.loud.first   Bob  Smith >Hi</v> <v Carol>there\n\n\
                    00:03.000 --> 00:04.000\n<v>nobody <c.v Dan>named <vx Eve>here\n\n\
                    00:04.000 --> 00:05.000\n<v Tom &amp; Jerry>chase\n";
        let t = parse(text, p()).unwrap();
        let got: Vec<(Option<&str>, &str)> = t
            .segments()
            .iter()
            .map(|s| (s.speaker.as_ref().map(|v| v.as_str()), s.text.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (Some("Alice"), "Fish & chips"),
                // A cue's first voice is its speaker.
                (Some("Bob Smith"), "Hi there"),
                // `<v>` names no one; `<c.v …>` and `<vx …>` are not voices.
                (None, "nobody named here"),
                (Some("Tom & Jerry"), "chase"),
            ]
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
    fn crlf_text_given_directly_reads_like_lf() {
        let (cues, _) = lenient("WEBVTT\r\n\r\n00:01.000 --> 00:02.000\r\nhi\r\n");
        assert_eq!(cues, vec![cue(1.0, 2.0, "hi")]);
    }

    #[test]
    fn a_missing_signature_is_an_error_naming_line_1() {
        let e = parse("WEBVTX\n", p()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "cap.vtt: line 1: expected a file starting with `WEBVTT`, found `WEBVTX`"
        );
        assert!(!e.to_string().contains("looked for"));
    }

    #[test]
    fn an_arrow_line_inside_a_cue_starts_a_new_cue() {
        // webvtt-py's youtube_dl.vtt: no empty line before the second timing line.
        let text = "WEBVTT\n\n00:00:00.500 --> 00:00:04.300\nyeah\n<c>what</c>\n\
                    00:00:07.000 --> 00:00:09.000\nthis<00:00:08.000> will\n";
        let (cues, warnings) = lenient(text);
        assert_eq!(
            cues,
            vec![cue(0.5, 4.3, "yeah what"), cue(7.0, 9.0, "this will")]
        );
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].starts_with("cap.vtt: line 6: timing line without an empty line"));
        let t = parse(text, p()).unwrap();
        assert_eq!(t.segments()[1].words.len(), 2);
    }

    #[test]
    fn blocks_the_algorithm_skips_are_skipped() {
        // A cue block without a timing line (warned), a STYLE block with a line of
        // spaces, `NOTE a --> b`, a line of spaces between blocks, a tag left open.
        let text = "WEBVTT\n\nSTYLE\n::cue { color: red }\n   \n::cue(b) {}\n\n\
                    NOTE a --> b\n\n\
                    00:00:00.500 --> 00:00:07.000\nCaption #1\n\n\
                    Caption #2\n\n\
                    \x20   \n\n\
                    00:00:11.890 --> 00:00:16.320\n<i>Caption #3\n";
        let (cues, warnings) = lenient(text);
        assert_eq!(
            cues,
            vec![cue(0.5, 7.0, "Caption #1"), cue(11.89, 16.32, "Caption #3")]
        );
        assert_eq!(
            warnings,
            vec!["cap.vtt: line 13: block without a timing line (`Caption #2`); skipped"]
        );
    }

    #[test]
    fn netflix_whitespace_lines_before_a_numbered_cue() {
        // netflix_chicas_del_cable.vtt: lines of spaces, then the cue number and timing.
        let text = "WEBVTT\n\nNOTE Netflix\n\n      \n\n    \n1\n\
                    00:00:07.960 --> 00:00:09.480  position:50.00%,middle\n[Alba] <i>En 1928,</i>\n";
        let (cues, warnings) = lenient(text);
        assert_eq!(cues, vec![cue(7.96, 9.48, "[Alba] En 1928,")]);
        assert_eq!(warnings, Vec::<String>::new());
    }

    #[test]
    fn unpadded_and_bad_timings() {
        // webvtt-py reads `0:0:3.54` as 3.540 s and `0:1:5.2` as 65.200 s.
        let text = "WEBVTT\n\n0:0:0.0 --> 0:0:3.54\na\n\n0:1:5.2 --> 1:2:7.950\nb\n\n\
                    00:00:07.000 --> 00:00:1d.890\nbroken\n\n00:00:20.000 --> 00:00:21.000\nc\n";
        let (cues, warnings) = lenient(text);
        assert_eq!(
            cues,
            // Sorted by start: c (20 s) before b (65.2 s).
            vec![
                cue(0.0, 3.54, "a"),
                cue(20.0, 21.0, "c"),
                cue(65.2, 3727.95, "b")
            ]
        );
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        assert!(warnings[0].contains("line 3: timestamps `0:0:0.0 --> 0:0:3.54`"));
        assert!(warnings[2].contains("line 9: expected a timing line"));
        assert!(warnings[2].ends_with("cue skipped"));
    }

    #[test]
    fn out_of_range_fields_and_long_fractions_drop_the_cue_as_the_algorithm_does() {
        // "Collect a WebVTT timestamp" fails for seconds above 59 and for a fraction
        // that is not three digits (`04.3001`); the cue goes, with a warning. Cue
        // settings attached to the end time (`04.300line:0`) are settings.
        let text = "WEBVTT\n\n00:00:61.000 --> 00:00:62.000\nsixty-one\n\n\
                    00:00:00.500 --> 00:00:04.3001 line:0\nfour digits\n\n\
                    00:00:05.000 --> 00:00:06.300line:0\nattached\n\n\
                    00:00:07.000 --> 00:00:08.-004\nno fraction digits\n";
        let (cues, warnings) = lenient(text);
        assert_eq!(cues, vec![cue(5.0, 6.3, "attached")]);
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        assert!(warnings[0].contains("line 3: expected a timing line"));
        assert!(warnings[1].contains("line 6: expected a timing line"));
        assert!(warnings[2].contains("line 12: expected a timing line"));
    }

    #[test]
    fn out_of_range_inline_timestamps_drop_word_timings_only() {
        let text = "WEBVTT\n\n00:01.000 --> 00:02.000\nok <00:05.000>late\n";
        let (cues, warnings) = lenient(text);
        assert_eq!(cues, vec![cue(1.0, 2.0, "ok late")]);
        assert!(warnings[0]
            .starts_with("cap.vtt: line 4: inline timestamp <00:05.000> outside the cue"));
        assert!(parse(text, p()).unwrap().segments()[0].words.is_empty());
        let e = read(text, p(), Warnings::new(p(), true)).unwrap_err();
        assert!(matches!(e, ReadError::Strict { .. }), "{e}");
    }

    #[test]
    fn entities_are_decoded_and_a_bare_less_than_is_kept() {
        // Better than webvtt-py, which leaves `&lt;` as written.
        let (cues, warnings) = lenient("WEBVTT\n\n00:01.000 --> 00:02.000\n2 &lt; 3 &amp; 4 < 5\n");
        assert_eq!(cues, vec![cue(1.0, 2.0, "2 < 3 & 4 < 5")]);
        assert_eq!(warnings.len(), 1);
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
