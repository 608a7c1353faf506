//! Export of every hidden state to safetensors, for probing and for checking
//! the encoder from outside (e.g. against transformers in Python).
//!
//! Tensors are named `hidden_states.N` (N = 0 is the encoder input, N = L the
//! last layer's output), f32, shape `[frames, hidden]`, plus
//! `last_hidden_state` (after the final LayerNorm of stable-LN models).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Tensor};
use emoscope_models::EncoderOutput;

/// Why the features could not be written.
#[derive(Debug, thiserror::Error)]
pub enum FeaturesError {
    /// The output holds a batch of more than one item.
    #[error("expected a batch of one utterance, got {0}")]
    Batch(usize),
    /// Converting or saving the tensors failed (unwritable path, full disk, ...).
    #[error("cannot write {path}: {source}")]
    Write {
        /// The output file.
        path: PathBuf,
        /// candle's error, which wraps the I/O error.
        #[source]
        source: candle_core::Error,
    },
}

/// The tensors [`write_hidden_states`] saves, keyed by name, each `[frames, hidden]` f32.
pub fn hidden_state_tensors(
    out: &EncoderOutput,
) -> Result<HashMap<String, Tensor>, candle_core::Error> {
    let mut map = HashMap::new();
    for (i, h) in out.hidden_states.iter().enumerate() {
        map.insert(
            format!("hidden_states.{i}"),
            h.squeeze(0)?.to_dtype(DType::F32)?,
        );
    }
    map.insert(
        "last_hidden_state".to_owned(),
        out.last_hidden_state.squeeze(0)?.to_dtype(DType::F32)?,
    );
    Ok(map)
}

/// Writes the hidden states of a single-utterance forward pass to `path`.
/// The file is written to a temporary name first and renamed, so a failure
/// never leaves a truncated file at `path`.
pub fn write_hidden_states(out: &EncoderOutput, path: &Path) -> Result<(), FeaturesError> {
    let batch = out.last_hidden_state.dim(0).unwrap_or(0);
    if batch != 1 {
        return Err(FeaturesError::Batch(batch));
    }
    let write = |source| FeaturesError::Write {
        path: path.to_owned(),
        source,
    };
    let tensors = hidden_state_tensors(out).map_err(write)?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".partial");
    let tmp = PathBuf::from(tmp);
    candle_core::safetensors::save(&tensors, &tmp).map_err(write)?;
    std::fs::rename(&tmp, path).map_err(|e| write(candle_core::Error::from(e)))
}
