//! Speaker turns in the offline analysis: each turn analysed on its own.
//!
//! With speaker turns known ([`OfflineOptions::turns`](super::OfflineOptions::turns)),
//! [`OfflineRun`](super::OfflineRun) hands the signal it is given to
//! [`TurnRuns`] instead of one analyser: every turn gets its own
//! [`Analyser`], fed the turn's samples in the blocks the turn would be cut
//! into were it a file of its own, so its windows (same window and hop)
//! never reach into another speaker's turn, a turn shorter than a window is
//! one window over the turn, and the readings are those of analysing the
//! turn's audio alone, placed at the turn's start. Turns of different
//! speakers may overlap: each is analysed, so overlapping speech is read
//! once per speaker ([`TurnRuns::overlaps`] tells where). Audio outside every
//! turn is not analysed. Turns of one speaker that overlap or touch are one
//! turn ([`SpeakerTurns::joined`]).
//!
//! The runs start as the signal reaches them and are let go when it passes
//! their end, so a recording of any length holds the audio of the turns
//! being heard, at most a window and a block each.

use super::analyser::{Analyser, AnalyserError, AnalysisConfig, Window};
use super::capture::{BlockInfo, MAX_CHUNK};
use crate::reading::{Emotion, Span};
use crate::transcript::{Speaker, SpeakerTurns, Turn};

/// One speaker's turn and its analysis.
pub(super) struct TurnRun {
    /// Who speaks.
    pub speaker: Speaker,
    /// The turn, seconds of the signal.
    pub span: Span,
    /// Its samples at the signal's rate: `first..end`.
    first: i64,
    end: i64,
    /// The turn's analyser, while the signal is inside the turn.
    analyser: Option<Analyser>,
    /// Samples of the turn not yet given to the analyser (fewer than
    /// [`MAX_CHUNK`] between calls).
    pending: Vec<f32>,
    /// Signal position of `pending[0]`, samples.
    position: i64,
    /// Windows the turn has given so far.
    windows: usize,
    /// The smoothed value the turn's next reading is smoothed from
    /// (smoothing runs within a turn, as within a file).
    pub ema: Option<Emotion>,
}

impl TurnRun {
    /// Gives `samples` (the turn's next ones) to the analyser in blocks of
    /// [`MAX_CHUNK`] counted from the turn's start; its windows go to `out`.
    fn feed(&mut self, samples: &[f32], rate: f32, out: &mut Vec<Window>) {
        let mut rest = samples;
        while !rest.is_empty() {
            let n = (MAX_CHUNK - self.pending.len()).min(rest.len());
            self.pending.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
            if self.pending.len() == MAX_CHUNK {
                self.ingest(rate, out);
            }
        }
    }

    fn ingest(&mut self, rate: f32, out: &mut Vec<Window>) {
        let Some(analyser) = self.analyser.as_mut() else {
            return;
        };
        let info = BlockInfo {
            position: self.position,
            frames: self.pending.len() as u32,
            sample_rate: rate,
            playing: true,
            discontinuity: false,
        };
        analyser.ingest(&info, &self.pending);
        self.position += self.pending.len() as i64;
        self.pending.clear();
        while let Some(w) = analyser.pop_window() {
            self.windows += 1;
            out.push(w);
        }
    }

    /// The turn's audio has ended: its last windows (the end counts as
    /// followed by silence), or, when it gave none, one window over all of
    /// it; then the analyser is let go. The analyser's error fails the turn.
    fn end(&mut self, rate: f32, out: &mut Vec<Window>) -> Result<(), AnalyserError> {
        if !self.pending.is_empty() {
            self.ingest(rate, out);
        }
        let Some(mut analyser) = self.analyser.take() else {
            return Ok(());
        };
        analyser.finish();
        while let Some(w) = analyser.pop_window() {
            self.windows += 1;
            out.push(w);
        }
        if self.windows == 0 {
            if let Some(w) = analyser.pop_short_run() {
                self.windows += 1;
                out.push(w);
            }
        }
        self.pending = Vec::new();
        match analyser.take_error() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// The turns of one offline run (see the module docs).
pub(super) struct TurnRuns {
    runs: Vec<TurnRun>,
    /// The first run the signal has not reached yet.
    next: usize,
    /// Runs the signal is inside, in the order they started.
    active: Vec<usize>,
    /// Where two or more speakers talk at once, sorted and merged.
    overlaps: Vec<Span>,
    /// Samples pushed so far.
    seen: i64,
    /// The signal's rate, Hz.
    rate: f32,
    config: AnalysisConfig,
    model_rate: u32,
}

impl TurnRuns {
    /// The runs of `turns` (of `only` that speaker, when given) over a
    /// signal at `rate` Hz, windowed with `config` at `model_rate`.
    pub fn new(
        turns: &SpeakerTurns,
        only: Option<&Speaker>,
        rate: f32,
        config: &AnalysisConfig,
        model_rate: u32,
    ) -> Self {
        let runs = turns
            .joined()
            .into_iter()
            .filter(|t| only.is_none_or(|o| *o == t.speaker))
            .filter_map(|Turn { speaker, span }| {
                let first = ((span.start * f64::from(rate)).round() as i64).max(0);
                let end = (span.end * f64::from(rate)).round() as i64;
                (end > first).then(|| TurnRun {
                    speaker,
                    span,
                    first,
                    end,
                    analyser: None,
                    pending: Vec::new(),
                    position: first,
                    windows: 0,
                    ema: None,
                })
            })
            .collect();
        Self {
            runs,
            next: 0,
            active: Vec::new(),
            overlaps: turns.overlaps(),
            seen: 0,
            rate,
            config: config.clone(),
            model_rate,
        }
    }

    /// Run `i`.
    pub fn run(&self, i: usize) -> &TurnRun {
        &self.runs[i]
    }

    /// Run `i`, to change its smoothing.
    pub fn run_mut(&mut self, i: usize) -> &mut TurnRun {
        &mut self.runs[i]
    }

    /// Whether someone else talks during `span` of run `i`'s turn (the span
    /// clipped to the turn, so a window's resampled end never counts).
    pub fn overlaps(&self, i: usize, span: Span) -> bool {
        let turn = self.runs[i].span;
        let span = Span::new(span.start.max(turn.start), span.end.min(turn.end));
        let from = self.overlaps.partition_point(|o| o.end <= span.start);
        self.overlaps[from..]
            .iter()
            .take_while(|o| o.start < span.end)
            .any(|o| o.overlap(span) > 0.0)
    }

    /// The signal's next samples: every window they complete, with its run,
    /// in `out` (each run's windows in time order).
    pub fn push(
        &mut self,
        samples: &[f32],
        out: &mut Vec<(usize, Window)>,
    ) -> Result<(), AnalyserError> {
        let start = self.seen;
        let end = start + samples.len() as i64;
        while self.next < self.runs.len() && self.runs[self.next].first < end {
            self.runs[self.next].analyser =
                Some(Analyser::new(self.config.clone(), self.model_rate));
            self.active.push(self.next);
            self.next += 1;
        }
        let mut windows = Vec::new();
        let mut result = Ok(());
        let rate = self.rate;
        self.active.retain(|&i| {
            let run = &mut self.runs[i];
            let (a, b) = (run.first.max(start), run.end.min(end));
            if a < b {
                run.feed(
                    &samples[(a - start) as usize..(b - start) as usize],
                    rate,
                    &mut windows,
                );
            }
            let ended = run.end <= end;
            if ended && result.is_ok() {
                result = run.end(rate, &mut windows);
            }
            out.extend(windows.drain(..).map(|w| (i, w)));
            !ended
        });
        self.seen = end;
        result
    }

    /// The signal has ended: the runs it is inside end with it.
    pub fn finish(&mut self, out: &mut Vec<(usize, Window)>) -> Result<(), AnalyserError> {
        let mut windows = Vec::new();
        for i in std::mem::take(&mut self.active) {
            let run = &mut self.runs[i];
            run.end(self.rate, &mut windows)?;
            out.extend(windows.drain(..).map(|w| (i, w)));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turns(list: &[(&str, f64, f64)]) -> SpeakerTurns {
        SpeakerTurns::new(
            list.iter()
                .map(|&(s, a, b)| Turn {
                    speaker: Speaker::new(s),
                    span: Span::new(a, b),
                })
                .collect(),
        )
        .unwrap()
    }

    #[test]
    fn one_speakers_touching_or_overlapping_turns_are_one() {
        let t = turns(&[
            ("A", 0.0, 2.0),
            ("A", 2.0, 3.0),
            ("B", 2.5, 4.0),
            ("A", 3.5, 5.0),
            ("A", 4.0, 4.5),
        ]);
        let m: Vec<(String, f64, f64)> = t
            .joined()
            .into_iter()
            .map(|x| (x.speaker.to_string(), x.span.start, x.span.end))
            .collect();
        assert_eq!(
            m,
            [
                ("A".into(), 0.0, 3.0),
                ("B".into(), 2.5, 4.0),
                ("A".into(), 3.5, 5.0)
            ]
        );
    }

    /// 16 kHz in and out, 1 s windows every 0.5 s: A 0..2.5 s gives windows
    /// at 0, 0.5, 1 and 1.5 s; B 2..2.6 s (shorter than a window) one window
    /// over itself; the overlap 2..2.5 s flags A's last window and B's.
    #[test]
    fn windows_stay_inside_their_turn() {
        let config = AnalysisConfig {
            window_seconds: 1.0,
            hop_seconds: 0.5,
            ..AnalysisConfig::default()
        };
        let t = turns(&[("A", 0.0, 2.5), ("B", 2.0, 2.6)]);
        let mut runs = TurnRuns::new(&t, None, 16_000.0, &config, 16_000);
        let signal = vec![0.1f32; 16_000 * 3];
        let mut out = Vec::new();
        // Odd blocks: what each turn's analyser gets does not depend on them.
        for block in signal.chunks(1234) {
            runs.push(block, &mut out).unwrap();
        }
        runs.finish(&mut out).unwrap();
        let got: Vec<(usize, f64, f64, bool)> = out
            .iter()
            .map(|(i, w)| {
                (
                    *i,
                    w.start,
                    w.end,
                    runs.overlaps(*i, Span::new(w.start, w.end)),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (0, 0.0, 1.0, false),
                (0, 0.5, 1.5, false),
                (0, 1.0, 2.0, false),
                (0, 1.5, 2.5, true),
                (1, 2.0, 2.6, true),
            ]
        );
        assert_eq!(out[4].1.samples.len(), 9_600);
    }
}
