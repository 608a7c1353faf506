//! Audacity label track (File > Import > Labels): one label per line,
//! `start<TAB>end<TAB>label`, seconds with six decimals. Segments are region
//! labels; change markers are point labels (`start == end`); stretches with
//! no reading for want of speech are region labels `no speech`. Lines are in
//! time order, segments before markers at equal times. With speakers, each
//! segment's and marker's label starts with its speaker (`host: …`).

use super::document::Annotation;
use super::spoken;

/// The label of a stretch without speech.
pub const NO_SPEECH: &str = "no speech";

/// The label track text.
pub fn render(doc: &Annotation) -> String {
    let mut rows: Vec<(f64, f64, String)> = doc
        .segments
        .iter()
        .map(|s| {
            (
                s.span.start,
                s.span.end,
                spoken(&s.label, s.speaker.as_ref()),
            )
        })
        .chain(
            doc.markers
                .iter()
                .map(|m| (m.time, m.time, spoken(&m.label, m.speaker.as_ref()))),
        )
        .chain(
            doc.no_speech
                .iter()
                .map(|s| (s.start, s.end, NO_SPEECH.to_owned())),
        )
        .collect();
    // Stable: segments stay ahead of markers at the same start.
    rows.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut out = String::new();
    for (start, end, label) in rows {
        out.push_str(&format!(
            "{start:.6}\t{end:.6}\t{}\n",
            label.replace('\t', " ")
        ));
    }
    out
}
