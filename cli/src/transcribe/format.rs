//! The transcript formats `transcribe` writes, how a file name picks one, and
//! the timestamps the subtitle writers share.
//!
//! Every writer takes the recognised [`Transcribed`] file as it is (segments,
//! words, the window statistics) and returns the file's text; each format
//! has its own module ([`super::json`], [`super::srt`], [`super::vtt`],
//! [`super::textgrid`]). All of them are read back by
//! [`emoscope::transcript::read_file`] with the same segments (and, where the
//! format holds them, words): `tests/transcribe_cli.rs` checks that.

use std::path::Path;

pub use crate::asr::Transcribed;

/// A transcript file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// openai-whisper's JSON (`text`, `language`, `segments` with `words`).
    Json,
    /// SubRip subtitles, one cue per segment.
    Srt,
    /// WebVTT subtitles, one cue per segment.
    Vtt,
    /// Praat TextGrid: a `segments` and a `words` interval tier.
    #[value(name = "textgrid")]
    TextGrid,
}

impl OutputFormat {
    /// Every format.
    pub const ALL: [OutputFormat; 4] = [Self::Json, Self::Srt, Self::Vtt, Self::TextGrid];

    /// The file extension, as the tools that open the format spell it.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Srt => "srt",
            Self::Vtt => "vtt",
            Self::TextGrid => "TextGrid",
        }
    }

    /// The format a file called `path` is in (its extension, any case).
    pub fn from_path(path: &Path) -> Option<Self> {
        let ext = path.extension()?.to_str()?;
        Self::ALL
            .into_iter()
            .find(|f| f.extension().eq_ignore_ascii_case(ext))
    }

    /// The extensions, for messages: `.json, .srt, .vtt or .TextGrid`.
    pub fn listing() -> String {
        let names: Vec<String> = Self::ALL
            .iter()
            .map(|f| format!(".{}", f.extension()))
            .collect();
        format!("{} or {}", names[..3].join(", "), names[3])
    }

    /// The file's text.
    pub fn render(self, file: &Transcribed) -> String {
        match self {
            Self::Json => super::json::render(file),
            Self::Srt => super::srt::render(&file.transcript),
            Self::Vtt => super::vtt::render(&file.transcript),
            Self::TextGrid => super::textgrid::render(file),
        }
    }
}

/// `HH:MM:SS` + `separator` + `mmm`, rounded to the millisecond (SubRip's
/// separator is a comma, WebVTT's a full stop).
pub fn clock(t: f64, separator: char) -> String {
    let ms = (t.max(0.0) * 1000.0).round() as u64;
    format!(
        "{:02}:{:02}:{:02}{separator}{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_rounds_to_the_millisecond_and_counts_hours() {
        // 3723.4375 s (exact in binary) = 1 h 2 min 3 s 437.5 ms, rounded
        // half away from zero to 438 ms.
        assert_eq!(clock(3723.4375, ','), "01:02:03,438");
        assert_eq!(clock(0.0, '.'), "00:00:00.000");
        // 59.9996 s rounds up into the next minute.
        assert_eq!(clock(59.9996, '.'), "00:01:00.000");
        // 100 h still shows all its hours.
        assert_eq!(clock(360_000.0, '.'), "100:00:00.000");
    }

    #[test]
    fn the_extension_picks_the_format_in_any_case() {
        for f in OutputFormat::ALL {
            let upper = format!("x.{}", f.extension().to_uppercase());
            assert_eq!(OutputFormat::from_path(Path::new(&upper)), Some(f));
        }
        assert_eq!(
            OutputFormat::from_path(Path::new("a/b.textgrid")),
            Some(OutputFormat::TextGrid)
        );
        assert_eq!(OutputFormat::from_path(Path::new("notes.txt")), None);
        assert_eq!(OutputFormat::from_path(Path::new("out")), None);
        assert_eq!(OutputFormat::listing(), ".json, .srt, .vtt or .TextGrid");
    }
}
