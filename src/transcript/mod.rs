//! Transcripts aligned to the host timeline.
//!
//! A [`Transcript`] holds timed segments and, where the source has them,
//! timed words. The engine asks it for the text that overlaps each analysis
//! window ([`Transcript::text_between`]) and hands that to the model's text
//! branch. Times are seconds of the transcript's own clock; `offset` maps them
//! to the host timeline (`timeline = transcript + offset`), so a sidecar made
//! for a file that starts at bar 17 lines up with the session.
//!
//! Transcripts come from files in the formats people have, one reader module
//! per format: SubRip ([`srt`]), WebVTT ([`vtt`]), Praat TextGrid
//! ([`textgrid`]), ELAN ([`eaf`]), Audacity label tracks ([`audacity`]),
//! openai-whisper and WhisperX JSON ([`whisper`]), NIST STM ([`stm`]) and
//! plain text ([`plain`]).
//! [`read_file`] picks the reader from the file name ([`TranscriptFormat`]);
//! malformed input is a [`ReadError`] naming the file, the line (or byte
//! offset, or JSON key) and what was expected. Input a reader repaired or
//! skipped, and cues that cannot line up with the audio (overlapping, or
//! after its end), are [`ReadWarning`]s on the returned transcript
//! ([`Transcript::warnings`]); [`ReadOptions::strict`] makes them errors.
//! Bytes become text in [`decode_text`]: byte-order marks of every width,
//! UTF-8, and legacy encodings detected from the bytes (with a warning).
//! The multi-tier readers also give their tiers as they are
//! ([`textgrid::TextGrid`], [`eaf::Eaf`]), as [`Interval`]s and [`Point`]s.
//!
//! Who speaks: a segment names its [`Speaker`] where the file does (STM,
//! WhisperX, ELAN participants, a TextGrid or ELAN tier per speaker, WebVTT
//! voices). Diarisation output gives [`SpeakerTurns`] on their own (RTTM,
//! [`rttm`]), read with [`read_speakers`] or found next to the audio with
//! [`speakers_sidecar_for`], and laid over any transcript with
//! [`Transcript::with_speakers`] (see [`speakers`]).

pub mod audacity;
mod decode;
pub mod eaf;
mod error;
mod format;
mod markup;
pub mod plain;
pub mod rttm;
pub mod speakers;
pub mod srt;
pub mod stm;
pub mod textgrid;
pub mod vtt;
pub mod whisper;

pub use decode::decode_text;
pub use error::{Location, ReadError, ReadWarning, MAX_WARNINGS};
pub use format::{parse_str, read_file, sidecar_for, ReadOptions, TranscriptFormat};
pub use speakers::{read_speakers, speakers_sidecar_for, Speaker, SpeakerTurns, Turn};

/// A labelled span of time: a TextGrid interval, an ELAN annotation, a
/// timed word.
#[derive(Debug, Clone, PartialEq)]
pub struct Interval {
    /// Start, seconds on the transcript's clock.
    pub start: f64,
    /// End, seconds on the transcript's clock.
    pub end: f64,
    /// The label as written.
    pub text: String,
}

/// One timed word: an [`Interval`] whose text is the word as written.
pub type Word = Interval;

/// A labelled instant: a point of a TextGrid point tier.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// Seconds on the transcript's clock.
    pub time: f64,
    /// The label as written.
    pub text: String,
}

/// One timed segment (a subtitle cue, an utterance).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Segment {
    /// Start, seconds on the transcript's clock.
    pub start: f64,
    /// End, seconds on the transcript's clock.
    pub end: f64,
    /// The segment's text.
    pub text: String,
    /// Word timings inside the segment, when known (empty otherwise).
    pub words: Vec<Word>,
    /// Who speaks, when the file says (see [`speakers`]).
    pub speaker: Option<Speaker>,
}

/// Why a transcript was rejected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TranscriptError {
    /// A segment or word ends before it starts, or has a non-finite time.
    #[error("segment {index}: invalid time span {start}..{end}")]
    BadSpan {
        /// Index of the segment.
        index: usize,
        /// Its start.
        start: f64,
        /// Its end.
        end: f64,
    },
}

/// A timed transcript with its alignment to the host timeline.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Transcript {
    segments: Vec<Segment>,
    /// Seconds added to transcript times to get host timeline seconds.
    offset: f64,
    /// Where each segment came from in its file (parallel to `segments`;
    /// empty for transcripts not read from a file).
    origins: Vec<Location>,
    /// What the reader repaired or skipped.
    warnings: Vec<ReadWarning>,
}

impl Transcript {
    /// Validates and sorts `segments` by start time.
    pub fn new(mut segments: Vec<Segment>) -> Result<Self, TranscriptError> {
        for (index, s) in segments.iter().enumerate() {
            let spans =
                std::iter::once((s.start, s.end)).chain(s.words.iter().map(|w| (w.start, w.end)));
            for (start, end) in spans {
                if !start.is_finite() || !end.is_finite() || end < start {
                    return Err(TranscriptError::BadSpan { index, start, end });
                }
            }
        }
        segments.sort_by(|a, b| a.start.total_cmp(&b.start));
        Ok(Self {
            segments,
            offset: 0.0,
            origins: Vec::new(),
            warnings: Vec::new(),
        })
    }

    /// Replaces what the transcript says about `[start, end)` of the host
    /// timeline with `segments` (host timeline seconds): the segments whose
    /// middle lies in the span go, the new ones come in, in time order. A
    /// live transcript grows this way, region by region, and a region heard
    /// again (a loop, a replay) replaces its earlier text.
    pub fn replace_between(
        &mut self,
        start: f64,
        end: f64,
        segments: Vec<Segment>,
    ) -> Result<(), TranscriptError> {
        let shifted: Vec<Segment> = segments
            .into_iter()
            .map(|mut s| {
                s.start -= self.offset;
                s.end -= self.offset;
                for w in &mut s.words {
                    w.start -= self.offset;
                    w.end -= self.offset;
                }
                s
            })
            .collect();
        let new = Self::new(shifted)?.segments;
        let (start, end) = (start - self.offset, end - self.offset);
        let inside = |s: &Segment| {
            let mid = 0.5 * (s.start + s.end);
            mid >= start && mid < end
        };
        let located = !self.origins.is_empty();
        let mut kept: Vec<(Segment, Option<Location>)> = std::mem::take(&mut self.segments)
            .into_iter()
            .zip(
                std::mem::take(&mut self.origins)
                    .into_iter()
                    .map(Some)
                    .chain(std::iter::repeat(None)),
            )
            .filter(|(s, _)| !inside(s))
            .collect();
        kept.extend(new.into_iter().map(|s| {
            let at = Location::Key(format!("recognised at {:.2} s", s.start));
            (s, Some(at))
        }));
        kept.sort_by(|a, b| a.0.start.total_cmp(&b.0.start));
        for (s, origin) in kept {
            self.segments.push(s);
            if located {
                self.origins.extend(origin);
            }
        }
        Ok(())
    }

    /// Like [`Transcript::new`], remembering where each segment came from.
    fn located(segments: Vec<(Segment, Location)>) -> Result<Self, TranscriptError> {
        let (segments, origins): (Vec<Segment>, Vec<Location>) = segments.into_iter().unzip();
        // Validate in file order (indices in errors are file order), then sort both.
        let mut t = Self::new(segments.clone())?;
        let mut order: Vec<usize> = (0..segments.len()).collect();
        order.sort_by(|&a, &b| segments[a].start.total_cmp(&segments[b].start));
        t.origins = order.iter().map(|&i| origins[i].clone()).collect();
        Ok(t)
    }

    /// What the reader repaired or skipped in the file, each with file,
    /// location and what was done (empty for a clean file).
    pub fn warnings(&self) -> &[ReadWarning] {
        &self.warnings
    }

    /// Where segment `index` (in [`Transcript::segments`] order) is in its file.
    pub fn origin(&self, index: usize) -> Location {
        self.origins
            .get(index)
            .cloned()
            .unwrap_or_else(|| Location::Key(format!("segment {}", index + 1)))
    }

    /// The same transcript shifted by `offset` seconds on the host timeline.
    pub fn with_offset(mut self, offset: f64) -> Self {
        self.offset = offset;
        self
    }

    /// The alignment offset in seconds.
    pub fn offset(&self) -> f64 {
        self.offset
    }

    /// The segments, sorted by start.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// The text overlapping `[start, end)` of the host timeline (seconds):
    /// the words that overlap it where a segment has word timings, the whole
    /// segment otherwise; joined by single spaces, in time order.
    pub fn text_between(&self, start: f64, end: f64) -> String {
        self.text_of(None, start, end)
    }

    /// [`Self::text_between`] from the segments `speaker` says and those
    /// that name no speaker: the words a turn of `speaker` is read with,
    /// without those of someone talking over it.
    pub fn speaker_text_between(&self, speaker: &Speaker, start: f64, end: f64) -> String {
        self.text_of(Some(speaker), start, end)
    }

    /// The text over `start..end` from the segments of `speaker` (and the
    /// unnamed ones), or from every segment for `None`.
    fn text_of(&self, speaker: Option<&Speaker>, start: f64, end: f64) -> String {
        let (start, end) = (start - self.offset, end - self.offset);
        let overlaps = |s: f64, e: f64| s < end && e > start;
        let said_by = |seg: &Segment| match (speaker, &seg.speaker) {
            (Some(who), Some(named)) => who == named,
            _ => true,
        };
        let mut parts: Vec<&str> = Vec::new();
        for seg in &self.segments {
            if !overlaps(seg.start, seg.end) || !said_by(seg) {
                continue;
            }
            if seg.words.is_empty() {
                parts.push(seg.text.trim());
            } else {
                parts.extend(
                    seg.words
                        .iter()
                        .filter(|w| overlaps(w.start, w.end))
                        .map(|w| w.text.trim()),
                );
            }
        }
        parts.retain(|p| !p.is_empty());
        parts.join(" ")
    }
}

/// Builds a transcript from a reader's segments, turning a bad span that
/// slipped past the reader's own checks into an error naming the segment.
pub(crate) fn finish(
    path: &std::path::Path,
    segments: Vec<Segment>,
) -> Result<Transcript, ReadError> {
    Transcript::new(segments).map_err(|e| bad_span(path, e))
}

/// [`finish`] for readers that know each segment's location and may have warned.
pub(crate) fn finish_located(
    path: &std::path::Path,
    segments: Vec<(Segment, Location)>,
    warnings: error::Warnings,
) -> Result<Transcript, ReadError> {
    let mut t = Transcript::located(segments).map_err(|e| bad_span(path, e))?;
    t.warnings = warnings.into_vec();
    Ok(t)
}

/// Warns about segments that cannot line up with the audio: overlapping an
/// earlier one (of the same speaker: different speakers may talk at once),
/// or starting after (or ending well after) `audio_seconds`.
pub(crate) fn check_against_audio(
    t: &mut Transcript,
    path: &std::path::Path,
    audio_seconds: Option<f64>,
    strict: bool,
) -> Result<(), ReadError> {
    /// Subtitles often linger a little after the sound; this much is not worth a word.
    const LINGER: f64 = 1.0;
    let mut w = error::Warnings::new(path, strict);
    // The latest end so far, and its segment, per speaker (`None`: unnamed).
    // Different speakers may talk at once; a segment without a speaker may
    // be anyone's, so it is checked against all.
    let mut latest: Vec<(Option<&Speaker>, f64, usize)> = Vec::new();
    for (i, s) in t.segments.iter().enumerate() {
        let speaker = s.speaker.as_ref();
        let before = latest
            .iter()
            .filter(|(who, _, _)| who.is_none() || speaker.is_none() || *who == speaker)
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|&(_, end, j)| (end, j));
        if let Some((end, j)) = before {
            // 1 ms tolerance: timestamps are written in milliseconds.
            if s.start < end - 0.0005 {
                w.warn(
                    t.origin(i),
                    format!(
                        "cue {:.3}..{:.3} s overlaps the cue at {} ({:.3}..{:.3} s); both kept, so windows over the overlap read both texts",
                        s.start,
                        s.end,
                        t.origin(j),
                        t.segments[j].start,
                        t.segments[j].end
                    ),
                )?;
            }
        }
        match latest.iter_mut().find(|(who, _, _)| *who == speaker) {
            Some(entry) if s.end > entry.1 => *entry = (speaker, s.end, i),
            Some(_) => {}
            None => latest.push((speaker, s.end, i)),
        }
        if let Some(audio) = audio_seconds {
            if s.start >= audio {
                w.warn(
                    t.origin(i),
                    format!(
                        "cue starts at {:.3} s, after the audio ends ({audio:.3} s); no window reads it",
                        s.start
                    ),
                )?;
            } else if s.end > audio + LINGER {
                w.warn(
                    t.origin(i),
                    format!(
                        "cue ends at {:.3} s, after the audio ends ({audio:.3} s); only its first part has audio under it",
                        s.end
                    ),
                )?;
            }
        }
    }
    t.warnings.extend(w.into_vec());
    Ok(())
}

fn bad_span(path: &std::path::Path, e: TranscriptError) -> ReadError {
    match e {
        TranscriptError::BadSpan { index, start, end } => ReadError::syntax(
            path,
            Location::Key(format!("segment {}", index + 1)),
            "finite times with end >= start",
            &format!("{start} .. {end}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(start: f64, end: f64, text: &str) -> Segment {
        Segment {
            start,
            end,
            text: text.into(),
            ..Default::default()
        }
    }

    fn worded(start: f64, words: &[&str]) -> Segment {
        // One word per 0.5 s.
        let words: Vec<Word> = words
            .iter()
            .enumerate()
            .map(|(i, w)| Word {
                start: start + 0.5 * i as f64,
                end: start + 0.5 * (i + 1) as f64,
                text: (*w).into(),
            })
            .collect();
        Segment {
            start,
            end: words.last().map_or(start, |w| w.end),
            text: words
                .iter()
                .map(|w| w.text.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            words,
            speaker: None,
        }
    }

    /// A live transcript grows region by region; a region heard again
    /// replaces its earlier text and leaves the rest; times are host
    /// timeline seconds whatever the offset.
    #[test]
    fn replacing_a_region_keeps_the_rest_in_order() {
        let mut t = Transcript::default().with_offset(10.0);
        t.replace_between(12.0, 14.0, vec![worded(12.0, &["hello", "there"])])
            .unwrap();
        t.replace_between(20.0, 21.0, vec![worded(20.0, &["later"])])
            .unwrap();
        t.replace_between(15.0, 16.0, vec![worded(15.0, &["between"])])
            .unwrap();
        assert_eq!(t.text_between(0.0, 100.0), "hello there between later");
        // Heard again (a loop): the new words replace the old ones there.
        t.replace_between(12.0, 14.0, vec![worded(12.0, &["hello", "again"])])
            .unwrap();
        assert_eq!(t.text_between(0.0, 100.0), "hello again between later");
        assert_eq!(t.text_between(12.6, 13.0), "again");
        // Nothing recognised in a region clears it.
        t.replace_between(20.0, 21.0, Vec::new()).unwrap();
        assert_eq!(t.text_between(0.0, 100.0), "hello again between");
        assert!(t
            .replace_between(30.0, 31.0, vec![seg(31.0, 30.0, "bad")])
            .is_err());
    }

    #[test]
    fn segments_overlapping_the_window_are_joined_in_order() {
        let t = Transcript::new(vec![
            seg(4.0, 6.0, "second"),
            seg(0.0, 2.0, "first"),
            seg(7.0, 9.0, "third"),
        ])
        .unwrap();
        assert_eq!(t.text_between(1.0, 5.0), "first second");
        // Touching at the boundary is not overlapping.
        assert_eq!(t.text_between(2.0, 4.0), "");
        assert_eq!(t.text_between(0.0, 10.0), "first second third");
    }

    #[test]
    fn words_narrow_the_text_to_the_window() {
        // Words: the 0.0-0.5, results 0.5-1.0, were 1.0-1.5, wonderful 1.5-2.0.
        let t =
            Transcript::new(vec![worded(0.0, &["the", "results", "were", "wonderful"])]).unwrap();
        assert_eq!(t.text_between(0.6, 1.2), "results were");
    }

    #[test]
    fn offset_moves_the_transcript_on_the_timeline() {
        let t = Transcript::new(vec![seg(0.0, 1.0, "hello")])
            .unwrap()
            .with_offset(10.0);
        assert_eq!(t.text_between(0.0, 5.0), "");
        assert_eq!(t.text_between(10.5, 11.5), "hello");
    }

    #[test]
    fn reversed_or_non_finite_spans_are_rejected() {
        assert_eq!(
            Transcript::new(vec![seg(0.0, 1.0, "ok"), seg(3.0, 2.0, "bad")]),
            Err(TranscriptError::BadSpan {
                index: 1,
                start: 3.0,
                end: 2.0
            })
        );
        assert!(Transcript::new(vec![seg(f64::NAN, 1.0, "bad")]).is_err());
    }
}
