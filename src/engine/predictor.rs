//! What the engine runs on each window: anything that maps 16 kHz mono audio
//! (and the window's transcript text) to arousal, valence and dominance.
//!
//! [`EncoderHead`] is the predictor available until the emotion-model format
//! lands: a speech encoder, mean pooling of its last hidden state over time,
//! and a linear head to A/V/D read from `head.safetensors` in the model
//! directory (`head.weight` `[3, hidden]`, `head.bias` `[3]`, rows in A, V, D
//! order).

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use emoscope_models::{LoadOptions, SslEncoder};

/// Arousal, valence and dominance.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Avd {
    /// Arousal.
    pub arousal: f32,
    /// Valence.
    pub valence: f32,
    /// Dominance.
    pub dominance: f32,
}

/// Why a predictor could not be loaded or run.
#[derive(Debug, thiserror::Error)]
pub enum PredictError {
    /// Loading the encoder failed.
    #[error(transparent)]
    Load(#[from] emoscope_models::LoadError),
    /// The head file is missing or malformed.
    #[error("{path}: {message}")]
    Head {
        /// The head file.
        path: std::path::PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// The forward pass failed.
    #[error(transparent)]
    Run(#[from] emoscope_models::RunError),
    /// A tensor operation failed.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

/// A model the engine can run on analysis windows.
pub trait EmotionPredictor: Send {
    /// A short identifier recorded with every timeline entry (the model directory name).
    fn id(&self) -> &str;
    /// The device it runs on, for the status line.
    fn device(&self) -> String;
    /// Sample rate it expects (16 kHz for HuBERT-family encoders).
    fn sample_rate(&self) -> u32;
    /// Predicts A/V/D for one window of mono samples at [`Self::sample_rate`];
    /// `text` is the transcript overlapping the window (may be empty).
    fn predict(&mut self, samples: &[f32], text: &str) -> Result<Avd, PredictError>;
    /// The range the outputs are declared in (`min`, `max`), the same for the
    /// three dimensions. Meters and MIDI CC map this range onto their full
    /// scale; values outside it are clamped there, never here.
    fn output_range(&self) -> (f32, f32) {
        (0.0, 1.0)
    }
}

/// Loads whatever model directory the user points at into a predictor: the
/// one entry point the plugin, the CLI and the worker use, so that every
/// checkpoint kind Emoscope supports is accepted everywhere.
pub fn load_predictor(
    dir: &Path,
    device: &Device,
) -> Result<Box<dyn EmotionPredictor>, PredictError> {
    Ok(Box::new(EncoderHead::load(dir, device)?))
}

/// Speech encoder + mean pooling + linear A/V/D head.
pub struct EncoderHead {
    encoder: SslEncoder,
    /// `[3, hidden]`.
    weight: Tensor,
    /// `[3]`.
    bias: Tensor,
    id: String,
}

impl EncoderHead {
    /// Loads the encoder checkpoint in `dir` and its `head.safetensors`.
    pub fn load(dir: &Path, device: &Device) -> Result<Self, PredictError> {
        let opts = LoadOptions {
            device: device.clone(),
            ..LoadOptions::default()
        };
        let encoder = SslEncoder::load_with(dir, &opts)?;
        let path = dir.join("head.safetensors");
        let head = |message: String| PredictError::Head {
            path: path.clone(),
            message,
        };
        let tensors =
            candle_core::safetensors::load(&path, device).map_err(|e| head(e.to_string()))?;
        let hidden = encoder.config().hidden_size;
        let get = |key: &str, shape: &[usize]| -> Result<Tensor, PredictError> {
            let t = tensors
                .get(key)
                .ok_or_else(|| head(format!("missing tensor `{key}`")))?;
            if t.dims() != shape {
                return Err(head(format!(
                    "tensor `{key}` has shape {:?}, expected {shape:?}",
                    t.dims()
                )));
            }
            Ok(t.to_dtype(DType::F32)?)
        };
        let weight = get("head.weight", &[3, hidden])?;
        let bias = get("head.bias", &[3])?;
        let id = dir.file_name().map_or_else(
            || dir.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        Ok(Self {
            encoder,
            weight,
            bias,
            id,
        })
    }
}

impl EmotionPredictor for EncoderHead {
    fn id(&self) -> &str {
        &self.id
    }

    fn device(&self) -> String {
        format!("{:?}", self.encoder.device())
    }

    fn sample_rate(&self) -> u32 {
        self.encoder.preprocessor().sampling_rate
    }

    fn predict(&mut self, samples: &[f32], _text: &str) -> Result<Avd, PredictError> {
        let out = self.encoder.encode(samples)?;
        // [1, frames, hidden] -> mean over frames -> [1, hidden] -> [1, 3].
        let pooled = out.last_hidden_state.mean(1)?.to_dtype(DType::F32)?;
        let y = pooled
            .matmul(&self.weight.t()?)?
            .broadcast_add(&self.bias)?;
        let v = y.squeeze(0)?.to_vec1::<f32>()?;
        Ok(Avd {
            arousal: v[0],
            valence: v[1],
            dominance: v[2],
        })
    }
}
