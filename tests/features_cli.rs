//! `emoscope features` end to end: a float WAV of the reference input in, the
//! written hidden states compared with transformers' recorded outputs.

use std::path::{Path, PathBuf};
use std::process::Command;

use candle_core::Device;

mod common;
use common::write_wav;

fn root() -> &'static Path {
    common::repo()
}

fn fixtures() -> PathBuf {
    root().join("models/tests/fixtures")
}

fn emoscope(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_emoscope"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn features_file_matches_the_reference_hidden_states() {
    let exp = candle_core::safetensors::load(
        fixtures().join("wav2vec2_robust_expected.safetensors"),
        &Device::Cpu,
    )
    .unwrap();
    let raw = exp["raw.2"].to_vec1::<f32>().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("input.wav");
    write_wav(&wav, &raw, 16_000);
    let out = dir.path().join("features.safetensors");
    let model = fixtures().join("wav2vec2_robust");
    let res = emoscope(&[
        "features",
        wav.to_str().unwrap(),
        "--model",
        model.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        res.status.success(),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    let stdout = String::from_utf8_lossy(&res.stdout);
    assert!(stdout.contains("hidden_states.3"), "{stdout}");
    let got = candle_core::safetensors::load(&out, &Device::Cpu).unwrap();
    // The fixture model has 3 layers: hidden_states.0..=3 plus last_hidden_state.
    assert_eq!(got.len(), 5);
    for l in 0..4 {
        let a = &got[&format!("hidden_states.{l}")];
        let b = &exp[&format!("single.2.hidden_states.{l}")];
        assert_eq!(a.dims(), b.dims());
        let d = (a - b)
            .unwrap()
            .abs()
            .unwrap()
            .flatten_all()
            .unwrap()
            .max(0)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(d <= 1e-4, "layer {l}: {d}");
    }
}

#[test]
fn nan_audio_is_refused_with_the_sample_position() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("nan.wav");
    let mut samples = vec![0.1f32; 8000];
    samples[1234] = f32::NAN;
    write_wav(&wav, &samples, 16_000);
    let model = fixtures().join("distilhubert");
    let res = emoscope(&[
        "features",
        wav.to_str().unwrap(),
        "--model",
        model.to_str().unwrap(),
    ]);
    assert!(!res.status.success());
    let err = String::from_utf8_lossy(&res.stderr);
    assert!(
        err.contains("sample 1234") && err.contains("nan.wav"),
        "{err}"
    );
}

#[test]
fn unwritable_output_fails_cleanly_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("in.wav");
    write_wav(&wav, &vec![0.1f32; 8000], 16_000);
    let out = dir.path().join("missing-dir/features.safetensors");
    let model = fixtures().join("distilhubert");
    let res = emoscope(&[
        "features",
        wav.to_str().unwrap(),
        "--model",
        model.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!res.status.success());
    let err = String::from_utf8_lossy(&res.stderr);
    assert!(
        err.contains("cannot write") && err.contains("missing-dir"),
        "{err}"
    );
    assert!(!out.exists());
}

#[test]
fn example_file_is_resampled_to_the_model_rate() {
    // examples/speech.wav is 22.05 kHz; 76302 samples -> round(76302 * 16000 / 22050) = 55367
    // samples at 16 kHz -> floor((55367 - 400) / 320) + 1 = 172 frames.
    let model = fixtures().join("distilhubert");
    let wav = root().join("examples/speech.wav");
    let res = emoscope(&[
        "features",
        wav.to_str().unwrap(),
        "--model",
        model.to_str().unwrap(),
    ]);
    assert!(
        res.status.success(),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    let stdout = String::from_utf8_lossy(&res.stdout);
    assert!(stdout.contains("-> 172 frames"), "{stdout}");
}
