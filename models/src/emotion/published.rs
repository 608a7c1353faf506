//! Published speech-emotion checkpoints, loaded as they are distributed.
//!
//! audeering's `wav2vec2-large-robust-12-ft-emotion-msp-dim` (and its
//! siblings) ship a Hugging Face directory whose `config.json` names the
//! architecture `Wav2Vec2ForSpeechClassification` and whose weights hold
//! `wav2vec2.*` plus a regression head `classifier.dense` → tanh →
//! `classifier.out_proj`. The model card's Python code mean-pools the
//! encoder's output (`last_hidden_state`) over time and applies the head; the
//! three outputs are arousal, dominance and valence (per `id2label`), about
//! 0..1. [`detect`] turns such a directory into the equivalent [`Manifest`],
//! so it runs through the same code as Emoscope's own checkpoints.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::head::Activation;
use super::manifest::{
    AudioSpec, Dimension, FusionKind, HeadSpec, LayerSelection, Manifest, PoolingKind, Task,
    FORMAT, VERSION,
};
use crate::error::LoadError;

/// The architectures whose directories are read as audeering-style regression models.
const REGRESSION_ARCHITECTURES: [&str; 2] = [
    "Wav2Vec2ForSpeechClassification",
    "HubertForSpeechClassification",
];

#[derive(Deserialize)]
struct ClassifierConfig {
    #[serde(default)]
    architectures: Option<Vec<String>>,
    #[serde(default)]
    id2label: BTreeMap<String, String>,
    hidden_size: usize,
    #[serde(default)]
    final_dropout: Option<f32>,
}

/// The weights file of a Hugging Face directory, as the encoder loader picks it.
fn weights_file(dir: &Path) -> Option<&'static str> {
    ["model.safetensors", "pytorch_model.bin"]
        .into_iter()
        .find(|f| dir.join(f).exists())
}

/// The manifest equivalent to a published checkpoint in `dir`, or `None`
/// when `dir` is not one of the published layouts Emoscope knows.
pub fn detect(dir: &Path) -> Result<Option<Manifest>, LoadError> {
    let config_path = dir.join("config.json");
    if !config_path.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&config_path).map_err(|source| LoadError::Io {
        path: config_path.clone(),
        source,
    })?;
    let json = |source| LoadError::Json {
        path: config_path.clone(),
        source,
    };
    // The architecture first: another layout's config.json (an Odyssey
    // baseline's metadata, say) need not have this one's keys.
    #[derive(Deserialize)]
    struct Architectures {
        #[serde(default)]
        architectures: Option<Vec<String>>,
    }
    let named: Architectures = serde_json::from_str(&text).map_err(json)?;
    let known = named
        .architectures
        .iter()
        .flatten()
        .any(|a| REGRESSION_ARCHITECTURES.contains(&a.as_str()));
    if !known {
        return Ok(None);
    }
    let cfg: ClassifierConfig = serde_json::from_str(&text).map_err(json)?;
    let Some(weights) = weights_file(dir) else {
        return Err(LoadError::Io {
            path: dir.join("model.safetensors"),
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no model.safetensors or pytorch_model.bin in the directory",
            ),
        });
    };
    let mut ids: Vec<(usize, Dimension)> = Vec::new();
    for (k, v) in &cfg.id2label {
        let index = k.parse::<usize>().map_err(|_| LoadError::Unsupported {
            path: config_path.clone(),
            field: "id2label".into(),
            message: format!("key {k:?} is not an output index"),
        })?;
        let dim = match v.to_ascii_lowercase().as_str() {
            "arousal" => Dimension::Arousal,
            "valence" => Dimension::Valence,
            "dominance" => Dimension::Dominance,
            other => {
                return Err(LoadError::Unsupported {
                    path: config_path.clone(),
                    field: "id2label".into(),
                    message: format!("label {other:?} is not arousal, valence or dominance"),
                })
            }
        };
        ids.push((index, dim));
    }
    ids.sort_by_key(|(i, _)| *i);
    if ids.iter().map(|(i, _)| *i).ne(0..3) {
        return Err(LoadError::Unsupported {
            path: config_path,
            field: "id2label".into(),
            message: format!(
                "expected outputs 0, 1 and 2 labelled arousal, valence and dominance, found {:?}",
                cfg.id2label
            ),
        });
    }
    let mut provenance = BTreeMap::new();
    provenance.insert(
        "source".into(),
        serde_json::Value::String(format!(
            "published {} checkpoint",
            cfg.architectures.iter().flatten().next().map_or("", |s| s)
        )),
    );
    let manifest = Manifest {
        format: FORMAT.into(),
        version: VERSION,
        name: dir
            .file_name()
            .map_or_else(|| "published".into(), |n| n.to_string_lossy().into_owned()),
        audio: Some(AudioSpec {
            path: ".".into(),
            layers: LayerSelection::Last,
            pooling: PoolingKind::Mean,
            normalize: None,
        }),
        text: None,
        head: HeadSpec {
            weights: weights.into(),
            fusion: FusionKind::Early,
            hidden: vec![cfg.hidden_size],
            activation: Activation::Tanh,
            dropout: cfg.final_dropout.unwrap_or(0.0),
            audio_fallback: false,
            prefix: Some("classifier".into()),
            layer_names: Some(vec!["dense".into(), "out_proj".into()]),
            bounded: false,
            routing: None,
        },
        task: Task::Dimensional,
        labels: ids.into_iter().map(|(_, d)| d).collect(),
        categories: Vec::new(),
        output_range: [0.0, 1.0],
        sample_rate: 16_000,
        provenance,
        bf16_check: None,
    };
    manifest.validate(&config_path)?;
    Ok(Some(manifest))
}
