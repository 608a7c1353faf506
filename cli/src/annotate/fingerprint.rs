//! What an `annotate` output depends on, as one hash recorded per input in
//! the index, so that a resumed run skips a file only when its outputs would
//! come out the same: the audio (its size and modification time, as `make`
//! and `rsync` judge a file), the transcript used (path and contents), the
//! model (the name, size and modification time of every file in its folder,
//! and its manifest's contents, which name any encoder it loads from
//! elsewhere) and every setting that shapes the outputs (window, hop,
//! smoothing, formats, tier, label style, `--no-transcript`). An input
//! without a transcript of its own that the run transcribes depends instead
//! on the speech-recognition model (its files, as the emotion model's) and
//! the language; the transcript written then is an output, not an input. A
//! speaker file (`--speakers`, or `name.rttm`/`name.stm` beside the audio)
//! counts as the transcript does.

use std::fmt;
use std::path::Path;

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

/// A SHA-256 over what an output depends on, written in hex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint(String);

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Fingerprint {
    /// The part shared by every input of a run: the model folder's files and
    /// `settings` (a description of every setting that shapes the outputs).
    pub fn for_run(model_dir: &Path, settings: &str) -> Result<Self> {
        let mut h = Sha256::new();
        h.update(b"emoscope-annotate/1\0");
        h.update(settings.as_bytes());
        h.update(b"\0");
        hash_tree(&mut h, model_dir, 0)
            .with_context(|| format!("reading the model folder {}", model_dir.display()))?;
        Ok(Self(hex(&h.finalize())))
    }

    /// What a recognised transcript depends on: the Whisper model folder's
    /// files and the language decoded in.
    pub fn for_asr(dir: &Path, language: &str) -> Result<Self> {
        let mut h = Sha256::new();
        h.update(b"emoscope-asr/1\0");
        h.update(language.as_bytes());
        h.update(b"\0");
        hash_tree(&mut h, dir, 0).with_context(|| {
            format!(
                "reading the speech-recognition model folder {}",
                dir.display()
            )
        })?;
        Ok(Self(hex(&h.finalize())))
    }

    /// This run's fingerprint for one input and the transcript it uses.
    pub fn for_input(&self, audio: &Path, transcript: Words<'_>) -> Result<Self> {
        let mut h = Sha256::new();
        h.update(self.0.as_bytes());
        let meta =
            std::fs::metadata(audio).with_context(|| format!("reading {}", audio.display()))?;
        hash_meta(&mut h, &meta);
        match transcript {
            Words::File(t) => {
                let text = std::fs::read(t)
                    .with_context(|| format!("reading the transcript {}", t.display()))?;
                h.update(b"transcript\0");
                h.update(t.as_os_str().as_encoded_bytes());
                h.update(b"\0");
                h.update(Sha256::digest(&text));
            }
            Words::Recognised(asr) => {
                h.update(b"recognised\0");
                h.update(asr.0.as_bytes());
            }
            Words::None => h.update(b"no transcript\0"),
        }
        Ok(Self(hex(&h.finalize())))
    }
}

impl Fingerprint {
    /// This input's fingerprint with the speaker file its turns come from
    /// (path and contents); unchanged without one (the turns a transcript
    /// names are in the transcript's part already).
    pub fn with_speakers(self, speakers: Option<&Path>) -> Result<Self> {
        let Some(path) = speakers else {
            return Ok(self);
        };
        let text = std::fs::read(path)
            .with_context(|| format!("reading the speaker turns {}", path.display()))?;
        let mut h = Sha256::new();
        h.update(self.0.as_bytes());
        h.update(b"speakers\0");
        h.update(path.as_os_str().as_encoded_bytes());
        h.update(b"\0");
        h.update(Sha256::digest(&text));
        Ok(Self(hex(&h.finalize())))
    }
}

/// The transcript an input is analysed with, as its fingerprint sees it.
#[derive(Debug, Clone, Copy)]
pub enum Words<'a> {
    /// None: the audio alone.
    None,
    /// This file (given, or the sidecar).
    File(&'a Path),
    /// Recognised from the audio by the model with this [`Fingerprint::for_asr`].
    Recognised(&'a Fingerprint),
}

/// Names, sizes and modification times below `dir` (sorted; manifests'
/// contents too), a few levels deep.
fn hash_tree(h: &mut Sha256, dir: &Path, depth: usize) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<std::io::Result<_>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        let meta = std::fs::metadata(&path)?;
        h.update(e.file_name().as_encoded_bytes());
        h.update(b"\0");
        if meta.is_dir() {
            if depth < 3 {
                hash_tree(h, &path, depth + 1)?;
            }
        } else {
            hash_meta(h, &meta);
            if path.extension().is_some_and(|x| x == "json" || x == "toml") {
                h.update(std::fs::read(&path)?);
            }
        }
    }
    Ok(())
}

fn hash_meta(h: &mut Sha256, meta: &std::fs::Metadata) {
    h.update(meta.len().to_le_bytes());
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    h.update(mtime.to_le_bytes());
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_dependency_changes_the_fingerprint() {
        let d = tempfile::tempdir().unwrap();
        let model = d.path().join("model");
        std::fs::create_dir(&model).unwrap();
        std::fs::write(model.join("emoscope.json"), "{}").unwrap();
        let audio = d.path().join("a.wav");
        std::fs::write(&audio, b"RIFF").unwrap();
        let srt = d.path().join("a.srt");
        std::fs::write(&srt, "1\n00:00:00,000 --> 00:00:01,000\nhi\n").unwrap();

        let run = Fingerprint::for_run(&model, "window=4").unwrap();
        let base = run.for_input(&audio, Words::File(&srt)).unwrap();
        assert_eq!(
            base,
            run.for_input(&audio, Words::File(&srt)).unwrap(),
            "stable"
        );
        assert_ne!(
            base,
            run.for_input(&audio, Words::None).unwrap(),
            "transcript dropped"
        );
        let other = Fingerprint::for_run(&model, "window=2").unwrap();
        assert_ne!(
            base,
            other.for_input(&audio, Words::File(&srt)).unwrap(),
            "settings"
        );
        std::fs::write(&srt, "1\n00:00:00,000 --> 00:00:01,000\nho\n").unwrap();
        assert_ne!(
            base,
            run.for_input(&audio, Words::File(&srt)).unwrap(),
            "transcript text"
        );
        std::fs::write(model.join("emoscope.json"), "{ }").unwrap();
        let changed_model = Fingerprint::for_run(&model, "window=4").unwrap();
        assert_ne!(run, changed_model, "model files");
        std::fs::write(&audio, b"RIFF----").unwrap();
        let again = Fingerprint::for_run(&model, "window=4").unwrap();
        assert_ne!(
            changed_model.for_input(&audio, Words::None).unwrap(),
            run.for_input(&audio, Words::None).unwrap()
        );
        assert_eq!(again, changed_model);
    }

    #[test]
    fn a_recognised_transcript_depends_on_the_asr_model_and_language() {
        let d = tempfile::tempdir().unwrap();
        let (model, asr) = (d.path().join("model"), d.path().join("asr"));
        for dir in [&model, &asr] {
            std::fs::create_dir(dir).unwrap();
            std::fs::write(dir.join("config.json"), "{}").unwrap();
        }
        let audio = d.path().join("a.wav");
        std::fs::write(&audio, b"RIFF").unwrap();
        let run = Fingerprint::for_run(&model, "window=4").unwrap();
        let en = Fingerprint::for_asr(&asr, "en").unwrap();
        let base = run.for_input(&audio, Words::Recognised(&en)).unwrap();
        assert_eq!(
            base,
            run.for_input(&audio, Words::Recognised(&en)).unwrap(),
            "stable"
        );
        assert_ne!(base, run.for_input(&audio, Words::None).unwrap(), "no ASR");
        let de = Fingerprint::for_asr(&asr, "de").unwrap();
        assert_ne!(
            base,
            run.for_input(&audio, Words::Recognised(&de)).unwrap(),
            "language"
        );
        std::fs::write(asr.join("config.json"), "{ }").unwrap();
        let changed = Fingerprint::for_asr(&asr, "en").unwrap();
        assert_ne!(
            base,
            run.for_input(&audio, Words::Recognised(&changed)).unwrap(),
            "ASR model files"
        );
    }
}
