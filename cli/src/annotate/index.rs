//! The index of an `annotate` run: one entry per input with its outputs,
//! status and summary, written as `index.json` into `--out` (or
//! `index.shard-I-of-N.json` for a shard), and the `merge` step that joins
//! the shards' indexes into one `index.json` once every shard has finished.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use emoscope::export::SpeakerSummary;
use serde::{Deserialize, Serialize};

use super::inputs::Shard;

/// Identifies the index layout.
pub const INDEX_FORMAT: &str = "emoscope-index/1";

/// A run's index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Index {
    /// [`INDEX_FORMAT`].
    pub format: String,
    /// The model directory used.
    pub model: String,
    /// The Whisper model that transcribed the inputs without a transcript
    /// (absent when none could: no speech recognition in this run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asr_model: Option<String>,
    /// The export formats asked for.
    pub formats: Vec<String>,
    /// `[index, count]` of the shard this index covers; absent when it covers everything.
    pub shard: Option<[usize; 2]>,
    /// One entry per input, sorted by input path.
    pub entries: Vec<Entry>,
}

/// What happened to one input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Annotated now.
    Ok,
    /// Every output already existed (a resumed run); nothing was recomputed.
    Skipped,
    /// Failed; `error` says why.
    Failed,
}

/// Where an input's transcript came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// Named by `--transcript` or the manifest.
    Given,
    /// Found next to the audio.
    Sidecar,
    /// Recognised from the audio by the run's Whisper model, and written
    /// among the outputs.
    Asr,
}

/// One input's record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// The audio file as given or found.
    pub input: String,
    /// The transcript used, if any.
    pub transcript: Option<String>,
    /// Where it came from (absent when there is none, and in indexes of
    /// older versions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transcript_source: Option<Origin>,
    /// Output files, relative to the output directory.
    pub outputs: Vec<String>,
    /// Outcome.
    pub status: Status,
    /// Why it failed.
    pub error: Option<String>,
    /// Audio duration, seconds (from the JSON output for skipped inputs, when there is one).
    pub audio_seconds: Option<f64>,
    /// Analysis windows (with a reading).
    pub windows: Option<usize>,
    /// Windows left out because no one speaks there (not with `--analyse-silence`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_speech_windows: Option<usize>,
    /// Mean arousal, valence and dominance over the windows (absent for a
    /// categorical model).
    pub mean: Option<[f32; 3]>,
    /// For a categorical model, the mean probability of each category over
    /// the windows, by label (absent for a dimensional model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean_probabilities: Option<std::collections::BTreeMap<String, f32>>,
    /// How many of the windows had a value outside the model's declared
    /// range (kept in the mean as the model gave them; flagged in the outputs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_of_range: Option<usize>,
    /// Wall-clock seconds spent on it.
    pub seconds: f64,
    /// What its outputs depend on (see `fingerprint`); a resumed run skips
    /// the input only when this is unchanged. Absent in indexes of older
    /// versions, whose inputs are then recomputed.
    #[serde(default)]
    pub fingerprint: Option<String>,
    /// What the transcript reader repaired or skipped (file, line, what was done).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// The speaker file the turns came from (`--speakers`, or `name.rttm`
    /// or `name.stm` beside the audio); absent when there is none (the
    /// transcript's own speakers, or none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speakers_file: Option<String>,
    /// Each speaker summed up, as in the annotation's `speakers` (absent
    /// without speaker turns).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub speakers: Vec<SpeakerSummary>,
}

/// The index file name for `shard`.
pub fn file_name(shard: Option<Shard>) -> String {
    match shard {
        None => "index.json".into(),
        Some(s) => format!("index.shard-{}-of-{}.json", s.index, s.count),
    }
}

/// The entries of the index a previous run wrote into `dir` for `shard`, by
/// input; empty when there is none. An index that cannot be read is
/// reported and ignored: every input is then recomputed.
pub fn previous(dir: &Path, shard: Option<Shard>) -> std::collections::HashMap<String, Entry> {
    let path = dir.join(file_name(shard));
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Default::default();
    };
    match serde_json::from_str::<Index>(&text) {
        Ok(index) => index
            .entries
            .into_iter()
            .map(|e| (e.input.clone(), e))
            .collect(),
        Err(e) => {
            crate::output::note!(
                "warning: {}: not a readable index ({e}); every input is recomputed",
                path.display()
            );
            Default::default()
        }
    }
}

/// Writes `index` into `dir` under [`file_name`].
pub fn write(dir: &Path, index: &Index, shard: Option<Shard>) -> Result<PathBuf> {
    let path = dir.join(file_name(shard));
    let text = serde_json::to_string_pretty(index).expect("an index serialises");
    emoscope::atomic_write::write_atomic(&path, text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// Joins the shard indexes in `dir` into one index (every shard of one run
/// must be there, each once).
pub fn merge(dir: &Path) -> Result<Index> {
    let mut shards: Vec<(usize, usize, PathBuf)> = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let Some(rest) = name
            .strip_prefix("index.shard-")
            .and_then(|r| r.strip_suffix(".json"))
        else {
            continue;
        };
        let parsed = rest
            .split_once("-of-")
            .and_then(|(i, n)| Some((i.parse::<usize>().ok()?, n.parse::<usize>().ok()?)));
        match parsed {
            Some((i, n)) if i < n => shards.push((i, n, path)),
            _ => bail!(
                "{}: not a shard index name (index.shard-I-of-N.json)",
                path.display()
            ),
        }
    }
    if shards.is_empty() {
        bail!(
            "{}: no shard indexes (index.shard-I-of-N.json) to merge",
            dir.display()
        );
    }
    shards.sort();
    let count = shards[0].1;
    if let Some(other) = shards.iter().find(|s| s.1 != count) {
        bail!(
            "{}: shard indexes of different runs: {} and {} shards",
            dir.display(),
            count,
            other.1
        );
    }
    let present: Vec<usize> = shards.iter().map(|s| s.0).collect();
    let missing: Vec<String> = (0..count)
        .filter(|i| !present.contains(i))
        .map(|i| i.to_string())
        .collect();
    if !missing.is_empty() {
        bail!(
            "{}: shards {} of {count} have not written their index yet",
            dir.display(),
            missing.join(", ")
        );
    }
    let mut merged: Option<Index> = None;
    for (i, _, path) in &shards {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let index: Index =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        if index.shard != Some([*i, count]) {
            bail!(
                "{}: its contents say shard {:?}, its name {i}/{count}",
                path.display(),
                index.shard
            );
        }
        match merged.as_mut() {
            None => {
                merged = Some(Index {
                    shard: None,
                    ..index
                })
            }
            Some(m) => {
                if m.model != index.model
                    || m.formats != index.formats
                    || m.asr_model != index.asr_model
                {
                    bail!(
                        "{}: made with another model, speech-recognition model or formats \
                         than shard 0",
                        path.display()
                    );
                }
                m.entries.extend(index.entries);
            }
        }
    }
    let mut merged = merged.expect("at least one shard");
    merged.entries.sort_by(|a, b| a.input.cmp(&b.input));
    if let Some(w) = merged.entries.windows(2).find(|w| w[0].input == w[1].input) {
        bail!(
            "{} is in more than one shard: the shards were given different inputs",
            w[0].input
        );
    }
    Ok(merged)
}
