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
    /// Height in pixels, 150 to 8192 (at least 150 per speaker's lane);
    /// by default 600, or 300 per speaker when the readings name speakers.
    #[arg(long)]
    height: Option<u32>,
    /// Draw only this speaker's readings and segments (the annotation's
    /// readings must name speakers: `annotate` with speaker turns).
    #[arg(long, value_name = "NAME")]
    speaker: Option<String>,
}

/// Reads the annotation and draws it.
pub fn run(args: Args) -> Result<()> {
    let text = std::fs::read_to_string(&args.timeline)
        .with_context(|| format!("reading {}", args.timeline.display()))?;
    let mut doc = Annotation::from_json(&text).with_context(|| {
        format!(
            "{}: not an annotation written by `emoscope annotate`",
            args.timeline.display()
        )
    })?;
    let speakers = doc.speaker_names();
    if let Some(name) = &args.speaker {
        let Some(who) = speakers.iter().find(|s| s.as_str() == name) else {
            bail!(
                "{}: no speaker `{name}` in the annotation ({})",
                args.timeline.display(),
                if speakers.is_empty() {
                    "its readings name no speaker: annotate with --speakers FILE or a transcript that names its speakers".to_owned()
                } else {
                    format!(
                        "its speakers: {}",
                        speakers
                            .iter()
                            .map(|s| format!("`{s}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
            );
        };
        doc = doc.only(who);
    }
    let lanes = doc.speaker_names().len().max(1) as u32;
    let height = args.height.unwrap_or(if lanes > 1 {
        (300 * lanes).min(MAX_SIZE.1)
    } else {
        600
    });
    if !(MIN_SIZE.0..=MAX_SIZE.0).contains(&args.width)
        || !(MIN_SIZE.1..=MAX_SIZE.1).contains(&height)
    {
        bail!(
            "--width {} --height {}: a plot is {} x {} to {} x {} pixels",
            args.width,
            height,
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
    crate::figure::timeline::render(&doc, &args.out, (args.width, height))?;
    outln!("{}", args.out.display());
    Ok(())
}
