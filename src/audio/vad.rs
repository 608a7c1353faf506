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

use super::{AudioError, StreamResampler};
use crate::reading::Span;

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

impl VadConfig {
    /// How far past a moment the detector must have scored before its
    /// regions up to that moment are final, seconds: a pause reaching back
    /// to it is either bridged or closed within `hangover`, and a region
    /// still open by then either closes or is `min_speech` long within
    /// `min_speech` more; one frame more for the frame that holds the
    /// moment. Closed regions plus the open one, cut at that moment, are
    /// then the regions of the whole signal cut there (a live caller that
    /// must agree with the whole-signal regions waits this long).
    pub fn settling_seconds(&self) -> f64 {
        self.hangover + self.min_speech + VAD_FRAME as f64 / VAD_RATE as f64
    }
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

/// Speech regions, seconds, of `samples` (mono, `rate` Hz):
/// [`SpeechDetector`] given the whole signal at once.
pub fn speech_regions(
    samples: &[f32],
    rate: u32,
    config: &VadConfig,
) -> Result<Vec<Span>, AudioError> {
    let mut detector = SpeechDetector::new(rate, config)?;
    detector.push(samples)?;
    detector.finish()
}

/// The detector over a signal given block by block, in constant memory:
/// resampled to [`VAD_RATE`] as [`resample_mono`](super::resample_mono) would ([`StreamResampler`]),
/// scored frame by frame, the regions built as the scores come
/// ([`RegionBuilder`]). The regions equal [`speech_regions`] of the whole
/// signal, whatever the blocks.
pub struct SpeechDetector {
    resampler: StreamResampler,
    /// Samples at [`VAD_RATE`] not yet scored (less than a frame between calls).
    pending: Vec<f32>,
    detector: Box<earshot::Detector>,
    regions: RegionBuilder,
}

impl SpeechDetector {
    /// A detector for mono audio at `rate` Hz.
    pub fn new(rate: u32, config: &VadConfig) -> Result<Self, AudioError> {
        Ok(Self {
            resampler: StreamResampler::new(rate, VAD_RATE)?,
            pending: Vec::new(),
            detector: earshot::Detector::default_boxed(),
            regions: RegionBuilder::new(VAD_FRAME as f64 / VAD_RATE as f64, config),
        })
    }

    /// The next block of the signal.
    pub fn push(&mut self, samples: &[f32]) -> Result<(), AudioError> {
        self.resampler.push(samples, &mut self.pending)?;
        self.score_whole_frames();
        Ok(())
    }

    /// The speech regions of everything pushed (a partial last frame is not scored).
    pub fn finish(mut self) -> Result<Vec<Span>, AudioError> {
        self.resampler.finish(&mut self.pending)?;
        self.score_whole_frames();
        Ok(self.regions.finish())
    }

    /// The regions closed since the last call, seconds from the first
    /// sample pushed (live use: each region as soon as the pause after it
    /// is long enough to close it).
    pub fn take_closed(&mut self) -> Vec<Span> {
        std::mem::take(&mut self.regions.regions)
    }

    /// The region still open, from its first speech frame to the end of its
    /// last one, if speech has started and not yet closed.
    pub fn open_region(&self) -> Option<Span> {
        self.regions.open_span()
    }

    /// Seconds of audio scored so far (whole frames).
    pub fn scored_seconds(&self) -> f64 {
        self.regions.next as f64 * self.regions.frame_seconds
    }

    /// Closes the open region now, at the end of its last speech frame, as
    /// if a long pause had come (live use: a region is cut at a bounded
    /// length); speech that goes on opens a new one.
    pub fn cut(&mut self) {
        if let Some(region) = self.regions.open.take() {
            self.regions.close(region);
        }
    }

    fn score_whole_frames(&mut self) {
        let whole = self.pending.len() / VAD_FRAME * VAD_FRAME;
        for chunk in self.pending[..whole].chunks_exact(VAD_FRAME) {
            self.regions.push(score_frame(
                &mut self.detector,
                chunk.try_into().expect("a frame"),
            ));
        }
        self.pending.drain(..whole);
    }
}

/// earshot's score for one frame (samples clamped to [-1, 1]).
fn score_frame(detector: &mut earshot::Detector, chunk: &[f32; VAD_FRAME]) -> f32 {
    let mut frame = [0.0f32; VAD_FRAME];
    for (f, &s) in frame.iter_mut().zip(chunk) {
        *f = s.clamp(-1.0, 1.0);
    }
    detector.predict_f32(&frame)
}

/// earshot's score for every whole 16 ms frame of 16 kHz mono `x`.
pub fn frame_scores(x: &[f32]) -> Vec<f32> {
    let mut detector = earshot::Detector::default_boxed();
    x.chunks_exact(VAD_FRAME)
        .map(|chunk| score_frame(&mut detector, chunk.try_into().expect("a frame")))
        .collect()
}

/// Regions from per-frame scores, frame `i` spanning `[i, i + 1) * frame_seconds`
/// (see the module docs for the rule).
pub fn regions_from_scores(scores: &[f32], frame_seconds: f64, config: &VadConfig) -> Vec<Span> {
    let mut builder = RegionBuilder::new(frame_seconds, config);
    for &s in scores {
        builder.push(s);
    }
    builder.finish()
}

/// [`regions_from_scores`] one score at a time: holds the regions closed so
/// far and the open one, never the scores.
#[derive(Debug, Clone)]
pub struct RegionBuilder {
    frame_seconds: f64,
    config: VadConfig,
    regions: Vec<Span>,
    /// First and last speech frame of the open region.
    open: Option<(usize, usize)>,
    /// Index of the next frame.
    next: usize,
}

impl RegionBuilder {
    /// A builder for frames of `frame_seconds`.
    pub fn new(frame_seconds: f64, config: &VadConfig) -> Self {
        Self {
            frame_seconds,
            config: *config,
            regions: Vec::new(),
            open: None,
            next: 0,
        }
    }

    /// The next frame's score.
    pub fn push(&mut self, score: f32) {
        let i = self.next;
        self.next += 1;
        let gap_frames = self.config.hangover / self.frame_seconds;
        if score < self.config.threshold {
            // Once the pause reaches the hangover no later speech frame can
            // bridge it (that needs `j - last - 1 < gap_frames` with
            // `j > i`): close the region now, so a live caller sees it
            // without waiting for the next speech.
            if let Some((first, last)) = self.open {
                if ((i - last) as f64) >= gap_frames {
                    self.open = None;
                    self.close((first, last));
                }
            }
            return;
        }
        self.open = Some(match self.open {
            // The pause since the last speech frame is (i - last - 1) frames.
            Some((first, last)) if ((i - last - 1) as f64) < gap_frames => (first, i),
            Some(region) => {
                self.close(region);
                (i, i)
            }
            None => (i, i),
        });
    }

    /// The open region, if any.
    fn open_span(&self) -> Option<Span> {
        self.open.map(|(first, last)| {
            Span::new(
                first as f64 * self.frame_seconds,
                (last + 1) as f64 * self.frame_seconds,
            )
        })
    }

    /// The regions, the open one closed.
    pub fn finish(mut self) -> Vec<Span> {
        if let Some(region) = self.open.take() {
            self.close(region);
        }
        self.regions
    }

    fn close(&mut self, (first, last): (usize, usize)) {
        let (start, end) = (
            first as f64 * self.frame_seconds,
            (last + 1) as f64 * self.frame_seconds,
        );
        if end - start >= self.config.min_speech {
            self.regions.push(Span::new(start, end));
        }
    }
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

    /// The streamed detector hands each region out once the pause after it
    /// reaches the hangover, the same regions as the whole-signal rule.
    #[test]
    fn regions_close_as_soon_as_the_pause_is_long_enough() {
        let cfg = cfg();
        // Hangover 0.1 s = 6.25 frames: the region of frames 2..=5 closes
        // at the first silent frame i with i - 5 >= 6.25, frame 12.
        let mut b = RegionBuilder::new(F, &cfg);
        let mut s = [0.0f32; 40];
        for i in (2..=5).chain(20..=29) {
            s[i] = 0.9;
        }
        let mut closed_at = Vec::new();
        for (i, &x) in s.iter().enumerate() {
            b.push(x);
            if !b.regions.is_empty() {
                closed_at.push(i);
                b.regions.clear();
            }
        }
        assert_eq!(closed_at, vec![12, 36]);
        assert!(b.finish().is_empty());
    }

    /// `cut` ends the open region at its last speech frame and the speech
    /// that follows opens a new one.
    #[test]
    fn cutting_splits_a_long_region() {
        let mut d = SpeechDetector::new(16_000, &VadConfig::default()).unwrap();
        d.regions = RegionBuilder::new(F, &cfg());
        for _ in 0..10 {
            d.regions.push(0.9);
        }
        let open = d.open_region().unwrap();
        assert!((open.start - 0.0).abs() < 1e-12 && (open.end - 0.160).abs() < 1e-12);
        d.cut();
        assert!(d.open_region().is_none());
        for _ in 0..5 {
            d.regions.push(0.9);
        }
        let closed = d.take_closed();
        assert_eq!(closed.len(), 1);
        assert!((closed[0].end - 0.160).abs() < 1e-12);
        let open = d.open_region().unwrap();
        assert!((open.start - 0.160).abs() < 1e-12 && (open.end - 0.240).abs() < 1e-12);
        // 15 frames pushed.
        assert!((d.scored_seconds() - 15.0 * F).abs() < 1e-12);
    }

    /// Streaming random scores (speech in bursts and clicks, pauses around
    /// the hangover): at every frame, the closed regions plus the open one,
    /// cut at `settling_seconds` before what has been scored, equal the
    /// final regions cut there.
    #[test]
    fn regions_are_final_up_to_the_settling_time() {
        for config in [cfg(), VadConfig::default()] {
            let mut state = 7u32;
            let mut next = || {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                state >> 8
            };
            // Runs of speech (1..40 frames) and pauses (1..40 frames).
            let mut scores = Vec::new();
            while scores.len() < 4000 {
                let speech = next() % 2 == 0;
                let n = 1 + next() as usize % 40;
                scores.extend(std::iter::repeat_n(if speech { 0.9 } else { 0.1 }, n));
            }
            let last = regions_from_scores(&scores, F, &config);
            let cut = |regions: &[Span], t: f64| -> Vec<(i64, i64)> {
                // In whole frames, so rounding cannot tell equal regions apart.
                let f = |x: f64| (x / F).round() as i64;
                regions
                    .iter()
                    .filter(|r| r.start < t)
                    .map(|r| (f(r.start), f(r.end.min(t))))
                    .collect()
            };
            let mut b = RegionBuilder::new(F, &config);
            let mut closed = Vec::new();
            for (i, &s) in scores.iter().enumerate() {
                b.push(s);
                closed.append(&mut b.regions);
                let t = (i + 1) as f64 * F - config.settling_seconds();
                if t <= 0.0 {
                    continue;
                }
                let mut known = closed.clone();
                known.extend(b.open_span());
                assert_eq!(cut(&known, t), cut(&last, t), "after frame {i}");
            }
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
            (r[0].start - 0.032).abs() < 1e-12 && (r[0].end - 0.240).abs() < 1e-12,
            "{r:?}"
        );
        assert!(
            (r[1].start - 0.400).abs() < 1e-12 && (r[1].end - 0.480).abs() < 1e-12,
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
            (r[0].start - 0.160).abs() < 1e-12 && (r[0].end - 0.224).abs() < 1e-12,
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

    /// Speech, silence, speech (deterministic noise bursts loud enough to
    /// score as speech or not, it does not matter: the point is equality)
    /// at 44.1 kHz, detected in blocks of many sizes: the regions equal
    /// the whole signal's, which equal frame_scores + regions_from_scores
    /// of the signal resampled whole.
    #[test]
    fn streaming_detection_equals_whole_signal() {
        let rate = 44_100u32;
        let mut state = 99u32;
        let x: Vec<f32> = (0..rate as usize * 3)
            .map(|i| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let noise = (state >> 8) as f32 / (1u32 << 24) as f32 - 0.5;
                let t = i as f32 / rate as f32;
                let loud = if (0.3..1.2).contains(&t) || (1.9..2.6).contains(&t) {
                    0.5
                } else {
                    0.001
                };
                loud * (noise + (2.0 * std::f32::consts::PI * 220.0 * t).sin())
            })
            .collect();
        let config = VadConfig::default();
        let whole = speech_regions(&x, rate, &config).unwrap();
        let reference = regions_from_scores(
            &frame_scores(&super::super::resample_mono(&x, rate, VAD_RATE).unwrap()),
            VAD_FRAME as f64 / VAD_RATE as f64,
            &config,
        );
        assert_eq!(whole, reference);
        for block in [1, 255, 4096, 100_000] {
            let mut d = SpeechDetector::new(rate, &config).unwrap();
            for b in x.chunks(block) {
                d.push(b).unwrap();
            }
            assert_eq!(d.finish().unwrap(), whole, "blocks of {block}");
        }
    }
}
