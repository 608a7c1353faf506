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
//! The live engine does the same over the host's timeline with
//! [`HostTurns`], which also follows jumps and stops.
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
        talked_over(&self.overlaps, self.runs[i].span, span)
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

/// Whether any of `overlaps` (sorted, merged) meets the window `span` of
/// `turn`, clipped to the turn (so a window's resampled end never counts).
fn talked_over(overlaps: &[Span], turn: Span, span: Span) -> bool {
    let span = Span::new(span.start.max(turn.start), span.end.min(turn.end));
    let from = overlaps.partition_point(|o| o.end <= span.start);
    overlaps[from..]
        .iter()
        .take_while(|o| o.start < span.end)
        .any(|o| o.overlap(span) > 0.0)
}

/// Speaker turns in the live engine (the worker): each host block cut at the
/// turns and each turn windowed by its own [`Analyser`], as [`TurnRuns`]
/// does offline, so the windows of a render with speaker turns, and their
/// readings, are those of the offline analysis of the same audio.
///
/// Unlike an offline signal, the host's audio jumps, loops and stops: a
/// block that does not continue a turn's audio (a jump, a stop, another
/// rate) ends the turn's run and lets its partial window go, as the one
/// analyser does without turns; playback that starts inside a turn is
/// windowed from where it starts. A turn whose audio reaches its end is
/// ended as offline (the end counts as followed by silence; a turn heard
/// whole that gave no window gives one over all of it).
pub(super) struct HostTurns {
    /// The joined turns on the host timeline, sorted by start.
    turns: Vec<Turn>,
    /// Each turn's speaker, numbered in the order of
    /// [`SpeakerTurns::speakers`] (the readout's speaker index).
    speaker_index: Vec<u32>,
    /// The longest turn, seconds: turns starting earlier than this before a
    /// block have ended before it.
    longest: f64,
    /// Where two or more speakers talk at once, sorted and merged.
    overlaps: Vec<Span>,
    /// The turns the host's audio is inside.
    live: Vec<LiveTurn>,
    /// Completed windows with their turn, in the order they completed.
    ready: std::collections::VecDeque<(usize, Window)>,
    /// Each turn's smoothed value (smoothing runs within a turn).
    ema: Vec<Option<Emotion>>,
    config: AnalysisConfig,
    model_rate: u32,
    /// The last error a turn's analyser met.
    error: Option<AnalyserError>,
}

/// One turn being heard.
struct LiveTurn {
    turn: usize,
    analyser: Analyser,
    /// The host rate, and the host sample the next block must start at to
    /// continue the turn's audio.
    rate: f32,
    next: i64,
    /// The turn's end, host samples at `rate`.
    end: i64,
    /// Whether the turn's audio was heard from its start.
    from_start: bool,
    /// Windows it has given.
    windows: usize,
}

impl LiveTurn {
    /// The turn's audio has ended: its last windows into `ready` (the end
    /// counts as followed by silence), or, when it gave none and was heard
    /// from its start, one window over all of it.
    fn end_turn(&mut self, ready: &mut std::collections::VecDeque<(usize, Window)>) {
        self.analyser.finish();
        while let Some(w) = self.analyser.pop_window() {
            self.windows += 1;
            ready.push_back((self.turn, w));
        }
        if self.windows == 0 && self.from_start {
            if let Some(w) = self.analyser.pop_short_run() {
                ready.push_back((self.turn, w));
            }
        }
    }
}

impl HostTurns {
    /// The turns of `turns` (host timeline seconds), windowed with `config`
    /// at `model_rate`.
    pub fn new(turns: &SpeakerTurns, config: &AnalysisConfig, model_rate: u32) -> Self {
        let speakers = turns.speakers();
        let joined = turns.joined();
        let speaker_index = joined
            .iter()
            .map(|t| speakers.iter().position(|s| *s == t.speaker).unwrap_or(0) as u32)
            .collect();
        Self {
            longest: joined.iter().map(|t| t.span.duration()).fold(0.0, f64::max),
            ema: vec![None; joined.len()],
            turns: joined,
            speaker_index,
            overlaps: turns.overlaps(),
            live: Vec::new(),
            ready: std::collections::VecDeque::new(),
            config: config.clone(),
            model_rate,
            error: None,
        }
    }

    /// Turn `i`.
    pub fn turn(&self, i: usize) -> &Turn {
        &self.turns[i]
    }

    /// Turn `i`'s speaker's index (see [`Self::new`]).
    pub fn speaker_index(&self, i: usize) -> u32 {
        self.speaker_index[i]
    }

    /// Whether someone else talks during `span` of turn `i`.
    pub fn overlaps(&self, i: usize, span: Span) -> bool {
        talked_over(&self.overlaps, self.turns[i].span, span)
    }

    /// Turn `i`'s smoothed value so far (`None` at its start).
    pub fn ema(&self, i: usize) -> Option<Emotion> {
        self.ema[i]
    }

    /// Sets turn `i`'s smoothed value (`None`: smoothing starts over).
    pub fn set_ema(&mut self, i: usize, ema: Option<Emotion>) {
        self.ema[i] = ema;
    }

    /// Lets every turn's audio and waiting windows go (a settings change).
    pub fn flush(&mut self) {
        self.live.clear();
        self.ready.clear();
    }

    /// The last error a turn's analyser met, cleared on read.
    pub fn take_error(&mut self) -> Option<AnalyserError> {
        self.error.take()
    }

    /// Takes one host block (mono `samples`, what the host said of them in
    /// `info`): the parts inside turns go to the turns' analysers, and the
    /// windows they complete wait in [`Self::pop_window`]'s queue.
    pub fn ingest(&mut self, info: &BlockInfo, samples: &[f32]) {
        let rate = info.sample_rate;
        let (p0, p1) = (info.position, info.position + samples.len() as i64);
        let continues = info.playing && !info.discontinuity;
        self.live
            .retain(|l| continues && l.rate == rate && l.next == p0);
        if !info.playing || !AnalysisConfig::accepts_host_rate(rate) {
            // A stop ends the turns; a rate the analysis refuses is
            // reported by the engine's own analyser.
            return;
        }
        let sample = |t: f64| (t * f64::from(rate)).round() as i64;
        let earliest = p0 as f64 / f64::from(rate) - self.longest - 1.0;
        let from = self.turns.partition_point(|t| t.span.start < earliest);
        for i in from..self.turns.len() {
            let span = self.turns[i].span;
            let (first, end) = (sample(span.start).max(0), sample(span.end));
            if first >= p1 {
                break;
            }
            if end <= p0 || end <= first || self.live.iter().any(|l| l.turn == i) {
                continue;
            }
            self.ema[i] = None;
            self.live.push(LiveTurn {
                turn: i,
                analyser: Analyser::new(self.config.clone(), self.model_rate),
                rate,
                next: first.max(p0),
                end,
                from_start: first >= p0,
                windows: 0,
            });
        }
        let (ready, error) = (&mut self.ready, &mut self.error);
        self.live.retain_mut(|l| {
            let (a, b) = (l.next, l.end.min(p1));
            if a < b {
                let block = BlockInfo {
                    position: a,
                    frames: (b - a) as u32,
                    sample_rate: rate,
                    playing: true,
                    discontinuity: false,
                };
                l.analyser
                    .ingest(&block, &samples[(a - p0) as usize..(b - p0) as usize]);
                l.next = b;
                while let Some(w) = l.analyser.pop_window() {
                    l.windows += 1;
                    ready.push_back((l.turn, w));
                }
            }
            let ended = l.end <= p1;
            if ended {
                l.end_turn(ready);
            }
            if let Some(e) = l.analyser.take_error() {
                *error = Some(e);
            }
            !ended
        });
    }

    /// The audio has ended (a bounce): every turn being heard ends as at
    /// the end of a file.
    pub fn finish(&mut self) {
        for mut l in std::mem::take(&mut self.live) {
            l.end_turn(&mut self.ready);
        }
    }

    /// The earliest host time a window still to come may start at (the
    /// windows waiting, and the turns being heard), if any.
    pub fn earliest_needed(&self) -> Option<f64> {
        let waiting = self.ready.iter().map(|(_, w)| w.start);
        let heard = self.live.iter().map(|l| self.turns[l.turn].span.start);
        waiting.chain(heard).min_by(f64::total_cmp)
    }

    /// Windows waiting.
    pub fn ready(&self) -> usize {
        self.ready.len()
    }

    /// The span of the oldest waiting window.
    pub fn next_window_span(&self) -> Option<Span> {
        self.ready.front().map(|(_, w)| Span::new(w.start, w.end))
    }

    /// Takes the oldest waiting window and its turn.
    pub fn pop_window(&mut self) -> Option<(usize, Window)> {
        self.ready.pop_front()
    }

    /// Lets the `n` oldest waiting windows go; returns how many.
    pub fn skip(&mut self, n: usize) -> usize {
        let n = n.min(self.ready.len());
        self.ready.drain(..n);
        n
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

    /// The host's audio in the live engine: the same windows as offline
    /// when played through; a jump into the middle of a turn windows it
    /// from where playback lands (no short window over the part heard), a
    /// stop lets the partial window go, and playback after the turn's end
    /// starts nothing.
    #[test]
    fn host_turns_follow_the_transport() {
        let config = AnalysisConfig {
            window_seconds: 1.0,
            hop_seconds: 0.5,
            ..AnalysisConfig::default()
        };
        let rate = 16_000.0;
        let t = turns(&[("A", 0.0, 2.5), ("B", 2.0, 2.6)]);
        let block = |position: i64, frames: usize, playing: bool| BlockInfo {
            position,
            frames: frames as u32,
            sample_rate: rate,
            playing,
            discontinuity: false,
        };
        let x = vec![0.1f32; 16_000 * 3];
        let spans = |h: &mut HostTurns| {
            let mut out = Vec::new();
            while let Some((i, w)) = h.pop_window() {
                out.push((i, w.start, w.end, h.overlaps(i, Span::new(w.start, w.end))));
            }
            out
        };
        // Played through in odd blocks: as offline.
        let mut h = HostTurns::new(&t, &config, 16_000);
        for (k, b) in x.chunks(1234).enumerate() {
            h.ingest(&block((k * 1234) as i64, b.len(), true), b);
        }
        assert_eq!(
            spans(&mut h),
            [
                (0, 0.0, 1.0, false),
                (0, 0.5, 1.5, false),
                (0, 1.0, 2.0, false),
                (0, 1.5, 2.5, true),
                (1, 2.0, 2.6, true),
            ]
        );
        assert_eq!(h.speaker_index(1), 1);
        // From 0.8 s to 2.3 s, a stop, then from 2.3 s on: A is windowed
        // from 0.8 s; after the stop, neither the rest of A nor B (whose
        // start the stop cut off) is heard from its start: no short window.
        let mut h = HostTurns::new(&t, &config, 16_000);
        h.ingest(&block(12_800, 24_000, true), &x[..24_000]);
        h.ingest(&block(36_800, 64, false), &x[..64]);
        h.ingest(&block(36_800, 11_200, true), &x[..11_200]);
        assert_eq!(spans(&mut h), [(0, 0.8, 1.8, false), (0, 1.3, 2.3, true)]);
        assert!(h.earliest_needed().is_none());
    }
}
