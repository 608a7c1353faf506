//! The live engine's speech gate: which windows hold enough speech to read.
//!
//! With "analyse speech only" on ([`Engine::set_speech_only`](super::Engine::set_speech_only)),
//! the worker hands every stretch of model-rate audio it takes in
//! ([`Analyser::fresh`](super::analyser::Analyser::fresh)) to a
//! [`SpeechGate`], which runs the voice-activity detector
//! ([`SpeechDetector`]) over each run of audio and keeps its regions on the
//! host timeline. A window less than [`MIN_SPEECH_IN_WINDOW`] of which is
//! speech is not sent to the model: the rule of speech-gated offline analysis
//! ([`OfflineOptions::speech`](super::OfflineOptions::speech)), which
//! `emoscope annotate` applies with the regions of the whole file.
//!
//! A window is judged once the detector has heard enough past its end
//! ([`SpeechGate::verdict`]): queued (an offline render), until the regions
//! over the window are final ([`VadConfig::settling_seconds`], or the end of
//! the run), so the verdict is the one the whole signal's regions give;
//! live, up to the window's end, with the regions known by then (the open
//! one included), so the meters do not wait for the pause after a phrase.

use super::analyser::Fresh;
use super::MIN_SPEECH_IN_WINDOW;
use crate::audio::vad::{SpeechDetector, VadConfig};
use crate::reading::Span;

/// Whether `regions` (host seconds, in time order) cover at least
/// [`MIN_SPEECH_IN_WINDOW`] of `window`: the offline gate's rule, summed in
/// the same order, so the same regions give the same verdict.
pub fn enough_speech(regions: impl IntoIterator<Item = Span>, window: Span) -> bool {
    let speech: f64 = regions.into_iter().map(|r| window.overlap(r)).sum();
    speech >= MIN_SPEECH_IN_WINDOW * window.duration()
}

/// The detector over the analyser's runs, and the regions it found.
pub struct SpeechGate {
    config: VadConfig,
    run: Option<RunSpeech>,
}

/// The speech of one analyser run.
struct RunSpeech {
    /// The analyser's run id.
    id: u64,
    /// Host timeline seconds of the detector's 0 (the run's first sample).
    origin: f64,
    /// The detector; `None` once the run has ended (its regions are final)
    /// or when it failed (every window is then read, as without the gate).
    detector: Option<SpeechDetector>,
    /// Whether the detector failed (no verdict can be trusted).
    failed: bool,
    /// Regions closed so far, host seconds, in time order; those before the
    /// windows still to come are let go ([`SpeechGate::forget_before`]).
    regions: Vec<Span>,
}

impl RunSpeech {
    fn shift(&self, r: Span) -> Span {
        Span::new(self.origin + r.start, self.origin + r.end)
    }

    fn take_closed(&mut self) {
        if let Some(d) = self.detector.as_mut() {
            let closed = d.take_closed();
            let shifted: Vec<Span> = closed.into_iter().map(|r| self.shift(r)).collect();
            self.regions.extend(shifted);
        }
    }
}

impl Default for SpeechGate {
    fn default() -> Self {
        Self::new()
    }
}

impl SpeechGate {
    /// A gate with the detector's default settings (those `emoscope
    /// annotate` uses).
    pub fn new() -> Self {
        Self {
            config: VadConfig::default(),
            run: None,
        }
    }

    /// Forgets everything heard (the gate turned on, settings changed).
    pub fn reset(&mut self) {
        self.run = None;
    }

    /// The analyser's newest audio, at `rate` Hz; a new run starts a new
    /// detector (the audio does not continue the last).
    pub fn hear(&mut self, fresh: &Fresh<'_>, rate: u32) {
        if self.run.as_ref().is_none_or(|r| r.id != fresh.run) {
            let detector = SpeechDetector::new(rate, &self.config).ok();
            self.run = Some(RunSpeech {
                id: fresh.run,
                origin: fresh.start,
                failed: detector.is_none(),
                detector,
                regions: Vec::new(),
            });
        }
        let Some(run) = self.run.as_mut() else {
            return;
        };
        if let Some(d) = run.detector.as_mut() {
            if d.push(fresh.samples).is_err() {
                run.detector = None;
                run.failed = true;
            }
        }
        run.take_closed();
    }

    /// The run ended (a jump, a stop, the end of a render): its open
    /// region closes where the speech ends, as at the end of a file, and
    /// every verdict on it is final.
    pub fn end_run(&mut self) {
        let Some(run) = self.run.as_mut() else {
            return;
        };
        if let Some(d) = run.detector.take() {
            match d.finish() {
                Ok(rest) => {
                    let shifted: Vec<Span> = rest.into_iter().map(|r| run.shift(r)).collect();
                    run.regions.extend(shifted);
                }
                Err(_) => run.failed = true,
            }
        }
    }

    /// Host seconds up to which the current run has been scored (infinite
    /// once it ended).
    fn heard_until(&self) -> f64 {
        match self
            .run
            .as_ref()
            .and_then(|r| r.detector.as_ref().map(|d| (r, d)))
        {
            Some((r, d)) => r.origin + d.scored_seconds(),
            None => f64::INFINITY,
        }
    }

    /// Whether `window` (of the current run) holds enough speech to read,
    /// once that is known: `settle` seconds past its end must have been
    /// scored ([`VadConfig::settling_seconds`] for the verdict the whole
    /// signal gives, 0 for the live one), or the run must have ended.
    /// `None` until then. Without a working detector every window is read.
    pub fn verdict(&self, window: Span, settle: f64) -> Option<bool> {
        let Some(run) = self.run.as_ref() else {
            return Some(true);
        };
        if run.failed {
            return Some(true);
        }
        if self.heard_until() < window.end + settle {
            return None;
        }
        let open = run
            .detector
            .as_ref()
            .and_then(SpeechDetector::open_region)
            .map(|r| run.shift(r));
        Some(enough_speech(
            run.regions.iter().copied().chain(open),
            window,
        ))
    }

    /// How long past a window's end the detector must have scored for
    /// the verdict of the whole signal (queued analysis).
    pub fn settling_seconds(&self) -> f64 {
        self.config.settling_seconds()
    }

    /// Lets go of the regions that end before `t` (no window still to come
    /// starts before it).
    pub fn forget_before(&mut self, t: f64) {
        if let Some(run) = self.run.as_mut() {
            let n = run.regions.partition_point(|r| r.end <= t);
            run.regions.drain(..n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The offline rule: a quarter of the window, inclusive.
    #[test]
    fn a_quarter_of_the_window_is_enough() {
        let w = Span::new(2.0, 6.0);
        assert!(enough_speech([Span::new(0.0, 3.0)], w));
        assert!(!enough_speech([Span::new(0.0, 2.9)], w));
        // Two pieces add up: 0.5 s + 0.5 s.
        assert!(enough_speech([Span::new(1.0, 2.5), Span::new(5.5, 9.0)], w));
        assert!(!enough_speech([], w));
    }

    /// Silence at 16 kHz: nothing is speech; the verdict waits for the
    /// detector to have scored past the window's end (plus `settle`), and
    /// ending the run makes every verdict final.
    #[test]
    fn verdicts_wait_for_the_detector() {
        let mut gate = SpeechGate::new();
        let silence = vec![0.0f32; 16_000 * 5];
        // A `Fresh` is only made by the analyser; build the same by hand.
        fn fresh(start: f64, samples: &[f32]) -> Fresh<'_> {
            Fresh {
                run: 1,
                start,
                samples,
            }
        }
        // 5 s heard from host second 10: the window 10..14 is known, 11..15
        // is not (the last partial frame is not scored), nor 10..14 with 1.5 s to settle.
        gate.hear(&fresh(10.0, &silence), 16_000);
        assert_eq!(gate.verdict(Span::new(10.0, 14.0), 0.0), Some(false));
        assert_eq!(gate.verdict(Span::new(11.0, 15.0), 0.0), None);
        assert_eq!(gate.verdict(Span::new(10.0, 14.0), 1.5), None);
        gate.end_run();
        assert_eq!(gate.verdict(Span::new(11.0, 15.0), 0.55), Some(false));
        // A new run starts over, at its own origin.
        gate.hear(
            &Fresh {
                run: 2,
                start: 100.0,
                samples: &silence[..16_000],
            },
            16_000,
        );
        assert_eq!(gate.verdict(Span::new(100.0, 100.5), 0.0), Some(false));
        assert_eq!(gate.verdict(Span::new(100.5, 101.5), 0.0), None);
    }
}
