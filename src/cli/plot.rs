//! `emoscope plot`: a picture of an annotation (the JSON `annotate` writes).

use std::path::PathBuf;

use anyhow::{Context, Result};
use emoscope::export::Annotation;

/// Arguments of `emoscope plot`.
#[derive(clap::Args)]
pub struct Args {
    /// An annotation JSON file written by `emoscope annotate` (`--format json`).
    timeline: PathBuf,
    /// The picture to write: `.png` or `.svg`.
    #[arg(long)]
    out: PathBuf,
    /// Width in pixels.
    #[arg(long, default_value_t = 1200)]
    width: u32,
    /// Height in pixels.
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
    if args.width < 200 || args.height < 150 {
        anyhow::bail!("--width and --height must be at least 200 x 150 pixels");
    }
    emoscope::plot::render(&doc, &args.out, (args.width, args.height))?;
    println!("{}", args.out.display());
    Ok(())
}
