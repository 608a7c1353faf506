//! RTTM (Rich Transcription Time Marked, from NIST's Rich Transcription
//! evaluations): who speaks when, as diarisation tools write it (pyannote,
//! NeMo, and the scorers md-eval and dscore read it).
//!
//! One record a line, fields separated by spaces or tabs, RTTM 1.3's ten:
//! `type file chan tbeg tdur ortho stype name conf slat` (files from before
//! `slat` have nine). Only `SPEAKER` records give turns: `name` speaks from
//! `tbeg` for `tdur` seconds, e.g.
//! `SPEAKER talk 1 0.500 2.250 <NA> <NA> alice <NA> <NA>`. The other record
//! types (`SPKR-INFO`, `LEXEME`, `SEGMENT`, `NON-SPEECH`, …) are skipped, as
//! are empty lines and `;;` comments; a type RTTM does not define is an
//! error, as is a `SPEAKER` line without a name or with a time that is not a
//! number of seconds (file, line, column and what was expected).
//!
//! One file may hold the turns of several recordings, told apart by the
//! `file` field: the recording asked for, else the one named like the RTTM
//! file itself (`talk.rttm` next to `talk.wav`), is read; a file of several
//! recordings none of which is that one is an error naming them (see
//! `choose_recording` in the speakers module). Turns may overlap (two people
//! talking at once): all are kept.

use std::path::Path;

use super::error::{Location, ReadError, Warnings};
use super::speakers::{choose_recording, fields, seconds, Names, SpeakerTurns, Turn};
use crate::reading::Span;

/// The record types of RTTM (NIST RT-09 evaluation plan, appendix A).
const TYPES: [&str; 14] = [
    "SEGMENT",
    "NOSCORE",
    "NO_RT_METADATA",
    "LEXEME",
    "NON-LEX",
    "NON-SPEECH",
    "FILLER",
    "EDIT",
    "IP",
    "CB",
    "A/P",
    "SU",
    "SPEAKER",
    "SPKR-INFO",
];

const SPEAKER_LINE: &str =
    "a SPEAKER record `SPEAKER file chan tbeg tdur <NA> <NA> name <NA> <NA>` (9 or 10 fields)";

/// Parses RTTM text read from `path` (named in errors) into the turns of
/// `recording` (else of the recording named like `path`; see the module docs).
pub fn parse(text: &str, path: &Path, recording: Option<&str>) -> Result<SpeakerTurns, ReadError> {
    read(text, path, recording, Warnings::new(path, false))
}

/// One `SPEAKER` record.
struct Record<'a> {
    file: &'a str,
    name: &'a str,
    span: Span,
}

/// Parses RTTM text, adding to `warnings` (a recording read under another name).
pub(crate) fn read(
    text: &str,
    path: &Path,
    recording: Option<&str>,
    mut warnings: Warnings,
) -> Result<SpeakerTurns, ReadError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut records: Vec<Record<'_>> = Vec::new();
    // Each recording once, with the line it first appears on.
    let mut files: Vec<(String, usize)> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let f = fields(line);
        let Some(kind) = f.first() else { continue };
        if kind.text.starts_with(";;") {
            continue;
        }
        let at = |k: usize| Location::Line {
            line: n,
            column: Some(f[k].column),
        };
        if !TYPES.iter().any(|t| t.eq_ignore_ascii_case(kind.text)) {
            return Err(ReadError::syntax(
                path,
                at(0),
                "an RTTM record type (SPEAKER, SPKR-INFO, LEXEME, SEGMENT, NON-SPEECH, …) or a `;;` comment",
                kind.text,
            ));
        }
        if !kind.text.eq_ignore_ascii_case("SPEAKER") {
            continue;
        }
        if !(9..=10).contains(&f.len()) {
            let found = format!("{} fields: {}", f.len(), line.trim());
            return Err(ReadError::syntax(
                path,
                Location::line(n),
                SPEAKER_LINE,
                &found,
            ));
        }
        let start = seconds(path, n, f[3], "tbeg, the turn's start")?;
        let duration = seconds(path, n, f[4], "tdur, the turn's duration")?;
        let name = f[7].text;
        if name == "<NA>" {
            return Err(ReadError::syntax(
                path,
                at(7),
                "the speaker's name (the eighth field of a SPEAKER record)",
                name,
            ));
        }
        if !files.iter().any(|(x, _)| x == f[1].text) {
            files.push((f[1].text.to_owned(), n));
        }
        records.push(Record {
            file: f[1].text,
            name,
            span: Span::new(start, start + duration),
        });
    }
    let chosen = choose_recording(path, &files, recording, &mut warnings)?;
    let mut names = Names::default();
    let turns: Vec<Turn> = records
        .iter()
        .filter(|r| chosen.as_deref() == Some(r.file))
        .filter_map(|r| {
            Some(Turn {
                speaker: names.get(r.name)?,
                span: r.span,
            })
        })
        .collect();
    let turns = SpeakerTurns::new(turns).map_err(|e| {
        // Times are checked above; a sum that overflows to infinity is all that is left.
        ReadError::syntax(path, Location::File, "finite turn times", &e.to_string())
    })?;
    Ok(turns.with_notes(Vec::new(), warnings.into_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transcript::Speaker;

    fn p() -> &'static Path {
        Path::new("talk.rttm")
    }

    /// `(speaker, start, end)` of each turn.
    fn spans(t: &SpeakerTurns) -> Vec<(&str, f64, f64)> {
        t.turns()
            .iter()
            .map(|t| (t.speaker.as_str(), t.span.start, t.span.end))
            .collect()
    }

    #[test]
    fn speaker_records_give_turns_and_the_rest_is_skipped() {
        // As pyannote writes it (ten fields), with a nine-field line, tabs,
        // an overlap, comments and other record types.
        let text = ";; diarisation of talk.wav\n\
            SPKR-INFO talk 1 <NA> <NA> <NA> unknown alice <NA> <NA>\n\
            SPEAKER talk 1 0.500 2.250 <NA> <NA> alice <NA> <NA>\n\
            \n\
            SPEAKER\ttalk\t1\t2.000\t1.500\t<NA>\t<NA>\tbob\t<NA>\n\
            LEXEME talk 1 0.6 0.3 hello lex alice <NA> <NA>\n\
            SPEAKER talk 1 4.25 0 <NA> <NA> alice <NA> <NA>\n";
        let t = parse(text, p(), None).unwrap();
        // alice 0.5 + 2.25 = 2.75; bob 2.0 + 1.5 = 3.5; a zero-length turn at 4.25 is kept.
        assert_eq!(
            spans(&t),
            vec![
                ("alice", 0.5, 2.75),
                ("bob", 2.0, 3.5),
                ("alice", 4.25, 4.25)
            ]
        );
        // Overlapping speech is kept as two turns: 2.0..2.75.
        assert_eq!(t.overlaps(), vec![Span::new(2.0, 2.75)]);
        assert_eq!(
            t.speakers(),
            vec![Speaker::new("alice"), Speaker::new("bob")]
        );
        assert!(t.warnings().is_empty());
    }

    const TWO: &str = "SPEAKER meeting1 1 0.0 1.0 <NA> <NA> A <NA> <NA>\n\
        SPEAKER talk 1 5.0 1.0 <NA> <NA> B <NA> <NA>\n\
        SPEAKER meeting1 1 1.0 1.0 <NA> <NA> C <NA> <NA>\n";

    #[test]
    fn the_recording_is_picked_by_name() {
        // talk.rttm holds `talk` and `meeting1`: its own stem, or the one asked for.
        assert_eq!(
            spans(&parse(TWO, p(), None).unwrap()),
            vec![("B", 5.0, 6.0)]
        );
        assert_eq!(
            spans(&parse(TWO, p(), Some("meeting1")).unwrap()),
            vec![("A", 0.0, 1.0), ("C", 1.0, 2.0)]
        );
        let e = parse(TWO, Path::new("all.rttm"), None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "all.rttm: whole file: expected lines for recording `all` (the file field names each line's recording), found only recordings `meeting1`, `talk`"
        );
        let e = parse(TWO, p(), Some("lecture")).unwrap_err();
        assert!(
            e.to_string()
                .contains("expected lines for recording `lecture`"),
            "{e}"
        );
        // A file of one recording is that recording, whatever its name.
        let one = "SPEAKER waveform 1 0.0 1.0 <NA> <NA> A <NA> <NA>\n";
        assert_eq!(
            spans(&parse(one, p(), None).unwrap()),
            vec![("A", 0.0, 1.0)]
        );
    }

    #[test]
    fn malformed_lines_name_line_column_and_expectation() {
        let e = |text: &str| parse(text, p(), None).unwrap_err().to_string();
        assert_eq!(
            e("SPEAKER talk 1 0.0 1.0 <NA> <NA> A <NA> <NA>\nSPEEKER talk 1 1.0 1.0 <NA> <NA> A <NA> <NA>\n"),
            "talk.rttm: line 2, column 1: expected an RTTM record type (SPEAKER, SPKR-INFO, LEXEME, SEGMENT, NON-SPEECH, …) or a `;;` comment, found `SPEEKER`"
        );
        assert_eq!(
            e("SPEAKER talk 1 0.0 1.0 A\n"),
            "talk.rttm: line 1: expected a SPEAKER record `SPEAKER file chan tbeg tdur <NA> <NA> name <NA> <NA>` (9 or 10 fields), found `6 fields: SPEAKER talk 1 0.0 1.0 A`"
        );
        assert_eq!(
            e(";; c\nSPEAKER talk 1 0,5 1.0 <NA> <NA> A <NA> <NA>\n"),
            "talk.rttm: line 2, column 16: expected tbeg, the turn's start, seconds (a number >= 0), found `0,5`"
        );
        assert_eq!(
            e("SPEAKER talk 1 0.5 -1 <NA> <NA> A <NA> <NA>\n"),
            "talk.rttm: line 1, column 20: expected tdur, the turn's duration, seconds (a number >= 0), found `-1`"
        );
        // Columns: `SPEAKER ` is 8 characters, `talk ` 5, `1 ` 2, so tbeg is
        // at 16; `0.5 ` 4 more puts tdur at 20; `1 <NA> <NA> ` 12 more, the name at 32.
        assert_eq!(
            e("SPEAKER talk 1 0.5 1 <NA> <NA> <NA> <NA> <NA>\n"),
            "talk.rttm: line 1, column 32: expected the speaker's name (the eighth field of a SPEAKER record), found `<NA>`"
        );
        assert!(e("SPEAKER talk 1 inf 1 <NA> <NA> A <NA> <NA>\n").contains("column 16"));
        // A bad line of another recording is still an error: the file is broken.
        assert!(e("SPEAKER other 1 x 1 <NA> <NA> A <NA> <NA>\n").contains("line 1"));
    }

    #[test]
    fn empty_files_have_no_turns() {
        assert!(parse("", p(), None).unwrap().is_empty());
        assert!(parse(";; nothing\n\n", p(), None).unwrap().is_empty());
    }
}
