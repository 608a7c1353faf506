//! The voice-activity detector on real speech (the espeak-ng example file),
//! padded with silence: the regions it finds agree with where the signal
//! has energy, and the hangover joins or splits phrases by pause length.

use std::path::Path;

use emoscope::audio::load_mono;
use emoscope::audio::vad::{speech_regions, VadConfig};

fn speech() -> Vec<f32> {
    load_mono(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/speech.wav"),
        16_000,
    )
    .unwrap()
}

/// Sample range of the 10 ms frames whose RMS exceeds -40 dBFS (0.01): an
/// energy reference independent of the detector.
fn energetic(x: &[f32]) -> std::ops::Range<usize> {
    let loud: Vec<bool> = x
        .chunks(160)
        .map(|c| (c.iter().map(|v| v * v).sum::<f32>() / c.len() as f32).sqrt() > 0.01)
        .collect();
    let first = loud.iter().position(|&b| b).unwrap();
    let last = loud.iter().rposition(|&b| b).unwrap();
    first * 160..((last + 1) * 160).min(x.len())
}

fn silence(seconds: f64) -> Vec<f32> {
    vec![0.0; (seconds * 16_000.0) as usize]
}

#[test]
fn speech_in_silence_is_one_region_where_the_energy_is() {
    let x = speech();
    let e = energetic(&x);
    let mut padded = silence(1.0);
    padded.extend_from_slice(&x);
    padded.extend(silence(1.5));
    let r = speech_regions(&padded, 16_000, &VadConfig::default()).unwrap();
    assert_eq!(r.len(), 1, "{r:?}");
    // The comma pause ("wonderful, and") stays inside; the edges agree with the
    // energy within 0.1 s at the start and 0.2 s at the end (the detector's context lags).
    let (start, end) = (
        1.0 + e.start as f64 / 16_000.0,
        1.0 + e.end as f64 / 16_000.0,
    );
    assert!((r[0].start - start).abs() < 0.1, "{r:?} vs {start}..{end}");
    assert!((r[0].end - end).abs() < 0.2, "{r:?} vs {start}..{end}");
}

#[test]
fn hangover_joins_short_pauses_and_splits_long_ones() {
    let x = speech();
    let voiced = &x[energetic(&x)];
    let two = |gap: f64| {
        let mut v = silence(0.5);
        v.extend_from_slice(voiced);
        v.extend(silence(gap));
        v.extend_from_slice(voiced);
        v.extend(silence(0.5));
        speech_regions(&v, 16_000, &VadConfig::default()).unwrap()
    };
    // 0.15 s of silence is shorter than the 0.3 s hangover.
    assert_eq!(two(0.15).len(), 1, "{:?}", two(0.15));
    // 1.2 s is not: the second phrase starts at 0.5 + len + 1.2 s.
    let r = two(1.2);
    assert_eq!(r.len(), 2, "{r:?}");
    let second = 0.5 + voiced.len() as f64 / 16_000.0 + 1.2;
    assert!((r[1].start - second).abs() < 0.1, "{r:?} vs {second}");
}
