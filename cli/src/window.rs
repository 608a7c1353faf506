//! The windowing flags `predict --windows` and `annotate` share, and their
//! check: both run the engine's offline analysis with them. The ranges are
//! the engine's ([`AnalysisConfig::validate`] and its limits), as for the
//! plugin's settings and editor, so a setting that works in one front end
//! works in the others; here the errors name the flags.

use anyhow::{bail, Result};
use emoscope::engine::{AnalysisConfig, ConfigField};

/// Longest `--window`, seconds (the engine's limit; `predict` analyses a
/// whole file in pieces of at most this length).
pub(crate) const MAX_WINDOW_SECONDS: f64 = AnalysisConfig::MAX_WINDOW_SECONDS;

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
        let config = AnalysisConfig {
            window_seconds: self.window,
            hop_seconds: self.hop,
            smoothing_seconds: self.smoothing,
            analyse_while_stopped: false,
        };
        if let Err(e) = config.validate() {
            let (value, min, max) = (e.value, e.min, e.max);
            match e.field {
                ConfigField::WindowSeconds => bail!(
                    "--window {value}: the window must be {min} to {max} s \
                     (for a reading of a whole long file, leave out --windows)"
                ),
                ConfigField::HopSeconds => {
                    bail!("--hop {value}: the hop must be {min} s to the window ({max} s)")
                }
                ConfigField::SmoothingSeconds => {
                    bail!("--smoothing {value}: the smoothing time must be {min} to {max} s")
                }
            }
        }
        Ok(config)
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
        type C = AnalysisConfig;
        assert!(args(C::MIN_WINDOW_SECONDS, C::MIN_HOP_SECONDS, 0.0)
            .config()
            .is_ok());
        assert!(args(
            C::MAX_WINDOW_SECONDS,
            C::MAX_WINDOW_SECONDS,
            C::MAX_SMOOTHING_SECONDS
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

    #[test]
    fn errors_name_the_flag_and_the_engines_range() {
        let message = |w, h, s| args(w, h, s).config().unwrap_err().to_string();
        assert_eq!(
            message(30.5, 1.0, 0.0),
            format!(
                "--window 30.5: the window must be {} to {} s (for a reading of a whole long \
                 file, leave out --windows)",
                AnalysisConfig::MIN_WINDOW_SECONDS,
                AnalysisConfig::MAX_WINDOW_SECONDS
            )
        );
        assert_eq!(
            message(4.0, 0.01, 0.0),
            format!(
                "--hop 0.01: the hop must be {} s to the window (4 s)",
                AnalysisConfig::MIN_HOP_SECONDS
            )
        );
        assert_eq!(
            message(4.0, 1.0, 61.0),
            format!(
                "--smoothing 61: the smoothing time must be {} to {} s",
                AnalysisConfig::MIN_SMOOTHING_SECONDS,
                AnalysisConfig::MAX_SMOOTHING_SECONDS
            )
        );
    }

    /// The flags' help states the engine's limits.
    #[test]
    fn help_states_the_engines_limits() {
        use clap::CommandFactory;
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            window: WindowArgs,
        }
        let command = Cli::command();
        let help = |id: &str| {
            command
                .get_arguments()
                .find(|a| a.get_id() == id)
                .and_then(|a| a.get_help())
                .map(|h| h.to_string())
                .unwrap_or_default()
        };
        type C = AnalysisConfig;
        let window = format!("{} to {}", C::MIN_WINDOW_SECONDS, C::MAX_WINDOW_SECONDS);
        assert!(help("window").contains(&window), "{}", help("window"));
        let hop = format!("{} up to the window", C::MIN_HOP_SECONDS);
        assert!(help("hop").contains(&hop), "{}", help("hop"));
        let smoothing = format!(
            "{} (none) to {}",
            C::MIN_SMOOTHING_SECONDS,
            C::MAX_SMOOTHING_SECONDS
        );
        assert!(
            help("smoothing").contains(&smoothing),
            "{}",
            help("smoothing")
        );
    }
}
