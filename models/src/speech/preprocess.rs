//! Input preparation as `Wav2Vec2FeatureExtractor` does it: per-utterance
//! zero-mean / unit-variance normalisation (`do_normalize`) and right padding.

/// Normalises `samples` in place to zero mean and unit variance:
/// `(x - mean) / sqrt(var + 1e-7)` with the population variance, exactly as
/// `Wav2Vec2FeatureExtractor.zero_mean_unit_var_norm`. Statistics accumulate
/// in f64 so long files do not lose precision.
pub fn zero_mean_unit_var(samples: &mut [f32]) {
    if samples.is_empty() {
        return;
    }
    let n = samples.len() as f64;
    let mean = samples.iter().map(|&x| x as f64).sum::<f64>() / n;
    let var = samples
        .iter()
        .map(|&x| {
            let d = x as f64 - mean;
            d * d
        })
        .sum::<f64>()
        / n;
    let inv = 1.0 / (var + 1e-7).sqrt();
    for x in samples.iter_mut() {
        *x = ((*x as f64 - mean) * inv) as f32;
    }
}

/// Right-pads each item to the longest with `padding_value`; returns the
/// row-major `[batch, max_len]` buffer, `max_len` and the original lengths.
pub fn pad_batch(items: &[Vec<f32>], padding_value: f32) -> (Vec<f32>, usize, Vec<usize>) {
    let max_len = items.iter().map(Vec::len).max().unwrap_or(0);
    let mut out = Vec::with_capacity(items.len() * max_len);
    for item in items {
        out.extend_from_slice(item);
        out.resize(out.len() + (max_len - item.len()), padding_value);
    }
    (out, max_len, items.iter().map(Vec::len).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalised_signal_has_zero_mean_and_unit_variance() {
        let mut x: Vec<f32> = (0..1000).map(|i| 3.0 + (i as f32 * 0.1).sin()).collect();
        zero_mean_unit_var(&mut x);
        let n = x.len() as f64;
        let mean = x.iter().map(|&v| v as f64).sum::<f64>() / n;
        let var = x.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n;
        assert!(mean.abs() < 1e-6, "mean {mean}");
        // var / (var + 1e-7) is 1 up to the epsilon.
        assert!((var - 1.0).abs() < 1e-5, "var {var}");
    }

    #[test]
    fn constant_signal_becomes_zero_not_nan() {
        let mut x = vec![0.5f32; 64];
        zero_mean_unit_var(&mut x);
        assert!(x.iter().all(|&v| v == 0.0));
    }

    #[test]
    fn padding_fills_to_the_longest() {
        let (buf, len, lengths) = pad_batch(&[vec![1.0, 2.0], vec![3.0]], -1.0);
        assert_eq!(len, 2);
        assert_eq!(lengths, vec![2, 1]);
        assert_eq!(buf, vec![1.0, 2.0, 3.0, -1.0]);
    }
}
