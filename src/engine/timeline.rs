//! The emotion timeline: every analysed window's [`Reading`] (its span on
//! the host timeline, the smoothed emotion, the text and the model), read by
//! exporters and the editor's history view.
//!
//! Written by the worker, read by non-real-time threads, so a mutex is fine
//! here (the audio thread never touches it). Re-playing a region replaces
//! the readings it produced before instead of adding duplicates.

use std::sync::Mutex;

use crate::reading::Reading;

/// All readings, sorted by start time.
#[derive(Debug, Default)]
pub struct EmotionTimeline {
    entries: Mutex<Vec<Reading>>,
}

impl EmotionTimeline {
    /// Inserts `entry`, replacing entries that start within `tolerance`
    /// seconds of it (the same window analysed again on a re-play).
    pub fn insert(&self, entry: Reading, tolerance: f64) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        merge_entries(&mut entries, vec![entry], tolerance);
    }

    /// A copy of every entry, sorted by start.
    pub fn snapshot(&self) -> Vec<Reading> {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes every entry.
    pub fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

/// Adds `newer` (sorted by start) to `entries` (sorted by start),
/// replacing entries that start within `tolerance` seconds of a newer one
/// (the same window analysed again), keeping the result sorted. The one
/// rule for the engine's timeline and for the plugin's session archive,
/// which merges whole runs.
pub fn merge_entries(entries: &mut Vec<Reading>, newer: Vec<Reading>, tolerance: f64) {
    if newer.is_empty() {
        return;
    }
    entries.retain(|e| {
        // `newer` is sorted by start: look at the neighbours of e's start only.
        let start = e.span.start;
        let i = newer.partition_point(|n| n.span.start < start);
        let near = |j: usize| {
            newer
                .get(j)
                .is_some_and(|n| (n.span.start - start).abs() < tolerance)
        };
        !(near(i) || (i > 0 && near(i - 1)))
    });
    entries.extend(newer);
    entries.sort_by(|a, b| a.span.start.total_cmp(&b.span.start));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reading::{Emotion, Span};

    fn entry(start: f64, a: f32) -> Reading {
        Reading {
            span: Span::new(start, start + 4.0),
            emotion: Emotion::new(a, 0.0, 0.0),
            text: String::new(),
            model_id: "m".into(),
            out_of_range: false,
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
}
