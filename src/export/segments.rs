//! Marker segments and change markers from the timeline, the speech regions
//! and the transcript.
//!
//! Segments: the transcript's segments (clipped to the audio, overlaps cut at
//! the previous segment's end) carry the transcript's text; speech the
//! voice-activity detector found outside all of them is added as text-less
//! segments (pieces shorter than [`MIN_VAD_PIECE`] are dropped). Without a
//! transcript the segments are exactly the speech regions ([`plan_segments`]).
//! Each segment then gets a reading and a label ([`mark_segments`]): where
//! the audio is at hand (`emoscope annotate`), the model's reading of the
//! segment's own audio with its own text (the caller scores each planned
//! span), so that a sentence's value never blends its neighbours'; where it
//! is not (the plugin's session export), the mean of the analysis windows
//! overlapping it, weighted by the overlap ([`window_means`]).
//!
//! With speaker turns known, each speaker has segments of their own, made
//! as above from their transcript segments (each cut to the stretch from
//! the first to the last of their turns it meets) and the speech within
//! their turns (each speaker's joined turns, [`SpeakerTurns::joined`]); two
//! speakers' segments overlap where they talk at once, and speech no turn
//! covers gets no segment (the analysis does not read it either). Every
//! segment names its speaker.
//!
//! Markers: a point at the first window and wherever the emotion quadrant
//! (arousal and valence above or below the middle of the model's range), or
//! for a categorical model the most probable category, changes, at the
//! window centre; with readings that name speakers, each
//! speaker's own first window and changes, the marker naming the speaker.

use crate::reading::{Emotion, OutputRange, Reading, Span};
use crate::transcript::{Speaker, SpeakerTurns};

use super::document::{MarkedSegment, Marker, SegmentSource, TranscriptSegment};

/// VAD speech left over outside transcript segments is kept only from this length (seconds).
pub const MIN_VAD_PIECE: f64 = 0.25;
/// Segments shorter than this (seconds) cannot be regions and are dropped.
pub const MIN_SEGMENT: f64 = 0.001;

/// How labels are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LabelStyle {
    /// Append the quadrant name (`excited`, `tense`, `subdued`, `calm`).
    pub quadrant: bool,
}

/// The circumplex quadrant of `emotion`: arousal and valence against the
/// middle of the model's output `range`.
pub fn quadrant(emotion: &Emotion, range: OutputRange) -> &'static str {
    let high_a = range.normalise(emotion.arousal) >= 0.5;
    let high_v = range.normalise(emotion.valence) >= 0.5;
    match (high_a, high_v) {
        (true, true) => "excited",
        (true, false) => "tense",
        (false, false) => "subdued",
        (false, true) => "calm",
    }
}

/// `A.72 V.31 D.55`: each value mapped from `range` onto 0..1
/// ([`OutputRange::position`]) and written with two decimals without the
/// leading zero (`1.00` at the top of the range); the quadrant name follows
/// when `style.quadrant` is set. A value outside the range is not clamped:
/// it reads as what it is (`V1.41`, `A-.10`). A categorical model's reading
/// is its most probable category of `categories` and its probability
/// (`happy .71`); a model with both outputs gives both (`happy .71 A.72 V.31
/// D.55`).
pub fn emotion_label(
    emotion: &Emotion,
    range: OutputRange,
    categories: &[String],
    style: LabelStyle,
) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some((name, p)) = top_category(emotion, categories) {
        parts.push(format!("{name} {}", two_decimals(p)));
    }
    if emotion.has_dimensions() {
        let f = |x: f32| two_decimals(range.position(x));
        parts.push(format!(
            "A{} V{} D{}",
            f(emotion.arousal),
            f(emotion.valence),
            f(emotion.dominance)
        ));
        if style.quadrant {
            parts.push(quadrant(emotion, range).to_owned());
        }
    }
    parts.join(" ")
}

/// `t` with two decimals and without the leading zero (`.72`, `-.10`, `1.00`).
fn two_decimals(t: f32) -> String {
    let s = format!("{t:.2}");
    match s.strip_prefix('-') {
        Some(neg) => format!("-{}", neg.strip_prefix('0').unwrap_or(neg)),
        None => s.strip_prefix('0').map(str::to_owned).unwrap_or(s),
    }
}

/// The most probable category of `emotion` (named from the model's
/// `categories`) and its probability; `None` for a dimensional reading.
pub fn top_category<'a>(emotion: &Emotion, categories: &'a [String]) -> Option<(&'a str, f32)> {
    let (i, p) = emotion.probabilities.top()?;
    Some((categories.get(i).map_or("?", String::as_str), p))
}

/// What change markers follow in `emotion`: its most probable category of
/// `categories` for a model with categories, else its quadrant.
pub fn state<'a>(emotion: &Emotion, range: OutputRange, categories: &'a [String]) -> &'a str {
    match top_category(emotion, categories) {
        Some((name, _)) => name,
        None => quadrant(emotion, range),
    }
}

/// A segment before it has a reading: where it is, its text and its source.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentSpan {
    /// Where the segment is, seconds.
    pub span: Span,
    /// The transcript's text (empty for VAD-only speech).
    pub text: String,
    /// Where the span came from.
    pub source: SegmentSource,
    /// Who speaks, with speaker turns known.
    pub speaker: Option<Speaker>,
}

/// The time-ordered segment spans (see the module docs): without `turns`,
/// not overlapping; with them, each speaker's not overlapping (equal
/// starts in the order of the speakers' first turns).
pub fn plan_segments(
    speech: &[Span],
    transcript: &[TranscriptSegment],
    duration: f64,
    turns: Option<&SpeakerTurns>,
) -> Vec<SegmentSpan> {
    let Some(turns) = turns else {
        return plan_one(speech, transcript.iter().collect(), duration, None);
    };
    let joined = turns.joined();
    let mut spans: Vec<SegmentSpan> = Vec::new();
    for speaker in turns.speakers() {
        let theirs: Vec<Span> = joined
            .iter()
            .filter(|t| t.speaker == speaker)
            .map(|t| t.span)
            .collect();
        // Their transcript segments, each cut to the turns of theirs it
        // meets (a recogniser's segment may run on into the next speaker).
        let said: Vec<TranscriptSegment> = transcript
            .iter()
            .filter(|s| s.speaker.as_ref() == Some(&speaker))
            .filter_map(|s| {
                let inside = intersect(&[Span::new(s.start, s.end)], &theirs);
                let (first, last) = (inside.first()?, inside.last()?);
                Some(TranscriptSegment {
                    start: first.start,
                    end: last.end,
                    ..s.clone()
                })
            })
            .collect();
        let their_speech = intersect(speech, &theirs);
        spans.extend(plan_one(
            &their_speech,
            said.iter().collect(),
            duration,
            Some(&speaker),
        ));
    }
    // Stable: at equal starts, speakers in the order of their first turn.
    spans.sort_by(|a, b| a.span.start.total_cmp(&b.span.start));
    spans
}

/// The segments of one stream of speech (see the module docs), named `speaker`.
fn plan_one(
    speech: &[Span],
    mut sorted: Vec<&TranscriptSegment>,
    duration: f64,
    speaker: Option<&Speaker>,
) -> Vec<SegmentSpan> {
    // Transcript spans, clipped and de-overlapped.
    sorted.sort_by(|a, b| a.start.total_cmp(&b.start));
    let mut spans: Vec<SegmentSpan> = Vec::new();
    let mut cursor = 0.0f64;
    for s in sorted {
        let start = s.start.max(cursor).max(0.0);
        let end = s.end.min(duration);
        if end - start >= MIN_SEGMENT {
            spans.push(SegmentSpan {
                span: Span::new(start, end),
                text: s.text.clone(),
                source: SegmentSource::Transcript,
                speaker: speaker.cloned(),
            });
            cursor = end;
        }
    }
    // Speech outside the transcript spans.
    let covered: Vec<Span> = spans.iter().map(|s| s.span).collect();
    for &region in speech {
        let clipped = Span::new(region.start.max(0.0), region.end.min(duration));
        for span in subtract(clipped, &covered) {
            if span.duration() >= MIN_VAD_PIECE {
                spans.push(SegmentSpan {
                    span,
                    text: String::new(),
                    source: SegmentSource::Vad,
                    speaker: speaker.cloned(),
                });
            }
        }
    }
    spans.sort_by(|a, b| a.span.start.total_cmp(&b.span.start));
    spans
}

/// The segments with their readings (`readings[i]` is `spans[i]`'s) and labels.
pub fn mark_segments(
    spans: Vec<SegmentSpan>,
    readings: &[Emotion],
    range: OutputRange,
    categories: &[String],
    style: LabelStyle,
) -> Vec<MarkedSegment> {
    assert_eq!(spans.len(), readings.len(), "one reading per span");
    spans
        .into_iter()
        .zip(readings)
        .map(|(span, &emotion)| {
            let mut label = emotion_label(&emotion, range, categories, style);
            if !span.text.is_empty() {
                label.push_str(" | ");
                label.push_str(&span.text);
            }
            MarkedSegment {
                span: span.span,
                emotion,
                label,
                text: span.text,
                source: span.source,
                out_of_range: false,
                speaker: span.speaker,
            }
        })
        .collect()
}

/// Each span's overlap-weighted mean of the `timeline`'s readings; empty
/// when the timeline is (no window, no reading to give).
pub fn window_means(spans: &[SegmentSpan], timeline: &[Reading]) -> Option<Vec<Emotion>> {
    if timeline.is_empty() {
        return None;
    }
    Some(spans.iter().map(|s| mean_over(timeline, s.span)).collect())
}

/// The segments of [`plan_segments`] with [`window_means`] as readings
/// (none without a timeline).
pub fn build_segments(
    speech: &[Span],
    transcript: &[TranscriptSegment],
    duration: f64,
    timeline: &[Reading],
    range: OutputRange,
    style: LabelStyle,
) -> Vec<MarkedSegment> {
    let spans = plan_segments(speech, transcript, duration, None);
    match window_means(&spans, timeline) {
        Some(readings) => mark_segments(spans, &readings, range, &[], style),
        None => Vec::new(),
    }
}

/// Where `a` and `b` (each sorted and not overlapping) both are.
fn intersect(a: &[Span], b: &[Span]) -> Vec<Span> {
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() && j < b.len() {
        let (start, end) = (a[i].start.max(b[j].start), a[i].end.min(b[j].end));
        if end > start {
            out.push(Span::new(start, end));
        }
        if a[i].end < b[j].end {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

/// `span` minus the union of `cuts` (sorted, non-overlapping).
pub fn subtract(span: Span, cuts: &[Span]) -> Vec<Span> {
    let mut out = Vec::new();
    let mut from = span.start;
    for cut in cuts {
        if cut.end <= from || cut.start >= span.end {
            continue;
        }
        if cut.start > from {
            out.push(Span::new(from, cut.start));
        }
        from = from.max(cut.end);
    }
    if span.end > from {
        out.push(Span::new(from, span.end));
    }
    out
}

/// Overlap-weighted mean of the readings over `span`; the reading whose
/// centre is nearest the span's middle when none overlaps.
fn mean_over(timeline: &[Reading], span: Span) -> Emotion {
    let weighted = timeline.iter().map(|r| (span.overlap(r.span), r.emotion));
    if let Some(mean) = Emotion::weighted_mean(weighted) {
        return mean;
    }
    let mid = span.centre();
    timeline
        .iter()
        .min_by(|x, y| {
            (x.span.centre() - mid)
                .abs()
                .total_cmp(&(y.span.centre() - mid).abs())
        })
        .expect("timeline is not empty")
        .emotion
}

/// Quadrant-change (or, for a model with `categories`, top-category-change)
/// markers (see the module docs), in time order.
pub fn change_markers(
    timeline: &[Reading],
    range: OutputRange,
    categories: &[String],
) -> Vec<Marker> {
    let mut out: Vec<Marker> = Vec::new();
    // The last state of each speaker (`None`: readings naming no one).
    let mut last: Vec<(Option<&Speaker>, &str)> = Vec::new();
    for r in timeline {
        let q = state(&r.emotion, range, categories);
        let who = r.speaker.as_ref();
        let before = last.iter_mut().find(|(s, _)| *s == who);
        if before.as_ref().is_some_and(|(_, b)| *b == q) {
            continue;
        }
        match before {
            Some(entry) => entry.1 = q,
            None => last.push((who, q)),
        }
        out.push(Marker {
            time: r.span.centre(),
            label: if r.emotion.probabilities.is_empty() {
                format!(
                    "{q} {}",
                    emotion_label(&r.emotion, range, categories, LabelStyle::default())
                )
            } else {
                emotion_label(&r.emotion, range, categories, LabelStyle::default())
            },
            speaker: r.speaker.clone(),
        });
    }
    if last.iter().any(|(s, _)| s.is_some()) {
        // Stable: at one time, in the timeline's order.
        out.sort_by(|a, b| a.time.total_cmp(&b.time));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reading::Probabilities;

    const UNIT: OutputRange = OutputRange::UNIT;

    fn reading(start: f64, a: f32, v: f32, d: f32) -> Reading {
        Reading {
            span: Span::new(start, start + 4.0),
            emotion: Emotion::new(a, v, d),
            text: String::new(),
            model_id: "m".into(),
            ..Reading::default()
        }
    }

    fn label(a: f32, v: f32, d: f32, (min, max): (f32, f32), style: LabelStyle) -> String {
        emotion_label(
            &Emotion::new(a, v, d),
            OutputRange::new(min, max),
            &[],
            style,
        )
    }

    fn spans(pairs: &[(f64, f64)]) -> Vec<Span> {
        pairs.iter().map(|&(a, b)| Span::new(a, b)).collect()
    }

    fn ts(start: f64, end: f64, text: &str) -> TranscriptSegment {
        TranscriptSegment {
            start,
            end,
            text: text.into(),
            words: Vec::new(),
            speaker: None,
        }
    }

    #[test]
    fn labels_map_the_range_onto_two_decimals() {
        // Range 1..7: 5.32 -> (5.32 - 1) / 6 = 0.72; 2.86 -> 0.31; 4.3 -> 0.55; 7 -> 1.00.
        let s = LabelStyle::default();
        assert_eq!(label(5.32, 2.86, 4.3, (1.0, 7.0), s), "A.72 V.31 D.55");
        assert_eq!(label(7.0, 1.0, 7.0, (1.0, 7.0), s), "A1.00 V.00 D1.00");
        // Outside the range, the value as it is: (9 - 1) / 6 = 1.33, (0.4 - 1) / 6 = -0.10.
        assert_eq!(label(7.0, 0.4, 9.0, (1.0, 7.0), s), "A1.00 V-.10 D1.33");
        assert_eq!(
            label(0.8, 0.2, 0.5, (0.0, 1.0), LabelStyle { quadrant: true }),
            "A.80 V.20 D.50 tense"
        );
        assert_eq!(quadrant(&Emotion::new(0.9, 0.9, 0.0), UNIT), "excited");
        assert_eq!(quadrant(&Emotion::new(0.1, 0.1, 0.0), UNIT), "subdued");
        assert_eq!(quadrant(&Emotion::new(0.1, 0.9, 0.0), UNIT), "calm");
    }

    #[test]
    fn transcript_segments_and_leftover_speech_merge() {
        // Speech 0.5..3.0 and 5.0..5.2 (too short once alone), transcript 1.0..2.0
        // and an overlapping 1.5..2.5 (cut to 2.0..2.5).
        // Expected: VAD 0.5..1.0, "a" 1.0..2.0, "b" 2.0..2.5, VAD 2.5..3.0; 5.0..5.2 dropped (0.2 < 0.25).
        let timeline = vec![reading(0.0, 0.5, 0.5, 0.5)];
        let segs = build_segments(
            &spans(&[(0.5, 3.0), (5.0, 5.2)]),
            &[ts(1.5, 2.5, "b"), ts(1.0, 2.0, "a")],
            6.0,
            &timeline,
            UNIT,
            LabelStyle::default(),
        );
        let got: Vec<(f64, f64, &str, SegmentSource)> = segs
            .iter()
            .map(|s| (s.span.start, s.span.end, s.text.as_str(), s.source))
            .collect();
        assert_eq!(
            got,
            vec![
                (0.5, 1.0, "", SegmentSource::Vad),
                (1.0, 2.0, "a", SegmentSource::Transcript),
                (2.0, 2.5, "b", SegmentSource::Transcript),
                (2.5, 3.0, "", SegmentSource::Vad),
            ]
        );
        assert_eq!(segs[1].label, "A.50 V.50 D.50 | a");
        assert_eq!(segs[0].label, "A.50 V.50 D.50");
    }

    #[test]
    fn means_are_overlap_weighted() {
        // Windows 0..4 (A 0.2) and 1..5 (A 0.8). Segment 0.5..2.5 overlaps the
        // first by 2.0 s and the second by 1.5 s: (2.0 * 0.2 + 1.5 * 0.8) / 3.5 = 1.6 / 3.5.
        let timeline = vec![reading(0.0, 0.2, 0.0, 1.0), reading(1.0, 0.8, 1.0, 0.0)];
        let segs = build_segments(
            &spans(&[(0.5, 2.5)]),
            &[],
            9.0,
            &timeline,
            UNIT,
            LabelStyle::default(),
        );
        assert!(
            (segs[0].emotion.arousal - 1.6 / 3.5).abs() < 1e-6,
            "{}",
            segs[0].emotion.arousal
        );
        // Past every window: the nearest centre (3.0) gives its reading.
        let segs = build_segments(
            &spans(&[(7.0, 8.0)]),
            &[],
            9.0,
            &timeline,
            UNIT,
            LabelStyle::default(),
        );
        assert_eq!(segs[0].emotion.arousal, 0.8);
        assert!(build_segments(
            &spans(&[(0.0, 1.0)]),
            &[],
            1.0,
            &[],
            UNIT,
            LabelStyle::default()
        )
        .is_empty());
    }

    /// Speech 0..10; A talks 0..4 and 6..9, B 3..7 (over both). A's
    /// transcript says 0.5..2 ("a") and 7..9.5 ("b", cut to A's turn: 7..9).
    /// A: VAD 0..0.5, "a" 0.5..2, VAD 2..4, VAD 6..7, "b" 7..9; B: VAD 3..7
    /// (both read 3..4 and 6..7); 9..10 no one's.
    #[test]
    fn with_turns_each_speaker_has_their_own_segments() {
        use crate::transcript::Turn;
        let turn = |who: &str, a: f64, b: f64| Turn {
            speaker: Speaker::new(who),
            span: Span::new(a, b),
        };
        let turns = SpeakerTurns::new(vec![
            turn("A", 0.0, 4.0),
            turn("B", 3.0, 7.0),
            turn("A", 6.0, 9.0),
        ])
        .unwrap();
        let said = [ts(0.5, 2.0, "a"), ts(7.0, 9.5, "b")].map(|mut s| {
            s.speaker = Some(Speaker::new("A"));
            s
        });
        let planned = plan_segments(&spans(&[(0.0, 10.0)]), &said, 10.0, Some(&turns));
        let got: Vec<(f64, f64, &str, Option<&str>)> = planned
            .iter()
            .map(|s| {
                let who = s.speaker.as_ref().map(Speaker::as_str);
                (s.span.start, s.span.end, s.text.as_str(), who)
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (0.0, 0.5, "", Some("A")),
                (0.5, 2.0, "a", Some("A")),
                (2.0, 4.0, "", Some("A")),
                (3.0, 7.0, "", Some("B")),
                (6.0, 7.0, "", Some("A")),
                (7.0, 9.0, "b", Some("A")),
            ]
        );
    }

    #[test]
    fn markers_at_quadrant_changes() {
        let timeline = vec![
            reading(0.0, 0.9, 0.9, 0.5),
            reading(1.0, 0.8, 0.7, 0.5),
            reading(2.0, 0.8, 0.2, 0.5),
            reading(3.0, 0.2, 0.2, 0.5),
        ];
        let m = change_markers(&timeline, UNIT, &[]);
        let got: Vec<(f64, &str)> = m.iter().map(|m| (m.time, m.label.as_str())).collect();
        assert_eq!(
            got,
            vec![
                (2.0, "excited A.90 V.90 D.50"),
                (4.0, "tense A.80 V.20 D.50"),
                (5.0, "subdued A.20 V.20 D.50"),
            ]
        );
    }

    #[test]
    fn categorical_labels_name_the_top_category_and_markers_follow_it() {
        let labels: Vec<String> = ["neutral", "happy", "angry"].map(String::from).to_vec();
        let cat = |start: f64, p: [f32; 3]| Reading {
            span: Span::new(start, start + 4.0),
            emotion: Emotion::categorical(Probabilities::new(&p).unwrap()),
            ..Reading::default()
        };
        let happy = cat(0.0, [0.2, 0.71, 0.09]).emotion;
        let style = LabelStyle { quadrant: true };
        assert_eq!(emotion_label(&happy, UNIT, &labels, style), "happy .71");
        let both = Emotion::new(0.72, 0.31, 0.55).with_probabilities(happy.probabilities);
        assert_eq!(
            emotion_label(&both, UNIT, &labels, LabelStyle::default()),
            "happy .71 A.72 V.31 D.55"
        );
        let timeline = vec![
            cat(0.0, [0.2, 0.7, 0.1]),
            cat(1.0, [0.1, 0.6, 0.3]),
            cat(2.0, [0.1, 0.3, 0.6]),
            cat(3.0, [0.5, 0.2, 0.3]),
        ];
        let m = change_markers(&timeline, UNIT, &labels);
        let got: Vec<(f64, &str)> = m.iter().map(|m| (m.time, m.label.as_str())).collect();
        assert_eq!(
            got,
            vec![(2.0, "happy .70"), (4.0, "angry .60"), (5.0, "neutral .50")]
        );
    }
}
