//! `emoscope merge`: joins the indexes the shards of an `annotate --shard I/N`
//! job array wrote into one `index.json`, once every shard has finished.

use std::path::PathBuf;

use anyhow::Result;

use super::annotate::{merge_indexes, write_index};
use super::output::outln;

/// Arguments of `emoscope merge`.
#[derive(clap::Args)]
pub struct Args {
    /// The `--out` folder the shards wrote to (holding `index.shard-I-of-N.json`).
    dir: PathBuf,
}

/// Merges and writes `index.json`; reports how many inputs failed.
pub fn run(args: Args) -> Result<()> {
    let index = merge_indexes(&args.dir)?;
    let path = write_index(&args.dir, &index, None)?;
    let failed: Vec<&str> = index
        .entries
        .iter()
        .filter(|e| e.error.is_some())
        .map(|e| e.input.as_str())
        .collect();
    outln!("{} entries -> {}", index.entries.len(), path.display());
    if !failed.is_empty() {
        anyhow::bail!(
            "{} inputs failed in their shards: {}",
            failed.len(),
            failed.join(", ")
        );
    }
    Ok(())
}
