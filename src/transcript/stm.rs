//! STM (segment time marks, the reference transcripts of NIST's `sclite`
//! scorer, as TED-LIUM and many speech-recognition recipes ship them): timed
//! text with the speaker of each segment.
//!
//! One segment a line, fields separated by spaces or tabs:
//! `file channel speaker begin end [<label>] text`, e.g.
//! `talk 1 alice 0.50 2.75 <o,f0,female> hello there`. Times are seconds;
//! the optional label (a `<…>` field: condition, focus, gender) is skipped;
//! the text runs to the end of the line, whitespace collapsed, and may be
//! empty (the segment still says who speaks when). sclite's text notation
//! (`(uh)` for an optional word, `{ a / b }` for alternatives) is kept as
//! written. Empty lines and `;;` comments (sclite's category definitions
//! among them) are skipped.
//!
//! A segment whose text (or speaker) is `IGNORE_TIME_SEGMENT_IN_SCORING`, in
//! any case (TED-LIUM writes `excluded_region … ignore_time_segment_in_scoring`),
//! is a stretch sclite leaves out: it gives no segment, and is an
//! [`excluded`](super::SpeakerTurns::excluded) stretch of the speaker turns.
//!
//! As in RTTM, one file may hold several recordings, told apart by the
//! `file` field: the recording asked for
//! ([`ReadOptions::recording`](super::ReadOptions)), else the one named like
//! the STM file itself, is read; several recordings, none of them that one,
//! are an error naming them.

use std::path::Path;

use super::error::{Location, ReadError, Warnings};
use super::markup::collapse_whitespace;
use super::speakers::{choose_recording, fields, seconds, Names, SpeakerTurns};
use super::{finish_located, Segment, Transcript};
use crate::reading::Span;

const LINE: &str = "an STM line `file channel speaker begin end [<label>] text`";

/// What marks a stretch that scoring leaves out.
const IGNORE: &str = "IGNORE_TIME_SEGMENT_IN_SCORING";

/// Parses STM text read from `path` (named in errors) into the transcript of
/// `recording` (else of the recording named like `path`; see the module docs).
pub fn parse(text: &str, path: &Path, recording: Option<&str>) -> Result<Transcript, ReadError> {
    read(text, path, recording, Warnings::new(path, false))
}

/// Parses STM text into the speaker turns of `recording` (one per segment,
/// with the excluded stretches).
pub fn parse_turns(
    text: &str,
    path: &Path,
    recording: Option<&str>,
) -> Result<SpeakerTurns, ReadError> {
    read_turns(text, path, recording, Warnings::new(path, false))
}

/// [`parse`], adding to `warnings` (a recording read under another name).
pub(crate) fn read(
    text: &str,
    path: &Path,
    recording: Option<&str>,
    mut warnings: Warnings,
) -> Result<Transcript, ReadError> {
    let stm = read_lines(text, path, recording, &mut warnings)?;
    finish_located(path, stm.segments, warnings)
}

/// [`parse_turns`], adding to `warnings`.
pub(crate) fn read_turns(
    text: &str,
    path: &Path,
    recording: Option<&str>,
    mut warnings: Warnings,
) -> Result<SpeakerTurns, ReadError> {
    let stm = read_lines(text, path, recording, &mut warnings)?;
    let t = finish_located(path, stm.segments, Warnings::new(path, false))?;
    Ok(t.speaker_turns()
        .with_notes(stm.excluded, warnings.into_vec()))
}

/// The segments and excluded stretches of the recording read.
struct Stm {
    segments: Vec<(Segment, Location)>,
    excluded: Vec<Span>,
}

/// One line of the file, before the recording is chosen.
struct Line<'a> {
    file: &'a str,
    segment: Option<Segment>,
    span: Span,
    line: usize,
}

fn read_lines(
    text: &str,
    path: &Path,
    recording: Option<&str>,
    warnings: &mut Warnings,
) -> Result<Stm, ReadError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines: Vec<Line<'_>> = Vec::new();
    let mut files: Vec<(String, usize)> = Vec::new();
    let mut names = Names::default();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let f = fields(line);
        if f.first().is_none_or(|f| f.text.starts_with(";;")) {
            continue;
        }
        if f.len() < 5 {
            return Err(ReadError::syntax(
                path,
                Location::line(n),
                LINE,
                line.trim(),
            ));
        }
        let begin = seconds(path, n, f[3], "the begin time")?;
        let end = seconds(path, n, f[4], "the end time")?;
        if end < begin {
            return Err(ReadError::syntax(
                path,
                Location::Line {
                    line: n,
                    column: Some(f[4].column),
                },
                format!("an end time not before the begin time ({begin} s)"),
                f[4].text,
            ));
        }
        let mut rest = line[f[4].at + f[4].text.len()..].trim_start();
        if rest.starts_with('<') {
            let Some(close) = rest.find('>') else {
                let column = line[..line.len() - rest.len()].chars().count() + 1;
                return Err(ReadError::syntax(
                    path,
                    Location::Line {
                        line: n,
                        column: Some(column),
                    },
                    "a label closed by `>` (`<o,f0,male>`)",
                    rest,
                ));
            };
            rest = &rest[close + 1..];
        }
        let text = collapse_whitespace(rest);
        let speaker = f[2].text;
        let ignored = text.eq_ignore_ascii_case(IGNORE) || speaker.eq_ignore_ascii_case(IGNORE);
        if !files.iter().any(|(x, _)| x == f[0].text) {
            files.push((f[0].text.to_owned(), n));
        }
        lines.push(Line {
            file: f[0].text,
            segment: (!ignored).then(|| Segment {
                start: begin,
                end,
                text,
                words: Vec::new(),
                speaker: names.get(speaker),
            }),
            span: Span::new(begin, end),
            line: n,
        });
    }
    let chosen = choose_recording(path, &files, recording, warnings)?;
    let mut stm = Stm {
        segments: Vec::new(),
        excluded: Vec::new(),
    };
    for l in lines
        .into_iter()
        .filter(|l| chosen.as_deref() == Some(l.file))
    {
        match l.segment {
            Some(s) => stm.segments.push((s, Location::line(l.line))),
            None => stm.excluded.push(l.span),
        }
    }
    Ok(stm)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transcript::Speaker;

    fn p() -> &'static Path {
        Path::new("talk.stm")
    }

    /// `(speaker, start, end, text)` of each segment.
    fn segments(t: &Transcript) -> Vec<(&str, f64, f64, &str)> {
        t.segments()
            .iter()
            .map(|s| {
                (
                    s.speaker.as_ref().map_or("", Speaker::as_str),
                    s.start,
                    s.end,
                    s.text.as_str(),
                )
            })
            .collect()
    }

    const TALK: &str = ";; CATEGORY \"0\" \"\" \"\"\n\
        ;; LABEL \"O\" \"Overall\" \"All Segments\"\n\
        talk 1 alice 0.50 2.75 <o,f0,female> hello   there\n\
        talk 1 excluded_region 2.75 4.00 <o,,unknown> ignore_time_segment_in_scoring\n\
        \n\
        talk\t1\tbob\t3.50\t6.00\tyes (uh) { a / an } answer\n\
        talk 1 alice 6.00 6.50 <o,f0,female>\n";

    #[test]
    fn segments_carry_their_speakers() {
        let t = parse(TALK, p(), None).unwrap();
        assert_eq!(
            segments(&t),
            vec![
                ("alice", 0.5, 2.75, "hello there"),
                ("bob", 3.5, 6.0, "yes (uh) { a / an } answer"),
                ("alice", 6.0, 6.5, "")
            ]
        );
        assert_eq!(t.origin(1).to_string(), "line 6");
        let turns = parse_turns(TALK, p(), None).unwrap();
        assert_eq!(turns.excluded(), &[Span::new(2.75, 4.0)]);
        assert_eq!(turns.turns().len(), 3);
        assert_eq!(
            turns.speakers(),
            vec![Speaker::new("alice"), Speaker::new("bob")]
        );
        // The excluded region's text does not reach the model.
        assert_eq!(t.text_between(2.8, 3.4), "");
    }

    #[test]
    fn the_recording_is_picked_by_name() {
        let text = "a 1 x 0 1 one\ntalk 1 y 1 2 two\na 1 z 2 3 three\n";
        assert_eq!(
            segments(&parse(text, p(), None).unwrap()),
            vec![("y", 1.0, 2.0, "two")]
        );
        assert_eq!(parse(text, p(), Some("a")).unwrap().segments().len(), 2);
        let e = parse(text, Path::new("ref.stm"), None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "ref.stm: whole file: expected lines for recording `ref` (the file field names each line's recording), found only recordings `a`, `talk`"
        );
    }

    #[test]
    fn malformed_lines_name_line_column_and_expectation() {
        let e = |text: &str| parse(text, p(), None).unwrap_err().to_string();
        assert_eq!(
            e("talk 1 alice 0.5 2 hi\ntalk 1 bob 3\n"),
            "talk.stm: line 2: expected an STM line `file channel speaker begin end [<label>] text`, found `talk 1 bob 3`"
        );
        assert_eq!(
            e("talk 1 alice 0:05 2 hi\n"),
            "talk.stm: line 1, column 14: expected the begin time, seconds (a number >= 0), found `0:05`"
        );
        assert_eq!(
            e("talk 1 alice 5 2 hi\n"),
            "talk.stm: line 1, column 16: expected an end time not before the begin time (5 s), found `2`"
        );
        assert_eq!(
            e("talk 1 alice 0 2 <o,f0 hi\n"),
            "talk.stm: line 1, column 18: expected a label closed by `>` (`<o,f0,male>`), found `<o,f0 hi`"
        );
    }

    #[test]
    fn read_through_the_format_with_warnings() {
        use crate::transcript::{parse_str, ReadOptions};
        let t = parse_str(
            "meeting 1 A 0 1 hi\n",
            p(),
            &ReadOptions {
                recording: Some("talk".into()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(t.segments()[0].speaker.as_ref().unwrap(), "A");
        assert_eq!(
            t.warnings()[0].to_string(),
            "talk.stm: line 1: the file field names recording `meeting`, not `talk`; read as `talk`'s, the only recording in the file"
        );
    }
}
