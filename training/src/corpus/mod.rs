//! A reproducible synthetic emotional-speech corpus, made offline with
//! espeak-ng and sox, whose labels are known by construction.
//!
//! Each utterance is one sentence of a matched positive / negative pair
//! ([`sentences`]) spoken by one of several espeak-ng voices with three
//! independent prosody factors `zp, zr, ze ~ U[0, 1]`, each realised by cues
//! that survive level normalisation (what real speech-emotion models hear):
//!
//! - pitch level: `espeak-ng -p (20 + 60·zp)`;
//! - tempo: `espeak-ng -s (130 + 110·zr)` words per minute, with pauses
//!   between words shrinking as tempo rises (`-g`, `6·(1 − zr)` × 10 ms);
//! - vocal effort: a wider pitch range (SSML `<prosody range>`, 40 % to
//!   200 %) and a flatter spectral tilt (`sox treble`, −9 dB to +9 dB shelf
//!   at 1.5 kHz), both from `ze`.
//!
//! Labels: `arousal = (zp + zr + ze) / 3`, `dominance = (2·ze + 1 − zp) / 3`,
//! `valence = 0.8` for the positive sentence and `0.2` for the negative one;
//! nothing else influences valence, so it lives in the words only. The factor
//! values written to the labels are the ones actually used (espeak takes whole
//! numbers for pitch, rate and range). Dominance weights effort twice as
//! much as (low) pitch: a pitch level only means something against the
//! voice's own register, which a model must guess for an unknown voice,
//! while effort shows in any voice.
//!
//! Level and channel carry no label information: every utterance is drawn a
//! channel independently of its labels — studio, telephone (300–3400 Hz band,
//! an 8 kHz file) or room (sox `reverb`) — white noise at 10–30 dB SNR for
//! half of them, a source rate (8 kHz for telephone, else 16 or 44.1 kHz) and
//! a peak level of −30…−1 dBFS.
//!
//! Splits: the test split uses held-out voices *and* held-out sentence
//! pairs; the dev split uses the training voices with its own held-out pairs.
//! Output (mono 16-bit WAV at the source rate, `sox -R` and seeded noise so
//! every byte is reproducible from the seed): `audio/<split>/<id>.wav` with its
//! transcript `<id>.txt`, manifests `train.csv`, `dev.csv`, `test.csv`
//! (`audio,transcript,arousal,valence,dominance`, paths relative to the corpus
//! directory) and `corpus.json` with every utterance's voice, sentence,
//! factors and channel.

pub mod prosody;
pub mod sentences;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// espeak-ng voices (language + variant); the ones at [`TEST_VOICES`] are held out for testing.
pub const VOICES: [&str; 8] = [
    "en-us",
    "en-us+f3",
    "en-gb",
    "en-gb+f2",
    "en-gb-scotland+m3",
    "en-gb-x-rp+f4",
    "en-029",
    "en-gb-x-gbcwmd+m5",
];

/// Indices into [`VOICES`] of the test voices.
pub const TEST_VOICES: [usize; 2] = [3, 6];

/// Valence of positive and negative sentences.
pub const VALENCE_POSITIVE: f32 = 0.8;
/// Valence of negative sentences.
pub const VALENCE_NEGATIVE: f32 = 0.2;

/// How big a corpus to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorpusSize {
    /// Sentence pairs in train / dev / test (disjoint).
    pub pairs: [usize; 3],
    /// Renditions (independent prosody draws) of each sentence per voice, per split.
    pub renditions: [usize; 3],
}

impl CorpusSize {
    /// The corpus the demo model trains on: 48 / 12 / 12 pairs; 1728 train,
    /// 144 dev and 192 test utterances.
    pub const FULL: Self = Self {
        pairs: [48, 12, 12],
        renditions: [3, 1, 4],
    };
    /// A reduced corpus for CI tests: 16 / 4 / 6 pairs; 384 train, 96 dev, 96 test utterances.
    pub const CI: Self = Self {
        pairs: [16, 4, 6],
        renditions: [2, 2, 4],
    };
}

/// One of the three splits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// Training voices, training pairs.
    Train,
    /// Training voices, held-out pairs.
    Dev,
    /// Held-out voices, held-out pairs.
    Test,
}

impl Split {
    /// The split's name (directory and manifest stem).
    pub fn name(self) -> &'static str {
        match self {
            Self::Train => "train",
            Self::Dev => "dev",
            Self::Test => "test",
        }
    }
}

/// How an utterance was recorded: colouring that carries no label information.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    /// As espeak-ng made it.
    Studio,
    /// Band-limited to 300–3400 Hz and stored at 8 kHz.
    Telephone,
    /// A small room's reverberation (sox `reverb`).
    Room,
}

/// Everything about one utterance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Utterance {
    /// File stem, unique in the corpus.
    pub id: String,
    /// Its split.
    pub split: Split,
    /// espeak-ng voice.
    pub voice: String,
    /// Index of the sentence pair.
    pub pair: usize,
    /// Whether the positive sentence was spoken.
    pub positive: bool,
    /// The sentence.
    pub text: String,
    /// espeak-ng pitch (0-99).
    pub pitch: u32,
    /// espeak-ng rate, words per minute.
    pub rate: u32,
    /// espeak-ng word gap, units of 10 ms.
    pub word_gap: u32,
    /// SSML pitch range, percent of the voice's own.
    pub pitch_range: u32,
    /// Treble shelf gain at 1.5 kHz, dB (spectral tilt).
    pub tilt_db: f32,
    /// Channel colouring.
    pub channel: Channel,
    /// Signal-to-noise ratio of the added white noise, dB (`None`: no noise).
    pub snr_db: Option<f32>,
    /// Sample rate of the written file.
    pub sample_rate: u32,
    /// Peak level of the written file, dBFS.
    pub level_db: f32,
    /// Seed of the noise.
    pub noise_seed: u64,
    /// Pitch factor actually used, `(pitch − 20) / 60`.
    pub zp: f32,
    /// Tempo factor actually used, `(rate − 130) / 110`.
    pub zr: f32,
    /// Effort factor actually used, `(pitch_range − 40) / 160`.
    pub ze: f32,
    /// `(zp + zr + ze) / 3`.
    pub arousal: f32,
    /// 0.8 or 0.2, by sentence polarity.
    pub valence: f32,
    /// `(2·ze + 1 − zp) / 3`.
    pub dominance: f32,
}

/// What `corpus.json` records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CorpusInfo {
    /// The seed everything was drawn from.
    pub seed: u64,
    /// The size preset used.
    pub size: CorpusSize,
    /// Every utterance.
    pub utterances: Vec<Utterance>,
}

/// Why the corpus could not be made.
#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    /// espeak-ng or sox is missing.
    #[error("`{0}` was not found; install it (Debian/Ubuntu: sudo apt-get install espeak-ng sox)")]
    MissingTool(&'static str),
    /// A tool ran and failed.
    #[error("{tool} failed for utterance {id}: {message}")]
    Tool {
        /// Which tool.
        tool: &'static str,
        /// The utterance.
        id: String,
        /// Its stderr.
        message: String,
    },
    /// Writing an output failed.
    #[error("writing {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// Draws every utterance of a corpus (no audio yet). Deterministic in `seed`.
pub fn plan(seed: u64, size: CorpusSize) -> Vec<Utterance> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let pairs = sentences::pairs();
    let mut order: Vec<usize> = (0..pairs.len()).collect();
    order.shuffle(&mut rng);
    let [n_train, n_dev, n_test] = size.pairs;
    assert!(
        n_train + n_dev + n_test <= pairs.len(),
        "the corpus has {} sentence pairs",
        pairs.len()
    );
    let split_pairs = [
        (Split::Train, &order[..n_train]),
        (Split::Dev, &order[n_train..n_train + n_dev]),
        (
            Split::Test,
            &order[n_train + n_dev..n_train + n_dev + n_test],
        ),
    ];
    let mut out = Vec::new();
    for (s, (split, pair_ids)) in split_pairs.into_iter().enumerate() {
        let mut count = 0usize;
        let voices: Vec<usize> = (0..VOICES.len())
            .filter(|v| TEST_VOICES.contains(v) == (split == Split::Test))
            .collect();
        for &pair in pair_ids {
            for &voice in &voices {
                for positive in [true, false] {
                    for _ in 0..size.renditions[s] {
                        let (zp, zr, ze): (f64, f64, f64) =
                            (rng.random(), rng.random(), rng.random());
                        let pitch = (20.0 + 60.0 * zp).round() as u32;
                        let rate = (130.0 + 110.0 * zr).round() as u32;
                        let pitch_range = (40.0 + 160.0 * ze).round() as u32;
                        let (zp, zr, ze) = (
                            (pitch as f32 - 20.0) / 60.0,
                            (rate as f32 - 130.0) / 110.0,
                            (pitch_range as f32 - 40.0) / 160.0,
                        );
                        let word_gap = (6.0 * (1.0 - zr)).round() as u32;
                        let tilt_db = ((-9.0 + 18.0 * ze) * 10.0).round() / 10.0;
                        // The recording: independent of every label.
                        let channel = match rng.random_range(0..5) {
                            0 => Channel::Telephone,
                            1 => Channel::Room,
                            _ => Channel::Studio,
                        };
                        let snr_db = rng
                            .random_bool(0.5)
                            .then(|| (rng.random_range(10.0f32..30.0) * 10.0).round() / 10.0);
                        let sample_rate = match channel {
                            Channel::Telephone => 8_000,
                            _ if rng.random_bool(0.5) => 44_100,
                            _ => 16_000,
                        };
                        let level_db = (rng.random_range(-30.0f32..-1.0) * 100.0).round() / 100.0;
                        let noise_seed = rng.random();
                        let p = &pairs[pair];
                        out.push(Utterance {
                            id: format!("{}-{count:04}", split.name()),
                            split,
                            voice: VOICES[voice].to_owned(),
                            pair,
                            positive,
                            text: if positive {
                                p.positive.clone()
                            } else {
                                p.negative.clone()
                            },
                            pitch,
                            rate,
                            word_gap,
                            pitch_range,
                            tilt_db,
                            channel,
                            snr_db,
                            sample_rate,
                            level_db,
                            noise_seed,
                            zp,
                            zr,
                            ze,
                            arousal: (zp + zr + ze) / 3.0,
                            valence: if positive {
                                VALENCE_POSITIVE
                            } else {
                                VALENCE_NEGATIVE
                            },
                            dominance: (2.0 * ze + 1.0 - zp) / 3.0,
                        });
                        count += 1;
                    }
                }
            }
        }
    }
    out
}

fn tool_available(tool: &'static str) -> Result<(), CorpusError> {
    match Command::new(tool).arg("--version").output() {
        Ok(_) => Ok(()),
        Err(_) => Err(CorpusError::MissingTool(tool)),
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CorpusError + '_ {
    move |source| CorpusError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The relative path of an utterance's audio inside the corpus directory.
pub fn audio_path(u: &Utterance) -> String {
    format!("audio/{}/{}.wav", u.split.name(), u.id)
}

/// `text` with the characters XML gives a meaning escaped, for SSML.
fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Runs `cmd`, turning a missing program or a failure into a [`CorpusError`].
fn run_tool(tool: &'static str, id: &str, cmd: &mut Command) -> Result<(), CorpusError> {
    let res = cmd.output().map_err(|_| CorpusError::MissingTool(tool))?;
    if res.status.success() {
        Ok(())
    } else {
        Err(CorpusError::Tool {
            tool,
            id: id.to_owned(),
            message: String::from_utf8_lossy(&res.stderr).into_owned(),
        })
    }
}

/// Mean power of the active frames of `x` (20 ms frames within 35 dB of the
/// loudest), the speech level the noise is set against.
fn active_power(x: &[f32], rate: u32) -> f64 {
    let frame = (rate as usize / 50).max(1);
    let powers: Vec<f64> = x
        .chunks(frame)
        .map(|f| f.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / f.len() as f64)
        .collect();
    let loudest = powers.iter().copied().fold(0.0, f64::max);
    let active: Vec<f64> = powers
        .into_iter()
        .filter(|&p| p > loudest * 10f64.powf(-3.5))
        .collect();
    if active.is_empty() {
        0.0
    } else {
        active.iter().sum::<f64>() / active.len() as f64
    }
}

/// Renders one utterance: espeak-ng (pitch, rate, word gap, SSML pitch range)
/// to a temporary WAV; sox for the spectral tilt, the channel and the source
/// rate, in 32-bit float; then, here, the seeded noise at its SNR and the
/// peak level, written as 16-bit.
fn render(u: &Utterance, out_dir: &Path, tmp: &Path) -> Result<(), CorpusError> {
    let raw = tmp.join(format!("{}.espeak.wav", u.id));
    let coloured = tmp.join(format!("{}.f32.wav", u.id));
    let ssml = format!(
        "<speak><prosody range=\"{}%\">{}</prosody></speak>",
        u.pitch_range,
        xml_escape(&u.text)
    );
    run_tool(
        "espeak-ng",
        &u.id,
        Command::new("espeak-ng")
            .args(["-m", "-v", &u.voice])
            .args(["-p", &u.pitch.to_string()])
            .args(["-s", &u.rate.to_string()])
            .args(["-g", &u.word_gap.to_string(), "-w"])
            .arg(&raw)
            .arg(&ssml),
    )?;
    // -R: repeatable output; -D: no dither.
    let mut sox = Command::new("sox");
    sox.args(["-R", "-D"])
        .arg(&raw)
        .args(["-b", "32", "-e", "floating-point", "-c", "1"])
        .arg(&coloured)
        .args(["treble", &format!("{:.1}", u.tilt_db), "1500"]);
    match u.channel {
        Channel::Studio => {}
        Channel::Telephone => {
            sox.args(["sinc", "300-3400"]);
        }
        Channel::Room => {
            sox.args(["reverb", "40", "50", "40"]);
        }
    }
    sox.args(["rate", "-h", &u.sample_rate.to_string()]);
    let result = run_tool("sox", &u.id, &mut sox);
    let _ = std::fs::remove_file(&raw);
    result?;
    let mut x: Vec<f32> = hound::WavReader::open(&coloured)
        .and_then(|r| r.into_samples::<f32>().collect())
        .map_err(|e| CorpusError::Io {
            path: coloured.clone(),
            source: std::io::Error::other(e),
        })?;
    let _ = std::fs::remove_file(&coloured);
    if let Some(snr) = u.snr_db {
        let sigma2 = active_power(&x, u.sample_rate) / 10f64.powf(f64::from(snr) / 10.0);
        // Uniform white noise: variance a² / 3.
        let a = (3.0 * sigma2).sqrt() as f32;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(u.noise_seed);
        for v in &mut x {
            *v += rng.random_range(-a..=a);
        }
    }
    let peak = x.iter().fold(0f32, |m, v| m.max(v.abs()));
    let gain = if peak > 0.0 {
        10f32.powf(u.level_db / 20.0) / peak
    } else {
        0.0
    };
    let wav = out_dir.join(audio_path(u));
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: u.sample_rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let write = || -> Result<(), hound::Error> {
        let mut w = hound::WavWriter::create(&wav, spec)?;
        for v in &x {
            w.write_sample((v * gain * 32767.0).round().clamp(-32768.0, 32767.0) as i16)?;
        }
        w.finalize()
    };
    write().map_err(|e| CorpusError::Io {
        path: wav.clone(),
        source: std::io::Error::other(e),
    })?;
    let txt = wav.with_extension("txt");
    std::fs::write(&txt, format!("{}\n", u.text)).map_err(io(&txt))
}

/// Makes the corpus in `out_dir` with `threads` parallel renderers (0: all
/// cores). Returns what `corpus.json` records.
pub fn generate(
    out_dir: &Path,
    seed: u64,
    size: CorpusSize,
    threads: usize,
) -> Result<CorpusInfo, CorpusError> {
    tool_available("espeak-ng")?;
    tool_available("sox")?;
    let utterances = plan(seed, size);
    for split in [Split::Train, Split::Dev, Split::Test] {
        let d = out_dir.join("audio").join(split.name());
        std::fs::create_dir_all(&d).map_err(io(&d))?;
    }
    let tmp = out_dir.join(".tmp");
    std::fs::create_dir_all(&tmp).map_err(io(&tmp))?;
    let threads = if threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        threads
    };
    let next = AtomicUsize::new(0);
    let first_error: Mutex<Option<CorpusError>> = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= utterances.len()
                    || first_error
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .is_some()
                {
                    return;
                }
                if let Err(e) = render(&utterances[i], out_dir, &tmp) {
                    first_error
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .get_or_insert(e);
                    return;
                }
            });
        }
    });
    if let Some(e) = first_error.into_inner().unwrap_or_else(|e| e.into_inner()) {
        return Err(e);
    }
    let _ = std::fs::remove_dir_all(&tmp);
    for split in [Split::Train, Split::Dev, Split::Test] {
        let path = out_dir.join(format!("{}.csv", split.name()));
        let mut w = csv::Writer::from_path(&path).map_err(|e| CorpusError::Io {
            path: path.clone(),
            source: e.into(),
        })?;
        let csv_err = |e: csv::Error| CorpusError::Io {
            path: path.clone(),
            source: e.into(),
        };
        w.write_record(["audio", "transcript", "arousal", "valence", "dominance"])
            .map_err(csv_err)?;
        for u in utterances.iter().filter(|u| u.split == split) {
            let audio = audio_path(u);
            let transcript = audio.replace(".wav", ".txt");
            w.write_record([
                audio,
                transcript,
                u.arousal.to_string(),
                u.valence.to_string(),
                u.dominance.to_string(),
            ])
            .map_err(csv_err)?;
        }
        w.flush().map_err(io(&path))?;
    }
    let info = CorpusInfo {
        seed,
        size,
        utterances,
    };
    let path = out_dir.join("corpus.json");
    let text = serde_json::to_string_pretty(&info).expect("corpus info serialises") + "\n";
    std::fs::write(&path, text).map_err(io(&path))?;
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_is_deterministic_and_splits_hold_out_voices_and_pairs() {
        let a = plan(7, CorpusSize::CI);
        assert_eq!(a, plan(7, CorpusSize::CI));
        assert_ne!(a, plan(8, CorpusSize::CI));
        let of = |s: Split| a.iter().filter(move |u| u.split == s);
        // Pairs x voices x 2 polarities x renditions.
        assert_eq!(of(Split::Train).count(), 16 * 6 * 2 * 2);
        assert_eq!(of(Split::Dev).count(), 4 * 6 * 2 * 2);
        assert_eq!(of(Split::Test).count(), 6 * 2 * 2 * 4);
        let pairs = |s: Split| {
            of(s)
                .map(|u| u.pair)
                .collect::<std::collections::BTreeSet<_>>()
        };
        let voices = |s: Split| {
            of(s)
                .map(|u| u.voice.clone())
                .collect::<std::collections::BTreeSet<_>>()
        };
        assert!(pairs(Split::Test).is_disjoint(&pairs(Split::Train)));
        assert!(pairs(Split::Test).is_disjoint(&pairs(Split::Dev)));
        assert!(pairs(Split::Dev).is_disjoint(&pairs(Split::Train)));
        assert!(voices(Split::Test).is_disjoint(&voices(Split::Train)));
        assert_eq!(voices(Split::Dev), voices(Split::Train));
    }

    #[test]
    fn labels_follow_the_factors_actually_used() {
        for u in plan(3, CorpusSize::CI) {
            assert_eq!(u.pitch as f32, 20.0 + 60.0 * u.zp);
            assert!((u.rate as f32 - (130.0 + 110.0 * u.zr)).abs() < 1e-3);
            assert!((u.pitch_range as f32 - (40.0 + 160.0 * u.ze)).abs() < 1e-3);
            assert!((u.tilt_db - (-9.0 + 18.0 * u.ze)).abs() <= 0.05 + 1e-4);
            assert_eq!(u.word_gap, (6.0 * (1.0 - u.zr)).round() as u32);
            assert!((u.arousal - (u.zp + u.zr + u.ze) / 3.0).abs() < 1e-6);
            assert!((u.dominance - (2.0 * u.ze + 1.0 - u.zp) / 3.0).abs() < 1e-6);
            assert_eq!(u.valence, if u.positive { 0.8 } else { 0.2 });
            assert!([u.zp, u.zr, u.ze].iter().all(|z| (0.0..=1.0).contains(z)));
            assert!((-30.0..=-1.0).contains(&u.level_db));
            assert!(u.snr_db.is_none_or(|s| (10.0..=30.0).contains(&s)));
            assert_eq!(u.sample_rate == 8_000, u.channel == Channel::Telephone);
        }
    }

    #[test]
    fn level_and_channel_are_drawn_apart_from_the_labels() {
        // Over the full plan (2064 utterances, so chance correlations have a
        // standard deviation of about 0.022), the recording's level and noise
        // are uncorrelated with arousal and dominance, and every channel and
        // rate occurs.
        let u = plan(11, CorpusSize::FULL);
        let r = |x: &dyn Fn(&Utterance) -> f64, y: &dyn Fn(&Utterance) -> f64| {
            let n = u.len() as f64;
            let (mx, my) = (
                u.iter().map(x).sum::<f64>() / n,
                u.iter().map(y).sum::<f64>() / n,
            );
            let cov: f64 = u.iter().map(|v| (x(v) - mx) * (y(v) - my)).sum();
            let vx: f64 = u.iter().map(|v| (x(v) - mx).powi(2)).sum();
            let vy: f64 = u.iter().map(|v| (y(v) - my).powi(2)).sum();
            cov / (vx * vy).sqrt()
        };
        let level = |v: &Utterance| f64::from(v.level_db);
        let noisy = |v: &Utterance| f64::from(u8::from(v.snr_db.is_some()));
        for (name, label) in [
            (
                "arousal",
                &(|v: &Utterance| f64::from(v.arousal)) as &dyn Fn(&Utterance) -> f64,
            ),
            ("dominance", &|v: &Utterance| f64::from(v.dominance)),
        ] {
            for (what, x) in [
                ("level", &level as &dyn Fn(&Utterance) -> f64),
                ("noise", &noisy),
            ] {
                let c = r(x, label);
                assert!(c.abs() < 0.08, "{what} against {name}: r = {c}");
            }
        }
        for rate in [8_000, 16_000, 44_100] {
            assert!(u.iter().any(|v| v.sample_rate == rate), "{rate}");
        }
        for ch in [Channel::Studio, Channel::Telephone, Channel::Room] {
            assert!(u.iter().any(|v| v.channel == ch), "{ch:?}");
        }
    }
}
