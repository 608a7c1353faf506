//! `emoscope models`: the checkpoints Emoscope knows (the model zoo) and
//! which are in the local Hugging Face cache (`list`), and downloading one
//! into that cache (`fetch`).

use anyhow::{Context, Result};
use emoscope::hub::{
    api_from_env, fetch, generic_entry, local_copy, LocalCopy, RepoSpec, OPTIONAL_FILES,
};
use emoscope::models::Zoo;
use std::io::IsTerminal;

/// Arguments of `emoscope models`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// List the known checkpoints and whether each is in the local cache.
    List,
    /// Download `owner/name[@revision]` into the Hugging Face cache
    /// ($HF_HOME/hub; $HF_ENDPOINT selects a mirror).
    Fetch {
        /// Repository id, optionally `@branch`, `@tag` or `@commit`.
        repo: RepoSpec,
    },
}

/// Runs the subcommand.
pub fn run(args: Args) -> Result<()> {
    match args.command {
        Command::List => list(),
        Command::Fetch { repo } => fetch_one(&repo),
    }
}

fn list() -> Result<()> {
    let zoo = Zoo::builtin();
    let cache = hf_hub::Cache::from_env();
    println!("cache: {}", cache.path().display());
    for m in &zoo.models {
        let status = match local_copy(&cache, m) {
            LocalCopy::Complete(dir) => format!("present: {}", dir.display()),
            LocalCopy::Partial(missing) => format!("partial (missing {})", missing.join(", ")),
            LocalCopy::Absent => "not downloaded".to_owned(),
        };
        println!(
            "{}@{}  [{:?}, {}]  {}",
            m.repo, m.revision, m.kind, m.license, status
        );
        println!("    {}", m.purpose);
    }
    Ok(())
}

fn fetch_one(spec: &RepoSpec) -> Result<()> {
    let zoo = Zoo::builtin();
    let (entry, optional): (_, &[&str]) = match zoo.find(&spec.repo) {
        Some(e) => (e.clone(), &[]),
        None => {
            eprintln!("{} is not in the model zoo: fetching config.json, the usual companion files it has, and its weights", spec.repo);
            (generic_entry(&spec.repo), &OPTIONAL_FILES)
        }
    };
    let api = api_from_env(std::io::stderr().is_terminal())?;
    let fetched = fetch(&api, &entry, spec.revision.as_deref(), optional)
        .with_context(|| format!("fetching {}", spec.repo))?;
    for f in &fetched.files {
        println!("{}", f.display());
    }
    println!(
        "{}@{} is in {}",
        entry.repo,
        fetched.revision,
        fetched.dir.display()
    );
    Ok(())
}
