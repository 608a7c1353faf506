//! What the CLI writes to its standard streams, and how a run ends.
//!
//! Results go to stdout through [`outln!`], which turns a failed write (a
//! full disk, `> /dev/full`) into an error that names stdout instead of
//! panicking as `println!` does. A closed pipe (`emoscope predict … | head`)
//! ends the run quietly with success, as coreutils and ripgrep do. Errors
//! reach stderr once, each cause once ([`error_chain`]).

use std::io::Write as _;
use std::process::ExitCode;

/// `writeln!` to stdout; a failed write returns an error naming stdout from
/// the enclosing function (which must return `anyhow::Result`).
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)
            .map_err($crate::output::stdout_error)?;
    }};
}
pub(crate) use outln;

/// `eprintln!` that never panics: a note or warning that cannot be written
/// (stderr closed or full) is dropped, since there is nowhere to report it.
macro_rules! note {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}
pub(crate) use note;

/// The error for a failed write to stdout.
pub(crate) fn stdout_error(e: std::io::Error) -> anyhow::Error {
    anyhow::Error::new(e).context("writing to stdout")
}

/// An error and its causes as one line, `outer: inner: …`, leaving out a
/// cause whose text an outer message already contains (many error types put
/// their cause into their own message and also return it as `source()`;
/// printed naively, "No such file or directory" would appear twice).
pub(crate) fn error_chain(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if text.is_empty() || out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

/// Installs a panic hook that stays silent for panics inside symphonia,
/// which `emoscope::audio` catches and reports as a decode error naming the
/// file; every other panic is reported as usual (it is a bug).
pub(crate) fn quiet_decoder_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let in_decoder = info
            .location()
            .is_some_and(|l| l.file().contains("symphonia"));
        if !in_decoder {
            default(info);
        }
    }));
}

/// Whether `e` is, or was caused by, a closed pipe on stdout.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Flushes stdout and turns a verb's result into the exit code: 0 on
/// success and on a closed pipe (the reader has what it wanted), else the
/// message on stderr and 1.
pub(crate) fn finish(result: anyhow::Result<()>) -> ExitCode {
    let result = result.and_then(|()| std::io::stdout().flush().map_err(stdout_error));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            note!("error: {}", error_chain(&e));
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error that repeats its cause in its message, as `AudioError::Open` did.
    #[derive(Debug, thiserror::Error)]
    #[error("cannot open a.wav: {source}")]
    struct Repeats {
        source: std::io::Error,
    }

    #[test]
    fn each_cause_is_printed_once() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file or directory");
        let e = anyhow::Error::new(Repeats { source: io }).context("reading a.wav");
        assert_eq!(
            error_chain(&e),
            "reading a.wav: cannot open a.wav: No such file or directory"
        );
        let plain = anyhow::anyhow!("inner").context("outer");
        assert_eq!(error_chain(&plain), "outer: inner");
    }

    #[test]
    fn a_closed_pipe_is_recognised_through_context() {
        let e = stdout_error(std::io::Error::from(std::io::ErrorKind::BrokenPipe));
        assert!(is_broken_pipe(&e.context("printing")));
        let full = stdout_error(std::io::Error::from(std::io::ErrorKind::StorageFull));
        assert!(!is_broken_pipe(&full));
        assert!(error_chain(&full).starts_with("writing to stdout: "));
    }
}
