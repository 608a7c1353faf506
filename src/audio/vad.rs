//! Speech regions of a recording, from a voice-activity detector.
//!
//! Frame scores come from `earshot`, a small neural VAD in pure Rust (16 kHz
//! mono, 16 ms frames, score 0..1). Turning scores into regions is done here
//! ([`regions_from_scores`]): a frame scoring at least `threshold` is speech;
//! a region opens at the first speech frame and stays open through pauses
//! shorter than `hangover` (so breaths and stop closures do not split a
//! phrase), closing at the end of its last speech frame; regions shorter
//! than `min_speech` are dropped as clicks. The exporters merge these regions
//! with the transcript's segments into the markers they write.

use super::{resample_mono, AudioError};

/// The rate the detector runs at.
pub const VAD_RATE: u32 = 16_000;
/// Samples per detector frame (16 ms at 16 kHz).
pub const VAD_FRAME: usize = 256;

/// How frame scores become regions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VadConfig {
    /// Score from which a frame counts as speech (earshot's suggested 0.5).
    pub threshold: f32,
    /// Pauses shorter than this (seconds) stay inside a region.
    pub hangover: f64,
    /// Regions shorter than this (seconds) are dropped.
    pub min_speech: f64,
}

impl Default for VadConfig {
    fn default() -> Self {
        Self {
            threshold: 0.5,
            hangover: 0.3,
            min_speech: 0.25,
        }
    }
}

/// Speech regions `(start, end)` in seconds of `samples` (mono, `rate` Hz).
pub fn speech_regions(
    samples: &[f32],
    rate: u32,
    config: &VadConfig,
) -> Result<Vec<(f64, f64)>, AudioError> {
    let x = resample_mono(samples, rate, VAD_RATE)?;
    Ok(regions_from_scores(
        &frame_scores(&x),
        VAD_FRAME as f64 / VAD_RATE as f64,
        config,
    ))
}

/// earshot's score for every whole 16 ms frame of 16 kHz mono `x`.
pub fn frame_scores(x: &[f32]) -> Vec<f32> {
    let mut detector = earshot::Detector::default_boxed();
    let mut frame = [0.0f32; VAD_FRAME];
    x.chunks_exact(VAD_FRAME)
        .map(|chunk| {
            for (f, &s) in frame.iter_mut().zip(chunk) {
                *f = s.clamp(-1.0, 1.0);
            }
            detector.predict_f32(&frame)
        })
        .collect()
}

/// Regions from per-frame scores, frame `i` spanning `[i, i + 1) * frame_seconds`
/// (see the module docs for the rule).
pub fn regions_from_scores(
    scores: &[f32],
    frame_seconds: f64,
    config: &VadConfig,
) -> Vec<(f64, f64)> {
    let mut regions: Vec<(f64, f64)> = Vec::new();
    let mut open: Option<(usize, usize)> = None; // first and last speech frame
    let gap_frames = config.hangover / frame_seconds;
    let close = |(first, last): (usize, usize), regions: &mut Vec<(f64, f64)>| {
        let (start, end) = (
            first as f64 * frame_seconds,
            (last + 1) as f64 * frame_seconds,
        );
        if end - start >= config.min_speech {
            regions.push((start, end));
        }
    };
    for (i, &s) in scores.iter().enumerate() {
        if s < config.threshold {
            continue;
        }
        open = Some(match open {
            // The pause since the last speech frame is (i - last - 1) frames.
            Some((first, last)) if ((i - last - 1) as f64) < gap_frames => (first, i),
            Some(region) => {
                close(region, &mut regions);
                (i, i)
            }
            None => (i, i),
        });
    }
    if let Some(region) = open {
        close(region, &mut regions);
    }
    regions
}

#[cfg(test)]
mod tests {
    use super::*;

    const F: f64 = 0.016;

    fn cfg() -> VadConfig {
        VadConfig {
            threshold: 0.5,
            hangover: 0.1,
            min_speech: 0.05,
        }
    }

    #[test]
    fn short_pauses_are_bridged_long_ones_split() {
        // Speech frames 2-5, a 5-frame pause (80 ms < 100 ms hangover), 11-14,
        // then a 10-frame pause (160 ms) and 25-29.
        let mut s = vec![0.0f32; 32];
        for i in (2..=5).chain(11..=14).chain(25..=29) {
            s[i] = 0.9;
        }
        let r = regions_from_scores(&s, F, &cfg());
        assert_eq!(r.len(), 2);
        // 2 * 16 ms = 32 ms .. (14 + 1) * 16 ms = 240 ms; 400 ms .. 480 ms.
        assert!(
            (r[0].0 - 0.032).abs() < 1e-12 && (r[0].1 - 0.240).abs() < 1e-12,
            "{r:?}"
        );
        assert!(
            (r[1].0 - 0.400).abs() < 1e-12 && (r[1].1 - 0.480).abs() < 1e-12,
            "{r:?}"
        );
    }

    #[test]
    fn clicks_are_dropped_and_threshold_is_inclusive() {
        // One frame (16 ms < 50 ms) is a click, 9 frames (144 ms > 100 ms hangover)
        // before four frames at exactly the threshold, which are speech.
        let mut s = vec![0.1f32; 20];
        s[0] = 1.0;
        for v in &mut s[10..14] {
            *v = 0.5;
        }
        let r = regions_from_scores(&s, F, &cfg());
        assert_eq!(r.len(), 1);
        assert!(
            (r[0].0 - 0.160).abs() < 1e-12 && (r[0].1 - 0.224).abs() < 1e-12,
            "{r:?}"
        );
        assert!(regions_from_scores(&[], F, &cfg()).is_empty());
    }

    #[test]
    fn silence_and_quiet_noise_have_no_speech() {
        assert!(
            speech_regions(&vec![0.0; 32_000], 16_000, &VadConfig::default())
                .unwrap()
                .is_empty()
        );
        // Deterministic white noise at about -50 dBFS (uniform in +-0.0055: RMS 0.0032).
        let mut state = 12345u32;
        let noise: Vec<f32> = (0..48_000)
            .map(|_| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (state >> 8) as f32 / (1u32 << 24) as f32 * 0.011 - 0.0055
            })
            .collect();
        assert!(speech_regions(&noise, 16_000, &VadConfig::default())
            .unwrap()
            .is_empty());
    }
}
