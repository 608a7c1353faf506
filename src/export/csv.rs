//! The timeline as CSV: one row per analysis window with every field,
//! `start,end,arousal,valence,dominance,text,model_id,out_of_range` (seconds;
//! values as the model gives them; `out_of_range` is `true` where a value
//! lies outside the model's declared range), for spreadsheets and pandas.

use super::document::Annotation;

/// The CSV text.
pub fn render(doc: &Annotation) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "start",
        "end",
        "arousal",
        "valence",
        "dominance",
        "text",
        "model_id",
        "out_of_range",
    ])
    .expect("memory");
    for r in &doc.timeline {
        w.write_record([
            format!("{}", r.span.start),
            format!("{}", r.span.end),
            format!("{}", r.emotion.arousal),
            format!("{}", r.emotion.valence),
            format!("{}", r.emotion.dominance),
            r.text.clone(),
            r.model_id.clone(),
            r.out_of_range.to_string(),
        ])
        .expect("memory");
    }
    String::from_utf8(w.into_inner().expect("memory")).expect("UTF-8")
}
