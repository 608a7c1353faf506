//! Who speaks when: the [`Speaker`] on a transcript [`Segment`](super::Segment)
//! and [`SpeakerTurns`], the turns of a conversation on their own.
//!
//! Speakers come from the transcript formats that name them (WhisperX's
//! `speaker`, an ELAN tier's `PARTICIPANT` or the tier names of a
//! conversation, TextGrid tier names, WebVTT `<v Name>` voices, STM's speaker
//! field) and from diarisation output: RTTM ([`rttm`](super::rttm)) gives turns
//! only, which [`Transcript::with_speakers`] lays over a transcript in any
//! format. [`read_speakers`] reads a speaker file given explicitly (an RTTM,
//! or any transcript that names its speakers); [`speakers_sidecar_for`] finds
//! `name.rttm` or `name.stm` next to `name.wav`.
//!
//! Turns are seconds of the recording (the transcript's own clock, before
//! any [`Transcript::with_offset`]). They may overlap: two people talking at
//! once are two turns, both kept ([`SpeakerTurns::overlaps`]).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::error::{Location, ReadError, ReadWarning, Warnings};
use super::{read_file, rttm, stm, ReadOptions, Segment, Transcript, TranscriptError};
use crate::reading::Span;

/// A speaker's name, as the file wrote it (`SPEAKER_00`, `Alice`).
///
/// Cheap to clone (a shared string): every segment and turn of one speaker
/// holds the same name, and so will the readings and exports made from them.
/// Written to JSON as a plain string.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Speaker(Arc<str>);

impl Speaker {
    /// A speaker called `name`.
    pub fn new(name: &str) -> Self {
        Self(Arc::from(name))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Speaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Speaker {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Speaker {
    fn from(name: &str) -> Self {
        Self::new(name)
    }
}

impl From<String> for Speaker {
    fn from(name: String) -> Self {
        Self(Arc::from(name))
    }
}

impl PartialEq<str> for Speaker {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for Speaker {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

impl Serialize for Speaker {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Speaker {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Self::from)
    }
}

/// One speaker talking over a span of the recording.
#[derive(Debug, Clone, PartialEq)]
pub struct Turn {
    /// Who speaks.
    pub speaker: Speaker,
    /// When, seconds of the recording.
    pub span: Span,
}

/// The speaker turns of one recording, sorted by start; turns of different
/// speakers may overlap.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SpeakerTurns {
    turns: Vec<Turn>,
    /// Stretches the file marks as not to be scored (STM's
    /// `IGNORE_TIME_SEGMENT_IN_SCORING`), sorted by start.
    excluded: Vec<Span>,
    /// What the reader repaired or skipped.
    warnings: Vec<ReadWarning>,
}

impl SpeakerTurns {
    /// Validates (finite times, `end >= start`) and sorts `turns` by start.
    pub fn new(mut turns: Vec<Turn>) -> Result<Self, TranscriptError> {
        for (index, t) in turns.iter().enumerate() {
            let Span { start, end } = t.span;
            if !start.is_finite() || !end.is_finite() || end < start {
                return Err(TranscriptError::BadSpan { index, start, end });
            }
        }
        turns.sort_by(|a, b| {
            a.span
                .start
                .total_cmp(&b.span.start)
                .then(a.span.end.total_cmp(&b.span.end))
        });
        Ok(Self {
            turns,
            excluded: Vec::new(),
            warnings: Vec::new(),
        })
    }

    /// The turns, sorted by start (then end).
    pub fn turns(&self) -> &[Turn] {
        &self.turns
    }

    /// Whether there are no turns.
    pub fn is_empty(&self) -> bool {
        self.turns.is_empty()
    }

    /// Every speaker once, in the order of their first turn.
    pub fn speakers(&self) -> Vec<Speaker> {
        let mut out: Vec<Speaker> = Vec::new();
        for t in &self.turns {
            if !out.contains(&t.speaker) {
                out.push(t.speaker.clone());
            }
        }
        out
    }

    /// Seconds each speaker talks within `span`, most first (ties in the
    /// order of [`Self::speakers`]); empty when no turn overlaps it. A
    /// zero-length `span` (an instant) counts the turns around it, with 0 s.
    pub fn speakers_in(&self, span: Span) -> Vec<(Speaker, f64)> {
        let mut out: Vec<(Speaker, f64)> = Vec::new();
        for t in &self.turns {
            let meets = if span.duration() > 0.0 {
                t.span.start < span.end && t.span.end > span.start
            } else {
                t.span.start <= span.start && span.start <= t.span.end
            };
            if !meets {
                continue;
            }
            let seconds = t.span.overlap(span);
            match out.iter_mut().find(|(s, _)| *s == t.speaker) {
                Some((_, total)) => *total += seconds,
                None => out.push((t.speaker.clone(), seconds)),
            }
        }
        // Stable: equal times keep the order of first appearance.
        out.sort_by(|a, b| b.1.total_cmp(&a.1));
        out
    }

    /// The speaker who talks most within `span`, if anyone does.
    pub fn speaker_in(&self, span: Span) -> Option<Speaker> {
        self.speakers_in(span).into_iter().next().map(|(s, _)| s)
    }

    /// The stretches where two or more different speakers talk at once,
    /// sorted and merged.
    pub fn overlaps(&self) -> Vec<Span> {
        let mut found = Vec::new();
        for (i, a) in self.turns.iter().enumerate() {
            // Sorted by start: only later turns that start before `a` ends can overlap it.
            for b in self.turns[i + 1..]
                .iter()
                .take_while(|b| b.span.start < a.span.end)
            {
                if b.speaker != a.speaker && b.span.end > b.span.start {
                    found.push(Span::new(b.span.start, a.span.end.min(b.span.end)));
                }
            }
        }
        merge(found)
    }

    /// Each speaker's turns with those that overlap or touch joined into
    /// one, sorted by start (then by the order of the speakers' first
    /// turns): the turns the offline analysis reads each on its own.
    pub fn joined(&self) -> Vec<Turn> {
        let mut out: Vec<(usize, Turn)> = Vec::new();
        for (k, speaker) in self.speakers().into_iter().enumerate() {
            let mine = self.turns.iter().filter(|t| t.speaker == speaker);
            for span in merge(mine.map(|t| t.span).collect()) {
                out.push((
                    k,
                    Turn {
                        speaker: speaker.clone(),
                        span,
                    },
                ));
            }
        }
        out.sort_by(|a, b| {
            a.1.span
                .start
                .total_cmp(&b.1.span.start)
                .then(a.0.cmp(&b.0))
        });
        out.into_iter().map(|(_, t)| t).collect()
    }

    /// The turns of `speaker` alone (with the same excluded stretches and warnings).
    pub fn only(&self, speaker: &Speaker) -> Self {
        Self {
            turns: self
                .turns
                .iter()
                .filter(|t| &t.speaker == speaker)
                .cloned()
                .collect(),
            excluded: self.excluded.clone(),
            warnings: self.warnings.clone(),
        }
    }

    /// Seconds `speaker` talks within `0..until` (overlapping turns of theirs counted once).
    pub fn speaking_seconds(&self, speaker: &Speaker, until: f64) -> f64 {
        let mine: Vec<Span> = self
            .turns
            .iter()
            .filter(|t| &t.speaker == speaker)
            .map(|t| Span::new(t.span.start.max(0.0), t.span.end.min(until)))
            .filter(|s| s.end > s.start)
            .collect();
        merge(mine).iter().map(|s| s.duration()).sum()
    }

    /// Stretches the file excludes from scoring (STM's
    /// `IGNORE_TIME_SEGMENT_IN_SCORING`), sorted by start; no turn lies there.
    pub fn excluded(&self) -> &[Span] {
        &self.excluded
    }

    /// What the reader repaired or skipped, each with file and line.
    pub fn warnings(&self) -> &[ReadWarning] {
        &self.warnings
    }

    /// The same turns with `excluded` stretches and reader `warnings`.
    pub(crate) fn with_notes(
        mut self,
        mut excluded: Vec<Span>,
        warnings: Vec<ReadWarning>,
    ) -> Self {
        excluded.sort_by(|a, b| a.start.total_cmp(&b.start));
        self.excluded = excluded;
        self.warnings = warnings;
        self
    }
}

impl Transcript {
    /// The transcript with each segment's speaker taken from `turns`: the
    /// speaker who talks most over the segment's span (replacing any speaker
    /// the transcript named), none where no turn meets it. A segment stays
    /// whole, words and all, when the turn changes inside it.
    pub fn with_speakers(mut self, turns: &SpeakerTurns) -> Self {
        for s in &mut self.segments {
            s.speaker = turns.speaker_in(Span::new(s.start, s.end));
        }
        self
    }

    /// One turn per segment that names its speaker (the segment's span,
    /// seconds of the transcript's own clock).
    pub fn speaker_turns(&self) -> SpeakerTurns {
        let turns = self
            .segments
            .iter()
            .filter_map(|s| {
                Some(Turn {
                    speaker: s.speaker.clone()?,
                    span: Span::new(s.start, s.end),
                })
            })
            .collect();
        SpeakerTurns::new(turns).expect("segment spans are validated")
    }

    /// A transcript without words whose segments are `turns` (each naming
    /// its speaker, with empty text), keeping the reader's warnings: what a
    /// speaker file that gives turns only (RTTM) is where a transcript is
    /// expected, as in the plugin's sidecar.
    pub fn from_turns(turns: &SpeakerTurns) -> Self {
        let segments = turns
            .turns
            .iter()
            .map(|t| Segment {
                start: t.span.start,
                end: t.span.end,
                speaker: Some(t.speaker.clone()),
                ..Segment::default()
            })
            .collect();
        let mut t = Transcript::new(segments).expect("turn spans are validated");
        t.warnings = turns.warnings.clone();
        t
    }

    /// [`Self::speaker_turns`] placed on the host timeline (shifted by the
    /// transcript's [offset](Self::offset)): the turns the plugin's engine
    /// reads each on its own. Their [`SpeakerTurns::speakers`] order is the
    /// one the engine's readout numbers speakers by
    /// ([`Published::speaker`](crate::engine::Published::speaker)).
    pub fn timeline_speaker_turns(&self) -> SpeakerTurns {
        let offset = self.offset();
        let turns = self
            .speaker_turns()
            .turns
            .into_iter()
            .map(|t| Turn {
                span: Span::new(t.span.start + offset, t.span.end + offset),
                ..t
            })
            .collect();
        SpeakerTurns::new(turns).expect("shifted segment spans stay valid")
    }
}

/// Reads the speaker turns in `path`, given explicitly (a `--speakers FILE`):
/// an RTTM file (`.rttm`) as [`rttm`] reads it, an STM file as [`stm`]
/// reads it (with its excluded regions), and any other transcript that names
/// its speakers through [`read_file`] ([`Transcript::speaker_turns`]). A
/// transcript that names no speaker is an error. `options.recording` picks
/// the recording in a file holding several (RTTM, STM); `options.strict`
/// refuses input a reader would repair.
pub fn read_speakers(path: &Path, options: &ReadOptions) -> Result<SpeakerTurns, ReadError> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let is = |x: &str| options.format.is_none() && ext.as_deref() == Some(x);
    if is("rttm") || is("stm") {
        let bytes = std::fs::read(path).map_err(|source| ReadError::Io {
            path: path.to_owned(),
            source,
        })?;
        let mut warnings = Warnings::new(path, options.strict);
        let text = super::decode::decode(&bytes, path, &mut warnings)?;
        let recording = options.recording.as_deref();
        return if is("rttm") {
            rttm::read(&text, path, recording, warnings)
        } else {
            stm::read_turns(&text, path, recording, warnings)
        };
    }
    let t = read_file(path, options)?;
    let turns = t.speaker_turns();
    if turns.is_empty() && !t.segments().is_empty() {
        return Err(ReadError::Syntax {
            path: path.to_owned(),
            location: Location::File,
            expected: "speaker names (RTTM SPEAKER lines, STM speakers, WhisperX `speaker`, \
                       ELAN participants, WebVTT `<v Name>`, a tier per speaker)"
                .into(),
            found: "a transcript that names no speaker".into(),
        });
    }
    Ok(turns.with_notes(Vec::new(), t.warnings().to_vec()))
}

/// The speaker file next to `audio`: `name.rttm`, else `name.stm` (the
/// same stem), whichever exists first and is not one of Emoscope's own
/// outputs. An STM file is also a transcript ([`super::sidecar_for`] finds
/// it when no other transcript is there, and then it already carries its
/// speakers).
pub fn speakers_sidecar_for(audio: &Path) -> Option<PathBuf> {
    ["rttm", "stm"]
        .iter()
        .map(|ext| audio.with_extension(ext))
        .find(|p| p.is_file() && !crate::export::is_emoscope_output(p))
}

/// Spans sorted and merged where they overlap or touch.
fn merge(mut spans: Vec<Span>) -> Vec<Span> {
    spans.sort_by(|a, b| a.start.total_cmp(&b.start));
    let mut out: Vec<Span> = Vec::with_capacity(spans.len());
    for s in spans {
        match out.last_mut() {
            Some(last) if s.start <= last.end => last.end = last.end.max(s.end),
            _ => out.push(s),
        }
    }
    out
}

/// Whether several tiers of annotated spans take turns, as speakers do,
/// rather than lie over the same stretches, as layers of one speech do (a
/// translation, notes, Emoscope's own dimension tiers): no two tiers share
/// more than half of the smaller one's annotated time.
pub(crate) fn take_turns(tiers: &[Vec<Span>]) -> bool {
    let unions: Vec<Vec<Span>> = tiers.iter().map(|t| merge(t.clone())).collect();
    let length = |u: &[Span]| u.iter().map(|s| s.duration()).sum::<f64>();
    // Both sorted and disjoint: one pass over the two.
    let shared = |a: &[Span], b: &[Span]| {
        let (mut i, mut j, mut total) = (0, 0, 0.0);
        while i < a.len() && j < b.len() {
            total += a[i].overlap(b[j]);
            if a[i].end < b[j].end {
                i += 1;
            } else {
                j += 1;
            }
        }
        total
    };
    unions.len() > 1
        && unions.iter().enumerate().all(|(i, a)| {
            unions[i + 1..]
                .iter()
                .all(|b| shared(a, b) <= 0.5 * length(a).min(length(b)))
        })
}

/// One [`Speaker`] per distinct name, so the segments of one speaker share it.
#[derive(Debug, Default)]
pub(crate) struct Names(Vec<Speaker>);

impl Names {
    /// The speaker called `name` (trimmed); `None` for an empty name.
    pub(crate) fn get(&mut self, name: &str) -> Option<Speaker> {
        let name = name.trim();
        if name.is_empty() {
            return None;
        }
        if let Some(s) = self.0.iter().find(|s| s.as_str() == name) {
            return Some(s.clone());
        }
        let s = Speaker::new(name);
        self.0.push(s.clone());
        Some(s)
    }
}

/// A whitespace-separated field of a line: its text and 1-based column.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Field<'a> {
    pub(crate) text: &'a str,
    pub(crate) column: usize,
    /// Byte offset in the line.
    pub(crate) at: usize,
}

/// The fields of `line` (split at spaces and tabs).
pub(crate) fn fields(line: &str) -> Vec<Field<'_>> {
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    for (i, c) in line
        .char_indices()
        .chain(std::iter::once((line.len(), ' ')))
    {
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                out.push(Field {
                    text: &line[s..i],
                    column: line[..s].chars().count() + 1,
                    at: s,
                });
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    out
}

/// Seconds in a time field: a finite number `>= 0`, or an error at `f`
/// (line `line` of `path`) saying it should be `what`.
pub(crate) fn seconds(
    path: &Path,
    line: usize,
    f: Field<'_>,
    what: &str,
) -> Result<f64, ReadError> {
    match f.text.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(ReadError::syntax(
            path,
            Location::Line {
                line,
                column: Some(f.column),
            },
            format!("{what}, seconds (a number >= 0)"),
            f.text,
        )),
    }
}

/// The recording whose lines to read from a file that names each line's
/// recording (RTTM's and STM's file field). `files` are the names in order of
/// first appearance, each with the line it first appears on.
///
/// The recording asked for (`wanted`, else the speaker file's own stem) is
/// read when the file holds it; a file holding one recording under another
/// name is read as that one (with a warning when `wanted` named another);
/// a file holding several, none of them the one asked for, is an error that
/// names them.
pub(crate) fn choose_recording(
    path: &Path,
    files: &[(String, usize)],
    wanted: Option<&str>,
    warnings: &mut Warnings,
) -> Result<Option<String>, ReadError> {
    let own_stem = path.file_stem().and_then(|s| s.to_str());
    let matches = |name: &str, want: &str| {
        name == want || Path::new(name).file_stem().and_then(|s| s.to_str()) == Some(want)
    };
    let found = |want: &str| files.iter().find(|(f, _)| matches(f, want));
    if let Some((f, _)) = wanted.and_then(found).or_else(|| {
        if wanted.is_none() {
            own_stem.and_then(found)
        } else {
            None
        }
    }) {
        return Ok(Some(f.clone()));
    }
    match files {
        [] => Ok(None),
        [(only, line)] => {
            if let Some(want) = wanted {
                warnings.warn(
                    Location::line(*line),
                    format!(
                        "the file field names recording `{only}`, not `{want}`; read as `{want}`'s, the only recording in the file"
                    ),
                )?;
            }
            Ok(Some(only.clone()))
        }
        several => {
            let want = wanted.or(own_stem).unwrap_or("");
            let names: Vec<String> = several.iter().map(|(f, _)| format!("`{f}`")).collect();
            Err(ReadError::Syntax {
                path: path.to_owned(),
                location: Location::File,
                expected: format!(
                    "lines for recording `{want}` (the file field names each line's recording)"
                ),
                found: format!("only recordings {}", names.join(", ")),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turn(speaker: &str, start: f64, end: f64) -> Turn {
        Turn {
            speaker: Speaker::new(speaker),
            span: Span::new(start, end),
        }
    }

    #[test]
    fn turns_are_sorted_and_overlaps_found() {
        let t = SpeakerTurns::new(vec![
            turn("B", 4.0, 9.0),
            turn("A", 0.0, 5.0),
            turn("A", 8.0, 10.0),
            // A speaker overlapping themselves is not two people talking.
            turn("A", 9.5, 11.0),
        ])
        .unwrap();
        let starts: Vec<f64> = t.turns().iter().map(|t| t.span.start).collect();
        assert_eq!(starts, vec![0.0, 4.0, 8.0, 9.5]);
        assert_eq!(t.speakers(), vec![Speaker::new("A"), Speaker::new("B")]);
        // A 0..5 and B 4..9 share 4..5; B 4..9 and A 8..10 share 8..9.
        assert_eq!(t.overlaps(), vec![Span::new(4.0, 5.0), Span::new(8.0, 9.0)]);
        assert!(SpeakerTurns::new(vec![turn("A", 2.0, 1.0)]).is_err());
        assert!(SpeakerTurns::new(vec![turn("A", f64::NAN, 1.0)]).is_err());
    }

    #[test]
    fn the_speaker_of_a_span_talks_most_in_it() {
        let t = SpeakerTurns::new(vec![turn("A", 0.0, 5.0), turn("B", 4.0, 9.0)]).unwrap();
        // 3..6: A has 3..5 (2 s), B 4..6 (2 s): a tie goes to the first to speak.
        assert_eq!(
            t.speakers_in(Span::new(3.0, 6.0)),
            vec![(Speaker::new("A"), 2.0), (Speaker::new("B"), 2.0)]
        );
        // 4.5..8: A 0.5 s, B 3.5 s.
        assert_eq!(t.speaker_in(Span::new(4.5, 8.0)).unwrap(), "B");
        assert_eq!(t.speaker_in(Span::new(10.0, 11.0)), None);
        // An instant takes the turn around it; touching a turn's end counts.
        assert_eq!(t.speaker_in(Span::new(2.0, 2.0)).unwrap(), "A");
        assert_eq!(t.speaker_in(Span::new(9.0, 9.0)).unwrap(), "B");
    }

    #[test]
    fn turns_lay_over_a_transcript_and_come_back_out() {
        use crate::transcript::Segment;
        let seg = |start: f64, end: f64, text: &str| Segment {
            start,
            end,
            text: text.into(),
            ..Default::default()
        };
        let t = Transcript::new(vec![
            seg(0.5, 3.0, "hello"),
            seg(4.2, 8.0, "hi there"),
            seg(20.0, 21.0, "nobody"),
        ])
        .unwrap();
        let turns = SpeakerTurns::new(vec![turn("A", 0.0, 5.0), turn("B", 4.0, 9.0)]).unwrap();
        let t = t.with_speakers(&turns);
        let names: Vec<Option<&str>> = t
            .segments()
            .iter()
            .map(|s| s.speaker.as_ref().map(Speaker::as_str))
            .collect();
        // 4.2..8.0: A 0.8 s, B 3.8 s.
        assert_eq!(names, vec![Some("A"), Some("B"), None]);
        let back = t.speaker_turns();
        assert_eq!(
            back.turns(),
            &[turn("A", 0.5, 3.0), turn("B", 4.2, 8.0)][..]
        );
    }

    #[test]
    fn layers_are_not_turns() {
        let spans =
            |v: &[(f64, f64)]| -> Vec<Span> { v.iter().map(|&(a, b)| Span::new(a, b)).collect() };
        // Two speakers, 1 s of 4 and 5 s overlapping: turns.
        assert!(take_turns(&[
            spans(&[(0.0, 4.0), (10.0, 12.0)]),
            spans(&[(3.0, 8.0)])
        ]));
        // A translation tier over the same utterances: layers.
        let utterances = spans(&[(0.0, 4.0), (5.0, 9.0)]);
        assert!(!take_turns(&[utterances.clone(), utterances.clone()]));
        // Emoscope's own dimension tier covers everything: layers.
        assert!(!take_turns(&[utterances, spans(&[(0.0, 10.0)])]));
        assert!(!take_turns(&[spans(&[(0.0, 1.0)])]));
        // Many short spans against long ones: 0.5 + 1 + 1 + 0.5 = 3 s of 4
        // shared with one long span (layers); 0.1 + 0.1 = 0.2 s of 2.2 with
        // two spans in the gaps (turns).
        let short = spans(&[(0.0, 1.0), (2.0, 3.0), (4.0, 5.0), (6.0, 7.0)]);
        assert!(!take_turns(&[short.clone(), spans(&[(0.5, 6.5)])]));
        assert!(take_turns(&[short, spans(&[(0.9, 2.1), (5.0, 6.0)])]));
    }

    #[test]
    fn recordings_are_chosen_by_name() {
        let p = Path::new("talk.rttm");
        let files = |names: &[&str]| -> Vec<(String, usize)> {
            names
                .iter()
                .enumerate()
                .map(|(i, n)| (n.to_string(), i + 1))
                .collect()
        };
        let mut w = Warnings::new(p, false);
        // The file's own stem, or the recording asked for.
        let both = files(&["other", "talk"]);
        assert_eq!(
            choose_recording(p, &both, None, &mut w).unwrap().unwrap(),
            "talk"
        );
        assert_eq!(
            choose_recording(p, &both, Some("other"), &mut w)
                .unwrap()
                .unwrap(),
            "other"
        );
        // A path or an extension in the file field still names the recording.
        assert_eq!(
            choose_recording(p, &files(&["a", "dir/talk.wav"]), None, &mut w)
                .unwrap()
                .unwrap(),
            "dir/talk.wav"
        );
        // One recording under another name: read, with a warning when asked by name.
        assert_eq!(
            choose_recording(p, &files(&["meeting"]), None, &mut w)
                .unwrap()
                .unwrap(),
            "meeting"
        );
        assert!(w.into_vec().is_empty());
        let mut w = Warnings::new(p, false);
        choose_recording(p, &files(&["meeting"]), Some("talk"), &mut w).unwrap();
        assert_eq!(
            w.into_vec()[0].to_string(),
            "talk.rttm: line 1: the file field names recording `meeting`, not `talk`; read as `talk`'s, the only recording in the file"
        );
        let mut w = Warnings::new(p, false);
        let e = choose_recording(p, &files(&["a", "b"]), None, &mut w).unwrap_err();
        assert_eq!(
            e.to_string(),
            "talk.rttm: whole file: expected lines for recording `talk` (the file field names each line's recording), found only recordings `a`, `b`"
        );
    }

    #[test]
    fn speaker_files_are_found_next_to_the_audio_and_read_by_kind() {
        let dir = tempfile::tempdir().unwrap();
        let audio = dir.path().join("talk.wav");
        assert_eq!(speakers_sidecar_for(&audio), None);
        let stm = dir.path().join("talk.stm");
        std::fs::write(
            &stm,
            "talk 1 A 0 2 hello\ntalk 1 excluded_region 2 3 ignore_time_segment_in_scoring\n",
        )
        .unwrap();
        assert_eq!(speakers_sidecar_for(&audio), Some(stm.clone()));
        // Without another transcript, the STM file is the transcript too.
        assert_eq!(super::super::sidecar_for(&audio), Some(stm.clone()));
        let rttm = dir.path().join("talk.rttm");
        std::fs::write(&rttm, "SPEAKER talk 1 0.5 1.5 <NA> <NA> B <NA> <NA>\n").unwrap();
        assert_eq!(speakers_sidecar_for(&audio), Some(rttm.clone()));

        let options = ReadOptions::default();
        let turns = read_speakers(&rttm, &options).unwrap();
        assert_eq!(turns.turns(), &[turn("B", 0.5, 2.0)][..]);
        let turns = read_speakers(&stm, &options).unwrap();
        assert_eq!(turns.turns(), &[turn("A", 0.0, 2.0)][..]);
        assert_eq!(turns.excluded(), &[Span::new(2.0, 3.0)][..]);

        // A transcript naming its speakers gives its turns; one naming none is an error.
        let vtt = dir.path().join("other.vtt");
        std::fs::write(&vtt, "WEBVTT\n\n00:01.000 --> 00:02.000\n<v Cy>hi\n").unwrap();
        let turns = read_speakers(&vtt, &options).unwrap();
        assert_eq!(turns.turns(), &[turn("Cy", 1.0, 2.0)][..]);
        let srt = dir.path().join("other.srt");
        std::fs::write(&srt, "1\n00:00:01,000 --> 00:00:02,000\nhi\n").unwrap();
        let e = read_speakers(&srt, &options).unwrap_err().to_string();
        assert!(
            e.ends_with("found a transcript that names no speaker"),
            "{e}"
        );

        // One RTTM for several recordings, given explicitly: the recording asked for.
        let all = dir.path().join("all.rttm");
        std::fs::write(
            &all,
            "SPEAKER talk 1 0 1 <NA> <NA> A <NA> <NA>\nSPEAKER other 1 0 1 <NA> <NA> B <NA> <NA>\n",
        )
        .unwrap();
        let asked = ReadOptions {
            recording: Some("other".into()),
            ..Default::default()
        };
        assert_eq!(
            read_speakers(&all, &asked).unwrap().turns(),
            &[turn("B", 0.0, 1.0)][..]
        );
        let e = read_speakers(&all, &options).unwrap_err().to_string();
        assert!(e.contains("found only recordings `talk`, `other`"), "{e}");
        let e = read_speakers(&dir.path().join("gone.rttm"), &options).unwrap_err();
        assert!(matches!(e, ReadError::Io { .. }), "{e}");
    }

    #[test]
    fn fields_know_their_columns() {
        let f: Vec<(&str, usize)> = fields("  ab\tcé  d ")
            .iter()
            .map(|f| (f.text, f.column))
            .collect();
        assert_eq!(f, vec![("ab", 3), ("cé", 6), ("d", 10)]);
    }

    #[test]
    fn speakers_write_as_strings() {
        let s = Speaker::new("Alice");
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"Alice\"");
        assert_eq!(serde_json::from_str::<Speaker>("\"Alice\"").unwrap(), s);
        let mut names = Names::default();
        let a = names.get(" Alice ").unwrap();
        assert!(Arc::ptr_eq(&a.0, &names.get("Alice").unwrap().0));
        assert_eq!(names.get("  "), None);
    }
}
