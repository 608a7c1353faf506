//! `cargo xtask bench engine`: what the streaming engine costs.
//!
//! - `CaptureInput::push` in ns per host frame (48 kHz stereo, 512-frame blocks).
//! - The model's cost per hop: one 4 s window through the DistilHuBERT-size
//!   encoder and a linear head (the engine recomputes each window in full).
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
    capture, AnalysisConfig, EmotionPredictor, Engine, Loader, ModelPredictor, ModelState,
};

use crate::bench::{ensure_model, in_workspace};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Entry point.
pub fn run(model: PathBuf, python: &str, seconds: f64) -> Result<()> {
    let model = in_workspace(&model);
    ensure_model(&model, python)?;
    // A linear A/V/D head for the random encoder (its values do not affect timing).
    let hidden = 768;
    let w: Vec<f32> = (0..3 * hidden)
        .map(|i| ((i as f32) * 0.37).sin() / hidden as f32)
        .collect();
    let mut head = HashMap::new();
    head.insert(
        "head.weight".to_owned(),
        Tensor::from_vec(w, (3, hidden), &Device::Cpu)?,
    );
    head.insert(
        "head.bias".to_owned(),
        Tensor::zeros(3, candle_core::DType::F32, &Device::Cpu)?,
    );
    candle_core::safetensors::save(&head, model.join("head.safetensors"))?;

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
    Ok(())
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
    let last_sample = (r.end * rate).round() as usize - 1;
    if let Some(t) = pushed_at.get(last_sample / block) {
        latencies.push(t.elapsed().as_secs_f64());
    }
}
