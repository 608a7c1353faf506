//! `emoscope predict` end to end: the CLI's offline analysis of a file
//! equals the library's `analyse_offline` on the same samples; a whole long
//! file is the length-weighted mean of its pieces; stdout that closes early
//! or cannot be written ends the run cleanly.

use std::process::Command;

use candle_core::Device;
use emoscope::engine::{analyse_offline, AnalysisConfig, ModelPredictor};
use emoscope::Emotion;

mod common;
use common::{model_dir, signal, write_wav};

/// Runs `emoscope` with `args`, which must succeed; its stdout.
fn emoscope_ok(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_emoscope"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Each line of `text` as JSON (`predict --windows --json`).
fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn predict_prints_the_offline_timeline() {
    let dir = model_dir("predict", 1.0);
    let tmp = tempfile::tempdir().unwrap();
    let wav = tmp.path().join("speech.wav");
    let x = signal(6.5, 44_100.0);
    write_wav(&wav, &x, 44_100);
    let out = Command::new(env!("CARGO_BIN_EXE_emoscope"))
        .args([
            "predict",
            wav.to_str().unwrap(),
            "--model",
            dir.path().to_str().unwrap(),
            "--windows",
            "--json",
            "--smoothing",
            "1.5",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut model = ModelPredictor::load(dir.path(), &Device::Cpu).unwrap();
    let cfg = AnalysisConfig {
        smoothing_seconds: 1.5,
        ..AnalysisConfig::default()
    };
    let expected = analyse_offline(&x, 44_100.0, &mut model, &cfg, None).unwrap();
    // 6.5 s with 4 s windows every 1 s: windows at 0, 1, 2 s.
    assert_eq!(expected.len(), 3);
    assert_eq!(lines.len(), expected.len());
    for (l, e) in lines.iter().zip(&expected) {
        let (span, s) = (e.reading.span, e.reading.emotion);
        assert_eq!(l["start"].as_f64().unwrap(), span.start);
        assert_eq!(l["end"].as_f64().unwrap(), span.end);
        assert_eq!(l["arousal"].as_f64().unwrap() as f32, s.arousal);
        assert_eq!(l["valence"].as_f64().unwrap() as f32, s.valence);
        assert_eq!(l["dominance"].as_f64().unwrap() as f32, s.dominance);
    }
}

#[test]
fn predict_names_a_directory_that_is_no_emotion_model() {
    let tmp = tempfile::tempdir().unwrap();
    let wav = tmp.path().join("speech.wav");
    write_wav(&wav, &signal(1.0, 16_000.0), 16_000);
    let model = common::fixture("distilhubert");
    let out = Command::new(env!("CARGO_BIN_EXE_emoscope"))
        .args([
            "predict",
            wav.to_str().unwrap(),
            "--model",
            model.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("emoscope.json") && err.contains("not an emotion model"),
        "{err}"
    );
}

/// `predict --json` on one utterance, as the library computes it.
fn predict_json(
    model: &std::path::Path,
    wav: &std::path::Path,
    extra: &[&str],
) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_emoscope"))
        .args([
            "predict",
            wav.to_str().unwrap(),
            "--model",
            model.to_str().unwrap(),
            "--json",
        ])
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).unwrap()
}

#[test]
fn predict_an_utterance_with_and_without_its_transcript() {
    // The audio+text fixture model with an audio-only fallback head.
    let model_path = common::fixture("emotion/early_fallback");
    let tmp = tempfile::tempdir().unwrap();
    let wav = tmp.path().join("speech.wav");
    let x = signal(2.5, 16_000.0);
    write_wav(&wav, &x, 16_000);
    let text = "The results were wonderful and everyone was delighted.";
    let sidecar = tmp.path().join("speech.txt");
    std::fs::write(
        &sidecar,
        "  The results were wonderful\n and everyone was delighted.\n",
    )
    .unwrap();
    let model = emoscope_models::EmotionModel::load(&model_path, &Default::default()).unwrap();
    let with_text = model.predict(&x, Some(text)).unwrap();
    let without = model.predict(&x, None).unwrap();
    assert_ne!(
        with_text, without,
        "the text branch must change the prediction"
    );
    for (args, expected) in [
        (vec!["--text", text], with_text),
        (vec!["--transcript", sidecar.to_str().unwrap()], with_text),
        // The sidecar next to the audio is used by default, as annotate uses it.
        (vec![], with_text),
        (vec!["--no-transcript"], without),
    ] {
        // The synthetic tone is no speech to the voice-activity detector:
        // read it all, as the model computes it.
        let args = [&args[..], &["--analyse-silence"]].concat();
        let v = predict_json(&model_path, &wav, &args);
        for (key, e) in ["arousal", "valence", "dominance"].iter().zip(expected) {
            // JSON carries the f32 exactly (printed at full precision as f64).
            assert_eq!(v[key].as_f64().unwrap() as f32, e, "{key} with {args:?}");
        }
    }
}

#[test]
fn windows_over_a_file_shorter_than_a_window_give_one_row_for_the_whole_file() {
    let dir = model_dir("predict-short", 1.0);
    let tmp = tempfile::tempdir().unwrap();
    let wav = tmp.path().join("short.wav");
    // 2.5 s at the model rate: no resampling on either path.
    write_wav(&wav, &signal(2.5, 16_000.0), 16_000);
    let whole = predict_json(dir.path(), &wav, &["--analyse-silence"]);
    let windows = predict_json(dir.path(), &wav, &["--windows", "--analyse-silence"]);
    assert_eq!(windows["start"].as_f64(), Some(0.0));
    assert_eq!(windows["end"].as_f64(), Some(2.5));
    for k in ["arousal", "valence", "dominance"] {
        assert_eq!(windows[k], whole[k], "{k}");
    }
}

#[test]
fn windowing_flags_that_make_no_sense_are_refused_by_predict_and_annotate() {
    let dir = model_dir("predict-flags", 1.0);
    let tmp = tempfile::tempdir().unwrap();
    let wav = tmp.path().join("a.wav");
    write_wav(&wav, &signal(1.0, 16_000.0), 16_000);
    let model = dir.path().to_str().unwrap();
    let wav = wav.to_str().unwrap();
    let out = tmp.path().join("out");
    for args in [
        vec!["predict", wav, "--model", model, "--windows", "--hop", "0"],
        vec![
            "predict",
            wav,
            "--model",
            model,
            "--windows",
            "--smoothing=-1",
        ],
        vec![
            "annotate",
            wav,
            "--model",
            model,
            "--out",
            out.to_str().unwrap(),
            "--window=-4",
        ],
    ] {
        let o = Command::new(env!("CARGO_BIN_EXE_emoscope"))
            .args(&args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{args:?} succeeded");
        assert!(
            stderr.contains("--window and --hop must be positive and --smoothing non-negative"),
            "{args:?}: {stderr}"
        );
    }
    assert!(!out.exists(), "annotate refused before writing anything");
}

#[test]
fn the_sidecar_is_announced_and_no_transcript_skips_it() {
    let dir = model_dir("predict-sidecar", 1.0);
    let tmp = tempfile::tempdir().unwrap();
    let wav = tmp.path().join("talk.wav");
    write_wav(&wav, &signal(1.0, 16_000.0), 16_000);
    std::fs::write(
        tmp.path().join("talk.srt"),
        "1\n00:00:00,000 --> 00:00:01,000\nhello\n",
    )
    .unwrap();
    let run = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_emoscope"))
            .args(["predict", wav.to_str().unwrap(), "--model"])
            .arg(dir.path())
            .args(extra)
            .output()
            .unwrap()
    };
    let o = run(&["--json"]);
    assert!(o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("using the transcript") && err.contains("talk.srt"),
        "{err}"
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["text"], "hello");
    let o = run(&["--json", "--no-transcript"]);
    assert!(!String::from_utf8_lossy(&o.stderr).contains("talk.srt"));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["text"], "");
}

#[test]
fn a_long_file_is_the_weighted_mean_of_pieces_of_at_most_30_s() {
    let dir = model_dir("predict-long", 1.0);
    let tmp = tempfile::tempdir().unwrap();
    let wav = tmp.path().join("long.wav");
    // 65 s at the model's rate: ceil(65 / 30) = 3 pieces, split at
    // k * 1_040_000 / 3 samples: 0, 346_666, 693_333, 1_040_000.
    let x = signal(65.0, 16_000.0);
    write_wav(&wav, &x, 16_000);
    let out = Command::new(env!("CARGO_BIN_EXE_emoscope"))
        .args([
            "predict",
            wav.to_str().unwrap(),
            "--json",
            "--analyse-silence",
            "--model",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("analysed as 3 pieces of 21.7 s"), "{err}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["pieces"], 3);
    let mut model = ModelPredictor::load(dir.path(), &Device::Cpu).unwrap();
    let bounds = [0usize, 346_666, 693_333, 1_040_000];
    let mut sum = [0f64; 3];
    for w in bounds.windows(2) {
        use emoscope::engine::EmotionPredictor;
        let p = model.predict(&x[w[0]..w[1]], "").unwrap();
        let weight = (w[1] - w[0]) as f64;
        for (s, v) in sum.iter_mut().zip([p.arousal, p.valence, p.dominance]) {
            *s += weight * f64::from(v);
        }
    }
    for (k, key) in ["arousal", "valence", "dominance"].iter().enumerate() {
        let expected = (sum[k] / 1_040_000.0) as f32;
        let got = v[key].as_f64().unwrap() as f32;
        assert!((got - expected).abs() < 1e-6, "{key}: {got} vs {expected}");
    }
}

/// `predict --windows` on 8 s (five windows) with stdout as given; the
/// folders it reads from go with it.
fn predict_into(
    stdout: std::process::Stdio,
) -> (std::process::Child, (tempfile::TempDir, tempfile::TempDir)) {
    let dir = model_dir("predict-pipe", 1.0);
    let tmp = tempfile::tempdir().unwrap();
    let wav = tmp.path().join("x.wav");
    write_wav(&wav, &signal(8.0, 16_000.0), 16_000);
    let child = Command::new(env!("CARGO_BIN_EXE_emoscope"))
        .args(["predict", wav.to_str().unwrap(), "--windows", "--model"])
        .arg(dir.path())
        .stdout(stdout)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    (child, (dir, tmp))
}

#[test]
fn a_reader_that_stops_early_ends_the_run_quietly() {
    // `predict … --windows | head -0`: the pipe's reading end is closed
    // before the first line, so every write meets a broken pipe.
    let (mut child, _dirs) = predict_into(std::process::Stdio::piped());
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains("panicked") && !err.contains("error"), "{err}");
}

#[cfg(target_os = "linux")]
#[test]
fn a_full_stdout_is_an_error_naming_stdout() {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let (child, _dirs) = predict_into(full.into());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.starts_with("error: writing to stdout: No space left on device"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn a_model_folder_that_does_not_exist_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let wav = tmp.path().join("a.wav");
    write_wav(&wav, &signal(1.0, 16_000.0), 16_000);
    let missing = tmp.path().join("no-model");
    let out = Command::new(env!("CARGO_BIN_EXE_emoscope"))
        .args(["predict", wav.to_str().unwrap(), "--model"])
        .arg(&missing)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(
        err.trim(),
        format!("error: --model {}: no such folder", missing.display())
    );
}

#[test]
fn transcript_repairs_are_warnings_and_strict_makes_them_errors() {
    // A SubRip sidecar whose second cue has no number: read with a warning
    // naming the file and line; --strict refuses it.
    let dir = model_dir("strict", 1.0);
    let tmp = tempfile::tempdir().unwrap();
    let wav = tmp.path().join("talk.wav");
    write_wav(&wav, &signal(3.5, 16_000.0), 16_000);
    std::fs::write(
        tmp.path().join("talk.srt"),
        "1\n00:00:00,050 --> 00:00:01,450\nThe results were wonderful,\n\n\
         00:00:01,600 --> 00:00:03,100\nand everyone was delighted.\n",
    )
    .unwrap();
    let run = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_emoscope"))
            .args(["predict", wav.to_str().unwrap(), "--model"])
            .arg(dir.path())
            .args(extra)
            .output()
            .unwrap()
    };
    let lenient = run(&[]);
    assert!(lenient.status.success());
    let err = String::from_utf8_lossy(&lenient.stderr);
    assert!(
        err.contains("warning: ") && err.contains("talk.srt: line 5"),
        "{err}"
    );
    let strict = run(&["--strict"]);
    assert_eq!(strict.status.code(), Some(1));
    let err = String::from_utf8_lossy(&strict.stderr);
    assert!(err.contains("talk.srt") && err.contains("line 5"), "{err}");
}

#[test]
fn predict_reads_a_transformers_regression_head_by_its_output_names() {
    // HubertForSequenceClassification saved as pytorch_model.bin, with a
    // regression head whose id2label is arousal, valence, dominance.
    let model_path = common::fixture("classification-hubert-dimensions");
    let tmp = tempfile::tempdir().unwrap();
    let wav = tmp.path().join("speech.wav");
    let x = signal(2.5, 16_000.0);
    write_wav(&wav, &x, 16_000);
    let model =
        emoscope_models::SequenceClassifier::load(&model_path, &Default::default()).unwrap();
    let expected = model.classify(&x).unwrap();
    let v = predict_json(&model_path, &wav, &["--analyse-silence"]);
    for key in ["arousal", "valence", "dominance"] {
        assert_eq!(
            v[key].as_f64().unwrap() as f32,
            expected.get(key).unwrap(),
            "{key}"
        );
    }
}

#[test]
fn predict_and_annotate_read_the_odyssey_baseline_layout() {
    // WavLM + attentive statistics pooling + MLP under ssl_model. /
    // pool_model. / ser_model., pytorch_model.bin beside a config.json of
    // metadata (mean, std, id2label arousal, dominance, valence).
    let model_path = common::fixture("odyssey-dim");
    let tmp = tempfile::tempdir().unwrap();
    let wav = tmp.path().join("speech.wav");
    let x = signal(2.5, 16_000.0);
    write_wav(&wav, &x, 16_000);
    let model = emoscope_models::OdysseyModel::load(&model_path, &Default::default()).unwrap();
    let expected = model.predict(&x).unwrap();
    let v = predict_json(&model_path, &wav, &["--analyse-silence"]);
    for key in ["arousal", "valence", "dominance"] {
        assert_eq!(
            v[key].as_f64().unwrap() as f32,
            expected.get(key).unwrap(),
            "{key}"
        );
    }
    let out = tmp.path().join("out");
    let run = Command::new(env!("CARGO_BIN_EXE_emoscope"))
        .args([
            "annotate",
            wav.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .args(["--format", "json", "--analyse-silence", "--model"])
        .arg(&model_path)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("speech.emoscope.json")).unwrap())
            .unwrap();
    assert_eq!(doc["model"], "odyssey-dim");
    assert!(!doc["timeline"].as_array().unwrap().is_empty());
}

#[test]
fn predict_reads_a_categorical_head_as_label_probabilities() {
    // WavLMForSequenceClassification over neutral, happy, sad, angry.
    let model_path = common::fixture("classification-wavlm-categories");
    let tmp = tempfile::tempdir().unwrap();
    let wav = tmp.path().join("speech.wav");
    let x = signal(1.5, 16_000.0);
    write_wav(&wav, &x, 16_000);
    let model =
        emoscope_models::SequenceClassifier::load(&model_path, &Default::default()).unwrap();
    let expected = model.classify(&x).unwrap();
    let (top, _) = expected.top_category().unwrap();
    let v = predict_json(&model_path, &wav, &["--analyse-silence"]);
    assert_eq!(v["label"], top);
    assert_eq!(v["model"], "classification-wavlm-categories");
    let probabilities = v["probabilities"].as_object().unwrap();
    assert_eq!(probabilities.len(), 4);
    for label in ["neutral", "happy", "sad", "angry"] {
        assert_eq!(
            probabilities[label].as_f64().unwrap() as f32,
            expected.get(label).unwrap(),
            "{label}"
        );
    }
    // The table marks the most probable label; words given to a model that
    // reads none are said to be unused.
    let out = Command::new(env!("CARGO_BIN_EXE_emoscope"))
        .args([
            "predict",
            wav.to_str().unwrap(),
            "--analyse-silence",
            "--text",
            "what a lovely day",
            "--model",
        ])
        .arg(&model_path)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("reads no words"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let marked: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("most probable"))
        .collect();
    assert_eq!(marked.len(), 1, "{text}");
    assert!(marked[0].starts_with(top), "{text}");
}

/// Issue 13: a categorical model through `predict --windows` and `annotate`
/// in every format. Each window's probabilities are the head's on that
/// window's samples; the document, the CSV, the tiers, the layers and the
/// MIDI lanes carry them by label, and nothing carries arousal, valence or
/// dominance, which the model does not output.
#[test]
fn a_categorical_model_runs_through_windows_and_annotate_in_every_format() {
    let model_path = common::fixture("classification-wavlm-categories");
    let labels = ["neutral", "happy", "sad", "angry"];
    let tmp = tempfile::tempdir().unwrap();
    let wav = tmp.path().join("speech.wav");
    let x = signal(6.0, 16_000.0);
    write_wav(&wav, &x, 16_000);
    let model =
        emoscope_models::SequenceClassifier::load(&model_path, &Default::default()).unwrap();
    // Windows of 4 s every 1 s: 0..4, 1..5, 2..6.
    let expected: Vec<Vec<f32>> = (0..3)
        .map(|i| {
            let w = &x[i * 16_000..(i + 4) * 16_000];
            let o = model.classify(w).unwrap();
            labels.iter().map(|l| o.get(l).unwrap()).collect()
        })
        .collect();
    let (w, m) = (wav.to_str().unwrap(), model_path.to_str().unwrap());
    let lines = json_lines(&emoscope_ok(&[
        "predict",
        w,
        "--windows",
        "--json",
        "--analyse-silence",
        "--model",
        m,
    ]));
    assert_eq!(lines.len(), 3);
    let close = |a: f32, b: f32| (a - b).abs() < 1e-5;
    for (line, want) in lines.iter().zip(&expected) {
        assert!(line.get("arousal").is_none(), "{line}");
        let p = line["probabilities"].as_object().unwrap();
        for (label, &w) in labels.iter().zip(want) {
            assert!(close(p[*label].as_f64().unwrap() as f32, w), "{line}");
        }
        let top = (0..4).max_by(|&a, &b| want[a].total_cmp(&want[b])).unwrap();
        assert_eq!(line["label"], labels[top]);
    }

    let dir = tmp.path().join("out");
    emoscope_ok(&[
        "annotate",
        w,
        "--format",
        "all",
        "--analyse-silence",
        "--out",
        dir.to_str().unwrap(),
        "--model",
        m,
    ]);
    let file = |suffix: &str| dir.join(format!("speech.emoscope{suffix}"));
    let read = |suffix: &str| std::fs::read_to_string(file(suffix)).unwrap();
    let doc: emoscope::export::Annotation = serde_json::from_str(&read(".json")).unwrap();
    assert_eq!(doc.categories, labels);
    assert_eq!(doc.timeline.len(), 3);
    let top_of =
        |want: &[f32]| labels[(0..4).max_by(|&a, &b| want[a].total_cmp(&want[b])).unwrap()];
    for (r, want) in doc.timeline.iter().zip(&expected) {
        assert!(!r.emotion.has_dimensions());
        let got = r.emotion.probabilities.as_slice();
        assert!(
            got.iter().zip(want).all(|(&a, &b)| close(a, b)),
            "{got:?} {want:?}"
        );
    }
    let json = read(".json");
    assert!(!json.contains("\"arousal\""), "{json}");
    // Segment labels and markers name the top category.
    for s in &doc.segments {
        let (top, _) = doc.top_category(&s.emotion).unwrap();
        assert!(s.label.starts_with(&format!("{top} ")), "{}", s.label);
    }
    assert!(!doc.markers.is_empty());
    assert!(labels.iter().any(|l| doc.markers[0].label.starts_with(l)));
    // CSV: a column per category and the top one.
    let csv = read(".csv");
    let mut rows = csv.lines();
    assert_eq!(
        rows.next().unwrap(),
        "start,end,neutral,happy,sad,angry,label,text,model_id,out_of_range"
    );
    for (row, want) in rows.zip(&expected) {
        let cells: Vec<&str> = row.split(',').collect();
        for (cell, &w) in cells[2..6].iter().zip(want) {
            assert!(close(cell.parse().unwrap(), w), "{row}");
        }
        assert_eq!(cells[6], top_of(want));
    }
    // Sonic Visualiser: a layer per category, no dimension layers.
    for l in labels {
        let layer = read(&format!(".sv-{l}.csv"));
        assert_eq!(layer.lines().count(), 4, "{layer}");
    }
    assert!(file(".sv-segments.csv").is_file());
    assert!(!file(".sv-arousal.csv").exists());
    // TextGrid and EAF: the top category per window and a tier per category.
    let textgrid = read(".TextGrid");
    let eaf = read(".eaf");
    for tier in ["category", "neutral", "angry"] {
        assert!(textgrid.contains(&format!("name = \"{tier}\"")), "{tier}");
        assert!(eaf.contains(&format!("TIER_ID=\"{tier}\"")), "{tier}");
    }
    assert!(!textgrid.contains("\"arousal\"") && !eaf.contains("\"arousal\""));
    // Labels in Audacity, REAPER and WebVTT start with the top category.
    let first = &doc.segments[0].label;
    for suffix in [".txt", ".reaper.csv", ".vtt"] {
        assert!(read(suffix).contains(first.as_str()), "{suffix}");
    }
    // MIDI: controllers 23-26, each window's probability scaled to 0..127.
    let bytes = std::fs::read(file(".mid")).unwrap();
    let smf = midly::Smf::parse(&bytes).unwrap();
    let ccs: Vec<(u8, u8)> = smf.tracks[1]
        .iter()
        .filter_map(|e| match e.kind {
            midly::TrackEventKind::Midi {
                message: midly::MidiMessage::Controller { controller, value },
                ..
            } => Some((controller.as_int(), value.as_int())),
            _ => None,
        })
        .collect();
    let want: Vec<(u8, u8)> = doc
        .timeline
        .iter()
        .flat_map(|r| {
            (0..4).map(move |k| {
                let p = r.emotion.probabilities.as_slice()[k];
                (
                    emoscope::cc::default_category_cc(k),
                    (p.clamp(0.0, 1.0) * 127.0).round() as u8,
                )
            })
        })
        .collect();
    assert_eq!(ccs, want);
    assert_eq!(want[0].0, 23);
    // The index sums the file up by category, not by dimensions.
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("index.json")).unwrap()).unwrap();
    let entry = &index["entries"][0];
    assert!(entry["mean"].is_null(), "{entry}");
    let mean = entry["mean_probabilities"].as_object().unwrap();
    for (k, l) in labels.iter().enumerate() {
        let want = expected.iter().map(|p| f64::from(p[k])).sum::<f64>() / 3.0;
        assert!((mean[*l].as_f64().unwrap() - want).abs() < 1e-5, "{entry}");
    }
}

#[test]
fn only_speech_is_read_and_silence_gets_no_reading() {
    // Issue 18: no speech, no reading. Real speech (the README's espeak-ng
    // example) with 3 s of silence before and after: the whole-file reading
    // is the model's reading of the speech alone (from the first to the last
    // speech region the voice-activity detector finds),
    // the windows over the silence get none, and a silent file has no
    // reading at all.
    let dir = model_dir("predict-speech-only", 1.0);
    let tmp = tempfile::tempdir().unwrap();
    let speech = emoscope::audio::load_mono(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/speech.wav"),
        16_000,
    )
    .unwrap();
    let pad = vec![0f32; 3 * 16_000];
    let x: Vec<f32> = [&pad[..], &speech, &pad].concat();
    let wav = tmp.path().join("padded.wav");
    write_wav(&wav, &x, 16_000);
    let regions = emoscope::audio::vad::speech_regions(
        &x,
        16_000,
        &emoscope::audio::vad::VadConfig::default(),
    )
    .unwrap();
    let (first, last) = (regions[0].start, regions.last().unwrap().end);
    assert!(
        first > 2.5 && last < 3.0 + speech.len() as f64 / 16_000.0 + 0.5,
        "{regions:?}"
    );
    for w in regions.windows(2) {
        assert!(w[1].start - w[0].end < 1.0, "one stretch: {regions:?}");
    }
    let mut model = ModelPredictor::load(dir.path(), &Device::Cpu).unwrap();
    // From the first speech (on the file's 20 ms frame grid) to the last.
    let start = (first * 16_000.0).round() as usize / 320 * 320;
    let cut = &x[start..(last * 16_000.0).round() as usize];
    let expected = emoscope::engine::EmotionPredictor::predict(&mut model, cut, "").unwrap();
    let v = predict_json(dir.path(), &wav, &["--no-transcript"]);
    for (k, e) in ["arousal", "valence", "dominance"].iter().zip([
        expected.arousal,
        expected.valence,
        expected.dominance,
    ]) {
        assert_eq!(v[k].as_f64().unwrap() as f32, e, "{k}");
    }
    assert!((v["seconds_read"].as_f64().unwrap() - cut.len() as f64 / 16_000.0).abs() < 1e-9);
    // Reading the silence too gives another number (the mean over the file).
    let all = predict_json(dir.path(), &wav, &["--no-transcript", "--analyse-silence"]);
    assert_ne!(all["arousal"], v["arousal"]);
    // Windows: 2 s every 1 s; those over the silence say so, without numbers.
    let out = Command::new(env!("CARGO_BIN_EXE_emoscope"))
        .args([
            "predict",
            wav.to_str().unwrap(),
            "--windows",
            "--window",
            "2",
            "--hop",
            "1",
        ])
        .args(["--json", "--no-transcript", "--model"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let silent: Vec<_> = lines.iter().filter(|l| l["no_speech"] == true).collect();
    let read: Vec<_> = lines
        .iter()
        .filter(|l| l.get("arousal").is_some())
        .collect();
    assert!(!silent.is_empty() && !read.is_empty(), "{lines:?}");
    assert!(silent.iter().all(|l| l.get("arousal").is_none()));
    assert_eq!(silent.len() + read.len(), lines.len());
    // In time order, and the first window (0-2 s, all silence) has no reading.
    assert_eq!(lines[0]["no_speech"], true);
    let starts: Vec<f64> = lines.iter().map(|l| l["start"].as_f64().unwrap()).collect();
    assert!(starts.windows(2).all(|w| w[0] <= w[1]), "{starts:?}");
    // A silent file: no numbers, said on stdout and stderr, exit 0.
    let quiet = tmp.path().join("quiet.wav");
    write_wav(&quiet, &vec![0f32; 5 * 16_000], 16_000);
    let out = Command::new(env!("CARGO_BIN_EXE_emoscope"))
        .args(["predict", quiet.to_str().unwrap(), "--json", "--model"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["no_speech"], true);
    assert!(v.get("arousal").is_none());
    assert!(String::from_utf8_lossy(&out.stderr).contains("finds no speech"));
}

/// Issue 13's done-when: a categorical and a regression head of each
/// backbone family (HuBERT, wav2vec2, WavLM, Data2Vec-Audio) through
/// `predict` (whole file and `--windows`), `annotate` (every format),
/// `eval` and `plot`. Each window's values equal the library's offline
/// analysis with the same predictor; each verb's outputs carry the model's
/// kind of output (probabilities by label, or arousal/valence/dominance).
#[test]
fn every_backbone_familys_heads_run_through_every_verb() {
    let run = emoscope_ok;
    let tmp = tempfile::tempdir().unwrap();
    let wav = tmp.path().join("speech.wav");
    let x = signal(6.0, 16_000.0);
    write_wav(&wav, &x, 16_000);
    let w = wav.to_str().unwrap();
    for family in ["hubert", "wav2vec2", "wavlm", "data2vec"] {
        for kind in ["categories", "dimensions"] {
            let name = format!("classification-{family}-{kind}");
            let model = common::fixture(&name);
            let m = model.to_str().unwrap();
            let categorical = kind == "categories";
            let mut predictor = emoscope::engine::load_predictor(&model, &Device::Cpu).unwrap();
            let offline = analyse_offline(
                &x,
                16_000.0,
                predictor.as_mut(),
                &AnalysisConfig::default(),
                None,
            )
            .unwrap();
            // predict --windows: the offline analysis' values, by name.
            let lines = json_lines(&run(&[
                "predict",
                w,
                "--windows",
                "--json",
                "--analyse-silence",
                "--model",
                m,
            ]));
            assert_eq!(lines.len(), offline.len(), "{name}");
            let labels = predictor.categories().to_vec();
            assert_eq!(labels.is_empty(), !categorical, "{name}");
            for (line, o) in lines.iter().zip(&offline) {
                let e = &o.reading.emotion;
                if categorical {
                    assert!(line.get("arousal").is_none(), "{name}: {line}");
                    for (l, p) in labels.iter().zip(e.probabilities.as_slice()) {
                        assert_eq!(line["probabilities"][l].as_f64().unwrap() as f32, *p);
                    }
                } else {
                    assert!(line.get("probabilities").is_none(), "{name}: {line}");
                    for (k, v) in Emotion::DIMENSIONS.iter().zip(e.dimensions()) {
                        assert_eq!(line[*k].as_f64().unwrap() as f32, v, "{name}");
                    }
                }
            }
            // The whole file.
            let whole: serde_json::Value = serde_json::from_str(
                run(&["predict", w, "--json", "--analyse-silence", "--model", m]).trim(),
            )
            .unwrap();
            assert_eq!(whole.get("label").is_some(), categorical, "{name}: {whole}");
            assert_eq!(
                whole.get("arousal").is_some(),
                !categorical,
                "{name}: {whole}"
            );
            // annotate in every format, then plot.
            let out = tmp.path().join(&name);
            let o = out.to_str().unwrap();
            run(&[
                "annotate",
                w,
                "--format",
                "all",
                "--analyse-silence",
                "--out",
                o,
                "--model",
                m,
            ]);
            let doc: emoscope::export::Annotation = serde_json::from_str(
                &std::fs::read_to_string(out.join("speech.emoscope.json")).unwrap(),
            )
            .unwrap();
            assert_eq!(doc.categories, labels, "{name}");
            assert_eq!(doc.timeline.len(), offline.len(), "{name}");
            for (r, o) in doc.timeline.iter().zip(&offline) {
                assert_eq!(r.emotion, o.reading.emotion, "{name}");
            }
            let layer = if categorical {
                format!(".sv-{}.csv", labels[0])
            } else {
                ".sv-arousal.csv".to_owned()
            };
            assert!(
                out.join(format!("speech.emoscope{layer}")).is_file(),
                "{name}"
            );
            let png = out.join("plot.png");
            run(&[
                "plot",
                out.join("speech.emoscope.json").to_str().unwrap(),
                "--out",
                png.to_str().unwrap(),
            ]);
            assert!(png.is_file());
            // eval on a manifest of the one file: categories against a
            // label, dimensions against A/V/D labels.
            let manifest = out.join("m.csv");
            let csv = if categorical {
                format!("audio,label\n{w},{}\n", labels[0])
            } else {
                format!("audio,transcript,arousal,valence,dominance\n{w},,0.5,0.5,0.5\n")
            };
            std::fs::write(&manifest, csv).unwrap();
            let v: serde_json::Value = serde_json::from_str(&run(&[
                "eval",
                "--model",
                m,
                "--data",
                manifest.to_str().unwrap(),
                "--json",
            ]))
            .unwrap();
            assert_eq!(v["utterances"], 1, "{name}: {v}");
            assert_eq!(v.get("accuracy").is_some(), categorical, "{name}: {v}");
        }
    }
}
