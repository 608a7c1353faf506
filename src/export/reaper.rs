//! REAPER Region/Marker Manager CSV (Import in the manager's context menu):
//! header `#,Name,Start,End,Length`, regions `R1,…` with start, end and
//! length, markers `M1,…` with End and Length empty; times in seconds. Names
//! are quoted by the CSV writer where they need it. Regions are the segments,
//! markers the quadrant changes. With speakers, each region and marker
//! name starts with its speaker (`host: A.50 V.50 D.50 | hello`).

use super::document::Annotation;
use super::spoken;

/// The CSV text.
pub fn render(doc: &Annotation) -> String {
    let mut w = csv::WriterBuilder::new()
        .flexible(false)
        .from_writer(Vec::new());
    let row = |w: &mut csv::Writer<Vec<u8>>, cells: [String; 5]| {
        w.write_record(&cells).expect("writing to memory");
    };
    row(
        &mut w,
        [
            "#".into(),
            "Name".into(),
            "Start".into(),
            "End".into(),
            "Length".into(),
        ],
    );
    for (i, s) in doc.segments.iter().enumerate() {
        row(
            &mut w,
            [
                format!("R{}", i + 1),
                spoken(&s.label, s.speaker.as_ref()),
                format!("{:.6}", s.span.start),
                format!("{:.6}", s.span.end),
                format!("{:.6}", s.span.duration()),
            ],
        );
    }
    for (i, m) in doc.markers.iter().enumerate() {
        row(
            &mut w,
            [
                format!("M{}", i + 1),
                spoken(&m.label, m.speaker.as_ref()),
                format!("{:.6}", m.time),
                String::new(),
                String::new(),
            ],
        );
    }
    String::from_utf8(w.into_inner().expect("writing to memory")).expect("UTF-8 in, UTF-8 out")
}
