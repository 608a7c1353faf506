//! The annotation of one recording: everything the exporters write, as one
//! serialisable document (the JSON export is this document as it is, and
//! `emoscope plot` reads it back). Its timeline holds the engine's
//! [`Reading`]s as they are; its segments carry the same [`Span`] and
//! [`Emotion`] types, written flat as they always were.

use serde::{Deserialize, Serialize};

use super::speakers::SpeakerSummary;
use crate::reading::{span_pairs, Emotion, OutputRange, Reading, Span};
use crate::transcript::{Speaker, Transcript};

/// Identifies the JSON layout; bumped when a field changes meaning.
pub const DOCUMENT_FORMAT: &str = "emoscope-annotation/1";

/// One recording's emotion timeline, segments, markers and transcript.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Annotation {
    /// [`DOCUMENT_FORMAT`].
    pub format: String,
    /// The audio file's name (as given, for the record).
    pub audio: String,
    /// Audio duration, seconds.
    pub duration: f64,
    /// Identifier of the model that produced the readings.
    pub model: String,
    /// The range the model declares its outputs in (written `[min, max]`);
    /// labels, CC values and plots map it onto 0..1.
    pub output_range: OutputRange,
    /// The model's category labels, in the order of each reading's
    /// `probabilities` (absent for a dimensional model).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
    /// Analysis window, seconds.
    pub window_seconds: f64,
    /// Hop between windows, seconds.
    pub hop_seconds: f64,
    /// Smoothing time constant, seconds (0: none).
    pub smoothing_seconds: f64,
    /// Every analysed window, in time order (the engine's timeline).
    pub timeline: Vec<Reading>,
    /// Speech segments with their readings and labels, in time order; one
    /// speaker's never overlap (without speakers, none do; two speakers'
    /// may, where they talk at once).
    pub segments: Vec<MarkedSegment>,
    /// Points where the emotion quadrant changes (each speaker's own
    /// changes, when the readings name speakers), in time order.
    pub markers: Vec<Marker>,
    /// The transcript the analysis used (empty when none).
    pub transcript: Vec<TranscriptSegment>,
    /// Stretches with no reading because no one speaks there (speech-gated
    /// analysis left their windows out), seconds (written `[start, end]`):
    /// the hop around each left-out window's centre, merged; in time order.
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "span_pairs")]
    pub no_speech: Vec<Span>,
    /// Each speaker summed up, in the order of their first turn, when the
    /// speaker turns were known (absent otherwise; see [`super::speakers`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub speakers: Vec<SpeakerSummary>,
}

/// One value of every reading that exports lay out as a column, a tier, a
/// layer or a controller lane: a dimension (index into
/// [`Emotion::DIMENSIONS`]) or a category's probability (index into the
/// document's `categories`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Track {
    /// Arousal (0), valence (1) or dominance (2).
    Dimension(usize),
    /// The probability of the category with this index.
    Category(usize),
}

impl Track {
    /// The value of `emotion` this track holds.
    pub fn value(self, emotion: &Emotion) -> f32 {
        match self {
            Self::Dimension(i) => emotion.dimensions()[i],
            Self::Category(i) => emotion
                .probabilities
                .as_slice()
                .get(i)
                .copied()
                .unwrap_or(0.0),
        }
    }

    /// The value of `emotion` this track holds on 0..1, as meters,
    /// controllers and plots show it: a dimension mapped from the model's
    /// `range` ([`OutputRange::normalise`]), a probability as it is
    /// (clamped the same way).
    pub fn normalised(self, emotion: &Emotion, range: OutputRange) -> f32 {
        let v = self.value(emotion);
        match self {
            Self::Dimension(_) => range.normalise(v),
            Self::Category(_) => OutputRange::UNIT.normalise(v),
        }
    }
}

/// The tracks of a model with the labels `categories`, with their names: a
/// categorical model's category probabilities, else arousal, valence and
/// dominance. (A model with categories is laid out by them; the JSON
/// document keeps every value a reading has.)
pub fn tracks(categories: &[String]) -> Vec<(Track, &str)> {
    if categories.is_empty() {
        Emotion::DIMENSIONS
            .iter()
            .enumerate()
            .map(|(i, n)| (Track::Dimension(i), *n))
            .collect()
    } else {
        categories
            .iter()
            .enumerate()
            .map(|(i, n)| (Track::Category(i), n.as_str()))
            .collect()
    }
}

/// Where a segment came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SegmentSource {
    /// A transcript segment (its text is the transcript's).
    Transcript,
    /// Speech the voice-activity detector found outside every transcript segment.
    Vad,
}

/// A speech segment with its reading.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MarkedSegment {
    /// Where the segment is, seconds.
    #[serde(flatten)]
    pub span: Span,
    /// The model's reading of the segment's own audio and text (`emoscope
    /// annotate`), or the overlap-weighted mean of the windows overlapping
    /// it (the plugin's export, which keeps no audio).
    #[serde(flatten)]
    pub emotion: Emotion,
    /// The marker label every export writes, e.g. `A.72 V.31 D.55 | hello there`
    /// (`happy .71 | hello there` for a categorical model).
    pub label: String,
    /// Transcript text of the segment (empty for VAD-only speech).
    pub text: String,
    /// Where the segment came from.
    pub source: SegmentSource,
    /// Whether a value lies outside the model's declared range (see [`Reading::out_of_range`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub out_of_range: bool,
    /// Who speaks in the segment, when speaker turns were known (absent otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speaker: Option<Speaker>,
}

/// A labelled point in time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Marker {
    /// Time, seconds.
    pub time: f64,
    /// Label, e.g. `tense A.80 V.30 D.50`.
    pub label: String,
    /// Whose reading changed quadrant, when the readings name speakers
    /// (absent otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speaker: Option<Speaker>,
}

/// A transcript segment as stored in the document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TranscriptSegment {
    /// Start, seconds.
    pub start: f64,
    /// End, seconds.
    pub end: f64,
    /// Text.
    pub text: String,
    /// Timed words, when known.
    #[serde(default)]
    pub words: Vec<TranscriptWord>,
    /// Who says it, when the transcript or the speaker turns name them
    /// (absent otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speaker: Option<Speaker>,
}

/// A timed word.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TranscriptWord {
    /// Start, seconds.
    pub start: f64,
    /// End, seconds.
    pub end: f64,
    /// The word.
    pub text: String,
}

/// The transcript's segments (on the host timeline: the offset applied) as stored in the document.
pub fn transcript_segments(t: &Transcript) -> Vec<TranscriptSegment> {
    let o = t.offset();
    t.segments()
        .iter()
        .map(|s| TranscriptSegment {
            start: s.start + o,
            end: s.end + o,
            text: s.text.clone(),
            words: s
                .words
                .iter()
                .map(|w| TranscriptWord {
                    start: w.start + o,
                    end: w.end + o,
                    text: w.text.clone(),
                })
                .collect(),
            speaker: s.speaker.clone(),
        })
        .collect()
}

impl Annotation {
    /// The tracks the exports lay the readings out in ([`tracks`]).
    pub fn tracks(&self) -> Vec<(Track, &str)> {
        tracks(&self.categories)
    }

    /// The most probable category of `emotion` (a reading of this
    /// document's model) and its probability; `None` for a dimensional model.
    pub fn top_category(&self, emotion: &Emotion) -> Option<(&str, f32)> {
        super::segments::top_category(emotion, &self.categories)
    }

    /// The speakers the document names, in the order of their first turn
    /// (its summaries' order), then any other the readings or segments
    /// name, in the order they appear; empty without speakers.
    pub fn speaker_names(&self) -> Vec<Speaker> {
        let mut out: Vec<Speaker> = self.speakers.iter().map(|s| s.speaker.clone()).collect();
        let named = self
            .timeline
            .iter()
            .filter_map(|r| r.speaker.as_ref())
            .chain(self.segments.iter().filter_map(|s| s.speaker.as_ref()));
        for speaker in named {
            if !out.contains(speaker) {
                out.push(speaker.clone());
            }
        }
        out
    }

    /// The document of `speaker` alone: their readings, segments, markers,
    /// transcript segments and summary (the stretches without speech and
    /// everything else as they are).
    pub fn only(&self, speaker: &Speaker) -> Self {
        let theirs = |s: &Option<Speaker>| s.as_ref() == Some(speaker);
        Self {
            timeline: self
                .timeline
                .iter()
                .filter(|r| theirs(&r.speaker))
                .cloned()
                .collect(),
            segments: self
                .segments
                .iter()
                .filter(|s| theirs(&s.speaker))
                .cloned()
                .collect(),
            markers: self
                .markers
                .iter()
                .filter(|m| theirs(&m.speaker))
                .cloned()
                .collect(),
            transcript: self
                .transcript
                .iter()
                .filter(|t| theirs(&t.speaker))
                .cloned()
                .collect(),
            speakers: self
                .speakers
                .iter()
                .filter(|s| &s.speaker == speaker)
                .cloned()
                .collect(),
            ..self.clone()
        }
    }

    /// The document as pretty-printed JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("an annotation always serialises")
    }

    /// Reads a document written by [`Self::to_json`].
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }
}
