//! A reproducible synthetic emotional-speech corpus, made offline with
//! espeak-ng and sox, whose labels are known by construction.
//!
//! Each utterance is one sentence of a matched positive / negative pair
//! ([`sentences`]) spoken by one of several espeak-ng voices with three
//! independent prosody factors `zp, zr, zl ~ U[0, 1]`:
//!
//! - pitch: `espeak-ng -p (20 + 60·zp)`;
//! - rate: `espeak-ng -s (130 + 110·zr)` words per minute;
//! - loudness: `sox … norm (−18 + 15·zl)`, i.e. peak-normalised to that level
//!   in dBFS (espeak's own amplitude and SSML volume are weakly honoured).
//!
//! Labels: `arousal = (zp + zr + zl) / 3`, `dominance = (zl + 1 − zp) / 2`,
//! `valence = 0.8` for the positive sentence and `0.2` for the negative one;
//! nothing else influences valence, so it lives in the words only. The factor
//! values written to the labels are the ones actually used (espeak takes whole
//! numbers for pitch and rate, sox a gain with two decimals).
//!
//! Splits: the test split uses held-out voices *and* held-out sentence
//! pairs; the dev split uses the training voices with its own held-out pairs.
//! Output (16 kHz mono 16-bit WAV, `sox -R` so every byte is reproducible from
//! the seed): `audio/<split>/<id>.wav` with its transcript `<id>.txt`,
//! manifests `train.csv`, `dev.csv`, `test.csv` (`audio,transcript,arousal,
//! valence,dominance`, paths relative to the corpus directory) and
//! `corpus.json` with every utterance's voice, sentence and factors.

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
    /// A reduced corpus for CI tests: 16 / 4 / 6 pairs; 192 train, 48 dev, 48 test utterances.
    pub const CI: Self = Self {
        pairs: [16, 4, 6],
        renditions: [1, 1, 2],
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
    /// Peak level in dBFS after normalisation.
    pub gain_db: f32,
    /// Pitch factor actually used, `(pitch − 20) / 60`.
    pub zp: f32,
    /// Rate factor actually used, `(rate − 130) / 110`.
    pub zr: f32,
    /// Loudness factor actually used, `(gain_db + 18) / 15`.
    pub zl: f32,
    /// `(zp + zr + zl) / 3`.
    pub arousal: f32,
    /// 0.8 or 0.2, by sentence polarity.
    pub valence: f32,
    /// `(zl + 1 − zp) / 2`.
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
                        let (zp, zr, zl): (f64, f64, f64) =
                            (rng.random(), rng.random(), rng.random());
                        let pitch = (20.0 + 60.0 * zp).round() as u32;
                        let rate = (130.0 + 110.0 * zr).round() as u32;
                        let gain_db = ((-18.0 + 15.0 * zl) * 100.0).round() as f32 / 100.0;
                        let (zp, zr, zl) = (
                            (pitch as f32 - 20.0) / 60.0,
                            (rate as f32 - 130.0) / 110.0,
                            (gain_db + 18.0) / 15.0,
                        );
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
                            gain_db,
                            zp,
                            zr,
                            zl,
                            arousal: (zp + zr + zl) / 3.0,
                            valence: if positive {
                                VALENCE_POSITIVE
                            } else {
                                VALENCE_NEGATIVE
                            },
                            dominance: (zl + 1.0 - zp) / 2.0,
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

/// Renders one utterance: espeak-ng to a temporary WAV, then sox to 16 kHz
/// mono 16-bit, peak-normalised to `gain_db`.
fn render(u: &Utterance, out_dir: &Path, tmp: &Path) -> Result<(), CorpusError> {
    let raw = tmp.join(format!("{}.espeak.wav", u.id));
    let res = Command::new("espeak-ng")
        .args([
            "-v",
            &u.voice,
            "-p",
            &u.pitch.to_string(),
            "-s",
            &u.rate.to_string(),
            "-w",
        ])
        .arg(&raw)
        .arg(&u.text)
        .output()
        .map_err(|_| CorpusError::MissingTool("espeak-ng"))?;
    if !res.status.success() {
        return Err(CorpusError::Tool {
            tool: "espeak-ng",
            id: u.id.clone(),
            message: String::from_utf8_lossy(&res.stderr).into_owned(),
        });
    }
    let wav = out_dir.join(audio_path(u));
    // -R: repeatable output; -D: no dither; then resample and peak-normalise.
    let res = Command::new("sox")
        .args(["-R", "-D"])
        .arg(&raw)
        .args(["-b", "16", "-c", "1"])
        .arg(&wav)
        .args(["rate", "-h", "16k", "norm", &format!("{:.2}", u.gain_db)])
        .output()
        .map_err(|_| CorpusError::MissingTool("sox"))?;
    let _ = std::fs::remove_file(&raw);
    if !res.status.success() {
        return Err(CorpusError::Tool {
            tool: "sox",
            id: u.id.clone(),
            message: String::from_utf8_lossy(&res.stderr).into_owned(),
        });
    }
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
        // 16 pairs x 6 voices x 2 polarities x 1 rendition.
        assert_eq!(of(Split::Train).count(), 16 * 6 * 2);
        assert_eq!(of(Split::Dev).count(), 4 * 6 * 2);
        assert_eq!(of(Split::Test).count(), 6 * 2 * 2 * 2);
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
            assert!((u.gain_db - (-18.0 + 15.0 * u.zl)).abs() < 1e-4);
            assert!((u.arousal - (u.zp + u.zr + u.zl) / 3.0).abs() < 1e-6);
            assert!((u.dominance - (u.zl + 1.0 - u.zp) / 2.0).abs() < 1e-6);
            assert_eq!(u.valence, if u.positive { 0.8 } else { 0.2 });
            assert!(
                (0.0..=1.0).contains(&u.zp)
                    && (0.0..=1.0).contains(&u.zr)
                    && (0.0..=1.0).contains(&u.zl)
            );
        }
    }
}
