//! `emoscope annotate` end to end: every export format from one run, read
//! back by Emoscope's own readers and (in `exports_open_in_independent_readers`)
//! by independent Python readers; the timeline equals the engine's offline
//! analysis; resumption, failures, shards and merge, parallel jobs, the
//! default model, audio formats and short files.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use candle_core::Device;
use emoscope::audio::load_mono;
use emoscope::engine::{analyse_offline, load_predictor, AnalysisConfig};
use emoscope::export::{Annotation, SegmentSource};
use emoscope::transcript::{self, ReadOptions};

mod common;
use common::model_dir;

fn emoscope(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_emoscope"));
    c.args(args).env_remove("EMOSCOPE_MODEL");
    for (k, v) in envs {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn ok(out: &Output) {
    assert!(
        out.status.success(),
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn example() -> PathBuf {
    common::repo().join("examples/speech.wav")
}

/// A corpus folder with the example speech (3.46 s) and a WhisperX sidecar
/// with two segments and word timings (one untimed word).
fn corpus(dir: &Path) -> PathBuf {
    let c = dir.join("corpus");
    std::fs::create_dir_all(&c).unwrap();
    std::fs::copy(example(), c.join("speech.wav")).unwrap();
    std::fs::write(
        c.join("speech.json"),
        r#"{"segments": [
            {"start": 0.05, "end": 1.6, "text": "The results were wonderful,",
             "words": [{"word": "The", "start": 0.05, "end": 0.2}, {"word": "results", "start": 0.2, "end": 0.7},
                       {"word": "were", "start": 0.7, "end": 0.9}, {"word": "wonderful,", "start": 0.9, "end": 1.6}]},
            {"start": 1.7, "end": 3.0, "text": "and everyone was delighted.",
             "words": [{"word": "and", "start": 1.7, "end": 1.85}, {"word": "everyone"},
                       {"word": "was", "start": 2.3, "end": 2.5}, {"word": "delighted.", "start": 2.5, "end": 3.0}]}]}"#,
    )
    .unwrap();
    c
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `emoscope annotate INPUT --out OUT --model MODEL --format FORMAT EXTRA...`.
fn annotate(input: &Path, out: &Path, model: &Path, format: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "annotate",
        s(input),
        "--out",
        s(out),
        "--model",
        s(model),
        "--format",
        format,
    ];
    args.extend_from_slice(extra);
    emoscope(&args, &[])
}

fn read_doc(path: &Path) -> Annotation {
    Annotation::from_json(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Runs `annotate` over the corpus with every format; returns (tempdir, out dir).
fn annotate_all(extra: &[&str]) -> (tempfile::TempDir, tempfile::TempDir, PathBuf) {
    let model = model_dir("annot", 1.0);
    let tmp = tempfile::tempdir().unwrap();
    let c = corpus(tmp.path());
    let out = tmp.path().join("out");
    let mut args = vec![
        "annotate",
        s(&c),
        "--out",
        s(&out),
        "--model",
        s(model.path()),
        "--format",
        "all",
    ];
    args.extend_from_slice(extra);
    ok(&emoscope(&args, &[]));
    (model, tmp, out)
}

#[test]
fn the_timeline_is_the_engines_offline_analysis_with_the_transcript() {
    let (model, tmp, out) = annotate_all(&["--smoothing", "1.5"]);
    let doc = read_doc(&out.join("speech.emoscope.json"));
    let wav = tmp.path().join("corpus/speech.wav");
    let decoded = emoscope::audio::decode_file(&wav).unwrap();
    let mono = emoscope::audio::downmix_checked(&decoded, &wav).unwrap();
    let duration = mono.len() as f64 / decoded.sample_rate as f64;
    let t = transcript::read_file(
        &tmp.path().join("corpus/speech.json"),
        &ReadOptions::default(),
    )
    .unwrap();
    let mut m = load_predictor(model.path(), &Device::Cpu).unwrap();
    let cfg = AnalysisConfig {
        smoothing_seconds: 1.5,
        ..AnalysisConfig::default()
    };
    let expected = analyse_offline(
        &mono,
        decoded.sample_rate as f32,
        m.as_mut(),
        &cfg,
        Some(&t),
    )
    .unwrap();
    // 3.46 s with 4 s windows: no complete window, so the whole file is one window.
    assert_eq!(expected.len(), 1);
    assert_eq!(doc.timeline.len(), 1);
    assert_eq!(
        (doc.timeline[0].span.start, doc.timeline[0].span.end),
        (expected[0].reading.span.start, expected[0].reading.span.end)
    );
    assert_eq!(doc.timeline[0].span.start, 0.0);
    // The window ends with the last model-rate sample (16 kHz from 22.05 kHz).
    assert!((doc.timeline[0].span.end - duration).abs() < 1.0 / 16_000.0);
    assert_eq!(
        doc.timeline[0].emotion.arousal,
        expected[0].reading.emotion.arousal
    );
    // The engine's streaming resampler against a one-shot resampling of the
    // whole file: the same reading up to resampler differences.
    let x = load_mono(&wav, 16_000).unwrap();
    let whole = m.predict(&x, "").unwrap();
    let d = (doc.timeline[0].emotion.arousal - whole.arousal).abs();
    assert!(d < 1e-3, "arousal differs by {d}");
    assert_eq!(
        doc.timeline[0].text,
        "The results were wonderful, and everyone was delighted."
    );
    assert_eq!(doc.duration, duration);
    assert_eq!(doc.transcript.len(), 2);
    // Segments: the two transcript segments, plus VAD speech outside them only if 0.25 s or longer.
    let from_transcript: Vec<(f64, f64, &str)> = doc
        .segments
        .iter()
        .filter(|s| s.source == SegmentSource::Transcript)
        .map(|s| (s.span.start, s.span.end, s.text.as_str()))
        .collect();
    assert_eq!(
        from_transcript,
        vec![
            (0.05, 1.6, "The results were wonderful,"),
            (1.7, 3.0, "and everyone was delighted.")
        ]
    );
    for w in doc.segments.windows(2) {
        assert!(w[0].span.end <= w[1].span.start, "{:?}", doc.segments);
    }
    for seg in &doc.segments {
        let s = seg.span;
        assert!(s.start >= 0.0 && s.end <= duration && s.end - s.start >= 0.001);
        if seg.source == SegmentSource::Vad {
            assert!(s.end - s.start >= 0.25 && seg.text.is_empty());
        }
    }
}

#[test]
fn windows_over_a_longer_file_match_analyse_offline() {
    // The example three times (10.4 s): windows at 0..6 s.
    let model = model_dir("long", 0.5);
    let tmp = tempfile::tempdir().unwrap();
    let x = load_mono(&example(), 22_050).unwrap();
    let long: Vec<f32> = x.iter().chain(&x).chain(&x).copied().collect();
    let wav = tmp.path().join("long.wav");
    common::write_wav(&wav, &long, 22_050);
    let out = tmp.path().join("out");
    ok(&annotate(
        &wav,
        &out,
        model.path(),
        "json",
        &["--hop", "0.5"],
    ));
    let doc = read_doc(&out.join("long.emoscope.json"));
    let mut m = load_predictor(model.path(), &Device::Cpu).unwrap();
    let cfg = AnalysisConfig {
        hop_seconds: 0.5,
        ..AnalysisConfig::default()
    };
    let expected = analyse_offline(&long, 22_050.0, m.as_mut(), &cfg, None).unwrap();
    // floor((10.38 - 4) / 0.5) + 1 = 13 windows.
    assert_eq!(expected.len(), 13);
    assert_eq!(doc.timeline.len(), expected.len());
    for (r, e) in doc.timeline.iter().zip(&expected) {
        assert_eq!(r.span, e.reading.span);
        assert_eq!(r.emotion, e.reading.emotion);
    }
    assert_eq!(doc.hop_seconds, 0.5);
    // Three utterances with 0.4 s of silence between the copies: the VAD finds speech in each third.
    let thirds = [0.0, 3.46, 6.92, 10.38];
    for k in 0..3 {
        assert!(
            doc.segments
                .iter()
                .any(|s| s.span.start < thirds[k + 1] && s.span.end > thirds[k]),
            "no segment in third {k}: {:?}",
            doc.segments
        );
    }
}

#[test]
fn exports_read_back_equal_with_our_readers() {
    let (_m, _t, out) = annotate_all(&["--quadrants"]);
    let doc = read_doc(&out.join("speech.emoscope.json"));
    assert!(doc
        .segments
        .iter()
        .all(|s| ["excited", "tense", "subdued", "calm"]
            .iter()
            .any(|q| s.label.contains(q))));

    // Audacity labels: segments and markers, times to 6 decimals.
    let r6 = |t: f64| (t * 1e6).round() / 1e6;
    let t =
        transcript::read_file(&out.join("speech.emoscope.txt"), &ReadOptions::default()).unwrap();
    let mut want: Vec<(f64, f64, String)> = doc
        .segments
        .iter()
        .map(|s| (r6(s.span.start), r6(s.span.end), s.label.clone()))
        .chain(
            doc.markers
                .iter()
                .map(|m| (r6(m.time), r6(m.time), m.label.clone())),
        )
        .collect();
    want.sort_by(|a, b| a.0.total_cmp(&b.0));
    let got: Vec<(f64, f64, String)> = t
        .segments()
        .iter()
        .map(|s| (s.start, s.end, s.text.clone()))
        .collect();
    assert_eq!(got, want);

    // TextGrid: the segments tier exactly; the point tiers at window centres.
    let text = std::fs::read_to_string(out.join("speech.emoscope.TextGrid")).unwrap();
    let grid = transcript::textgrid::parse_grid(&text, Path::new("speech.TextGrid")).unwrap();
    let t = transcript::textgrid::parse(&text, Path::new("speech.TextGrid"), None).unwrap();
    let want: Vec<(f64, f64, String)> = doc
        .segments
        .iter()
        .map(|s| (s.span.start, s.span.end, s.label.clone()))
        .collect();
    let got: Vec<(f64, f64, String)> = t
        .segments()
        .iter()
        .map(|s| (s.start, s.end, s.text.clone()))
        .collect();
    assert_eq!(got, want);
    let names: Vec<&str> = grid.tiers.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        ["segments", "words", "arousal", "valence", "dominance"]
    );
    let transcript::textgrid::TierItems::Points(points) = &grid.tiers[2].items else {
        panic!()
    };
    let want: Vec<transcript::Point> = doc
        .timeline
        .iter()
        .map(|r| transcript::Point {
            time: r.span.centre(),
            text: format!("{:.4}", r.emotion.arousal),
        })
        .collect();
    assert_eq!(points, &want);
    let transcript::textgrid::TierItems::Intervals(words) = &grid.tiers[1].items else {
        panic!()
    };
    let word_texts: Vec<&str> = words
        .iter()
        .map(|w| w.text.as_str())
        .filter(|w| !w.is_empty())
        .collect();
    assert_eq!(
        word_texts,
        [
            "The",
            "results",
            "were",
            "wonderful,",
            "and",
            "everyone",
            "was",
            "delighted."
        ]
    );
    // "everyone" was untimed between "and" (ends 1.85) and "was" (starts 2.3).
    assert!(
        words.contains(&transcript::Interval {
            start: 1.85,
            end: 2.3,
            text: "everyone".to_string()
        }),
        "{words:?}"
    );

    // EAF: segments at millisecond resolution, dimension tiers around the centres.
    let text = std::fs::read_to_string(out.join("speech.emoscope.eaf")).unwrap();
    let eaf = transcript::eaf::parse_eaf(&text, Path::new("speech.eaf")).unwrap();
    let ms = |t: f64| (t * 1000.0).round() / 1000.0;
    let want: Vec<transcript::Interval> = doc
        .segments
        .iter()
        .map(|s| transcript::Interval {
            start: ms(s.span.start),
            end: ms(s.span.end),
            text: s.label.clone(),
        })
        .collect();
    assert_eq!(eaf.tiers[0].id, "segments");
    assert_eq!(eaf.tiers[0].annotations, want);
    let ids: Vec<&str> = eaf.tiers.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(
        ids,
        ["segments", "words", "arousal", "valence", "dominance"]
    );
    for (tier, pick) in eaf.tiers[2..].iter().zip([0usize, 1, 2]) {
        assert_eq!(tier.annotations.len(), doc.timeline.len());
        for (a, r) in tier.annotations.iter().zip(&doc.timeline) {
            let value = r.emotion.dimensions()[pick];
            assert!(a.start <= r.span.centre() && r.span.centre() <= a.end);
            assert_eq!(a.text, format!("{value:.4}"));
        }
    }
    assert!(
        text.contains("MEDIA_URL=\"file:///") && text.contains("speech.wav\""),
        "{text}"
    );

    // WebVTT: cues at millisecond resolution.
    let t =
        transcript::read_file(&out.join("speech.emoscope.vtt"), &ReadOptions::default()).unwrap();
    let got: Vec<transcript::Interval> = t
        .segments()
        .iter()
        .map(|s| transcript::Interval {
            start: s.start,
            end: s.end,
            text: s.text.clone(),
        })
        .collect();
    assert_eq!(got, want);

    // Standard MIDI File: header, tempo, markers and CC lanes (ticks = round(t * 960)).
    let bytes = std::fs::read(out.join("speech.emoscope.mid")).unwrap();
    let smf = midly::Smf::parse(&bytes).unwrap();
    assert_eq!(smf.header.timing, midly::Timing::Metrical(480.into()));
    assert_eq!(smf.tracks.len(), 2);
    fn abs<'a>(track: &[midly::TrackEvent<'a>]) -> Vec<(u32, midly::TrackEventKind<'a>)> {
        let mut t = 0u32;
        track
            .iter()
            .map(|e| {
                t += e.delta.as_int();
                (t, e.kind)
            })
            .collect()
    }
    let conductor = abs(&smf.tracks[0]);
    assert!(
        conductor
            .iter()
            .any(|(_, k)| *k
                == midly::TrackEventKind::Meta(midly::MetaMessage::Tempo(500_000.into())))
    );
    let markers: Vec<(u32, String)> = conductor
        .iter()
        .filter_map(|(t, k)| match k {
            midly::TrackEventKind::Meta(midly::MetaMessage::Marker(m)) => {
                Some((*t, String::from_utf8_lossy(m).into_owned()))
            }
            _ => None,
        })
        .collect();
    let mut want: Vec<(u32, String)> = Vec::new();
    for s in &doc.segments {
        want.push(((s.span.start * 960.0).round() as u32, s.label.clone()));
        want.push(((s.span.end * 960.0).round() as u32, "end".into()));
    }
    assert_eq!(markers, want);
    let ccs: Vec<(u32, u8, u8)> = abs(&smf.tracks[1])
        .iter()
        .filter_map(|(t, k)| match k {
            midly::TrackEventKind::Midi {
                channel,
                message: midly::MidiMessage::Controller { controller, value },
            } => {
                assert_eq!(channel.as_int(), emoscope::cc::DEFAULT_CHANNEL);
                Some((*t, controller.as_int(), value.as_int()))
            }
            _ => None,
        })
        .collect();
    let range = doc.output_range;
    let want: Vec<(u32, u8, u8)> = doc
        .timeline
        .iter()
        .flat_map(|r| {
            let tick = (r.span.centre() * 960.0).round() as u32;
            emoscope::cc::DEFAULT_CC
                .into_iter()
                .zip(r.emotion.dimensions())
                .map(move |(cc, v)| (tick, cc, emoscope::cc::to_cc7(range.normalise(v))))
        })
        .collect();
    assert_eq!(ccs, want);

    // REAPER and the timeline CSV, with the csv crate.
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_path(out.join("speech.emoscope.reaper.csv"))
        .unwrap();
    let rows: Vec<Vec<String>> = rdr
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect();
    assert_eq!(rows[0], ["#", "Name", "Start", "End", "Length"]);
    assert_eq!(rows.len(), 1 + doc.segments.len() + doc.markers.len());
    let r1 = &rows[1];
    let s0 = &doc.segments[0];
    assert_eq!(
        r1,
        &[
            "R1".to_string(),
            s0.label.clone(),
            format!("{:.6}", s0.span.start),
            format!("{:.6}", s0.span.end),
            format!("{:.6}", s0.span.end - s0.span.start)
        ]
    );
    let m1 = &rows[1 + doc.segments.len()];
    assert_eq!(
        m1,
        &[
            "M1".to_string(),
            doc.markers[0].label.clone(),
            format!("{:.6}", doc.markers[0].time),
            String::new(),
            String::new()
        ]
    );
    let mut rdr = csv::Reader::from_path(out.join("speech.emoscope.csv")).unwrap();
    let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), doc.timeline.len());
    assert_eq!(
        rows[0][2].parse::<f32>().unwrap(),
        doc.timeline[0].emotion.arousal
    );
    // Sonic Visualiser: four layers.
    for name in ["sv-arousal", "sv-valence", "sv-dominance", "sv-segments"] {
        assert!(
            out.join(format!("speech.emoscope.{name}.csv")).is_file(),
            "{name}"
        );
    }
    let first = std::fs::read_to_string(out.join("speech.emoscope.sv-segments.csv")).unwrap();
    assert!(first.starts_with("TIME,VALUE,DURATION,LABEL\n"), "{first}");
    let first = std::fs::read_to_string(out.join("speech.emoscope.sv-valence.csv")).unwrap();
    assert!(first.starts_with("TIME,VALUE,LABEL\n"), "{first}");
}

#[test]
fn exports_open_in_independent_readers() {
    // textgrid, pympi-ling, mido and webvtt-py from PyPI (`.ci/run` installs
    // tests/python/requirements.txt); CI runs this test like every other.
    let (_m, _t, out) = annotate_all(&[]);
    let script = common::repo().join("tests/python/check_exports.py");
    let py = Command::new("python3")
        .arg(&script)
        .arg(&out)
        .arg("speech.emoscope")
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&py.stdout);
    assert!(
        py.status.success(),
        "{stdout}\n{}\n(install the readers with `pip install -r tests/python/requirements.txt`)",
        String::from_utf8_lossy(&py.stderr)
    );
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
}

#[test]
fn a_second_run_skips_finished_files_and_force_recomputes() {
    let model = model_dir("resume", 1.0);
    let tmp = tempfile::tempdir().unwrap();
    let c = corpus(tmp.path());
    let out = tmp.path().join("out");
    let args = [
        "annotate",
        s(&c),
        "--out",
        s(&out),
        "--model",
        s(model.path()),
        "--format",
        "json,textgrid",
    ];
    ok(&emoscope(&args, &[]));
    let tg = out.join("speech.emoscope.TextGrid");
    let before = std::fs::metadata(&tg).unwrap().modified().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let again = emoscope(&args, &[]);
    ok(&again);
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("skipped  "),
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );
    assert_eq!(std::fs::metadata(&tg).unwrap().modified().unwrap(), before);
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("index.json")).unwrap()).unwrap();
    assert_eq!(index["entries"][0]["status"], "skipped");
    // The first run's readings stay in the index.
    assert!(index["entries"][0]["audio_seconds"].as_f64().unwrap() > 3.0);
    assert!(index["entries"][0]["mean"][0].is_number(), "{index}");
    let summary = String::from_utf8_lossy(&again.stderr);
    assert!(
        summary.contains("no audio analysed") && !summary.contains("real-time factor"),
        "{summary}"
    );
    // What shaped the outputs changed: the window, the transcript, the model.
    let mut window = args.to_vec();
    window.extend(["--window", "2", "--hop", "0.5"]);
    let changed = emoscope(&window, &[]);
    ok(&changed);
    assert!(
        String::from_utf8_lossy(&changed.stdout).contains("ok  "),
        "a new window recomputes"
    );
    let after_window = std::fs::metadata(&tg).unwrap().modified().unwrap();
    assert!(after_window > before);
    ok(&emoscope(&window, &[]));
    assert_eq!(
        std::fs::metadata(&tg).unwrap().modified().unwrap(),
        after_window
    );
    let sidecar = c.join("speech.json");
    let text = std::fs::read_to_string(&sidecar).unwrap();
    std::fs::write(&sidecar, text.replace("wonderful", "dreadful")).unwrap();
    let retext = emoscope(&window, &[]);
    assert!(
        String::from_utf8_lossy(&retext.stdout).contains("ok  "),
        "a new transcript recomputes"
    );
    let other_model = model_dir("resume2", 0.5);
    let mut remodel = window.clone();
    remodel[5] = s(other_model.path());
    let remodelled = emoscope(&remodel, &[]);
    assert!(
        String::from_utf8_lossy(&remodelled.stdout).contains("ok  "),
        "a new model recomputes"
    );
    let before = std::fs::metadata(&tg).unwrap().modified().unwrap();
    // A missing output makes it run again; --force recomputes everything.
    std::fs::remove_file(&tg).unwrap();
    let third = emoscope(&args, &[]);
    ok(&third);
    assert!(tg.is_file() && String::from_utf8_lossy(&third.stdout).contains("ok  "));
    let mut forced = args.to_vec();
    forced.push("--force");
    let fourth = emoscope(&forced, &[]);
    ok(&fourth);
    assert!(std::fs::metadata(&tg).unwrap().modified().unwrap() > before);
}

#[test]
fn a_failed_file_is_reported_the_rest_continue_and_the_exit_code_says_so() {
    let model = model_dir("fail", 1.0);
    let tmp = tempfile::tempdir().unwrap();
    let c = corpus(tmp.path());
    std::fs::write(c.join("broken.wav"), b"RIFF\x10\x00\x00\x00WAVEjunk").unwrap();
    // A malformed sidecar fails its file with the sidecar's line.
    std::fs::copy(example(), c.join("subtitled.wav")).unwrap();
    std::fs::write(
        c.join("subtitled.json"),
        r#"{"segments": [{"start": 1.0, "end": "two", "text": "bad"}]}"#,
    )
    .unwrap();
    let out = tmp.path().join("out");
    let run = annotate(&c, &out, model.path(), "vtt", &[]);
    assert_eq!(run.status.code(), Some(1));
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(
        err.contains("FAILED") && err.contains("broken.wav"),
        "{err}"
    );
    assert!(
        err.contains("subtitled.json") && err.contains("end"),
        "{err}"
    );
    assert!(err.contains("2 of 3 files failed"), "{err}");
    assert!(out.join("speech.emoscope.vtt").is_file());
    assert!(
        !out.join("broken.emoscope.vtt").exists() && !out.join("subtitled.emoscope.vtt").exists()
    );
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("index.json")).unwrap()).unwrap();
    let statuses: Vec<&str> = index["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["failed", "ok", "failed"]);
}

#[test]
fn shards_split_the_corpus_and_merge_joins_their_indexes() {
    let model = model_dir("shard", 1.0);
    let tmp = tempfile::tempdir().unwrap();
    let c = tmp.path().join("c");
    for sub in ["a", "b"] {
        std::fs::create_dir_all(c.join(sub)).unwrap();
    }
    for f in ["a/1.wav", "a/2.wav", "b/1.wav"] {
        std::fs::copy(example(), c.join(f)).unwrap();
    }
    let out = tmp.path().join("out");
    let run = |shard: &str| {
        emoscope(
            &[
                "annotate",
                s(&c),
                "--out",
                s(&out),
                "--model",
                s(model.path()),
                "--format",
                "json",
                "--shard",
                shard,
            ],
            &[],
        )
    };
    ok(&run("1/2"));
    // Sorted inputs a/1, a/2, b/1: shard 1 of 2 has a/2 only.
    assert!(
        out.join("a/2.emoscope.json").is_file()
            && !out.join("a/1.emoscope.json").exists()
            && !out.join("b/1.emoscope.json").exists()
    );
    let early = emoscope(&["merge", s(&out)], &[]);
    assert!(!early.status.success());
    assert!(
        String::from_utf8_lossy(&early.stderr).contains("shards 0 of 2 have not written"),
        "{}",
        String::from_utf8_lossy(&early.stderr)
    );
    ok(&run("0/2"));
    ok(&emoscope(&["merge", s(&out)], &[]));
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("index.json")).unwrap()).unwrap();
    let inputs: Vec<String> = index["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["outputs"][0].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        inputs,
        [
            "a/1.emoscope.json",
            "a/2.emoscope.json",
            "b/1.emoscope.json"
        ]
    );
    assert!(index["shard"].is_null());
}

#[test]
fn parallel_jobs_give_the_same_results() {
    let model = model_dir("jobs", 1.0);
    let tmp = tempfile::tempdir().unwrap();
    let c = tmp.path().join("c");
    std::fs::create_dir_all(&c).unwrap();
    for f in ["1.wav", "2.wav", "3.wav"] {
        std::fs::copy(example(), c.join(f)).unwrap();
    }
    for (jobs, out) in [("1", "o1"), ("3", "o3")] {
        ok(&emoscope(
            &[
                "annotate",
                s(&c),
                "--out",
                s(&tmp.path().join(out)),
                "--model",
                s(model.path()),
                "--format",
                "json,midi",
                "--jobs",
                jobs,
            ],
            &[],
        ));
    }
    for f in [
        "1.emoscope.json",
        "2.emoscope.json",
        "3.emoscope.json",
        "1.emoscope.mid",
        "3.emoscope.mid",
    ] {
        assert_eq!(
            std::fs::read(tmp.path().join("o1").join(f)).unwrap(),
            std::fs::read(tmp.path().join("o3").join(f)).unwrap(),
            "{f}"
        );
    }
}

#[test]
fn the_default_model_comes_from_the_environment_or_the_data_dir() {
    let model = model_dir("default", 1.0);
    let tmp = tempfile::tempdir().unwrap();
    let wav = tmp.path().join("x.wav");
    std::fs::copy(example(), &wav).unwrap();
    let out = tmp.path().join("out");
    ok(&emoscope(
        &["annotate", s(&wav), "--out", s(&out), "--format", "csv"],
        &[("EMOSCOPE_MODEL", s(model.path()))],
    ));
    assert!(out.join("x.emoscope.csv").is_file());
    let data = tmp.path().join("data");
    let missing = emoscope(
        &["annotate", s(&wav), "--out", s(&out), "--format", "csv"],
        &[("XDG_DATA_HOME", s(&data))],
    );
    assert!(!missing.status.success());
    let err = String::from_utf8_lossy(&missing.stderr);
    let expected = data.join("emoscope/default-model");
    assert!(
        err.contains(&format!("{} does not exist", expected.display())) && err.contains("--model"),
        "{err}"
    );
    // The data-dir model is used once it is there.
    std::fs::create_dir_all(data.join("emoscope")).unwrap();
    std::os::unix::fs::symlink(model.path(), &expected).unwrap();
    ok(&emoscope(
        &["annotate", s(&wav), "--out", s(&out), "--format", "json"],
        &[("XDG_DATA_HOME", s(&data))],
    ));
    assert!(out.join("x.emoscope.json").is_file());
}

#[test]
fn every_audio_format_decodes_and_annotates() {
    let model = model_dir("formats", 1.0);
    let fixtures = common::repo().join("tests/fixtures/audio");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    ok(&annotate(&fixtures, &out, model.path(), "json", &[]));
    let wav = read_doc(&out.join("speech.wav.emoscope.json"));
    // 1.5 s at 16 kHz: shorter than a window, one reading over the file.
    assert_eq!(wav.timeline.len(), 1);
    assert!((wav.duration - 1.5).abs() < 1e-9, "{}", wav.duration);
    for (ext, same_samples) in [
        ("flac", true),
        ("aiff", true),
        ("mp3", false),
        ("ogg", false),
    ] {
        let doc = read_doc(&out.join(format!("speech.{ext}.emoscope.json")));
        if same_samples {
            // Lossless: the same samples, so the same reading.
            assert_eq!(doc.timeline, wav.timeline, "{ext}");
        } else {
            // Lossy codecs add encoder delay/padding (MP3 frames are 1152 samples).
            assert!((doc.duration - 1.5).abs() < 0.1, "{ext}: {}", doc.duration);
            let d = (doc.timeline[0].emotion.arousal - wav.timeline[0].emotion.arousal).abs();
            assert!(d < 0.05, "{ext}: arousal differs by {d}");
        }
    }
}

#[test]
fn the_example_picks_up_its_subtitles() {
    // examples/speech.wav with its sidecar examples/speech.srt (two cues).
    let model = model_dir("example", 1.0);
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    ok(&annotate(&example(), &out, model.path(), "json,vtt", &[]));
    let doc = read_doc(&out.join("speech.emoscope.json"));
    let cues: Vec<(f64, f64, &str)> = doc
        .transcript
        .iter()
        .map(|t| (t.start, t.end, t.text.as_str()))
        .collect();
    assert_eq!(
        cues,
        vec![
            (0.05, 1.45, "The results were wonderful,"),
            (1.6, 3.1, "and everyone was delighted.")
        ]
    );
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("index.json")).unwrap()).unwrap();
    assert!(index["entries"][0]["transcript"]
        .as_str()
        .unwrap()
        .ends_with("examples/speech.srt"));
}

#[test]
fn outputs_beside_the_audio_are_never_read_as_transcripts() {
    // --out equal to the audio folder: the outputs (speech.emoscope.json,
    // .vtt, .txt, ...) sit beside the sidecar. The sidecar is untouched, and
    // a second run, or a run without the sidecar, never reads an output as a
    // transcript.
    let model = model_dir("clobber", 1.0);
    let tmp = tempfile::tempdir().unwrap();
    let c = corpus(tmp.path());
    let sidecar = std::fs::read(c.join("speech.json")).unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec![
            "annotate",
            s(&c),
            "--out",
            s(&c),
            "--model",
            s(model.path()),
            "--format",
            "all",
            "--force",
        ];
        args.extend_from_slice(extra);
        let out = emoscope(&args, &[]);
        ok(&out);
        read_doc(&c.join("speech.emoscope.json"))
    };
    let first = run(&[]);
    assert_eq!(std::fs::read(c.join("speech.json")).unwrap(), sidecar);
    assert_eq!(first.transcript.len(), 2);
    let second = run(&[]);
    assert_eq!(second.transcript, first.transcript);
    // Without the sidecar: no transcript at all, not an output's labels.
    std::fs::remove_file(c.join("speech.json")).unwrap();
    let third = run(&[]);
    assert!(third.transcript.is_empty(), "{:?}", third.transcript);
    assert!(third.timeline.iter().all(|r| r.text.is_empty()));
    // An output of an older version, untagged, is recognised by its contents.
    std::fs::copy(c.join("speech.emoscope.vtt"), c.join("speech.vtt")).unwrap();
    let fourth = run(&[]);
    assert!(fourth.transcript.is_empty(), "{:?}", fourth.transcript);
    // --no-transcript ignores a real sidecar too.
    std::fs::remove_file(c.join("speech.vtt")).unwrap();
    std::fs::write(c.join("speech.json"), &sidecar).unwrap();
    let fifth = run(&["--no-transcript"]);
    assert!(fifth.transcript.is_empty());
}

#[test]
fn same_names_in_two_folders_are_both_analysed() {
    // dup/a/x.wav and dup/b/x.wav hold different audio; each must get its
    // own outputs and its own readings (the second was skipped and given the
    // first one's readings).
    let model = model_dir("dup", 1.0);
    let tmp = tempfile::tempdir().unwrap();
    let dup = tmp.path().join("dup");
    std::fs::create_dir_all(dup.join("a")).unwrap();
    std::fs::create_dir_all(dup.join("b")).unwrap();
    std::fs::copy(example(), dup.join("a/x.wav")).unwrap();
    common::write_wav(&dup.join("b/x.wav"), &common::signal(3.0, 16_000.0), 16_000);
    for (inputs, out) in [
        (vec![dup.join("a/x.wav"), dup.join("b/x.wav")], "files"),
        (vec![dup.join("a"), dup.join("b")], "folders"),
    ] {
        let out = tmp.path().join(out);
        let mut args = vec!["annotate".to_owned()];
        args.extend(inputs.iter().map(|p| s(p).to_owned()));
        args.extend(
            [
                "--out",
                s(&out),
                "--model",
                s(model.path()),
                "--format",
                "json",
            ]
            .map(String::from),
        );
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = emoscope(&args, &[]);
        ok(&run);
        assert!(
            !String::from_utf8_lossy(&run.stdout).contains("skipped"),
            "{}",
            String::from_utf8_lossy(&run.stdout)
        );
        let a = read_doc(&out.join("a/x.emoscope.json"));
        let b = read_doc(&out.join("b/x.emoscope.json"));
        assert!(a.audio.ends_with("a/x.wav") && b.audio.ends_with("b/x.wav"));
        assert_ne!(a.timeline, b.timeline, "each file's own readings");
        let index: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("index.json")).unwrap())
                .unwrap();
        let means: Vec<&serde_json::Value> = index["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| &e["mean"])
            .collect();
        assert_eq!(means.len(), 2);
        assert_ne!(means[0], means[1], "{index}");
    }
}

#[test]
fn one_bad_input_or_manifest_line_fails_alone() {
    let model = model_dir("batch", 1.0);
    let tmp = tempfile::tempdir().unwrap();
    let wav = tmp.path().join("good.wav");
    std::fs::copy(example(), &wav).unwrap();
    std::fs::write(
        tmp.path().join("list.tsv"),
        "good.wav\nmissing.wav\ngood.wav\tgood.srt\textra\n",
    )
    .unwrap();
    let out = tmp.path().join("out");
    let run = emoscope(
        &[
            "annotate",
            s(&tmp.path().join("nowhere.wav")),
            "--manifest",
            s(&tmp.path().join("list.tsv")),
            "--out",
            s(&out),
            "--model",
            s(model.path()),
            "--format",
            "json",
        ],
        &[],
    );
    assert_eq!(run.status.code(), Some(1));
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(
        err.contains("nowhere.wav") && err.contains("does not exist"),
        "{err}"
    );
    assert!(err.contains("line 2: no audio file"), "{err}");
    assert!(err.contains("line 3: expected"), "{err}");
    assert!(err.contains("3 of 4 files failed"), "{err}");
    assert!(out.join("good.emoscope.json").is_file());
}

#[test]
fn a_model_that_outputs_nan_fails_the_file_and_writes_no_label() {
    // A checkpoint whose head weights are NaN: every output is NaN.
    let model = model_dir("nan", f32::NAN);
    let tmp = tempfile::tempdir().unwrap();
    let c = corpus(tmp.path());
    let out = tmp.path().join("out");
    let run = annotate(&c, &out, model.path(), "all", &[]);
    assert_eq!(run.status.code(), Some(1));
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(
        err.contains("non-finite output") && err.contains("speech.wav"),
        "{err}"
    );
    let written: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(written, ["index.json"], "no output for a failed file");
    let predict = emoscope(
        &[
            "predict",
            s(&c.join("speech.wav")),
            "--model",
            s(model.path()),
        ],
        &[],
    );
    assert_eq!(predict.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&predict.stderr).contains("non-finite output"),
        "{}",
        String::from_utf8_lossy(&predict.stderr)
    );
}

#[test]
fn each_segment_is_read_from_its_own_audio_and_text() {
    // Two sentences of opposite valence in one window: each segment's value
    // must equal the model's reading of that sentence alone, not a blend.
    let model = model_dir("own", 1.0);
    let tmp = tempfile::tempdir().unwrap();
    let c = corpus(tmp.path());
    let out = tmp.path().join("out");
    ok(&annotate(&c, &out, model.path(), "json", &[]));
    let doc = read_doc(&out.join("speech.emoscope.json"));
    let samples = load_mono(&c.join("speech.wav"), 16_000).unwrap();
    let mut m = load_predictor(model.path(), &Device::Cpu).unwrap();
    let transcript_segments: Vec<_> = doc
        .segments
        .iter()
        .filter(|s| s.source == SegmentSource::Transcript)
        .collect();
    assert_eq!(transcript_segments.len(), 2);
    for seg in transcript_segments {
        // The segment's own samples (at least 0.5 s, which both are).
        assert!(seg.span.end - seg.span.start >= 0.5);
        let from = (seg.span.start * 16_000.0).round() as usize;
        let to = (seg.span.end * 16_000.0).round() as usize;
        let alone = m.predict(&samples[from..to], &seg.text).unwrap();
        let e = seg.emotion;
        assert!(
            (e.arousal - alone.arousal).abs() < 1e-5
                && (e.valence - alone.valence).abs() < 1e-5
                && (e.dominance - alone.dominance).abs() < 1e-5,
            "{seg:?} vs {alone:?}"
        );
    }
}

#[test]
fn tier_picks_the_segments_of_a_textgrid_sidecar() {
    let model = model_dir("tier", 1.0);
    let tmp = tempfile::tempdir().unwrap();
    let wav = tmp.path().join("talk.wav");
    std::fs::copy(example(), &wav).unwrap();
    // Short text form: tier "topic" (one interval) first, then "utterances" (two).
    std::fs::write(
        tmp.path().join("talk.TextGrid"),
        "File type = \"ooTextFile\"\nObject class = \"TextGrid\"\n0\n3.46\n<exists>\n2\n\
         \"IntervalTier\"\n\"topic\"\n0\n3.46\n1\n0\n3.46\n\"praise\"\n\
         \"IntervalTier\"\n\"utterances\"\n0\n3.46\n3\n0\n1.5\n\"The results were wonderful,\"\n1.5\n1.6\n\"\"\n1.6\n3.46\n\"and everyone was delighted.\"\n",
    )
    .unwrap();
    let out = tmp.path().join("out");
    let base = [
        "annotate",
        s(&wav),
        "--out",
        s(&out),
        "--model",
        s(model.path()),
        "--format",
        "json",
        "--force",
    ];
    ok(&emoscope(&base, &[]));
    assert_eq!(
        read_doc(&out.join("talk.emoscope.json")).transcript.len(),
        1
    );
    let mut with_tier = base.to_vec();
    with_tier.extend(["--tier", "utterances"]);
    ok(&emoscope(&with_tier, &[]));
    let texts: Vec<String> = read_doc(&out.join("talk.emoscope.json"))
        .transcript
        .into_iter()
        .map(|t| t.text)
        .collect();
    assert_eq!(
        texts,
        ["The results were wonderful,", "and everyone was delighted."]
    );
}

#[test]
fn values_outside_the_declared_range_are_flagged_and_bounded_heads_stay_inside() {
    // A head with large weights: raw outputs far outside the declared -1..1.
    // Unbounded (a checkpoint from elsewhere): values kept, flagged in the
    // JSON, the CSV and the index. Bounded (every head Emoscope trains):
    // inside the range by construction.
    let tmp = tempfile::tempdir().unwrap();
    let c = corpus(tmp.path());
    for bounded in [false, true] {
        let model = model_dir("range", 400.0);
        let manifest = model.path().join("emoscope.json");
        let mut m: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&manifest).unwrap()).unwrap();
        m["head"]["bounded"] = bounded.into();
        std::fs::write(&manifest, m.to_string()).unwrap();
        let out = tmp.path().join(format!("out-{bounded}"));
        let run = annotate(
            &c,
            &out,
            model.path(),
            "json,csv",
            &["--window", "1", "--hop", "0.5"],
        );
        ok(&run);
        let doc = read_doc(&out.join("speech.emoscope.json"));
        let outside = |r: &emoscope::Reading| {
            r.emotion
                .dimensions()
                .iter()
                .any(|v| !(-1.0..=1.0).contains(v))
        };
        let flagged = doc.timeline.iter().filter(|r| r.out_of_range).count();
        assert_eq!(flagged, doc.timeline.iter().filter(|r| outside(r)).count());
        let index: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("index.json")).unwrap())
                .unwrap();
        if bounded {
            assert_eq!(flagged, 0);
            assert!(index["entries"][0]["out_of_range"].is_null());
        } else {
            assert!(flagged > 0, "the fixture head must leave the range");
            assert_eq!(index["entries"][0]["out_of_range"], flagged);
            let csv = std::fs::read_to_string(out.join("speech.emoscope.csv")).unwrap();
            assert_eq!(
                csv.lines().filter(|l| l.ends_with(",true")).count(),
                flagged
            );
            assert!(
                String::from_utf8_lossy(&run.stdout).contains("outside the model's declared range")
            );
        }
    }
}

#[test]
fn three_shards_in_separate_processes_and_merge_equal_a_single_run() {
    // A job array's outcome must not depend on how it was split: three
    // `--shard I/3` processes (run at the same time) plus `merge` give the
    // same files and index as one run, apart from the EAF's creation date
    // and the wall-clock seconds in the index.
    let model = model_dir("shards3", 1.0);
    let tmp = tempfile::tempdir().unwrap();
    let c = tmp.path().join("c");
    for f in ["a/1.wav", "a/2.wav", "b/1.wav", "b/c/3.wav", "4.wav"] {
        std::fs::create_dir_all(c.join(f).parent().unwrap()).unwrap();
    }
    std::fs::copy(example(), c.join("a/1.wav")).unwrap();
    std::fs::copy(example(), c.join("4.wav")).unwrap();
    common::write_wav(&c.join("a/2.wav"), &common::signal(5.0, 16_000.0), 16_000);
    common::write_wav(&c.join("b/1.wav"), &common::signal(6.5, 22_050.0), 22_050);
    common::write_wav(&c.join("b/c/3.wav"), &common::signal(2.0, 8_000.0), 8_000);
    let args = |out: &Path| -> Vec<String> {
        [
            "annotate",
            s(&c),
            "--out",
            s(out),
            "--model",
            s(model.path()),
            "--format",
            "all",
        ]
        .map(String::from)
        .to_vec()
    };
    let single = tmp.path().join("single");
    ok(&emoscope(
        &args(&single).iter().map(String::as_str).collect::<Vec<_>>(),
        &[],
    ));
    let sharded = tmp.path().join("sharded");
    let children: Vec<std::process::Child> = (0..3)
        .map(|i| {
            Command::new(env!("CARGO_BIN_EXE_emoscope"))
                .args(args(&sharded))
                .args(["--shard", &format!("{i}/3")])
                .env_remove("EMOSCOPE_MODEL")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        ok(&child.wait_with_output().unwrap());
    }
    ok(&emoscope(&["merge", s(&sharded)], &[]));

    fn files(dir: &Path, under: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                files(&p, under, out);
            } else {
                out.push(p.strip_prefix(under).unwrap().to_owned());
            }
        }
    }
    let list = |dir: &Path| {
        let mut v = Vec::new();
        files(dir, dir, &mut v);
        v.retain(|p| !p.to_string_lossy().starts_with("index"));
        v.sort();
        v
    };
    let names = list(&single);
    assert_eq!(names.len(), 5 * 12, "{names:?}");
    assert_eq!(names, list(&sharded));
    let without_date = |text: String| -> String {
        let start = text.find("DATE=\"").expect("an EAF has a DATE") + 6;
        let end = start + text[start..].find('"').unwrap();
        format!("{}{}", &text[..start], &text[end..])
    };
    for name in &names {
        let (a, b) = (
            std::fs::read(single.join(name)).unwrap(),
            std::fs::read(sharded.join(name)).unwrap(),
        );
        if name.extension().is_some_and(|e| e == "eaf") {
            assert_eq!(
                without_date(String::from_utf8(a).unwrap()),
                without_date(String::from_utf8(b).unwrap()),
                "{name:?}"
            );
        } else {
            assert_eq!(a, b, "{name:?}");
        }
    }
    let index = |dir: &Path| {
        let mut v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("index.json")).unwrap())
                .unwrap();
        for e in v["entries"].as_array_mut().unwrap() {
            e.as_object_mut().unwrap().remove("seconds");
        }
        v
    };
    assert_eq!(index(&single), index(&sharded));
}

#[test]
fn transcript_repairs_are_warnings_in_the_index_and_errors_with_strict() {
    // A SubRip sidecar whose second cue has no number: read, with a warning
    // naming the file and line; --strict fails the file instead.
    let model = model_dir("strict", 1.0);
    let tmp = tempfile::tempdir().unwrap();
    let wav = tmp.path().join("talk.wav");
    std::fs::copy(example(), &wav).unwrap();
    std::fs::write(
        tmp.path().join("talk.srt"),
        "1\n00:00:00,050 --> 00:00:01,450\nThe results were wonderful,\n\n\
         00:00:01,600 --> 00:00:03,100\nand everyone was delighted.\n",
    )
    .unwrap();
    let out = tmp.path().join("out");
    let args = |strict: bool| {
        let mut a = vec![
            "annotate",
            s(&wav),
            "--out",
            s(&out),
            "--model",
            s(model.path()),
            "--format",
            "json",
        ];
        if strict {
            a.push("--strict");
        }
        emoscope(&a, &[])
    };
    let run = args(false);
    ok(&run);
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(
        err.contains("warning")
            && err.contains("talk.srt: line 5")
            && err.contains("without a number"),
        "{err}"
    );
    assert_eq!(
        read_doc(&out.join("talk.emoscope.json")).transcript.len(),
        2
    );
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("index.json")).unwrap()).unwrap();
    assert!(
        index["entries"][0]["warnings"][0]
            .as_str()
            .unwrap()
            .contains("talk.srt: line 5"),
        "{index}"
    );
    let strict = args(true);
    assert_eq!(strict.status.code(), Some(1));
    let err = String::from_utf8_lossy(&strict.stderr);
    assert!(err.contains("FAILED") && err.contains("talk.srt"), "{err}");
}

#[test]
fn windows_without_speech_get_no_reading_unless_asked() {
    // Speech (the example, 3.46 s), 12 s of digital silence, the example
    // again. By default the silent windows are not sent to the model: they
    // are listed as no speech (JSON, Audacity labels) and the means are over
    // speech; --analyse-silence reads every window as before. The windows
    // with speech read the same either way.
    let model = model_dir("silence", 1.0);
    let tmp = tempfile::tempdir().unwrap();
    let speech = load_mono(&example(), 16_000).unwrap();
    let mut audio = speech.clone();
    audio.extend(std::iter::repeat_n(0.0f32, 12 * 16_000));
    audio.extend(&speech);
    let wav = tmp.path().join("gap.wav");
    common::write_wav(&wav, &audio, 16_000);
    let run = |out: &str, extra: &[&str]| {
        let out = tmp.path().join(out);
        let mut args = vec![
            "annotate",
            s(&wav),
            "--out",
            s(&out),
            "--model",
            s(model.path()),
            "--format",
            "json,audacity",
            "--no-transcript",
        ];
        args.extend_from_slice(extra);
        ok(&emoscope(&args, &[]));
        out
    };
    let gated_out = run("gated", &[]);
    let all_out = run("all", &["--analyse-silence"]);
    let gated = read_doc(&gated_out.join("gap.emoscope.json"));
    let all = read_doc(&all_out.join("gap.emoscope.json"));
    // 18.92 s in 4 s windows every 1 s: 15 windows.
    assert_eq!(all.timeline.len(), 15);
    assert!(all.no_speech.is_empty());
    assert!(
        gated.timeline.len() < all.timeline.len() && !gated.timeline.is_empty(),
        "{} of {}",
        gated.timeline.len(),
        all.timeline.len()
    );
    for r in &gated.timeline {
        assert!(all.timeline.contains(r), "{r:?}");
    }
    // Windows lying wholly in the silence (3.46..15.46 s, with the VAD's
    // 0.3 s hangover at its edges) are left out; so are those with less than
    // a quarter of their 4 s of speech, and no other.
    let speech_in = |r: &emoscope::Reading| {
        let overlap = |a: f64, b: f64| (r.span.end.min(b) - r.span.start.max(a)).max(0.0);
        overlap(0.0, 3.46) + overlap(15.46, 18.92)
    };
    for r in &all.timeline {
        let left_out = !gated.timeline.contains(r);
        if r.span.start >= 3.8 && r.span.end <= 15.1 {
            assert!(left_out, "{r:?}");
        }
        if left_out {
            assert!(speech_in(r) < 1.0 + 0.3, "{r:?}");
        } else {
            assert!(speech_in(r) >= 1.0 - 0.3, "{r:?}");
        }
    }
    assert!(!gated.no_speech.is_empty());
    for s in &gated.no_speech {
        let (a, b) = (s.start, s.end);
        assert!(a >= 3.46 && b <= 15.46, "{a}..{b}");
    }
    let labels = std::fs::read_to_string(gated_out.join("gap.emoscope.txt")).unwrap();
    assert_eq!(
        labels
            .lines()
            .filter(|l| l.ends_with("\tno speech"))
            .count(),
        gated.no_speech.len()
    );
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(gated_out.join("index.json")).unwrap())
            .unwrap();
    assert_eq!(
        index["entries"][0]["no_speech_windows"],
        all.timeline.len() - gated.timeline.len()
    );
    // The plot draws the gap.
    let png = tmp.path().join("gap.png");
    ok(&emoscope(
        &[
            "plot",
            s(&gated_out.join("gap.emoscope.json")),
            "--out",
            s(&png),
        ],
        &[],
    ));
    assert!(png.is_file());
}

/// The LibriVox clips of Debian's pocketsphinx-testdata (16 kHz mono speech).
const LIBRIVOX: &str = "/usr/share/pocketsphinx/test/data/librivox";

/// Every output file under `dir`, relative, sorted.
fn tree(dir: &Path) -> Vec<PathBuf> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.push(p.strip_prefix(root).unwrap().to_owned());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

#[test]
fn streamed_and_whole_file_annotations_are_identical() {
    // Real speech (the five LibriVox clips, one with an SRT sidecar whose
    // cue is longer than a window, so it is read in pieces) and a long
    // synthetic file at 44.1 kHz stereo (so every pass resamples): the
    // clips upsampled and spread over 100 s of silence, with cues on some
    // of them. Annotated streamed (the default) and whole-file
    // (`--whole-file`, the reference), every output is the same, byte for
    // byte; the indexes and the ELAN files differ only in timing.
    let clips: Vec<PathBuf> = {
        let dir = Path::new(LIBRIVOX);
        assert!(
            dir.is_dir(),
            "{LIBRIVOX} is missing: install Debian's pocketsphinx-testdata"
        );
        let mut c: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "wav"))
            .collect();
        c.sort();
        c
    };
    assert_eq!(clips.len(), 5);
    let model = model_dir("stream", 1.0);
    let tmp = tempfile::tempdir().unwrap();
    let corpus = tmp.path().join("corpus");
    std::fs::create_dir_all(&corpus).unwrap();
    for c in &clips {
        std::fs::copy(c, corpus.join(c.file_name().unwrap())).unwrap();
    }
    std::fs::write(
        corpus.join("sense_and_sensibility_01_austen_64kb-0870.srt"),
        "1\n00:00:00,300 --> 00:00:06,800\nbut mr john guess would have been at leisure \
         to consider how much there might be prickly in his power to do for\n",
    )
    .unwrap();
    // The long file: 5 s of silence, then each clip followed by 15 s of silence.
    let rate = 44_100u32;
    let mut long: Vec<f32> = vec![0.0; 5 * rate as usize];
    let mut cues = String::new();
    for (i, c) in clips.iter().enumerate() {
        let start = long.len() as f64 / f64::from(rate);
        let speech = emoscope::audio::load_mono(c, rate).unwrap();
        long.extend_from_slice(&speech);
        let end = long.len() as f64 / f64::from(rate);
        if i % 2 == 0 {
            let t = |s: f64| {
                let ms = (s * 1000.0).round() as u64;
                format!(
                    "{:02}:{:02}:{:02},{:03}",
                    ms / 3_600_000,
                    ms / 60_000 % 60,
                    ms / 1000 % 60,
                    ms % 1000
                )
            };
            cues.push_str(&format!(
                "{}\n{} --> {}\nclip number {i}\n\n",
                i + 1,
                t(start),
                t(end)
            ));
        }
        long.extend(std::iter::repeat_n(0.0, 15 * rate as usize));
    }
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(corpus.join("long.wav"), spec).unwrap();
    for (n, &x) in long.iter().enumerate() {
        // The channels differ (a little hiss on the right), so the down-mix matters.
        let hiss = if n % 7 == 0 { 3 } else { -2 };
        let v = (x * 30_000.0) as i16;
        w.write_sample(v).unwrap();
        w.write_sample(v.saturating_add(hiss)).unwrap();
    }
    w.finalize().unwrap();
    std::fs::write(corpus.join("long.srt"), cues).unwrap();

    let streamed = tmp.path().join("streamed");
    let whole = tmp.path().join("whole");
    ok(&annotate(&corpus, &streamed, model.path(), "all", &[]));
    ok(&annotate(
        &corpus,
        &whole,
        model.path(),
        "all",
        &["--whole-file"],
    ));
    let mut files = tree(&streamed);
    assert_eq!(files, tree(&whole));
    // The JSON documents first: they show a difference most plainly.
    files.sort_by_key(|f| !f.to_string_lossy().ends_with(".emoscope.json"));
    // 6 inputs, each with a JSON document at least.
    assert!(
        files
            .iter()
            .filter(|f| f.to_string_lossy().ends_with(".json") && !f.ends_with("index.json"))
            .count()
            >= 6,
        "{files:?}"
    );
    for f in &files {
        let (a, b) = (
            std::fs::read(streamed.join(f)).unwrap(),
            std::fs::read(whole.join(f)).unwrap(),
        );
        if f.ends_with("index.json") {
            let strip = |bytes: &[u8]| {
                let mut v: serde_json::Value = serde_json::from_slice(bytes).unwrap();
                fn drop_seconds(v: &mut serde_json::Value) {
                    match v {
                        serde_json::Value::Object(m) => {
                            m.remove("seconds");
                            m.values_mut().for_each(drop_seconds);
                        }
                        serde_json::Value::Array(a) => a.iter_mut().for_each(drop_seconds),
                        _ => {}
                    }
                }
                drop_seconds(&mut v);
                v
            };
            assert_eq!(strip(&a), strip(&b), "{}", f.display());
        } else {
            // ELAN documents carry the time they were written.
            let undated = |bytes: Vec<u8>| {
                if !f.to_string_lossy().ends_with(".eaf") {
                    return bytes;
                }
                let text = String::from_utf8(bytes).unwrap();
                let at = text.find(" DATE=\"").expect("an EAF date") + 7;
                let end = at + text[at..].find('"').unwrap();
                format!("{}{}", &text[..at], &text[end..]).into_bytes()
            };
            let (a, b) = (undated(a), undated(b));
            if a != b {
                let keep = std::env::temp_dir().join("emoscope-stream-diff");
                let _ = std::fs::remove_dir_all(&keep);
                std::fs::create_dir_all(&keep).unwrap();
                std::fs::write(keep.join("streamed"), &a).unwrap();
                std::fs::write(keep.join("whole"), &b).unwrap();
                panic!("{} differs (both kept in {})", f.display(), keep.display());
            }
        }
    }
    // The long file has speech and left-out silence, and its segments were read.
    let doc = read_doc(&streamed.join("long.emoscope.json"));
    assert!(!doc.timeline.is_empty() && !doc.no_speech.is_empty());
    assert!(doc.segments.len() >= 3, "{:?}", doc.segments);
}

#[test]
fn a_corrupt_stretch_mid_file_is_a_warning_with_its_position() {
    // The example FLAC (1.5 s) with bytes in its middle overwritten: the
    // decoder skips the damaged frame, the stretch is analysed as silence
    // (so the file keeps its 1.5 s and the times after it stay right), the
    // index warns with the position, and the good file next to it is
    // annotated as usual. The whole-file path says the same.
    let model = model_dir("corrupt", 1.0);
    let tmp = tempfile::tempdir().unwrap();
    let corpus = tmp.path().join("corpus");
    std::fs::create_dir_all(&corpus).unwrap();
    let fixtures = common::repo().join("tests/fixtures/audio");
    let mut bytes = std::fs::read(fixtures.join("speech.flac")).unwrap();
    let mid = bytes.len() / 2;
    for b in &mut bytes[mid..mid + 200] {
        *b = b.wrapping_mul(7).wrapping_add(13);
    }
    std::fs::write(corpus.join("bad.flac"), bytes).unwrap();
    std::fs::copy(fixtures.join("speech.flac"), corpus.join("good.flac")).unwrap();
    for (out, extra) in [("streamed", &[][..]), ("whole", &["--whole-file"][..])] {
        let out = tmp.path().join(out);
        ok(&annotate(&corpus, &out, model.path(), "json", extra));
        let bad = read_doc(&out.join("bad.emoscope.json"));
        assert!((bad.duration - 1.5).abs() < 1e-9, "{}", bad.duration);
        let index: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("index.json")).unwrap())
                .unwrap();
        let text = index.to_string();
        assert!(
            text.contains("is corrupt and could not be decoded")
                && text.contains(" s of audio at "),
            "{text}"
        );
        assert!(out.join("good.emoscope.json").is_file());
    }
}
