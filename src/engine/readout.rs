//! The latest emotion reading, published by the worker and read from any
//! thread (audio thread for MIDI, editor for meters) without locks.
//!
//! A sequence lock over atomics: the single writer makes the sequence odd,
//! stores the fields, and makes it even again; a reader retries while the
//! sequence is odd or changed under it. Readers never block the writer, and a
//! reader gives up after a bounded number of tries rather than spin (it then
//! sees `None` for that call; the next call will succeed).
//!
//! The cell takes and gives a [`Reading`]: its span, emotion (dimensions
//! and up to [`MAX_CATEGORIES`] category probabilities) and range flag
//! cross as atomics. Its text and model id do not (a string cannot cross to
//! the audio thread without allocating); they stay in the timeline, and a
//! reading read here has them empty.
//!
//! With the speech gate on, a window with too little speech gets no
//! reading: the worker publishes it as "no speech"
//! ([`EmotionReadout::publish_no_speech`]), which [`EmotionReadout::no_speech`]
//! reports until the next reading. The latest reading itself stays as it
//! was (meters and MIDI hold it; nothing made up stands in for it).

use std::sync::atomic::{fence, AtomicBool, AtomicU32, AtomicU64, Ordering};

use crate::reading::{Emotion, Probabilities, Reading, Span, MAX_CATEGORIES};

/// What [`EmotionReadout::read`] gives: the latest reading and its place in
/// the sequence of publications.
#[derive(Debug, Clone, PartialEq)]
pub struct Published {
    /// The reading, without its text and model id (see the module docs).
    pub reading: Reading,
    /// How many readings were published before this one plus one (never 0):
    /// a reader that remembers it knows when a new reading has come.
    pub count: u64,
    /// Whose reading it is, when the engine's transcript names speakers:
    /// the index of the reading's speaker among the
    /// [`SpeakerTurns::speakers`](crate::transcript::SpeakerTurns::speakers)
    /// of [`Transcript::timeline_speaker_turns`](crate::transcript::Transcript::timeline_speaker_turns)
    /// (the reading's own [`Reading::speaker`] is a string, which cannot
    /// cross to the audio thread). `None` without speakers.
    pub speaker: Option<u32>,
}

/// Lock-free single-writer, many-reader cell holding the latest [`Reading`].
#[derive(Debug, Default)]
pub struct EmotionReadout {
    seq: AtomicU64,
    arousal: AtomicU32,
    valence: AtomicU32,
    dominance: AtomicU32,
    /// Whether the reading has arousal, valence and dominance.
    dimensional: AtomicBool,
    /// The category probabilities' count and values (f32 bits).
    categories: AtomicU32,
    probabilities: [AtomicU32; MAX_CATEGORIES],
    start: AtomicU64,
    end: AtomicU64,
    out_of_range: AtomicBool,
    count: AtomicU64,
    /// The reading's speaker index, [`NO_SPEAKER`] for none.
    speaker: AtomicU32,
    /// Whether the latest window had no speech (set by
    /// [`EmotionReadout::publish_no_speech`], cleared by the next reading).
    no_speech: AtomicBool,
    /// That window's span, f64 bits.
    gap_start: AtomicU64,
    gap_end: AtomicU64,
}

/// Read attempts before [`EmotionReadout::read`] gives up for this call.
const MAX_TRIES: usize = 64;

/// [`EmotionReadout::speaker`]'s value for a reading without a speaker.
const NO_SPEAKER: u32 = u32::MAX;

impl EmotionReadout {
    /// Publishes `reading` (its span, emotion and range flag) of the
    /// `speaker` with that index ([`Published::speaker`]), if it has one.
    /// Only one thread (the worker) may call this.
    pub fn publish(&self, reading: &Reading, speaker: Option<u32>) {
        let Reading {
            span, emotion: e, ..
        } = reading;
        let s = self.seq.fetch_add(1, Ordering::Relaxed);
        fence(Ordering::Release);
        self.arousal.store(e.arousal.to_bits(), Ordering::Relaxed);
        self.valence.store(e.valence.to_bits(), Ordering::Relaxed);
        self.dominance
            .store(e.dominance.to_bits(), Ordering::Relaxed);
        self.dimensional
            .store(e.has_dimensions(), Ordering::Relaxed);
        let p = e.probabilities.as_slice();
        self.categories.store(p.len() as u32, Ordering::Relaxed);
        for (cell, v) in self.probabilities.iter().zip(p) {
            cell.store(v.to_bits(), Ordering::Relaxed);
        }
        self.start.store(span.start.to_bits(), Ordering::Relaxed);
        self.end.store(span.end.to_bits(), Ordering::Relaxed);
        self.out_of_range
            .store(reading.out_of_range, Ordering::Relaxed);
        self.speaker
            .store(speaker.unwrap_or(NO_SPEAKER), Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.no_speech.store(false, Ordering::Relaxed);
        self.seq.store(s.wrapping_add(2), Ordering::Release);
    }

    /// Publishes that the window `span` held too little speech to read (the
    /// speech gate): [`Self::no_speech`] gives it until the next reading;
    /// the latest reading and its count stay. Only the worker may call this.
    pub fn publish_no_speech(&self, span: Span) {
        let s = self.seq.fetch_add(1, Ordering::Relaxed);
        fence(Ordering::Release);
        self.gap_start
            .store(span.start.to_bits(), Ordering::Relaxed);
        self.gap_end.store(span.end.to_bits(), Ordering::Relaxed);
        self.no_speech.store(true, Ordering::Relaxed);
        self.seq.store(s.wrapping_add(2), Ordering::Release);
    }

    /// The latest window, when it held too little speech to read (meters
    /// show "no speech" then); `None` when the latest window was read, before
    /// any window, or if the writer kept changing it for `MAX_TRIES`
    /// attempts. Real-time safe.
    pub fn no_speech(&self) -> Option<Span> {
        for _ in 0..MAX_TRIES {
            let s1 = self.seq.load(Ordering::Acquire);
            if s1 % 2 == 1 {
                std::hint::spin_loop();
                continue;
            }
            let flag = self.no_speech.load(Ordering::Relaxed);
            let span = Span::new(
                f64::from_bits(self.gap_start.load(Ordering::Relaxed)),
                f64::from_bits(self.gap_end.load(Ordering::Relaxed)),
            );
            fence(Ordering::Acquire);
            if self.seq.load(Ordering::Relaxed) == s1 {
                return flag.then_some(span);
            }
        }
        None
    }

    /// The latest reading; `None` before the first one, or if the writer kept
    /// changing it for `MAX_TRIES` (64) attempts. Real-time safe: the reading's
    /// strings are empty, so nothing is allocated or freed.
    pub fn read(&self) -> Option<Published> {
        for _ in 0..MAX_TRIES {
            let s1 = self.seq.load(Ordering::Acquire);
            if s1 % 2 == 1 {
                std::hint::spin_loop();
                continue;
            }
            let mut values = [0.0f32; MAX_CATEGORIES];
            let n = (self.categories.load(Ordering::Relaxed) as usize).min(MAX_CATEGORIES);
            for (v, cell) in values.iter_mut().zip(&self.probabilities).take(n) {
                *v = f32::from_bits(cell.load(Ordering::Relaxed));
            }
            let probabilities = Probabilities::new(&values[..n]).unwrap_or_default();
            let emotion = if self.dimensional.load(Ordering::Relaxed) {
                Emotion::new(
                    f32::from_bits(self.arousal.load(Ordering::Relaxed)),
                    f32::from_bits(self.valence.load(Ordering::Relaxed)),
                    f32::from_bits(self.dominance.load(Ordering::Relaxed)),
                )
                .with_probabilities(probabilities)
            } else {
                Emotion::categorical(probabilities)
            };
            let span = Span::new(
                f64::from_bits(self.start.load(Ordering::Relaxed)),
                f64::from_bits(self.end.load(Ordering::Relaxed)),
            );
            let out_of_range = self.out_of_range.load(Ordering::Relaxed);
            let count = self.count.load(Ordering::Relaxed);
            let speaker = self.speaker.load(Ordering::Relaxed);
            fence(Ordering::Acquire);
            if self.seq.load(Ordering::Relaxed) == s1 {
                return (count > 0).then(|| Published {
                    reading: Reading {
                        span,
                        emotion,
                        text: String::new(),
                        model_id: String::new(),
                        out_of_range,
                        speaker: None,
                        overlap: false,
                    },
                    count,
                    speaker: (speaker != NO_SPEAKER).then_some(speaker),
                });
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
        let reading = Reading {
            span: Span::new(1.0, 5.0),
            emotion: Emotion::new(0.1, 0.2, 0.3),
            text: "kept in the timeline".into(),
            model_id: "m".into(),
            out_of_range: true,
            ..Reading::default()
        };
        r.publish(&reading, None);
        let got = r.read().unwrap();
        assert_eq!((got.count, got.speaker), (1, None));
        assert_eq!(
            got.reading,
            Reading {
                text: String::new(),
                model_id: String::new(),
                ..reading
            }
        );
    }

    #[test]
    fn a_categorical_reading_crosses_with_its_probabilities_and_no_dimensions() {
        let r = EmotionReadout::default();
        r.publish(
            &Reading {
                emotion: Emotion::new(0.1, 0.2, 0.3),
                ..Reading::default()
            },
            None,
        );
        let p = Probabilities::new(&[0.5, 0.25, 0.125, 0.125]).unwrap();
        let reading = Reading {
            span: Span::new(2.0, 4.0),
            emotion: Emotion::categorical(p),
            ..Reading::default()
        };
        r.publish(&reading, None);
        let got = r.read().unwrap().reading;
        assert_eq!(got, reading);
        assert!(!got.emotion.has_dimensions());
    }

    /// "No speech" holds the latest reading and its count, and lasts until
    /// the next reading.
    #[test]
    fn no_speech_holds_the_reading_until_the_next_one() {
        let r = EmotionReadout::default();
        assert_eq!(r.no_speech(), None);
        // Silence first: no speech, still no reading.
        r.publish_no_speech(Span::new(0.0, 4.0));
        assert_eq!(r.no_speech(), Some(Span::new(0.0, 4.0)));
        assert!(r.read().is_none());
        let reading = Reading {
            span: Span::new(1.0, 5.0),
            emotion: Emotion::new(0.1, 0.2, 0.3),
            ..Reading::default()
        };
        r.publish(&reading, Some(1));
        assert_eq!(r.no_speech(), None);
        r.publish_no_speech(Span::new(2.0, 6.0));
        assert_eq!(r.no_speech(), Some(Span::new(2.0, 6.0)));
        let held = r.read().unwrap();
        assert_eq!(
            (held.count, held.reading, held.speaker),
            (1, reading, Some(1))
        );
        r.publish(
            &Reading {
                span: Span::new(3.0, 7.0),
                ..Reading::default()
            },
            None,
        );
        assert_eq!(r.no_speech(), None);
        let next = r.read().unwrap();
        assert_eq!((next.count, next.speaker), (2, None));
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
                    cell.publish(
                        &Reading {
                            span: Span::new(i as f64, i as f64 + 4.0),
                            emotion: Emotion::new(x, x, x).with_probabilities(
                                Probabilities::new(&[x; MAX_CATEGORIES][..i as usize % 17])
                                    .unwrap(),
                            ),
                            out_of_range: i.is_multiple_of(2),
                            ..Reading::default()
                        },
                        Some(i),
                    );
                }
            })
        };
        let mut seen = 0;
        while !writer.is_finished() || seen == 0 {
            if let Some(p) = cell.read() {
                let (e, span) = (p.reading.emotion, p.reading.span);
                assert!(e.arousal == e.valence && e.valence == e.dominance);
                let probabilities = e.probabilities.as_slice();
                assert_eq!(probabilities.len(), e.arousal as usize % 17);
                assert!(probabilities.iter().all(|&v| v == e.arousal));
                assert_eq!(span.start, e.arousal as f64);
                assert_eq!(span.end, span.start + 4.0);
                assert_eq!(p.reading.out_of_range, (e.arousal as u32).is_multiple_of(2));
                assert_eq!(p.speaker, Some(e.arousal as u32));
                seen += 1;
            }
        }
        writer.join().unwrap();
        assert_eq!(cell.read().unwrap().count, 20_000);
    }
}
