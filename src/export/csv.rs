//! The timeline as CSV: one row per analysis window with every field,
//! `start,end,arousal,valence,dominance,text,model_id,out_of_range` (seconds;
//! values as the model gives them; `out_of_range` is `true` where a value
//! lies outside the model's declared range), for spreadsheets and pandas.
//! When the speaker turns were known, two more columns: `speaker` (who
//! speaks in the window) and `overlap` (`true` where someone else talks too).

use super::document::Annotation;

/// The CSV text.
pub fn render(doc: &Annotation) -> String {
    let speakers = doc.timeline.iter().any(|r| r.speaker.is_some());
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec![
        "start",
        "end",
        "arousal",
        "valence",
        "dominance",
        "text",
        "model_id",
        "out_of_range",
    ];
    if speakers {
        header.extend(["speaker", "overlap"]);
    }
    w.write_record(&header).expect("memory");
    for r in &doc.timeline {
        let mut row = vec![
            format!("{}", r.span.start),
            format!("{}", r.span.end),
            format!("{}", r.emotion.arousal),
            format!("{}", r.emotion.valence),
            format!("{}", r.emotion.dominance),
            r.text.clone(),
            r.model_id.clone(),
            r.out_of_range.to_string(),
        ];
        if speakers {
            row.push(
                r.speaker
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
            );
            row.push(r.overlap.to_string());
        }
        w.write_record(&row).expect("memory");
    }
    String::from_utf8(w.into_inner().expect("memory")).expect("UTF-8")
}
