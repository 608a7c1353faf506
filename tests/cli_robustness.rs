//! Property test of the CLI's promise: whatever the input — audio files with
//! mutated headers, truncated or random bytes, windowing flags out of range,
//! plot sizes, damaged annotation, manifest and shard index files — every
//! run ends with exit 0, or exit 1 and an `error:` message (2 for arguments
//! clap cannot parse, with its `error:` message); never a panic (101), an
//! abort or a signal.
//!
//! The cases come from a fixed seed, so a failure names a case that can be
//! rerun; `EMOSCOPE_FUZZ_CASES` scales the count (default 400, about ten
//! seconds on two cores; 3000 ran clean in about a minute).

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

mod common;
use common::{model_dir, signal};

/// Longest a single run may take before it counts as a hang.
const RUN_LIMIT: Duration = Duration::from_secs(60);

/// What one run did.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs `emoscope args` in `dir` with stdout and stderr in files.
fn run(dir: &Path, args: &[String]) -> Run {
    let out = dir.join("stdout");
    let err = dir.join("stderr");
    let mut child = Command::new(env!("CARGO_BIN_EXE_emoscope"))
        .args(args)
        .env_remove("EMOSCOPE_MODEL")
        .env_remove("EMOSCOPE_LOG")
        .env("XDG_DATA_HOME", dir)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > RUN_LIMIT {
            let _ = child.kill();
            panic!("emoscope {args:?} ran for more than {RUN_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Run {
        code: status.code(),
        stdout: String::from_utf8_lossy(&std::fs::read(&out).unwrap()).into_owned(),
        stderr: String::from_utf8_lossy(&std::fs::read(&err).unwrap()).into_owned(),
    }
}

/// The property: exit 0, or exit 1 (2: a usage error) with an `error:`
/// line; no panic.
fn check(case: usize, args: &[String], r: &Run) {
    let what = format!(
        "case {case}: emoscope {args:?}\nexit {:?}\nstderr: {}",
        r.code, r.stderr
    );
    assert!(matches!(r.code, Some(0..=2)), "{what}");
    assert!(
        !r.stderr.contains("panicked") && !r.stderr.contains("RUST_BACKTRACE"),
        "{what}"
    );
    if r.code != Some(0) {
        assert!(
            r.stderr
                .lines()
                .any(|l| l.starts_with("error: ") && l.len() > 10),
            "{what}"
        );
    }
}

/// A WAV in memory: `seconds` of the test signal, 16-bit or 32-bit float.
fn wav_bytes(seconds: f64, rate: u32, channels: u16, float: bool) -> Vec<u8> {
    let spec = hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: if float { 32 } else { 16 },
        sample_format: if float {
            hound::SampleFormat::Float
        } else {
            hound::SampleFormat::Int
        },
    };
    let mut buf = Cursor::new(Vec::new());
    {
        let mut w = hound::WavWriter::new(&mut buf, spec).unwrap();
        for s in signal(seconds, rate as f32) {
            for _ in 0..channels {
                if float {
                    w.write_sample(s).unwrap();
                } else {
                    w.write_sample((s * 32767.0) as i16).unwrap();
                }
            }
        }
        w.finalize().unwrap();
    }
    buf.into_inner()
}

/// Values that sit on or just past the edges of header fields.
const EDGES: [u32; 18] = [
    0,
    1,
    2,
    3,
    7,
    8,
    16,
    24,
    32,
    64,
    255,
    7_999,
    8_000,
    65_535,
    384_000,
    384_001,
    0x7fff_ffff,
    u32::MAX,
];

/// A damaged audio file from a valid one.
fn mutated_audio(rng: &mut ChaCha8Rng) -> Vec<u8> {
    let mut b = wav_bytes(
        rng.random_range(0.05..3.0),
        [8_000, 16_000, 44_100][rng.random_range(0..3)],
        rng.random_range(1..=2),
        rng.random_bool(0.3),
    );
    match rng.random_range(0..6) {
        // A header field (RIFF size, format tag, channels, rate, byte rate,
        // block align, bits, data size) set to an edge or random value.
        0 | 1 => {
            let (at, width) = [
                (4, 4),
                (20, 2),
                (22, 2),
                (24, 4),
                (28, 4),
                (32, 2),
                (34, 2),
                (40, 4),
            ][rng.random_range(0..8)];
            let v = if rng.random_bool(0.7) {
                EDGES[rng.random_range(0..EDGES.len())]
            } else {
                rng.random()
            };
            if at + width <= b.len() {
                b[at..at + width].copy_from_slice(&v.to_le_bytes()[..width]);
            }
        }
        // Random bytes flipped in the header.
        2 => {
            for _ in 0..rng.random_range(1..5) {
                let i = rng.random_range(0..b.len().min(64));
                b[i] ^= rng.random::<u8>() | 1;
            }
        }
        // Cut anywhere, including to nothing.
        3 => {
            let n = rng.random_range(0..b.len());
            b.truncate(n);
        }
        // Not audio at all.
        4 => {
            b = (0..rng.random_range(0..2_000))
                .map(|_| rng.random())
                .collect();
        }
        // Valid (a control).
        _ => {}
    }
    b
}

/// A windowing value: usually sensible, sometimes not a number at all.
fn seconds_arg(rng: &mut ChaCha8Rng) -> String {
    [
        "0.5", "1", "4", "30", "0", "-1", "0.01", "31", "1e9", "NaN", "inf", "abc", "",
    ][rng.random_range(0..13)]
    .to_owned()
}

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_owned()
}

fn predict_case(rng: &mut ChaCha8Rng, dir: &Path, model: &Path) -> Vec<String> {
    let ext = [
        "wav", "wav", "wav", "flac", "mp3", "ogg", "m4a", "opus", "aiff", "txt", "",
    ][rng.random_range(0..11)];
    let audio = dir.join(format!("input.{ext}"));
    std::fs::write(&audio, mutated_audio(rng)).unwrap();
    let mut args = vec!["predict".to_owned(), s(&audio), "--model".into(), s(model)];
    if rng.random_bool(0.5) {
        args.push("--windows".into());
    }
    if rng.random_bool(0.3) {
        args.push("--json".into());
    }
    for flag in ["--window", "--hop", "--smoothing"] {
        if rng.random_bool(0.25) {
            args.push(format!("{flag}={}", seconds_arg(rng)));
        }
    }
    if rng.random_bool(0.2) {
        args.push("--text".into());
        args.push("what a wonderful day".into());
    }
    args
}

/// A valid annotation document to damage: made once with `annotate`.
fn annotation(dir: &Path, model: &Path) -> String {
    let wav = dir.join("talk.wav");
    std::fs::write(&wav, wav_bytes(6.0, 16_000, 1, false)).unwrap();
    let out = dir.join("annotated");
    let args: Vec<String> = vec![
        "annotate".into(),
        s(&wav),
        "--out".into(),
        s(&out),
        "--model".into(),
        s(model),
        "--format".into(),
        "json".into(),
    ];
    let r = run(dir, &args);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    fn find(dir: &Path) -> Option<PathBuf> {
        std::fs::read_dir(dir).ok()?.flatten().find_map(|e| {
            let p = e.path();
            let name = p.file_name()?.to_str()?.to_owned();
            if p.is_dir() {
                find(&p)
            } else if name.ends_with(".json") && !name.starts_with("index") {
                Some(p)
            } else {
                None
            }
        })
    }
    std::fs::read_to_string(find(&out).unwrap()).unwrap()
}

fn plot_case(rng: &mut ChaCha8Rng, dir: &Path, doc: &str) -> Vec<String> {
    let mut text = doc.to_owned();
    match rng.random_range(0..4) {
        // Numbers replaced by extremes.
        0 => {
            let v = ["1e308", "-1e308", "0", "-5", "99999999"][rng.random_range(0..5)];
            let digits: Vec<usize> = text.match_indices("0.").map(|(i, _)| i).collect();
            for _ in 0..rng.random_range(1..6) {
                if let Some(&i) = digits.get(rng.random_range(0..digits.len().max(1))) {
                    text.replace_range(i..i + 2, v);
                    break;
                }
            }
        }
        // Cut short.
        1 => {
            let mut n = rng.random_range(0..text.len());
            while !text.is_char_boundary(n) {
                n -= 1;
            }
            text.truncate(n);
        }
        _ => {}
    }
    let json = dir.join("doc.json");
    std::fs::write(&json, text).unwrap();
    let side = |rng: &mut ChaCha8Rng| -> u32 {
        [
            0,
            1,
            149,
            150,
            199,
            200,
            640,
            1200,
            8192,
            8193,
            100_000,
            u32::MAX,
        ][rng.random_range(0..12)]
    };
    let (w, h) = (side(rng), side(rng));
    // Large valid sizes as SVG only, to keep the run short.
    let ext = if w > 2_000 || h > 2_000 {
        "svg"
    } else {
        ["png", "svg", "pdf", ""][rng.random_range(0..4)]
    };
    let out = if rng.random_bool(0.1) {
        s(dir)
    } else {
        s(&dir.join(format!("plot.{ext}")))
    };
    vec![
        "plot".into(),
        s(&json),
        "--out".into(),
        out,
        "--width".into(),
        w.to_string(),
        "--height".into(),
        h.to_string(),
    ]
}

fn eval_case(rng: &mut ChaCha8Rng, dir: &Path, model: &Path) -> Vec<String> {
    std::fs::write(dir.join("a.wav"), mutated_audio(rng)).unwrap();
    std::fs::write(dir.join("b.wav"), wav_bytes(1.0, 16_000, 1, false)).unwrap();
    let label = |rng: &mut ChaCha8Rng| {
        ["0.5", "-1", "7", "NaN", "inf", "1e40", "", "x"][rng.random_range(0..8)].to_owned()
    };
    let mut csv = String::from("audio,transcript,arousal,valence,dominance\n");
    for name in ["a.wav", "b.wav", "missing.wav"]
        .iter()
        .take(rng.random_range(1..=3))
    {
        let l: Vec<String> = (0..3).map(|_| label(rng)).collect();
        csv += &format!("{name},hello,{}\n", l.join(","));
    }
    if rng.random_bool(0.2) {
        csv = csv.replace(',', ";");
    }
    let manifest = dir.join("m.csv");
    std::fs::write(&manifest, csv).unwrap();
    let mut args = vec![
        "eval".to_owned(),
        "--model".into(),
        s(model),
        "--data".into(),
        s(&manifest),
    ];
    if rng.random_bool(0.4) {
        args.push(format!(
            "--label-range={}",
            ["1,7", "7,1", "0,0", "a", "-1,1"][rng.random_range(0..5)]
        ));
    }
    args
}

fn merge_case(rng: &mut ChaCha8Rng, dir: &Path) -> Vec<String> {
    let n = rng.random_range(0..4usize);
    for i in 1..=n {
        let body: Vec<u8> = match rng.random_range(0..3) {
            0 => b"{}".to_vec(),
            1 => b"{\"entries\": [{\"input\": 1}]}".to_vec(),
            _ => (0..rng.random_range(0..200))
                .map(|_| rng.random())
                .collect(),
        };
        let total = if rng.random_bool(0.8) { n } else { n + 1 };
        std::fs::write(dir.join(format!("index.shard-{i}-of-{total}.json")), body).unwrap();
    }
    vec!["merge".into(), s(dir)]
}

#[test]
fn no_input_makes_the_cli_panic() {
    let cases: usize = std::env::var("EMOSCOPE_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400);
    let model = model_dir("fuzz", 1.0);
    let tmp = tempfile::tempdir().unwrap();
    let doc = annotation(tmp.path(), model.path());
    let mut rng = ChaCha8Rng::seed_from_u64(16);
    let (mut ok, mut refused) = (0, 0);
    for case in 0..cases {
        let dir = tmp.path().join(format!("case-{case}"));
        std::fs::create_dir_all(&dir).unwrap();
        // Predict (decoding and windowing) most often, then plot, eval, merge.
        let args = match case % 7 {
            0..=2 => predict_case(&mut rng, &dir, model.path()),
            3 | 4 => plot_case(&mut rng, &dir, &doc),
            5 => eval_case(&mut rng, &dir, model.path()),
            _ => merge_case(&mut rng, &dir),
        };
        let r = run(&dir, &args);
        check(case, &args, &r);
        if r.code == Some(0) {
            assert!(
                !r.stdout.is_empty(),
                "case {case}: {args:?} printed nothing"
            );
            ok += 1;
        } else {
            refused += 1;
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    // Both outcomes occur: the mutations are neither all harmless nor all fatal.
    assert!(
        ok > cases / 10 && refused > cases / 10,
        "{ok} ok, {refused} refused"
    );
}
