//! `emoscope plot`: a picture of an annotation (the JSON `annotate` writes).

use std::path::PathBuf;

use crate::figure::timeline::{MAX_SIZE, MIN_SIZE};
use anyhow::{bail, Context, Result};
use emoscope::export::Annotation;

use super::output::outln;

/// Arguments of `emoscope plot`.
#[derive(clap::Args)]
pub struct Args {
    /// An annotation JSON file written by `emoscope annotate` (`--format json`).
    timeline: PathBuf,
    /// The picture to write: `.png` or `.svg`.
    #[arg(long)]
    out: PathBuf,
    /// Width in pixels, 200 to 8192.
    #[arg(long, default_value_t = 1200)]
    width: u32,
    /// Height in pixels, 150 to 8192.
    #[arg(long, default_value_t = 600)]
    height: u32,
}

/// Reads the annotation and draws it.
pub fn run(args: Args) -> Result<()> {
    let text = std::fs::read_to_string(&args.timeline)
        .with_context(|| format!("reading {}", args.timeline.display()))?;
    let doc = Annotation::from_json(&text).with_context(|| {
        format!(
            "{}: not an annotation written by `emoscope annotate`",
            args.timeline.display()
        )
    })?;
    if !(MIN_SIZE.0..=MAX_SIZE.0).contains(&args.width)
        || !(MIN_SIZE.1..=MAX_SIZE.1).contains(&args.height)
    {
        bail!(
            "--width {} --height {}: a plot is {} x {} to {} x {} pixels",
            args.width,
            args.height,
            MIN_SIZE.0,
            MIN_SIZE.1,
            MAX_SIZE.0,
            MAX_SIZE.1
        );
    }
    if args.out.is_dir() {
        bail!(
            "--out {} is a folder; name the picture to write (*.png or *.svg)",
            args.out.display()
        );
    }
    crate::figure::timeline::render(&doc, &args.out, (args.width, args.height))?;
    outln!("{}", args.out.display());
    Ok(())
}
