//! The CLI's log output on stderr: tracing events (the library's warnings,
//! such as a truncated audio file, and `--log` diagnostics) and the `log`
//! records of dependencies, one line each as `warning: message`.
//!
//! Colour codes only when stderr is a terminal. symphonia's own records are
//! off unless the filter names `symphonia`: it logs what it meets while
//! probing and decoding (`probe reached EOF at 34 bytes`, at error level),
//! and Emoscope reports what matters itself, once, with the file's name.

use std::fmt;
use std::io::IsTerminal;

use anyhow::{Context, Result};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::EnvFilter;

/// The filter the CLI installs for `--log` `spec`: symphonia is off unless
/// `spec` mentions it.
pub(crate) fn filter_spec(spec: &str) -> String {
    if spec.contains("symphonia") {
        spec.to_owned()
    } else {
        format!("{spec},symphonia=off")
    }
}

/// Installs the subscriber for `--log` `spec`: targets are shown when the
/// user asked for more than the default `warn`.
pub(crate) fn init(spec: &str) -> Result<()> {
    let filter = EnvFilter::try_new(filter_spec(spec)).with_context(|| {
        format!("--log {spec}: not a log filter (try `info` or `emoscope=debug`)")
    })?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .event_format(Lines {
            targets: spec.trim() != "warn",
        })
        .init();
    Ok(())
}

/// One line per event: `warning: [target: ]message fields`.
struct Lines {
    targets: bool,
}

impl<S, N> FormatEvent<S, N> for Lines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let level = match *meta.level() {
            Level::ERROR => "error",
            Level::WARN => "warning",
            Level::INFO => "info",
            Level::DEBUG => "debug",
            Level::TRACE => "trace",
        };
        write!(writer, "{level}: ")?;
        if self.targets {
            write!(writer, "{}: ", meta.target())?;
        }
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symphonia_is_quiet_unless_named() {
        assert_eq!(filter_spec("warn"), "warn,symphonia=off");
        assert_eq!(filter_spec("debug"), "debug,symphonia=off");
        assert_eq!(filter_spec("symphonia=debug"), "symphonia=debug");
    }
}
