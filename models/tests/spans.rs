//! Every layer creates a tracing span when it is loaded and enters it when it
//! runs, so a trace shows where the time goes. A recording subscriber is
//! installed around loading and running each model, and the names of the
//! spans entered are compared with the layers the model has.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use emoscope_models::whisper::{TranscribeOptions, Whisper};
use emoscope_models::{EmotionModel, Kernels, LoadOptions};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/emotion")
        .join(name)
}

/// Remembers the name of every span created and of every span entered.
#[derive(Default)]
struct Recorder {
    /// Span names by id - 1.
    created: Mutex<Vec<&'static str>>,
    entered: Mutex<BTreeSet<&'static str>>,
}

impl Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut created = self.created.lock().unwrap();
        created.push(span.metadata().name());
        Id::from_u64(created.len() as u64)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, _: &Event<'_>) {}
    fn enter(&self, span: &Id) {
        let name = self.created.lock().unwrap()[span.into_u64() as usize - 1];
        self.entered.lock().unwrap().insert(name);
    }
    fn exit(&self, _: &Id) {}
}

/// The names of the spans entered while loading `model` with `kernels` and
/// predicting one utterance (with a transcript when the model reads text).
fn spans_entered(model: &str, kernels: Kernels) -> BTreeSet<&'static str> {
    let dispatch = tracing::Dispatch::new(Recorder::default());
    tracing::dispatcher::with_default(&dispatch, || {
        let opts = LoadOptions {
            kernels,
            ..LoadOptions::default()
        };
        let model = EmotionModel::load(&fixture(model), &opts).unwrap();
        let samples: Vec<f32> = (0..8000).map(|i| (i as f32 * 0.01).sin()).collect();
        let text = model.text().map(|_| "a calm voice");
        model.predict(&samples, text).unwrap();
    });
    let recorder = dispatch.downcast_ref::<Recorder>().unwrap();
    let entered = recorder.entered.lock().unwrap().clone();
    entered
}

fn assert_entered(model: &str, kernels: Kernels, expected: &[&str]) {
    let entered = spans_entered(model, kernels);
    let missing: Vec<&&str> = expected.iter().filter(|n| !entered.contains(**n)).collect();
    assert!(
        missing.is_empty(),
        "{model}: no span {missing:?} among {entered:?}"
    );
}

/// The speech encoder's layers that run on either implementation.
const SPEECH: [&str; 7] = [
    "ssl-encoder",
    "feature-extractor",
    "feature-projection",
    "encoder",
    "pos-conv-embed",
    "encoder-layer",
    "audio-branch",
];

#[test]
fn every_layer_of_an_audio_and_bert_model_enters_its_span() {
    // early_fallback: distilhubert, attentive statistics, BERT text, early fusion.
    let mut expected = SPEECH.to_vec();
    expected.extend([
        // candle's conv stack and transformer layers (the CPU kernels have their own).
        "conv-layer",
        "attention",
        "feed-forward",
        "attentive-statistics",
        "text-encoder",
        "bert",
        "bert-embeddings",
        "bert-layer",
        "mlp",
        "emotion-head",
    ]);
    assert_entered("early_fallback", Kernels::Candle, &expected);
}

#[test]
fn weighted_layers_and_distilbert_enter_their_spans() {
    assert_entered(
        "audio_asp_weighted",
        Kernels::Candle,
        &["layer-weights", "attentive-statistics", "mlp"],
    );
    assert_entered(
        "text_mean",
        Kernels::Candle,
        &[
            "text-encoder",
            "distilbert",
            "distilbert-embeddings",
            "distilbert-attention",
            "distilbert-layer",
            "mlp",
            "emotion-head",
        ],
    );
}

#[test]
fn the_cpu_kernels_run_inside_the_layers_spans() {
    assert_entered("audio_mean", Kernels::Auto, &SPEECH);
}

/// The spans Whisper enters transcribing a second of audio, on the CPU
/// kernels (`true`: whole layers run as one kernel, so the layer spans are
/// the innermost) or on candle ops (every sub-layer's span).
fn whisper_spans(kernels: bool) -> std::collections::BTreeSet<String> {
    let dispatch = tracing::Dispatch::new(Recorder::default());
    tracing::dispatcher::with_default(&dispatch, || {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/whisper/hf");
        let mut whisper = Whisper::load(&dir, &candle_core::Device::Cpu).unwrap();
        whisper.model_mut().set_cpu_kernels(kernels).unwrap();
        let samples: Vec<f32> = (0..16_000).map(|i| (i as f32 * 0.05).sin() * 0.3).collect();
        whisper
            .transcribe(&samples, &TranscribeOptions::greedy())
            .unwrap();
    });
    let recorder = dispatch.downcast_ref::<Recorder>().unwrap();
    let entered = recorder.entered.lock().unwrap().clone();
    entered.into_iter().map(|s| s.to_string()).collect()
}

const WHISPER_LAYERS: [&str; 8] = [
    "whisper-transcribe",
    "whisper-log-mel",
    "whisper",
    "whisper-encoder",
    "whisper-encoder-layer",
    "whisper-decode-window",
    "whisper-decoder",
    "whisper-decoder-layer",
];

#[test]
fn every_whisper_layer_enters_its_span() {
    let entered = whisper_spans(false);
    for name in WHISPER_LAYERS.iter().chain(&[
        "whisper-self-attention",
        "whisper-feed-forward",
        "whisper-cross-attention",
    ]) {
        assert!(entered.contains(*name), "no span {name} among {entered:?}");
    }
}

#[test]
fn whisper_on_the_cpu_kernels_runs_inside_its_layers_spans() {
    let entered = whisper_spans(true);
    for name in WHISPER_LAYERS {
        assert!(entered.contains(name), "no span {name} among {entered:?}");
    }
}
