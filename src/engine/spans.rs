//! Reading spans of a signal that streams past: [`SpanReader`] takes the
//! signal block by block (mono, at the model's rate) and runs the model on
//! each span's pieces as soon as they have arrived, holding only the audio
//! from the earliest piece still to read. The readings equal
//! [`predict_span`]'s over the whole signal, read in the same order (so a
//! model that keeps state between calls sees the same calls).

use std::ops::Range;

#[cfg(doc)]
use super::predictor::predict_span;
use super::predictor::{mean_of_pieces, span_pieces, EmotionPredictor, PredictError};
use crate::reading::{Emotion, Span};

/// One span to read, with its own text.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanRequest {
    /// The stretch to read, seconds.
    pub span: Span,
    /// The span's transcript ("" for none).
    pub text: String,
}

/// Reads [`SpanRequest`]s from a signal given block by block (see the module docs).
pub struct SpanReader<'m> {
    model: &'m mut dyn EmotionPredictor,
    texts: Vec<String>,
    /// Every span's pieces in reading order, with the span they belong to.
    pieces: Vec<(usize, Range<usize>)>,
    /// `keep_from[i]`: the earliest sample any piece from `i` on reads.
    keep_from: Vec<usize>,
    /// The next piece to read.
    next: usize,
    /// Readings of the current span's pieces so far.
    current: Vec<Emotion>,
    /// A reading per finished span.
    readings: Vec<Emotion>,
    /// Samples held; `held[0]` is sample `base` of the signal.
    held: Vec<f32>,
    base: usize,
}

impl<'m> SpanReader<'m> {
    /// A reader of `spans` from a signal of `len` samples at the model's
    /// rate, each span cut into pieces of at most `max_seconds` as
    /// [`predict_span`] cuts them.
    pub fn new(
        model: &'m mut dyn EmotionPredictor,
        spans: &[SpanRequest],
        len: usize,
        max_seconds: f64,
    ) -> Self {
        let rate = model.sample_rate();
        let pieces: Vec<(usize, Range<usize>)> = spans
            .iter()
            .enumerate()
            .flat_map(|(i, s)| {
                span_pieces(len, rate, s.span, max_seconds)
                    .into_iter()
                    .map(move |r| (i, r))
            })
            .collect();
        let mut keep_from = vec![usize::MAX; pieces.len() + 1];
        for i in (0..pieces.len()).rev() {
            keep_from[i] = keep_from[i + 1].min(pieces[i].1.start);
        }
        Self {
            model,
            texts: spans.iter().map(|s| s.text.clone()).collect(),
            pieces,
            keep_from,
            next: 0,
            current: Vec::new(),
            readings: Vec::with_capacity(spans.len()),
            held: Vec::new(),
            base: 0,
        }
    }

    /// The next block of the signal; reads every piece it completes.
    pub fn push(&mut self, samples: &[f32]) -> Result<(), PredictError> {
        // Skip what no piece will read (silence between segments, say).
        let end = self.base + self.held.len() + samples.len();
        let skip = self.keep_from[self.next]
            .saturating_sub(self.base + self.held.len())
            .min(samples.len());
        if skip > 0 && self.held.is_empty() {
            self.base += skip;
            self.held.extend_from_slice(&samples[skip..]);
        } else {
            self.held.extend_from_slice(samples);
        }
        debug_assert_eq!(self.base + self.held.len(), end);
        self.read_ready(end)
    }

    /// Reads the pieces that end within the `end` samples seen, then drops
    /// the audio no later piece reads.
    fn read_ready(&mut self, end: usize) -> Result<(), PredictError> {
        while let Some((span, range)) = self.pieces.get(self.next).cloned() {
            if range.end > end {
                break;
            }
            let r = self.model.predict(
                &self.held[range.start - self.base..range.end - self.base],
                &self.texts[span],
            )?;
            self.current.push(r);
            self.next += 1;
            if self.pieces.get(self.next).is_none_or(|(s, _)| *s != span) {
                self.readings.push(mean_of_pieces(&self.current));
                self.current.clear();
            }
        }
        let drop = self.keep_from[self.next]
            .saturating_sub(self.base)
            .min(self.held.len());
        self.held.drain(..drop);
        self.base += drop;
        Ok(())
    }

    /// Whether every piece has been read (the rest of the signal is not needed).
    pub fn is_done(&self) -> bool {
        self.next == self.pieces.len()
    }

    /// The span being read (for an error's context): the index in the
    /// requests given to [`Self::new`].
    pub fn current_span(&self) -> Option<usize> {
        self.pieces.get(self.next).map(|(span, _)| *span)
    }

    /// A reading per span, in the order given. Every piece must have been
    /// read: the signal pushed is `len` samples long.
    pub fn finish(self) -> Vec<Emotion> {
        debug_assert_eq!(self.next, self.pieces.len(), "the signal ended early");
        self.readings
    }
}
