//! Writing the emotion timeline to a file (the editor's "Export" button and
//! the optional export on deactivate; never the audio thread).
//!
//! [`export_timeline`] is the one place the plugin writes markers. It writes
//! JSON or CSV today; the interchange layer's exporters (REAPER / Audition
//! markers, ELAN, MIDI file, ...) are meant to replace its body, keeping the
//! signature. Files are written to a temporary file beside the destination and
//! renamed over it, so a failed write never leaves half a file, and the
//! timeline stays in memory for another try.

use std::io::Write;
use std::path::{Path, PathBuf};

use emoscope::engine::TimelineEntry;
use serde::{Deserialize, Serialize};

/// Export file formats offered in the editor.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    /// `{"format": "emoscope-timeline", "version": 1, "entries": [...]}`.
    #[default]
    Json,
    /// One row per window: `start,end,arousal,valence,dominance,text,model`.
    Csv,
}

impl ExportFormat {
    /// All formats, in menu order.
    pub const ALL: [ExportFormat; 2] = [ExportFormat::Json, ExportFormat::Csv];

    /// The usual file extension.
    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Json => "json",
            ExportFormat::Csv => "csv",
        }
    }

    /// Name for menus.
    pub fn label(self) -> &'static str {
        match self {
            ExportFormat::Json => "JSON",
            ExportFormat::Csv => "CSV",
        }
    }
}

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
    /// Encoding failed.
    #[error("encoding {}: {message}", path.display())]
    Encode {
        /// The destination.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

#[derive(Serialize)]
struct Row<'a> {
    start: f64,
    end: f64,
    arousal: f32,
    valence: f32,
    dominance: f32,
    text: &'a str,
    model: &'a str,
}

#[derive(Serialize)]
struct Document<'a> {
    format: &'static str,
    version: u32,
    entries: Vec<Row<'a>>,
}

/// Writes `entries` to `path` in `format`; returns how many were written.
pub fn export_timeline(
    entries: &[TimelineEntry],
    path: &Path,
    format: ExportFormat,
) -> Result<usize, ExportError> {
    if path.as_os_str().is_empty() {
        return Err(ExportError::NoPath);
    }
    if entries.is_empty() {
        return Err(ExportError::Empty);
    }
    let rows: Vec<Row<'_>> = entries
        .iter()
        .map(|e| Row {
            start: e.start,
            end: e.end,
            arousal: e.arousal,
            valence: e.valence,
            dominance: e.dominance,
            text: &e.text,
            model: &e.model_id,
        })
        .collect();
    let encode = |message: String| ExportError::Encode {
        path: path.to_owned(),
        message,
    };
    let bytes = match format {
        ExportFormat::Json => {
            let doc = Document {
                format: "emoscope-timeline",
                version: 1,
                entries: rows,
            };
            let mut b = serde_json::to_vec_pretty(&doc).map_err(|e| encode(e.to_string()))?;
            b.push(b'\n');
            b
        }
        ExportFormat::Csv => {
            let mut w = csv::Writer::from_writer(Vec::new());
            for r in &rows {
                w.serialize(r).map_err(|e| encode(e.to_string()))?;
            }
            w.into_inner().map_err(|e| encode(e.to_string()))?
        }
    };
    let io = |source: std::io::Error| ExportError::Io {
        path: path.to_owned(),
        source,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".emoscope-export")
        .tempfile_in(dir)
        .map_err(io)?;
    tmp.write_all(&bytes).map_err(io)?;
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(entries.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries() -> Vec<TimelineEntry> {
        (0..3)
            .map(|i| TimelineEntry {
                start: f64::from(i),
                end: f64::from(i) + 4.0,
                arousal: 0.25 * i as f32,
                valence: 0.5,
                dominance: -1.0,
                text: if i == 1 {
                    "hi, \"you\"".into()
                } else {
                    String::new()
                },
                model_id: "m".into(),
            })
            .collect()
    }

    #[test]
    fn json_holds_every_entry() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.json");
        assert_eq!(
            export_timeline(&entries(), &path, ExportFormat::Json).unwrap(),
            3
        );
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(v["format"], "emoscope-timeline");
        let e = v["entries"].as_array().unwrap();
        assert_eq!(e.len(), 3);
        assert_eq!(e[2]["arousal"], 0.5);
        assert_eq!(e[1]["text"], "hi, \"you\"");
        assert_eq!(e[0]["end"], 4.0);
    }

    #[test]
    fn csv_quotes_text_and_has_a_header() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        export_timeline(&entries(), &path, ExportFormat::Csv).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "start,end,arousal,valence,dominance,text,model");
        assert_eq!(lines[2], "1.0,5.0,0.25,0.5,-1.0,\"hi, \"\"you\"\"\",m");
        assert_eq!(lines.len(), 4);
    }

    #[test]
    fn a_failed_write_leaves_the_old_file_and_reports_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no/such/dir/t.json");
        let e = export_timeline(&entries(), &missing, ExportFormat::Json).unwrap_err();
        assert!(matches!(e, ExportError::Io { .. }));
        assert!(e.to_string().contains("no/such/dir/t.json"), "{e}");
        assert!(matches!(
            export_timeline(&[], &dir.path().join("x.json"), ExportFormat::Json),
            Err(ExportError::Empty)
        ));
        assert!(matches!(
            export_timeline(&entries(), Path::new(""), ExportFormat::Csv),
            Err(ExportError::NoPath)
        ));
    }
}
