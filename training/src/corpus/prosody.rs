//! Prosody measurements and the corpus's sanity check: how much of each label
//! a linear model of plain acoustic features explains.
//!
//! By design, arousal is a function of pitch, tempo and vocal effort (pitch
//! range and spectral tilt), valence of the words only, and the recording
//! level of nothing. So a least-squares fit of arousal on level-free measures
//! (pitch, pitch range, spectral tilt, speaking rate) should explain most of
//! its variance, the same fit of valence almost none, and the speech RMS
//! level alone should explain neither arousal nor dominance. Pitch is the
//! log median F0 relative to the voice's mean log F0 (speaker normalisation):
//! espeak-ng's `-p` moves pitch relative to each voice's own register, and
//! the voices' registers differ by more than the whole `-p` range. Measured on the
//! audio as written, with a real pitch tracker (McLeod's method, from the
//! `pitch-detection` crate), this checks that espeak-ng and sox realised the
//! factors and that nothing about the voice leaks valence.

use nalgebra::{DMatrix, DVector};
use pitch_detection::detector::mcleod::McLeodDetector;
use pitch_detection::detector::PitchDetector;

/// Analysis frame for level and pitch: 64 ms at 16 kHz (covers F0 down to about 60 Hz).
const FRAME: usize = 1024;
/// Hop between frames: 10 ms at 16 kHz.
const HOP: usize = 160;
/// Frames more than this many dB below the loudest frame count as silence.
const SILENCE_DB: f64 = 35.0;

/// Acoustic summary of one utterance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prosody {
    /// Median F0 of the voiced frames, Hz.
    pub f0_hz: f64,
    /// RMS level of the speech frames, dBFS.
    pub rms_db: f64,
    /// Words per second of speech (non-silent time).
    pub words_per_second: f64,
    /// Pitch range: 90th minus 10th percentile of the voiced frames' F0, semitones.
    pub f0_range_st: f64,
    /// Spectral tilt of the speech frames: the power of the first difference
    /// relative to the signal's, dB (higher: more high-frequency energy).
    pub tilt_db: f64,
}

fn db(power: f64) -> f64 {
    10.0 * power.max(1e-12).log10()
}

/// Measures `samples` (mono, `rate` Hz) holding `words` spoken words; `None`
/// when no voiced frame is found.
pub fn measure(samples: &[f32], rate: u32, words: usize) -> Option<Prosody> {
    if samples.len() < FRAME {
        return None;
    }
    let frames: Vec<&[f32]> = (0..=(samples.len() - FRAME) / HOP)
        .map(|i| &samples[i * HOP..i * HOP + FRAME])
        .collect();
    let power: Vec<f64> = frames
        .iter()
        .map(|f| f.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>() / FRAME as f64)
        .collect();
    let loudest = power.iter().copied().fold(0.0, f64::max);
    let floor = loudest * 10f64.powf(-SILENCE_DB / 10.0);
    let speech: Vec<usize> = (0..frames.len()).filter(|&i| power[i] > floor).collect();
    if speech.is_empty() {
        return None;
    }
    let rms_db = db(speech.iter().map(|&i| power[i]).sum::<f64>() / speech.len() as f64);
    let seconds = speech.len() as f64 * HOP as f64 / f64::from(rate);
    let mut detector = McLeodDetector::<f64>::new(FRAME, FRAME / 2);
    let mut f0: Vec<f64> = speech
        .iter()
        .filter_map(|&i| {
            let frame: Vec<f64> = frames[i].iter().map(|&x| f64::from(x)).collect();
            detector.get_pitch(&frame, rate as usize, floor / 4.0, 0.7)
        })
        .map(|p| p.frequency)
        .filter(|f| (50.0..=600.0).contains(f))
        .collect();
    if f0.is_empty() {
        return None;
    }
    f0.sort_by(f64::total_cmp);
    let percentile = |q: f64| f0[((f0.len() - 1) as f64 * q).round() as usize];
    let diff_power = speech
        .iter()
        .map(|&i| {
            frames[i]
                .windows(2)
                .map(|w| (f64::from(w[1]) - f64::from(w[0])).powi(2))
                .sum::<f64>()
                / (FRAME - 1) as f64
        })
        .sum::<f64>()
        / speech.len() as f64;
    let power = speech.iter().map(|&i| power[i]).sum::<f64>() / speech.len() as f64;
    Some(Prosody {
        f0_hz: f0[f0.len() / 2],
        rms_db,
        words_per_second: words as f64 / seconds,
        f0_range_st: 12.0 * (percentile(0.9) / percentile(0.1)).log2(),
        tilt_db: db(diff_power) - db(power),
    })
}

/// R² of the least-squares fit `y ≈ b0 + Σ b_k x_k` over the rows of `x`.
pub fn r_squared(x: &[Vec<f64>], y: &[f64]) -> f64 {
    let n = y.len();
    let k = x.first().map_or(0, Vec::len);
    let design = DMatrix::from_fn(n, k + 1, |r, c| if c == 0 { 1.0 } else { x[r][c - 1] });
    let target = DVector::from_column_slice(y);
    let coef = design
        .clone()
        .svd(true, true)
        .solve(&target, 1e-12)
        .expect("the SVD was computed with both U and V");
    let residual = &target - &design * coef;
    let mean = y.iter().sum::<f64>() / n as f64;
    let total: f64 = y.iter().map(|v| (v - mean).powi(2)).sum();
    1.0 - residual.norm_squared() / total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(f0: f64, amp: f64, seconds: f64) -> Vec<f32> {
        (0..(seconds * 16_000.0) as usize)
            .map(|i| {
                let t = i as f64 / 16_000.0;
                // A few harmonics, like a voiced vowel.
                (amp * (0..4)
                    .map(|h| {
                        (2.0 * std::f64::consts::PI * f0 * (h + 1) as f64 * t).sin()
                            / (h + 1) as f64
                    })
                    .sum::<f64>()) as f32
            })
            .collect()
    }

    #[test]
    fn a_harmonic_tone_measures_its_pitch_level_and_duration() {
        let x = tone(150.0, 0.25, 2.0);
        let p = measure(&x, 16_000, 4).unwrap();
        assert!((p.f0_hz - 150.0).abs() < 2.0, "{p:?}");
        // Power of the sum of harmonics with amplitudes 0.25 / h: Σ (0.25/h)² / 2.
        let power: f64 = (1..=4).map(|h| (0.25 / h as f64).powi(2) / 2.0).sum();
        assert!((p.rms_db - 10.0 * power.log10()).abs() < 0.2, "{p:?}");
        // 4 words over the ~1.94 s the frames cover.
        assert!((p.words_per_second - 4.0 / 1.94).abs() < 0.1, "{p:?}");
    }

    #[test]
    fn r_squared_is_one_for_an_exact_fit_and_near_zero_for_noise() {
        let x: Vec<Vec<f64>> = (0..50)
            .map(|i| vec![i as f64, (i * i % 7) as f64])
            .collect();
        let y: Vec<f64> = x.iter().map(|r| 2.0 + 3.0 * r[0] - r[1]).collect();
        assert!((r_squared(&x, &y) - 1.0).abs() < 1e-9);
        // A target unrelated to the features (alternating signs) is barely explained.
        let y: Vec<f64> = (0..50)
            .map(|i| if i % 2 == 0 { 1.0 } else { -1.0 })
            .collect();
        assert!(r_squared(&x, &y) < 0.2);
    }
}

/// What the prosody check found on a corpus.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct CheckReport {
    /// Utterances measured (those with a voiced frame).
    pub utterances: usize,
    /// R² of arousal on the level-free measures (voice-normalised log F0,
    /// pitch range, spectral tilt, words per second).
    pub arousal_r2: f64,
    /// R² of valence on the level-free measures and the level.
    pub valence_r2: f64,
    /// R² of dominance on the level-free measures.
    pub dominance_r2: f64,
    /// R² of arousal on the speech RMS level alone.
    pub arousal_level_r2: f64,
    /// R² of dominance on the speech RMS level alone.
    pub dominance_level_r2: f64,
}

/// Measures every utterance of the corpus in `dir` (as `corpus.json` lists
/// them) and fits each label on the acoustic features.
pub fn check(
    dir: &std::path::Path,
) -> Result<CheckReport, Box<dyn std::error::Error + Send + Sync>> {
    let path = dir.join("corpus.json");
    let info: super::CorpusInfo = serde_json::from_str(&std::fs::read_to_string(&path)?)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut features = Vec::new();
    let mut voices = Vec::new();
    let mut labels: [Vec<f64>; 3] = Default::default();
    for u in &info.utterances {
        let samples = emoscope::audio::load_mono(&dir.join(super::audio_path(u)), 16_000)?;
        let words = u.text.split_whitespace().count();
        let Some(p) = measure(&samples, 16_000, words) else {
            continue;
        };
        features.push(vec![
            p.f0_hz.ln(),
            p.f0_range_st,
            p.tilt_db,
            p.words_per_second,
            p.rms_db,
        ]);
        voices.push(u.voice.as_str());
        for (k, v) in [u.arousal, u.valence, u.dominance].into_iter().enumerate() {
            labels[k].push(f64::from(v));
        }
    }
    // Speaker normalisation: log F0 relative to its voice's mean.
    let mut sums: std::collections::HashMap<&str, (f64, usize)> = std::collections::HashMap::new();
    for (f, v) in features.iter().zip(&voices) {
        let e = sums.entry(v).or_default();
        e.0 += f[0];
        e.1 += 1;
    }
    for (f, v) in features.iter_mut().zip(&voices) {
        let (sum, n) = sums[v];
        f[0] -= sum / n as f64;
    }
    let level_free: Vec<Vec<f64>> = features.iter().map(|f| f[..4].to_vec()).collect();
    let level: Vec<Vec<f64>> = features.iter().map(|f| vec![f[4]]).collect();
    Ok(CheckReport {
        utterances: features.len(),
        arousal_r2: r_squared(&level_free, &labels[0]),
        valence_r2: r_squared(&features, &labels[1]),
        dominance_r2: r_squared(&level_free, &labels[2]),
        arousal_level_r2: r_squared(&level, &labels[0]),
        dominance_level_r2: r_squared(&level, &labels[2]),
    })
}
