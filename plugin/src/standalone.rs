//! Options of the standalone application that nice-plug's own command line
//! does not have: `--model <dir>` and `--transcript <file>` set the initial
//! model directory and transcript sidecar (the standalone has no project to
//! restore them from). [`split_args`] takes them out of the command line;
//! everything else goes to nice-plug (`--backend`, `--sample-rate`, ...).
//! In a plugin host nothing here is used.

use std::sync::OnceLock;

use crate::params::EmoscopeParams;

/// Initial settings given on the standalone's command line.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StandaloneDefaults {
    /// `--model <dir>`.
    pub model_dir: Option<String>,
    /// `--transcript <file>`.
    pub transcript: Option<String>,
}

static DEFAULTS: OnceLock<StandaloneDefaults> = OnceLock::new();

/// Splits our options from nice-plug's. The first element (the program name) is kept in `rest`.
pub fn split_args(
    args: impl IntoIterator<Item = String>,
) -> Result<(StandaloneDefaults, Vec<String>), String> {
    let mut defaults = StandaloneDefaults::default();
    let mut rest = Vec::new();
    let mut args = args.into_iter();
    while let Some(a) = args.next() {
        let (key, inline) = match a.split_once('=') {
            Some((k, v)) if k == "--model" || k == "--transcript" => {
                (k.to_owned(), Some(v.to_owned()))
            }
            _ => (a.clone(), None),
        };
        let slot = match key.as_str() {
            "--model" => &mut defaults.model_dir,
            "--transcript" => &mut defaults.transcript,
            _ => {
                rest.push(a);
                continue;
            }
        };
        let value = inline
            .or_else(|| args.next())
            .ok_or_else(|| format!("{key} needs a value"))?;
        *slot = Some(value);
    }
    Ok((defaults, rest))
}

/// Makes `defaults` the initial settings of plugin instances created from now on.
pub fn set_defaults(defaults: StandaloneDefaults) {
    let _ = DEFAULTS.set(defaults);
}

/// Applies the standalone defaults, if any, to fresh parameters.
pub(crate) fn apply_defaults(params: &EmoscopeParams) {
    let Some(d) = DEFAULTS.get() else {
        return;
    };
    if let Some(m) = &d.model_dir {
        *params.model_dir.write() = m.clone();
    }
    if let Some(t) = &d.transcript {
        params.transcript.write().path = t.clone();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_options_are_taken_out_and_the_rest_kept_in_order() {
        let args = [
            "prog",
            "--backend",
            "dummy",
            "--model",
            "/m",
            "--transcript=/t.txt",
            "-r",
            "44100",
        ]
        .map(String::from);
        let (d, rest) = split_args(args).unwrap();
        assert_eq!(d.model_dir.as_deref(), Some("/m"));
        assert_eq!(d.transcript.as_deref(), Some("/t.txt"));
        assert_eq!(rest, ["prog", "--backend", "dummy", "-r", "44100"]);
        assert!(split_args(["prog", "--model"].map(String::from)).is_err());
    }
}
