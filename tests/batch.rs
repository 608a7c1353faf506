//! Batched window inference: offline analysis reads consecutive windows in
//! one model call ([`EmotionPredictor::predict_batch`]), and the readings
//! are those of one window at a time, bit for bit, whatever the batch, with
//! speech gating and a text branch.

use std::path::Path;

use candle_core::Device;
use emoscope::engine::{
    analyse_offline_with, load_predictor, AnalysisConfig, EmotionPredictor, OfflineAnalysis,
    OfflineOptions, PredictError, DEFAULT_BATCH,
};
use emoscope::transcript::{Segment, Transcript};
use emoscope::{Emotion, Span};

mod common;
use common::{fixture, model_dir, signal};

/// A predictor that notes the size of every batch it is handed and
/// passes it on to the real model.
struct Counting {
    inner: Box<dyn EmotionPredictor>,
    batches: Vec<usize>,
}

impl EmotionPredictor for Counting {
    fn id(&self) -> &str {
        self.inner.id()
    }
    fn device(&self) -> String {
        self.inner.device()
    }
    fn sample_rate(&self) -> u32 {
        self.inner.sample_rate()
    }
    fn predict(&mut self, samples: &[f32], text: &str) -> Result<Emotion, PredictError> {
        self.batches.push(1);
        self.inner.predict(samples, text)
    }
    fn predict_batch(&mut self, windows: &[(&[f32], &str)]) -> Result<Vec<Emotion>, PredictError> {
        self.batches.push(windows.len());
        self.inner.predict_batch(windows)
    }
}

fn transcript() -> Transcript {
    Transcript::new(vec![
        Segment {
            start: 1.0,
            end: 3.5,
            text: "what a lovely day".into(),
            words: vec![],
            ..Default::default()
        },
        Segment {
            start: 9.0,
            end: 12.0,
            text: "this is dreadful".into(),
            words: vec![],
            ..Default::default()
        },
    ])
    .unwrap()
}

fn analyse(
    dir: &Path,
    audio: &[f32],
    rate: f32,
    batch: Option<usize>,
    speech: Option<&[Span]>,
) -> (OfflineAnalysis, Vec<usize>) {
    let mut model = Counting {
        inner: load_predictor(dir, &Device::Cpu).unwrap(),
        batches: Vec::new(),
    };
    let transcript = transcript();
    let config = AnalysisConfig {
        smoothing_seconds: 1.5,
        ..AnalysisConfig::default()
    };
    let analysis = analyse_offline_with(
        audio,
        rate,
        &mut model,
        &config,
        OfflineOptions {
            transcript: Some(&transcript),
            speech,
            batch,
            ..Default::default()
        },
    )
    .unwrap();
    (analysis, model.batches)
}

fn batches_equal_single_windows(dir: &Path) {
    // 20 s at 22.05 kHz: 17 windows of 4 s every 1 s.
    let rate = 22_050.0;
    let audio = signal(20.0, rate);
    let (one, sizes) = analyse(dir, &audio, rate, Some(1), None);
    assert_eq!(one.windows.len(), 17);
    assert!(sizes.iter().all(|&n| n == 1), "{sizes:?}");
    for batch in [None, Some(3), Some(64)] {
        let (many, sizes) = analyse(dir, &audio, rate, batch, None);
        assert_eq!(many, one, "batch {batch:?}");
        let b = batch.unwrap_or(DEFAULT_BATCH).min(17);
        // Full batches, then the rest.
        let expected: Vec<usize> = (0..17).step_by(b).map(|from| b.min(17 - from)).collect();
        assert_eq!(sizes, expected, "batch {batch:?}");
    }
    // Speech gating: a window without speech ends the batch before it
    // (smoothing starts over after the gap), and the readings stay the same.
    let speech = [Span::new(0.0, 6.0), Span::new(12.0, 20.0)];
    let (one, _) = analyse(dir, &audio, rate, Some(1), Some(&speech));
    let (many, sizes) = analyse(dir, &audio, rate, Some(4), Some(&speech));
    assert!(!one.no_speech.is_empty());
    assert_eq!(many, one);
    assert!(
        sizes.iter().all(|&n| n <= 4) && sizes.contains(&4),
        "{sizes:?}"
    );
    assert_eq!(sizes.iter().sum::<usize>(), one.windows.len());
}

#[test]
fn batches_of_an_audio_model_equal_one_window_at_a_time() {
    // The DistilHuBERT-shaped fixture: GroupNorm over each window, so every
    // window is computed whole and the batch goes through the encoder at once.
    let dir = model_dir("batch", 1.0);
    batches_equal_single_windows(dir.path());
}

#[test]
fn batches_of_an_audio_text_model_equal_one_window_at_a_time() {
    // Text on some windows (embedded in one batch per call), none on others
    // (the audio-only fallback answers those).
    batches_equal_single_windows(&fixture("emotion/early_fallback"));
}

#[test]
fn a_batch_of_windows_reads_as_each_window_alone() {
    for dir in [
        fixture("emotion/early_fallback"),
        fixture("emotion/late"),
        fixture("emotion/audio_asp_weighted"),
        // transformers *ForSequenceClassification regression heads.
        fixture("classification-hubert-dimensions"),
        fixture("classification-wav2vec2-dimensions"),
        fixture("classification-wavlm-dimensions"),
        fixture("classification-data2vec-dimensions"),
        // The Odyssey 2024 challenge baseline's layout.
        fixture("odyssey-dim"),
    ] {
        let mut model = load_predictor(&dir, &Device::Cpu).unwrap();
        let audio = signal(12.0, 16_000.0);
        let windows: Vec<(&[f32], &str)> = vec![
            (&audio[..64_000], "what a lovely day"),
            (&audio[16_000..80_000], ""),
            (&audio[32_000..96_000], "what a lovely day"),
            (
                &audio[48_000..112_000],
                "a different and rather longer sentence here",
            ),
        ];
        let batch = model.predict_batch(&windows).unwrap();
        let alone: Vec<Emotion> = windows
            .iter()
            .map(|&(s, t)| model.predict(s, t).unwrap())
            .collect();
        assert_eq!(batch, alone, "{}", dir.display());
        // Windows of different lengths are read one by one, as they are.
        let mixed = [windows[0], (&audio[..40_000], "what a lovely day")];
        let batch = model.predict_batch(&mixed).unwrap();
        assert_eq!(batch[0], alone[0]);
        assert_eq!(batch[1], model.predict(mixed[1].0, mixed[1].1).unwrap());
    }
}
