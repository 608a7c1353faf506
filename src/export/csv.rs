//! The timeline as CSV: one row per analysis window with every field,
//! `start,end,arousal,valence,dominance,text,model_id,out_of_range` (seconds;
//! values as the model gives them; `out_of_range` is `true` where a value
//! lies outside the model's declared range), for spreadsheets and pandas.
//! When the speaker turns were known, two more columns: `speaker` (who
//! speaks in the window) and `overlap` (`true` where someone else talks too).
//! For a categorical model the value columns are one per category (its
//! probability, named by its label) and `label`, the most probable:
//! `start,end,neutral,happy,angry,sad,label,text,...`.

use super::document::Annotation;

/// The CSV text.
pub fn render(doc: &Annotation) -> String {
    let speakers = doc.timeline.iter().any(|r| r.speaker.is_some());
    let mut w = csv::Writer::from_writer(Vec::new());
    let tracks = doc.tracks();
    let categorical = !doc.categories.is_empty();
    let mut header = vec!["start", "end"];
    header.extend(tracks.iter().map(|(_, name)| *name));
    if categorical {
        header.push("label");
    }
    header.extend(["text", "model_id", "out_of_range"]);
    if speakers {
        header.extend(["speaker", "overlap"]);
    }
    w.write_record(&header).expect("memory");
    for r in &doc.timeline {
        let mut row = vec![format!("{}", r.span.start), format!("{}", r.span.end)];
        row.extend(
            tracks
                .iter()
                .map(|(t, _)| format!("{}", t.value(&r.emotion))),
        );
        if categorical {
            let top = doc.top_category(&r.emotion).map(|(l, _)| l);
            row.push(top.unwrap_or_default().to_owned());
        }
        row.extend([
            r.text.clone(),
            r.model_id.clone(),
            r.out_of_range.to_string(),
        ]);
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
