//! The annotation of one recording: everything the exporters write, as one
//! serialisable document (the JSON export is this document as it is, and
//! `emoscope plot` reads it back). Its timeline holds the engine's
//! [`Reading`]s as they are; its segments carry the same [`Span`] and
//! [`Emotion`] types, written flat as they always were.

use serde::{Deserialize, Serialize};

use super::speakers::SpeakerSummary;
use crate::reading::{span_pairs, Emotion, OutputRange, Reading, Span};
use crate::transcript::Transcript;

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
    /// Analysis window, seconds.
    pub window_seconds: f64,
    /// Hop between windows, seconds.
    pub hop_seconds: f64,
    /// Smoothing time constant, seconds (0: none).
    pub smoothing_seconds: f64,
    /// Every analysed window, in time order (the engine's timeline).
    pub timeline: Vec<Reading>,
    /// Speech segments with their mean readings and labels, in time order, not overlapping.
    pub segments: Vec<MarkedSegment>,
    /// Points where the emotion quadrant changes, in time order.
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
    /// The marker label every export writes, e.g. `A.72 V.31 D.55 | hello there`.
    pub label: String,
    /// Transcript text of the segment (empty for VAD-only speech).
    pub text: String,
    /// Where the segment came from.
    pub source: SegmentSource,
    /// Whether a value lies outside the model's declared range (see [`Reading::out_of_range`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub out_of_range: bool,
}

/// A labelled point in time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Marker {
    /// Time, seconds.
    pub time: f64,
    /// Label, e.g. `tense A.80 V.30 D.50`.
    pub label: String,
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
        })
        .collect()
}

impl Annotation {
    /// The document as pretty-printed JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("an annotation always serialises")
    }

    /// Reads a document written by [`Self::to_json`].
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }
}
