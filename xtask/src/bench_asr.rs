//! `cargo xtask bench asr`: Emoscope's Whisper against the CTranslate2
//! runtime on the five LibriVox clips of Debian's `pocketsphinx-testdata`.
//!
//! 1. `features`: Python computes each clip's first window as openai-whisper's
//!    `transcribe` decodes it (`transcribe_features` of
//!    `models/reference/whisper_ct2_greedy.py`: the log-mel of the audio,
//!    zero-padded to 3000 frames) and writes it as raw f32; both sides read
//!    these files, so they decode the same input.
//! 2. Each side runs in its own process under `/usr/bin/time -v` (peak
//!    memory per side) with 2 threads: Emoscope through the hidden
//!    `xtask bench-asr-worker` (`RAYON_NUM_THREADS`), CTranslate2 through
//!    `ctranslate2.models.Whisper` (`inter_threads=1`, `intra_threads`).
//!    Per clip: one warm-up, then the median of `--runs` greedy decodes of
//!    the window (encoder plus decoding with timestamps, `beam_size=1`,
//!    `suppress_blank`, the model's `suppress_tokens`, initial timestamp
//!    at most 1 s: the same rules on both sides), and the encoder alone.
//!    The four processes run in turn, `--rounds` times, and each clip keeps
//!    its best round: the machine is shared, and a burst of other work
//!    should not fall on one side only.
//! 3. The tables: seconds per clip and in total, the ratio to the
//!    CTranslate2 run of the matching precision, the word error rate of
//!    each side against the LibriVox transcripts, and whether the tokens
//!    equal CTranslate2 float32's.

use crate::speech::{normalise, word_errors};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, ensure, Context, Result};
use candle_core::Device;
use emoscope_models::cpu::matrix::Precision;
use emoscope_models::whisper::{TranscribeOptions, Whisper};
use serde::{Deserialize, Serialize};

use crate::bench_model::{in_workspace, workspace_root};

const LIBRIVOX: &str = "/usr/share/pocketsphinx/test/data/librivox";

/// Options of `bench asr`.
#[derive(clap::Args)]
pub struct Args {
    /// Whisper model folder in CTranslate2's layout (read by both sides);
    /// default: the installed tiny.en (`scripts/setup.sh`).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Threads for each side.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Timed runs per clip (after one warm-up); the median is reported.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Rounds of all four processes in turn; each clip keeps its best round.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Where the features are written.
    #[arg(long, default_value = "bench-out/asr")]
    out: PathBuf,
    /// Python interpreter with numpy and ctranslate2.
    #[arg(long, default_value = "python3")]
    python: String,
}

/// Options of the hidden worker.
#[derive(clap::Args)]
pub struct WorkerArgs {
    #[arg(long)]
    model: PathBuf,
    /// `f32` or `bf16` (the encoder's products; needs AVX512-BF16).
    #[arg(long, default_value = "f32")]
    precision: String,
    #[arg(long)]
    runs: usize,
    /// Feature files (`[n_mels, 3000]` raw little-endian f32).
    features: Vec<PathBuf>,
}

/// One clip's result from either side.
#[derive(Debug, Serialize, Deserialize)]
struct Clip {
    /// Median seconds of one window's greedy decode (encoder included).
    seconds: f64,
    /// Median seconds of the encoder alone.
    encode_seconds: f64,
    /// Generated tokens, timestamps included, end of text not.
    tokens: Vec<u32>,
}

/// What each worker prints.
#[derive(Debug, Serialize, Deserialize)]
struct Side {
    label: String,
    load_seconds: f64,
    clips: Vec<Clip>,
    #[serde(skip_deserializing, default)]
    peak_rss_mb: f64,
}

/// CTranslate2's side and the feature writer (functions of
/// `models/reference/whisper_ct2_greedy.py`).
const PYTHON: &str = r#"
import json, os, sys, time
import numpy as np
sys.path.insert(0, sys.argv[1])
from whisper_ct2_greedy import read_wav, transcribe_features
mode = sys.argv[2]
if mode == "features":
    n_mels, out = int(sys.argv[3]), sys.argv[4]
    for wav in sys.argv[5:]:
        name = os.path.splitext(os.path.basename(wav))[0]
        transcribe_features(read_wav(wav), n_mels).tofile(os.path.join(out, name + ".f32"))
else:
    import ctranslate2
    model_dir, compute_type, threads, runs, prompt = sys.argv[3:8]
    runs, prompt = int(runs), json.loads(prompt)
    t0 = time.perf_counter()
    model = ctranslate2.models.Whisper(model_dir, device="cpu", compute_type=compute_type,
                                       inter_threads=1, intra_threads=int(threads))
    load = time.perf_counter() - t0
    clips = []
    for path in sys.argv[8:]:
        x = np.fromfile(path, dtype=np.float32).reshape(1, model.n_mels, 3000)
        features = ctranslate2.StorageView.from_array(x)
        def generate():
            return model.generate(features, [prompt], beam_size=1, suppress_blank=True,
                                  suppress_tokens=[-1], max_initial_timestamp_index=50,
                                  return_no_speech_prob=True)[0]
        def timed(f):
            f()
            times = []
            for _ in range(runs):
                t0 = time.perf_counter()
                f()
                times.append(time.perf_counter() - t0)
            return sorted(times)[len(times) // 2]
        clips.append({"seconds": timed(generate),
                      "encode_seconds": timed(lambda: model.encode(features)),
                      "tokens": generate().sequences_ids[0]})
    print(json.dumps({"label": f"CTranslate2 {ctranslate2.__version__} {compute_type}",
                      "load_seconds": load, "clips": clips}))
"#;

/// Keeps each clip's fastest time in `best` and the highest peak memory;
/// the tokens must not change between rounds.
fn merge(best: &mut Option<Side>, side: Side) -> Result<()> {
    let Some(b) = best else {
        *best = Some(side);
        return Ok(());
    };
    for (i, (bc, c)) in b.clips.iter_mut().zip(side.clips).enumerate() {
        ensure!(
            bc.tokens == c.tokens,
            "{}: clip {i} decoded differently in another round",
            side.label
        );
        bc.seconds = bc.seconds.min(c.seconds);
        bc.encode_seconds = bc.encode_seconds.min(c.encode_seconds);
    }
    b.load_seconds = b.load_seconds.min(side.load_seconds);
    b.peak_rss_mb = b.peak_rss_mb.max(side.peak_rss_mb);
    Ok(())
}

/// `/proc/loadavg`'s first three fields.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(", "))
        .unwrap_or_else(|_| "unknown".into())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Runs `cmd` under `/usr/bin/time -v` and returns its last JSON line and its peak RSS in MB.
fn timed_json(cmd: &mut Command) -> Result<Side> {
    let program = cmd.get_program().to_owned();
    let cost = crate::bench_model::timed(cmd)?;
    let line = cost
        .stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .with_context(|| format!("no JSON from {program:?}: {}", cost.stdout))?;
    let mut side: Side = serde_json::from_str(line).with_context(|| format!("parsing {line}"))?;
    side.peak_rss_mb = cost.peak_rss_mb;
    Ok(side)
}

/// The clips and their reference transcripts (`transcription`: `<s> text </s> (file id)`).
fn clips() -> Result<Vec<(String, String)>> {
    let path = Path::new(LIBRIVOX).join("transcription");
    let listing = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "reading {} (Debian's pocketsphinx-testdata; scripts/setup.sh installs it)",
            path.display()
        )
    })?;
    listing
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (text, id) = l
                .rsplit_once('(')
                .with_context(|| format!("{}: no (file id) in {l:?}", path.display()))?;
            let text = text.replace("<s>", "").replace("</s>", "");
            Ok((
                id.trim().trim_end_matches(')').to_owned(),
                text.trim().to_owned(),
            ))
        })
        .collect()
}

fn cpu_name() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_default()
}

/// Entry point of `bench asr`.
pub fn run(args: Args) -> Result<()> {
    let model = match &args.model {
        Some(m) => m.clone(),
        None => emoscope::paths::default_asr_dir(),
    };
    ensure!(
        model.join("model.bin").exists(),
        "{} has no model.bin: bench asr needs a Whisper folder in CTranslate2's layout (scripts/setup.sh installs tiny.en)",
        model.display()
    );
    let whisper = Whisper::load(&model, &Device::Cpu)
        .with_context(|| format!("loading Whisper from {}", model.display()))?;
    let prompt = whisper.sot_sequence("en")?;
    let clips = clips()?;
    let out = in_workspace(&args.out);
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let reference_dir = workspace_root().join("models/reference");
    let wavs: Vec<PathBuf> = clips
        .iter()
        .map(|(id, _)| Path::new(LIBRIVOX).join(format!("{id}.wav")))
        .collect();
    let status = Command::new(&args.python)
        .args(["-c", PYTHON])
        .arg(&reference_dir)
        .arg("features")
        .arg(whisper.mel().n_mels().to_string())
        .arg(&out)
        .args(&wavs)
        .status()
        .context("running Python for the features (numpy needed)")?;
    ensure!(status.success(), "writing the features failed");
    let features: Vec<PathBuf> = clips
        .iter()
        .map(|(id, _)| out.join(format!("{id}.f32")))
        .collect();

    let threads = args.threads.to_string();
    let runs = args.runs.to_string();
    let exe = std::env::current_exe()?;
    let ours = |precision: &str| {
        timed_json(
            Command::new(&exe)
                .args(["bench-asr-worker", "--model"])
                .arg(&model)
                .args(["--precision", precision, "--runs", &runs])
                .args(&features)
                .env("RAYON_NUM_THREADS", &threads),
        )
    };
    let prompt_json = serde_json::to_string(&prompt)?;
    let theirs = |compute_type: &str| {
        timed_json(
            Command::new(&args.python)
                .args(["-c", PYTHON])
                .arg(&reference_dir)
                .arg("time")
                .arg(&model)
                .args([compute_type, &threads, &runs, &prompt_json])
                .args(&features)
                .env("OMP_NUM_THREADS", &threads),
        )
    };
    let bf16 = emoscope_models::cpu::bf16_available();
    if !bf16 {
        eprintln!("no AVX512-BF16 on this CPU: Emoscope's fastest precision is f32");
    }
    let load_before = load_average();
    // Rounds of the four processes in turn, so a change in the machine's
    // load falls on every side alike; each clip keeps its best round.
    let mut f32_ours: Option<Side> = None;
    let mut f32_ct2: Option<Side> = None;
    let mut fast: Option<Side> = None;
    let mut int8_ct2: Option<Side> = None;
    for round in 0..args.rounds {
        eprintln!("round {} of {}", round + 1, args.rounds);
        merge(&mut f32_ours, ours("f32")?)?;
        merge(&mut f32_ct2, theirs("float32")?)?;
        if bf16 {
            merge(&mut fast, ours("bf16")?)?;
        }
        merge(&mut int8_ct2, theirs("int8")?)?;
    }
    let load_after = load_average();
    let (f32_ours, f32_ct2, int8_ct2) = (
        f32_ours.context("no rounds")?,
        f32_ct2.context("no rounds")?,
        int8_ct2.context("no rounds")?,
    );

    let references: Vec<Vec<String>> = clips.iter().map(|(_, t)| normalise(t)).collect();
    let words: usize = references.iter().map(Vec::len).sum();
    let wer = |side: &Side| -> Result<(f64, Vec<String>)> {
        let mut errors = 0;
        let mut texts = Vec::new();
        for (clip, reference) in side.clips.iter().zip(&references) {
            let text = whisper.decode_text(&clip.tokens)?;
            errors += word_errors(reference, &normalise(&text));
            texts.push(text.trim().to_owned());
        }
        Ok((errors as f64 / words as f64, texts))
    };
    println!(
        "\nWhisper ({}), five LibriVox clips (one 30 s window each), CPU, {} threads per side; \
         per clip the median of {} runs, the best of {} rounds\n",
        model.display(),
        args.threads,
        args.runs,
        args.rounds
    );
    let pairs: Vec<(&Side, &Side)> = match &fast {
        Some(bf16) => vec![(&f32_ours, &f32_ct2), (bf16, &int8_ct2)],
        None => vec![(&f32_ours, &f32_ct2), (&f32_ours, &int8_ct2)],
    };
    println!("| clip | audio s | {} |", {
        let mut cols = Vec::new();
        for (a, b) in &pairs {
            cols.push(format!("{} s | {} s | ratio", a.label, b.label));
        }
        cols.join(" | ")
    });
    println!("|---|---|{}", "---|---|---|".repeat(pairs.len()));
    for (i, (id, _)) in clips.iter().enumerate() {
        let audio = hound_seconds(&wavs[i])?;
        let mut row = format!("| {id} | {audio:.2} |");
        for (a, b) in &pairs {
            row.push_str(&format!(
                " {:.3} | {:.3} | {:.2}x |",
                a.clips[i].seconds,
                b.clips[i].seconds,
                a.clips[i].seconds / b.clips[i].seconds
            ));
        }
        println!("{row}");
    }
    let total = |s: &Side| s.clips.iter().map(|c| c.seconds).sum::<f64>();
    let enc = |s: &Side| s.clips.iter().map(|c| c.encode_seconds).sum::<f64>();
    let mut row = "| **total** | |".to_owned();
    for (a, b) in &pairs {
        row.push_str(&format!(
            " {:.3} | {:.3} | **{:.2}x** |",
            total(a),
            total(b),
            total(a) / total(b)
        ));
    }
    println!("{row}");

    println!(
        "\n| implementation | total s | encoder s (of total) | decoding s | WER | tokens = CTranslate2 float32 | load s | peak RSS MB |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let mut sides = vec![&f32_ours];
    sides.extend(fast.as_ref());
    sides.extend([&f32_ct2, &int8_ct2]);
    for s in &sides {
        let (w, _) = wer(s)?;
        let same = s
            .clips
            .iter()
            .zip(&f32_ct2.clips)
            .filter(|(a, b)| a.tokens == b.tokens)
            .count();
        println!(
            "| {} | {:.3} | {:.3} | {:.3} | {:.1} % | {same} of {} clips | {:.2} | {:.0} |",
            s.label,
            total(s),
            enc(s),
            total(s) - enc(s),
            100.0 * w,
            s.clips.len(),
            s.load_seconds,
            s.peak_rss_mb
        );
    }
    for s in &sides {
        let (_, texts) = wer(s)?;
        eprintln!("{}:", s.label);
        for t in texts {
            eprintln!("  {t}");
        }
    }
    println!(
        "\nCPU: {}; {words} reference words; load average (1, 5, 15 min) {load_before} before, {load_after} after.",
        cpu_name()
    );
    Ok(())
}

/// Seconds of a 16 kHz mono WAV (from its size: 44-byte header, 16-bit samples).
fn hound_seconds(wav: &Path) -> Result<f64> {
    let len = std::fs::metadata(wav)
        .with_context(|| format!("reading {}", wav.display()))?
        .len();
    Ok(len.saturating_sub(44) as f64 / 2.0 / 16_000.0)
}

/// Entry point of the hidden `bench-asr-worker`: load, then time each clip.
pub fn worker(args: WorkerArgs) -> Result<()> {
    let precision = match args.precision.as_str() {
        "f32" => Precision::F32,
        "bf16" => Precision::Bf16,
        p => bail!("unknown precision {p} (f32 or bf16)"),
    };
    let t0 = Instant::now();
    let mut whisper = Whisper::load(&args.model, &Device::Cpu)
        .with_context(|| format!("loading Whisper from {}", args.model.display()))?;
    whisper.model_mut().set_cpu_precision(precision)?;
    let load_seconds = t0.elapsed().as_secs_f64();
    let opts = TranscribeOptions::greedy();
    let n = whisper.mel().n_mels() * emoscope_models::whisper::audio::N_FRAMES;
    let mut clips = Vec::new();
    for path in &args.features {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        ensure!(
            bytes.len() == 4 * n,
            "{}: {} bytes, expected {n} f32 values",
            path.display(),
            bytes.len()
        );
        let features: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let decode = || -> Result<Vec<u32>> {
            let states = whisper.encode_window(&features)?;
            Ok(whisper.decode_greedy(&states, &[], &opts)?.tokens)
        };
        let timed = |f: &dyn Fn() -> Result<()>| -> Result<f64> {
            f()?;
            let mut times = Vec::with_capacity(args.runs);
            for _ in 0..args.runs {
                let t0 = Instant::now();
                f()?;
                times.push(t0.elapsed().as_secs_f64());
            }
            Ok(median(times))
        };
        let seconds = timed(&|| decode().map(drop))?;
        let encode_seconds = timed(&|| {
            whisper
                .encode_window(&features)
                .map(drop)
                .map_err(Into::into)
        })?;
        clips.push(Clip {
            seconds,
            encode_seconds,
            tokens: decode()?,
        });
    }
    let label = match precision {
        Precision::F32 => "Emoscope f32".to_owned(),
        Precision::Bf16 if emoscope_models::cpu::bf16_available() => {
            "Emoscope bf16 encoder (AVX512-BF16 products)".to_owned()
        }
        Precision::Bf16 => "Emoscope f32 (bf16 asked, no AVX512-BF16)".to_owned(),
    };
    let side = Side {
        label,
        load_seconds,
        clips,
        peak_rss_mb: 0.0,
    };
    println!("{}", serde_json::to_string(&side)?);
    Ok(())
}
