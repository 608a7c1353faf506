//! Offline resampling of a mono signal with rubato's sinc resampler: whole
//! ([`resample_mono`]) or block by block ([`StreamResampler`], the same
//! samples for a signal of any length).
//!
//! Failures are a [`ResampleError`] naming both rates and keeping rubato's
//! error; the engine's streaming resampler (`src/engine/resampler.rs`)
//! reports the same type.

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::audioadapter_buffers::SizeError;
use rubato::{
    Async, FixedAsync, Indexing, Resampler, ResamplerConstructionError,
    SincInterpolationParameters, SincInterpolationType, WindowFunction,
};

use super::AudioError;

/// Why a resampler from one rate to another could not be built or run.
///
/// Each message names the rates and includes rubato's description, so
/// rubato's error is kept as a field, not also returned as `source()` (an
/// error chain printer would repeat it), as in [`AudioError`].
#[derive(Debug, thiserror::Error)]
pub enum ResampleError {
    /// rubato refused the ratio or the filter parameters.
    #[error("cannot resample {from} Hz to {to} Hz: {error}")]
    Construction {
        /// Source rate, Hz.
        from: f64,
        /// Target rate, Hz.
        to: f64,
        /// rubato's error.
        error: ResamplerConstructionError,
    },
    /// A buffer handed to rubato did not have the size it needs.
    #[error("cannot resample {from} Hz to {to} Hz: {error}")]
    Buffer {
        /// Source rate, Hz.
        from: f64,
        /// Target rate, Hz.
        to: f64,
        /// The size check that failed.
        error: SizeError,
    },
    /// rubato refused to process a block.
    #[error("cannot resample {from} Hz to {to} Hz: {error}")]
    Process {
        /// Source rate, Hz.
        from: f64,
        /// Target rate, Hz.
        to: f64,
        /// rubato's error.
        error: rubato::ResampleError,
    },
}

impl ResampleError {
    /// Maps rubato's (or its buffers') error on the way `from` Hz → `to` Hz.
    pub(crate) fn at<E: Into<Cause>>(from: f64, to: f64) -> impl Fn(E) -> Self {
        move |e| match e.into() {
            Cause::Construction(error) => Self::Construction { from, to, error },
            Cause::Buffer(error) => Self::Buffer { from, to, error },
            Cause::Process(error) => Self::Process { from, to, error },
        }
    }
}

/// What [`ResampleError::at`] maps.
pub(crate) enum Cause {
    Construction(ResamplerConstructionError),
    Buffer(SizeError),
    Process(rubato::ResampleError),
}

impl From<ResamplerConstructionError> for Cause {
    fn from(e: ResamplerConstructionError) -> Self {
        Self::Construction(e)
    }
}

impl From<SizeError> for Cause {
    fn from(e: SizeError) -> Self {
        Self::Buffer(e)
    }
}

impl From<rubato::ResampleError> for Cause {
    fn from(e: rubato::ResampleError) -> Self {
        Self::Process(e)
    }
}

/// Resamples `input` from `from` Hz to `to` Hz; returns it unchanged when the
/// rates are equal. The output has `round(len * to / from)` samples, aligned
/// with the input (rubato trims its own delay).
pub fn resample_mono(input: &[f32], from: u32, to: u32) -> Result<Vec<f32>, AudioError> {
    if from == to {
        return Ok(input.to_vec());
    }
    let (f, t) = (f64::from(from), f64::from(to));
    let mut resampler = sinc(f, t)?;
    let out_len = resampler.process_all_needed_output_len(input.len());
    let mut output = vec![0f32; out_len];
    let input_adapter =
        InterleavedSlice::new(input, 1, input.len()).map_err(ResampleError::at(f, t))?;
    let mut output_adapter =
        InterleavedSlice::new_mut(&mut output, 1, out_len).map_err(ResampleError::at(f, t))?;
    let (_, produced) = resampler
        .process_all_into_buffer(&input_adapter, &mut output_adapter, input.len(), None)
        .map_err(ResampleError::at(f, t))?;
    output.truncate(produced);
    Ok(output)
}

/// Input frames per call of the sinc resampler.
const CHUNK: usize = 1024;

/// The sinc resampler both functions use.
fn sinc(from: f64, to: f64) -> Result<Async<f32>, ResampleError> {
    let params = SincInterpolationParameters::new(128, WindowFunction::Blackman2)
        .oversampling_factor(256)
        .interpolation(SincInterpolationType::Cubic);
    Async::<f32>::new_sinc(to / from, 1.0, &params, CHUNK, 1, FixedAsync::Input)
        .map_err(ResampleError::at(from, to))
}

/// [`resample_mono`] block by block: pushing a signal in blocks of any
/// sizes and then finishing gives exactly the samples `resample_mono` gives
/// for the whole signal (rubato's `process_all_into_buffer` made
/// incremental: whole chunks while more input follows, the last partial
/// chunk and zeros at the end, the delay trimmed from the start). Holds at
/// most one chunk of input beyond the block pushed.
pub struct StreamResampler {
    from: u32,
    to: u32,
    /// `None` when the rates are equal (a copy).
    inner: Option<Async<f32>>,
    /// Input not yet processed.
    pending: Vec<f32>,
    /// Output frames still to drop (the resampler's delay).
    to_trim: usize,
    /// Input frames pushed in all.
    input_len: usize,
    /// Output frames given out in all.
    emitted: usize,
    /// One call's output.
    scratch: Vec<f32>,
}

impl StreamResampler {
    /// A resampler from `from` Hz to `to` Hz.
    pub fn new(from: u32, to: u32) -> Result<Self, AudioError> {
        let inner = (from != to)
            .then(|| sinc(f64::from(from), f64::from(to)))
            .transpose()?;
        let (to_trim, scratch) = inner.as_ref().map_or((0, Vec::new()), |r| {
            (r.output_delay(), vec![0.0; r.output_frames_max()])
        });
        Ok(Self {
            from,
            to,
            inner,
            pending: Vec::with_capacity(2 * CHUNK),
            to_trim,
            input_len: 0,
            emitted: 0,
            scratch,
        })
    }

    /// How many samples `input_len` samples become: `ceil(input_len * to / from)`,
    /// as [`resample_mono`] gives (and [`Self::finish`] completes).
    pub fn output_len(&self, input_len: usize) -> usize {
        self.inner.as_ref().map_or(input_len, |r| {
            (r.resample_ratio() * input_len as f64).ceil() as usize
        })
    }

    /// Resamples `input`, appending what is ready to `out`.
    pub fn push(&mut self, input: &[f32], out: &mut Vec<f32>) -> Result<(), AudioError> {
        self.input_len += input.len();
        if self.inner.is_none() {
            out.extend_from_slice(input);
            self.emitted += input.len();
            return Ok(());
        }
        self.pending.extend_from_slice(input);
        // A whole chunk only while more input follows it, as rubato's
        // process_all does: the last chunk (even a whole one) is partial.
        let mut offset = 0;
        while self.pending.len() - offset > CHUNK {
            self.process(offset, None, out)?;
            offset += CHUNK;
        }
        self.pending.drain(..offset);
        Ok(())
    }

    /// Resamples what is left and the resampler's tail, appending to `out`;
    /// in all, `ceil(len * to / from)` samples have then been given out.
    pub fn finish(&mut self, out: &mut Vec<f32>) -> Result<(), AudioError> {
        if self.inner.is_none() {
            return Ok(());
        }
        let expected = self.output_len(self.input_len);
        let start = out.len();
        let before = self.emitted;
        if !self.pending.is_empty() {
            self.process(0, Some(self.pending.len()), out)?;
            self.pending.clear();
        }
        // Zeros until the delay is trimmed and `expected` samples are out
        // (rubato: until produced < expected + delay no longer holds).
        while self.emitted < expected + self.to_trim {
            self.process(0, Some(0), out)?;
        }
        // The last call's surplus beyond `expected` (all of it from this call).
        debug_assert!(before <= expected, "{before} > {expected}");
        out.truncate(start + expected.saturating_sub(before));
        self.emitted = expected;
        Ok(())
    }

    /// One call of the resampler on `pending[offset..]`; the output, less
    /// any delay still to trim, goes to `out`.
    fn process(
        &mut self,
        offset: usize,
        partial_len: Option<usize>,
        out: &mut Vec<f32>,
    ) -> Result<(), AudioError> {
        let (from, to) = (f64::from(self.from), f64::from(self.to));
        let resampler = self.inner.as_mut().expect("only called when resampling");
        let input = InterleavedSlice::new(&self.pending, 1, self.pending.len())
            .map_err(ResampleError::at(from, to))?;
        let frames = self.scratch.len();
        let mut output = InterleavedSlice::new_mut(&mut self.scratch, 1, frames)
            .map_err(ResampleError::at(from, to))?;
        let indexing = Indexing {
            input_offset: offset,
            output_offset: 0,
            active_channels_mask: None,
            partial_len,
        };
        let (_, produced) = resampler
            .process_into_buffer(&input, &mut output, Some(&indexing))
            .map_err(ResampleError::at(from, to))?;
        let skip = self.to_trim.min(produced);
        self.to_trim -= skip;
        out.extend_from_slice(&self.scratch[skip..produced]);
        self.emitted += produced - skip;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 440 Hz sine at 44.1 kHz resampled to 16 kHz is still a 440 Hz sine
    /// of the same amplitude, delayed by less than one output sample: fit
    /// `a sin + b cos` at 440 Hz by least squares (projection over whole
    /// periods) away from the edges and check amplitude, lag and residual.
    #[test]
    fn sine_survives_resampling() {
        use std::f64::consts::PI;
        let (from, to, f) = (44_100u32, 16_000u32, 440.0f64);
        let input: Vec<f32> = (0..44_100)
            .map(|n| (2.0 * PI * f * n as f64 / from as f64).sin() as f32 * 0.5)
            .collect();
        let out = resample_mono(&input, from, to).unwrap();
        // One second in, one second out (rounded to whole samples).
        assert!(
            (out.len() as i64 - to as i64).abs() <= 1,
            "len {}",
            out.len()
        );
        // 11 periods of 440 Hz are exactly 400 samples at 16 kHz; use 30 of them.
        let (start, len) = (2000usize, 12_000usize);
        let w = |n: usize| 2.0 * PI * f * n as f64 / to as f64;
        let (mut a, mut b) = (0f64, 0f64);
        for (n, &y) in out.iter().enumerate().skip(start).take(len) {
            a += y as f64 * w(n).sin();
            b += y as f64 * w(n).cos();
        }
        let (a, b) = (2.0 * a / len as f64, 2.0 * b / len as f64);
        let amplitude = (a * a + b * b).sqrt();
        let lag_samples = -b.atan2(a) / (2.0 * PI * f / to as f64);
        assert!((amplitude - 0.5).abs() < 1e-3, "amplitude {amplitude}");
        assert!(lag_samples.abs() < 1.0, "lag {lag_samples} samples");
        let residual = (start..start + len)
            .map(|n| (out[n] as f64 - a * w(n).sin() - b * w(n).cos()).abs())
            .fold(0f64, f64::max);
        assert!(residual < 1e-3, "residual {residual}");
    }

    #[test]
    fn equal_rates_are_a_copy() {
        let x = vec![0.1, -0.2, 0.3];
        assert_eq!(resample_mono(&x, 16_000, 16_000).unwrap(), x);
    }

    /// A deterministic test signal: a chirp plus noise.
    fn signal(n: usize) -> Vec<f32> {
        let mut state = 7u32;
        (0..n)
            .map(|i| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let noise = (state >> 8) as f32 / (1u32 << 24) as f32 - 0.5;
                (i as f32 * 0.001 * (1.0 + i as f32 * 1e-5)).sin() * 0.5 + 0.1 * noise
            })
            .collect()
    }

    /// Streaming gives `resample_mono`'s samples bit for bit, over a grid
    /// of rates, lengths (shorter than a chunk, exactly whole chunks, one
    /// more) and block sizes (one sample, odd, a chunk, all at once).
    #[test]
    fn streaming_equals_whole_signal() {
        for (from, to) in [
            (44_100, 16_000),
            (8_000, 16_000),
            (48_000, 44_100),
            (16_000, 16_000),
        ] {
            for n in [1, 100, CHUNK, 3 * CHUNK, 3 * CHUNK + 1, 20_000] {
                let x = signal(n);
                let whole = resample_mono(&x, from, to).unwrap();
                for block in [1, 333, CHUNK, n] {
                    let mut r = StreamResampler::new(from, to).unwrap();
                    let mut out = Vec::new();
                    for b in x.chunks(block) {
                        r.push(b, &mut out).unwrap();
                    }
                    r.finish(&mut out).unwrap();
                    assert_eq!(r.output_len(n), whole.len());
                    assert!(
                        out == whole,
                        "{from}->{to} Hz, {n} samples in blocks of {block}: {} vs {} samples",
                        out.len(),
                        whole.len()
                    );
                }
            }
        }
    }
}
