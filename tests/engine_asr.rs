//! Speech recognition in the engine, with real weights on real speech:
//! Whisper tiny.en (installed by `scripts/setup.sh`) hears LibriVox clips
//! played through the engine at 48 kHz, and the emotion windows get the
//! words it recognised. The emotion model is the audio+text fixture
//! (`emotion/early_fallback`: random weights, the real structure), so a
//! window's reading depends on its text.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use candle_core::Device;
use emoscope::engine::capture::RenderMode;
use emoscope::engine::{
    analyse_offline, capture, AnalysisConfig, AsrSettings, AsrState, EmotionPredictor, Engine,
    EngineShared, Loader, ModelPredictor, ModelState,
};

mod common;
#[path = "common/speech.rs"]
mod speech;

const RATE: f32 = 48_000.0;

fn loader() -> Loader {
    Box::new(|dir: &Path| {
        ModelPredictor::load(dir, &Device::Cpu).map(|m| Box::new(m) as Box<dyn EmotionPredictor>)
    })
}

fn emotion_model() -> PathBuf {
    common::fixture("emotion/early_fallback")
}

fn wait_until(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !f() {
        assert!(t0.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Two LibriVox clips at 48 kHz, 1 s of silence before each and after the
/// last; their reference texts.
fn session() -> (Vec<f32>, Vec<String>) {
    let clips = speech::clips();
    let mut x = Vec::new();
    let mut refs = Vec::new();
    for (wav, text) in [&clips[0], &clips[2]] {
        x.extend(std::iter::repeat_n(0.0, RATE as usize));
        x.extend(emoscope::audio::load_mono(wav, RATE as u32).unwrap());
        refs.push(text.clone());
    }
    x.extend(std::iter::repeat_n(0.0, RATE as usize));
    (x, refs)
}

/// No smoothing, so a window scored again equals a window scored once
/// with the same text.
fn config() -> AnalysisConfig {
    AnalysisConfig {
        smoothing_seconds: 0.0,
        ..AnalysisConfig::default()
    }
}

fn start(whisper: &Path, mode: RenderMode) -> (capture::CaptureInput, Engine, Arc<EngineShared>) {
    let (mut input, output) = capture::capture(1 << 22);
    input.set_render_mode(mode);
    let engine = Engine::spawn(output, loader(), Some(emotion_model()), config());
    engine.set_asr(AsrSettings {
        enabled: true,
        model_dir: Some(whisper.to_owned()),
        language: None,
    });
    let shared = engine.shared().clone();
    wait_until("the models to load", Duration::from_secs(120), || {
        shared.status.state() == ModelState::Loaded && shared.asr.state() == AsrState::Ready
    });
    (input, engine, shared)
}

/// What the recogniser heard, against the references; and every reading
/// carries the recognised words of its span and equals the offline
/// analysis of the same audio with that transcript (scored once, with
/// its words).
fn check(x: &[f32], refs: &[String], shared: &EngineShared) {
    let heard = shared.recognised.snapshot();
    let text = heard.text_between(0.0, 1e9);
    let wer = speech::wer(&refs.join(" "), &text);
    eprintln!("recognised: {text}\nWER {:.1} %", 100.0 * wer);
    assert!(wer <= 0.10, "WER {wer} over the two clips: {text}");
    let readings = shared.timeline.snapshot();
    let mut model = ModelPredictor::load(&emotion_model(), &Device::Cpu).unwrap();
    let offline = analyse_offline(x, RATE, &mut model, &config(), Some(&heard)).unwrap();
    assert_eq!(readings.len(), offline.len());
    let mut worded = 0;
    for (r, o) in readings.iter().zip(&offline) {
        assert_eq!(r.span, o.reading.span);
        assert_eq!(r.text, heard.text_between(r.span.start, r.span.end));
        assert_eq!(r.text, o.reading.text);
        assert_eq!(r.emotion, o.raw, "window {:?} ({})", r.span, r.text);
        worded += usize::from(!r.text.is_empty());
    }
    // Speech from 1 s to 8.1 s and from 9.1 s to 14.4 s: every 4 s window
    // (one per second, 0..=12 s) overlaps some.
    assert_eq!(worded, readings.len());
}

/// An offline bounce: every window is analysed, every region heard, and
/// the timeline is complete when the engine is dropped.
#[test]
fn a_bounce_scores_every_window_with_the_words_heard_in_it() {
    let Some(whisper) = speech::whisper_dir() else {
        return;
    };
    let (x, refs) = session();
    let (mut input, engine, shared) = start(&whisper, RenderMode::Offline);
    for (i, block) in x.chunks(512).enumerate() {
        input.push(&[block, block], (i * 512) as i64, RATE, true);
    }
    drop(engine);
    assert_eq!(shared.status.windows_dropped.load(Ordering::Relaxed), 0);
    assert_eq!(shared.asr.samples_dropped.load(Ordering::Relaxed), 0);
    assert!(shared.asr.regions.load(Ordering::Relaxed) >= 2);
    check(&x, &refs, &shared);
}

/// Live playback paced by the clock: words arrive after the windows
/// they belong to were first analysed, and those windows are scored again.
#[test]
fn live_playback_rescores_windows_when_their_words_arrive() {
    let Some(whisper) = speech::whisper_dir() else {
        return;
    };
    let (x, refs) = session();
    let (mut input, engine, shared) = start(&whisper, RenderMode::Realtime);
    let t0 = Instant::now();
    for (i, block) in x.chunks(480).enumerate() {
        // Each 10 ms block at its time.
        let due = Duration::from_secs_f64(i as f64 * 0.01);
        if let Some(wait) = due.checked_sub(t0.elapsed()) {
            std::thread::sleep(wait);
        }
        input.push(&[block, block], (i * 480) as i64, RATE, true);
    }
    // The host stops: the last region closes and is heard.
    let silence = vec![0.0f32; 480];
    let end = x.len() as i64;
    wait_until("the last words", Duration::from_secs(60), || {
        input.push(&[&silence[..], &silence[..]], end, RATE, false);
        std::thread::sleep(Duration::from_millis(10));
        shared.asr.regions.load(Ordering::Relaxed) >= 2
            && shared
                .recognised
                .snapshot()
                .text_between(9.0, 15.0)
                .split_whitespace()
                .count()
                > 5
    });
    let latencies = shared.asr.texts().latencies;
    eprintln!(
        "regions {}, windows re-scored {}, latencies {latencies:?}, windows dropped {}",
        shared.asr.regions.load(Ordering::Relaxed),
        shared.asr.windows_rescored.load(Ordering::Relaxed),
        shared.status.windows_dropped.load(Ordering::Relaxed),
    );
    assert!(shared.asr.windows_rescored.load(Ordering::Relaxed) > 0);
    drop(engine);
    if shared.status.windows_dropped.load(Ordering::Relaxed) == 0
        && shared.asr.samples_dropped.load(Ordering::Relaxed) == 0
    {
        // Nothing skipped (the machine kept up): the whole check holds.
        check(&x, &refs, &shared);
    }
}

/// A Whisper folder that is not there: the status says so, naming it, and
/// the emotion analysis goes on without words.
#[test]
fn a_missing_whisper_model_is_reported_and_the_analysis_goes_on() {
    let (mut input, output) = capture::capture(1 << 22);
    input.set_render_mode(RenderMode::Offline);
    let engine = Engine::spawn(output, loader(), Some(emotion_model()), config());
    engine.set_asr(AsrSettings {
        enabled: true,
        model_dir: Some("/nonexistent/whisper".into()),
        language: None,
    });
    let shared = engine.shared().clone();
    wait_until("the load to fail", Duration::from_secs(60), || {
        shared.asr.state() == AsrState::Failed
    });
    let error = shared.asr.texts().error;
    assert!(
        error.contains("/nonexistent/whisper") && error.contains("setup.sh"),
        "{error}"
    );
    let x = vec![0.01f32; 6 * RATE as usize];
    for (i, block) in x.chunks(512).enumerate() {
        input.push(&[block], (i * 512) as i64, RATE, true);
    }
    drop(engine);
    // 6 s, 4 s windows every 1 s: 3 windows, no words.
    let readings = shared.timeline.snapshot();
    assert_eq!(readings.len(), 3);
    assert!(readings.iter().all(|r| r.text.is_empty()));
    assert!(shared.status.texts().error.is_empty());
}
