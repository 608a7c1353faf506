//! The synchronous core of the worker: host blocks in, analysis windows out.
//!
//! [`Analyser::ingest`] follows the host transport (a jump, loop, stop, rate
//! change or capture discontinuity ends the current run of audio and drops
//! its partial window), resamples to the model rate and buffers; windows of
//! `window_seconds` every `hop_seconds` are then taken out with
//! [`Analyser::pop_window`] (or skipped when the worker is behind). Both the
//! background worker and the offline mode drive this same type, which is why
//! their results agree exactly.
//!
//! [`AnalysisConfig`] carries the contract of the settings: its limits
//! ([`AnalysisConfig::MIN_WINDOW_SECONDS`] and the rest, and the host rates
//! [`AnalysisConfig::MIN_HOST_RATE`]`..=`[`AnalysisConfig::MAX_HOST_RATE`])
//! and [`AnalysisConfig::validate`]. The CLI's window flags, the plugin's
//! stored settings and its editor take their ranges from there, and the
//! worker sizes its backlog for the highest host rate.

use super::capture::BlockInfo;
use super::resampler::{ResampleError, StreamResampler};
use crate::reading::{Emotion, Span};

/// Window, hop, smoothing and transport settings.
///
/// Every front end accepts exactly what [`AnalysisConfig::validate`]
/// accepts; the limits are the associated constants.
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

impl AnalysisConfig {
    /// Shortest window, seconds.
    pub const MIN_WINDOW_SECONDS: f64 = 0.5;
    /// Longest window, seconds: the model sees at most this much audio at
    /// once (its time and memory grow with the square of the length).
    pub const MAX_WINDOW_SECONDS: f64 = 30.0;
    /// Shortest hop, seconds (at most 20 windows a second); the longest is
    /// the window itself.
    pub const MIN_HOP_SECONDS: f64 = 0.05;
    /// Shortest smoothing time constant, seconds (none).
    pub const MIN_SMOOTHING_SECONDS: f64 = 0.0;
    /// Longest smoothing time constant, seconds.
    pub const MAX_SMOOTHING_SECONDS: f64 = 60.0;
    /// The lowest host sample rate the analyser accepts, Hz: the lowest rate
    /// an audio file may state ([`crate::audio::MIN_SAMPLE_RATE`]).
    pub const MIN_HOST_RATE: u32 = crate::audio::MIN_SAMPLE_RATE;
    /// The highest host sample rate the analyser accepts, Hz: the highest
    /// rate an audio file may state ([`crate::audio::MAX_SAMPLE_RATE`]).
    /// The worker sizes its backlog for it.
    pub const MAX_HOST_RATE: u32 = crate::audio::MAX_SAMPLE_RATE;

    /// The window lengths accepted, seconds.
    pub fn window_range() -> std::ops::RangeInclusive<f64> {
        Self::MIN_WINDOW_SECONDS..=Self::MAX_WINDOW_SECONDS
    }

    /// The hops accepted with a window of `window_seconds`, seconds.
    pub fn hop_range(window_seconds: f64) -> std::ops::RangeInclusive<f64> {
        Self::MIN_HOP_SECONDS..=window_seconds
    }

    /// The smoothing time constants accepted, seconds.
    pub fn smoothing_range() -> std::ops::RangeInclusive<f64> {
        Self::MIN_SMOOTHING_SECONDS..=Self::MAX_SMOOTHING_SECONDS
    }

    /// Whether a host sample rate (Hz) is one the analyser takes.
    pub fn accepts_host_rate(rate: f32) -> bool {
        (Self::MIN_HOST_RATE as f32..=Self::MAX_HOST_RATE as f32).contains(&rate)
    }

    /// Checks every setting against its range, in the order window, hop
    /// (whose longest is the window), smoothing; the first one outside
    /// (NaN and infinities included) is the error.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let check = |field, value: f64, range: std::ops::RangeInclusive<f64>| {
            if range.contains(&value) {
                Ok(())
            } else {
                Err(ConfigError {
                    field,
                    value,
                    min: *range.start(),
                    max: *range.end(),
                })
            }
        };
        check(
            ConfigField::WindowSeconds,
            self.window_seconds,
            Self::window_range(),
        )?;
        check(
            ConfigField::HopSeconds,
            self.hop_seconds,
            Self::hop_range(self.window_seconds),
        )?;
        check(
            ConfigField::SmoothingSeconds,
            self.smoothing_seconds,
            Self::smoothing_range(),
        )
    }
}

/// A setting of [`AnalysisConfig`], as named in a [`ConfigError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigField {
    /// [`AnalysisConfig::window_seconds`].
    WindowSeconds,
    /// [`AnalysisConfig::hop_seconds`].
    HopSeconds,
    /// [`AnalysisConfig::smoothing_seconds`].
    SmoothingSeconds,
}

impl ConfigField {
    /// The field's name in [`AnalysisConfig`].
    pub fn name(self) -> &'static str {
        match self {
            Self::WindowSeconds => "window_seconds",
            Self::HopSeconds => "hop_seconds",
            Self::SmoothingSeconds => "smoothing_seconds",
        }
    }
}

impl std::fmt::Display for ConfigField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A setting of an [`AnalysisConfig`] outside its range.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[error("{field} is {value}; it must be {min} to {max} s")]
pub struct ConfigError {
    /// The setting.
    pub field: ConfigField,
    /// Its value.
    pub value: f64,
    /// The smallest value allowed (for the hop: [`AnalysisConfig::MIN_HOP_SECONDS`]).
    pub min: f64,
    /// The largest value allowed (for the hop: the window).
    pub max: f64,
}

/// Why the analyser refused a block (see [`Analyser::take_error`]).
#[derive(Debug, thiserror::Error)]
pub enum AnalyserError {
    /// The host runs at a rate outside
    /// [`AnalysisConfig::MIN_HOST_RATE`]`..=`[`AnalysisConfig::MAX_HOST_RATE`].
    #[error(
        "unsupported host sample rate {rate} Hz; the analysis accepts {} to {} Hz",
        AnalysisConfig::MIN_HOST_RATE,
        AnalysisConfig::MAX_HOST_RATE
    )]
    HostRate {
        /// The rate the host stated.
        rate: f32,
    },
    /// The resampler to the model rate could not be built or run.
    #[error(transparent)]
    Resample(#[from] ResampleError),
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
    /// Counts runs, so a consumer of [`Analyser::fresh`] sees where one ends.
    id: u64,
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
    /// Index into `buf` of the first sample the last `ingest` or `finish` added.
    fresh_from: usize,
}

/// The model-rate audio the last [`Analyser::ingest`] (or
/// [`Analyser::finish`]) added, with where it sits on the host timeline:
/// what the speech recogniser listens to.
#[derive(Debug, Clone, Copy)]
pub struct Fresh<'a> {
    /// The run it belongs to (a new value: the audio does not continue the last).
    pub run: u64,
    /// Host timeline seconds of `samples[0]`.
    pub start: f64,
    /// Mono samples at the model rate.
    pub samples: &'a [f32],
}

/// Transport-aware windowing at the model rate.
pub struct Analyser {
    config: AnalysisConfig,
    model_rate: u32,
    run: Option<Run>,
    /// Smoothed value carried between windows of one run.
    ema: Option<Emotion>,
    /// Why the last block was refused (a rate the resampler cannot handle).
    last_error: Option<AnalyserError>,
    /// Runs started so far.
    runs: u64,
}

impl Analyser {
    /// An analyser producing windows at `model_rate` Hz.
    pub fn new(config: AnalysisConfig, model_rate: u32) -> Self {
        Self {
            config,
            model_rate,
            run: None,
            ema: None,
            last_error: None,
            runs: 0,
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
    pub fn take_error(&mut self) -> Option<AnalyserError> {
        self.last_error.take()
    }

    fn window_len(&self) -> usize {
        (self.config.window_seconds * self.model_rate as f64).round() as usize
    }

    fn hop_len(&self) -> usize {
        ((self.config.hop_seconds * self.model_rate as f64).round() as usize).max(1)
    }

    /// Whether the block `info` describes continues the current run (its
    /// ready and partial windows stay); otherwise [`Self::ingest`] ends the
    /// run before taking it (a jump, loop, stop, rate change or capture
    /// discontinuity).
    pub fn continues(&self, info: &BlockInfo) -> bool {
        (info.playing || self.config.analyse_while_stopped)
            && self.run.as_ref().is_some_and(|r| {
                !info.discontinuity
                    && r.host_rate == info.sample_rate
                    && r.playing == info.playing
                    // A stopped host does not advance its position; count samples then.
                    && (!info.playing || r.next_position == info.position)
            })
    }

    /// Takes one host block (mono samples plus what the host said about them).
    pub fn ingest(&mut self, info: &BlockInfo, samples: &[f32]) {
        if !info.playing && !self.config.analyse_while_stopped {
            self.flush();
            return;
        }
        if !self.continues(info) {
            self.flush();
            if !AnalysisConfig::accepts_host_rate(info.sample_rate) {
                self.last_error = Some(AnalyserError::HostRate {
                    rate: info.sample_rate,
                });
                return;
            }
            let resampler =
                match StreamResampler::new(info.sample_rate as f64, self.model_rate as f64) {
                    Ok(r) => r,
                    Err(e) => {
                        self.last_error = Some(e.into());
                        return;
                    }
                };
            self.runs += 1;
            self.run = Some(Run {
                id: self.runs,
                fresh_from: 0,
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
        run.fresh_from = run.buf.len();
        run.next_position += samples.len() as i64;
        if let Err(e) = run.resampler.process(samples, &mut run.buf) {
            self.last_error = Some(e.into());
            self.flush();
        }
    }

    /// Ends the input (offline mode): the resampler's tail is flushed as if
    /// silence followed, so the last windows of a file become complete.
    pub fn finish(&mut self) {
        if let Some(run) = self.run.as_mut() {
            run.fresh_from = run.buf.len();
            if let Err(e) = run.resampler.finish(&mut run.buf) {
                self.last_error = Some(e.into());
            }
        }
    }

    /// The run in progress, if any (see [`Fresh::run`]).
    pub fn run_id(&self) -> Option<u64> {
        self.run.as_ref().map(|r| r.id)
    }

    /// The model rate.
    pub fn model_rate(&self) -> u32 {
        self.model_rate
    }

    /// What the last [`Self::ingest`] or [`Self::finish`] added; valid until
    /// the next window is taken or skipped.
    pub fn fresh(&self) -> Option<Fresh<'_>> {
        let r = self.run.as_ref()?;
        let from = r.fresh_from.min(r.buf.len());
        Some(Fresh {
            run: r.id,
            start: r.origin + (r.buf_offset + from) as f64 / self.model_rate as f64,
            samples: &r.buf[from..],
        })
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

    /// The span (host timeline seconds) of the oldest ready window, without taking it.
    pub fn next_window_span(&self) -> Option<Span> {
        if self.ready() == 0 {
            return None;
        }
        let (win, hop, rate) = (self.window_len(), self.hop_len(), self.model_rate as f64);
        let r = self.run.as_ref()?;
        let start = r.origin + (r.next_window * hop) as f64 / rate;
        Some(Span::new(start, start + win as f64 / rate))
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

    /// After [`Analyser::finish`]: when the current run ended before its
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
                r.fresh_from = r.fresh_from.saturating_sub(n);
            }
        }
    }

    /// Starts smoothing over with the next value (after a gap in the readings).
    pub fn restart_smoothing(&mut self) {
        self.ema = None;
    }

    /// The smoothed value the next window will be smoothed from (`None`
    /// at the start of a run).
    pub fn smoothing_state(&self) -> Option<Emotion> {
        self.ema
    }

    /// `raw` smoothed from `before` (a [`Self::smoothing_state`]), without
    /// changing the state: a window scored again keeps its place in the run.
    pub fn smooth_from(&self, before: Option<Emotion>, raw: Emotion) -> Emotion {
        let tau = self.config.smoothing_seconds;
        match (before, tau > 0.0) {
            (Some(prev), true) => {
                // Exponential moving average sampled once per hop:
                // alpha = 1 - exp(-hop / tau).
                let alpha = 1.0 - (-self.config.hop_seconds / tau).exp() as f32;
                prev.zip_with(raw, |p, r| p + alpha * (r - p))
            }
            _ => raw,
        }
    }

    /// Applies the configured smoothing to a new raw value (per run).
    pub fn smooth(&mut self, raw: Emotion) -> Emotion {
        let out = self.smooth_from(self.ema, raw);
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
        let mut a = Analyser::new(cfg(), 16_000);
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

    /// `next_window_span` is the span `pop_window` then gives; `continues`
    /// tells the blocks that keep the run from those that end it.
    #[test]
    fn the_next_window_and_the_blocks_that_continue_the_run() {
        let mut a = Analyser::new(cfg(), 16_000);
        assert!(!a.continues(&block(0, 10, 16_000.0, true)), "no run yet");
        let x = vec![0.1f32; 16_000 * 5];
        a.ingest(&block(16_000, x.len(), 16_000.0, true), &x);
        for _ in 0..2 {
            let span = a.next_window_span().unwrap();
            let w = a.pop_window().unwrap();
            assert_eq!((span.start, span.end), (w.start, w.end));
        }
        assert_eq!(a.next_window_span(), None);
        let next = 16_000 + x.len() as i64;
        assert!(a.continues(&block(next, 10, 16_000.0, true)));
        assert!(!a.continues(&block(next + 1, 10, 16_000.0, true)), "a jump");
        assert!(!a.continues(&block(next, 10, 16_000.0, false)), "a stop");
        assert!(
            !a.continues(&block(next * 3, 10, 48_000.0, true)),
            "a new rate"
        );
        let mut d = block(next, 10, 16_000.0, true);
        d.discontinuity = true;
        assert!(!a.continues(&d));
    }

    #[test]
    fn a_jump_flushes_the_partial_window() {
        let mut a = Analyser::new(cfg(), 16_000);
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
        let mut a = Analyser::new(cfg(), 16_000);
        a.ingest(&block(0, x.len(), 16_000.0, false), &x);
        assert_eq!(a.ready(), 0);
        let mut a = Analyser::new(
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
        let mut a = Analyser::new(cfg(), 16_000);
        let x = vec![0.1f32; 48_000 * 5];
        a.ingest(&block(48_000, x.len(), 48_000.0, true), &x);
        let w = a.pop_window().unwrap();
        assert_eq!(w.samples.len(), 64_000);
        assert_eq!(w.start, 1.0);
    }

    #[test]
    fn smoothing_is_an_ema_with_the_configured_time_constant() {
        let mut a = Analyser::new(
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
        let mut a = Analyser::new(cfg(), 16_000);
        a.ingest(&block(0, 10, 1_000.0, true), &[0.0; 10]);
        let e = a.take_error().unwrap();
        assert!(matches!(e, AnalyserError::HostRate { rate } if rate == 1_000.0));
        assert!(e.to_string().contains("1000"), "{e}");
        assert!(a.take_error().is_none(), "cleared on read");
    }

    /// Host rates are accepted exactly from MIN_HOST_RATE to MAX_HOST_RATE.
    #[test]
    fn host_rates_are_accepted_at_both_limits_and_refused_beyond() {
        let (min, max) = (
            AnalysisConfig::MIN_HOST_RATE as f32,
            AnalysisConfig::MAX_HOST_RATE as f32,
        );
        for (rate, ok) in [
            (min - 1.0, false),
            (min, true),
            (max, true),
            (max + 1.0, false),
        ] {
            let mut a = Analyser::new(cfg(), 16_000);
            a.ingest(&block(0, 10, rate, true), &[0.0; 10]);
            assert_eq!(a.take_error().is_none(), ok, "{rate} Hz");
        }
    }

    #[test]
    fn the_default_config_is_valid() {
        assert_eq!(cfg().validate(), Ok(()));
    }

    #[test]
    fn settings_at_their_limits_are_valid() {
        type C = AnalysisConfig;
        for (window, hop, smoothing) in [
            (
                C::MIN_WINDOW_SECONDS,
                C::MIN_HOP_SECONDS,
                C::MIN_SMOOTHING_SECONDS,
            ),
            (
                C::MIN_WINDOW_SECONDS,
                C::MIN_WINDOW_SECONDS,
                C::MAX_SMOOTHING_SECONDS,
            ),
            (C::MAX_WINDOW_SECONDS, C::MAX_WINDOW_SECONDS, 0.0),
        ] {
            let config = AnalysisConfig {
                window_seconds: window,
                hop_seconds: hop,
                smoothing_seconds: smoothing,
                ..cfg()
            };
            assert_eq!(config.validate(), Ok(()), "{config:?}");
        }
    }

    /// Each value outside its range is refused with an error naming the
    /// field, the value and the range (the hop's upper end is the window).
    #[test]
    fn out_of_range_settings_are_refused_with_the_named_error() {
        type C = AnalysisConfig;
        use ConfigField::*;
        let window = |w: f64| (w, C::MIN_WINDOW_SECONDS, C::MAX_WINDOW_SECONDS);
        let smoothing = |s: f64| (s, C::MIN_SMOOTHING_SECONDS, C::MAX_SMOOTHING_SECONDS);
        for (w, h, s, field, (value, min, max)) in [
            (0.4, 0.1, 0.0, WindowSeconds, window(0.4)),
            (30.5, 1.0, 0.0, WindowSeconds, window(30.5)),
            (
                f64::INFINITY,
                1.0,
                0.0,
                WindowSeconds,
                window(f64::INFINITY),
            ),
            (-4.0, 1.0, 0.0, WindowSeconds, window(-4.0)),
            (4.0, 0.01, 0.0, HopSeconds, (0.01, C::MIN_HOP_SECONDS, 4.0)),
            (4.0, 5.0, 0.0, HopSeconds, (5.0, C::MIN_HOP_SECONDS, 4.0)),
            (4.0, 0.0, 0.0, HopSeconds, (0.0, C::MIN_HOP_SECONDS, 4.0)),
            (4.0, 1.0, -1.0, SmoothingSeconds, smoothing(-1.0)),
            (4.0, 1.0, 61.0, SmoothingSeconds, smoothing(61.0)),
            (
                4.0,
                1.0,
                f64::INFINITY,
                SmoothingSeconds,
                smoothing(f64::INFINITY),
            ),
        ] {
            let config = AnalysisConfig {
                window_seconds: w,
                hop_seconds: h,
                smoothing_seconds: s,
                ..cfg()
            };
            assert_eq!(
                config.validate(),
                Err(ConfigError {
                    field,
                    value,
                    min,
                    max
                }),
                "{config:?}"
            );
        }
        // NaN is outside every range (and unequal to itself, so compared by parts).
        for (w, h, s, field) in [
            (f64::NAN, 1.0, 0.0, WindowSeconds),
            (4.0, f64::NAN, 0.0, HopSeconds),
            (4.0, 1.0, f64::NAN, SmoothingSeconds),
        ] {
            let e = AnalysisConfig {
                window_seconds: w,
                hop_seconds: h,
                smoothing_seconds: s,
                ..cfg()
            }
            .validate()
            .unwrap_err();
            assert_eq!(e.field, field);
            assert!(e.value.is_nan());
        }
        let e = AnalysisConfig {
            hop_seconds: 5.0,
            ..cfg()
        }
        .validate()
        .unwrap_err();
        assert_eq!(e.to_string(), "hop_seconds is 5; it must be 0.05 to 4 s");
    }
}
