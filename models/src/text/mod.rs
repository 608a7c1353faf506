//! The text branch: BERT, DistilBERT and RoBERTa / XLM-R sentence encoders
//! with the `tokenizers` crate.
//!
//! A model directory is laid out like a sentence-transformers one:
//! `config.json`, `model.safetensors`, `tokenizer.json`, and optionally
//! `sentence_bert_config.json` (`max_seq_length`), `1_Pooling/config.json`
//! (`pooling_mode_cls_token` / `pooling_mode_mean_tokens`) and `modules.json`
//! (a `Normalize` module turns on L2 normalisation). Text is embedded as
//! sentence-transformers does: tokens with special tokens, last hidden state,
//! masked mean (or the CLS token), normalised if configured.
//!
//! Text longer than `max_seq_length` tokens is split into overlapping windows
//! (see [`TextEncoder::windows`]) whose pooled embeddings are averaged before
//! normalisation; sentence-transformers itself truncates, and the two agree
//! whenever the text fits one window. Windows of one or several texts run as
//! one padded batch with an attention mask.
//!
//! The backbones are written here ([`bert`], [`distilbert`]) rather than
//! taken from candle-transformers, whose DistilBERT uses the tanh GELU and
//! whose LayerNorms have no backward pass; ours are equal to transformers and
//! can be fine-tuned. Their weights come through [`Vb`], like every other
//! family's: a [`Checkpoint`] over `model.safetensors` ([`TextEncoder::load`])
//! or training's `VarBuilder` ([`TextEncoder::load_with`]), so a missing or
//! mis-shaped tensor names the file, the key and the shapes.

mod attention;
pub mod bert;
pub mod distilbert;

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use serde::Deserialize;
use tokenizers::Tokenizer;

use crate::error::{LoadError, RunError};
use crate::weights::{Checkpoint, Vb};

/// How token states become one sentence vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextPooling {
    /// Mean over the real tokens (sentence-transformers' default).
    Mean,
    /// The first (CLS / `<s>`) token.
    Cls,
}

enum Backbone {
    /// BERT and RoBERTa / XLM-R.
    Bert(bert::BertModel),
    DistilBert(distilbert::DistilBertModel),
}

/// A sentence encoder with its tokenizer.
pub struct TextEncoder {
    backbone: Backbone,
    tokenizer: Tokenizer,
    pooling: TextPooling,
    normalize: bool,
    /// Tokens per window, special tokens included.
    max_len: usize,
    /// Special tokens the tokenizer puts before and after a single sequence.
    prefix: Vec<u32>,
    suffix: Vec<u32>,
    /// Id used to pad windows in a batch (RoBERTa skips it when numbering positions).
    pad_id: u32,
    hidden: usize,
    device: Device,
    span: tracing::Span,
}

#[derive(Deserialize)]
struct ModelType {
    model_type: String,
    #[serde(default)]
    hidden_size: Option<usize>,
    #[serde(default)]
    dim: Option<usize>,
    max_position_embeddings: usize,
    #[serde(default)]
    pad_token_id: Option<u32>,
}

#[derive(Deserialize)]
struct StConfig {
    max_seq_length: usize,
}

#[derive(Deserialize)]
struct PoolingConfig {
    #[serde(default)]
    pooling_mode_cls_token: bool,
    #[serde(default)]
    pooling_mode_mean_tokens: bool,
}

#[derive(Deserialize)]
struct Module {
    #[serde(rename = "type")]
    kind: String,
}

fn read_text(path: &Path) -> Result<String, LoadError> {
    std::fs::read_to_string(path).map_err(|source| LoadError::Io {
        path: path.to_owned(),
        source,
    })
}

fn parse_json<T: for<'de> Deserialize<'de>>(path: &Path, text: &str) -> Result<T, LoadError> {
    serde_json::from_str(text).map_err(|source| LoadError::Json {
        path: path.to_owned(),
        source,
    })
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, LoadError> {
    parse_json(path, &read_text(path)?)
}

/// The text directory's weights file, which must exist.
pub fn weights_path(dir: &Path) -> Result<std::path::PathBuf, LoadError> {
    let weights = dir.join("model.safetensors");
    if weights.exists() {
        Ok(weights)
    } else {
        Err(LoadError::Io {
            path: weights,
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        })
    }
}

impl TextEncoder {
    /// Loads a sentence encoder directory (see the module docs) onto `device`.
    pub fn load(dir: &Path, device: &Device) -> Result<Self, LoadError> {
        let weights = weights_path(dir)?;
        let ckpt = Checkpoint::open(std::slice::from_ref(&weights), DType::F32, device)?;
        let encoder = Self::load_from(dir, &ckpt.root(""))?;
        Ok(encoder)
    }

    /// Loads the configuration and tokenizer from `dir` and the weights from
    /// a candle `VarBuilder` (rooted where the checkpoint's keys start).
    /// Training passes a builder over trainable variables initialised from
    /// the checkpoint; errors name `dir/model.safetensors`.
    pub fn load_with(dir: &Path, vb: VarBuilder<'_>) -> Result<Self, LoadError> {
        Self::load_from(
            dir,
            &Vb::from_var_builder(vb, &dir.join("model.safetensors")),
        )
    }

    /// Loads the configuration and tokenizer from `dir` and the weights from
    /// `vb`, rooted where the checkpoint's keys start (a `bert.`, `roberta.`
    /// or `distilbert.` prefix under it is found by itself).
    pub fn load_from(dir: &Path, vb: &Vb<'_>) -> Result<Self, LoadError> {
        let device = vb.device().clone();
        let config_path = dir.join("config.json");
        let config_text = read_text(&config_path)?;
        let kind: ModelType = parse_json(&config_path, &config_text)?;
        let (backbone, position_budget) = match kind.model_type.as_str() {
            "bert" | "roberta" | "xlm-roberta" => {
                let cfg: bert::Config = parse_json(&config_path, &config_text)?;
                if cfg.position_embedding_type != "absolute" {
                    return Err(LoadError::Unsupported {
                        path: config_path.clone(),
                        field: "position_embedding_type".into(),
                        message: format!("found {:?}, only \"absolute\" is supported", cfg.position_embedding_type),
                    });
                }
                let prefix = if cfg.model_type == "bert" { "bert" } else { "roberta" };
                let vb = if vb.contains(&format!("{prefix}.embeddings.word_embeddings.weight")) {
                    vb.pp(prefix)
                } else {
                    vb.clone()
                };
                // RoBERTa's positions start after the padding index, so that many are unusable.
                let budget = if cfg.roberta_positions() {
                    kind.max_position_embeddings.saturating_sub(cfg.pad_token_id as usize + 1)
                } else {
                    kind.max_position_embeddings
                };
                (Backbone::Bert(bert::BertModel::load(&cfg, &vb)?), budget)
            }
            "distilbert" => {
                let cfg: distilbert::Config = parse_json(&config_path, &config_text)?;
                let vb = if vb.contains("distilbert.embeddings.word_embeddings.weight") {
                    vb.pp("distilbert")
                } else {
                    vb.clone()
                };
                (
                    Backbone::DistilBert(distilbert::DistilBertModel::load(&cfg, &vb)?),
                    kind.max_position_embeddings,
                )
            }
            other => {
                return Err(LoadError::Unsupported {
                    path: config_path.clone(),
                    field: "model_type".into(),
                    message: format!(
                        "found {other:?}, expected \"bert\", \"distilbert\", \"roberta\" or \"xlm-roberta\""
                    ),
                })
            }
        };
        let hidden = kind
            .hidden_size
            .or(kind.dim)
            .ok_or_else(|| LoadError::Unsupported {
                path: config_path.clone(),
                field: "hidden_size".into(),
                message: "neither hidden_size nor dim is set".into(),
            })?;
        let st_path = dir.join("sentence_bert_config.json");
        let max_len = if st_path.exists() {
            read_json::<StConfig>(&st_path)?.max_seq_length
        } else {
            position_budget
        }
        .min(position_budget);
        let pooling_path = dir.join("1_Pooling/config.json");
        let pooling = if pooling_path.exists() {
            let p: PoolingConfig = read_json(&pooling_path)?;
            match (p.pooling_mode_cls_token, p.pooling_mode_mean_tokens) {
                (true, false) => TextPooling::Cls,
                (false, true) => TextPooling::Mean,
                _ => {
                    return Err(LoadError::Unsupported {
                        path: pooling_path,
                        field: "pooling_mode_*".into(),
                        message: "exactly one of pooling_mode_cls_token and pooling_mode_mean_tokens must be set"
                            .into(),
                    })
                }
            }
        } else {
            TextPooling::Mean
        };
        let modules_path = dir.join("modules.json");
        let normalize = modules_path.exists()
            && read_json::<Vec<Module>>(&modules_path)?
                .iter()
                .any(|m| m.kind.ends_with("Normalize"));
        let tok_path = dir.join("tokenizer.json");
        let tok_err = |message: String| LoadError::Tokenizer {
            path: tok_path.clone(),
            message,
        };
        if !tok_path.exists() {
            return Err(tok_err(
                "file not found (the text branch needs the model's tokenizer.json)".into(),
            ));
        }
        let mut tokenizer = Tokenizer::from_file(&tok_path).map_err(|e| tok_err(e.to_string()))?;
        // Windows are cut here, not by the tokenizer's own truncation or padding.
        tokenizer
            .with_truncation(None)
            .map_err(|e| tok_err(e.to_string()))?;
        tokenizer.with_padding(None);
        // Which special tokens wrap a single sequence: encode a probe and read the mask.
        let probe = tokenizer
            .encode("a", true)
            .map_err(|e| tok_err(e.to_string()))?;
        let mask = probe.get_special_tokens_mask();
        let ids = probe.get_ids();
        let lead = mask.iter().take_while(|&&m| m == 1).count();
        let trail = mask.iter().rev().take_while(|&&m| m == 1).count();
        if lead + trail >= ids.len() {
            return Err(tok_err(
                "the tokenizer produced no content token for the probe text \"a\"".into(),
            ));
        }
        let (prefix, suffix) = (ids[..lead].to_vec(), ids[ids.len() - trail..].to_vec());
        if max_len <= lead + trail {
            return Err(LoadError::Unsupported {
                path: st_path,
                field: "max_seq_length".into(),
                message: format!(
                    "{max_len} leaves no room beside {} special tokens",
                    lead + trail
                ),
            });
        }
        Ok(Self {
            backbone,
            tokenizer,
            pooling,
            normalize,
            max_len,
            prefix,
            suffix,
            pad_id: kind.pad_token_id.unwrap_or(0),
            hidden,
            device,
            span: tracing::span!(tracing::Level::TRACE, "text-encoder"),
        })
    }

    /// Width of the sentence embedding.
    pub fn hidden_size(&self) -> usize {
        self.hidden
    }

    /// Tokens per window, special tokens included.
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// The pooling in use.
    pub fn pooling(&self) -> TextPooling {
        self.pooling
    }

    /// Overrides the pooling read from the directory (an emotion checkpoint may choose its own).
    pub fn set_pooling(&mut self, pooling: TextPooling) {
        self.pooling = pooling;
    }

    /// Whether embeddings are L2-normalised.
    pub fn normalizes(&self) -> bool {
        self.normalize
    }

    /// The device the encoder runs on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Token ids of each window of `text`, special tokens included.
    ///
    /// The text is tokenized without special tokens into `n` content tokens.
    /// With `body = max_len - specials`, a text of at most `body` tokens is
    /// one window. Longer text is cut into windows of `body` tokens starting
    /// every `body - body / 4` tokens (a quarter of each window overlaps the
    /// next), the last one ending at the end of the text; each window gets
    /// the tokenizer's special tokens around it.
    pub fn windows(&self, text: &str) -> Result<Vec<Vec<u32>>, RunError> {
        let enc = self
            .tokenizer
            .encode(text, false)
            .map_err(|e| RunError::Tokenize(e.to_string()))?;
        let content = enc.get_ids();
        let body = self.max_len - self.prefix.len() - self.suffix.len();
        let step = body - body / 4;
        let mut out = Vec::new();
        let mut start = 0;
        loop {
            let end = (start + body).min(content.len());
            let mut ids = self.prefix.clone();
            ids.extend_from_slice(&content[start..end]);
            ids.extend_from_slice(&self.suffix);
            out.push(ids);
            if end == content.len() {
                return Ok(out);
            }
            start += step;
        }
    }

    /// Last hidden states `[windows, tokens, hidden]` of right-padded windows
    /// and their mask `[windows, tokens]` (1 for real tokens), in f32.
    pub fn forward_windows(&self, windows: &[Vec<u32>]) -> Result<(Tensor, Tensor), RunError> {
        let _enter = self.span.enter();
        let n = windows.iter().map(Vec::len).max().unwrap_or(0);
        if n == 0 {
            return Err(RunError::Input("no window to encode".into()));
        }
        let mut ids = Vec::with_capacity(windows.len() * n);
        let mut mask = Vec::with_capacity(windows.len() * n);
        for w in windows {
            ids.extend_from_slice(w);
            ids.extend(std::iter::repeat_n(self.pad_id, n - w.len()));
            mask.extend(std::iter::repeat_n(1u32, w.len()));
            mask.extend(std::iter::repeat_n(0u32, n - w.len()));
        }
        let shape = (windows.len(), n);
        let ids = Tensor::from_vec(ids, shape, &self.device)?;
        let mask = Tensor::from_vec(mask, shape, &self.device)?;
        let h = match &self.backbone {
            Backbone::Bert(m) => m.forward(&ids, &mask)?,
            Backbone::DistilBert(m) => m.forward(&ids, &mask)?,
        };
        Ok((h.to_dtype(DType::F32)?, mask.to_dtype(DType::F32)?))
    }

    /// Last hidden state `[tokens, hidden]` of one window of token ids.
    pub fn last_hidden_state(&self, ids: &[u32]) -> Result<Tensor, RunError> {
        Ok(self.forward_windows(&[ids.to_vec()])?.0.squeeze(0)?)
    }

    /// Sentence embeddings `[texts, hidden]` of several texts, all windows in
    /// one batch. Differentiable with respect to the backbone's weights.
    pub fn embed_batch(&self, texts: &[&str]) -> Result<Tensor, RunError> {
        let mut windows = Vec::new();
        let mut owner = Vec::new();
        for (i, t) in texts.iter().enumerate() {
            let w = self.windows(t)?;
            owner.extend(std::iter::repeat_n(i, w.len()));
            windows.extend(w);
        }
        let (h, mask) = self.forward_windows(&windows)?;
        let pooled = match self.pooling {
            // Masked mean: sum of real tokens over their count.
            TextPooling::Mean => h
                .broadcast_mul(&mask.unsqueeze(2)?)?
                .sum(1)?
                .broadcast_div(&mask.sum_keepdim(1)?)?,
            TextPooling::Cls => h.narrow(1, 0, 1)?.squeeze(1)?,
        };
        // Mean over each text's windows: a [texts, windows] averaging matrix.
        let mut avg = vec![0f32; texts.len() * windows.len()];
        for (j, &i) in owner.iter().enumerate() {
            avg[i * windows.len() + j] = 1.0;
        }
        let avg = Tensor::from_vec(avg, (texts.len(), windows.len()), &self.device)?;
        let counts = avg.sum_keepdim(1)?;
        let mut e = avg.matmul(&pooled)?.broadcast_div(&counts)?;
        if self.normalize {
            let norm = e.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12, f64::MAX)?;
            e = e.broadcast_div(&norm)?;
        }
        Ok(e)
    }

    /// The sentence embedding of `text` (`hidden_size` values).
    pub fn embed(&self, text: &str) -> Result<Vec<f32>, RunError> {
        Ok(self.embed_batch(&[text])?.squeeze(0)?.to_vec1::<f32>()?)
    }
}
