//! The values that travel from the model to the marker file, in one shape
//! each: [`Emotion`] (what a model says about a stretch of speech),
//! [`OutputRange`] (the scale the model declares it in), [`Span`] (a stretch
//! of time, seconds) and [`Reading`] (an emotion over a span, with the words
//! it was read with and the model that read it).
//!
//! A predictor ([`crate::engine::EmotionPredictor`]) turns the network's
//! output row into an [`Emotion`] once; the engine wraps it with its window's
//! [`Span`] into a [`Reading`], which the readout (meters, MIDI CC), the
//! timeline (the editor's history, exports), the annotation document and its
//! exporters, the plot and the plugin's editor all take as it is. Labels,
//! meters, controller values and plots map a value onto 0..1 with
//! [`OutputRange::normalise`] and nothing else.
//!
//! [`Emotion`] (with its fixed-size category [`Probabilities`]) and [`Span`]
//! are `Copy` and never allocate, so the real-time readout stores and
//! returns them field by field. In the JSON document a reading's span and
//! values are written flat (`start`, `end`, `arousal`, `valence`,
//! `dominance`, or `probabilities` for a categorical model, ...); its
//! speaker and overlap flag only where speaker turns were known.

use serde::{Deserialize, Serialize};

use crate::transcript::Speaker;

/// The most categories a model may output: what a reading holds inline, so
/// that it stays `Copy` and the real-time readout never allocates.
pub const MAX_CATEGORIES: usize = 16;

/// A probability per category, in the model's label order (the labels
/// themselves travel once per model: [`crate::engine::EmotionPredictor::categories`],
/// the document's `categories`); empty for a model without categories.
/// Fixed-size, so it is `Copy` and never allocates.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Probabilities {
    len: u8,
    values: [f32; MAX_CATEGORIES],
}

impl Probabilities {
    /// No categories.
    pub const NONE: Self = Self {
        len: 0,
        values: [0.0; MAX_CATEGORIES],
    };

    /// The probabilities `values`, or `None` when there are more than
    /// [`MAX_CATEGORIES`].
    pub fn new(values: &[f32]) -> Option<Self> {
        if values.len() > MAX_CATEGORIES {
            return None;
        }
        let mut out = Self::NONE;
        out.values[..values.len()].copy_from_slice(values);
        out.len = values.len() as u8;
        Some(out)
    }

    /// The probabilities, in label order.
    pub fn as_slice(&self) -> &[f32] {
        &self.values[..usize::from(self.len)]
    }

    /// How many categories.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Whether there are none (a model without categories).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The most probable category's index and probability (the first of
    /// equals); `None` without categories.
    pub fn top(&self) -> Option<(usize, f32)> {
        let mut best: Option<(usize, f32)> = None;
        for (i, &p) in self.as_slice().iter().enumerate() {
            if best.is_none_or(|(_, b)| p > b) {
                best = Some((i, p));
            }
        }
        best
    }

    fn map(self, f: impl Fn(f32) -> f32) -> Self {
        let mut out = self;
        for v in &mut out.values[..usize::from(self.len)] {
            *v = f(*v);
        }
        out
    }
}

/// What a model says about a stretch of speech: arousal, valence and
/// dominance, each in the model's declared [`OutputRange`], and/or a
/// probability per category ([`Probabilities`]), whichever the model
/// outputs ([`Self::has_dimensions`], [`Self::probabilities`]).
///
/// It is fixed-size so it stays `Copy` and allocation-free, and
/// `#[non_exhaustive]`: other crates build it with [`Emotion::new`],
/// [`Emotion::from_dimensions`] or [`Emotion::categorical`]. [`Emotion::map`],
/// [`Emotion::zip_with`] and [`Emotion::weighted_mean`] (smoothing, the mean
/// of a span's pieces, of the windows over a segment) are where every value
/// is combined; probabilities combine linearly, so smoothed and averaged ones
/// still sum to 1.
///
/// In JSON an emotion is written flat: `arousal`, `valence`, `dominance`
/// when the model outputs them, `probabilities` (a list in label order) when
/// it outputs categories; nothing a model did not produce.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "EmotionFields", into = "EmotionFields")]
#[non_exhaustive]
pub struct Emotion {
    /// Arousal (calm to excited); 0 and not meaningful when
    /// [`Self::has_dimensions`] is false.
    pub arousal: f32,
    /// Valence (negative to positive).
    pub valence: f32,
    /// Dominance (submissive to dominant).
    pub dominance: f32,
    /// The category probabilities (empty for a dimensional model).
    pub probabilities: Probabilities,
    /// Whether the model output arousal, valence and dominance.
    dimensional: bool,
}

impl Default for Emotion {
    /// Arousal, valence and dominance 0, no categories.
    fn default() -> Self {
        Self::new(0.0, 0.0, 0.0)
    }
}

/// The JSON form of an [`Emotion`]: only what the model produced.
#[derive(Serialize, Deserialize)]
struct EmotionFields {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    arousal: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    valence: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dominance: Option<f32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    probabilities: Vec<f32>,
}

impl From<Emotion> for EmotionFields {
    fn from(e: Emotion) -> Self {
        let dim = |v: f32| e.dimensional.then_some(v);
        Self {
            arousal: dim(e.arousal),
            valence: dim(e.valence),
            dominance: dim(e.dominance),
            probabilities: e.probabilities.as_slice().to_vec(),
        }
    }
}

impl TryFrom<EmotionFields> for Emotion {
    type Error = String;

    /// Dimensions all three or none, and something read.
    fn try_from(f: EmotionFields) -> Result<Self, String> {
        let p = Probabilities::new(&f.probabilities).ok_or_else(|| {
            format!(
                "{} probabilities: a reading holds at most {MAX_CATEGORIES}",
                f.probabilities.len()
            )
        })?;
        match (f.arousal, f.valence, f.dominance) {
            (Some(a), Some(v), Some(d)) => Ok(Self::new(a, v, d).with_probabilities(p)),
            (None, None, None) if !p.is_empty() => Ok(Self::categorical(p)),
            (None, None, None) => {
                Err("a reading needs arousal, valence and dominance, or probabilities".into())
            }
            _ => Err("arousal, valence and dominance come together: one is missing".into()),
        }
    }
}

impl Emotion {
    /// The dimensions' names, in label order (the order of
    /// [`Self::dimensions`] and of a model's output row).
    pub const DIMENSIONS: [&'static str; 3] = ["arousal", "valence", "dominance"];

    /// An emotion from its three dimensions (no categories).
    pub const fn new(arousal: f32, valence: f32, dominance: f32) -> Self {
        Self {
            arousal,
            valence,
            dominance,
            probabilities: Probabilities::NONE,
            dimensional: true,
        }
    }

    /// An emotion from a model's output row, in label order
    /// ([`Self::DIMENSIONS`]).
    pub const fn from_dimensions([arousal, valence, dominance]: [f32; 3]) -> Self {
        Self::new(arousal, valence, dominance)
    }

    /// The reading of a categorical model: category probabilities only.
    pub const fn categorical(probabilities: Probabilities) -> Self {
        Self {
            arousal: 0.0,
            valence: 0.0,
            dominance: 0.0,
            probabilities,
            dimensional: false,
        }
    }

    /// This emotion with `probabilities` (a model with both outputs).
    pub const fn with_probabilities(mut self, probabilities: Probabilities) -> Self {
        self.probabilities = probabilities;
        self
    }

    /// Whether the model output arousal, valence and dominance (a
    /// categorical model does not: [`Self::dimensions`] are then 0 and mean
    /// nothing, and nothing shows or writes them).
    pub const fn has_dimensions(&self) -> bool {
        self.dimensional
    }

    /// The three dimensions in label order ([`Self::DIMENSIONS`]).
    pub const fn dimensions(&self) -> [f32; 3] {
        [self.arousal, self.valence, self.dominance]
    }

    /// Whether every value is a finite number.
    pub fn is_finite(&self) -> bool {
        self.dimensions().iter().all(|v| v.is_finite())
            && self.probabilities.as_slice().iter().all(|p| p.is_finite())
    }

    /// `f` applied to every value.
    pub fn map(self, f: impl Fn(f32) -> f32) -> Self {
        Self {
            arousal: f(self.arousal),
            valence: f(self.valence),
            dominance: f(self.dominance),
            probabilities: self.probabilities.map(&f),
            dimensional: self.dimensional,
        }
    }

    /// `f` applied to every value of `self` and the same value of `other`
    /// (both read by one model, so with the same outputs).
    pub fn zip_with(self, other: Self, f: impl Fn(f32, f32) -> f32) -> Self {
        let mut probabilities = self.probabilities;
        let n = probabilities.len().min(other.probabilities.len());
        for (a, &b) in probabilities.values[..n]
            .iter_mut()
            .zip(&other.probabilities.values[..n])
        {
            *a = f(*a, b);
        }
        Self {
            arousal: f(self.arousal, other.arousal),
            valence: f(self.valence, other.valence),
            dominance: f(self.dominance, other.dominance),
            probabilities,
            dimensional: self.dimensional,
        }
    }

    /// The mean of `items` (weight, emotion), each value weighted by its
    /// weight, summed in `f64`; `None` when the weights do not add up to
    /// more than zero. With weights of 1 this is the plain mean. The
    /// outputs (dimensions, categories) are the first item's.
    pub fn weighted_mean(items: impl IntoIterator<Item = (f64, Emotion)>) -> Option<Self> {
        let (mut total, mut sum) = (0.0f64, [0.0f64; 3 + MAX_CATEGORIES]);
        let mut first: Option<Emotion> = None;
        for (w, e) in items {
            total += w;
            first.get_or_insert(e);
            let values = e.dimensions().into_iter().chain(e.probabilities.values);
            for (s, v) in sum.iter_mut().zip(values) {
                *s += w * f64::from(v);
            }
        }
        let first = first.filter(|_| total > 0.0)?;
        let mean = |i: usize| (sum[i] / total) as f32;
        let mut out = first;
        out.arousal = mean(0);
        out.valence = mean(1);
        out.dominance = mean(2);
        out.probabilities = first.probabilities;
        for (i, v) in out.probabilities.values[..first.probabilities.len()]
            .iter_mut()
            .enumerate()
        {
            *v = mean(3 + i);
        }
        Some(out)
    }
}

impl From<[f32; 3]> for Emotion {
    fn from(row: [f32; 3]) -> Self {
        Self::from_dimensions(row)
    }
}

/// The range a model declares its outputs in, the same for every dimension
/// (`[min, max]` in a checkpoint's manifest and in the JSON document).
/// Values outside it are kept as the model gave them and flagged
/// ([`Reading::out_of_range`]); only meters, controller values and plots
/// clamp ([`Self::normalise`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(from = "[f32; 2]", into = "[f32; 2]")]
pub struct OutputRange {
    /// The lowest value.
    pub min: f32,
    /// The highest value.
    pub max: f32,
}

impl Default for OutputRange {
    fn default() -> Self {
        Self::UNIT
    }
}

impl OutputRange {
    /// 0..1, the range of a model that declares none.
    pub const UNIT: Self = Self::new(0.0, 1.0);

    /// The range `min..=max`.
    pub const fn new(min: f32, max: f32) -> Self {
        Self { min, max }
    }

    /// Whether `max` lies above `min` (a range values can be mapped from).
    pub fn is_increasing(self) -> bool {
        self.max > self.min
    }

    /// Where `value` sits in the range, 0 at `min` and 1 at `max`, not
    /// clamped (labels write a value outside the range as what it is).
    pub fn position(self, value: f32) -> f32 {
        (value - self.min) / (self.max - self.min)
    }

    /// [`Self::position`] clamped to 0..=1, NaN mapped to the midpoint: what
    /// meters, MIDI controllers, automation and plots show.
    pub fn normalise(self, value: f32) -> f32 {
        let t = self.position(value);
        if t.is_nan() {
            0.5
        } else {
            t.clamp(0.0, 1.0)
        }
    }

    /// Whether `value` lies within `min..=max`.
    pub fn contains(self, value: f32) -> bool {
        (self.min..=self.max).contains(&value)
    }

    /// Whether every dimension of `emotion` lies within the range (true for
    /// a categorical reading: probabilities have their own range).
    pub fn covers(self, emotion: &Emotion) -> bool {
        !emotion.has_dimensions() || emotion.dimensions().iter().all(|&v| self.contains(v))
    }
}

impl From<[f32; 2]> for OutputRange {
    fn from([min, max]: [f32; 2]) -> Self {
        Self::new(min, max)
    }
}

impl From<OutputRange> for [f32; 2] {
    fn from(r: OutputRange) -> Self {
        [r.min, r.max]
    }
}

/// A stretch of time, `start..end` seconds (on the recording's or the host's
/// timeline).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Span {
    /// Start, seconds.
    pub start: f64,
    /// End, seconds.
    pub end: f64,
}

impl Span {
    /// The span `start..end`.
    pub const fn new(start: f64, end: f64) -> Self {
        Self { start, end }
    }

    /// The middle, seconds: where time-value exports place a window's reading.
    pub fn centre(self) -> f64 {
        0.5 * (self.start + self.end)
    }

    /// The length, seconds.
    pub fn duration(self) -> f64 {
        self.end - self.start
    }

    /// Seconds this span and `other` have in common (0 when apart).
    pub fn overlap(self, other: Span) -> f64 {
        (self.end.min(other.end) - self.start.max(other.start)).max(0.0)
    }
}

/// One reading: the emotion a model read over a span, with the transcript
/// text it read it with. The engine's timeline, the readout, the annotation
/// document and every export hold this one type.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Reading {
    /// The stretch read (an analysis window), seconds.
    #[serde(flatten)]
    pub span: Span,
    /// What the model read (smoothed as the engine publishes it).
    #[serde(flatten)]
    pub emotion: Emotion,
    /// Transcript text the span was read with (empty when none).
    pub text: String,
    /// Identifier of the model that read it.
    pub model_id: String,
    /// Whether a value lies outside the model's declared [`OutputRange`] (a
    /// checkpoint without a bounded head): the values are the model's, kept
    /// as they are, and flagged here.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub out_of_range: bool,
    /// Who speaks over the span, when speaker turns are known (each turn is
    /// analysed on its own, so a reading never mixes speakers); absent from
    /// the JSON otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speaker: Option<Speaker>,
    /// Whether another speaker talks during the span too (overlapping
    /// speech, read once per speaker).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub overlap: bool,
}

/// (De)serialises spans as `[start, end]` pairs, the JSON document's form
/// for lists of stretches (`no_speech`): `#[serde(with = "span_pairs")]`.
pub mod span_pairs {
    use super::Span;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    /// Writes each span as `[start, end]`.
    pub fn serialize<S: Serializer>(spans: &[Span], s: S) -> Result<S::Ok, S::Error> {
        let pairs: Vec<[f64; 2]> = spans.iter().map(|x| [x.start, x.end]).collect();
        pairs.serialize(s)
    }

    /// Reads `[start, end]` pairs.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Span>, D::Error> {
        let pairs = Vec::<[f64; 2]>::deserialize(d)?;
        Ok(pairs.into_iter().map(|[a, b]| Span::new(a, b)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reading_is_written_flat_in_the_documents_field_order() {
        let r = Reading {
            span: Span::new(1.0, 5.0),
            emotion: Emotion::new(0.25, 0.5, -1.0),
            text: "hi".into(),
            model_id: "m".into(),
            ..Reading::default()
        };
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(
            json,
            r#"{"start":1.0,"end":5.0,"arousal":0.25,"valence":0.5,"dominance":-1.0,"text":"hi","model_id":"m"}"#
        );
        assert_eq!(serde_json::from_str::<Reading>(&json).unwrap(), r);
        let flagged = Reading {
            out_of_range: true,
            ..r.clone()
        };
        let json = serde_json::to_string(&flagged).unwrap();
        assert!(
            json.ends_with(r#""model_id":"m","out_of_range":true}"#),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<Reading>(&json).unwrap(), flagged);
        let spoken = Reading {
            speaker: Some(Speaker::new("Alice")),
            overlap: true,
            ..flagged.clone()
        };
        let json = serde_json::to_string(&spoken).unwrap();
        assert!(
            json.ends_with(r#""out_of_range":true,"speaker":"Alice","overlap":true}"#),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<Reading>(&json).unwrap(), spoken);
    }

    #[test]
    fn a_categorical_reading_writes_its_probabilities_and_no_dimensions() {
        let p = Probabilities::new(&[0.125, 0.5, 0.375]).unwrap();
        assert_eq!(p.top(), Some((1, 0.5)));
        let r = Reading {
            span: Span::new(0.0, 2.0),
            emotion: Emotion::categorical(p),
            model_id: "er".into(),
            ..Reading::default()
        };
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(
            json,
            r#"{"start":0.0,"end":2.0,"probabilities":[0.125,0.5,0.375],"text":"","model_id":"er"}"#
        );
        let back = serde_json::from_str::<Reading>(&json).unwrap();
        assert_eq!(back, r);
        assert!(!back.emotion.has_dimensions());
        // A model with both outputs writes both.
        let both = Emotion::new(0.25, 0.5, 0.75).with_probabilities(p);
        let json = serde_json::to_string(&both).unwrap();
        assert_eq!(
            json,
            r#"{"arousal":0.25,"valence":0.5,"dominance":0.75,"probabilities":[0.125,0.5,0.375]}"#
        );
        assert_eq!(serde_json::from_str::<Emotion>(&json).unwrap(), both);
        assert!(Probabilities::new(&[0.0; MAX_CATEGORIES + 1]).is_none());
        // Half a reading, or none, is refused rather than filled in.
        for bad in [
            r#"{"arousal":0.5,"valence":0.5}"#,
            r#"{}"#,
            r#"{"probabilities":[]}"#,
        ] {
            assert!(serde_json::from_str::<Emotion>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn probabilities_combine_like_dimensions_and_keep_summing_to_one() {
        let a = Emotion::categorical(Probabilities::new(&[0.75, 0.25]).unwrap());
        let b = Emotion::categorical(Probabilities::new(&[0.25, 0.75]).unwrap());
        // (3 * 0.75 + 1 * 0.25) / 4 = 0.625.
        let m = Emotion::weighted_mean([(3.0, a), (1.0, b)]).unwrap();
        assert_eq!(m.probabilities.as_slice(), &[0.625, 0.375]);
        assert!(!m.has_dimensions());
        let half = a.zip_with(b, |x, y| 0.5 * (x + y));
        assert_eq!(half.probabilities.as_slice(), &[0.5, 0.5]);
        assert_eq!(a.map(|x| 2.0 * x).probabilities.as_slice(), &[1.5, 0.5]);
        assert!(OutputRange::UNIT.covers(&a.map(|x| 2.0 * x)));
        assert!(!a.map(|_| f32::NAN).is_finite());
    }

    #[test]
    fn ranges_are_written_as_pairs_and_spans_in_lists_too() {
        let range = OutputRange::new(1.0, 7.0);
        assert_eq!(serde_json::to_string(&range).unwrap(), "[1.0,7.0]");
        assert_eq!(
            serde_json::from_str::<OutputRange>("[1, 7]").unwrap(),
            range
        );
        #[derive(Serialize, Deserialize, PartialEq, Debug)]
        struct Doc {
            #[serde(with = "span_pairs")]
            gaps: Vec<Span>,
        }
        let doc = Doc {
            gaps: vec![Span::new(0.5, 1.5)],
        };
        let json = serde_json::to_string(&doc).unwrap();
        assert_eq!(json, r#"{"gaps":[[0.5,1.5]]}"#);
        assert_eq!(serde_json::from_str::<Doc>(&json).unwrap(), doc);
    }

    #[test]
    fn normalise_maps_the_range_onto_0_to_1_clamped_and_nan_to_the_middle() {
        for range in [
            OutputRange::UNIT,
            OutputRange::new(1.0, 7.0),
            OutputRange::new(-1.0, 1.0),
        ] {
            assert_eq!(range.normalise(range.min), 0.0);
            assert_eq!(range.normalise(range.max), 1.0);
        }
        let r = OutputRange::new(1.0, 7.0);
        // (4 - 1) / 6 = 0.5; (9 - 1) / 6 = 1.33 unclamped, 1 clamped.
        assert_eq!(r.normalise(4.0), 0.5);
        assert!((r.position(9.0) - 8.0 / 6.0).abs() < 1e-6);
        assert_eq!(r.normalise(9.0), 1.0);
        assert_eq!(r.normalise(-3.0), 0.0);
        assert_eq!(r.normalise(f32::NAN), 0.5);
        assert!(r.covers(&Emotion::new(1.0, 7.0, 4.0)));
        assert!(!r.covers(&Emotion::new(1.0, 7.5, 4.0)));
        assert!(!r.covers(&Emotion::new(f32::NAN, 4.0, 4.0)));
    }

    #[test]
    fn weighted_means_sum_in_f64_and_need_some_weight() {
        // (2 * 0.2 + 1.5 * 0.8) / 3.5 = 1.6 / 3.5.
        let m = Emotion::weighted_mean([
            (2.0, Emotion::new(0.2, 0.0, 1.0)),
            (1.5, Emotion::new(0.8, 1.0, 0.0)),
        ])
        .unwrap();
        assert_eq!(m.arousal, (1.6f64 / 3.5) as f32);
        assert_eq!(m.dominance, (2.0f64 / 3.5) as f32);
        assert_eq!(
            Emotion::weighted_mean([(0.0, Emotion::new(1.0, 1.0, 1.0))]),
            None
        );
        assert_eq!(Emotion::weighted_mean([]), None);
    }

    #[test]
    fn spans_measure_their_overlap() {
        let s = Span::new(1.0, 5.0);
        assert_eq!(s.centre(), 3.0);
        assert_eq!(s.duration(), 4.0);
        assert_eq!(s.overlap(Span::new(4.0, 9.0)), 1.0);
        assert_eq!(s.overlap(Span::new(6.0, 9.0)), 0.0);
    }
}
