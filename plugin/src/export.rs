//! Writing the emotion timeline to a file (the editor's "Export" button and
//! the optional export on deactivate; never the audio thread).
//!
//! [`export_timeline`] is the one place the plugin writes markers, in every
//! format `emoscope annotate` writes (Audacity labels, REAPER regions,
//! Sonic Visualiser layers, Praat TextGrid, ELAN EAF, WebVTT, CSV, JSON, MIDI
//! file): the session is a [`Recording`] known only from its timeline
//! ([`Recording::from_timeline`]), whose annotation is built by the same
//! step as a file's in `emoscope annotate` and written by the same writer
//! ([`emoscope::export::write`]), so a marker file from the plugin and one
//! from the CLI read the same in every tool. The plugin keeps no audio, so
//! where the CLI has its voice-activity detector's speech regions the
//! plugin's session has the analysed regions (the union of the analysed
//! windows); the transcript's segments, when one is loaded, come first as in
//! the CLI. With "analyse speech only" on, the windows left out for want of
//! speech are the document's `no_speech`, as in `emoscope annotate`, and the
//! analysed regions end where that gap begins. With a transcript that names
//! its speakers, the session has its speaker turns, so every format is
//! written per speaker as `emoscope annotate` writes it. Each file is written atomically (a temporary file beside the
//! destination, flushed to disk, renamed over it), so a failed write never
//! leaves half a file, and the timeline stays in memory for another try.

use std::path::{Path, PathBuf};

use emoscope::engine::timeline::TimelineEntries;
use emoscope::engine::AnalysisConfig;
use emoscope::export::segments::subtract;
use emoscope::export::{no_speech_spans, ExportFormat, LabelStyle};
use emoscope::recording::{AnnotationContext, Recording};
use emoscope::transcript::Transcript;
use emoscope::{OutputRange, Span};

/// The formats in the editor's menu, in its order (the whole annotation
/// first). The plugin stores the chosen one by [`ExportFormat::name`], the
/// `--format` name of `emoscope annotate`.
pub const MENU: [ExportFormat; 9] = [
    ExportFormat::Json,
    ExportFormat::Csv,
    ExportFormat::Audacity,
    ExportFormat::Reaper,
    ExportFormat::SonicVisualiser,
    ExportFormat::TextGrid,
    ExportFormat::Eaf,
    ExportFormat::WebVtt,
    ExportFormat::Midi,
];

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// No destination chosen.
    #[error("no export file chosen")]
    NoPath,
    /// Nothing analysed yet.
    #[error("the timeline is empty: nothing has been analysed yet")]
    Empty,
    /// Creating, writing or renaming the file failed.
    #[error("writing {}: {source}", path.display())]
    Io {
        /// The destination.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// What the document needs besides the timeline.
#[derive(Debug, Clone)]
pub struct ExportContext<'a> {
    /// The model's declared output range (labels and MIDI values map it onto 0..1).
    pub output_range: OutputRange,
    /// The model's category labels (empty for a dimensional model).
    pub categories: &'a [String],
    /// The analysis settings the timeline was made with.
    pub config: &'a AnalysisConfig,
    /// The loaded transcript, if any (already placed on the host timeline).
    pub transcript: Option<&'a Transcript>,
}

/// The files `format` writes for the chosen `path` for a model with the
/// labels `categories`: the path itself for one-file formats; `stem` + each
/// suffix beside it for Sonic Visualiser (each speaker's own layers besides,
/// when the transcript names speakers: [`output_path`]).
pub fn output_paths(path: &Path, format: ExportFormat, categories: &[String]) -> Vec<PathBuf> {
    format
        .suffixes_for(categories)
        .iter()
        .map(|suffix| output_path(path, format, suffix))
        .collect()
}

/// Where the file of `format` with `suffix` goes for the chosen `path`: the
/// path itself for a one-file format; `stem` + `suffix` beside it for Sonic
/// Visualiser's layers.
pub fn output_path(path: &Path, format: ExportFormat, suffix: &str) -> PathBuf {
    if format.suffixes().len() == 1 {
        return path.to_owned();
    }
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!("{stem}{suffix}"))
}

/// The session as a [`Recording`]: its readings ([`Recording::from_timeline`]),
/// the windows left out for want of speech, and its length to the end of
/// the last window of either kind; the hop around each left-out window (the
/// document's `no_speech`) is no analysed region.
fn session(entries: &TimelineEntries, transcript: Option<&Transcript>, hop: f64) -> Recording {
    let mut session = Recording::from_timeline(entries.readings.clone(), transcript.cloned());
    // A transcript that names its speakers gives the session its speaker
    // turns: segments, tiers, layers and summaries per speaker, as in
    // `emoscope annotate`.
    session.turns = transcript
        .map(Transcript::timeline_speaker_turns)
        .filter(|t| !t.is_empty());
    let end = entries.no_speech.iter().map(|s| s.end).fold(0.0, f64::max);
    session.duration = session.duration.max(end);
    let gaps = no_speech_spans(&entries.no_speech, hop, session.duration);
    session.speech = session
        .speech
        .iter()
        .flat_map(|&region| subtract(region, &gaps))
        .collect::<Vec<Span>>();
    session.no_speech = entries.no_speech.clone();
    session
}

/// Writes `entries` to `path` in `format`; returns how many windows were
/// read (the windows without speech are written as the gaps between them).
pub fn export_timeline(
    entries: &TimelineEntries,
    path: &Path,
    format: ExportFormat,
    context: &ExportContext<'_>,
) -> Result<usize, ExportError> {
    if path.as_os_str().is_empty() {
        return Err(ExportError::NoPath);
    }
    if entries.is_empty() {
        return Err(ExportError::Empty);
    }
    let readings = entries.readings.len();
    let model = entries.readings.last().map_or("", |e| e.model_id.as_str());
    // The document spans what was analysed; transcript segments beyond it are clipped.
    let session = session(entries, context.transcript, context.config.hop_seconds);
    let doc = session.into_annotation(&AnnotationContext {
        audio: "host timeline",
        model,
        output_range: context.output_range,
        categories: context.categories,
        config: context.config,
        labels: LabelStyle::default(),
    });
    emoscope::export::write(format, &doc, |suffix| output_path(path, format, suffix)).map_err(
        |e| ExportError::Io {
            path: e.path,
            source: e.error,
        },
    )?;
    Ok(readings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use emoscope::transcript::Segment;
    use emoscope::Reading;

    fn entries() -> Vec<Reading> {
        (0..3)
            .map(|i| Reading {
                span: Span::new(f64::from(i), f64::from(i) + 4.0),
                emotion: emoscope::Emotion::new(0.25 * i as f32, 0.5, -1.0),
                text: if i == 1 {
                    "hi, \"you\"".into()
                } else {
                    String::new()
                },
                model_id: "m".into(),
                ..Reading::default()
            })
            .collect()
    }

    fn export(path: &Path, format: ExportFormat) -> Result<usize, ExportError> {
        let config = AnalysisConfig::default();
        let transcript = Transcript::new(vec![Segment {
            start: 0.5,
            end: 2.0,
            text: "hello there".into(),
            ..Default::default()
        }])
        .unwrap()
        .with_offset(1.0);
        let entries = TimelineEntries {
            readings: entries(),
            no_speech: Vec::new(),
        };
        export_timeline(
            &entries,
            path,
            format,
            &ExportContext {
                output_range: OutputRange::new(-1.0, 1.0),
                categories: &[],
                config: &config,
                transcript: Some(&transcript),
            },
        )
    }

    /// With a transcript that names speakers, the Sonic Visualiser export
    /// writes each speaker's own layers beside the chosen file too (it used
    /// to panic, having a path for the format's own four files only).
    #[test]
    fn sonic_visualiser_with_speakers_writes_each_speakers_layers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("take.csv");
        let transcript = Transcript::new(vec![
            Segment {
                start: 0.0,
                end: 3.0,
                text: "hello".into(),
                speaker: Some(emoscope::transcript::Speaker::new("Ann")),
                ..Default::default()
            },
            Segment {
                start: 3.0,
                end: 6.0,
                text: "hi".into(),
                speaker: Some(emoscope::transcript::Speaker::new("Bo")),
                ..Default::default()
            },
        ])
        .unwrap();
        let readings: Vec<Reading> = entries()
            .into_iter()
            .enumerate()
            .map(|(i, r)| Reading {
                speaker: Some(emoscope::transcript::Speaker::new(if i < 2 {
                    "Ann"
                } else {
                    "Bo"
                })),
                ..r
            })
            .collect();
        let config = AnalysisConfig::default();
        let n = export_timeline(
            &TimelineEntries {
                readings,
                no_speech: Vec::new(),
            },
            &path,
            ExportFormat::SonicVisualiser,
            &ExportContext {
                output_range: OutputRange::UNIT,
                categories: &[],
                config: &config,
                transcript: Some(&transcript),
            },
        )
        .unwrap();
        assert_eq!(n, 3);
        for who in ["Ann", "Bo"] {
            for layer in ["arousal", "valence", "dominance", "segments"] {
                let file = dir.path().join(format!("take.sv-{who}-{layer}.csv"));
                assert!(file.is_file(), "{}", file.display());
            }
        }
        assert!(dir.path().join("take.sv-arousal.csv").is_file());
    }

    #[test]
    fn saved_projects_store_the_format_by_the_names_they_always_had() {
        // What the plugin's own format enum wrote (serde's lowercase variant
        // names), in its menu order: projects saved with it load the same format.
        let names = [
            "json", "csv", "audacity", "reaper", "sv", "textgrid", "eaf", "vtt", "midi",
        ];
        for (format, name) in MENU.into_iter().zip(names) {
            let settings = crate::params::ExportSettings {
                path: "take.x".into(),
                format,
                on_deactivate: true,
            };
            let json = serde_json::to_string(&settings).unwrap();
            assert_eq!(
                json,
                format!(r#"{{"path":"take.x","format":"{name}","on_deactivate":true}}"#)
            );
            let old = format!(r#"{{"path":"take.x","format":"{name}","on_deactivate":true}}"#);
            assert_eq!(
                serde_json::from_str::<crate::params::ExportSettings>(&old).unwrap(),
                settings
            );
        }
        // A state without the field keeps the default, the annotation document.
        let none: crate::params::ExportSettings = serde_json::from_str("{}").unwrap();
        assert_eq!(none.format, ExportFormat::Json);
    }

    #[test]
    fn json_is_the_annotation_document() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.json");
        assert_eq!(export(&path, ExportFormat::Json).unwrap(), 3);
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(v["format"], emoscope::export::DOCUMENT_FORMAT);
        let e = v["timeline"].as_array().unwrap();
        assert_eq!(e.len(), 3);
        assert_eq!(e[2]["arousal"], 0.5);
        assert_eq!(e[1]["text"], "hi, \"you\"");
        // The analysed windows 0..6 s are one region, the duration of the document.
        assert_eq!(v["duration"], 6.0);
        // The transcript segment, on the host timeline (offset 1 s), is a segment.
        let segs = v["segments"].as_array().unwrap();
        assert!(
            segs.iter()
                .any(|s| s["text"] == "hello there" && s["start"] == 1.5 && s["end"] == 3.0),
            "{segs:?}"
        );
    }

    /// Speech-gated: windows from 0, 1, 2 and 6, 7, 8 s read, those from
    /// 3, 4, 5 s left out (4 s windows every 1 s). The document lists the
    /// hop around each left-out window's centre as `no_speech` (5, 6 and
    /// 7 s +- 0.5: 4.5..7.5 s), as `emoscope annotate` does, has no reading
    /// there, and its analysed regions (0..6 s and 6..12 s, touching: one)
    /// end where the gap begins. Audacity labels name the gap.
    #[test]
    fn windows_without_speech_are_the_documents_gap() {
        let dir = tempfile::tempdir().unwrap();
        let reading = |start: f64| Reading {
            span: Span::new(start, start + 4.0),
            emotion: emoscope::Emotion::new(0.5, 0.5, 0.5),
            model_id: "m".into(),
            ..Reading::default()
        };
        let entries = TimelineEntries {
            readings: [0.0, 1.0, 2.0, 6.0, 7.0, 8.0].map(reading).to_vec(),
            no_speech: [3.0, 4.0, 5.0].map(|s| Span::new(s, s + 4.0)).to_vec(),
        };
        let config = AnalysisConfig::default();
        let context = ExportContext {
            output_range: OutputRange::UNIT,
            categories: &[],
            config: &config,
            transcript: None,
        };
        let json = dir.path().join("gap.json");
        assert_eq!(
            export_timeline(&entries, &json, ExportFormat::Json, &context).unwrap(),
            6
        );
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
        assert_eq!(v["no_speech"], serde_json::json!([[4.5, 7.5]]));
        assert_eq!(v["duration"], 12.0);
        let starts: Vec<f64> = v["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["start"].as_f64().unwrap())
            .collect();
        assert_eq!(starts, [0.0, 1.0, 2.0, 6.0, 7.0, 8.0]);
        let segments: Vec<(f64, f64)> = v["segments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| (s["start"].as_f64().unwrap(), s["end"].as_f64().unwrap()))
            .collect();
        assert_eq!(segments, [(0.0, 4.5), (7.5, 12.0)]);
        let labels = dir.path().join("gap.txt");
        export_timeline(&entries, &labels, ExportFormat::Audacity, &context).unwrap();
        let text = std::fs::read_to_string(&labels).unwrap();
        let gap = format!(
            "4.500000\t7.500000\t{}",
            emoscope::export::audacity::NO_SPEECH
        );
        assert!(text.lines().any(|l| l == gap), "{text}");
        // Nothing but silence analysed: still a document, with the gap only.
        let silent = TimelineEntries {
            readings: Vec::new(),
            no_speech: vec![Span::new(0.0, 4.0)],
        };
        assert_eq!(
            export_timeline(&silent, &json, ExportFormat::Json, &context).unwrap(),
            0
        );
    }

    #[test]
    fn csv_quotes_text_and_has_a_header() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        export(&path, ExportFormat::Csv).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "start,end,arousal,valence,dominance,text,model_id,out_of_range"
        );
        assert_eq!(lines[2], "1,5,0.25,0.5,-1,\"hi, \"\"you\"\"\",m,false");
        assert_eq!(lines.len(), 4);
    }

    #[test]
    fn every_format_writes_its_files_beside_the_chosen_one() {
        let dir = tempfile::tempdir().unwrap();
        for f in MENU {
            let path = dir.path().join(format!("take.{}", f.extension()));
            export(&path, f).unwrap();
            let written = output_paths(&path, f, &[]);
            assert_eq!(written.len(), f.suffixes().len());
            for p in &written {
                let bytes = std::fs::read(p).unwrap_or_else(|e| panic!("{f:?}: {p:?}: {e}"));
                assert!(!bytes.is_empty(), "{f:?}: {p:?} is empty");
            }
        }
        // Sonic Visualiser: one layer per dimension and the regions, named after the stem.
        for layer in ["arousal", "valence", "dominance", "segments"] {
            assert!(dir.path().join(format!("take.sv-{layer}.csv")).is_file());
        }
        let midi = std::fs::read(dir.path().join("take.mid")).unwrap();
        assert_eq!(&midi[..4], b"MThd");
        let grid = std::fs::read_to_string(dir.path().join("take.TextGrid")).unwrap();
        assert!(grid.contains("| hello there\""), "{grid}");
        // Regions: the transcript segment (1.5..3 s on the host timeline)
        // between the analysed regions before and after it (points are markers).
        let labels = std::fs::read_to_string(dir.path().join("take.txt")).unwrap();
        let spans: Vec<(&str, &str, &str)> = labels
            .lines()
            .map(|l| {
                let mut f = l.split('\t');
                (f.next().unwrap(), f.next().unwrap(), f.next().unwrap())
            })
            .filter(|s| s.0 != s.1)
            .collect();
        assert_eq!(spans.len(), 3, "{labels}");
        assert_eq!((spans[0].0, spans[0].1), ("0.000000", "1.500000"));
        assert_eq!((spans[1].0, spans[1].1), ("1.500000", "3.000000"));
        assert!(spans[1].2.ends_with("| hello there"), "{labels}");
        assert_eq!((spans[2].0, spans[2].1), ("3.000000", "6.000000"));
    }

    #[test]
    fn a_failed_write_leaves_the_old_file_and_reports_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no/such/dir/t.json");
        let e = export(&missing, ExportFormat::Json).unwrap_err();
        assert!(matches!(e, ExportError::Io { .. }));
        assert!(e.to_string().contains("no/such/dir/t.json"), "{e}");
        let config = AnalysisConfig::default();
        let context = ExportContext {
            output_range: OutputRange::UNIT,
            categories: &[],
            config: &config,
            transcript: None,
        };
        assert!(matches!(
            export_timeline(
                &TimelineEntries::default(),
                &dir.path().join("x.json"),
                ExportFormat::Json,
                &context
            ),
            Err(ExportError::Empty)
        ));
        assert!(matches!(
            export(Path::new(""), ExportFormat::Csv),
            Err(ExportError::NoPath)
        ));
    }
}
