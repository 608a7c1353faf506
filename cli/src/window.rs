//! The windowing flags `predict --windows` and `annotate` share, and their
//! check: both run the engine's offline analysis with them. The ranges are
//! the plugin's (`plugin/src/params.rs`, `AnalysisSettings::to_config`), so a
//! setting that works in one front end works in the others.

use anyhow::{bail, Result};
use emoscope::engine::AnalysisConfig;

/// Shortest `--window`, seconds.
pub(crate) const MIN_WINDOW_SECONDS: f64 = 0.5;
/// Longest `--window`, seconds: the model sees at most this much audio at
/// once (its time and memory grow with the square of the length).
pub(crate) const MAX_WINDOW_SECONDS: f64 = 30.0;
/// Shortest `--hop`, seconds (at most 20 windows a second).
pub(crate) const MIN_HOP_SECONDS: f64 = 0.05;
/// Longest `--smoothing`, seconds.
pub(crate) const MAX_SMOOTHING_SECONDS: f64 = 60.0;

/// `--window`, `--hop`, `--smoothing`.
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct WindowArgs {
    /// Analysis window in seconds, 0.5 to 30 (files shorter than one window are analysed
    /// whole).
    #[arg(long, default_value_t = 4.0)]
    pub window: f64,
    /// Hop between windows in seconds, 0.05 up to the window.
    #[arg(long, default_value_t = 1.0)]
    pub hop: f64,
    /// Smoothing time constant in seconds, 0 (none) to 60.
    #[arg(long, default_value_t = 0.0)]
    pub smoothing: f64,
}

impl WindowArgs {
    /// The engine's settings, or why the flags make no sense.
    pub fn config(&self) -> Result<AnalysisConfig> {
        if !(self.window > 0.0 && self.hop > 0.0 && self.smoothing >= 0.0) {
            bail!("--window and --hop must be positive and --smoothing non-negative");
        }
        if !(MIN_WINDOW_SECONDS..=MAX_WINDOW_SECONDS).contains(&self.window) {
            bail!(
                "--window {}: the window must be {MIN_WINDOW_SECONDS} to {MAX_WINDOW_SECONDS} s \
                 (for a reading of a whole long file, leave out --windows)",
                self.window
            );
        }
        if !(MIN_HOP_SECONDS..=self.window).contains(&self.hop) {
            bail!(
                "--hop {}: the hop must be {MIN_HOP_SECONDS} s to the window ({} s)",
                self.hop,
                self.window
            );
        }
        if self.smoothing > MAX_SMOOTHING_SECONDS {
            bail!(
                "--smoothing {}: the smoothing time must be 0 to {MAX_SMOOTHING_SECONDS} s",
                self.smoothing
            );
        }
        Ok(AnalysisConfig {
            window_seconds: self.window,
            hop_seconds: self.hop,
            smoothing_seconds: self.smoothing,
            analyse_while_stopped: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(window: f64, hop: f64, smoothing: f64) -> WindowArgs {
        WindowArgs {
            window,
            hop,
            smoothing,
        }
    }

    #[test]
    fn ranges_are_enforced_at_both_ends() {
        assert!(args(4.0, 1.0, 0.0).config().is_ok());
        assert!(args(MIN_WINDOW_SECONDS, MIN_HOP_SECONDS, 0.0)
            .config()
            .is_ok());
        assert!(args(
            MAX_WINDOW_SECONDS,
            MAX_WINDOW_SECONDS,
            MAX_SMOOTHING_SECONDS
        )
        .config()
        .is_ok());
        for (w, h, s) in [
            (f64::NAN, 1.0, 0.0),
            (f64::INFINITY, 1.0, 0.0),
            (0.4, 0.1, 0.0),
            (30.5, 1.0, 0.0),
            (4.0, 0.01, 0.0),
            (4.0, 5.0, 0.0),
            (4.0, f64::NAN, 0.0),
            (4.0, 1.0, f64::NAN),
            (4.0, 1.0, 61.0),
            (4.0, 1.0, f64::INFINITY),
        ] {
            assert!(args(w, h, s).config().is_err(), "{w} {h} {s}");
        }
    }
}
