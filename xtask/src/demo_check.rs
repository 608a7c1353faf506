//! `cargo xtask demo-check`: how the demo model (or any model) behaves on
//! what it should ignore, measured as issue 18 asks: on the synthetic
//! corpus's held-out test split, how far arousal and dominance move when the
//! recording is 12 dB quieter or louder, or starts 10 ms later, and when a
//! transcript is added; and on real recordings from Debian packages (the
//! LibriVox clips of `pocketsphinx-testdata`, a few Asterisk prompts),
//! their readings at −12, 0 and +12 dB and 10 ms later.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use emoscope::engine::{load_predictor, EmotionPredictor};
use emoscope::Emotion;
use emoscope_training::manifest::read_manifest;

/// Arguments of `demo-check`.
#[derive(clap::Args)]
pub struct Args {
    /// The model (default: the installed default model).
    #[arg(long)]
    model: Option<PathBuf>,
    /// The synthetic corpus whose `test.csv` is measured.
    #[arg(long, default_value = "target/corpus")]
    corpus: PathBuf,
}

/// LibriVox read speech with its reference transcripts.
const LIBRIVOX: &str = "/usr/share/pocketsphinx/test/data/librivox";
/// Telephone prompts (8 kHz), calmly read.
const ASTERISK: &str = "/usr/share/asterisk/sounds/en_US_f_Allison";
const PROMPTS: [&str; 4] = [
    "privacy-prompt",
    "cancelled",
    "vm-goodbye",
    "conf-onlyperson",
];

fn scaled(x: &[f32], db: f32) -> Vec<f32> {
    let g = 10f32.powf(db / 20.0);
    x.iter().map(|v| v * g).collect()
}

/// The same signal starting `seconds` later (its first samples dropped).
fn later(x: &[f32], rate: u32, seconds: f64) -> &[f32] {
    &x[((seconds * f64::from(rate)) as usize).min(x.len())..]
}

fn mean_abs(a: &[Emotion], b: &[Emotion], f: fn(&Emotion) -> f32) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| f64::from((f(x) - f(y)).abs()))
        .sum::<f64>()
        / a.len().max(1) as f64
}

/// The measurements (see the module docs).
pub fn run(args: Args) -> Result<()> {
    let dir = args
        .model
        .unwrap_or_else(emoscope::paths::default_model_dir);
    let mut model: Box<dyn EmotionPredictor> = load_predictor(&dir, &candle_core::Device::Cpu)
        .with_context(|| format!("loading {}", dir.display()))?;
    let rate = model.sample_rate();
    let test = args.corpus.join("test.csv");
    let examples = read_manifest(&test).with_context(|| format!("reading {}", test.display()))?;
    let mut predict = |x: &[f32], text: &str| -> Result<Emotion> { Ok(model.predict(x, text)?) };
    let mut rows: Vec<[Emotion; 5]> = Vec::new();
    for e in &examples {
        let x = emoscope::audio::load_mono(&e.audio, rate)?;
        rows.push([
            predict(&x, &e.transcript)?,
            predict(&scaled(&x, -12.0), &e.transcript)?,
            predict(&scaled(&x, 12.0), &e.transcript)?,
            predict(later(&x, rate, 0.01), &e.transcript)?,
            predict(&x, "")?,
        ]);
    }
    let col = |k: usize| rows.iter().map(|r| r[k]).collect::<Vec<_>>();
    let (base, quiet, loud, shifted, bare) = (col(0), col(1), col(2), col(3), col(4));
    println!(
        "{} ({} test utterances, {}), mean |change| of arousal / dominance:",
        dir.display(),
        rows.len(),
        test.display()
    );
    for (what, other) in [
        ("-12 dB", &quiet),
        ("+12 dB", &loud),
        ("10 ms later", &shifted),
        ("no transcript", &bare),
    ] {
        println!(
            "  {what:<14} {:.4} / {:.4}",
            mean_abs(&base, other, |e| e.arousal),
            mean_abs(&base, other, |e| e.dominance)
        );
    }
    println!("\nreal recordings: arousal at -12 / 0 / +12 dB and 0 dB 10 ms later (valence, dominance at 0 dB; no transcript)");
    let mut files: Vec<PathBuf> = std::fs::read_dir(LIBRIVOX)
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "wav"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files.extend(
        PROMPTS
            .iter()
            .map(|p| Path::new(ASTERISK).join(format!("{p}.wav"))),
    );
    let mut moved = Vec::new();
    for f in files.iter().filter(|f| f.is_file()) {
        let x = emoscope::audio::load_mono(f, rate)?;
        let r = [
            predict(&scaled(&x, -12.0), "")?,
            predict(&x, "")?,
            predict(&scaled(&x, 12.0), "")?,
            predict(later(&x, rate, 0.01), "")?,
        ];
        moved.push(
            [&r[0], &r[2], &r[3]]
                .iter()
                .map(|e| (e.arousal - r[1].arousal).abs())
                .fold(0f32, f32::max),
        );
        println!(
            "  {:<44} {:.3} / {:.3} / {:.3}, {:.3}   V {:.3} D {:.3}",
            f.file_stem().unwrap_or_default().to_string_lossy(),
            r[0].arousal,
            r[1].arousal,
            r[2].arousal,
            r[3].arousal,
            r[1].valence,
            r[1].dominance
        );
    }
    if !moved.is_empty() {
        println!(
            "  largest arousal change of any recording: {:.3}",
            moved.iter().copied().fold(0f32, f32::max)
        );
    } else {
        println!(
            "  (none found: apt-get install pocketsphinx-testdata asterisk-core-sounds-en-wav)"
        );
    }
    Ok(())
}
