//! Conversations end to end: `annotate` and `predict` with speaker turns.
//!
//! The fixture is made at test time: two espeak-ng voices (a host, `en-us`,
//! and a guest, `en-gb+f2`) rendered with sox to 16 kHz and laid out as a
//! conversation whose turns are known by construction, the guest's second
//! turn starting before the host's long turn ends (overlapping speech,
//! mixed), and a turn shorter than a window. The RTTM and STM files are
//! written from those turns. Expected readings are computed independently:
//! each turn's audio is cut out and analysed alone with the library's
//! `analyse_offline`, and the summaries are computed here from the readings.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use candle_core::Device;
use emoscope::audio::load_mono;
use emoscope::engine::{analyse_offline, load_predictor, AnalysisConfig};
use emoscope::export::Annotation;
use emoscope::{Emotion, Reading};

mod common;
use common::model_dir;

const RATE: u32 = 16_000;
/// The analysis settings of every run here: 2 s windows every 0.5 s,
/// smoothed (smoothing runs within each turn).
const FLAGS: [&str; 6] = ["--window", "2", "--hop", "0.5", "--smoothing", "1"];

fn config() -> AnalysisConfig {
    AnalysisConfig {
        window_seconds: 2.0,
        hop_seconds: 0.5,
        smoothing_seconds: 1.0,
        ..AnalysisConfig::default()
    }
}

/// One speaker's turn, seconds, as written to the RTTM (4 decimals).
#[derive(Debug, Clone, PartialEq)]
struct Turn {
    speaker: &'static str,
    start: f64,
    end: f64,
    text: &'static str,
}

/// The conversation: its 16 kHz samples and its turns, in time order.
struct Conversation {
    samples: Vec<f32>,
    turns: Vec<Turn>,
}

/// `text` in `voice`: espeak-ng to a WAV, then sox to 16 kHz mono, as
/// the synthetic corpus renders its utterances.
fn say(dir: &Path, name: &str, voice: &str, text: &str) -> Vec<f32> {
    let raw = dir.join(format!("{name}.espeak.wav"));
    let wav = dir.join(format!("{name}.wav"));
    let run = |c: &mut Command, tool: &str| {
        let out = c
            .output()
            .unwrap_or_else(|e| panic!("{tool} (needs espeak-ng and sox): {e}"));
        assert!(
            out.status.success(),
            "{tool}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(
        Command::new("espeak-ng")
            .args(["-v", voice, "-w"])
            .arg(&raw)
            .arg(text),
        "espeak-ng",
    );
    run(
        Command::new("sox")
            .args(["-R", "-D"])
            .arg(&raw)
            .args(["-b", "16", "-c", "1"])
            .arg(&wav)
            .args(["rate", "-h", "16k"]),
        "sox",
    );
    load_mono(&wav, RATE).unwrap()
}

/// Times on the RTTM's 4-decimal grid, so that what the files say and
/// what is expected here are the same numbers.
fn grid(t: f64) -> f64 {
    format!("{t:.4}").parse().unwrap()
}

/// Renders the conversation into `dir` (see the module docs): host,
/// guest, host (long), guest (starting 0.8 s before the host stops), host
/// ("Right.", shorter than a window).
fn conversation(dir: &Path) -> Conversation {
    let lines: [(&str, &str, &str); 5] = [
        ("host", "en-us", "Welcome back to the show. Today we talk about gardens."),
        ("guest", "en-gb+f2", "Thank you, it is lovely to be here."),
        (
            "host",
            "en-us",
            "So tell me how you started, and what you would tell somebody who has never planted anything before.",
        ),
        ("guest", "en-gb+f2", "Oh, that is easy."),
        ("host", "en-us", "Right."),
    ];
    let mut placed: Vec<(usize, Vec<f32>)> = Vec::new();
    let mut turns = Vec::new();
    let mut cursor = 0.3;
    for (i, (speaker, voice, text)) in lines.iter().enumerate() {
        let x = say(dir, &format!("line{i}"), voice, text);
        let len = x.len() as f64 / f64::from(RATE);
        // The fourth line talks over the end of the third.
        let start = grid(if i == 3 { cursor - 0.8 - 0.4 } else { cursor });
        let end = grid(start + len);
        turns.push(Turn {
            speaker,
            start,
            end,
            text,
        });
        placed.push(((start * f64::from(RATE)).round() as usize, x));
        cursor = end + 0.4;
    }
    let total = ((cursor + 0.3) * f64::from(RATE)) as usize;
    let mut samples = vec![0.0f32; total];
    for (at, x) in placed {
        for (k, v) in x.into_iter().enumerate() {
            samples[at + k] += 0.5 * v;
        }
    }
    Conversation { samples, turns }
}

/// `SPEAKER` lines, one per turn (shuffled: the reader sorts them).
fn rttm(c: &Conversation, file: &str) -> String {
    let mut lines: Vec<String> = c
        .turns
        .iter()
        .map(|t| {
            format!(
                "SPEAKER {file} 1 {:.4} {:.4} <NA> <NA> {} <NA> <NA>\n",
                t.start,
                t.end - t.start,
                t.speaker
            )
        })
        .collect();
    lines.swap(0, 3);
    lines.concat()
}

/// NIST STM: `file chan speaker start end <label> text`.
fn stm(c: &Conversation, file: &str) -> String {
    c.turns
        .iter()
        .map(|t| {
            format!(
                "{file} 1 {} {:.4} {:.4} <o,f0,male> {}\n",
                t.speaker, t.start, t.end, t.text
            )
        })
        .collect()
}

/// A folder with `conv.wav` and its turns.
struct Fixture {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    conv: Conversation,
}

impl Fixture {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("talk");
        std::fs::create_dir_all(&dir).unwrap();
        let conv = conversation(tmp.path());
        common::write_wav(&dir.join("conv.wav"), &conv.samples, RATE);
        Self {
            dir,
            conv,
            _tmp: tmp,
        }
    }

    fn wav(&self) -> PathBuf {
        self.dir.join("conv.wav")
    }

    /// Writes `name` beside the audio (or anywhere under the folder).
    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

fn emoscope(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_emoscope"))
        .args(args)
        .env_remove("EMOSCOPE_MODEL")
        .output()
        .unwrap()
}

fn ok(out: &Output) {
    assert!(
        out.status.success(),
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `annotate INPUT --out OUT --model MODEL --analyse-silence FLAGS EXTRA`
/// (every window read, as the turns alone are below), and the JSON of `conv`.
fn annotate(
    input: &Path,
    out: &Path,
    model: &Path,
    extra: &[&str],
) -> (Output, Option<Annotation>) {
    let mut args = vec![
        "annotate",
        s(input),
        "--out",
        s(out),
        "--model",
        s(model),
        "--format",
        "json,csv",
        "--analyse-silence",
    ];
    args.extend_from_slice(&FLAGS);
    args.extend_from_slice(extra);
    let output = emoscope(&args);
    let doc = std::fs::read_to_string(out.join("conv.emoscope.json"))
        .ok()
        .map(|t| Annotation::from_json(&t).unwrap());
    (output, doc)
}

/// The readings expected with `turns`: each turn cut out of the signal
/// (its samples `round(start * rate)..round(end * rate)`) and analysed
/// alone, its windows moved to the turn's start, named after its speaker
/// and flagged where the window (within the turn) meets another speaker's
/// turn; sorted by start.
fn expected(model: &Path, c: &Conversation, turns: &[Turn]) -> Vec<Reading> {
    let mut m = load_predictor(model, &Device::Cpu).unwrap();
    let mut out = Vec::new();
    for t in turns {
        let first = (t.start * f64::from(RATE)).round() as usize;
        let end = ((t.end * f64::from(RATE)).round() as usize).min(c.samples.len());
        let alone = analyse_offline(
            &c.samples[first..end],
            RATE as f32,
            m.as_mut(),
            &config(),
            None,
        )
        .unwrap();
        assert!(!alone.is_empty());
        let at = first as f64 / f64::from(RATE);
        for w in alone {
            let mut r = w.reading;
            r.span.start += at;
            r.span.end += at;
            let (a, b) = (r.span.start.max(t.start), r.span.end.min(t.end));
            r.overlap = c
                .turns
                .iter()
                .any(|o| o.speaker != t.speaker && o.start < b && o.end > a);
            r.speaker = Some(t.speaker.into());
            out.push(r);
        }
    }
    out.sort_by(|a, b| a.span.start.total_cmp(&b.span.start));
    out
}

/// `got` equals `want`: speakers, overlap flags and values exactly, times
/// within a nanosecond (the turn's start is added in another order).
fn assert_readings(got: &[Reading], want: &[Reading]) {
    assert_eq!(got.len(), want.len(), "{got:#?}\n{want:#?}");
    for (g, w) in got.iter().zip(want) {
        assert_eq!(
            (&g.speaker, g.overlap, g.emotion),
            (&w.speaker, w.overlap, w.emotion),
            "{g:?} vs {w:?}"
        );
        assert!((g.span.start - w.span.start).abs() < 1e-9, "{g:?} vs {w:?}");
        assert!((g.span.end - w.span.end).abs() < 1e-9, "{g:?} vs {w:?}");
    }
}

#[test]
fn each_turn_is_analysed_alone_and_no_window_spans_two_speakers() {
    let f = Fixture::new();
    let model = model_dir("conv", 1.0);
    let rttm = f.write("turns.rttm", &rttm(&f.conv, "conv"));
    let out = f.dir.join("out");
    let (run, doc) = annotate(&f.wav(), &out, model.path(), &["--speakers", s(&rttm)]);
    ok(&run);
    let doc = doc.unwrap();
    let want = expected(model.path(), &f.conv, &f.conv.turns);
    assert_readings(&doc.timeline, &want);
    // Turn-aligned: each window lies inside a turn of its own speaker (to
    // the sample the turn's times round to: within half a sample of its
    // start, a sample of its end).
    let sample = 1.0 / f64::from(RATE);
    for r in &doc.timeline {
        let speaker = r.speaker.as_ref().unwrap();
        assert!(
            f.conv.turns.iter().any(|t| *speaker == t.speaker
                && r.span.start >= t.start - 0.5 * sample
                && r.span.end <= t.end + sample),
            "{r:?} lies in no turn of {speaker}"
        );
    }
    // The host's long turn is windowed; the short "Right." is one reading
    // over the turn; the guest's overlapping turn and the host's windows
    // under it are flagged.
    let last = &f.conv.turns[4];
    let short: Vec<&Reading> = doc
        .timeline
        .iter()
        .filter(|r| r.span.start >= last.start - sample)
        .collect();
    assert_eq!(short.len(), 1, "{short:?}");
    assert!((short[0].span.duration() - (last.end - last.start)).abs() <= 1.0 / f64::from(RATE));
    let long = &f.conv.turns[2];
    assert!(long.end - long.start > 4.0, "{long:?}");
    assert!(
        doc.timeline
            .iter()
            .filter(|r| r.span.start >= long.start - sample && r.span.end <= long.end + 1e-3)
            .count()
            > 4
    );
    let flagged: Vec<&str> = doc
        .timeline
        .iter()
        .filter(|r| r.overlap)
        .map(|r| r.speaker.as_ref().unwrap().as_str())
        .collect();
    assert!(
        flagged.contains(&"host") && flagged.contains(&"guest"),
        "{flagged:?}"
    );

    // The CSV has the speaker and overlap columns, row for row.
    let csv = std::fs::read_to_string(out.join("conv.emoscope.csv")).unwrap();
    let mut rows = csv.lines();
    assert_eq!(
        rows.next().unwrap(),
        "start,end,arousal,valence,dominance,text,model_id,out_of_range,speaker,overlap"
    );
    for (row, r) in rows.zip(&doc.timeline) {
        let cells: Vec<&str> = row.split(',').collect();
        assert_eq!(cells[8], r.speaker.as_ref().unwrap().as_str());
        assert_eq!(cells[9], r.overlap.to_string());
    }

    // The summaries, computed here from the readings: speaking time from
    // the turns, the length-weighted mean and standard deviation, the
    // share of read time per quadrant (the model's range is -1..1: the
    // middle is 0).
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("index.json")).unwrap()).unwrap();
    let from_index: Vec<emoscope::export::SpeakerSummary> =
        serde_json::from_value(index["entries"][0]["speakers"].clone()).unwrap();
    assert_eq!(from_index, doc.speakers);
    assert_eq!(
        index["entries"][0]["speakers_file"].as_str(),
        Some(s(&rttm))
    );
    assert_eq!(doc.speakers.len(), 2);
    for (summary, name) in doc.speakers.iter().zip(["host", "guest"]) {
        assert_eq!(summary.speaker.as_str(), name);
        let spoken: f64 = f
            .conv
            .turns
            .iter()
            .filter(|t| t.speaker == name)
            .map(|t| t.end - t.start)
            .sum();
        assert!((summary.speaking_seconds - spoken).abs() < 1e-9);
        let mine: Vec<&Reading> = doc
            .timeline
            .iter()
            .filter(|r| r.speaker.as_ref().unwrap() == name)
            .collect();
        assert_eq!(summary.windows, mine.len());
        assert_eq!(
            summary.overlap_windows,
            mine.iter().filter(|r| r.overlap).count()
        );
        let total: f64 = mine.iter().map(|r| r.span.duration()).sum();
        let mean = |d: usize| {
            mine.iter()
                .map(|r| r.span.duration() * f64::from(r.emotion.dimensions()[d]))
                .sum::<f64>()
                / total
        };
        let sd = |d: usize| {
            let m = mean(d);
            (mine
                .iter()
                .map(|r| r.span.duration() * (f64::from(r.emotion.dimensions()[d]) - m).powi(2))
                .sum::<f64>()
                / total)
                .sqrt()
        };
        let got_mean = summary.mean.unwrap().dimensions();
        let got_sd = summary.std.unwrap().dimensions();
        for d in 0..3 {
            assert!(
                (f64::from(got_mean[d]) - mean(d)).abs() < 1e-6,
                "{name} mean {d}"
            );
            assert!((f64::from(got_sd[d]) - sd(d)).abs() < 1e-5, "{name} sd {d}");
        }
        let share = |hi_a: bool, hi_v: bool| {
            mine.iter()
                .filter(|r| {
                    (r.emotion.arousal >= 0.0) == hi_a && (r.emotion.valence >= 0.0) == hi_v
                })
                .map(|r| r.span.duration())
                .sum::<f64>()
                / total
        };
        let q = summary
            .quadrants
            .expect("a dimensional model has quadrants");
        for (got, want) in [
            (q.excited, share(true, true)),
            (q.tense, share(true, false)),
            (q.subdued, share(false, false)),
            (q.calm, share(false, true)),
        ] {
            assert!((got - want).abs() < 1e-9, "{name}: {q:?}");
        }
    }
}

#[test]
fn sidecar_rttm_or_stm_beside_the_audio_gives_the_same_turns() {
    let f = Fixture::new();
    let model = model_dir("conv-sidecar", 1.0);
    let want = expected(model.path(), &f.conv, &f.conv.turns);
    // conv.rttm beside conv.wav, the folder given.
    let rttm = f.write("conv.rttm", &rttm(&f.conv, "conv"));
    let (run, doc) = annotate(&f.dir, &f.dir.join("out-rttm"), model.path(), &[]);
    ok(&run);
    let streamed = doc.unwrap();
    assert_readings(&streamed.timeline, &want);
    // Decoded whole, the same annotation (the reference the streamed passes
    // are held to).
    let (run, whole) = annotate(
        &f.dir,
        &f.dir.join("out-whole"),
        model.path(),
        &["--whole-file"],
    );
    ok(&run);
    assert_eq!(whole.unwrap(), streamed);
    std::fs::remove_file(&rttm).unwrap();
    // conv.stm instead: the transcript and the speakers in one file (its
    // text goes to the windows; this model reads no text).
    f.write("conv.stm", &stm(&f.conv, "conv"));
    let (run, doc) = annotate(&f.dir, &f.dir.join("out-stm"), model.path(), &[]);
    ok(&run);
    let doc = doc.unwrap();
    assert_readings(&doc.timeline, &want);
    assert_eq!(doc.speakers.len(), 2);
    // The text of each window is its speaker's: the guest's turn under the
    // host's long turn reads the guest's words only.
    let overlap = doc
        .timeline
        .iter()
        .find(|r| r.overlap && r.speaker.as_ref().unwrap() == "guest")
        .unwrap();
    assert_eq!(overlap.text, "Oh, that is easy.");
}

#[test]
fn predict_reads_each_speaker_and_windows_per_turn() {
    let f = Fixture::new();
    let model = model_dir("conv-predict", 1.0);
    let stm = f.write("given.stm", &stm(&f.conv, "conv"));
    let wav = f.wav();
    let base = [
        "predict",
        s(&wav),
        "--model",
        s(model.path()),
        "--json",
        "--no-transcript",
    ];
    // --windows: the same windows as each turn analysed alone.
    let mut args = base.to_vec();
    args.extend(["--windows", "--speakers", s(&stm)]);
    args.extend_from_slice(&FLAGS);
    let out = emoscope(&args);
    ok(&out);
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let got: Vec<Reading> = lines
        .iter()
        .map(|l| Reading {
            span: emoscope::Span::new(l["start"].as_f64().unwrap(), l["end"].as_f64().unwrap()),
            emotion: Emotion::new(
                l["arousal"].as_f64().unwrap() as f32,
                l["valence"].as_f64().unwrap() as f32,
                l["dominance"].as_f64().unwrap() as f32,
            ),
            speaker: Some(l["speaker"].as_str().unwrap().into()),
            overlap: l["overlap"].as_bool().unwrap(),
            ..Reading::default()
        })
        .collect();
    let want = expected(model.path(), &f.conv, &f.conv.turns);
    assert_readings(&got, &want);

    // --speaker keeps one speaker's windows.
    let mut args = base.to_vec();
    args.extend(["--windows", "--speakers", s(&stm), "--speaker", "guest"]);
    args.extend_from_slice(&FLAGS);
    let out = emoscope(&args);
    ok(&out);
    let guest: Vec<&Reading> = want
        .iter()
        .filter(|r| r.speaker.as_ref().unwrap() == "guest")
        .collect();
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), guest.len());
    for (l, w) in lines.iter().zip(&guest) {
        assert_eq!(l["speaker"], "guest");
        assert_eq!(l["arousal"].as_f64().unwrap() as f32, w.emotion.arousal);
    }
    // An unknown name is an error listing the speakers there are.
    let mut args = base.to_vec();
    args.extend(["--windows", "--speakers", s(&stm), "--speaker", "carol"]);
    let out = emoscope(&args);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no speaker `carol`") && err.contains("`host`, `guest`"),
        "{err}"
    );

    // Without --windows: one reading per speaker, the length-weighted mean
    // of the model's reading of each of their turns (each under 30 s: one
    // piece), cut at the model's rate (16 kHz, as the file).
    let mut args = base.to_vec();
    args.extend(["--speakers", s(&stm)]);
    let out = emoscope(&args);
    ok(&out);
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut m = load_predictor(model.path(), &Device::Cpu).unwrap();
    assert_eq!(lines.len(), 2);
    for (l, name) in lines.iter().zip(["host", "guest"]) {
        assert_eq!(l["speaker"], name);
        let mut readings = Vec::new();
        for t in f.conv.turns.iter().filter(|t| t.speaker == name) {
            let first = (t.start * f64::from(RATE)).round() as usize;
            let end = (t.end * f64::from(RATE)).round() as usize;
            let e = m.predict(&f.conv.samples[first..end], "").unwrap();
            readings.push(((end - first) as f64, e));
        }
        let seconds: f64 = readings.iter().map(|r| r.0).sum::<f64>() / f64::from(RATE);
        let want = Emotion::weighted_mean(readings).unwrap();
        assert!((l["seconds"].as_f64().unwrap() - seconds).abs() < 1e-9);
        assert_eq!(
            l["arousal"].as_f64().unwrap() as f32,
            want.arousal,
            "{name}"
        );
        assert_eq!(
            l["valence"].as_f64().unwrap() as f32,
            want.valence,
            "{name}"
        );
        assert_eq!(
            l["dominance"].as_f64().unwrap() as f32,
            want.dominance,
            "{name}"
        );
    }
}

#[test]
fn annotate_speaker_keeps_one_speaker_and_an_unknown_name_fails_the_file() {
    let f = Fixture::new();
    let model = model_dir("conv-one", 1.0);
    f.write("conv.rttm", &rttm(&f.conv, "conv"));
    let (run, doc) = annotate(
        &f.wav(),
        &f.dir.join("out"),
        model.path(),
        &["--speaker", "guest"],
    );
    ok(&run);
    let doc = doc.unwrap();
    let guest: Vec<Turn> = f
        .conv
        .turns
        .iter()
        .filter(|t| t.speaker == "guest")
        .cloned()
        .collect();
    // Only the guest's turns are read; the host still flags the overlap.
    assert_readings(&doc.timeline, &expected(model.path(), &f.conv, &guest));
    assert_eq!(doc.speakers.len(), 1);
    assert_eq!(doc.speakers[0].speaker.as_str(), "guest");
    let (run, _) = annotate(
        &f.wav(),
        &f.dir.join("out-carol"),
        model.path(),
        &["--speaker", "carol"],
    );
    assert!(!run.status.success());
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(f.dir.join("out-carol/index.json")).unwrap())
            .unwrap();
    let error = index["entries"][0]["error"].as_str().unwrap();
    assert!(
        error.contains("no speaker `carol`") && error.contains("`host`, `guest`"),
        "{error}"
    );
}

#[test]
fn a_bad_rttm_fails_its_file_with_file_and_line_and_the_others_still_run() {
    let f = Fixture::new();
    let model = model_dir("conv-bad", 1.0);
    // Line 2's start is no number.
    f.write(
        "conv.rttm",
        "SPEAKER conv 1 0.3000 1.0000 <NA> <NA> host <NA> <NA>\nSPEAKER conv 1 soon 1.0000 <NA> <NA> guest <NA> <NA>\n",
    );
    std::fs::copy(
        common::repo().join("examples/speech.wav"),
        f.dir.join("other.wav"),
    )
    .unwrap();
    let out = f.dir.join("out");
    let (run, _) = annotate(&f.dir, &out, model.path(), &[]);
    assert!(!run.status.success());
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("index.json")).unwrap()).unwrap();
    let entries = index["entries"].as_array().unwrap();
    let by_name = |n: &str| {
        entries
            .iter()
            .find(|e| e["input"].as_str().unwrap().ends_with(n))
            .unwrap()
    };
    let bad = by_name("conv.wav");
    assert_eq!(bad["status"], "failed");
    let error = bad["error"].as_str().unwrap();
    assert!(
        error.contains("conv.rttm") && error.contains("line 2") && error.contains("soon"),
        "{error}"
    );
    let good = by_name("other.wav");
    assert_eq!(good["status"], "ok");
    assert!(out.join("other.emoscope.json").is_file());
    assert!(!out.join("conv.emoscope.json").exists());
}

/// `annotate` of `input` into `out` in every format, with `extra` flags.
fn annotate_all(input: &Path, out: &Path, model: &Path, extra: &[&str]) -> Annotation {
    let mut args = vec![
        "annotate",
        s(input),
        "--out",
        s(out),
        "--model",
        s(model),
        "--format",
        "all",
    ];
    args.extend_from_slice(&FLAGS);
    args.extend_from_slice(extra);
    ok(&emoscope(&args));
    Annotation::from_json(&std::fs::read_to_string(out.join("conv.emoscope.json")).unwrap())
        .unwrap()
}

/// The quadrant of a reading of this model (range -1..1, middle 0), as the
/// summaries' test above counts it.
fn quadrant(r: &Reading) -> (bool, bool) {
    (r.emotion.arousal >= 0.0, r.emotion.valence >= 0.0)
}

#[test]
fn every_export_has_each_speakers_own_tiers_layers_and_channel() {
    let f = Fixture::new();
    let model = model_dir("conv-exports", 1.0);
    f.write("conv.rttm", &rttm(&f.conv, "conv"));
    let out = f.dir.join("out");
    let doc = annotate_all(&f.wav(), &out, model.path(), &[]);
    let names = ["host", "guest"];

    // Segments: each speaker's lie inside that speaker's turns and never
    // overlap one another; the host's and the guest's overlap where the
    // guest talks over the host (both turns hold speech there).
    let sample = 1.0 / f64::from(RATE);
    for name in names {
        let mine: Vec<_> = doc
            .segments
            .iter()
            .filter(|x| x.speaker.as_ref().unwrap() == name)
            .collect();
        assert!(!mine.is_empty(), "{name} has no segment");
        for x in &mine {
            assert!(
                f.conv.turns.iter().any(|t| t.speaker == name
                    && x.span.start >= t.start - sample
                    && x.span.end <= t.end + sample),
                "{x:?} lies in no turn of {name}"
            );
        }
        for pair in mine.windows(2) {
            assert!(pair[1].span.start >= pair[0].span.end, "{pair:?}");
        }
    }
    assert!(doc.segments.iter().all(|x| x.speaker.is_some()));
    let (long, over) = (&f.conv.turns[2], &f.conv.turns[3]);
    let talk_over = doc.segments.iter().any(|h| {
        h.speaker.as_ref().unwrap() == "host"
            && h.span.start < long.end
            && doc.segments.iter().any(|g| {
                g.speaker.as_ref().unwrap() == "guest"
                    && g.span.start < over.end
                    && g.span.overlap(h.span) > 0.0
            })
    });
    assert!(talk_over, "{:#?}", doc.segments);

    // Markers: each speaker's own first reading and quadrant changes,
    // derived here from their readings, in time order.
    let mut want: Vec<(f64, &str)> = Vec::new();
    for name in names {
        let mut last = None;
        for r in doc
            .timeline
            .iter()
            .filter(|r| r.speaker.as_ref().unwrap() == name)
        {
            if last != Some(quadrant(r)) {
                want.push((r.span.centre(), name));
                last = Some(quadrant(r));
            }
        }
    }
    want.sort_by(|a, b| a.0.total_cmp(&b.0));
    let got: Vec<(f64, &str)> = doc
        .markers
        .iter()
        .map(|m| (m.time, m.speaker.as_ref().unwrap().as_str()))
        .collect();
    assert_eq!(got, want);

    // Every file opened by readers independent of Emoscope.
    let script = common::repo().join("tests/python/check_speaker_exports.py");
    let py = Command::new("python3")
        .arg(&script)
        .arg(&out)
        .arg("conv.emoscope")
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&py.stdout);
    assert!(
        py.status.success(),
        "{stdout}\n{}\n(install the readers with `pip install -r tests/python/requirements.txt`)",
        String::from_utf8_lossy(&py.stderr)
    );
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");

    // The index lists each speaker's Sonic Visualiser layers with the
    // other outputs, and a second run finds them all and skips the file.
    let index = |dir: &Path| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(dir.join("index.json")).unwrap()).unwrap()
    };
    let first = index(&out);
    let outputs: Vec<&str> = first["entries"][0]["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o.as_str().unwrap())
        .collect();
    for name in names {
        for layer in ["arousal", "valence", "dominance", "segments"] {
            let file = format!("conv.emoscope.sv-{name}-{layer}.csv");
            assert!(outputs.contains(&file.as_str()), "{file}: {outputs:?}");
            assert!(out.join(&file).is_file(), "{file}");
        }
    }
    let _ = annotate_all(&f.wav(), &out, model.path(), &[]);
    let second = index(&out);
    assert_eq!(second["entries"][0]["status"], "skipped");
    assert_eq!(
        second["entries"][0]["outputs"],
        first["entries"][0]["outputs"]
    );
    // With a speaker's layer gone, the file is annotated again.
    std::fs::remove_file(out.join("conv.emoscope.sv-guest-valence.csv")).unwrap();
    let _ = annotate_all(&f.wav(), &out, model.path(), &[]);
    assert_eq!(index(&out)["entries"][0]["status"], "ok");
    assert!(out.join("conv.emoscope.sv-guest-valence.csv").is_file());
}

#[test]
fn plot_draws_a_lane_per_speaker_and_plots_one_by_name() {
    let f = Fixture::new();
    let model = model_dir("conv-plot", 1.0);
    f.write("conv.rttm", &rttm(&f.conv, "conv"));
    let out = f.dir.join("out");
    let (run, _) = annotate(&f.wav(), &out, model.path(), &[]);
    ok(&run);
    let json = out.join("conv.emoscope.json");
    let plot = |name: &str, extra: &[&str]| {
        let picture = out.join(name);
        let mut args = vec!["plot", s(&json), "--out", s(&picture)];
        args.extend_from_slice(extra);
        (emoscope(&args), picture)
    };
    // SVG text: each lane's title and legend name its speaker.
    let (run, svg) = plot("both.svg", &[]);
    ok(&run);
    let text = std::fs::read_to_string(&svg).unwrap();
    for name in ["host", "guest"] {
        for label in [
            format!("{name} in conv.wav"),
            format!("{name}: arousal"),
            format!("{name}: dominance"),
        ] {
            assert!(text.contains(&label), "{label} missing from the SVG");
        }
    }
    // Two lanes: 300 pixels each by default.
    assert!(text.contains("height=\"600\""), "{}", &text[..200]);
    let (run, png) = plot("both.png", &[]);
    ok(&run);
    assert!(std::fs::read(&png).unwrap().starts_with(b"\x89PNG"));
    // --speaker: that speaker alone.
    let (run, svg) = plot("guest.svg", &["--speaker", "guest"]);
    ok(&run);
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.contains("guest: arousal") && !text.contains("host"));
    // An unknown name is an error listing the speakers there are.
    let (run, svg) = plot("carol.svg", &["--speaker", "carol"]);
    assert!(!run.status.success());
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(
        err.contains("no speaker `carol`") && err.contains("`host`, `guest`"),
        "{err}"
    );
    assert!(!svg.exists());
    // Too low for two lanes of 150 pixels: an error that says how high.
    let (run, _) = plot("low.svg", &["--height", "200"]);
    assert!(!run.status.success());
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(
        err.contains("2 speakers' lanes") && err.contains("300"),
        "{err}"
    );
}

/// With the speech gate (no `--analyse-silence`), a silence inside a
/// speaker's turn is not read: its windows are `no_speech`, and read
/// again when every window is.
#[test]
fn the_speech_gate_leaves_a_silent_stretch_inside_a_turn_unread() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("gap");
    std::fs::create_dir_all(&dir).unwrap();
    let a = say(
        tmp.path(),
        "a",
        "en-us",
        "Welcome back to the show, everybody.",
    );
    let b = say(
        tmp.path(),
        "b",
        "en-us",
        "Today we talk about gardens, and about the people who grow them.",
    );
    let c = say(
        tmp.path(),
        "c",
        "en-gb+f2",
        "Thank you, it is lovely to be here.",
    );
    // Host: a, 4 s of silence, b, all one turn; then the guest.
    let secs = |x: &[f32]| x.len() as f64 / f64::from(RATE);
    let host = (0.3, grid(0.3 + secs(&a) + 4.0 + secs(&b)));
    let silence = (0.3 + secs(&a), 0.3 + secs(&a) + 4.0);
    let guest = (grid(host.1 + 0.4), grid(host.1 + 0.4 + secs(&c)));
    let mut samples = vec![0.0f32; ((guest.1 + 0.3) * f64::from(RATE)) as usize];
    for (at, x) in [(host.0, &a), (silence.1, &b), (guest.0, &c)] {
        let first = (at * f64::from(RATE)).round() as usize;
        for (k, v) in x.iter().enumerate() {
            samples[first + k] += 0.5 * v;
        }
    }
    common::write_wav(&dir.join("conv.wav"), &samples, RATE);
    std::fs::write(
        dir.join("conv.rttm"),
        format!(
            "SPEAKER conv 1 {:.4} {:.4} <NA> <NA> host <NA> <NA>\nSPEAKER conv 1 {:.4} {:.4} <NA> <NA> guest <NA> <NA>\n",
            host.0,
            host.1 - host.0,
            guest.0,
            guest.1 - guest.0
        ),
    )
    .unwrap();
    let model = model_dir("conv-gate", 1.0);
    let run = |out: &str, extra: &[&str]| {
        let out = dir.join(out);
        let mut args = vec![
            "annotate",
            s(&dir),
            "--out",
            s(&out),
            "--model",
            s(model.path()),
            "--format",
            "json",
        ];
        args.extend_from_slice(&FLAGS);
        args.extend_from_slice(extra);
        ok(&emoscope(&args));
        Annotation::from_json(&std::fs::read_to_string(out.join("conv.emoscope.json")).unwrap())
            .unwrap()
    };
    // The windows (2 s) that lie wholly in the 4 s of silence.
    let silent = |r: &&Reading| r.span.start >= silence.0 && r.span.end <= silence.1;
    let gated = run("gated", &[]);
    assert!(
        !gated.timeline.iter().any(|r| silent(&r)),
        "{:#?}",
        gated.timeline
    );
    // The middle of the silence is `no_speech`, and the host is read on both sides of it.
    let middle = 0.5 * (silence.0 + silence.1);
    assert!(
        gated
            .no_speech
            .iter()
            .any(|g| g.start <= middle && middle <= g.end),
        "{:?}",
        gated.no_speech
    );
    let host_reads = |at: f64, before: bool| {
        gated.timeline.iter().any(|r| {
            r.speaker.as_ref().unwrap() == "host"
                && if before {
                    r.span.end <= at
                } else {
                    r.span.start >= at
                }
        })
    };
    assert!(
        host_reads(silence.0 + 0.5, true) && host_reads(silence.1 - 0.5, false),
        "{silence:?}: {:#?}",
        gated.timeline
    );
    assert!(gated
        .timeline
        .iter()
        .any(|r| r.speaker.as_ref().unwrap() == "guest"));
    // Every window read: the silent ones are there, the host's.
    let all = run("all", &["--analyse-silence"]);
    let read: Vec<&Reading> = all.timeline.iter().filter(silent).collect();
    assert!(!read.is_empty());
    assert!(read.iter().all(|r| r.speaker.as_ref().unwrap() == "host"));
    assert!(all.no_speech.is_empty());
}

/// `<data dir>/emoscope/test-data/pyannote-sample-3.3.2`, where
/// `scripts/setup.sh` puts the sample pyannote.audio 3.3.2 ships.
fn pyannote_sample() -> PathBuf {
    let data = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".local/share"));
    let dir = data.join("emoscope/test-data/pyannote-sample-3.3.2");
    assert!(
        dir.join("sample.wav").is_file() && dir.join("sample.rttm").is_file(),
        "{} is missing: run scripts/setup.sh",
        dir.display()
    );
    dir
}

/// A real conversation, not ours: the 30 s two-person recording that
/// pyannote.audio 3.3.2 ships with its reference RTTM (ten turns, two
/// speakers, four stretches of overlapping speech). `annotate --speakers`
/// with that RTTM reads each turn alone: the readings equal each turn's
/// audio analysed on its own, every window lies inside a turn of its
/// speaker, the overlap flags follow the RTTM, and each speaker's speaking
/// time is the RTTM's.
#[test]
fn a_real_conversation_is_read_turn_by_turn_with_its_reference_rttm() {
    let src = pyannote_sample();
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("conv.wav");
    std::fs::copy(src.join("sample.wav"), &input).unwrap();
    let rttm = src.join("sample.rttm");
    // The turns, read here from the RTTM's columns (file chan start dur ... name).
    let mut turns: Vec<Turn> = std::fs::read_to_string(&rttm)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("SPEAKER "))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let (start, dur): (f64, f64) = (f[3].parse().unwrap(), f[4].parse().unwrap());
            Turn {
                speaker: Box::leak(f[7].to_owned().into_boxed_str()),
                start,
                end: start + dur,
                text: "",
            }
        })
        .collect();
    turns.sort_by(|a, b| a.start.total_cmp(&b.start));
    assert_eq!(turns.len(), 10);
    // No speaker's own turns meet, so the analysis takes them as given.
    for (i, a) in turns.iter().enumerate() {
        assert!(turns[i + 1..]
            .iter()
            .all(|b| b.speaker != a.speaker || b.start > a.end));
    }
    let conv = Conversation {
        samples: load_mono(&input, RATE).unwrap(),
        turns: turns.clone(),
    };
    let model = model_dir("real-conv", 1.0);
    let out = tmp.path().join("out");
    let (run, doc) = annotate(&input, &out, model.path(), &["--speakers", s(&rttm)]);
    ok(&run);
    let doc = doc.unwrap();
    let want = expected(model.path(), &conv, &turns);
    assert_readings(&doc.timeline, &want);
    let sample = 1.0 / f64::from(RATE);
    for r in &doc.timeline {
        let speaker = r.speaker.as_ref().unwrap();
        assert!(
            turns.iter().any(|t| *speaker == t.speaker
                && r.span.start >= t.start - 0.5 * sample
                && r.span.end <= t.end + sample),
            "{r:?} lies in no turn of {speaker}"
        );
    }
    assert!(doc.timeline.iter().filter(|r| r.overlap).count() >= 4);
    let names: Vec<&str> = doc.speakers.iter().map(|s| s.speaker.as_str()).collect();
    assert_eq!(names, ["speaker90", "speaker91"]);
    for summary in &doc.speakers {
        let rttm_seconds: f64 = turns
            .iter()
            .filter(|t| summary.speaker == t.speaker)
            .map(|t| t.end - t.start)
            .sum();
        assert!(
            (summary.speaking_seconds - rttm_seconds).abs() < 1e-6,
            "{}: {} s, the RTTM says {rttm_seconds} s",
            summary.speaker,
            summary.speaking_seconds
        );
    }
}
