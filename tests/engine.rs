//! The engine end to end with a real encoder (the DistilHuBERT-shaped
//! fixture) and a linear A/V/D head: streamed equals offline, transport
//! loops replace timeline entries, model swap and failed loads, falling
//! behind, NaN input, the speech gate ("analyse speech only") on real
//! speech between silences.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use candle_core::Device;
use emoscope::engine::{
    analyse_offline, capture, load_predictor, AnalysisConfig, EmotionPredictor, Engine, Loader,
    ModelPredictor, ModelState,
};
use emoscope::transcript::{Segment, Transcript};
use emoscope::Span;

mod common;
use common::{model_dir, signal};
#[path = "common/speech.rs"]
mod speech;

fn loader() -> Loader {
    Box::new(|dir: &Path| load_predictor(dir, &Device::Cpu))
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !f() {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn streamed_in_random_blocks_equals_offline() {
    let dir = model_dir("stream", 1.0);
    streamed_equals_offline(dir.path());
}

#[test]
fn streamed_equals_offline_with_an_audio_text_model() {
    // The text branch runs on windows that overlap the transcript, the
    // audio-only fallback head on the others.
    streamed_equals_offline(&common::fixture("emotion/early_fallback"));
}

/// Issue 13: a categorical head (transformers
/// `WavLMForSequenceClassification` over four categories) streams to the
/// probabilities the offline analysis reads, bit for bit, and no dimensions.
#[test]
fn streamed_equals_offline_with_a_categorical_head() {
    let streamed = streamed_equals_offline(&common::fixture("classification-wavlm-categories"));
    for r in &streamed {
        assert!(!r.emotion.has_dimensions());
        assert_eq!(r.emotion.probabilities.len(), 4);
        let sum: f32 = r.emotion.probabilities.as_slice().iter().sum();
        assert!((sum - 1.0).abs() < 1e-5, "{sum}");
    }
}

/// Streams 9 s in random blocks and checks each window equals the offline
/// analysis' reading of it; returns the streamed timeline.
fn streamed_equals_offline(dir: &Path) -> Vec<emoscope::Reading> {
    let rate = 44_100.0f32;
    let x = signal(9.0, rate);
    let transcript = Transcript::new(vec![Segment {
        start: 1.0,
        end: 3.0,
        text: "what a lovely day".into(),
        ..Default::default()
    }])
    .unwrap();
    let cfg = AnalysisConfig::default();
    let mut model = load_predictor(dir, &Device::Cpu).unwrap();
    let reads_text = model.reads_text();
    let offline = analyse_offline(&x, rate, model.as_mut(), &cfg, Some(&transcript)).unwrap();
    // 9 s, 4 s windows every 1 s: windows starting at 0..=5 s.
    assert_eq!(offline.len(), 6);

    let (mut input, output) = capture::capture(1 << 20);
    let engine = Engine::spawn(output, loader(), Some(dir.to_owned()), cfg.clone());
    engine.set_transcript(Some(Arc::new(transcript)));
    let shared = engine.shared().clone();
    wait_until("the model to load", || {
        shared.status.state() == ModelState::Loaded
    });
    // Random block sizes (a fixed LCG), waiting for the worker after every
    // hop's worth so it never has to skip.
    let mut seed = 12345u64;
    let mut pos = 0usize;
    let hop = rate as usize;
    let mut next_wait = 4 * hop;
    while pos < x.len() {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let n = (1 + (seed >> 33) as usize % 3000).min(x.len() - pos);
        input.push(&[&x[pos..pos + n]], pos as i64, rate, true);
        pos += n;
        if pos >= next_wait {
            let expected = (next_wait / hop - 4 + 1) as u64;
            // The window is complete once the resampler's filter has seen enough input past it.
            if pos >= next_wait + 2048 {
                wait_until("a window", || {
                    shared.status.windows_analysed.load(Ordering::Relaxed) >= expected
                });
                next_wait += hop;
            }
        }
    }
    // Offline mode treats the end of the file as followed by silence; give
    // the stream the same silence so the resampler's last outputs agree.
    input.push(&[&vec![0.0f32; 4096][..]], x.len() as i64, rate, true);
    wait_until("all windows", || {
        shared.status.windows_analysed.load(Ordering::Relaxed) as usize >= offline.len()
    });
    let streamed = shared.timeline.snapshot();
    assert_eq!(shared.status.windows_dropped.load(Ordering::Relaxed), 0);
    assert_eq!(streamed.len(), offline.len());
    for (s, o) in streamed.iter().zip(&offline) {
        assert_eq!(s.span, o.reading.span);
        assert_eq!(s.emotion, o.raw);
        assert_eq!(s.text, o.reading.text);
    }
    if reads_text {
        assert_eq!(streamed[0].text, "what a lovely day");
        assert_eq!(
            streamed[3].text, "",
            "the window from 3 s to 7 s does not overlap 1-3 s"
        );
    }
    let last = shared.readout.read().unwrap().reading;
    assert_eq!((last.span.start, last.span.end), (5.0, 9.0));
    assert_eq!(last.emotion, streamed[5].emotion);
    streamed
}

#[test]
fn looping_a_region_replaces_its_timeline_entries() {
    let dir = model_dir("loop", 1.0);
    let rate = 16_000.0f32;
    let x = signal(5.0, rate);
    let (mut input, output) = capture::capture(1 << 20);
    let engine = Engine::spawn(
        output,
        loader(),
        Some(dir.path().to_owned()),
        AnalysisConfig::default(),
    );
    let shared = engine.shared().clone();
    wait_until("the model", || shared.status.state() == ModelState::Loaded);
    for pass in 0..2u64 {
        // 5 s gives windows at 0 and 1 s per pass; push 4 s, let the worker
        // analyse it, then the last second (so it never needs to skip).
        let (first, rest) = x.split_at(4 * 16_000);
        input.push(&[first], 0, rate, true);
        wait_until("window 0", || {
            shared.status.windows_analysed.load(Ordering::Relaxed) > 2 * pass
        });
        input.push(&[rest], first.len() as i64, rate, true);
        wait_until("window 1", || {
            shared.status.windows_analysed.load(Ordering::Relaxed) > 2 * pass + 1
        });
    }
    let entries = shared.timeline.snapshot();
    assert_eq!(
        entries.iter().map(|e| e.span.start).collect::<Vec<_>>(),
        vec![0.0, 1.0]
    );
}

#[test]
fn a_failed_swap_keeps_the_model_and_a_good_swap_replaces_it() {
    let a = model_dir("model-a", 1.0);
    let b = model_dir("model-b", -1.0);
    let rate = 16_000.0f32;
    let x = signal(4.0, rate);
    let (mut input, output) = capture::capture(1 << 20);
    let engine = Engine::spawn(
        output,
        loader(),
        Some(a.path().to_owned()),
        AnalysisConfig::default(),
    );
    let shared = engine.shared().clone();
    wait_until("model a", || shared.status.state() == ModelState::Loaded);
    engine.load_model(PathBuf::from("/nonexistent/model"));
    wait_until("the failure", || {
        shared.status.state() == ModelState::Failed
    });
    let texts = shared.status.texts();
    assert!(
        texts.error.contains("/nonexistent/model"),
        "{}",
        texts.error
    );
    // Still analysing with model a.
    input.push(&[&x[..]], 0, rate, true);
    wait_until("a window", || {
        shared.status.windows_analysed.load(Ordering::Relaxed) >= 1
    });
    let first = shared.timeline.snapshot();
    assert!(
        first[0].model_id.starts_with("model-a"),
        "{}",
        first[0].model_id
    );
    engine.load_model(b.path().to_owned());
    wait_until("model b", || {
        shared.status.texts().model_id.starts_with("model-b")
    });
    input.push(&[&x[..]], 4 * 16_000, rate, true);
    wait_until("a second window", || {
        shared.status.windows_analysed.load(Ordering::Relaxed) >= 2
    });
    let entries = shared.timeline.snapshot();
    let last = entries.last().unwrap();
    assert!(last.model_id.starts_with("model-b"));
    // The head of b is the negation of a's (same bias), so outputs differ.
    assert_ne!(last.emotion.arousal, first[0].emotion.arousal);
}

#[test]
fn falling_behind_skips_to_the_newest_window_and_counts() {
    let dir = model_dir("behind", 1.0);
    let rate = 16_000.0f32;
    let x = signal(20.0, rate);
    let (mut input, output) = capture::capture(1 << 20);
    // Push all 20 s before the model is there: the worker finds 17 ready windows at once.
    for (i, chunk) in x.chunks(4096).enumerate() {
        input.push(&[chunk], (i * 4096) as i64, rate, true);
    }
    let engine = Engine::spawn(
        output,
        loader(),
        Some(dir.path().to_owned()),
        AnalysisConfig::default(),
    );
    let shared = engine.shared().clone();
    wait_until("a reading", || shared.readout.read().is_some());
    let r = shared.readout.read().unwrap().reading;
    assert_eq!((r.span.start, r.span.end), (16.0, 20.0));
    assert_eq!(shared.status.windows_analysed.load(Ordering::Relaxed), 1);
    // 20 s give windows at 0..=16 s; all but the newest were skipped.
    assert_eq!(shared.status.windows_dropped.load(Ordering::Relaxed), 16);
}

#[test]
fn nan_audio_is_counted_and_analysis_goes_on() {
    let dir = model_dir("nan", 1.0);
    let rate = 16_000.0f32;
    let mut x = signal(4.0, rate);
    for v in x.iter_mut().step_by(100) {
        *v = f32::NAN;
    }
    let (mut input, output) = capture::capture(1 << 20);
    let engine = Engine::spawn(
        output,
        loader(),
        Some(dir.path().to_owned()),
        AnalysisConfig::default(),
    );
    let shared = engine.shared().clone();
    wait_until("the model", || shared.status.state() == ModelState::Loaded);
    input.push(&[&x[..]], 0, rate, true);
    wait_until("a reading", || shared.readout.read().is_some());
    let r = shared.readout.read().unwrap().reading;
    assert!(
        r.emotion.arousal.is_finite()
            && r.emotion.valence.is_finite()
            && r.emotion.dominance.is_finite()
    );
    // One in every 100 of 64000 samples.
    assert_eq!(input.stats().non_finite.load(Ordering::Relaxed), 640);
    assert_eq!(shared.capture.non_finite.load(Ordering::Relaxed), 640);
}

#[test]
fn a_clip_shorter_than_a_window_is_analysed_whole() {
    let dir = model_dir("short", 1.0);
    let mut model = ModelPredictor::load(dir.path(), &Device::Cpu).unwrap();
    let cfg = AnalysisConfig::default();
    // At the model rate nothing is resampled, so the one window must be
    // exactly the model's reading of the whole clip.
    let x = signal(1.5, 16_000.0);
    let offline = analyse_offline(&x, 16_000.0, &mut model, &cfg, None).unwrap();
    assert_eq!(offline.len(), 1);
    let w = &offline[0];
    assert_eq!((w.reading.span.start, w.reading.span.end), (0.0, 1.5));
    assert_eq!(w.raw, model.predict(&x, "").unwrap());
    // From another rate the window still spans the clip.
    let y = signal(2.5, 44_100.0);
    let offline = analyse_offline(&y, 44_100.0, &mut model, &cfg, None).unwrap();
    assert_eq!(offline.len(), 1);
    let end = offline[0].reading.span.end;
    assert!((end - 2.5).abs() < 1e-3, "{end}");
    // A clip of exactly one window is one ordinary window, not two.
    let z = signal(4.0, 16_000.0);
    assert_eq!(
        analyse_offline(&z, 16_000.0, &mut model, &cfg, None)
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn overlapping_windows_reuse_conv_frames_where_the_encoder_allows() {
    // wav2vec2-large-robust's layout (LayerNorm convs) without input
    // normalisation: each window's first 3 s of conv frames come from the
    // window before.
    let dir = common::model_dir_on("layer-convs", 1.0, "wav2vec2_robust", Some(false));
    let mut cached = ModelPredictor::load(dir.path(), &Device::Cpu).unwrap();
    let cfg = AnalysisConfig::default();
    let x = signal(9.0, 16_000.0);
    let offline = analyse_offline(&x, 16_000.0, &mut cached, &cfg, None).unwrap();
    assert_eq!(offline.len(), 6);
    let cache = cached.conv_cache();
    assert_eq!((cache.hits(), cache.misses()), (5, 1));
    // Each window against a predictor that has seen nothing before it.
    for w in &offline {
        let mut fresh = ModelPredictor::load(dir.path(), &Device::Cpu).unwrap();
        let start = (w.reading.span.start * 16_000.0).round() as usize;
        let full = fresh.predict(&x[start..start + 64_000], "").unwrap();
        assert_eq!(fresh.conv_cache().hits(), 0);
        for (a, b) in [
            (w.raw.arousal, full.arousal),
            (w.raw.valence, full.valence),
            (w.raw.dominance, full.dominance),
        ] {
            assert!(
                (a - b).abs() <= 1e-4,
                "window at {} s: {a} vs {b}",
                w.reading.span.start
            );
        }
    }
    // Streaming in random blocks takes the same path: identical results.
    streamed_equals_offline(dir.path());
}

#[test]
fn offline_analysis_reports_progress_window_by_window() {
    // 20 s in 4 s windows every 1 s: windows end at 4, 5, ..., 20 s (17
    // windows), and the progress callback hears each end once, in order.
    let dir = model_dir("progress", 1.0);
    let mut model = emoscope::engine::load_predictor(dir.path(), &Device::Cpu).unwrap();
    let audio = signal(20.0, 16_000.0);
    let mut heard = Vec::new();
    let mut progress = |t| heard.push(t);
    let results = emoscope::engine::analyse_offline_with(
        &audio,
        16_000.0,
        model.as_mut(),
        &AnalysisConfig::default(),
        emoscope::engine::OfflineOptions {
            progress: Some(&mut progress),
            ..Default::default()
        },
    )
    .unwrap()
    .windows;
    let ends: Vec<f64> = results.iter().map(|r| r.reading.span.end).collect();
    assert_eq!(heard, ends);
    assert_eq!(heard.len(), 17);
    assert!((heard[16] - 20.0).abs() < 1e-9, "{heard:?}");
}

#[test]
fn speech_gated_offline_analysis_reads_only_windows_with_speech() {
    // 12 s, speech at 0..3 s and 9..12 s; 4 s windows every 1 s start at
    // 0, 1, ..., 8. Speech overlap per window: start 0 -> 3 s, 1 -> 2, 2 -> 1,
    // 3 -> 0, 4 -> 0, 5 -> 0 (5..9), 6 -> 1 (9..10), 7 -> 2, 8 -> 3.
    // Windows 3, 4 and 5 have none, less than the quarter of a window (1 s)
    // needed: not analysed, listed as no speech; windows 2 and 6 have just
    // enough. The analysed ones equal the ungated analysis exactly.
    let dir = model_dir("gate", 1.0);
    let mut model = emoscope::engine::load_predictor(dir.path(), &Device::Cpu).unwrap();
    let audio = signal(12.0, 16_000.0);
    let config = AnalysisConfig::default();
    let all = analyse_offline(&audio, 16_000.0, model.as_mut(), &config, None).unwrap();
    assert_eq!(all.len(), 9);
    let speech = [Span::new(0.0, 3.0), Span::new(9.0, 12.0)];
    let gated = emoscope::engine::analyse_offline_with(
        &audio,
        16_000.0,
        model.as_mut(),
        &config,
        emoscope::engine::OfflineOptions {
            speech: Some(&speech),
            ..Default::default()
        },
    )
    .unwrap();
    let starts: Vec<f64> = gated.windows.iter().map(|w| w.reading.span.start).collect();
    assert_eq!(starts, [0.0, 1.0, 2.0, 6.0, 7.0, 8.0]);
    assert_eq!(
        gated.no_speech,
        [
            Span::new(3.0, 7.0),
            Span::new(4.0, 8.0),
            Span::new(5.0, 9.0)
        ]
    );
    for w in &gated.windows {
        let same = all
            .iter()
            .find(|a| a.reading.span.start == w.reading.span.start)
            .unwrap();
        assert_eq!(w, same);
    }
    // Nothing but silence: no reading at all.
    let none = emoscope::engine::analyse_offline_with(
        &audio,
        16_000.0,
        model.as_mut(),
        &config,
        emoscope::engine::OfflineOptions {
            speech: Some(&[]),
            ..Default::default()
        },
    )
    .unwrap();
    assert!(none.windows.is_empty());
    assert_eq!(none.no_speech.len(), 9);
}

#[test]
fn offline_analysis_of_an_unsupported_rate_is_an_error_not_an_empty_timeline() {
    // 4 kHz is below the analyser's 8 kHz: before, analyse_offline returned
    // no window and no error.
    let dir = model_dir("rate", 1.0);
    let mut model = emoscope::engine::load_predictor(dir.path(), &Device::Cpu).unwrap();
    let audio = signal(6.0, 4_000.0);
    let e = analyse_offline(
        &audio,
        4_000.0,
        model.as_mut(),
        &AnalysisConfig::default(),
        None,
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("unsupported host sample rate 4000 Hz"),
        "{e}"
    );
}

#[test]
fn offline_run_in_blocks_equals_the_whole_signal() {
    // 9.3 s at 44.1 kHz (the analyser resamples), gated by speech at
    // 0..2 s and 8..9.3 s (the windows from 2, 3 and 4 s have none), pushed
    // in blocks of many sizes (one sample, odd, several analyser blocks):
    // the same windows, readings and gaps as the whole signal at once (the
    // blocks are re-cut into the analyser's own).
    let dir = model_dir("stream", 1.0);
    let mut model = emoscope::engine::load_predictor(dir.path(), &Device::Cpu).unwrap();
    let rate = 44_100.0;
    let audio = signal(9.3, rate);
    let config = AnalysisConfig::default();
    let speech = [Span::new(0.0, 2.0), Span::new(8.0, 9.3)];
    let options = || emoscope::engine::OfflineOptions {
        speech: Some(&speech),
        ..Default::default()
    };
    let whole =
        emoscope::engine::analyse_offline_with(&audio, rate, model.as_mut(), &config, options())
            .unwrap();
    assert!(!whole.windows.is_empty() && !whole.no_speech.is_empty());
    for block in [1usize, 1000, 4096 * 3 + 7] {
        let mut run = emoscope::engine::OfflineRun::new(rate, model.as_mut(), &config, options());
        for b in audio.chunks(block) {
            run.push(b).unwrap();
        }
        assert_eq!(run.finish().unwrap(), whole, "blocks of {block}");
    }
}

#[test]
fn span_reader_in_blocks_equals_predict_span() {
    // Spans out of order and overlapping, one longer than a window (read in
    // pieces), one shorter than MIN_SPAN_SECONDS (widened), one past the
    // end (clamped), read from 10 s at 16 kHz pushed in blocks of many
    // sizes: the same readings as predict_span over the whole signal.
    let dir = model_dir("spans", 1.0);
    let mut model = emoscope::engine::load_predictor(dir.path(), &Device::Cpu).unwrap();
    let audio = signal(10.0, 16_000.0);
    let spans = [
        (0.5, 2.0, "one"),
        (1.0, 9.5, "long"),
        (3.0, 3.1, ""),
        (8.0, 12.0, "end"),
    ];
    let requests: Vec<emoscope::engine::SpanRequest> = spans
        .iter()
        .map(|&(start, end, text)| emoscope::engine::SpanRequest {
            span: Span::new(start, end),
            text: text.into(),
        })
        .collect();
    let whole: Vec<_> = spans
        .iter()
        .map(|&(a, b, t)| {
            emoscope::engine::predict_span(model.as_mut(), &audio, Span::new(a, b), t, 4.0).unwrap()
        })
        .collect();
    for block in [1usize, 777, 16_000, audio.len()] {
        let mut reader =
            emoscope::engine::SpanReader::new(model.as_mut(), &requests, audio.len(), 4.0);
        for b in audio.chunks(block) {
            reader.push(b).unwrap();
        }
        assert!(reader.is_done());
        assert_eq!(reader.finish(), whole, "blocks of {block}");
    }
}

/// LibriVox speech at `rate` between silences, 21.9 s in all: 1 s of
/// silence; a 7.1 s clip chopped into pieces of 0.1 to 0.6 s with pauses of
/// 0.1 to 0.5 s between them (pauses shorter than the detector's 0.3 s
/// hangover are bridged, longer ones split its regions; short pieces are
/// clicks or not), so that windows end everywhere around the edges of its
/// regions; 3 s of silence; a 3.3 s clip whole; 1 s of silence.
fn speech_between_silences(rate: f32) -> Vec<f32> {
    let clips = speech::clips();
    let n = |seconds: f64| (seconds * f64::from(rate)) as usize;
    let clip = |i: usize| emoscope::audio::load_mono(&clips[i].0, rate as u32).unwrap();
    let mut x = vec![0.0f32; n(1.0)];
    let chopped = clip(0);
    let (pieces, pauses) = (
        [0.12, 0.4, 0.2, 0.6, 0.15, 0.3],
        [0.2, 0.35, 0.1, 0.5, 0.25],
    );
    let mut at = 0;
    for k in 0.. {
        let end = (at + n(pieces[k % pieces.len()])).min(chopped.len());
        x.extend_from_slice(&chopped[at..end]);
        at = end;
        if at == chopped.len() {
            break;
        }
        x.extend(std::iter::repeat_n(0.0, n(pauses[k % pauses.len()])));
    }
    x.extend(std::iter::repeat_n(0.0, n(3.0)));
    x.extend(clip(4));
    x.extend(std::iter::repeat_n(0.0, n(1.0)));
    x
}

/// Smoothing on, so that a gap's restart of it shows in the values.
fn gated_config() -> AnalysisConfig {
    AnalysisConfig {
        window_seconds: 1.0,
        hop_seconds: 0.05,
        smoothing_seconds: 2.0,
        ..AnalysisConfig::default()
    }
}

/// Renders `x` offline (the worker queues every window) in random blocks
/// with the speech gate `on` or off, and with `stop`, a block with the
/// transport stopped after it; the engine's timeline once dropped.
fn render_offline(
    dir: &Path,
    x: &[f32],
    rate: f32,
    on: bool,
    stop: bool,
) -> (
    emoscope::engine::timeline::TimelineEntries,
    Arc<emoscope::engine::EngineShared>,
) {
    render_offline_with(dir, x, rate, on, stop, gated_config(), None)
}

/// [`render_offline`] with `config` and a `transcript`.
fn render_offline_with(
    dir: &Path,
    x: &[f32],
    rate: f32,
    on: bool,
    stop: bool,
    config: AnalysisConfig,
    transcript: Option<Arc<Transcript>>,
) -> (
    emoscope::engine::timeline::TimelineEntries,
    Arc<emoscope::engine::EngineShared>,
) {
    let (mut input, output) = capture::capture(1 << 22);
    input.set_render_mode(emoscope::engine::capture::RenderMode::Offline);
    let engine = Engine::spawn(output, loader(), Some(dir.to_owned()), config);
    engine.set_speech_only(on);
    engine.set_transcript(transcript);
    let shared = engine.shared().clone();
    wait_until("the model to load", || {
        shared.status.state() == ModelState::Loaded
    });
    let mut seed = 0x5eed_u64;
    let mut pos = 0usize;
    while pos < x.len() {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let n = (1 + (seed >> 33) as usize % 3000).min(x.len() - pos);
        input.push(&[&x[pos..pos + n]], pos as i64, rate, true);
        pos += n;
    }
    if stop {
        input.push(&[&[0.0f32; 64][..]], pos as i64, rate, false);
    }
    // Dropping waits for every queued window, the end of the audio treated
    // as the end of a file.
    drop(engine);
    (shared.timeline.entries(), shared)
}

/// An offline render with "analyse speech only": the worker's own detector,
/// over the audio it resamples to the model's rate, leaves out exactly the
/// windows `emoscope annotate`'s gate leaves out with the regions of the
/// whole 48 kHz signal (`analyse_offline_with` with `speech`), and reads
/// the others with the same values, smoothing restarted after each gap.
/// At 16 kHz (no resampling, so no tail to flush at the end) the transport
/// stops after the last sample: the windows still waiting for the detector
/// are judged when the stop ends their run. (Judging a window as soon as the detector has heard it to its end, as
/// live, reads the window from 0.3 s as one without speech: the pause
/// after its piece of speech is bridged only later.) Off, the same render
/// reads every window, as without the gate.
#[test]
fn speech_gated_render_leaves_out_the_windows_the_offline_gate_leaves_out() {
    let dir = model_dir("gate-render", 1.0);
    for (rate, stop) in [(48_000.0, false), (16_000.0, true)] {
        speech_gated_render(dir.path(), rate, stop);
    }
}

fn speech_gated_render(dir: &Path, rate: f32, stop: bool) {
    let x = speech_between_silences(rate);
    let config = gated_config();
    let mut model = ModelPredictor::load(dir, &Device::Cpu).unwrap();
    let regions = emoscope::audio::vad::speech_regions(
        &x,
        rate as u32,
        &emoscope::audio::vad::VadConfig::default(),
    )
    .unwrap();
    let offline = emoscope::engine::analyse_offline_with(
        &x,
        rate,
        &mut model,
        &config,
        emoscope::engine::OfflineOptions {
            speech: Some(&regions),
            ..Default::default()
        },
    )
    .unwrap();
    // 17.3 s in 4 s windows every 1 s: 14 windows; those within the
    // silence between the clips have none.
    // 1 s windows every 50 ms; those within the silences have no speech.
    assert!(
        offline.no_speech.len() >= 40 && offline.windows.len() >= 200,
        "regions {regions:?}: {} read, {:?} left out",
        offline.windows.len(),
        offline.no_speech
    );

    let (gated, shared) = render_offline(dir, &x, rate, true, stop);
    assert_eq!(gated.no_speech, offline.no_speech, "{rate} Hz");
    assert_eq!(gated.readings.len(), offline.windows.len());
    for (r, o) in gated.readings.iter().zip(&offline.windows) {
        assert_eq!(r.span, o.reading.span);
        assert_eq!(
            r.emotion, o.reading.emotion,
            "{rate} Hz: window at {} s",
            r.span.start
        );
    }
    let status = &shared.status;
    assert_eq!(status.windows_dropped.load(Ordering::Relaxed), 0);
    assert_eq!(
        status.windows_without_speech.load(Ordering::Relaxed) as usize,
        offline.no_speech.len()
    );
    // The readout ends with the last window: in the final silence, no speech.
    let last = offline.no_speech.last().unwrap();
    assert!(offline.windows.last().unwrap().reading.span.start < last.start);
    assert_eq!(shared.readout.no_speech(), Some(*last));

    // Off: every window, smoothed without a break, as the ungated analysis.
    let all = analyse_offline(&x, rate, &mut model, &config, None).unwrap();
    let (ungated, shared) = render_offline(dir, &x, rate, false, stop);
    assert!(ungated.no_speech.is_empty());
    assert_eq!(ungated.readings.len(), all.len());
    for (r, o) in ungated.readings.iter().zip(&all) {
        assert_eq!((r.span, r.emotion), (o.reading.span, o.reading.emotion));
    }
    assert_eq!(
        shared.status.windows_without_speech.load(Ordering::Relaxed),
        0
    );
}

/// Live playback with "analyse speech only": a clip, then silence, pushed
/// at the pace of real time. The clip's windows are read; once the windows
/// are in the silence the readout says "no speech" and still holds the
/// clip's last reading (meters and MIDI keep it), and the timeline has the
/// gap.
#[test]
fn live_readout_says_no_speech_in_silence_and_holds_the_last_reading() {
    let dir = model_dir("gate-live", 1.0);
    let rate = 16_000.0f32;
    let clips = speech::clips();
    let clip = emoscope::audio::load_mono(&clips[1].0, rate as u32).unwrap();
    let x = [clip, vec![0.0f32; 3 * rate as usize]].concat();
    // Short windows, so the silence holds several.
    let config = AnalysisConfig {
        window_seconds: 1.0,
        hop_seconds: 0.25,
        ..AnalysisConfig::default()
    };
    let (mut input, output) = capture::capture(1 << 20);
    let engine = Engine::spawn(output, loader(), Some(dir.path().to_owned()), config);
    engine.set_speech_only(true);
    let shared = engine.shared().clone();
    wait_until("the model to load", || {
        shared.status.state() == ModelState::Loaded
    });
    let block = (rate / 20.0) as usize;
    let t0 = Instant::now();
    for (i, b) in x.chunks(block).enumerate() {
        // At the pace of real time (50 ms a block).
        let due = Duration::from_secs_f64(0.05 * i as f64);
        if let Some(wait) = due.checked_sub(t0.elapsed()) {
            std::thread::sleep(wait);
        }
        input.push(&[b], (i * block) as i64, rate, true);
    }
    wait_until("no speech", || shared.readout.no_speech().is_some());
    let gap = shared.readout.no_speech().unwrap();
    assert!(gap.start >= 2.0, "{gap:?} is no window of the silence");
    let held = shared.readout.read().expect("the clip's windows were read");
    let entries = shared.timeline.entries();
    assert!(!entries.no_speech.is_empty());
    assert_eq!(
        held.reading.span,
        entries.readings.last().unwrap().span,
        "the readout holds the last reading"
    );
    assert!(entries
        .readings
        .iter()
        .all(|r| entries.no_speech.iter().all(|g| g.start != r.span.start)));
}

/// A bounce of a two-speaker conversation with a transcript that names its
/// speakers (examples/conversation.stm: the guest's last line starts 0.4 s
/// before the host stops) reads what the offline analysis with the same
/// speaker turns reads (what `emoscope annotate` runs): windows inside
/// each turn only, each speaker's own words, smoothing within the turn,
/// overlap flagged, with the same values; with the speech gate on as well.
/// The readout names the last reading's speaker by its index.
#[test]
fn a_render_with_speaker_turns_reads_what_the_offline_analysis_reads() {
    let dir = common::fixture("emotion/early_fallback");
    let repo = common::repo();
    let rate = 44_100.0f32;
    let x =
        emoscope::audio::load_mono(&repo.join("examples/conversation.wav"), rate as u32).unwrap();
    let transcript = emoscope::transcript::read_file(
        &repo.join("examples/conversation.stm"),
        &emoscope::transcript::ReadOptions::default(),
    )
    .unwrap();
    let turns = transcript.timeline_speaker_turns();
    assert_eq!(turns.speakers().len(), 2);
    let config = AnalysisConfig {
        window_seconds: 1.0,
        hop_seconds: 0.25,
        smoothing_seconds: 1.0,
        ..AnalysisConfig::default()
    };
    let mut model = ModelPredictor::load(&dir, &Device::Cpu).unwrap();
    let regions = emoscope::audio::vad::speech_regions(
        &x,
        rate as u32,
        &emoscope::audio::vad::VadConfig::default(),
    )
    .unwrap();
    let key = |r: &emoscope::Reading| {
        (
            r.span.start,
            r.speaker.as_ref().map(|s| s.to_string()),
            r.span.end,
            r.emotion.dimensions(),
            r.text.clone(),
            r.overlap,
        )
    };
    for gate in [false, true] {
        let offline = emoscope::engine::analyse_offline_with(
            &x,
            rate,
            &mut model,
            &config,
            emoscope::engine::OfflineOptions {
                transcript: Some(&transcript),
                turns: Some(&turns),
                speech: gate.then_some(&regions[..]),
                // One window per model call, as the worker reads them (the
                // text branch's padded batches differ in the last bit).
                batch: Some(1),
                ..Default::default()
            },
        )
        .unwrap();
        let mut expected: Vec<_> = offline.windows.iter().map(|w| key(&w.reading)).collect();
        expected.sort_by(|a, b| a.partial_cmp(b).unwrap());
        assert!(expected.len() >= 15, "{} windows", expected.len());
        assert!(expected.iter().any(|k| k.5), "the overlap is flagged");
        assert!(expected
            .iter()
            .any(|k| k.1.as_deref() == Some("guest") && k.4.contains("lovely")));

        let (entries, shared) = render_offline_with(
            &dir,
            &x,
            rate,
            gate,
            false,
            config.clone(),
            Some(Arc::new(transcript.clone())),
        );
        let mut got: Vec<_> = entries.readings.iter().map(key).collect();
        got.sort_by(|a, b| a.partial_cmp(b).unwrap());
        assert_eq!(got.len(), expected.len(), "gate {gate}");
        for (g, e) in got.iter().zip(&expected) {
            assert_eq!(g, e, "gate {gate}");
        }
        assert_eq!(entries.no_speech, offline.no_speech, "gate {gate}");
        assert_eq!(shared.status.windows_dropped.load(Ordering::Relaxed), 0);
        // Every window stays inside its speaker's turn.
        for r in &entries.readings {
            let who = r.speaker.as_ref().unwrap();
            assert!(
                turns.joined().iter().any(|t| &t.speaker == who
                    && t.span.start <= r.span.start + 1.0 / f64::from(rate)
                    && r.span.end <= t.span.end + 0.05),
                "{who} {:?} in {:?}",
                r.span,
                turns.joined()
            );
        }
        // The readout's speaker index names the last published reading's speaker.
        let last = shared.readout.read().unwrap();
        let published = entries
            .readings
            .iter()
            .find(|r| r.span == last.reading.span && r.emotion == last.reading.emotion)
            .unwrap();
        let index = last.speaker.unwrap() as usize;
        assert_eq!(Some(&turns.speakers()[index]), published.speaker.as_ref());
    }
}
