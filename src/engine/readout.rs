//! The latest emotion reading, published by the worker and read from any
//! thread (audio thread for MIDI, editor for meters) without locks.
//!
//! A sequence lock over atomics: the single writer makes the sequence odd,
//! stores the fields, and makes it even again; a reader retries while the
//! sequence is odd or changed under it. Readers never block the writer, and a
//! reader gives up after a bounded number of tries rather than spin (it then
//! sees `None` for that call; the next call will succeed).

use std::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};

/// One published emotion reading.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reading {
    /// Arousal, in the model's declared scale.
    pub arousal: f32,
    /// Valence.
    pub valence: f32,
    /// Dominance.
    pub dominance: f32,
    /// Start of the analysed window, host timeline seconds.
    pub start: f64,
    /// End of the analysed window, host timeline seconds.
    pub end: f64,
    /// How many readings were published before this one plus one; 0 means "none yet".
    pub count: u64,
}

/// Lock-free single-writer, many-reader cell holding the latest [`Reading`].
#[derive(Debug, Default)]
pub struct EmotionReadout {
    seq: AtomicU64,
    arousal: AtomicU32,
    valence: AtomicU32,
    dominance: AtomicU32,
    start: AtomicU64,
    end: AtomicU64,
    count: AtomicU64,
}

/// Read attempts before [`EmotionReadout::read`] gives up for this call.
const MAX_TRIES: usize = 64;

impl EmotionReadout {
    /// Publishes a reading. Only one thread (the worker) may call this.
    pub fn publish(&self, arousal: f32, valence: f32, dominance: f32, start: f64, end: f64) {
        let s = self.seq.fetch_add(1, Ordering::Relaxed);
        fence(Ordering::Release);
        self.arousal.store(arousal.to_bits(), Ordering::Relaxed);
        self.valence.store(valence.to_bits(), Ordering::Relaxed);
        self.dominance.store(dominance.to_bits(), Ordering::Relaxed);
        self.start.store(start.to_bits(), Ordering::Relaxed);
        self.end.store(end.to_bits(), Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.seq.store(s.wrapping_add(2), Ordering::Release);
    }

    /// The latest reading; `None` before the first one, or if the writer kept
    /// changing it for [`MAX_TRIES`] attempts. Real-time safe.
    pub fn read(&self) -> Option<Reading> {
        for _ in 0..MAX_TRIES {
            let s1 = self.seq.load(Ordering::Acquire);
            if s1 % 2 == 1 {
                std::hint::spin_loop();
                continue;
            }
            let r = Reading {
                arousal: f32::from_bits(self.arousal.load(Ordering::Relaxed)),
                valence: f32::from_bits(self.valence.load(Ordering::Relaxed)),
                dominance: f32::from_bits(self.dominance.load(Ordering::Relaxed)),
                start: f64::from_bits(self.start.load(Ordering::Relaxed)),
                end: f64::from_bits(self.end.load(Ordering::Relaxed)),
                count: self.count.load(Ordering::Relaxed),
            };
            fence(Ordering::Acquire);
            if self.seq.load(Ordering::Relaxed) == s1 {
                return (r.count > 0).then_some(r);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn empty_until_published() {
        let r = EmotionReadout::default();
        assert!(r.read().is_none());
        r.publish(0.1, 0.2, 0.3, 1.0, 5.0);
        let got = r.read().unwrap();
        assert_eq!(
            (
                got.arousal,
                got.valence,
                got.dominance,
                got.start,
                got.end,
                got.count
            ),
            (0.1, 0.2, 0.3, 1.0, 5.0, 1)
        );
    }

    #[test]
    fn readers_never_see_a_torn_reading() {
        // The writer publishes readings whose fields are all derived from one
        // counter; a torn read would mix two counters.
        let cell = Arc::new(EmotionReadout::default());
        let writer = {
            let cell = cell.clone();
            std::thread::spawn(move || {
                for i in 1..=20_000u32 {
                    let x = i as f32;
                    cell.publish(x, x, x, i as f64, i as f64 + 4.0);
                }
            })
        };
        let mut seen = 0;
        while !writer.is_finished() || seen == 0 {
            if let Some(r) = cell.read() {
                assert!(r.arousal == r.valence && r.valence == r.dominance);
                assert_eq!(r.start, r.arousal as f64);
                assert_eq!(r.end, r.start + 4.0);
                seen += 1;
            }
        }
        writer.join().unwrap();
        assert_eq!(cell.read().unwrap().count, 20_000);
    }
}
