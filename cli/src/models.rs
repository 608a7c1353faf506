//! `emoscope models`: the installed default model, the checkpoints Emoscope
//! knows (the model zoo) and which are in the local Hugging Face cache
//! (`list`), and downloading one into that cache (`fetch`).

use crate::hub::{
    api_from_env, fetch, generic_entry, local_copy, LocalCopy, RepoSpec, OPTIONAL_FILES,
};
use anyhow::{Context, Result};
use emoscope::models::Zoo;
use std::io::IsTerminal;
use std::path::Path;

use super::output::{note, outln};

/// Arguments of `emoscope models`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Show the default model and list the known checkpoints and whether each is in the
    /// local cache.
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

/// The default model's line: where it is, whether it is there, its name.
fn default_model_line(dir: &Path) -> String {
    let from = if std::env::var_os(emoscope::paths::MODEL_ENV).is_some_and(|v| !v.is_empty()) {
        format!(" (from ${})", emoscope::paths::MODEL_ENV)
    } else {
        String::new()
    };
    if !dir.is_dir() {
        return format!(
            "default model: not installed ({}{from} does not exist; `cargo xtask demo-model` \
             makes it, or pass --model)",
            dir.display()
        );
    }
    let name = std::fs::read_to_string(dir.join("emoscope.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v.get("name").and_then(|n| n.as_str()).map(str::to_owned))
        .unwrap_or_else(|| "a checkpoint without emoscope.json".to_owned());
    format!("default model: {}{from}  [{name}]", dir.display())
}

fn list() -> Result<()> {
    let zoo = Zoo::builtin();
    let cache = hf_hub::Cache::from_env();
    let default = emoscope::paths::default_model_dir();
    outln!("{}", default_model_line(&default));
    let private = emoscope::paths::not_readable_by_others(&default);
    if !private.is_empty() {
        note!(
            "warning: {} files or folders of the default model are readable by you only (such as \
             {}); other users and programs running as them cannot load it: chmod -R a+rX {}",
            private.len(),
            private[0].display(),
            default.display()
        );
    }
    outln!("cache: {}", cache.path().display());
    for m in &zoo.models {
        let status = match local_copy(&cache, m) {
            LocalCopy::Complete(dir) => format!("present: {}", dir.display()),
            LocalCopy::Partial(missing) => format!("partial (missing {})", missing.join(", ")),
            LocalCopy::Absent => "not downloaded".to_owned(),
        };
        outln!(
            "{}@{}  [{:?}, {}]  {}",
            m.repo,
            m.revision,
            m.kind,
            m.license,
            status
        );
        outln!("    {}", m.purpose);
        if let Some(o) = &m.outputs {
            let range = o
                .range
                .as_deref()
                .map(|r| format!(", {r}"))
                .unwrap_or_default();
            outln!("    outputs: {:?} {}{range}", o.kind, o.names.join(", "));
        }
    }
    Ok(())
}

fn fetch_one(spec: &RepoSpec) -> Result<()> {
    let zoo = Zoo::builtin();
    let (entry, optional): (_, &[&str]) = match zoo.find(&spec.repo) {
        Some(e) => (e.clone(), &[]),
        None => {
            note!("{} is not in the model zoo: fetching config.json, the usual companion files it has, and its weights", spec.repo);
            (generic_entry(&spec.repo), &OPTIONAL_FILES)
        }
    };
    let api = api_from_env(std::io::stderr().is_terminal())?;
    let fetched = fetch(&api, &entry, spec.revision.as_deref(), optional)
        .with_context(|| format!("fetching {}", spec.repo))?;
    for f in &fetched.files {
        outln!("{}", f.display());
    }
    outln!(
        "{}@{} is in {}",
        entry.repo,
        fetched.revision,
        fetched.dir.display()
    );
    Ok(())
}
