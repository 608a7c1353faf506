//! Sonic Visualiser annotation layers (File > Import Annotation Layer, CSV):
//! one time-value layer per dimension, `TIME,VALUE,LABEL` with a point per
//! analysis window at its centre, and a region layer of the segments,
//! `TIME,VALUE,DURATION,LABEL` with the segment's mean arousal as the value
//! (so regions stack by arousal in SV's region view). Times in seconds.
//!
//! With speakers, those four layers hold everyone (labels and regions
//! prefixed with the speaker, `host: arousal 0.5000`), and each speaker
//! gets the four layers of their own besides, in files named by
//! [`speaker_suffixes`] (`.sv-host-arousal.csv`, ...), in the order of
//! their first turn.

use super::document::Annotation;
use super::{spoken, voices};
use crate::reading::Emotion;
use crate::transcript::Speaker;

/// The three time-value layers (arousal, valence, dominance) and the region layer, in that order.
pub fn render(doc: &Annotation) -> [String; 4] {
    layers(doc, |_| true)
}

/// Each speaker's own four layers (as [`render`]'s, of their readings and
/// segments), with their file suffixes; none without speakers.
pub fn render_speakers(doc: &Annotation) -> Vec<(String, String)> {
    let speakers: Vec<Speaker> = voices(doc).into_iter().flatten().collect();
    speaker_suffixes(&speakers)
        .into_iter()
        .zip(&speakers)
        .flat_map(|(suffixes, who)| {
            let theirs = |s: Option<&Speaker>| s == Some(who);
            layers(doc, theirs).into_iter().zip(suffixes)
        })
        .collect()
}

/// The suffixes of each speaker's four layers (arousal, valence,
/// dominance, regions): `.sv-NAME-arousal.csv` and so on, where NAME is the
/// speaker's name with every character but ASCII letters, digits, `-` and
/// `_` made `_`, and `-2`, `-3`... added where two speakers' names would
/// come out the same.
pub fn speaker_suffixes(speakers: &[Speaker]) -> Vec<[String; 4]> {
    let mut taken: Vec<String> = Vec::new();
    speakers
        .iter()
        .map(|who| {
            let base: String = who
                .as_str()
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            let mut name = base.clone();
            let mut n = 1;
            while taken.contains(&name) {
                n += 1;
                name = format!("{base}-{n}");
            }
            taken.push(name.clone());
            ["arousal", "valence", "dominance", "segments"]
                .map(|layer| format!(".sv-{name}-{layer}.csv"))
        })
        .collect()
}

/// The four layers of the readings and segments whose speaker `keep` keeps.
fn layers(doc: &Annotation, keep: impl Fn(Option<&Speaker>) -> bool) -> [String; 4] {
    let layer = |name: &str, pick: fn(&Emotion) -> f32| {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(["TIME", "VALUE", "LABEL"]).expect("memory");
        for r in doc.timeline.iter().filter(|r| keep(r.speaker.as_ref())) {
            let v = pick(&r.emotion);
            w.write_record([
                format!("{:.6}", r.span.centre()),
                format!("{v}"),
                spoken(&format!("{name} {v:.4}"), r.speaker.as_ref()),
            ])
            .expect("memory");
        }
        String::from_utf8(w.into_inner().expect("memory")).expect("UTF-8")
    };
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["TIME", "VALUE", "DURATION", "LABEL"])
        .expect("memory");
    for s in doc.segments.iter().filter(|s| keep(s.speaker.as_ref())) {
        w.write_record([
            format!("{:.6}", s.span.start),
            format!("{}", s.emotion.arousal),
            format!("{:.6}", s.span.duration()),
            spoken(&s.label, s.speaker.as_ref()),
        ])
        .expect("memory");
    }
    let regions = String::from_utf8(w.into_inner().expect("memory")).expect("UTF-8");
    [
        layer("arousal", |e| e.arousal),
        layer("valence", |e| e.valence),
        layer("dominance", |e| e.dominance),
        regions,
    ]
}
