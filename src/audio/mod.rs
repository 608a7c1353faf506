//! Audio input: decode any file symphonia reads, down-mix to mono, and
//! resample to the model's rate with rubato.
//!
//! Data comes from files on disk and goes to the encoder as `Vec<f32>` at the
//! model's sample rate (16 kHz for every HuBERT / wav2vec2 checkpoint).

mod decode;
mod probe;
mod resample;
pub mod vad;

use std::path::{Path, PathBuf};

pub use decode::{decode_file, Decoded};
pub use probe::probe_seconds;
pub use resample::resample_mono;

/// Why an audio file could not be turned into model input.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    /// The file could not be opened.
    #[error("cannot open {path}: {source}")]
    Open {
        /// The audio file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The container or codec is not readable.
    #[error("cannot decode {path}: {message}")]
    Decode {
        /// The audio file.
        path: PathBuf,
        /// symphonia's description.
        message: String,
    },
    /// The file decodes to no samples.
    #[error("{path} contains no audio samples")]
    Empty {
        /// The audio file.
        path: PathBuf,
    },
    /// The file holds NaN or infinite samples (a corrupt float WAV, say).
    #[error("{path}: sample {index} (channel {channel}) is {value}; the file is corrupt")]
    NonFinite {
        /// The audio file.
        path: PathBuf,
        /// Frame index of the first bad sample.
        index: usize,
        /// Channel of the first bad sample.
        channel: usize,
        /// The value found.
        value: f32,
    },
    /// The resampler could not be built or run for these rates.
    #[error("cannot resample {from} Hz to {to} Hz: {message}")]
    Resample {
        /// Source rate.
        from: u32,
        /// Target rate.
        to: u32,
        /// rubato's description.
        message: String,
    },
}

/// Decodes `path`, checks every sample is finite, averages the channels and
/// resamples to `rate` Hz.
pub fn load_mono(path: &Path, rate: u32) -> Result<Vec<f32>, AudioError> {
    let decoded = decode_file(path)?;
    let mono = downmix_checked(&decoded, path)?;
    resample_mono(&mono, decoded.sample_rate, rate)
}

/// Averages the channels of `decoded` (read from `path`, named in errors)
/// after checking every sample is finite; errors on an empty file.
pub fn downmix_checked(decoded: &Decoded, path: &Path) -> Result<Vec<f32>, AudioError> {
    let channels = decoded.channels.max(1);
    if let Some((i, &value)) = decoded
        .samples
        .iter()
        .enumerate()
        .find(|(_, v)| !v.is_finite())
    {
        return Err(AudioError::NonFinite {
            path: path.to_owned(),
            index: i / channels,
            channel: i % channels,
            value,
        });
    }
    let mono: Vec<f32> = decoded
        .samples
        .chunks_exact(channels)
        .map(|frame| frame.iter().sum::<f32>() / channels as f32)
        .collect();
    if mono.is_empty() {
        return Err(AudioError::Empty {
            path: path.to_owned(),
        });
    }
    Ok(mono)
}
