//! Marker and timeline exports for the tools annotation work happens in.
//!
//! An [`Annotation`] (built by [`Annotation::build`] from the engine's
//! timeline, the speech regions of the voice-activity detector and the
//! transcript; [`crate::recording`] builds it for a recording or the
//! plugin's session) is rendered by one module per format into files named
//! after the input with the format's usual extension
//! ([`ExportFormat::suffixes`]): Audacity labels, REAPER region/marker CSV,
//! Sonic Visualiser CSV layers, Praat TextGrid, ELAN EAF, WebVTT, CSV, JSON
//! and a Standard MIDI File. Rendering is pure (document in, bytes out);
//! [`write`](fn@write) renders and writes the files, each atomically
//! ([`crate::atomic_write`]), for `emoscope annotate` and the plugin alike.

pub mod audacity;
pub mod csv;
mod document;
pub mod eaf;
pub mod midi;
pub mod reaper;
pub mod segments;
pub mod speakers;
pub mod sv;
pub mod textgrid;
pub mod vtt;

#[cfg(test)]
mod tests;

pub use document::{
    tracks, transcript_segments, Annotation, MarkedSegment, Marker, SegmentSource, Track,
    TranscriptSegment, TranscriptWord, DOCUMENT_FORMAT,
};
pub use segments::{LabelStyle, SegmentSpan};
pub use speakers::{QuadrantShares, SpeakerSummary};

use std::path::{Path, PathBuf};

use crate::atomic_write::write_atomic;
use crate::engine::AnalysisConfig;
use crate::reading::{Emotion, OutputRange, Reading, Span};
use crate::transcript::{Speaker, SpeakerTurns, Transcript};

/// A file format Emoscope exports: `emoscope annotate --format` and the
/// plugin's export menu name the same formats. Written and read by its
/// [`name`](Self::name) (`"json"`, `"sv"`, ...), as the plugin stores it in
/// a project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum ExportFormat {
    /// Audacity label track (`.txt`).
    Audacity,
    /// REAPER Region/Marker Manager CSV (`.reaper.csv`).
    Reaper,
    /// Sonic Visualiser CSV layers (`.sv-arousal.csv`, `.sv-valence.csv`, `.sv-dominance.csv`, `.sv-segments.csv`).
    SonicVisualiser,
    /// Praat TextGrid (`.TextGrid`).
    TextGrid,
    /// ELAN EAF 3.0 (`.eaf`).
    Eaf,
    /// WebVTT (`.vtt`).
    WebVtt,
    /// The timeline as CSV (`.csv`).
    Csv,
    /// The whole annotation as JSON (`.json`).
    #[default]
    Json,
    /// Standard MIDI File with CC lanes and markers (`.mid`).
    Midi,
}

impl ExportFormat {
    /// Every format, in the order `all` expands to.
    pub const ALL: [ExportFormat; 9] = [
        Self::Audacity,
        Self::Reaper,
        Self::SonicVisualiser,
        Self::TextGrid,
        Self::Eaf,
        Self::WebVtt,
        Self::Csv,
        Self::Json,
        Self::Midi,
    ];

    /// The name `--format` uses (and a saved plugin state).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Audacity => "audacity",
            Self::Reaper => "reaper",
            Self::SonicVisualiser => "sv",
            Self::TextGrid => "textgrid",
            Self::Eaf => "eaf",
            Self::WebVtt => "vtt",
            Self::Csv => "csv",
            Self::Json => "json",
            Self::Midi => "midi",
        }
    }

    /// The format named `name` (any case); `None` for no such format.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(name))
    }

    /// What a menu calls it.
    pub fn description(self) -> &'static str {
        match self {
            Self::Json => "JSON (annotation)",
            Self::Csv => "CSV (timeline)",
            Self::Audacity => "Audacity labels",
            Self::Reaper => "REAPER regions/markers",
            Self::SonicVisualiser => "Sonic Visualiser layers",
            Self::TextGrid => "Praat TextGrid",
            Self::Eaf => "ELAN EAF",
            Self::WebVtt => "WebVTT",
            Self::Midi => "MIDI file (CC + markers)",
        }
    }

    /// The usual file extension, without the dot (for a file dialog's
    /// filter): the last part of the first suffix (`csv` for `.reaper.csv`).
    pub fn extension(self) -> &'static str {
        let suffix = self.suffixes()[0];
        suffix.rsplit('.').next().unwrap_or(suffix)
    }

    /// What follows the input's stem in each file the format writes for a
    /// model with the labels `categories` (empty for a dimensional model):
    /// [`Self::suffixes`], but for Sonic Visualiser a categorical model's
    /// layers are its categories' ([`sv::suffixes`]).
    pub fn suffixes_for(self, categories: &[String]) -> Vec<String> {
        match self {
            Self::SonicVisualiser => sv::suffixes(categories),
            _ => self.suffixes().iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    /// What follows the input's stem in each file the format writes (for a
    /// dimensional model; see [`Self::suffixes_for`]).
    pub fn suffixes(self) -> &'static [&'static str] {
        match self {
            Self::Audacity => &[".txt"],
            Self::Reaper => &[".reaper.csv"],
            Self::SonicVisualiser => &[
                ".sv-arousal.csv",
                ".sv-valence.csv",
                ".sv-dominance.csv",
                ".sv-segments.csv",
            ],
            Self::TextGrid => &[".TextGrid"],
            Self::Eaf => &[".eaf"],
            Self::WebVtt => &[".vtt"],
            Self::Csv => &[".csv"],
            Self::Json => &[".json"],
            Self::Midi => &[".mid"],
        }
    }

    /// Parses a comma-separated list of names, or `all`; duplicates are removed, order kept.
    pub fn parse_list(list: &str) -> Result<Vec<Self>, FormatListError> {
        let mut out: Vec<Self> = Vec::new();
        for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let found: Vec<Self> = if name.eq_ignore_ascii_case("all") {
                Self::ALL.to_vec()
            } else {
                vec![
                    Self::from_name(name).ok_or_else(|| FormatListError::Unknown {
                        name: name.to_owned(),
                    })?,
                ]
            };
            for f in found {
                if !out.contains(&f) {
                    out.push(f);
                }
            }
        }
        if out.is_empty() {
            return Err(FormatListError::Empty);
        }
        Ok(out)
    }
}

/// Why a `--format` list was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatListError {
    /// A name that is no format.
    #[error(
        "unknown format `{name}`: expected `all` or a comma list of {}",
        format_names()
    )]
    Unknown {
        /// The name as given.
        name: String,
    },
    /// Nothing but commas and spaces.
    #[error("no format given")]
    Empty,
}

/// Every format's name, comma-separated, in [`ExportFormat::ALL`] order.
fn format_names() -> String {
    let names: Vec<&str> = ExportFormat::ALL.iter().map(|f| f.name()).collect();
    names.join(", ")
}

impl serde::Serialize for ExportFormat {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> serde::Deserialize<'de> for ExportFormat {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        const NAMES: [&str; ExportFormat::ALL.len()] = {
            let mut names = [""; ExportFormat::ALL.len()];
            let mut i = 0;
            while i < names.len() {
                names[i] = ExportFormat::ALL[i].name();
                i += 1;
            }
            names
        };
        let name = String::deserialize(d)?;
        Self::from_name(&name).ok_or_else(|| serde::de::Error::unknown_variant(&name, &NAMES))
    }
}

/// What `emoscope annotate` puts between an input's stem and each format's
/// suffix (`talk.emoscope.vtt`), so that its outputs are never taken for a
/// transcript sidecar (`talk.vtt`) when they are written beside the audio.
pub const OUTPUT_TAG: &str = ".emoscope";

/// The text after `WEBVTT` on the first line of Emoscope's WebVTT export.
pub const VTT_HEADER_TAG: &str = "- Emoscope annotation";

/// Whether the file at `path` is one of Emoscope's own outputs: named with
/// [`OUTPUT_TAG`] before its suffix, or (for files written before outputs
/// were tagged, or renamed) starting like Emoscope's JSON document or WebVTT
/// export. Such a file is never read as a transcript sidecar.
pub fn is_emoscope_output(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if name.contains(&format!("{OUTPUT_TAG}.")) {
        return true;
    }
    let mut head = [0u8; 256];
    let n = std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
        .unwrap_or(0);
    let head = String::from_utf8_lossy(&head[..n]);
    let compact: String = head.chars().filter(|c| !c.is_whitespace()).collect();
    compact.starts_with(&format!(
        "{{\"format\":\"{}",
        DOCUMENT_FORMAT.trim_end_matches("/1")
    )) || head.starts_with(&format!("WEBVTT {VTT_HEADER_TAG}"))
}

/// One file to write: the suffix after the input's stem and the contents.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportFile {
    /// File name suffix: one of [`ExportFormat::suffixes`], or for a
    /// speaker's own Sonic Visualiser layer, one [`sv::speaker_suffixes`]
    /// makes (written after the format's own files).
    pub suffix: String,
    /// The bytes to write.
    pub bytes: Vec<u8>,
}

/// Why an export file could not be written. The message names the file
/// and includes the I/O error, which is therefore not also its `source()`.
#[derive(Debug, thiserror::Error)]
#[error("writing {}: {error}", path.display())]
pub struct WriteError {
    /// The file.
    pub path: PathBuf,
    /// What went wrong.
    pub error: std::io::Error,
}

/// Renders `doc` in `format` and writes each of its files to `dest(suffix)`
/// atomically (a failed write leaves the file as it was); returns the
/// paths written, in [`ExportFormat::suffixes`] order, then any speaker's
/// own files (see [`ExportFile::suffix`]). Folders are not created.
pub fn write(
    format: ExportFormat,
    doc: &Annotation,
    mut dest: impl FnMut(&str) -> PathBuf,
) -> Result<Vec<PathBuf>, WriteError> {
    render(format, doc)
        .into_iter()
        .map(|file| {
            let path = dest(&file.suffix);
            match write_atomic(&path, &file.bytes) {
                Ok(()) => Ok(path),
                Err(error) => Err(WriteError { path, error }),
            }
        })
        .collect()
}

/// Renders `doc` in `format`: the format's files ([`ExportFormat::suffixes`]),
/// then, for Sonic Visualiser with speakers, each speaker's own layers.
pub fn render(format: ExportFormat, doc: &Annotation) -> Vec<ExportFile> {
    let s = format.suffixes_for(&doc.categories);
    let one = |bytes: Vec<u8>| {
        vec![ExportFile {
            suffix: s[0].clone(),
            bytes,
        }]
    };
    match format {
        ExportFormat::Audacity => one(audacity::render(doc).into_bytes()),
        ExportFormat::Reaper => one(reaper::render(doc).into_bytes()),
        ExportFormat::SonicVisualiser => {
            let own = sv::render(doc).into_iter().zip(s.iter().cloned());
            let speakers = sv::render_speakers(doc);
            own.chain(speakers)
                .map(|(text, suffix)| ExportFile {
                    suffix,
                    bytes: text.into_bytes(),
                })
                .collect()
        }
        ExportFormat::TextGrid => one(textgrid::render(doc).into_bytes()),
        ExportFormat::Eaf => {
            let date = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
            one(eaf::render(doc, &date).into_bytes())
        }
        ExportFormat::WebVtt => one(vtt::render(doc).into_bytes()),
        ExportFormat::Csv => one(csv::render(doc).into_bytes()),
        ExportFormat::Json => one(doc.to_json().into_bytes()),
        ExportFormat::Midi => one(midi::render(doc)),
    }
}

/// What [`Annotation::build`] needs besides the timeline.
#[derive(Debug, Clone)]
pub struct BuildInfo<'a> {
    /// The audio file (recorded in the document; the EAF media link points at it).
    pub audio: &'a str,
    /// Audio duration, seconds.
    pub duration: f64,
    /// The model's identifier.
    pub model: &'a str,
    /// The model's declared output range.
    pub output_range: OutputRange,
    /// The model's category labels (empty for a dimensional model).
    pub categories: &'a [String],
    /// The analysis settings the timeline was made with.
    pub config: &'a AnalysisConfig,
    /// Speech regions from the voice-activity detector, seconds.
    pub speech: &'a [Span],
    /// The transcript, if any.
    pub transcript: Option<&'a Transcript>,
    /// How labels are written.
    pub labels: LabelStyle,
    /// The windows speech-gated analysis left out (no speech).
    pub no_speech: &'a [Span],
    /// The speaker turns each reading's speaker comes from, when known:
    /// the document sums up each of their speakers.
    pub turns: Option<&'a SpeakerTurns>,
}

impl Annotation {
    /// Builds the document from the engine's timeline (see [`segments`] for
    /// how segments and markers are made), each segment's reading being the
    /// mean of the windows overlapping it: for callers without the audio
    /// (the plugin's session export). With the audio at hand, score each of
    /// [`Annotation::segment_spans`] on its own and use
    /// [`Annotation::build_with_segment_readings`].
    pub fn build(timeline: Vec<Reading>, info: &BuildInfo<'_>) -> Self {
        let spans = Self::segment_spans(info);
        let marked = match segments::window_means(&spans, &timeline) {
            Some(means) => segments::mark_segments(
                spans,
                &means,
                info.output_range,
                info.categories,
                info.labels,
            ),
            None => Vec::new(),
        };
        Self::assemble(timeline, marked, info)
    }

    /// The segments the document will have, before their readings: the
    /// transcript's segments and the speech outside them.
    pub fn segment_spans(info: &BuildInfo<'_>) -> Vec<SegmentSpan> {
        let transcript = info.transcript.map(transcript_segments).unwrap_or_default();
        segments::plan_segments(info.speech, &transcript, info.duration, info.turns)
    }

    /// Builds the document with `readings[i]` as the reading of
    /// `Self::segment_spans(info)[i]`.
    pub fn build_with_segment_readings(
        timeline: Vec<Reading>,
        info: &BuildInfo<'_>,
        readings: &[Emotion],
    ) -> Self {
        let marked = segments::mark_segments(
            Self::segment_spans(info),
            readings,
            info.output_range,
            info.categories,
            info.labels,
        );
        Self::assemble(timeline, marked, info)
    }

    fn assemble(
        mut readings: Vec<Reading>,
        mut segments: Vec<MarkedSegment>,
        info: &BuildInfo<'_>,
    ) -> Self {
        // One rule for every format: values stay as the model gave them, and
        // those outside the declared range are flagged.
        let range = info.output_range;
        for r in &mut readings {
            r.out_of_range = !range.covers(&r.emotion);
        }
        for s in &mut segments {
            s.out_of_range = !range.covers(&s.emotion);
        }
        let transcript = info.transcript.map(transcript_segments).unwrap_or_default();
        let markers = segments::change_markers(&readings, info.output_range, info.categories);
        let speakers = info
            .turns
            .map(|t| speakers::summarise(t, &readings, range, info.categories, info.duration))
            .unwrap_or_default();
        Self {
            format: DOCUMENT_FORMAT.into(),
            audio: info.audio.into(),
            duration: info.duration,
            model: info.model.into(),
            output_range: info.output_range,
            categories: info.categories.to_vec(),
            window_seconds: info.config.window_seconds,
            hop_seconds: info.config.hop_seconds,
            smoothing_seconds: info.config.smoothing_seconds,
            timeline: readings,
            segments,
            markers,
            transcript,
            no_speech: no_speech_spans(info.no_speech, info.config.hop_seconds, info.duration),
            speakers,
        }
    }
}

/// The hop around each left-out window's centre, clipped to the audio and
/// merged: the document's `no_speech`, from the windows speech-gated
/// analysis left out.
pub fn no_speech_spans(windows: &[Span], hop: f64, duration: f64) -> Vec<Span> {
    let mut spans: Vec<Span> = Vec::new();
    for window in windows {
        let centre = window.centre();
        let (a, b) = (
            (centre - 0.5 * hop).max(0.0),
            (centre + 0.5 * hop).min(duration),
        );
        if b <= a {
            continue;
        }
        match spans.last_mut() {
            Some(last) if a <= last.end + 1e-9 => last.end = last.end.max(b),
            _ => spans.push(Span::new(a, b)),
        }
    }
    spans
}

/// Whose tiers, layers or channels an export writes, in order: without
/// speakers, one stream (`None`: today's layout); with them, each speaker
/// the document names ([`Annotation::speaker_names`]), then `None` for the
/// readings, segments or words that name no one, if any do.
pub(crate) fn voices(doc: &Annotation) -> Vec<Option<Speaker>> {
    let names = doc.speaker_names();
    if names.is_empty() {
        return vec![None];
    }
    let unnamed = doc.timeline.iter().any(|r| r.speaker.is_none())
        || doc.segments.iter().any(|s| s.speaker.is_none())
        || doc
            .transcript
            .iter()
            .any(|t| t.speaker.is_none() && !t.words.is_empty());
    let mut out: Vec<Option<Speaker>> = names.into_iter().map(Some).collect();
    if unnamed {
        out.push(None);
    }
    out
}

/// The name of `who`'s tier called `base`: `base` for no one (the
/// name without speakers), `base@name` for a speaker (ELAN's way of
/// naming one participant's tier).
pub(crate) fn tier_name(base: &str, who: Option<&Speaker>) -> String {
    match who {
        Some(s) => format!("{base}@{s}"),
        None => base.to_owned(),
    }
}

/// `label` prefixed with its speaker (`host: A.50 V.50 D.50`), as it is
/// without one.
pub(crate) fn spoken(label: &str, who: Option<&Speaker>) -> String {
    match who {
        Some(s) => one_line(&format!("{s}: {label}")),
        None => one_line(label),
    }
}

/// `s` on one line: line breaks and tabs become spaces (every marker format is line-based).
pub(crate) fn one_line(s: &str) -> String {
    s.replace(['\r', '\n', '\t'], " ")
}

#[cfg(test)]
mod format_tests {
    use super::*;

    #[test]
    fn format_lists() {
        assert_eq!(
            ExportFormat::parse_list("all").unwrap(),
            ExportFormat::ALL.to_vec()
        );
        assert_eq!(
            ExportFormat::parse_list("midi, TextGrid,midi").unwrap(),
            vec![ExportFormat::Midi, ExportFormat::TextGrid]
        );
        let e = ExportFormat::parse_list("csv,pdf").unwrap_err();
        assert_eq!(e, FormatListError::Unknown { name: "pdf".into() });
        let message = e.to_string();
        assert!(
            message.contains("`pdf`") && message.contains("audacity, reaper, sv"),
            "{message}"
        );
        assert_eq!(
            ExportFormat::parse_list(" , ").unwrap_err(),
            FormatListError::Empty
        );
    }

    #[test]
    fn formats_are_written_and_read_by_name() {
        for f in ExportFormat::ALL {
            let json = serde_json::to_string(&f).unwrap();
            assert_eq!(json, format!("\"{}\"", f.name()));
            assert_eq!(serde_json::from_str::<ExportFormat>(&json).unwrap(), f);
            assert_eq!(ExportFormat::from_name(&f.name().to_uppercase()), Some(f));
        }
        assert!(serde_json::from_str::<ExportFormat>("\"pdf\"").is_err());
        assert_eq!(ExportFormat::default(), ExportFormat::Json);
        // The extension a file dialog filters on: the last part of the first suffix.
        let ext: Vec<&str> = ExportFormat::ALL.iter().map(|f| f.extension()).collect();
        assert_eq!(
            ext,
            ["txt", "csv", "csv", "TextGrid", "eaf", "vtt", "csv", "json", "mid"]
        );
    }

    #[test]
    fn suffixes_are_distinct() {
        let all: Vec<&str> = ExportFormat::ALL
            .iter()
            .flat_map(|f| f.suffixes().iter().copied())
            .collect();
        let mut dedup = all.clone();
        dedup.sort();
        dedup.dedup();
        assert_eq!(all.len(), dedup.len());
    }
}
