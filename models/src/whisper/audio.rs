//! Whisper's log-mel front end, equal to transformers' `WhisperFeatureExtractor`
//! (and to openai-whisper's `log_mel_spectrogram`).
//!
//! 16 kHz mono samples in; `[n_mels, frames]` features out, one frame per
//! 10 ms, for the encoder. The steps, as `feature_extraction_whisper.py` does them:
//!
//! 1. a 400-sample periodic Hann window every 160 samples, centred (the signal
//!    is padded by 200 samples at each end by reflection);
//! 2. the power spectrum of each frame (201 bins), by a real FFT (`realfft`,
//!    already in the workspace through `rubato`);
//! 3. a Slaney-normalised mel filter bank on the Slaney mel scale, 0 to 8 kHz,
//!    80 or 128 filters, computed here as `audio_utils.mel_filter_bank` does;
//! 4. the last frame is dropped, `log10(max(mel, 1e-10))`, values more than 8
//!    below the maximum are raised to it, and `(x + 4) / 4`.
//!
//! [`LogMel::window`] pads or trims to 30 s first, as the feature extractor
//! does (3000 frames); [`LogMel::spectrogram`] appends 30 s of silence to a
//! whole recording, as openai-whisper's `transcribe` does before it slides a
//! 3000-frame window over it. Both are the same computation on a different
//! padding, so they agree wherever the audio is shorter than 30 s.

use std::sync::Arc;

use rayon::prelude::*;
use realfft::{RealFftPlanner, RealToComplex};

/// Samples per second.
pub const SAMPLE_RATE: usize = 16_000;
/// FFT size (25 ms).
pub const N_FFT: usize = 400;
/// Hop between frames (10 ms).
pub const HOP_LENGTH: usize = 160;
/// Samples in one 30 s window.
pub const N_SAMPLES: usize = 30 * SAMPLE_RATE;
/// Mel frames in one 30 s window.
pub const N_FRAMES: usize = N_SAMPLES / HOP_LENGTH;

/// A log-mel spectrogram, `[n_mels, frames]` row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Spectrogram {
    /// Mel bins.
    pub n_mels: usize,
    /// Frames (10 ms each).
    pub frames: usize,
    /// `n_mels × frames` values, one mel bin after the other.
    pub data: Vec<f32>,
}

impl Spectrogram {
    /// Frames `start..start + N_FRAMES`, zero-padded past the end (openai-whisper's
    /// `pad_or_trim` of a mel segment): one encoder input `[n_mels, 3000]`.
    pub fn window(&self, start: usize, len: usize) -> Vec<f32> {
        let mut out = vec![0.0; self.n_mels * N_FRAMES];
        let take = len.min(N_FRAMES).min(self.frames.saturating_sub(start));
        for m in 0..self.n_mels {
            let row = &self.data[m * self.frames..(m + 1) * self.frames];
            out[m * N_FRAMES..m * N_FRAMES + take].copy_from_slice(&row[start..start + take]);
        }
        out
    }
}

/// One mel filter: its first FFT bin and its non-zero weights.
#[derive(Debug, Clone)]
struct Filter {
    start: usize,
    weights: Vec<f32>,
}

/// The front end for one number of mel bins.
pub struct LogMel {
    n_mels: usize,
    filters: Vec<Filter>,
    window: Vec<f32>,
    fft: Arc<dyn RealToComplex<f32>>,
    span: tracing::Span,
}

impl std::fmt::Debug for LogMel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogMel")
            .field("n_mels", &self.n_mels)
            .finish()
    }
}

impl LogMel {
    /// The front end with `n_mels` filters (80, or 128 for large-v3).
    pub fn new(n_mels: usize) -> Self {
        let dense = mel_filters(n_mels);
        let bins = N_FFT / 2 + 1;
        let filters = dense
            .chunks(bins)
            .map(|row| {
                let start = row.iter().position(|&w| w != 0.0).unwrap_or(0);
                let end = row.iter().rposition(|&w| w != 0.0).map_or(start, |e| e + 1);
                Filter {
                    start,
                    weights: row[start..end].iter().map(|&w| w as f32).collect(),
                }
            })
            .collect();
        // torch.hann_window(400) / window_function(400, "hann"): periodic.
        let window = (0..N_FFT)
            .map(|n| {
                (0.5 - 0.5 * (2.0 * std::f64::consts::PI * n as f64 / N_FFT as f64).cos()) as f32
            })
            .collect();
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(N_FFT);
        Self {
            n_mels,
            filters,
            window,
            fft,
            span: tracing::span!(tracing::Level::TRACE, "whisper-log-mel"),
        }
    }

    /// Mel bins.
    pub fn n_mels(&self) -> usize {
        self.n_mels
    }

    /// The features of one 30 s window, as `WhisperFeatureExtractor` computes
    /// them: `samples` zero-padded or trimmed to 30 s, `[n_mels, 3000]`.
    pub fn window(&self, samples: &[f32]) -> Spectrogram {
        self.log_mel(&samples[..samples.len().min(N_SAMPLES)], N_SAMPLES)
    }

    /// The features of a whole recording followed by 30 s of silence
    /// (openai-whisper's `log_mel_spectrogram(audio, padding=N_SAMPLES)`):
    /// `samples.len() / 160 + 3000` frames.
    pub fn spectrogram(&self, samples: &[f32]) -> Spectrogram {
        self.log_mel(samples, samples.len() + N_SAMPLES)
    }

    /// `len / 160` frames of `signal` zero-padded to `len` samples (centred
    /// STFT, last frame dropped). The padding is never materialised, so a
    /// long recording is not copied.
    fn log_mel(&self, signal: &[f32], len: usize) -> Spectrogram {
        let _enter = self.span.enter();
        let frames = len / HOP_LENGTH;
        let pad = N_FFT / 2;
        let n = len as isize;
        // Reflect padding (numpy's "reflect": the edge sample is not repeated).
        let at = |i: isize| -> f32 {
            let mut j = i - pad as isize;
            if j < 0 {
                j = -j;
            }
            if j >= n {
                j = 2 * (n - 1) - j;
            }
            signal
                .get(j.clamp(0, n - 1) as usize)
                .copied()
                .unwrap_or(0.0)
        };
        let bins = N_FFT / 2 + 1;
        // Frame-major mel power, filled in parallel chunks of frames.
        let mut mel = vec![0f32; frames * self.n_mels];
        mel.par_chunks_mut(self.n_mels * 64)
            .enumerate()
            .for_each(|(chunk, out)| {
                let mut input = self.fft.make_input_vec();
                let mut spectrum = self.fft.make_output_vec();
                let mut scratch = self.fft.make_scratch_vec();
                let mut power = vec![0f32; bins];
                for (k, frame_out) in out.chunks_mut(self.n_mels).enumerate() {
                    let t = chunk * 64 + k;
                    let start = (t * HOP_LENGTH) as isize;
                    for (i, x) in input.iter_mut().enumerate() {
                        *x = at(start + i as isize) * self.window[i];
                    }
                    self.fft
                        .process_with_scratch(&mut input, &mut spectrum, &mut scratch)
                        .expect("buffers sized by the planner");
                    for (p, c) in power.iter_mut().zip(&spectrum) {
                        *p = c.re * c.re + c.im * c.im;
                    }
                    for (o, f) in frame_out.iter_mut().zip(&self.filters) {
                        *o = f
                            .weights
                            .iter()
                            .zip(&power[f.start..])
                            .map(|(w, p)| w * p)
                            .sum();
                    }
                }
            });
        let mut data = vec![0f32; frames * self.n_mels];
        let mut max = f32::NEG_INFINITY;
        for t in 0..frames {
            for m in 0..self.n_mels {
                let v = mel[t * self.n_mels + m].max(1e-10).log10();
                max = max.max(v);
                data[m * frames + t] = v;
            }
        }
        let floor = max - 8.0;
        for v in &mut data {
            *v = (v.max(floor) + 4.0) / 4.0;
        }
        Spectrogram {
            n_mels: self.n_mels,
            frames,
            data,
        }
    }
}

/// Hertz to mels on the Slaney scale (linear below 1 kHz, logarithmic above).
fn hertz_to_mel(f: f64) -> f64 {
    let min_log_hertz = 1000.0;
    let min_log_mel = 15.0;
    let logstep = 27.0 / 6.4f64.ln();
    if f >= min_log_hertz {
        min_log_mel + (f / min_log_hertz).ln() * logstep
    } else {
        3.0 * f / 200.0
    }
}

fn mel_to_hertz(m: f64) -> f64 {
    let min_log_hertz = 1000.0;
    let min_log_mel = 15.0;
    let logstep = 6.4f64.ln() / 27.0;
    if m >= min_log_mel {
        min_log_hertz * (logstep * (m - min_log_mel)).exp()
    } else {
        200.0 * m / 3.0
    }
}

/// transformers' `mel_filter_bank(num_frequency_bins=201, num_mel_filters=n_mels,
/// min_frequency=0, max_frequency=8000, sampling_rate=16000, norm="slaney",
/// mel_scale="slaney")`, transposed: `[n_mels, 201]` row-major, in f64 as numpy computes it.
pub fn mel_filters(n_mels: usize) -> Vec<f64> {
    let bins = N_FFT / 2 + 1;
    let (mel_min, mel_max) = (hertz_to_mel(0.0), hertz_to_mel(8000.0));
    let filter_freqs: Vec<f64> = (0..n_mels + 2)
        .map(|i| mel_to_hertz(mel_min + (mel_max - mel_min) * i as f64 / (n_mels + 1) as f64))
        .collect();
    let nyquist = (SAMPLE_RATE / 2) as f64;
    let fft_freqs: Vec<f64> = (0..bins)
        .map(|i| nyquist * i as f64 / (bins - 1) as f64)
        .collect();
    let mut out = vec![0.0; n_mels * bins];
    for m in 0..n_mels {
        let (lo, center, hi) = (filter_freqs[m], filter_freqs[m + 1], filter_freqs[m + 2]);
        let enorm = 2.0 / (hi - lo);
        for (k, &f) in fft_freqs.iter().enumerate() {
            let down = (f - lo) / (center - lo);
            let up = (hi - f) / (hi - center);
            out[m * bins + k] = down.min(up).max(0.0) * enorm;
        }
    }
    out
}
