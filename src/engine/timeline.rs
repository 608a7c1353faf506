//! The emotion timeline: every analysed window's [`Reading`] (its span on
//! the host timeline, the smoothed emotion, the text and the model), read by
//! exporters and the editor's history view.
//!
//! Written by the worker, read by non-real-time threads, so a mutex is fine
//! here (the audio thread never touches it). Re-playing a region replaces
//! the readings it produced before instead of adding duplicates.
//!
//! With the speech gate on, windows with too little speech get no reading;
//! the timeline keeps their spans instead ([`EmotionTimeline::insert_no_speech`]),
//! so an export shows the gap as `emoscope annotate` does (its `no_speech`).
//! A window is either read or not, so each kind replaces the other on a re-play.
//! With speaker turns, two speakers talking at once each have their own
//! window there: a reading replaces only its own speaker's.

use std::sync::{Mutex, MutexGuard};

use crate::reading::{Reading, Span};
use crate::transcript::Speaker;

/// Readings and windows without speech, each sorted by start time.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TimelineEntries {
    /// Every analysed window's reading.
    pub readings: Vec<Reading>,
    /// Windows the speech gate left out (no reading), as analysis windows.
    pub no_speech: Vec<Span>,
}

impl TimelineEntries {
    /// Adds `newer`, replacing entries that start within `tolerance`
    /// seconds of one of its entries (the same window analysed again),
    /// keeping both lists sorted. A reading replaces the readings of its own
    /// speaker only (two speakers talking at once each have a window there)
    /// and windows without speech; a window without speech replaces entries
    /// of either kind. The one rule for the engine's timeline and for the
    /// plugin's session archive, which merges whole runs.
    pub fn merge(&mut self, newer: TimelineEntries, tolerance: f64) {
        if newer.is_empty() {
            return;
        }
        let mut gaps: Vec<f64> = newer.no_speech.iter().map(|s| s.start).collect();
        gaps.sort_by(f64::total_cmp);
        // Each speaker's (or no one's) newer reading starts, sorted.
        let mut by_speaker: Vec<(Option<&Speaker>, Vec<f64>)> = Vec::new();
        for r in &newer.readings {
            let who = r.speaker.as_ref();
            match by_speaker.iter_mut().find(|(s, _)| *s == who) {
                Some((_, starts)) => starts.push(r.span.start),
                None => by_speaker.push((who, vec![r.span.start])),
            }
        }
        for (_, starts) in &mut by_speaker {
            starts.sort_by(f64::total_cmp);
        }
        let replaced = |e: &Reading| {
            near_any(&gaps, e.span.start, tolerance)
                || by_speaker.iter().any(|(who, starts)| {
                    *who == e.speaker.as_ref() && near_any(starts, e.span.start, tolerance)
                })
        };
        self.readings.retain(|e| !replaced(e));
        let any_reading = |start: f64| {
            by_speaker
                .iter()
                .any(|(_, starts)| near_any(starts, start, tolerance))
        };
        self.no_speech
            .retain(|s| !near_any(&gaps, s.start, tolerance) && !any_reading(s.start));
        self.readings.extend(newer.readings);
        self.readings
            .sort_by(|a, b| a.span.start.total_cmp(&b.span.start));
        self.no_speech.extend(newer.no_speech);
        self.no_speech.sort_by(|a, b| a.start.total_cmp(&b.start));
    }

    /// Whether there is neither a reading nor a window without speech.
    pub fn is_empty(&self) -> bool {
        self.readings.is_empty() && self.no_speech.is_empty()
    }
}

/// Whether some of `starts` (sorted) lies within `tolerance` of `start`.
fn near_any(starts: &[f64], start: f64, tolerance: f64) -> bool {
    let i = starts.partition_point(|&s| s < start);
    let near = |j: usize| {
        starts
            .get(j)
            .is_some_and(|&s| (s - start).abs() < tolerance)
    };
    near(i) || (i > 0 && near(i - 1))
}

/// All readings, and the windows without speech, sorted by start time.
#[derive(Debug, Default)]
pub struct EmotionTimeline {
    entries: Mutex<TimelineEntries>,
}

impl EmotionTimeline {
    fn lock(&self) -> MutexGuard<'_, TimelineEntries> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Inserts `entry`, replacing entries that start within `tolerance`
    /// seconds of it (the same window analysed again on a re-play).
    pub fn insert(&self, entry: Reading, tolerance: f64) {
        self.lock().merge(
            TimelineEntries {
                readings: vec![entry],
                no_speech: Vec::new(),
            },
            tolerance,
        );
    }

    /// Records the window `span` as one without speech (no reading),
    /// replacing entries that start within `tolerance` seconds of it.
    pub fn insert_no_speech(&self, span: Span, tolerance: f64) {
        self.lock().merge(
            TimelineEntries {
                readings: Vec::new(),
                no_speech: vec![span],
            },
            tolerance,
        );
    }

    /// A copy of every reading, sorted by start.
    pub fn snapshot(&self) -> Vec<Reading> {
        self.lock().readings.clone()
    }

    /// A copy of the readings and the windows without speech.
    pub fn entries(&self) -> TimelineEntries {
        self.lock().clone()
    }

    /// Number of readings.
    pub fn len(&self) -> usize {
        self.lock().readings.len()
    }

    /// Whether there are no readings.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes every entry.
    pub fn clear(&self) {
        *self.lock() = TimelineEntries::default();
    }
}

/// Adds `newer` (sorted by start) to `entries` (sorted by start),
/// replacing entries that start within `tolerance` seconds of a newer one
/// (the same window analysed again), keeping the result sorted: the rule of
/// [`TimelineEntries::merge`] for readings alone.
pub fn merge_entries(entries: &mut Vec<Reading>, newer: Vec<Reading>, tolerance: f64) {
    let mut all = TimelineEntries {
        readings: std::mem::take(entries),
        no_speech: Vec::new(),
    };
    all.merge(
        TimelineEntries {
            readings: newer,
            no_speech: Vec::new(),
        },
        tolerance,
    );
    *entries = all.readings;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reading::Emotion;

    fn entry(start: f64, a: f32) -> Reading {
        Reading {
            span: Span::new(start, start + 4.0),
            emotion: Emotion::new(a, 0.0, 0.0),
            text: String::new(),
            model_id: "m".into(),
            ..Reading::default()
        }
    }

    #[test]
    fn merging_replaces_re_analysed_windows_and_keeps_the_rest() {
        let mut old = vec![entry(0.0, 0.1), entry(1.0, 0.1), entry(2.0, 0.1)];
        merge_entries(&mut old, vec![entry(1.000_1, 0.9), entry(5.0, 0.9)], 0.5);
        let got: Vec<(f64, f32)> = old
            .iter()
            .map(|e| (e.span.start, e.emotion.arousal))
            .collect();
        assert_eq!(
            got,
            vec![(0.0, 0.1), (1.000_1, 0.9), (2.0, 0.1), (5.0, 0.9)]
        );
    }

    /// A window re-played reads or is left out anew: each kind replaces the
    /// other near its start, and the rest stays.
    #[test]
    fn readings_and_windows_without_speech_replace_each_other() {
        let t = EmotionTimeline::default();
        for s in [0.0, 1.0, 2.0] {
            t.insert(entry(s, 0.1), 0.5);
        }
        t.insert_no_speech(Span::new(1.000_01, 5.0), 0.5);
        t.insert_no_speech(Span::new(3.0, 7.0), 0.5);
        let e = t.entries();
        let starts: Vec<f64> = e.readings.iter().map(|r| r.span.start).collect();
        assert_eq!(starts, [0.0, 2.0]);
        assert_eq!(e.no_speech, [Span::new(1.000_01, 5.0), Span::new(3.0, 7.0)]);
        // Read again with speech this time.
        t.insert(entry(3.0, 0.9), 0.5);
        let e = t.entries();
        assert_eq!(e.no_speech, [Span::new(1.000_01, 5.0)]);
        assert_eq!(t.len(), 3);
        // A whole run merged: its entries win near their starts.
        let mut archive = e.clone();
        archive.merge(
            TimelineEntries {
                readings: vec![entry(1.0, 0.5)],
                no_speech: vec![Span::new(0.0, 4.0)],
            },
            0.5,
        );
        let starts: Vec<(f64, f32)> = archive
            .readings
            .iter()
            .map(|r| (r.span.start, r.emotion.arousal))
            .collect();
        assert_eq!(starts, [(1.0, 0.5), (2.0, 0.1), (3.0, 0.9)]);
        assert_eq!(archive.no_speech, [Span::new(0.0, 4.0)]);
        t.clear();
        assert!(t.entries().is_empty());
    }

    #[test]
    fn replaying_a_region_replaces_its_entries() {
        let t = EmotionTimeline::default();
        for s in [0.0, 1.0, 2.0] {
            t.insert(entry(s, 0.1), 0.5);
        }
        // The same windows again (with a sub-sample difference in start).
        t.insert(entry(1.000_01, 0.9), 0.5);
        let all = t.snapshot();
        assert_eq!(all.len(), 3);
        assert_eq!(all[1].emotion.arousal, 0.9);
        let starts: Vec<f64> = all.iter().map(|e| e.span.start).collect();
        assert!(starts.windows(2).all(|w| w[0] <= w[1]));
    }

    /// Two speakers' windows that start close together (overlapping speech,
    /// or a turn starting just after another's window) both stay; a re-play
    /// replaces each speaker's own.
    #[test]
    fn a_reading_replaces_only_its_own_speakers() {
        let t = EmotionTimeline::default();
        let of = |who: &str, start: f64, a: f32| Reading {
            speaker: Some(Speaker::new(who)),
            ..entry(start, a)
        };
        t.insert(of("host", 2.0, 0.1), 0.5);
        t.insert(of("guest", 2.2, 0.2), 0.5);
        assert_eq!(t.len(), 2);
        t.insert(of("guest", 2.200_01, 0.9), 0.5);
        let got: Vec<(String, f32)> = t
            .snapshot()
            .iter()
            .map(|r| (r.speaker.as_ref().unwrap().to_string(), r.emotion.arousal))
            .collect();
        assert_eq!(got, [("host".into(), 0.1), ("guest".into(), 0.9)]);
        // A window without speech there replaces both.
        t.insert_no_speech(Span::new(2.1, 6.1), 0.5);
        assert!(t.is_empty());
    }
}
