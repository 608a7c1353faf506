//! Audio input: decode any file symphonia reads, down-mix to mono, and
//! resample to the model's rate with rubato.
//!
//! Data comes from files on disk and goes to the encoder as `Vec<f32>` at the
//! model's sample rate (16 kHz for every HuBERT / wav2vec2 checkpoint).
//! [`MonoStream`] and [`StreamResampler`] do the same block by block, with
//! the same samples, for recordings too long to hold.

mod decode;
mod probe;
mod resample;
pub mod vad;

use std::path::{Path, PathBuf};

pub use decode::{decode_file, DecodeStream, Decoded, Gap, Truncation, MAX_GAP_SECONDS};
pub use probe::probe_seconds;
pub use resample::{resample_mono, ResampleError, StreamResampler};

/// The lowest sample rate a file may state: 8 kHz, the lowest rate speech is
/// recorded at (telephony). A header below it is corrupt or not speech, and
/// resampling it to the model's 16 kHz would multiply its length (a 227 KB
/// file claiming 1 Hz would become 7 GB of samples). The engine's analyser
/// (`src/engine/analyser.rs`) accepts the same range of host rates.
pub const MIN_SAMPLE_RATE: u32 = 8_000;

/// The highest sample rate a file may state: 384 kHz, the highest rate DAWs
/// and audio interfaces commonly offer (and the engine's analyser accepts).
pub const MAX_SAMPLE_RATE: u32 = 384_000;

/// Extensions of the audio files a folder search picks up (lower case): the
/// containers and codecs the decoder is built with (WAV, FLAC, MP3, Ogg
/// Vorbis, AIFF, MP4/M4A with AAC or ALAC).
pub const AUDIO_EXTENSIONS: [&str; 11] = [
    "wav", "wave", "flac", "mp3", "ogg", "oga", "aif", "aiff", "aifc", "m4a", "mp4",
];

/// Whether `path` has one of [`AUDIO_EXTENSIONS`] (in any case).
pub fn is_audio(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| AUDIO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Appends the audio files ([`is_audio`]) below `dir` to `out`, skipping
/// hidden entries and not descending into the folder `skip` (an output
/// folder inside the searched one, given as an absolute path).
pub fn find_audio_files(dir: &Path, skip: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let ty = entry.file_type()?;
        if ty.is_dir() || (ty.is_symlink() && path.is_dir()) {
            if std::path::absolute(&path).is_ok_and(|d| d == skip) {
                continue;
            }
            find_audio_files(&path, skip, out)?;
        } else if is_audio(&path) {
            out.push(path);
        }
    }
    Ok(())
}

/// Why an audio file could not be turned into model input.
///
/// Each message is complete on its own (it names the file and includes the
/// underlying cause), so none of the variants also returns the cause as its
/// `source()`: an error chain printer would otherwise repeat it.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    /// The file could not be opened.
    #[error("cannot open {path}: {error}")]
    Open {
        /// The audio file.
        path: PathBuf,
        /// The I/O error.
        error: std::io::Error,
    },
    /// The file has no bytes at all.
    #[error("{path} is empty (0 bytes)")]
    EmptyFile {
        /// The audio file.
        path: PathBuf,
    },
    /// The container or codec is not readable.
    #[error("cannot decode {path}: {message}")]
    Decode {
        /// The audio file.
        path: PathBuf,
        /// symphonia's description, and what to do where we know.
        message: String,
    },
    /// The header states a sample rate outside
    /// [`MIN_SAMPLE_RATE`]`..=`[`MAX_SAMPLE_RATE`].
    #[error(
        "{path}: the header states a sample rate of {rate} Hz; supported rates are \
         {MIN_SAMPLE_RATE} to {MAX_SAMPLE_RATE} Hz (is the header corrupt?)"
    )]
    SampleRate {
        /// The audio file.
        path: PathBuf,
        /// The rate stated.
        rate: u32,
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
    #[error(transparent)]
    Resample(#[from] ResampleError),
}

/// `rate` if it lies in the supported range, else the error naming `path`.
pub fn check_sample_rate(path: &Path, rate: u32) -> Result<u32, AudioError> {
    if (MIN_SAMPLE_RATE..=MAX_SAMPLE_RATE).contains(&rate) {
        Ok(rate)
    } else {
        Err(AudioError::SampleRate {
            path: path.to_owned(),
            rate,
        })
    }
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

/// A file decoded and down-mixed block by block, with the checks of
/// [`downmix_checked`]: each block is one packet's frames, averaged over the
/// channels; a non-finite sample is an error naming its frame in the whole
/// file; a file without samples is an error at the end.
pub struct MonoStream {
    decoder: DecodeStream,
    /// Frames returned so far.
    frames: usize,
    block: Vec<f32>,
}

impl MonoStream {
    /// Opens `path` (see [`DecodeStream::open`]).
    pub fn open(path: &Path) -> Result<Self, AudioError> {
        Ok(Self {
            decoder: DecodeStream::open(path)?,
            frames: 0,
            block: Vec::new(),
        })
    }

    /// The next block of mono samples; `None` at the end of the file.
    pub fn next_block(&mut self) -> Result<Option<&[f32]>, AudioError> {
        Ok(self.advance()?.then_some(self.block.as_slice()))
    }

    /// [`Self::next_block`] without the borrow: reads the next block, which
    /// [`Self::block`] then holds; false at the end of the file.
    pub fn advance(&mut self) -> Result<bool, AudioError> {
        if !self.decoder.advance()? {
            if self.frames == 0 {
                return Err(AudioError::Empty {
                    path: self.path().to_owned(),
                });
            }
            return Ok(false);
        }
        let (_, channels) = self.decoder.format()?;
        let interleaved = self.decoder.block();
        if let Some((i, &value)) = interleaved.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(AudioError::NonFinite {
                path: self.path().to_owned(),
                index: self.frames + i / channels,
                channel: i % channels,
                value,
            });
        }
        self.block.clear();
        self.block.extend(
            interleaved
                .chunks_exact(channels)
                .map(|frame| frame.iter().sum::<f32>() / channels as f32),
        );
        self.frames += self.block.len();
        Ok(true)
    }

    /// The block [`Self::advance`] read.
    pub fn block(&self) -> &[f32] {
        &self.block
    }

    /// The file's sample rate (known once a block has been read, or from the header).
    pub fn sample_rate(&self) -> Result<u32, AudioError> {
        Ok(self.decoder.format()?.0)
    }

    /// Frames returned so far (all of them after the last block).
    pub fn frames(&self) -> usize {
        self.frames
    }

    /// The corrupt stretches found so far: see [`DecodeStream::gaps`].
    pub fn gaps(&self) -> &[Gap] {
        self.decoder.gaps()
    }

    /// After the last block: see [`DecodeStream::truncation`].
    pub fn truncation(&self) -> Option<Truncation> {
        self.decoder.truncation()
    }

    /// The file.
    pub fn path(&self) -> &Path {
        self.decoder.path()
    }
}
