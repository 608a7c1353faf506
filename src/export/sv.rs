//! Sonic Visualiser annotation layers (File > Import Annotation Layer, CSV):
//! one time-value layer per dimension, `TIME,VALUE,LABEL` with a point per
//! analysis window at its centre, and a region layer of the segments,
//! `TIME,VALUE,DURATION,LABEL` with the segment's mean arousal as the value
//! (so regions stack by arousal in SV's region view). Times in seconds.

use super::document::Annotation;
use super::one_line;
use crate::reading::Reading;

/// The three time-value layers (arousal, valence, dominance) and the region layer, in that order.
pub fn render(doc: &Annotation) -> [String; 4] {
    let layer = |name: &str, pick: fn(&Reading) -> f32| {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(["TIME", "VALUE", "LABEL"]).expect("memory");
        for r in &doc.timeline {
            let v = pick(r);
            w.write_record([
                format!("{:.6}", r.span.centre()),
                format!("{v}"),
                format!("{name} {v:.4}"),
            ])
            .expect("memory");
        }
        String::from_utf8(w.into_inner().expect("memory")).expect("UTF-8")
    };
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["TIME", "VALUE", "DURATION", "LABEL"])
        .expect("memory");
    for s in &doc.segments {
        w.write_record([
            format!("{:.6}", s.span.start),
            format!("{}", s.emotion.arousal),
            format!("{:.6}", s.span.duration()),
            one_line(&s.label),
        ])
        .expect("memory");
    }
    let regions = String::from_utf8(w.into_inner().expect("memory")).expect("UTF-8");
    [
        layer("arousal", |r| r.emotion.arousal),
        layer("valence", |r| r.emotion.valence),
        layer("dominance", |r| r.emotion.dominance),
        regions,
    ]
}
