//! Whisper against transformers and CTranslate2 through committed fixtures
//! (`models/reference/make_whisper_fixtures.py`): a tiny random
//! `WhisperForConditionalGeneration` saved by transformers (`hf/`) and
//! converted by CTranslate2's converter (`ct2/`). Both layouts must load into
//! the same module tree and give transformers' log-mel, encoder states,
//! decoder logits and cross-attentions within 1e-4, and greedy decoding must
//! produce CTranslate2's tokens.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use emoscope_models::whisper::{Layout, LogMel, TranscribeOptions, Whisper};

mod common;
use common::max_abs_diff;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/whisper")
}

fn expected() -> HashMap<String, Tensor> {
    candle_core::safetensors::load(fixtures().join("expected.safetensors"), &Device::Cpu).unwrap()
}

/// The fixture script's `signal()`: 3 s of a 200 Hz -> 5.6 kHz chirp, a 3 kHz
/// tone and a 7 kHz -> 4 kHz chirp, computed in f64 and rounded to f32.
fn signal() -> Vec<f32> {
    use std::f64::consts::PI;
    (0..48_000)
        .map(|i| {
            let t = i as f64 / 16_000.0;
            let chirp = 0.3 * (2.0 * PI * (200.0 + 900.0 * t) * t).sin();
            let tone = 0.1 * (2.0 * PI * 3000.0 * t).sin();
            let down = 0.05 * (2.0 * PI * (7000.0 - 500.0 * t) * t).sin();
            (chirp + tone + down) as f32
        })
        .collect()
}

/// The full `[n_mels, 3000]` expected features: the stored frames, then the floor value.
fn expected_mel(exp: &HashMap<String, Tensor>, n_mels: usize) -> Vec<f32> {
    let head = exp[&format!("mel{n_mels}")].to_vec2::<f32>().unwrap();
    let floor = exp[&format!("mel{n_mels}_floor")].to_vec1::<f32>().unwrap()[0];
    head.iter()
        .flat_map(|row| {
            let mut r = row.clone();
            r.resize(3000, floor);
            r
        })
        .collect()
}

#[test]
fn log_mel_matches_the_feature_extractor_for_80_and_128_bins() {
    let exp = expected();
    let x = signal();
    for n_mels in [80, 128] {
        let ours = LogMel::new(n_mels).window(&x);
        assert_eq!((ours.n_mels, ours.frames), (n_mels, 3000));
        let expected = expected_mel(&exp, n_mels);
        let d = ours
            .data
            .iter()
            .zip(&expected)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        eprintln!("{n_mels} bins: log-mel max abs diff {d:e}");
        assert!(d <= 1e-4, "{n_mels} bins: log-mel differs by {d}");
    }
}

#[test]
fn the_whole_recording_spectrogram_equals_the_window_for_short_audio() {
    // openai-whisper pads a recording with 30 s of silence and slides over it;
    // for audio under 30 s its first 3000 frames are the feature extractor's.
    let x = signal();
    let mel = LogMel::new(80);
    let whole = mel.spectrogram(&x);
    assert_eq!(whole.frames, x.len() / 160 + 3000);
    let window = mel.window(&x);
    for m in 0..80 {
        assert_eq!(
            &whole.data[m * whole.frames..m * whole.frames + 3000],
            &window.data[m * 3000..(m + 1) * 3000],
            "mel bin {m}"
        );
    }
}

fn both_layouts() -> Vec<(Layout, Whisper)> {
    [("hf", Layout::HuggingFace), ("ct2", Layout::CTranslate2)]
        .into_iter()
        .map(|(dir, layout)| {
            let w = Whisper::load(&fixtures().join(dir), &Device::Cpu)
                .unwrap_or_else(|e| panic!("{dir}: {e}"));
            assert_eq!(w.layout(), layout);
            (layout, w)
        })
        .collect()
}

#[test]
fn both_layouts_give_transformers_encoder_logits_and_cross_attentions() {
    let exp = expected();
    let mel = expected_mel(&exp, 80);
    let ids: Vec<u32> = exp["decoder_ids"]
        .to_vec1::<i64>()
        .unwrap()
        .iter()
        .map(|&v| v as u32)
        .collect();
    for (layout, mut w) in both_layouts() {
        // candle's ops first, then the CPU kernels the CPU uses by default.
        w.model_mut().set_cpu_kernels(false).unwrap();
        let states = w.encode_window(&mel).unwrap();
        let d = max_abs_diff(&states.squeeze(0).unwrap(), &exp["encoder"]);
        eprintln!("{layout:?}: encoder (candle ops) max abs diff {d:e}");
        assert!(d <= 1e-4, "{layout:?}: encoder (candle ops) differs by {d}");
        w.model_mut().set_cpu_kernels(true).unwrap();
        let states = w.encode_window(&mel).unwrap();
        let d = max_abs_diff(&states.squeeze(0).unwrap(), &exp["encoder"]);
        eprintln!("{layout:?}: encoder max abs diff {d:e}");
        assert!(d <= 1e-4, "{layout:?}: encoder differs by {d}");

        let mut state = w.model().start(&states).unwrap();
        let t = Tensor::new(ids.as_slice(), &Device::Cpu)
            .unwrap()
            .unsqueeze(0)
            .unwrap();
        let out = w.model().decode(&t, &mut state, true).unwrap();
        let d = max_abs_diff(&out.logits.squeeze(0).unwrap(), &exp["logits"]);
        eprintln!("{layout:?}: logits max abs diff {d:e}");
        assert!(d <= 1e-4, "{layout:?}: logits differ by {d}");
        assert_eq!(out.cross_attentions.len(), 2);
        for (i, a) in out.cross_attentions.iter().enumerate() {
            let d = max_abs_diff(
                &a.squeeze(0).unwrap(),
                &exp[&format!("cross_attention.{i}")],
            );
            eprintln!("{layout:?}: cross-attention {i} max abs diff {d:e}");
            assert!(d <= 1e-4, "{layout:?}: cross-attention {i} differs by {d}");
        }
    }
}

#[test]
fn the_kv_cache_gives_the_logits_of_the_whole_sequence() {
    let exp = expected();
    let mel = expected_mel(&exp, 80);
    let ids: Vec<u32> = exp["decoder_ids"]
        .to_vec1::<i64>()
        .unwrap()
        .iter()
        .map(|&v| v as u32)
        .collect();
    let (_, w) = both_layouts().remove(0);
    let states = w.encode_window(&mel).unwrap();
    let mut state = w.model().start(&states).unwrap();
    // Two tokens at once, then one at a time.
    let mut rows = vec![w.model().all_logits(&ids[..2], &mut state).unwrap()];
    for &id in &ids[2..] {
        let l = w.model().next_logits(&[id], &mut state).unwrap();
        rows.push(Tensor::new(l, &Device::Cpu).unwrap().unsqueeze(0).unwrap());
    }
    assert_eq!(state.len(), ids.len());
    let stepwise = Tensor::cat(&rows, 0).unwrap();
    let d = max_abs_diff(&stepwise, &exp["logits"]);
    assert!(d <= 1e-4, "cached decoding differs by {d}");
}

#[test]
fn greedy_decoding_produces_ctranslate2s_tokens() {
    let exp = expected();
    let mel = expected_mel(&exp, 80);
    for (layout, w) in both_layouts() {
        let states = w.encode_window(&mel).unwrap();
        for k in 0..2 {
            let prompt: Vec<u32> = exp[&format!("greedy.{k}.prompt")]
                .to_vec1::<i64>()
                .unwrap()
                .iter()
                .map(|&v| v as u32)
                .collect();
            let tokens: Vec<u32> = exp[&format!("greedy.{k}.tokens")]
                .to_vec1::<i64>()
                .unwrap()
                .iter()
                .map(|&v| v as u32)
                .collect();
            // The fixture exercises the timestamp rules and the length limit.
            assert!(tokens.iter().any(|&t| t >= w.specials().timestamp_begin));
            let mut rng = rand::SeedableRng::seed_from_u64(0);
            let r = w
                .decode_window(
                    &states,
                    &prompt,
                    0.0,
                    &TranscribeOptions::greedy(),
                    &mut rng,
                )
                .unwrap();
            assert_eq!(r.tokens, tokens, "{layout:?} prompt {k}");
            let p = exp[&format!("greedy.{k}.no_speech_prob")]
                .to_dtype(DType::F64)
                .unwrap()
                .to_vec1::<f64>()
                .unwrap()[0];
            assert!(
                (r.no_speech_prob - p).abs() <= 1e-5,
                "{layout:?} prompt {k}: no-speech probability {} vs {p}",
                r.no_speech_prob
            );
        }
    }
}

#[test]
fn each_layout_reads_its_alignment_heads_and_suppressed_tokens() {
    let layouts = both_layouts();
    let (hf, ct2) = (&layouts[0].1, &layouts[1].1);
    // generation_config.json for transformers; CTranslate2's converter wrote its own.
    assert_eq!(hf.generation().alignment_heads, vec![[1, 0], [1, 2]]);
    assert!(!ct2.generation().alignment_heads.is_empty());
    assert_eq!(
        hf.generation().suppress_tokens,
        ct2.generation().suppress_tokens
    );
    assert_eq!(
        hf.generation().begin_suppress_tokens,
        ct2.generation().begin_suppress_tokens
    );
    assert_eq!(hf.model().config(), ct2.model().config());
}

/// A copy of fixture layout `name` in a temporary directory.
fn copy_layout(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(fixtures().join(name)).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    dir
}

#[test]
fn a_missing_tokenizer_is_named() {
    for name in ["hf", "ct2"] {
        let dir = copy_layout(name);
        std::fs::remove_file(dir.path().join("tokenizer.json")).unwrap();
        match Whisper::load(dir.path(), &Device::Cpu) {
            Err(emoscope_models::LoadError::Tokenizer { path, .. }) => {
                assert_eq!(path, dir.path().join("tokenizer.json"))
            }
            other => panic!("{name}: expected a tokenizer error, got {:?}", other.err()),
        }
    }
}

#[test]
fn a_truncated_model_bin_is_a_weights_error_naming_it() {
    let dir = copy_layout("ct2");
    let bin = dir.path().join("model.bin");
    let bytes = std::fs::read(&bin).unwrap();
    std::fs::write(&bin, &bytes[..bytes.len() / 2]).unwrap();
    let err = Whisper::load(dir.path(), &Device::Cpu)
        .err()
        .expect("must fail");
    assert!(
        matches!(err, emoscope_models::LoadError::Weights { .. }),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains("model.bin") && text.contains("file ends inside"),
        "{text}"
    );
}

#[test]
fn a_config_that_disagrees_with_the_weights_names_file_key_and_shapes() {
    let dir = copy_layout("hf");
    let path = dir.path().join("config.json");
    let mut cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    cfg["num_mel_bins"] = 128.into();
    std::fs::write(&path, cfg.to_string()).unwrap();
    match Whisper::load(dir.path(), &Device::Cpu) {
        Err(emoscope_models::LoadError::ShapeMismatch {
            path,
            key,
            expected,
            found,
        }) => {
            assert_eq!(path, dir.path().join("model.safetensors"));
            assert_eq!(key, "model.encoder.conv1.weight");
            assert_eq!((expected, found), (vec![32, 128, 3], vec![32, 80, 3]));
        }
        other => panic!("expected a shape mismatch, got {:?}", other.err()),
    }
}

#[test]
fn a_repetitive_greedy_result_falls_back_to_sampling() {
    use emoscope_models::whisper::decode::compression_ratio;
    let exp = expected();
    let mel = expected_mel(&exp, 80);
    let (_, w) = both_layouts().remove(0);
    let states = w.encode_window(&mel).unwrap();
    let opts = TranscribeOptions::default();
    let mut rng = rand::SeedableRng::seed_from_u64(0);
    // The random model repeats one word at temperature 0 (CTranslate2 too, see the fixture).
    let greedy = w.decode_window(&states, &[], 0.0, &opts, &mut rng).unwrap();
    assert!(greedy.compression_ratio > 2.4, "{greedy:?}");
    assert!(greedy.no_speech_prob < 0.6, "{greedy:?}");
    let fallback = |seed| {
        let mut rng = rand::SeedableRng::seed_from_u64(seed);
        w.decode_with_fallback(&states, &[], &opts, &mut rng)
            .unwrap()
    };
    let a = fallback(1);
    assert!(a.temperature > 0.0, "no fallback: {a:?}");
    assert_ne!(a.tokens, greedy.tokens);
    // The sampler is seeded: the same seed gives the same result.
    assert_eq!(fallback(1), a);
    // Without thresholds, temperature 0 is final.
    let none = TranscribeOptions {
        compression_ratio_threshold: None,
        logprob_threshold: None,
        ..TranscribeOptions::default()
    };
    let mut rng = rand::SeedableRng::seed_from_u64(1);
    let r = w
        .decode_with_fallback(&states, &[], &none, &mut rng)
        .unwrap();
    assert_eq!((r.temperature, &r.tokens), (0.0, &greedy.tokens));

    assert!(compression_ratio(&"he was ".repeat(30)) > 2.4);
    assert!(compression_ratio("He was not an ill-disposed young man.") < 2.4);
}

#[test]
fn word_alignment_follows_ctranslate2s_dtw_path() {
    let exp = expected();
    let mel = expected_mel(&exp, 80);
    let tokens: Vec<u32> = exp["align.tokens"]
        .to_vec1::<i64>()
        .unwrap()
        .iter()
        .map(|&v| v as u32)
        .collect();
    let path: Vec<(usize, usize)> = exp["align.path"]
        .to_vec2::<i64>()
        .unwrap()
        .iter()
        .map(|p| (p[0] as usize, p[1] as usize))
        .collect();
    let probs = exp["align.text_token_probs"].to_vec1::<f32>().unwrap();
    // CTranslate2's alignment heads are those of ct2/config.json.
    let (_, w) = both_layouts().remove(1);
    let states = w.encode_window(&mel).unwrap();
    let a = w.align(&states, "en", &tokens, 300, 7).unwrap();
    assert_eq!(a.path, path);
    for (i, (ours, theirs)) in a.text_token_probs.iter().zip(&probs).enumerate() {
        assert!(
            (ours - theirs).abs() <= 1e-5,
            "token {i}: {ours} vs {theirs}"
        );
    }
}
