//! `config.json` and `generation_config.json` of a Whisper checkpoint, and the
//! special tokens found in its `tokenizer.json`.
//!
//! [`WhisperConfig`] has the field names of transformers' `WhisperConfig`
//! (<https://github.com/huggingface/transformers/blob/main/src/transformers/models/whisper/configuration_whisper.py>),
//! so a Hugging Face directory loads unchanged; a CTranslate2 directory has no
//! such file (its `config.json` is [`Ct2Config`]) and the same struct is
//! derived from the shapes in `model.bin` (see [`super::ct2`]).
//! [`GenerationConfig`] holds what decoding needs from `generation_config.json`
//! (<https://github.com/huggingface/transformers/blob/main/src/transformers/generation/configuration_utils.py>,
//! Whisper's fields): the alignment heads for word timing and the token lists
//! to suppress. CTranslate2 stores the same lists under other names
//! (`suppress_ids`, `suppress_ids_begin`, `alignment_heads`).

use std::path::Path;

use serde::Deserialize;

use crate::error::LoadError;

/// Model hyper-parameters, as in transformers' `WhisperConfig`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct WhisperConfig {
    /// Vocabulary size (51864 for English-only models, 51865 or 51866 for multilingual ones).
    pub vocab_size: usize,
    /// Mel bins of the input (80, or 128 for large-v3).
    #[serde(default = "default_mels")]
    pub num_mel_bins: usize,
    /// Encoder transformer layers.
    pub encoder_layers: usize,
    /// Attention heads per encoder layer.
    pub encoder_attention_heads: usize,
    /// Decoder transformer layers.
    pub decoder_layers: usize,
    /// Attention heads per decoder layer.
    pub decoder_attention_heads: usize,
    /// Encoder feed-forward width.
    pub encoder_ffn_dim: usize,
    /// Decoder feed-forward width.
    pub decoder_ffn_dim: usize,
    /// Model width.
    pub d_model: usize,
    /// Encoder positions: 1500 frames of 20 ms, i.e. 30 s of audio.
    #[serde(default = "default_source_positions")]
    pub max_source_positions: usize,
    /// Decoder positions (448 tokens).
    #[serde(default = "default_target_positions")]
    pub max_target_positions: usize,
    /// Only `"gelu"` (the exact erf GELU) is supported.
    #[serde(default = "default_activation")]
    pub activation_function: String,
    /// Whether token embeddings are scaled by `sqrt(d_model)` (false for every Whisper release).
    #[serde(default)]
    pub scale_embedding: bool,
}

fn default_mels() -> usize {
    80
}
fn default_source_positions() -> usize {
    1500
}
fn default_target_positions() -> usize {
    448
}
fn default_activation() -> String {
    "gelu".into()
}

/// LayerNorm epsilon of every Whisper LayerNorm (`nn.LayerNorm`'s default).
pub const LAYER_NORM_EPS: f64 = 1e-5;

impl WhisperConfig {
    /// Checks what this implementation supports; `path` names the file in errors.
    pub fn validate(&self, path: &Path) -> Result<(), LoadError> {
        let unsupported = |field: &str, message: String| LoadError::Unsupported {
            path: path.to_owned(),
            field: field.to_owned(),
            message,
        };
        if self.activation_function != "gelu" {
            return Err(unsupported(
                "activation_function",
                format!("{:?} (only \"gelu\")", self.activation_function),
            ));
        }
        for (field, heads) in [
            ("encoder_attention_heads", self.encoder_attention_heads),
            ("decoder_attention_heads", self.decoder_attention_heads),
        ] {
            if heads == 0 || !self.d_model.is_multiple_of(heads) {
                return Err(unsupported(
                    field,
                    format!("{heads} does not divide d_model {}", self.d_model),
                ));
            }
        }
        Ok(())
    }

    /// Whether the model is multilingual (openai-whisper's rule: the vocabulary
    /// holds the language tokens, so it has at least 51865 entries).
    pub fn is_multilingual(&self) -> bool {
        self.vocab_size >= 51865
    }
}

/// What decoding needs from `generation_config.json` (all optional).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct GenerationConfig {
    /// `[layer, head]` pairs of decoder cross-attention heads that follow the
    /// audio in time (openai-whisper's `alignment_heads`), for word timing.
    #[serde(default)]
    pub alignment_heads: Vec<[usize; 2]>,
    /// Tokens never generated (symbols and speaker markers: openai-whisper's
    /// `non_speech_tokens`, plus the task tokens).
    #[serde(default)]
    pub suppress_tokens: Vec<u32>,
    /// Tokens not allowed as the first generated token (the blank `" "` and end of text).
    #[serde(default)]
    pub begin_suppress_tokens: Vec<u32>,
    /// The latest initial timestamp index (1.0 s at 0.02 s per index: 50).
    #[serde(default)]
    pub max_initial_timestamp_index: Option<usize>,
}

/// A CTranslate2 Whisper directory's `config.json` (`WhisperConfig` in
/// CTranslate2's `specs/whisper_spec.py`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Ct2Config {
    /// `generation_config.suppress_tokens` at conversion.
    #[serde(default)]
    pub suppress_ids: Vec<u32>,
    /// `generation_config.begin_suppress_tokens` at conversion.
    #[serde(default)]
    pub suppress_ids_begin: Vec<u32>,
    /// Language token ids.
    #[serde(default)]
    pub lang_ids: Vec<u32>,
    /// `[layer, head]` pairs, as in [`GenerationConfig::alignment_heads`].
    #[serde(default)]
    pub alignment_heads: Vec<[usize; 2]>,
}

impl From<Ct2Config> for GenerationConfig {
    fn from(c: Ct2Config) -> Self {
        GenerationConfig {
            alignment_heads: c.alignment_heads,
            suppress_tokens: c.suppress_ids,
            begin_suppress_tokens: c.suppress_ids_begin,
            max_initial_timestamp_index: None,
        }
    }
}

/// The special tokens decoding uses, looked up by their text in the
/// tokenizer (as CTranslate2 does), so both layouts and every model size agree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecialTokens {
    /// `<|endoftext|>`.
    pub eot: u32,
    /// `<|startoftranscript|>`.
    pub sot: u32,
    /// `<|transcribe|>`.
    pub transcribe: u32,
    /// `<|translate|>`.
    pub translate: u32,
    /// `<|startoflm|>`.
    pub sot_lm: u32,
    /// `<|startofprev|>`.
    pub sot_prev: u32,
    /// `<|nospeech|>` (or `<|nocaptions|>` in older tokenizers).
    pub no_speech: u32,
    /// `<|notimestamps|>`.
    pub no_timestamps: u32,
    /// The first timestamp token, `<|0.00|>` (`no_timestamps + 1`).
    pub timestamp_begin: u32,
    /// `<|en|>` when the model is multilingual.
    pub english: Option<u32>,
}

impl SpecialTokens {
    /// Looks the tokens up in `tokenizer`; `path` names `tokenizer.json` in errors.
    pub fn from_tokenizer(
        tokenizer: &tokenizers::Tokenizer,
        path: &Path,
    ) -> Result<Self, LoadError> {
        let id = |names: &[&str]| -> Result<u32, LoadError> {
            names
                .iter()
                .find_map(|n| tokenizer.token_to_id(n))
                .ok_or_else(|| LoadError::Tokenizer {
                    path: path.to_owned(),
                    message: format!("no special token {}", names.join(" or ")),
                })
        };
        let no_timestamps = id(&["<|notimestamps|>"])?;
        Ok(Self {
            eot: id(&["<|endoftext|>"])?,
            sot: id(&["<|startoftranscript|>"])?,
            transcribe: id(&["<|transcribe|>"])?,
            translate: id(&["<|translate|>"])?,
            sot_lm: id(&["<|startoflm|>"])?,
            sot_prev: id(&["<|startofprev|>"])?,
            no_speech: id(&["<|nospeech|>", "<|nocaptions|>"])?,
            no_timestamps,
            timestamp_begin: no_timestamps + 1,
            english: tokenizer.token_to_id("<|en|>"),
        })
    }
}
