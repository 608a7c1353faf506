//! Streaming resampling from the host rate to the model rate with rubato.
//!
//! Input arrives in blocks of any size; rubato's fixed-input sinc resampler
//! runs whenever a full chunk is buffered, so the output depends only on the
//! samples, never on how the host cut them into blocks (streamed and offline
//! runs agree exactly). The resampler's delay is trimmed from the start, so
//! output sample `i` sits at `i / to` seconds after the first input sample.
//! Failures are the runtime's [`ResampleError`] (rubato's error and both
//! rates), which the [`super::analyser::Analyser`] keeps as its last error.

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{
    Async, FixedAsync, Resampler, SincInterpolationParameters, SincInterpolationType,
    WindowFunction,
};

pub use crate::audio::ResampleError;

/// Input frames per resampler call.
const CHUNK: usize = 1024;

/// A mono streaming resampler (or a pass-through when the rates are equal).
pub struct StreamResampler {
    inner: Option<Async<f32>>,
    pending: Vec<f32>,
    out: Vec<f32>,
    /// Output samples still to drop (the resampler's delay).
    to_trim: usize,
    /// Input samples taken so far.
    total_in: usize,
    /// Output samples given out so far.
    total_out: usize,
    /// Output rate over input rate.
    ratio: f64,
    /// Input and output rates, Hz (named in errors).
    rates: (f64, f64),
}

impl StreamResampler {
    /// A resampler from `from` Hz to `to` Hz.
    pub fn new(from: f64, to: f64) -> Result<Self, ResampleError> {
        if (from - to).abs() < 1e-9 {
            return Ok(Self {
                inner: None,
                pending: Vec::new(),
                out: Vec::new(),
                to_trim: 0,
                total_in: 0,
                total_out: 0,
                ratio: 1.0,
                rates: (from, to),
            });
        }
        let params = SincInterpolationParameters::new(128, WindowFunction::Blackman2)
            .oversampling_factor(256)
            .interpolation(SincInterpolationType::Cubic);
        let inner = Async::<f32>::new_sinc(to / from, 1.0, &params, CHUNK, 1, FixedAsync::Input)
            .map_err(ResampleError::at(from, to))?;
        let to_trim = inner.output_delay();
        let out = vec![0.0; inner.output_frames_max()];
        Ok(Self {
            inner: Some(inner),
            pending: Vec::with_capacity(2 * CHUNK),
            out,
            to_trim,
            total_in: 0,
            total_out: 0,
            ratio: to / from,
            rates: (from, to),
        })
    }

    /// Feeds `input`, appending every output sample that is ready to `sink`.
    pub fn process(&mut self, input: &[f32], sink: &mut Vec<f32>) -> Result<(), ResampleError> {
        self.total_in += input.len();
        let (from, to) = self.rates;
        let Some(inner) = self.inner.as_mut() else {
            self.total_out += input.len();
            sink.extend_from_slice(input);
            return Ok(());
        };
        self.pending.extend_from_slice(input);
        let mut consumed = 0;
        while self.pending.len() - consumed >= inner.input_frames_next() {
            let need = inner.input_frames_next();
            let chunk = &self.pending[consumed..consumed + need];
            let input_adapter =
                InterleavedSlice::new(chunk, 1, need).map_err(ResampleError::at(from, to))?;
            let cap = self.out.len();
            let mut output_adapter = InterleavedSlice::new_mut(&mut self.out, 1, cap)
                .map_err(ResampleError::at(from, to))?;
            let (used, produced) = inner
                .process_into_buffer(&input_adapter, &mut output_adapter, None)
                .map_err(ResampleError::at(from, to))?;
            consumed += used;
            let trim = self.to_trim.min(produced);
            self.to_trim -= trim;
            sink.extend_from_slice(&self.out[trim..produced]);
            self.total_out += produced - trim;
        }
        self.pending.drain(..consumed);
        Ok(())
    }

    /// Ends the stream: feeds silence through the filter until the output
    /// holds `round(total_in * ratio)` samples, as if the input were followed
    /// by zeros. The offline driver calls this at the end of a file.
    pub fn finish(&mut self, sink: &mut Vec<f32>) -> Result<(), ResampleError> {
        let target = (self.total_in as f64 * self.ratio).round() as usize;
        let zeros = [0f32; CHUNK];
        // The silence pushes the filter's tail out; it does not count as input.
        let total_in = self.total_in;
        while self.total_out < target {
            let before = self.total_out;
            self.process(&zeros, sink)?;
            if self.total_out == before {
                break;
            }
        }
        self.total_in = total_in;
        if self.total_out > target {
            let extra = (self.total_out - target).min(sink.len());
            sink.truncate(sink.len() - extra);
            self.total_out = target;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Block boundaries must not change the output.
    #[test]
    fn output_is_independent_of_block_sizes() {
        let x: Vec<f32> = (0..20_000).map(|i| ((i as f32) * 0.01).sin()).collect();
        let run = |blocks: &[usize]| {
            let mut r = StreamResampler::new(44_100.0, 16_000.0).unwrap();
            let mut out = Vec::new();
            let mut i = 0;
            let mut b = 0;
            while i < x.len() {
                let n = blocks[b % blocks.len()].min(x.len() - i);
                r.process(&x[i..i + n], &mut out).unwrap();
                i += n;
                b += 1;
            }
            out
        };
        let a = run(&[20_000]);
        let b = run(&[1, 7, 64, 513, 4096]);
        assert_eq!(a, b);
        // About 16000/44100 of the input, less what is still in the filter.
        assert!(a.len() > 7000 && a.len() <= 7256, "{}", a.len());
    }

    #[test]
    fn finish_completes_the_output_as_if_silence_followed() {
        let x: Vec<f32> = (0..20_000).map(|i| ((i as f32) * 0.01).sin()).collect();
        let mut r = StreamResampler::new(44_100.0, 16_000.0).unwrap();
        let mut out = Vec::new();
        r.process(&x, &mut out).unwrap();
        r.finish(&mut out).unwrap();
        // round(20000 * 16000 / 44100) = 7256
        assert_eq!(out.len(), 7256);
        // The same as streaming the signal followed by silence.
        let mut r2 = StreamResampler::new(44_100.0, 16_000.0).unwrap();
        let mut out2 = Vec::new();
        r2.process(&x, &mut out2).unwrap();
        r2.process(&[0.0; 8192], &mut out2).unwrap();
        assert_eq!(out[..], out2[..7256]);
    }

    #[test]
    fn an_impossible_ratio_is_a_typed_error_naming_the_rates() {
        let e = StreamResampler::new(0.0, 16_000.0).err().unwrap();
        assert!(
            matches!(e, ResampleError::Construction { from, to, .. } if from == 0.0 && to == 16_000.0),
            "{e:?}"
        );
        assert!(
            e.to_string()
                .starts_with("cannot resample 0 Hz to 16000 Hz: "),
            "{e}"
        );
    }
}
