//! The standalone Emoscope application (feature `standalone`): nice-plug's
//! standalone wrapper (JACK, ALSA or a dummy backend) around the plugin, plus
//! `--model <dir>` and `--transcript <file>` to preset what a project would
//! otherwise restore. `emoscope-standalone --help` lists nice-plug's options.

use nice_plug::prelude::*;

fn main() {
    let (defaults, rest) = match emoscope_plugin::standalone::split_args(std::env::args()) {
        Ok(split) => split,
        Err(e) => {
            eprintln!("emoscope-standalone: {e}");
            std::process::exit(2);
        }
    };
    emoscope_plugin::standalone::set_defaults(defaults);
    if !nice_export_standalone_with_args::<emoscope_plugin::Emoscope, _>(rest) {
        std::process::exit(1);
    }
}
