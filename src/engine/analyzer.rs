//! The synchronous core of the worker: host blocks in, analysis windows out.
//!
//! [`Analyzer::ingest`] follows the host transport (a jump, loop, stop, rate
//! change or capture discontinuity ends the current run of audio and drops
//! its partial window), resamples to the model rate and buffers; windows of
//! `window_seconds` every `hop_seconds` are then taken out with
//! [`Analyzer::pop_window`] (or skipped when the worker is behind). Both the
//! background worker and the offline mode drive this same type, which is why
//! their results agree exactly.

use super::capture::BlockInfo;
use super::resampler::StreamResampler;
use crate::reading::Emotion;

/// Window, hop, smoothing and transport settings.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalysisConfig {
    /// Analysis window length in seconds (default 4).
    pub window_seconds: f64,
    /// Hop between window starts in seconds (default 1).
    pub hop_seconds: f64,
    /// Time constant of the exponential smoothing of published values, in
    /// seconds; 0 disables smoothing.
    pub smoothing_seconds: f64,
    /// Analyse audio while the host transport is stopped.
    pub analyse_while_stopped: bool,
}

impl Default for AnalysisConfig {
    fn default() -> Self {
        Self {
            window_seconds: 4.0,
            hop_seconds: 1.0,
            smoothing_seconds: 0.0,
            analyse_while_stopped: false,
        }
    }
}

/// One window ready for the model.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    /// Start, host timeline seconds.
    pub start: f64,
    /// End, host timeline seconds.
    pub end: f64,
    /// Mono samples at the model rate.
    pub samples: Vec<f32>,
}

/// A contiguous run of host audio being analysed.
struct Run {
    host_rate: f32,
    playing: bool,
    /// Host position expected for the next block.
    next_position: i64,
    /// Timeline seconds of model-rate sample 0 of this run.
    origin: f64,
    resampler: StreamResampler,
    /// Model-rate samples from index `buf_offset` of the run on.
    buf: Vec<f32>,
    buf_offset: usize,
    /// Index of the next window of this run.
    next_window: usize,
}

/// Transport-aware windowing at the model rate.
pub struct Analyzer {
    config: AnalysisConfig,
    model_rate: u32,
    run: Option<Run>,
    /// Smoothed value carried between windows of one run.
    ema: Option<Emotion>,
    /// Why the last block was refused (a rate the resampler cannot handle).
    last_error: Option<String>,
}

impl Analyzer {
    /// An analyzer producing windows at `model_rate` Hz.
    pub fn new(config: AnalysisConfig, model_rate: u32) -> Self {
        Self {
            config,
            model_rate,
            run: None,
            ema: None,
            last_error: None,
        }
    }

    /// The settings.
    pub fn config(&self) -> &AnalysisConfig {
        &self.config
    }

    /// Changes the settings (ends the current run).
    pub fn set_config(&mut self, config: AnalysisConfig) {
        self.config = config;
        self.flush();
    }

    /// Changes the model rate (ends the current run).
    pub fn set_model_rate(&mut self, rate: u32) {
        if rate != self.model_rate {
            self.model_rate = rate;
            self.flush();
        }
    }

    /// Drops the current run and its partial window.
    pub fn flush(&mut self) {
        self.run = None;
        self.ema = None;
    }

    /// The last error raised by [`Self::ingest`], cleared on read.
    pub fn take_error(&mut self) -> Option<String> {
        self.last_error.take()
    }

    fn window_len(&self) -> usize {
        (self.config.window_seconds * self.model_rate as f64).round() as usize
    }

    fn hop_len(&self) -> usize {
        ((self.config.hop_seconds * self.model_rate as f64).round() as usize).max(1)
    }

    /// Takes one host block (mono samples plus what the host said about them).
    pub fn ingest(&mut self, info: &BlockInfo, samples: &[f32]) {
        if !info.playing && !self.config.analyse_while_stopped {
            self.flush();
            return;
        }
        let continuous = self.run.as_ref().is_some_and(|r| {
            !info.discontinuity
                && r.host_rate == info.sample_rate
                && r.playing == info.playing
                // A stopped host does not advance its position; count samples then.
                && (!info.playing || r.next_position == info.position)
        });
        if !continuous {
            self.flush();
            if !(8_000.0..=384_000.0).contains(&info.sample_rate) {
                self.last_error = Some(format!(
                    "unsupported host sample rate {} Hz",
                    info.sample_rate
                ));
                return;
            }
            let resampler =
                match StreamResampler::new(info.sample_rate as f64, self.model_rate as f64) {
                    Ok(r) => r,
                    Err(e) => {
                        self.last_error = Some(e);
                        return;
                    }
                };
            self.run = Some(Run {
                host_rate: info.sample_rate,
                playing: info.playing,
                next_position: info.position,
                origin: info.position as f64 / info.sample_rate as f64,
                resampler,
                buf: Vec::new(),
                buf_offset: 0,
                next_window: 0,
            });
        }
        let Some(run) = self.run.as_mut() else { return };
        run.next_position += samples.len() as i64;
        if let Err(e) = run.resampler.process(samples, &mut run.buf) {
            self.last_error = Some(e);
            self.flush();
        }
    }

    /// Ends the input (offline mode): the resampler's tail is flushed as if
    /// silence followed, so the last windows of a file become complete.
    pub fn finish(&mut self) {
        if let Some(run) = self.run.as_mut() {
            if let Err(e) = run.resampler.finish(&mut run.buf) {
                self.last_error = Some(e);
            }
        }
    }

    /// Complete windows waiting to be analysed.
    pub fn ready(&self) -> usize {
        let (win, hop) = (self.window_len(), self.hop_len());
        self.run.as_ref().map_or(0, |r| {
            let available = r.buf_offset + r.buf.len();
            if available < win {
                return 0;
            }
            ((available - win) / hop + 1).saturating_sub(r.next_window)
        })
    }

    /// Skips the `n` oldest ready windows (when the worker is behind); returns how many it skipped.
    pub fn skip(&mut self, n: usize) -> usize {
        let n = n.min(self.ready());
        if let Some(r) = self.run.as_mut() {
            r.next_window += n;
        }
        self.trim();
        n
    }

    /// Takes the oldest ready window.
    pub fn pop_window(&mut self) -> Option<Window> {
        if self.ready() == 0 {
            return None;
        }
        let (win, hop, rate) = (self.window_len(), self.hop_len(), self.model_rate as f64);
        let r = self.run.as_mut()?;
        let first = r.next_window * hop;
        let samples = r.buf[first - r.buf_offset..first - r.buf_offset + win].to_vec();
        let start = r.origin + first as f64 / rate;
        r.next_window += 1;
        self.trim();
        Some(Window {
            start,
            end: start + win as f64 / rate,
            samples,
        })
    }

    /// After [`Analyzer::finish`]: when the current run ended before its
    /// first full window, takes everything it buffered as one shorter
    /// window, so a clip shorter than the window still gets a reading
    /// (offline analysis; the live worker never calls this, a short live run
    /// simply has no reading).
    pub fn pop_short_run(&mut self) -> Option<Window> {
        let rate = self.model_rate as f64;
        let r = self.run.as_mut()?;
        if r.next_window > 0 || r.buf_offset > 0 || r.buf.is_empty() {
            return None;
        }
        let samples = std::mem::take(&mut r.buf);
        r.buf_offset = samples.len();
        Some(Window {
            start: r.origin,
            end: r.origin + samples.len() as f64 / rate,
            samples,
        })
    }

    /// Drops buffered samples no future window needs.
    fn trim(&mut self) {
        let hop = self.hop_len();
        if let Some(r) = self.run.as_mut() {
            let keep_from = r.next_window * hop;
            if keep_from > r.buf_offset {
                let n = (keep_from - r.buf_offset).min(r.buf.len());
                r.buf.drain(..n);
                r.buf_offset += n;
            }
        }
    }

    /// Starts smoothing over with the next value (after a gap in the readings).
    pub fn restart_smoothing(&mut self) {
        self.ema = None;
    }

    /// Applies the configured smoothing to a new raw value (per run).
    pub fn smooth(&mut self, raw: Emotion) -> Emotion {
        let tau = self.config.smoothing_seconds;
        let out = match (self.ema, tau > 0.0) {
            (Some(prev), true) => {
                // Exponential moving average sampled once per hop:
                // alpha = 1 - exp(-hop / tau).
                let alpha = 1.0 - (-self.config.hop_seconds / tau).exp() as f32;
                prev.zip_with(raw, |p, r| p + alpha * (r - p))
            }
            _ => raw,
        };
        self.ema = Some(out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(position: i64, frames: usize, rate: f32, playing: bool) -> BlockInfo {
        BlockInfo {
            position,
            frames: frames as u32,
            sample_rate: rate,
            playing,
            discontinuity: false,
        }
    }

    fn cfg() -> AnalysisConfig {
        AnalysisConfig::default()
    }

    #[test]
    fn windows_are_stamped_on_the_host_timeline() {
        // 16 kHz host (no resampling), playback starting at 2 s.
        let mut a = Analyzer::new(cfg(), 16_000);
        let x = vec![0.1f32; 16_000 * 6];
        a.ingest(&block(32_000, x.len(), 16_000.0, true), &x);
        // 6 s of audio, 4 s windows every 1 s: windows at 2, 3, 4 s.
        assert_eq!(a.ready(), 3);
        let w = a.pop_window().unwrap();
        assert_eq!((w.start, w.end, w.samples.len()), (2.0, 6.0, 64_000));
        assert_eq!(a.pop_window().unwrap().start, 3.0);
        assert_eq!(a.skip(5), 1);
        assert!(a.pop_window().is_none());
    }

    #[test]
    fn a_jump_flushes_the_partial_window() {
        let mut a = Analyzer::new(cfg(), 16_000);
        let x = vec![0.1f32; 16_000 * 3];
        a.ingest(&block(0, x.len(), 16_000.0, true), &x);
        // Loop back to 0: the 3 s collected so far are discarded.
        a.ingest(&block(0, x.len(), 16_000.0, true), &x);
        assert_eq!(a.ready(), 0);
        a.ingest(&block(x.len() as i64, x.len(), 16_000.0, true), &x);
        assert_eq!(a.ready(), 3);
        assert_eq!(a.pop_window().unwrap().start, 0.0);
    }

    #[test]
    fn stopped_transport_analyses_nothing_unless_asked() {
        let x = vec![0.1f32; 16_000 * 5];
        let mut a = Analyzer::new(cfg(), 16_000);
        a.ingest(&block(0, x.len(), 16_000.0, false), &x);
        assert_eq!(a.ready(), 0);
        let mut a = Analyzer::new(
            AnalysisConfig {
                analyse_while_stopped: true,
                ..cfg()
            },
            16_000,
        );
        // A stopped host repeats its position; samples are counted instead.
        a.ingest(&block(0, x.len(), 16_000.0, false), &x);
        a.ingest(&block(0, x.len(), 16_000.0, false), &x);
        assert_eq!(a.ready(), 7); // 10 s of audio
    }

    #[test]
    fn resampled_windows_have_model_rate_length() {
        let mut a = Analyzer::new(cfg(), 16_000);
        let x = vec![0.1f32; 48_000 * 5];
        a.ingest(&block(48_000, x.len(), 48_000.0, true), &x);
        let w = a.pop_window().unwrap();
        assert_eq!(w.samples.len(), 64_000);
        assert_eq!(w.start, 1.0);
    }

    #[test]
    fn smoothing_is_an_ema_with_the_configured_time_constant() {
        let mut a = Analyzer::new(
            AnalysisConfig {
                smoothing_seconds: 2.0,
                ..cfg()
            },
            16_000,
        );
        let zero = Emotion::default();
        let one = Emotion::new(1.0, 1.0, 1.0);
        assert_eq!(a.smooth(zero), zero);
        // alpha = 1 - exp(-1 / 2)
        let alpha = 1.0 - (-0.5f64).exp();
        let s = a.smooth(one);
        assert!((s.arousal as f64 - alpha).abs() < 1e-6);
    }

    #[test]
    fn absurd_rates_are_refused_with_a_reason() {
        let mut a = Analyzer::new(cfg(), 16_000);
        a.ingest(&block(0, 10, 1_000.0, true), &[0.0; 10]);
        assert!(a.take_error().unwrap().contains("1000"));
    }
}
