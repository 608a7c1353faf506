//! The conv-feature cache for overlapping windows: equal to a full
//! recompute, used only where conv frames are local.

use std::path::{Path, PathBuf};

use emoscope_models::{ConvFeatureCache, EncoderOutput, Kernels, LoadOptions, SslEncoder};

mod common;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A deterministic, speech-like test stream (two chirping partials and noise).
fn stream(samples: usize) -> Vec<f32> {
    let mut seed = 0x2545_f491_u32;
    (0..samples)
        .map(|i| {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            let t = i as f32 / 16_000.0;
            let noise = (seed as f32 / u32::MAX as f32) - 0.5;
            0.3 * (2.0 * std::f32::consts::PI * (140.0 + 40.0 * t) * t).sin()
                + 0.1 * (2.0 * std::f32::consts::PI * 900.0 * t).sin()
                + 0.05 * noise
        })
        .collect()
}

fn max_abs_diff(a: &EncoderOutput, b: &EncoderOutput) -> f32 {
    let mut pairs = vec![(&a.extract_features, &b.extract_features)];
    pairs.extend(a.hidden_states.iter().zip(&b.hidden_states));
    pairs.push((&a.last_hidden_state, &b.last_hidden_state));
    pairs
        .into_iter()
        .map(|(x, y)| common::max_abs_diff(x, y))
        .fold(0.0, f32::max)
}

/// Streams `window`-sample windows every `hop` samples through
/// `encode_cached` and checks each against a full `encode`; returns the
/// cache's (hits, misses).
fn stream_windows(enc: &SslEncoder, x: &[f32], window: usize, hop: usize) -> (u64, u64) {
    let mut cache = ConvFeatureCache::new();
    let mut start = 0;
    while start + window <= x.len() {
        let w = &x[start..start + window];
        let cached = enc.encode_cached(w, &mut cache).unwrap();
        let full = enc.encode(w).unwrap();
        let d = max_abs_diff(&cached, &full);
        assert!(d <= 1e-4, "window at {start}: max abs diff {d}");
        start += hop;
    }
    (cache.hits(), cache.misses())
}

#[test]
fn cached_windows_equal_a_full_recompute_for_layer_norm_convs() {
    // wav2vec2-large-robust's layout: LayerNorm after every conv. Without
    // input normalisation its conv frames are local.
    let mut enc = SslEncoder::load(&fixture("wav2vec2_robust")).unwrap();
    enc.set_do_normalize(false);
    assert!(enc.conv_features_are_local());
    let x = stream(16_000 * 3);
    // 1 s windows every 0.2 s (10 frames of 320 samples): 11 windows, the
    // first computed in full, the other 10 from the cache.
    assert_eq!(stream_windows(&enc, &x, 16_000, 3_200), (10, 1));
    // A hop that is no whole number of frames cannot re-use frames.
    assert_eq!(stream_windows(&enc, &x, 16_000, 1_000), (0, 33));
    // The same through candle's generic ops (the CUDA / Metal path).
    let opts = LoadOptions {
        kernels: Kernels::Candle,
        ..LoadOptions::default()
    };
    let mut enc = SslEncoder::load_with(&fixture("wav2vec2_robust"), &opts).unwrap();
    enc.set_do_normalize(false);
    assert_eq!(stream_windows(&enc, &x, 16_000, 3_200), (10, 1));
}

#[test]
fn a_jump_in_the_stream_computes_the_window_in_full() {
    let mut enc = SslEncoder::load(&fixture("wav2vec2_robust")).unwrap();
    enc.set_do_normalize(false);
    let x = stream(16_000 * 3);
    let mut cache = ConvFeatureCache::new();
    let a = &x[0..16_000];
    let b = &x[3_200..19_200];
    let elsewhere = &x[30_000..46_000];
    for w in [a, b, elsewhere] {
        let d = max_abs_diff(
            &enc.encode_cached(w, &mut cache).unwrap(),
            &enc.encode(w).unwrap(),
        );
        assert!(d <= 1e-4, "{d}");
    }
    assert_eq!((cache.hits(), cache.misses()), (1, 2));
    // A window of another length never matches the cached one.
    let shorter = &x[3_200..16_000];
    let d = max_abs_diff(
        &enc.encode_cached(shorter, &mut cache).unwrap(),
        &enc.encode(shorter).unwrap(),
    );
    assert!(d <= 1e-4, "{d}");
    assert_eq!((cache.hits(), cache.misses()), (1, 3));
}

#[test]
fn window_wide_normalisation_disables_the_cache() {
    // DistilHuBERT's GroupNorm spans the window: no frame can be re-used.
    let enc = SslEncoder::load(&fixture("distilhubert")).unwrap();
    assert!(!enc.conv_features_are_local());
    let x = stream(16_000 * 2);
    assert_eq!(stream_windows(&enc, &x, 8_000, 3_200), (0, 8));
    // Input normalisation (do_normalize) changes every sample of a moved window.
    let enc = SslEncoder::load(&fixture("wav2vec2_robust")).unwrap();
    assert!(enc.preprocessor().do_normalize);
    assert!(!enc.conv_features_are_local());
    assert_eq!(stream_windows(&enc, &x, 8_000, 3_200), (0, 8));
}
