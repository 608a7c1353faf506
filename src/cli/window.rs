//! The windowing flags `predict --windows` and `annotate` share, and their
//! check: both run the engine's offline analysis with them.

use anyhow::{bail, Result};
use emoscope::engine::AnalysisConfig;

/// `--window`, `--hop`, `--smoothing`.
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct WindowArgs {
    /// Analysis window in seconds (files shorter than one window are analysed whole).
    #[arg(long, default_value_t = 4.0)]
    pub window: f64,
    /// Hop between windows in seconds.
    #[arg(long, default_value_t = 1.0)]
    pub hop: f64,
    /// Smoothing time constant in seconds, 0 for none.
    #[arg(long, default_value_t = 0.0)]
    pub smoothing: f64,
}

impl WindowArgs {
    /// The engine's settings, or why the flags make no sense.
    pub fn config(&self) -> Result<AnalysisConfig> {
        if !(self.window > 0.0 && self.hop > 0.0 && self.smoothing >= 0.0) {
            bail!("--window and --hop must be positive and --smoothing non-negative");
        }
        Ok(AnalysisConfig {
            window_seconds: self.window,
            hop_seconds: self.hop,
            smoothing_seconds: self.smoothing,
            analyse_while_stopped: false,
        })
    }
}
