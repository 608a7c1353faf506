//! Each speaker of a conversation summed up: how long they talk and how
//! they sound. Made from the speaker turns and the timeline's readings
//! (each of which names its speaker, see [`Reading::speaker`]) when the
//! annotation is built, and written into the JSON document (`speakers`) and
//! `annotate`'s `index.json`.
//!
//! The statistics weigh each reading by its length: a turn shorter than a
//! window has one reading over the turn, which counts for the turn's
//! length, not a whole window's; with every window of one length they are
//! the plain mean and spread of the readings.

use serde::{Deserialize, Serialize};

use super::segments::quadrant;
use crate::reading::{Emotion, OutputRange, Reading};
use crate::transcript::{Speaker, SpeakerTurns};

/// One speaker's summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpeakerSummary {
    /// Who.
    pub speaker: Speaker,
    /// Seconds they talk (their turns within the recording, overlapping
    /// speech included, their own overlapping turns counted once).
    pub speaking_seconds: f64,
    /// Readings of their speech (windows with a reading).
    pub windows: usize,
    /// Of those, the readings during which someone else talks too.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub overlap_windows: usize,
    /// Mean of each output over their readings, weighted by length;
    /// absent without readings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean: Option<Emotion>,
    /// Standard deviation of each output over their readings (the square
    /// root of the length-weighted mean squared difference from `mean`);
    /// absent without readings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub std: Option<Emotion>,
    /// Share of their read time in each arousal/valence quadrant (see
    /// [`quadrant`]); all 0 without readings; absent for a categorical model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quadrants: Option<QuadrantShares>,
    /// For a categorical model, the share of their read time each category
    /// is the most probable, in the document's `categories` order; all 0
    /// without readings; absent for a dimensional model.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<f64>,
}

/// Shares of time per circumplex quadrant, adding up to 1 (or all 0).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct QuadrantShares {
    /// High arousal, high valence.
    pub excited: f64,
    /// High arousal, low valence.
    pub tense: f64,
    /// Low arousal, low valence.
    pub subdued: f64,
    /// Low arousal, high valence.
    pub calm: f64,
}

impl QuadrantShares {
    fn add(&mut self, name: &str, seconds: f64) {
        match name {
            "excited" => self.excited += seconds,
            "tense" => self.tense += seconds,
            "subdued" => self.subdued += seconds,
            _ => self.calm += seconds,
        }
    }

    fn scaled(self, by: f64) -> Self {
        Self {
            excited: self.excited * by,
            tense: self.tense * by,
            subdued: self.subdued * by,
            calm: self.calm * by,
        }
    }
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// A summary per speaker of `turns` (in the order of their first turn)
/// from `timeline`'s readings of them, over a recording of `duration`
/// seconds whose model declares `range` and the labels `categories`.
pub fn summarise(
    turns: &SpeakerTurns,
    timeline: &[Reading],
    range: OutputRange,
    categories: &[String],
    duration: f64,
) -> Vec<SpeakerSummary> {
    let dimensional = match timeline.first() {
        Some(r) => r.emotion.has_dimensions(),
        None => categories.is_empty(),
    };
    turns
        .speakers()
        .into_iter()
        .map(|speaker| {
            let mine: Vec<&Reading> = timeline
                .iter()
                .filter(|r| r.speaker.as_ref() == Some(&speaker))
                .collect();
            let weighted = |r: &&Reading| (r.span.duration().max(0.0), r.emotion);
            let mean = Emotion::weighted_mean(mine.iter().map(weighted));
            let std = mean.and_then(|m| {
                let squares = mine.iter().map(|r| {
                    let (w, e) = weighted(r);
                    let d = e.zip_with(m, |x, mu| {
                        let d = f64::from(x) - f64::from(mu);
                        (d * d) as f32
                    });
                    (w, d)
                });
                Emotion::weighted_mean(squares).map(|v| v.map(f32::sqrt))
            });
            let mut quadrants = QuadrantShares::default();
            let mut shares = vec![0.0; categories.len()];
            let mut total = 0.0;
            for r in &mine {
                let (w, e) = weighted(r);
                quadrants.add(quadrant(&e, range), w);
                if let Some(share) = e.probabilities.top().and_then(|(i, _)| shares.get_mut(i)) {
                    *share += w;
                }
                total += w;
            }
            if total > 0.0 {
                quadrants = quadrants.scaled(1.0 / total);
                shares.iter_mut().for_each(|s| *s /= total);
            }
            SpeakerSummary {
                speaking_seconds: turns.speaking_seconds(&speaker, duration),
                windows: mine.len(),
                overlap_windows: mine.iter().filter(|r| r.overlap).count(),
                mean,
                std,
                quadrants: dimensional.then_some(quadrants),
                categories: shares,
                speaker,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reading::Span;
    use crate::transcript::Turn;

    fn reading(speaker: &str, start: f64, end: f64, a: f32, v: f32) -> Reading {
        Reading {
            span: Span::new(start, end),
            emotion: Emotion::new(a, v, 0.5),
            speaker: Some(Speaker::new(speaker)),
            ..Reading::default()
        }
    }

    /// A: turns 0..4 and 6..7 (5 s); readings 0..4 (arousal 0.8, valence
    /// 0.8: excited) and 6..7 (0.2, 0.8: calm). Weighted by length: mean
    /// arousal (4 * 0.8 + 1 * 0.2) / 5 = 0.68; variance (4 * 0.12^2 + 1 *
    /// 0.48^2) / 5 = 0.0576, std 0.24; excited 4/5, calm 1/5. B talks 3..5
    /// (2 s) with no reading.
    #[test]
    fn each_speaker_is_summed_up_from_their_readings() {
        let turns = SpeakerTurns::new(vec![
            Turn {
                speaker: Speaker::new("A"),
                span: Span::new(0.0, 4.0),
            },
            Turn {
                speaker: Speaker::new("B"),
                span: Span::new(3.0, 5.0),
            },
            Turn {
                speaker: Speaker::new("A"),
                span: Span::new(6.0, 7.0),
            },
        ])
        .unwrap();
        let timeline = [
            reading("A", 0.0, 4.0, 0.8, 0.8),
            reading("A", 6.0, 7.0, 0.2, 0.8),
        ];
        let s = summarise(&turns, &timeline, OutputRange::UNIT, &[], 10.0);
        assert_eq!(s.len(), 2);
        let a = &s[0];
        assert_eq!(
            (a.speaker.as_str(), a.speaking_seconds, a.windows),
            ("A", 5.0, 2)
        );
        let mean = a.mean.unwrap();
        assert!((mean.arousal - 0.68).abs() < 1e-6, "{mean:?}");
        assert!((mean.valence - 0.8).abs() < 1e-6);
        let std = a.std.unwrap();
        assert!((std.arousal - 0.24).abs() < 1e-6, "{std:?}");
        assert!(std.valence.abs() < 1e-6);
        let q = a.quadrants.unwrap();
        assert!((q.excited - 0.8).abs() < 1e-12);
        assert!((q.calm - 0.2).abs() < 1e-12);
        let b = &s[1];
        assert_eq!((b.speaking_seconds, b.windows, b.mean), (2.0, 0, None));
        assert_eq!(b.quadrants, Some(QuadrantShares::default()));
        let json = serde_json::to_string(b).unwrap();
        assert_eq!(
            json,
            r#"{"speaker":"B","speaking_seconds":2.0,"windows":0,"quadrants":{"excited":0.0,"tense":0.0,"subdued":0.0,"calm":0.0}}"#
        );
    }
}
