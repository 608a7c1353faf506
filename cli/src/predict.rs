//! `emoscope predict`: arousal, valence and dominance (or, for a categorical
//! model, the probability of each category and the most probable one) of a
//! whole file, or, with `--windows`, of every analysis window (the engine's
//! offline mode).
//!
//! A whole file is one model call up to [`MAX_WHOLE_SECONDS`]; a longer one
//! is cut into equal pieces no longer than that, and their readings are
//! averaged, weighted by length, so time and memory grow linearly with the
//! file (a transformer over the whole of a 10-minute file needs minutes and
//! gigabytes). The transcript comes from `--transcript`, `--text`, or the
//! sidecar file `annotate` would use; failing those, when the model has a
//! text branch, Whisper recognises it from the audio ([`crate::asr`], as
//! `annotate` does), and it is read back through the whisper JSON reader
//! as a sidecar holding the same words would be.
//!
//! Speaker turns (`--speakers FILE`, else `name.rttm` or `name.stm` beside
//! the audio, else the speakers the transcript names) give one reading per
//! speaker over their turns, or, with `--windows`, windows that never mix
//! speakers (each turn analysed on its own), each naming its speaker;
//! `--speaker NAME` keeps one speaker's windows.
//!
//! No speech, no reading: the voice-activity detector `annotate` uses finds
//! the speech, and only speech is read — a whole file is read from its first
//! speech to its last (its pauses included, as a listener hears them; long
//! files' pieces with too little speech left out), windows without enough
//! speech get no reading (`"no_speech": true` in JSON), and a file without
//! speech says so instead of giving numbers. `--analyse-silence` reads
//! everything.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use candle_core::Device;
use emoscope::audio::vad::{speech_regions, VadConfig};
use emoscope::engine::gate::enough_speech;
use emoscope::engine::{analyse_offline_with, EmotionPredictor, OfflineOptions};
use emoscope::reading::Span;
use emoscope::recording::{check_speaker, MonoRecording, SpeakerSource, TranscriptSource};
use emoscope::transcript::{
    parse_str, sidecar_for, speakers_sidecar_for, ReadOptions, Speaker, SpeakerTurns, Transcript,
    TranscriptFormat,
};
use emoscope::Emotion;

use super::asr::{Asr, AsrArgs, Recognition};
use super::device::{DeviceArg, PrecisionArg};
use super::output::{note, outln};
use super::window::{WindowArgs, MAX_WINDOW_SECONDS};

/// The longest audio given to the model in one call without `--windows`
/// (the longest `--window` too): longer files are analysed in pieces.
pub const MAX_WHOLE_SECONDS: f64 = MAX_WINDOW_SECONDS;

/// Arguments of `emoscope predict`.
#[derive(clap::Args)]
pub struct Args {
    /// Audio file (WAV, AIFF, FLAC, MP3, Ogg Vorbis, AAC or ALAC in MP4/M4A); any rate and
    /// channel count.
    audio: PathBuf,
    /// Model directory: an Emoscope checkpoint (`emoscope.json`) or a published
    /// checkpoint Emoscope recognises (a transformers classification head over
    /// dimensions or categories, the Odyssey 2024 baseline, audeering's).
    /// Default: `$EMOSCOPE_MODEL`, else the installed default model.
    #[arg(long)]
    model: Option<PathBuf>,
    /// Transcript of the audio for the text branch, in any format `annotate`
    /// reads (SRT, WebVTT, TextGrid, EAF, Audacity labels, whisper JSON, plain
    /// text). With `--windows` each window gets the words it overlaps; without,
    /// the whole text. Default: the sidecar next to the audio (`talk.wav` →
    /// `talk.srt`, `talk.vtt`, …), as `annotate` uses it.
    #[arg(long, conflicts_with_all = ["text", "no_transcript"])]
    transcript: Option<PathBuf>,
    /// Transcript given inline.
    #[arg(long, conflicts_with = "no_transcript")]
    text: Option<String>,
    /// Use no transcript, not even a sidecar file next to the audio, and
    /// transcribe nothing.
    #[arg(long)]
    no_transcript: bool,
    /// Who speaks when: an RTTM file (diarisation output), an STM file, or
    /// any transcript that names its speakers. Default: `name.rttm` or
    /// `name.stm` beside the audio, else the speakers the transcript names.
    /// Gives one reading per speaker (with `--windows`, windows that never
    /// mix speakers, each naming its speaker).
    #[arg(long, value_name = "FILE")]
    speakers: Option<PathBuf>,
    /// With `--windows`: only this speaker's windows (a name the speaker
    /// turns use; another name is an error listing theirs).
    #[arg(long, value_name = "NAME", requires = "windows")]
    speaker: Option<String>,
    /// Speech recognition when there is no transcript (and the model has a
    /// text branch).
    #[command(flatten)]
    asr: AsrArgs,
    /// One reading per analysis window (the engine's offline mode, as `annotate` and the
    /// plugin analyse) instead of one for the whole file; `--window`, `--hop` and
    /// `--smoothing` apply then. Without it, files longer than 30 s are analysed in equal
    /// pieces of at most 30 s and the readings averaged, weighted by length.
    #[arg(long)]
    windows: bool,
    /// Windowing (with `--windows`).
    #[command(flatten)]
    windowing: WindowArgs,
    /// Machine-readable output: one JSON object (per window with `--windows`),
    /// keys `arousal`, `valence`, `dominance` at full precision; for a
    /// categorical model `label` (the most probable) and `probabilities`.
    #[arg(long)]
    json: bool,
    /// Treat every repair or skip in the transcript (a cue without a timing
    /// line, an unknown encoding guessed, ...) as an error instead of a warning.
    #[arg(long)]
    strict: bool,
    /// Read silence too: by default only speech (by the voice-activity
    /// detector) is read, and windows without enough of it get no reading.
    #[arg(long)]
    analyse_silence: bool,
    /// Device to run on.
    #[arg(long, value_enum, default_value = "cpu")]
    device: DeviceArg,
    /// Number format of the model's computation: `auto` is bf16 on a CPU
    /// with AVX512-BF16 for a model whose manifest records a bf16 check
    /// within budget (the installed demo model does), else f32.
    #[arg(long, value_enum, default_value = "auto")]
    precision: PrecisionArg,
}

/// Where `args` take the transcript from: a file (given, or the sidecar,
/// which is announced), inline text covering the whole file, or none.
fn transcript_source(args: &Args) -> TranscriptSource {
    if args.no_transcript {
        return TranscriptSource::None;
    }
    if let Some(t) = &args.text {
        return TranscriptSource::Text(t.clone());
    }
    let path = match &args.transcript {
        Some(p) => p.clone(),
        None => match sidecar_for(&args.audio) {
            Some(p) => {
                note!(
                    "using the transcript {} (--no-transcript to analyse without it)",
                    p.display()
                );
                p
            }
            None => return TranscriptSource::None,
        },
    };
    TranscriptSource::File {
        path,
        options: ReadOptions {
            strict: args.strict,
            ..ReadOptions::default()
        },
    }
}

/// Where the transcript used came from, for `--json`.
fn source_name(source: &TranscriptSource, args: &Args) -> Option<&'static str> {
    match source {
        TranscriptSource::None => None,
        TranscriptSource::Text(_) => Some("text"),
        TranscriptSource::File { .. } if args.transcript.is_some() => Some("given"),
        TranscriptSource::File { .. } => Some("sidecar"),
    }
}

/// The transcript `args` ask for, for `seconds` of audio, and where it came
/// from (`given`, `sidecar`, `text` or `asr`); without one, when the model
/// in `model_dir` reads text, the recognised speech. What the reader
/// repaired is reported as warnings.
fn transcript(
    args: &Args,
    model_dir: &Path,
    device: &Device,
    seconds: f64,
) -> Result<(Option<Transcript>, Option<&'static str>)> {
    let source = transcript_source(args);
    let (transcript, name) = match source {
        TranscriptSource::None => {
            match args
                .asr
                .recognition(model_dir, args.no_transcript, device)?
            {
                Recognition::Ready(asr) => (Some(recognise(&asr, args, seconds)?), Some("asr")),
                Recognition::Missing(why) => {
                    note!("{why}");
                    (None, None)
                }
                Recognition::Off => (None, None),
            }
        }
        source => (source.read(seconds)?, source_name(&source, args)),
    };
    for w in transcript.iter().flat_map(|t| t.warnings()) {
        note!("warning: {w}");
    }
    let name = name.filter(|_| transcript.is_some());
    Ok((transcript, name))
}

/// The speech in `args.audio` (`seconds` long) as `asr` recognises it, read
/// back from the openai-whisper JSON `transcribe` would write; announced
/// with its text.
fn recognise(asr: &Asr, args: &Args, seconds: f64) -> Result<Transcript> {
    let audio = &args.audio;
    let done = asr
        .transcribe(audio, &mut |_| {})
        .with_context(|| format!("recognising the speech in {}", audio.display()))?;
    let name = format!("{} (recognised)", audio.display());
    let transcript = parse_str(
        &done.to_json(),
        Path::new(&name),
        &ReadOptions {
            format: Some(TranscriptFormat::WhisperJson),
            audio_seconds: Some(seconds),
            strict: args.strict,
            ..ReadOptions::default()
        },
    )?;
    note!(
        "no transcript next to {}: recognised with {}: {:?} (--no-asr analyses the audio alone)",
        audio.display(),
        asr.dir().display(),
        transcript.text_between(f64::NEG_INFINITY, f64::INFINITY)
    );
    Ok(transcript)
}

/// Where the speaker turns come from: `--speakers`, else a sidecar
/// (announced; not the transcript file itself), else the transcript's own
/// speakers.
fn speakers_source(args: &Args) -> SpeakerSource {
    let transcript_file = match (&args.transcript, args.no_transcript || args.text.is_some()) {
        (_, true) => None,
        (Some(t), false) => Some(t.clone()),
        (None, false) => sidecar_for(&args.audio),
    };
    let path = args.speakers.clone().or_else(|| {
        let p = speakers_sidecar_for(&args.audio)?;
        if transcript_file.as_deref() == Some(p.as_path()) {
            return None;
        }
        note!("using the speaker turns in {}", p.display());
        Some(p)
    });
    match path {
        Some(path) => SpeakerSource::File {
            path,
            options: ReadOptions {
                recording: args
                    .audio
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned()),
                strict: args.strict,
                ..ReadOptions::default()
            },
        },
        None => SpeakerSource::Transcript,
    }
}

/// The pieces `[start, end)` (sample indices) a whole-file analysis of
/// `len` samples at `rate` Hz runs on: one when it lasts at most
/// [`MAX_WHOLE_SECONDS`], else the fewest equal pieces no longer than that.
pub(crate) fn pieces(len: usize, rate: u32) -> Vec<(usize, usize)> {
    let max = (MAX_WHOLE_SECONDS * f64::from(rate)) as usize;
    let n = len.div_ceil(max.max(1)).max(1);
    (0..n).map(|i| (i * len / n, (i + 1) * len / n)).collect()
}

/// The frame hop of the speech encoders Emoscope runs (HuBERT, wav2vec2,
/// WavLM: 320 samples at 16 kHz).
const FRAME_SECONDS: f64 = 0.02;

/// The whole-file reading of `samples` (mono, at the model's rate): the
/// length-weighted mean over [`pieces`], each with the transcript's words
/// that overlap it. With `speech` (voice-activity regions, seconds), only
/// the span from the first region's start to the last one's end is read,
/// and pieces with too little speech are left out ([`read_pieces`]), as the
/// windowed analysis gates its windows. `None` when nothing was
/// read (no speech, or no samples); else the reading and the seconds read.
fn predict_whole(
    model: &mut dyn EmotionPredictor,
    samples: &[f32],
    transcript: Option<&Transcript>,
    speech: Option<&[Span]>,
) -> Result<Option<(Emotion, f64)>> {
    let rate = model.sample_rate();
    let readings = read_whole(
        rate,
        samples,
        &|a, b| transcript.map_or_else(String::new, |t| t.text_between(a, b)),
        speech,
        &mut |x, words| Ok(model.predict(x, words)?),
    )?;
    let seconds = readings.iter().map(|(n, _)| n).sum::<f64>() / f64::from(rate);
    Ok(Emotion::weighted_mean(readings).map(|e| (e, seconds)))
}

/// The pieces [`predict_whole`] reads of `samples` (at `rate`), each read
/// with `read(samples, words)`: (length in samples, reading) of each;
/// empty when there is no speech.
fn read_whole<R>(
    rate: u32,
    samples: &[f32],
    text: &dyn Fn(f64, f64) -> String,
    speech: Option<&[Span]>,
    read: &mut dyn FnMut(&[f32], &str) -> Result<R>,
) -> Result<Vec<(f64, R)>> {
    let rate_f = f64::from(rate);
    let (first, end) = match speech {
        None => (0, samples.len()),
        Some([]) => return Ok(Vec::new()),
        Some(regions) => {
            let at = |t: f64| ((t * rate_f).round().max(0.0) as usize).min(samples.len());
            // Start on the 20 ms frame grid of the file, so the model's frames
            // fall where they fall when the whole file is read: a detector
            // boundary a few milliseconds off (a louder copy of the same
            // file) moves the reading by whole frames, not by a phase.
            let hop = (FRAME_SECONDS * rate_f).round().max(1.0) as usize;
            (
                at(regions[0].start) / hop * hop,
                at(regions[regions.len() - 1].end),
            )
        }
    };
    let mut readings = Vec::new();
    read_pieces(
        rate,
        &samples[first..end.max(first)],
        first,
        &mut readings,
        text,
        speech,
        read,
    )?;
    Ok(readings)
}

/// Reads `samples` (which start at sample `at` of the recording, at
/// `rate`) in [`pieces`], each with `text(start, end)` of its seconds,
/// adding (length, `read(piece, words)`) to `readings`. With `speech`
/// (regions, seconds of the recording), pieces with less than
/// [`MIN_SPEECH_IN_WINDOW`](emoscope::engine::MIN_SPEECH_IN_WINDOW) of
/// speech are left out; empty pieces always are.
fn read_pieces<R>(
    rate: u32,
    samples: &[f32],
    at: usize,
    readings: &mut Vec<(f64, R)>,
    text: &dyn Fn(f64, f64) -> String,
    speech: Option<&[Span]>,
    read: &mut dyn FnMut(&[f32], &str) -> Result<R>,
) -> Result<()> {
    let seconds = |i: usize| (at + i) as f64 / f64::from(rate);
    for (start, end) in pieces(samples.len(), rate) {
        let span = Span {
            start: seconds(start),
            end: seconds(end),
        };
        if end <= start || speech.is_some_and(|r| !enough_speech(r.iter().copied(), span)) {
            continue;
        }
        let words = text(span.start, span.end);
        readings.push(((end - start) as f64, read(&samples[start..end], &words)?));
    }
    Ok(())
}

/// One reading per speaker of `turns` (in the order of their first turn)
/// from `samples` (the whole recording at the model's rate): the
/// length-weighted mean over the pieces of each of their turns
/// ([`SpeakerTurns::joined`]), each piece with the words of the speaker's
/// segments over it; with the seconds read. Speakers whose turns lie past
/// the end are left out.
fn predict_speakers(
    model: &mut dyn EmotionPredictor,
    samples: &[f32],
    transcript: Option<&Transcript>,
    turns: &SpeakerTurns,
) -> Result<Vec<(Speaker, f64, Emotion)>> {
    let rate = f64::from(model.sample_rate());
    let joined = turns.joined();
    let mut out = Vec::new();
    for speaker in turns.speakers() {
        let mut readings = Vec::new();
        for t in joined.iter().filter(|t| t.speaker == speaker) {
            let first = ((t.span.start * rate).round().max(0.0) as usize).min(samples.len());
            let end = ((t.span.end * rate).round().max(0.0) as usize).min(samples.len());
            if end <= first {
                continue;
            }
            read_pieces(
                model.sample_rate(),
                &samples[first..end],
                first,
                &mut readings,
                &|a, b| {
                    transcript
                        .map_or_else(String::new, |tr| tr.speaker_text_between(&speaker, a, b))
                },
                None,
                &mut |x, words| Ok(model.predict(x, words)?),
            )?;
        }
        let seconds = readings.iter().map(|(n, _)| n).sum::<f64>() / rate;
        if let Some(e) = Emotion::weighted_mean(readings) {
            out.push((speaker, seconds, e));
        }
    }
    Ok(out)
}

/// The speech regions of `mono` (`args.audio` decoded) that `predict` reads,
/// by the voice-activity detector; `None` with `--analyse-silence` (all of it).
fn speech_to_read(args: &Args, mono: &MonoRecording) -> Result<Option<Vec<Span>>> {
    if args.analyse_silence {
        return Ok(None);
    }
    speech_regions(&mono.samples, mono.sample_rate, &VadConfig::default())
        .map(Some)
        .with_context(|| format!("finding the speech in {}", args.audio.display()))
}

/// Says how long `seconds` of audio took since `t0` with the model `id` on `device`.
fn note_speed(seconds: f64, t0: Instant, id: &str, device: &str) {
    let elapsed = t0.elapsed().as_secs_f64();
    note!(
        "{seconds:.2} s of audio in {elapsed:.3} s ({:.1}x faster than real time) with {id} on {device}",
        seconds / elapsed.max(1e-9),
    );
}

/// The values of `e` as JSON fields: `arousal`, `valence` and `dominance`
/// when the model outputs them; for a categorical model `label` (the most
/// probable of `labels`) and `probabilities` (`{"<label>": p, ...}`).
fn emotion_fields(e: &Emotion, labels: &[String]) -> serde_json::Map<String, serde_json::Value> {
    let mut out = serde_json::Map::new();
    if e.has_dimensions() {
        for (name, v) in Emotion::DIMENSIONS.iter().zip(e.dimensions()) {
            out.insert((*name).into(), serde_json::json!(v));
        }
    }
    if let Some((top, _)) = e.probabilities.top() {
        out.insert("label".into(), serde_json::json!(labels[top]));
        let by_label: serde_json::Map<String, serde_json::Value> = labels
            .iter()
            .zip(e.probabilities.as_slice())
            .map(|(l, &p)| (l.clone(), serde_json::json!(p)))
            .collect();
        out.insert("probabilities".into(), by_label.into());
    }
    out
}

/// `fields` with the values of `e` added ([`emotion_fields`]).
fn with_emotion(
    mut fields: serde_json::Value,
    e: &Emotion,
    labels: &[String],
) -> serde_json::Value {
    if let Some(map) = fields.as_object_mut() {
        map.extend(emotion_fields(e, labels));
    }
    fields
}

/// The names of a table's value columns for a model with `labels` (its
/// categories, empty for none) and dimensions or not: the dimensions, then
/// each category's probability, then the most probable category.
fn value_header(dimensional: bool, labels: &[String]) -> Vec<String> {
    let mut names: Vec<String> = if dimensional {
        Emotion::DIMENSIONS
            .iter()
            .map(|n| (*n).to_owned())
            .collect()
    } else {
        Vec::new()
    };
    names.extend(labels.iter().cloned());
    if !labels.is_empty() {
        names.push("label".into());
    }
    names
}

/// The cells of `e` under [`value_header`]'s columns, each 9 wide (or as
/// wide as its label).
fn value_cells(e: &Emotion, labels: &[String]) -> String {
    let mut out = String::new();
    if e.has_dimensions() {
        for v in e.dimensions() {
            out.push_str(&format!(" {v:>9.4}"));
        }
    }
    for (label, p) in labels.iter().zip(e.probabilities.as_slice()) {
        out.push_str(&format!(" {p:>w$.4}", w = label.len().max(9)));
    }
    if let Some((top, _)) = e.probabilities.top() {
        out.push_str(&format!(" {:>9}", labels[top]));
    }
    out
}

/// [`value_header`] as a table's header cells, aligned with [`value_cells`].
fn header_cells(dimensional: bool, labels: &[String]) -> String {
    value_header(dimensional, labels)
        .iter()
        .map(|n| format!(" {n:>9}"))
        .collect()
}

/// Runs the prediction and prints it.
pub fn run(args: Args) -> Result<()> {
    let config = args.windowing.config()?;
    let model_dir = super::model_dir(args.model.clone())?;
    let device = args.device.open()?;
    let mut model = args.precision.load(&model_dir, &device)?;
    let labels = model.categories().to_vec();
    let dimensional = labels.is_empty();
    if !model.reads_text() && (args.transcript.is_some() || args.text.is_some()) {
        note!(
            "{} reads no words: the transcript's text is not used (only the speakers it names, if any)",
            model.id()
        );
    }
    let audio: &Path = &args.audio;
    // Audio errors name the file themselves.
    let mono = MonoRecording::decode(audio)?;
    let seconds = mono.duration();
    let (mut transcript, transcript_source) = transcript(&args, &model_dir, &device, seconds)?;
    let turns = speakers_source(&args).read(seconds, &mut transcript)?;
    for w in turns.iter().flat_map(|t| t.warnings()) {
        note!("warning: {w}");
    }
    let speaker = args.speaker.as_deref().map(Speaker::new);
    if let Some(name) = &speaker {
        check_speaker(audio, turns.as_ref(), name)?;
    }
    let speech = speech_to_read(&args, &mono)?;
    let t0 = Instant::now();
    if let (false, Some(turns)) = (args.windows, &turns) {
        let samples = mono.resampled(model.sample_rate(), audio)?;
        let read = predict_speakers(model.as_mut(), &samples, transcript.as_ref(), turns)
            .with_context(|| format!("analysing {}", audio.display()))?;
        if read.is_empty() {
            bail!(
                "analysing {}: no speaker turn lies within its {seconds:.2} s",
                audio.display()
            );
        }
        if args.json {
            for (speaker, seconds, e) in &read {
                let line = serde_json::json!({
                    "speaker": speaker, "seconds": seconds,
                    "model": model.id(), "output_range": model.output_range(),
                    "transcript_source": transcript_source,
                });
                outln!("{}", with_emotion(line, e, &labels));
            }
        } else {
            outln!(
                "{:<16} {:>9}{}",
                "speaker",
                "seconds",
                header_cells(dimensional, &labels)
            );
            for (speaker, seconds, e) in &read {
                outln!(
                    "{:<16} {:>9.3}{}",
                    speaker.as_str(),
                    seconds,
                    value_cells(e, &labels)
                );
            }
        }
    } else if !args.windows {
        let samples = mono.resampled(model.sample_rate(), audio)?;
        let n = pieces(samples.len(), model.sample_rate()).len();
        if n > 1 && speech.is_none() {
            note!(
                "{} lasts {seconds:.1} s: analysed as {n} pieces of {:.1} s, readings averaged \
                 (weighted by length); --windows gives one reading per window",
                audio.display(),
                seconds / n as f64
            );
        }
        let avd = predict_whole(
            model.as_mut(),
            &samples,
            transcript.as_ref(),
            speech.as_deref(),
        )
        .with_context(|| format!("analysing {}", audio.display()))?;
        let text = transcript
            .as_ref()
            .map(|t| t.text_between(f64::NEG_INFINITY, f64::INFINITY))
            .unwrap_or_default();
        let Some((avd, read_seconds)) = avd else {
            if args.json {
                let line = serde_json::json!({
                    "no_speech": true, "model": model.id(), "text": text,
                    "transcript_source": transcript_source,
                });
                outln!("{line}");
            } else {
                outln!("no speech");
            }
            note!(
                "{}: the voice-activity detector finds no speech in its {seconds:.2} s, so there \
                 is no reading (--analyse-silence reads it anyway)",
                audio.display()
            );
            return Ok(());
        };
        if args.json {
            let range = model.output_range();
            let mut line = serde_json::json!({
                "model": model.id(), "output_range": range, "text": text,
                "transcript_source": transcript_source,
            });
            if speech.is_some() {
                line["seconds_read"] = serde_json::json!(read_seconds);
            } else {
                line["pieces"] = serde_json::json!(n);
            }
            outln!("{}", with_emotion(line, &avd, &labels));
        } else {
            if avd.has_dimensions() {
                outln!("arousal   {:>9.4}", avd.arousal);
                outln!("valence   {:>9.4}", avd.valence);
                outln!("dominance {:>9.4}", avd.dominance);
            }
            let top = avd.probabilities.top().map(|(i, _)| i);
            let width = labels.iter().map(String::len).max().unwrap_or(0).max(9);
            for (i, (label, p)) in labels.iter().zip(avd.probabilities.as_slice()).enumerate() {
                let mark = if Some(i) == top {
                    "  <- most probable"
                } else {
                    ""
                };
                outln!("{label:<width$} {p:>9.4}{mark}");
            }
        }
    } else {
        let analysis = analyse_offline_with(
            &mono.samples,
            mono.sample_rate as f32,
            model.as_mut(),
            &config,
            OfflineOptions {
                transcript: transcript.as_ref(),
                turns: turns.as_ref(),
                speaker: speaker.as_ref(),
                speech: speech.as_deref(),
                ..OfflineOptions::default()
            },
        )
        .with_context(|| format!("analysing {}", audio.display()))?;
        let (results, no_speech) = (analysis.windows, analysis.no_speech);
        if results.is_empty() && turns.is_some() {
            bail!(
                "analysing {}: no speaker turn lies within its {seconds:.2} s",
                audio.display()
            );
        }
        if results.is_empty() && no_speech.is_empty() {
            // The engine reports nothing rather than an error for input it
            // cannot window; never end with exit 0 and no output.
            bail!(
                "analysing {}: no analysis window came out of {seconds:.2} s of audio at {} Hz",
                audio.display(),
                mono.sample_rate
            );
        }
        // Readings and stretches without speech, in time order.
        let mut rows: Vec<(f64, Option<&emoscope::engine::WindowResult>, Span)> = results
            .iter()
            .map(|r| (r.reading.span.start, Some(r), r.reading.span))
            .chain(no_speech.iter().map(|s| (s.start, None, *s)))
            .collect();
        rows.sort_by(|a, b| a.0.total_cmp(&b.0));
        if args.json {
            for (_, r, span) in &rows {
                let Some(r) = r else {
                    let line = serde_json::json!({
                        "start": span.start, "end": span.end, "no_speech": true,
                        "model": model.id(),
                    });
                    outln!("{line}");
                    continue;
                };
                let mut line = serde_json::json!({
                    "start": span.start, "end": span.end, "model": model.id(),
                });
                if let Some(speaker) = &r.reading.speaker {
                    line["speaker"] = serde_json::json!(speaker);
                    line["overlap"] = serde_json::json!(r.reading.overlap);
                }
                outln!("{}", with_emotion(line, &r.reading.emotion, &labels));
            }
        } else {
            let who = |name: &str, overlap: &str| match turns {
                Some(_) => format!(" {name:<16} {overlap}").trim_end().to_owned(),
                None => String::new(),
            };
            outln!(
                "{:>9} {:>9}{}{}",
                "start",
                "end",
                header_cells(dimensional, &labels),
                who("speaker", "overlap")
            );
            for (_, r, span) in &rows {
                let Some(r) = r else {
                    outln!("{:>9.3} {:>9.3} no speech", span.start, span.end);
                    continue;
                };
                let name = r.reading.speaker.as_ref().map_or("", Speaker::as_str);
                outln!(
                    "{:>9.3} {:>9.3}{}{}",
                    span.start,
                    span.end,
                    value_cells(&r.reading.emotion, &labels),
                    who(name, if r.reading.overlap { "yes" } else { "" })
                );
            }
        }
    }
    note_speed(seconds, t0, model.id(), &model.device());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_cover_the_file_and_none_is_longer_than_the_bound() {
        let rate = 16_000;
        let max = (MAX_WHOLE_SECONDS * f64::from(rate)) as usize;
        // 10 s: one piece. 30 s exactly: one. 30 s + 1 sample: two of about 15 s.
        // 600 s: 20 pieces of 30 s.
        for (len, n) in [
            (10 * rate as usize, 1),
            (max, 1),
            (max + 1, 2),
            (20 * max, 20),
            (0, 1),
        ] {
            let p = pieces(len, rate);
            assert_eq!(p.len(), n, "{len}");
            assert_eq!(p.first().unwrap().0, 0);
            assert_eq!(p.last().unwrap().1, len);
            for w in p.windows(2) {
                assert_eq!(w[0].1, w[1].0, "contiguous");
            }
            assert!(p.iter().all(|(s, e)| e - s <= max));
        }
    }
}
