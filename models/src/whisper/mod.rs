//! Whisper speech recognition in candle: transcripts for the text branch.
//!
//! 16 kHz mono samples come in (a decoded file, or the engine's capture);
//! text with segment times goes out, for the transcript the text branch reads.
//! A model directory is either layout, and both load into the same module
//! tree, whose keys are transformers' `WhisperForConditionalGeneration`:
//!
//! - **Hugging Face**: `config.json` ([`WhisperConfig`]), `model.safetensors`
//!   (or `pytorch_model.bin`), `tokenizer.json`, and `generation_config.json`
//!   (alignment heads, suppressed tokens; optional).
//! - **CTranslate2 / faster-whisper**: `model.bin` (read by [`ct2`], float32,
//!   float16, bfloat16, int8 or int16 weights, restored to f32 and renamed to
//!   transformers' keys), `config.json` ([`Ct2Config`]: suppressed tokens,
//!   alignment heads) and `tokenizer.json`. The hyper-parameters come from
//!   the shapes in `model.bin`.
//!
//! The files of the folder:
//!
//! ```text
//! config.rs       WhisperConfig, GenerationConfig, Ct2Config, SpecialTokens
//! ct2.rs          model.bin reader and CTranslate2 -> transformers names
//! audio.rs        log-mel front end (WhisperFeatureExtractor)
//! model.rs        WhisperForConditionalGeneration: encoder, decoder, KV cache
//! cpu_conv.rs     the encoder's convs on the CPU (time-major GEMMs)
//! cpu_decoder.rs  the decoder's steps on the CPU (row products, f16-exact weights kept in f16)
//! decode.rs       greedy decoding and long-form transcription as openai-whisper does them
//! language.rs     spoken-language detection for multilingual models
//! timing.rs       word timestamps from the alignment heads' cross-attention (DTW)
//! ```
//!
//! ```no_run
//! use emoscope_models::whisper::{Whisper, TranscribeOptions};
//! let whisper = Whisper::load(std::path::Path::new("whisper-tiny.en"), &candle_core::Device::Cpu)?;
//! let samples = vec![0.0f32; 16_000 * 5];
//! let transcript = whisper.transcribe(&samples, &TranscribeOptions::default())?;
//! println!("{}", transcript.text());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod audio;
pub mod config;
mod cpu_conv;
mod cpu_decoder;
pub mod ct2;
pub mod decode;
pub mod language;
pub mod model;
pub mod timing;

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use tokenizers::Tokenizer;

pub use audio::{LogMel, Spectrogram};
pub use config::{Ct2Config, GenerationConfig, SpecialTokens, WhisperConfig};
pub use decode::{DecodeResult, Segment, TranscribeOptions, Transcript};
pub use language::{DetectedLanguage, LanguageProbability};
pub use model::{DecoderOutput, DecoderState, WhisperForConditionalGeneration};
pub use timing::{Alignment, Word};

use crate::error::{LoadError, RunError};
use crate::weights::Checkpoint;

/// Which files a model directory holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `config.json` + `model.safetensors` (transformers).
    HuggingFace,
    /// `model.bin` + `config.json` (CTranslate2, faster-whisper).
    CTranslate2,
}

/// A Whisper model with its tokenizer, front end and decoding settings.
pub struct Whisper {
    model: WhisperForConditionalGeneration,
    tokenizer: Tokenizer,
    specials: SpecialTokens,
    generation: GenerationConfig,
    mel: LogMel,
    layout: Layout,
    device: Device,
    /// Entered by [`Whisper::decode_window`] and [`Whisper::transcribe`].
    decode_span: tracing::Span,
    transcribe_span: tracing::Span,
}

fn read_json<T: for<'de> serde::Deserialize<'de>>(path: &Path) -> Result<T, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io {
        path: path.to_owned(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|source| LoadError::Json {
        path: path.to_owned(),
        source,
    })
}

/// The model of a directory in either layout: configuration and weights.
pub fn load_model(
    dir: &Path,
    device: &Device,
) -> Result<(WhisperForConditionalGeneration, GenerationConfig, Layout), LoadError> {
    let ct2_bin = dir.join("model.bin");
    if ct2_bin.exists() {
        let bin = ct2::Ct2Model::open(&ct2_bin)?;
        let cfg = ct2::whisper_config(&bin)?;
        cfg.validate(&ct2_bin)?;
        let tensors = ct2::whisper_tensors(&bin, &cfg, device)?;
        drop(bin);
        let ckpt = Checkpoint::from_tensors(tensors, &ct2_bin, DType::F32, device);
        let model = WhisperForConditionalGeneration::load(&cfg, &ckpt.root(""))?;
        let config_path = dir.join("config.json");
        let generation = if config_path.exists() {
            read_json::<Ct2Config>(&config_path)?.into()
        } else {
            GenerationConfig::default()
        };
        return Ok((model, generation, Layout::CTranslate2));
    }
    let config_path = dir.join("config.json");
    let cfg: WhisperConfig = read_json(&config_path)?;
    cfg.validate(&config_path)?;
    let ckpt = Checkpoint::open_dir(dir, DType::F32, device)?;
    let model = WhisperForConditionalGeneration::load(&cfg, &ckpt.root(""))?;
    let gen_path = dir.join("generation_config.json");
    let generation = if gen_path.exists() {
        read_json(&gen_path)?
    } else {
        // Older checkpoints keep the suppression lists in config.json.
        read_json(&config_path)?
    };
    Ok((model, generation, Layout::HuggingFace))
}

impl Whisper {
    /// Loads a model directory in either layout (see the module docs) onto `device`.
    pub fn load(dir: &Path, device: &Device) -> Result<Self, LoadError> {
        let (model, generation, layout) = load_model(dir, device)?;
        let tok_path: PathBuf = dir.join("tokenizer.json");
        let tokenizer = Tokenizer::from_file(&tok_path).map_err(|e| LoadError::Tokenizer {
            path: tok_path.clone(),
            message: e.to_string(),
        })?;
        let specials = SpecialTokens::from_tokenizer(&tokenizer, &tok_path)?;
        let vocab = model.config().vocab_size as u32;
        if specials.timestamp_begin >= vocab {
            return Err(LoadError::Tokenizer {
                path: tok_path,
                message: format!(
                    "<|notimestamps|> is {}, so timestamps would start at {}, past the model's vocabulary of {vocab}",
                    specials.no_timestamps, specials.timestamp_begin
                ),
            });
        }
        for &[layer, head] in &generation.alignment_heads {
            if layer >= model.config().decoder_layers
                || head >= model.config().decoder_attention_heads
            {
                return Err(LoadError::Unsupported {
                    path: dir.join(match layout {
                        Layout::HuggingFace => "generation_config.json",
                        Layout::CTranslate2 => "config.json",
                    }),
                    field: "alignment_heads".into(),
                    message: format!(
                        "[{layer}, {head}] is outside {} layers of {} heads",
                        model.config().decoder_layers,
                        model.config().decoder_attention_heads
                    ),
                });
            }
        }
        let mel = LogMel::new(model.config().num_mel_bins);
        Ok(Self {
            model,
            tokenizer,
            specials,
            generation,
            mel,
            layout,
            device: device.clone(),
            decode_span: tracing::span!(tracing::Level::TRACE, "whisper-decode-window"),
            transcribe_span: tracing::span!(tracing::Level::TRACE, "whisper-transcribe"),
        })
    }

    /// The network.
    pub fn model(&self) -> &WhisperForConditionalGeneration {
        &self.model
    }

    /// The network, to change how it runs ([`WhisperForConditionalGeneration::set_cpu_kernels`]).
    pub fn model_mut(&mut self) -> &mut WhisperForConditionalGeneration {
        &mut self.model
    }

    /// The tokenizer.
    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// The special tokens.
    pub fn specials(&self) -> &SpecialTokens {
        &self.specials
    }

    /// Decoding settings from the directory.
    pub fn generation(&self) -> &GenerationConfig {
        &self.generation
    }

    /// The front end.
    pub fn mel(&self) -> &LogMel {
        &self.mel
    }

    /// Which layout the directory had.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// Encodes one window of features `[n_mels, 3000]` (row-major values).
    pub fn encode_window(&self, features: &[f32]) -> Result<Tensor, RunError> {
        let n_mels = self.mel.n_mels();
        if features.len() != n_mels * audio::N_FRAMES {
            return Err(RunError::Input(format!(
                "{} feature values, expected {n_mels} × {}",
                features.len(),
                audio::N_FRAMES
            )));
        }
        let mel = Tensor::from_slice(features, (1, n_mels, audio::N_FRAMES), &self.device)?;
        Ok(self.model.encode(&mel)?)
    }

    /// Text of `tokens`, timestamps and other special tokens left out.
    pub fn decode_text(&self, tokens: &[u32]) -> Result<String, RunError> {
        let text: Vec<u32> = tokens
            .iter()
            .copied()
            .filter(|&t| t < self.specials.eot)
            .collect();
        self.tokenizer
            .decode(&text, false)
            .map_err(|e| RunError::Tokenize(e.to_string()))
    }
}
