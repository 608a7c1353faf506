//! Audio the CLI cannot use as it stands gets one clear message naming the
//! file and what is wrong (exit 1), or, where what is there is usable, a
//! warning and a result (exit 0): truncated, empty, impossible sample rates,
//! missing files, containers and codecs Emoscope lacks. Messages are plain
//! text (no colour codes off a terminal) and say each cause once.

use std::path::Path;
use std::process::{Command, Output};

mod common;
use common::{model_dir, signal, write_wav};

fn predict(audio: &Path, model: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_emoscope"))
        .args(["predict", audio.to_str().unwrap(), "--json", "--model"])
        .arg(model)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A refusal: exit 1 and one `error:` line that contains every one of `needles`.
fn refused(o: &Output, needles: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.starts_with("error: ") && err.lines().count() == 1,
        "{err}"
    );
    for n in needles {
        assert!(err.contains(n), "{n:?} missing from {err}");
    }
}

#[test]
fn a_truncated_wav_is_analysed_with_a_warning_naming_the_lengths() {
    let model = model_dir("trunc", 1.0);
    let tmp = tempfile::tempdir().unwrap();
    let wav = tmp.path().join("cut.wav");
    // 7.1 s of 32-bit float at 16 kHz is 113_600 frames of 4 bytes; keep the
    // header and 1.56 s (24_960 frames) of the data.
    write_wav(&wav, &signal(7.1, 16_000.0), 16_000);
    let len = std::fs::metadata(&wav).unwrap().len();
    let header = len - 113_600 * 4;
    let f = std::fs::OpenOptions::new().write(true).open(&wav).unwrap();
    f.set_len(header + 24_960 * 4).unwrap();
    let o = predict(&wav, model.path());
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains(
            "cut.wav is truncated: its header states 7.10 s of audio but the file holds 1.56 s"
        ),
        "{err}"
    );
    assert!(err.starts_with("warning: "), "{err}");
    // Not a symphonia log line, and no colour codes on a pipe.
    assert!(
        !err.contains('\u{1b}') && !err.contains("symphonia"),
        "{err}"
    );
}

#[test]
fn an_empty_file_says_it_is_empty() {
    let model = model_dir("empty", 1.0);
    let tmp = tempfile::tempdir().unwrap();
    let wav = tmp.path().join("nothing.wav");
    std::fs::write(&wav, b"").unwrap();
    refused(
        &predict(&wav, model.path()),
        &["nothing.wav is empty (0 bytes)"],
    );
}

#[test]
fn a_sample_rate_outside_the_supported_range_is_refused_before_decoding() {
    let model = model_dir("rate", 1.0);
    let tmp = tempfile::tempdir().unwrap();
    for (rate, name) in [
        (1u32, "one-hz.wav"),
        (7_999, "low.wav"),
        (384_001, "high.wav"),
    ] {
        let wav = tmp.path().join(name);
        // A valid 16-bit WAV at 16 kHz whose header is then edited to `rate`
        // (bytes 24..28; the byte rate, 28..32, is rate * 2).
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 16_000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&wav, spec).unwrap();
        for s in signal(0.1, 16_000.0) {
            w.write_sample((s * 32767.0) as i16).unwrap();
        }
        w.finalize().unwrap();
        let mut bytes = std::fs::read(&wav).unwrap();
        bytes[24..28].copy_from_slice(&rate.to_le_bytes());
        bytes[28..32].copy_from_slice(&(rate.wrapping_mul(2)).to_le_bytes());
        std::fs::write(&wav, bytes).unwrap();
        refused(
            &predict(&wav, model.path()),
            &[
                name,
                &format!("a sample rate of {rate} Hz"),
                "supported rates are 8000 to 384000 Hz",
            ],
        );
    }
}

#[test]
fn a_missing_file_says_why_once() {
    let model = model_dir("missing", 1.0);
    let o = predict(Path::new("/nonexistent/x.wav"), model.path());
    refused(&o, &["/nonexistent/x.wav"]);
    let err = stderr(&o);
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
}

#[test]
fn a_folder_is_not_an_audio_file() {
    let model = model_dir("folder", 1.0);
    let tmp = tempfile::tempdir().unwrap();
    refused(
        &predict(tmp.path(), model.path()),
        &["it is a folder, not an audio file"],
    );
}

fn extra(name: &str) -> std::path::PathBuf {
    common::repo().join("tests/fixtures/audio-extra").join(name)
}

#[test]
fn m4a_decodes_and_alac_gives_the_wav_samples() {
    let wav = emoscope::audio::decode_file(&common::repo().join("tests/fixtures/audio/speech.wav"))
        .unwrap();
    let alac = emoscope::audio::decode_file(&extra("speech-alac.m4a")).unwrap();
    assert_eq!((alac.sample_rate, alac.channels), (16_000, 1));
    assert_eq!(alac.samples, wav.samples, "ALAC is lossless");
    let aac = emoscope::audio::decode_file(&extra("speech.m4a")).unwrap();
    assert_eq!(aac.sample_rate, 16_000);
    // AAC adds encoder delay and padding (1024-sample frames).
    let seconds = aac.samples.len() as f64 / 16_000.0;
    assert!((seconds - 1.5).abs() < 0.2, "{seconds} s");
    let model = model_dir("m4a", 1.0);
    let o = predict(&extra("speech.m4a"), model.path());
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn opus_and_unknown_formats_say_how_to_convert() {
    let model = model_dir("opus", 1.0);
    refused(
        &predict(&extra("speech.opus"), model.path()),
        &[
            "speech.opus",
            "Opus is not supported",
            "ffmpeg -i speech.opus speech.flac",
        ],
    );
    // The same Opus stream under another name: recognised from its codec.
    let tmp = tempfile::tempdir().unwrap();
    let ogg = tmp.path().join("voice.ogg");
    std::fs::copy(extra("speech.opus"), &ogg).unwrap();
    refused(&predict(&ogg, model.path()), &["Opus is not supported"]);
    let junk = tmp.path().join("notes.xyz");
    std::fs::write(&junk, b"these are not audio samples at all").unwrap();
    refused(
        &predict(&junk, model.path()),
        &[
            "notes.xyz",
            "not a format Emoscope reads",
            "ffmpeg -i notes.xyz",
        ],
    );
}
