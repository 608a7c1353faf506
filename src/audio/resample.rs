//! Offline resampling of a whole mono signal with rubato's sinc resampler.

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{
    Async, FixedAsync, Resampler, SincInterpolationParameters, SincInterpolationType,
    WindowFunction,
};

use super::AudioError;

/// Resamples `input` from `from` Hz to `to` Hz; returns it unchanged when the
/// rates are equal. The output has `round(len * to / from)` samples, aligned
/// with the input (rubato trims its own delay).
pub fn resample_mono(input: &[f32], from: u32, to: u32) -> Result<Vec<f32>, AudioError> {
    if from == to {
        return Ok(input.to_vec());
    }
    let err = |message: String| AudioError::Resample { from, to, message };
    let ratio = to as f64 / from as f64;
    let params = SincInterpolationParameters::new(128, WindowFunction::Blackman2)
        .oversampling_factor(256)
        .interpolation(SincInterpolationType::Cubic);
    let mut resampler = Async::<f32>::new_sinc(ratio, 1.0, &params, 1024, 1, FixedAsync::Input)
        .map_err(|e| err(e.to_string()))?;
    let out_len = resampler.process_all_needed_output_len(input.len());
    let mut output = vec![0f32; out_len];
    let input_adapter =
        InterleavedSlice::new(input, 1, input.len()).map_err(|e| err(e.to_string()))?;
    let mut output_adapter =
        InterleavedSlice::new_mut(&mut output, 1, out_len).map_err(|e| err(e.to_string()))?;
    let (_, produced) = resampler
        .process_all_into_buffer(&input_adapter, &mut output_adapter, input.len(), None)
        .map_err(|e| err(e.to_string()))?;
    output.truncate(produced);
    Ok(output)
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
}
