//! What the host tests (CLAP and VST3) share to check a render: the saved
//! settings of a project, the speech they render, the markers the plugin
//! exported and the engine's offline analysis of the same audio (what
//! `emoscope annotate` runs) to compare them with.

use std::path::Path;

use emoscope::engine::{analyse_offline, load_predictor, AnalysisConfig};

/// The analysis settings the host tests save with their projects: short
/// windows, so a few seconds of speech give many readings.
pub fn analysis() -> AnalysisConfig {
    AnalysisConfig {
        window_seconds: 1.0,
        hop_seconds: 0.25,
        smoothing_seconds: 0.0,
        analyse_while_stopped: false,
    }
}

/// Sets, in the JSON of a nice-plug state, the persisted fields a saved
/// project holds: the model directory, [`analysis`], and, with `export`,
/// marker export to that file (JSON, on deactivate). Each field's value is
/// its own JSON, as a string.
pub fn set_project_fields(state: &mut serde_json::Value, model: &Path, export: Option<&Path>) {
    let fields = state["fields"].as_object_mut().unwrap();
    fields.insert(
        "model-dir".into(),
        serde_json::to_string(&model.display().to_string())
            .unwrap()
            .into(),
    );
    let a = analysis();
    let settings = serde_json::json!({
        "window_seconds": a.window_seconds, "hop_seconds": a.hop_seconds,
        "smoothing_seconds": a.smoothing_seconds, "analyse_while_stopped": false
    });
    fields.insert("analysis".into(), settings.to_string().into());
    if let Some(export) = export {
        let settings = serde_json::json!({
            "path": export.display().to_string(), "format": "json", "on_deactivate": true
        });
        fields.insert("export".into(), settings.to_string().into());
    }
}

/// `examples/speech.wav` at `rate`, `times` times over.
pub fn speech(rate: f64, times: usize) -> Vec<f32> {
    let once =
        emoscope::audio::load_mono(&super::workspace().join("examples/speech.wav"), rate as u32)
            .unwrap();
    once.iter()
        .cycle()
        .take(once.len() * times)
        .copied()
        .collect()
}

/// Windows [`analysis`] gives on `seconds` of audio: one every hop that
/// ends within the audio.
pub fn expected_windows(seconds: f64) -> usize {
    let a = analysis();
    ((seconds - a.window_seconds) / a.hop_seconds).floor() as usize + 1
}

/// One window: (start, end, values): arousal, valence and dominance, or a
/// categorical model's probabilities in label order.
pub type Window = (f64, f64, Vec<f32>);

/// The timeline of a JSON annotation the plugin exported.
pub fn exported_timeline(path: &Path) -> Vec<Window> {
    let bytes = std::fs::read(path)
        .unwrap_or_else(|e| panic!("no markers were exported to {}: {e}", path.display()));
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    v["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            let f = |k: &str| w[k].as_f64().unwrap();
            let values = match w.get("probabilities") {
                Some(p) => p
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_f64().unwrap() as f32)
                    .collect(),
                None => ["arousal", "valence", "dominance"]
                    .map(|k| f(k) as f32)
                    .to_vec(),
            };
            (f("start"), f("end"), values)
        })
        .collect()
}

/// The engine's offline analysis (what `emoscope annotate` runs) of the
/// same mono signal with the same settings.
pub fn offline_timeline(model: &Path, signal: &[f32], rate: f64) -> Vec<Window> {
    let mut predictor = load_predictor(model, &candle_core::Device::Cpu).unwrap();
    analyse_offline(signal, rate as f32, predictor.as_mut(), &analysis(), None)
        .unwrap()
        .iter()
        .map(|w| {
            let (r, e) = (&w.reading, &w.reading.emotion);
            let values = match e.has_dimensions() {
                true => e.dimensions().to_vec(),
                false => e.probabilities.as_slice().to_vec(),
            };
            (r.span.start, r.span.end, values)
        })
        .collect()
}

/// Largest difference allowed between a value the plugin's worker computed
/// and the offline analysis' value for the same window. The windows hold the
/// same samples bit for bit (same down-mix, same resampler state, as
/// `tests/engine.rs` checks exactly), so only the order of floating-point
/// sums inside the model could differ (candle may split a matmul
/// differently on another thread): a few f32 ulps of each layer's output,
/// through the fixture head's gain of 50 about 1e-5 at most (in practice
/// the values are identical). Neighbouring windows of the fixture differ by
/// far more than this (its readings spread over some 0.2 of the 0..1
/// range), so a shifted or missing window cannot pass.
pub const VALUE_TOLERANCE: f32 = 1e-4;

/// Asserts the plugin exported exactly the reference's windows (same starts
/// and ends) with values within [`VALUE_TOLERANCE`].
pub fn assert_same_timeline(what: &str, plugin: &[Window], reference: &[Window]) {
    let spans = |t: &[Window]| t.iter().map(|w| (w.0, w.1)).collect::<Vec<_>>();
    assert_eq!(
        spans(plugin),
        spans(reference),
        "{what}: the exported windows are not the offline analysis' windows \
         ({} exported, {} expected)",
        plugin.len(),
        reference.len()
    );
    let largest = plugin
        .iter()
        .zip(reference)
        .flat_map(|(p, r)| p.2.iter().zip(&r.2).map(|(a, b)| (a - b).abs()))
        .fold(0.0f32, f32::max);
    eprintln!(
        "{what}: {} windows, largest difference {largest:e}",
        plugin.len()
    );
    for (p, r) in plugin.iter().zip(reference) {
        assert_eq!(p.2.len(), r.2.len(), "{what}: window at {} s", p.0);
        for (a, b) in p.2.iter().zip(&r.2) {
            assert!(
                (a - b).abs() <= VALUE_TOLERANCE,
                "{what}: window at {} s: {:?} exported, {:?} offline",
                p.0,
                p.2,
                r.2
            );
        }
    }
}
