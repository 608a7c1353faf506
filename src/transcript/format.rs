//! Which reader a transcript file needs, and reading it.
//!
//! The format follows the file name's extension; a `.txt` file is an Audacity
//! label track when its first non-empty line is `start<TAB>end…` with two
//! numbers, and plain text otherwise. Audio files find their transcript as a
//! sidecar with the same stem ([`sidecar_for`]); their speaker turns, in
//! `name.rttm` or `name.stm`, with [`speakers_sidecar_for`](super::speakers_sidecar_for).

use std::path::{Path, PathBuf};

use super::error::{ReadError, Warnings};
use super::{
    audacity, check_against_audio, decode, eaf, plain, srt, stm, textgrid, vtt, whisper, Transcript,
};

/// A transcript file format Emoscope reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TranscriptFormat {
    /// SubRip subtitles (`.srt`).
    Srt,
    /// WebVTT subtitles (`.vtt`).
    WebVtt,
    /// Praat TextGrid, long or short text form (`.TextGrid`).
    TextGrid,
    /// ELAN annotation document (`.eaf`).
    Eaf,
    /// Audacity label track export (`.txt`, tab-separated).
    AudacityLabels,
    /// openai-whisper or WhisperX output (`.json`).
    WhisperJson,
    /// NIST STM segment time marks, with speakers (`.stm`).
    Stm,
    /// Plain text, one segment over the whole audio (`.txt`).
    PlainText,
}

/// Sidecar extensions in the order they are looked for next to an audio file.
pub const SIDECAR_EXTENSIONS: [&str; 8] = [
    "srt", "vtt", "TextGrid", "textgrid", "eaf", "stm", "json", "txt",
];

impl TranscriptFormat {
    /// Every format, for listings and tests.
    pub const ALL: [TranscriptFormat; 8] = [
        Self::Srt,
        Self::WebVtt,
        Self::TextGrid,
        Self::Eaf,
        Self::AudacityLabels,
        Self::WhisperJson,
        Self::Stm,
        Self::PlainText,
    ];

    /// A short name (`srt`, `vtt`, `textgrid`, `eaf`, `audacity`, `whisper`,
    /// `stm`, `text`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Srt => "srt",
            Self::WebVtt => "vtt",
            Self::TextGrid => "textgrid",
            Self::Eaf => "eaf",
            Self::AudacityLabels => "audacity",
            Self::WhisperJson => "whisper",
            Self::Stm => "stm",
            Self::PlainText => "text",
        }
    }

    /// The format named `name` (as [`Self::name`] spells it, case-insensitive).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(name))
    }

    /// The format of a file called `path` with contents `text`.
    pub fn detect(path: &Path, text: &str) -> Option<Self> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        Some(match ext.as_str() {
            "srt" => Self::Srt,
            "vtt" => Self::WebVtt,
            "textgrid" => Self::TextGrid,
            "eaf" => Self::Eaf,
            "json" => Self::WhisperJson,
            "stm" => Self::Stm,
            "txt" | "text" => {
                if audacity::looks_like_labels(text) {
                    Self::AudacityLabels
                } else {
                    Self::PlainText
                }
            }
            _ => return None,
        })
    }
}

/// What a reader may need beyond the file itself.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReadOptions {
    /// Force a format instead of detecting it from the file name.
    pub format: Option<TranscriptFormat>,
    /// Duration of the audio the transcript belongs to, in seconds: a plain
    /// text transcript spans `[0, duration]`, and is refused without it.
    /// Cues that start after it (or end more than a second after it) are
    /// warned about.
    pub audio_seconds: Option<f64>,
    /// For multi-tier formats (TextGrid, EAF): the tier whose annotations are
    /// the segments, instead of the reader's choice.
    pub tier: Option<String>,
    /// For files that hold several recordings (STM, and RTTM in
    /// [`read_speakers`](super::read_speakers)): the one to read, as the
    /// file's `file` field names it (the audio's stem), instead of the one
    /// named like the transcript file itself.
    pub recording: Option<String>,
    /// Refuse input the readers would repair or skip (and cues that overlap
    /// or lie beyond the audio) with [`ReadError::Strict`], instead of
    /// reading it with a [`ReadWarning`](super::ReadWarning) on
    /// [`Transcript::warnings`].
    pub strict: bool,
}

/// Reads and parses the transcript at `path`.
pub fn read_file(path: &Path, options: &ReadOptions) -> Result<Transcript, ReadError> {
    let bytes = std::fs::read(path).map_err(|source| ReadError::Io {
        path: path.to_owned(),
        source,
    })?;
    if bytes.starts_with(b"ooBinaryFile")
        && options
            .format
            .is_none_or(|f| f == TranscriptFormat::TextGrid)
    {
        let grid = textgrid::parse_binary_grid(&bytes, path)?;
        let mut t = textgrid::transcript(&grid, path, options.tier.as_deref())?;
        check_against_audio(&mut t, path, options.audio_seconds, options.strict)?;
        return Ok(t);
    }
    let mut warnings = Warnings::new(path, options.strict);
    let text = decode::decode(&bytes, path, &mut warnings)?;
    parse_with(&text, path, options, warnings)
}

/// Parses transcript `text` as read from `path` (which names it in errors
/// and, unless `options.format` is set, gives its format).
pub fn parse_str(text: &str, path: &Path, options: &ReadOptions) -> Result<Transcript, ReadError> {
    parse_with(text, path, options, Warnings::new(path, options.strict))
}

/// [`parse_str`] continuing the warnings of decoding.
fn parse_with(
    text: &str,
    path: &Path,
    options: &ReadOptions,
    warnings: Warnings,
) -> Result<Transcript, ReadError> {
    let format = options
        .format
        .or_else(|| TranscriptFormat::detect(path, text))
        .ok_or_else(|| ReadError::UnknownFormat {
            path: path.to_owned(),
        })?;
    let mut transcript = match format {
        TranscriptFormat::Srt => srt::read(text, path, warnings)?,
        TranscriptFormat::WebVtt => vtt::read(text, path, warnings)?,
        TranscriptFormat::Stm => stm::read(text, path, options.recording.as_deref(), warnings)?,
        other => {
            let mut t = parse_untimed_warnings(other, text, path, options)?;
            let mut all = warnings.into_vec();
            all.append(&mut t.warnings);
            t.warnings = all;
            t
        }
    };
    check_against_audio(&mut transcript, path, options.audio_seconds, options.strict)?;
    Ok(transcript)
}

/// The readers that do not repair input themselves.
fn parse_untimed_warnings(
    format: TranscriptFormat,
    text: &str,
    path: &Path,
    options: &ReadOptions,
) -> Result<Transcript, ReadError> {
    match format {
        TranscriptFormat::Srt => srt::parse(text, path),
        TranscriptFormat::WebVtt => vtt::parse(text, path),
        TranscriptFormat::TextGrid => textgrid::parse(text, path, options.tier.as_deref()),
        TranscriptFormat::Eaf => eaf::parse(text, path, options.tier.as_deref()),
        TranscriptFormat::AudacityLabels => audacity::parse(text, path),
        TranscriptFormat::WhisperJson => whisper::parse(text, path),
        TranscriptFormat::Stm => stm::parse(text, path, options.recording.as_deref()),
        TranscriptFormat::PlainText => match options.audio_seconds {
            Some(seconds) => plain::parse(text, path, seconds),
            None => Err(ReadError::NeedsDuration {
                path: path.to_owned(),
            }),
        },
    }
}

/// The transcript next to `audio`: the first of `name.srt`, `.vtt`,
/// `.TextGrid`, `.eaf`, `.stm`, `.json`, `.txt` that exists and is not one of
/// Emoscope's own outputs ([`crate::export::is_emoscope_output`]).
pub fn sidecar_for(audio: &Path) -> Option<PathBuf> {
    SIDECAR_EXTENSIONS
        .iter()
        .map(|ext| audio.with_extension(ext))
        .find(|p| p.is_file() && !crate::export::is_emoscope_output(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_pick_readers_and_txt_is_sniffed() {
        let d = |name: &str, text: &str| TranscriptFormat::detect(Path::new(name), text);
        assert_eq!(d("a.srt", ""), Some(TranscriptFormat::Srt));
        assert_eq!(d("a.VTT", ""), Some(TranscriptFormat::WebVtt));
        assert_eq!(d("a.TextGrid", ""), Some(TranscriptFormat::TextGrid));
        assert_eq!(d("a.eaf", ""), Some(TranscriptFormat::Eaf));
        assert_eq!(d("a.json", ""), Some(TranscriptFormat::WhisperJson));
        assert_eq!(d("a.stm", ""), Some(TranscriptFormat::Stm));
        assert_eq!(
            d("a.txt", "\n0.5\t1.25\thello\n"),
            Some(TranscriptFormat::AudacityLabels)
        );
        assert_eq!(
            d("a.txt", "Hello there.\n"),
            Some(TranscriptFormat::PlainText)
        );
        assert_eq!(d("a.wav", ""), None);
        assert_eq!(d("noext", ""), None);
    }

    #[test]
    fn plain_text_needs_the_duration() {
        let p = Path::new("a.txt");
        let e = parse_str("hello", p, &ReadOptions::default()).unwrap_err();
        assert!(matches!(e, ReadError::NeedsDuration { .. }), "{e}");
        let t = parse_str(
            "hello",
            p,
            &ReadOptions {
                audio_seconds: Some(2.0),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(t.segments()[0].end, 2.0);
    }

    #[test]
    fn cues_after_the_audio_and_overlapping_cues_are_warned_about() {
        // Issue 16, item 7: a cue at 600 s in a 7 s file; two cues overlapping.
        let text = "1\n00:00:01,000 --> 00:00:03,000\na\n\n\
                    2\n00:00:02,000 --> 00:00:04,000\nb\n\n\
                    3\n00:10:00,000 --> 00:10:02,000\nc\n";
        let p = Path::new("talk.srt");
        let options = ReadOptions {
            audio_seconds: Some(7.0),
            ..Default::default()
        };
        let t = parse_str(text, p, &options).unwrap();
        let w: Vec<String> = t.warnings().iter().map(|w| w.to_string()).collect();
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(
            w[0].starts_with("talk.srt: line 6: cue 2.000..4.000 s overlaps the cue at line 2"),
            "{w:?}"
        );
        assert!(
            w[1].starts_with(
                "talk.srt: line 10: cue starts at 600.000 s, after the audio ends (7.000 s)"
            ),
            "{w:?}"
        );
        let strict = ReadOptions {
            strict: true,
            ..options
        };
        let e = parse_str(text, p, &strict).unwrap_err();
        assert!(matches!(e, ReadError::Strict { .. }), "{e}");
    }

    #[test]
    fn different_speakers_may_talk_at_once() {
        // alice 0..3 s and bob 2..4 s overlap: a conversation, no warning, even
        // when strict; bob's second turn 3.5..5 s overlaps his first: warned.
        let text = "talk 1 alice 0 3 hello\ntalk 1 bob 2 4 hi\ntalk 1 bob 3.5 5 again\n";
        let p = Path::new("talk.stm");
        let t = parse_str(text, p, &ReadOptions::default()).unwrap();
        let w: Vec<String> = t.warnings().iter().map(|w| w.to_string()).collect();
        assert_eq!(
            w,
            vec!["talk.stm: line 3: cue 3.500..5.000 s overlaps the cue at line 2 (2.000..4.000 s); both kept, so windows over the overlap read both texts"]
        );
        let strict = ReadOptions {
            strict: true,
            ..Default::default()
        };
        assert!(parse_str(&text.replace("3.5 5", "4 5"), p, &strict).is_ok());
    }

    #[test]
    fn decoding_warnings_come_first_and_strict_refuses_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("latin.srt");
        // "Café au lait, s'il vous plaît, très été" in Windows-1252.
        std::fs::write(
            &path,
            b"1\n00:00:01,000 --> 00:00:02,000\nCaf\xE9 au lait, s'il vous pla\xEEt, tr\xE8s \xE9t\xE9\n",
        )
        .unwrap();
        let t = read_file(&path, &ReadOptions::default()).unwrap();
        assert_eq!(
            t.segments()[0].text,
            "Café au lait, s'il vous plaît, très été"
        );
        assert_eq!(t.warnings().len(), 1);
        assert!(t.warnings()[0].message.contains("windows-1252"));
        let strict = ReadOptions {
            strict: true,
            ..Default::default()
        };
        assert!(matches!(
            read_file(&path, &strict),
            Err(ReadError::Strict { .. })
        ));
    }

    #[test]
    fn sidecars_are_found_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let audio = dir.path().join("talk.wav");
        assert_eq!(sidecar_for(&audio), None);
        std::fs::write(dir.path().join("talk.txt"), "x").unwrap();
        assert_eq!(sidecar_for(&audio), Some(dir.path().join("talk.txt")));
        std::fs::write(dir.path().join("talk.vtt"), "WEBVTT\n").unwrap();
        assert_eq!(sidecar_for(&audio), Some(dir.path().join("talk.vtt")));
    }

    #[test]
    fn emoscope_outputs_are_never_sidecars() {
        let dir = tempfile::tempdir().unwrap();
        // An annotation of `talk.emoscope.wav` sits where that file's sidecars
        // would be; old untagged outputs are known by their first bytes.
        let audio = dir.path().join("talk.emoscope.wav");
        std::fs::write(dir.path().join("talk.emoscope.srt"), "1\n").unwrap();
        assert_eq!(sidecar_for(&audio), None);
        let audio = dir.path().join("talk.wav");
        let vtt = format!(
            "WEBVTT {}\n\n1\n00:00:00.000 --> 00:00:01.000\nA.50 V.50 D.50 | hi\n",
            crate::export::VTT_HEADER_TAG
        );
        std::fs::write(dir.path().join("talk.vtt"), vtt).unwrap();
        std::fs::write(
            dir.path().join("talk.json"),
            format!(
                "{{\n  \"format\": \"{}\",\n  \"audio\": \"talk.wav\"}}",
                crate::export::DOCUMENT_FORMAT
            ),
        )
        .unwrap();
        assert_eq!(sidecar_for(&audio), None);
        std::fs::write(dir.path().join("talk.txt"), "hello").unwrap();
        assert_eq!(sidecar_for(&audio), Some(dir.path().join("talk.txt")));
    }

    #[test]
    fn names_round_trip() {
        for f in TranscriptFormat::ALL {
            assert_eq!(TranscriptFormat::from_name(f.name()), Some(f));
        }
    }
}
