//! The emotion timeline: every analysed window with its span on the host
//! timeline, read by exporters and the editor's history view.
//!
//! Written by the worker, read by non-real-time threads, so a mutex is fine
//! here (the audio thread never touches it). Re-playing a region replaces
//! the entries it produced before instead of adding duplicates.

use std::sync::Mutex;

/// One analysed window.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineEntry {
    /// Window start, host timeline seconds.
    pub start: f64,
    /// Window end, host timeline seconds.
    pub end: f64,
    /// Arousal (smoothed as published).
    pub arousal: f32,
    /// Valence.
    pub valence: f32,
    /// Dominance.
    pub dominance: f32,
    /// Transcript text the window was analysed with (empty when none).
    pub text: String,
    /// Identifier of the model that produced it.
    pub model_id: String,
}

/// All entries, sorted by start time.
#[derive(Debug, Default)]
pub struct EmotionTimeline {
    entries: Mutex<Vec<TimelineEntry>>,
}

impl EmotionTimeline {
    /// Inserts `entry`, replacing entries that start within `tolerance`
    /// seconds of it (the same window analysed again on a re-play).
    pub fn insert(&self, entry: TimelineEntry, tolerance: f64) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.retain(|e| (e.start - entry.start).abs() >= tolerance);
        let at = entries.partition_point(|e| e.start < entry.start);
        entries.insert(at, entry);
    }

    /// A copy of every entry, sorted by start.
    pub fn snapshot(&self) -> Vec<TimelineEntry> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(start: f64, a: f32) -> TimelineEntry {
        TimelineEntry {
            start,
            end: start + 4.0,
            arousal: a,
            valence: 0.0,
            dominance: 0.0,
            text: String::new(),
            model_id: "m".into(),
        }
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
        assert_eq!(all[1].arousal, 0.9);
        let starts: Vec<f64> = all.iter().map(|e| e.start).collect();
        assert!(starts.windows(2).all(|w| w[0] <= w[1]));
    }
}
