//! Sonic Visualiser annotation layers (File > Import Annotation Layer, CSV):
//! one time-value layer per dimension, `TIME,VALUE,LABEL` with a point per
//! analysis window at its centre, and a region layer of the segments,
//! `TIME,VALUE,DURATION,LABEL` with the segment's mean arousal as the value
//! (so regions stack by arousal in SV's region view). Times in seconds. A
//! categorical model has a layer per category instead (its probability,
//! `.sv-happy.csv`), and its regions stack by the top category's
//! probability.
//!
//! With speakers, those four layers hold everyone (labels and regions
//! prefixed with the speaker, `host: arousal 0.5000`), and each speaker
//! gets the four layers of their own besides, in files named by
//! [`speaker_suffixes`] (`.sv-host-arousal.csv`, ...), in the order of
//! their first turn.

use super::document::{Annotation, Track};
use super::{spoken, voices};
use crate::transcript::Speaker;

/// The names of the time-value layers of a model with the labels
/// `categories` (arousal, valence, dominance; or each category, made safe
/// for a file name and told apart), then `segments`: what follows `.sv-`
/// in each file name.
pub fn layer_names(categories: &[String]) -> Vec<String> {
    let mut taken: Vec<String> = vec!["segments".into()];
    let mut names: Vec<String> = super::tracks(categories)
        .into_iter()
        .map(|(_, name)| unique(file_part(name), &mut taken))
        .collect();
    names.push("segments".into());
    names
}

/// The suffixes of the layers [`render`] writes: `.sv-arousal.csv`, ...,
/// `.sv-segments.csv`.
pub fn suffixes(categories: &[String]) -> Vec<String> {
    layer_names(categories)
        .iter()
        .map(|n| format!(".sv-{n}.csv"))
        .collect()
}

/// The time-value layers (one per track: arousal, valence, dominance, or
/// each category's probability) and the region layer, in that order.
pub fn render(doc: &Annotation) -> Vec<String> {
    layers(doc, |_| true)
}

/// Each speaker's own layers (as [`render`]'s, of their readings and
/// segments), with their file suffixes; none without speakers.
pub fn render_speakers(doc: &Annotation) -> Vec<(String, String)> {
    let speakers: Vec<Speaker> = voices(doc).into_iter().flatten().collect();
    speaker_suffixes(&speakers, &doc.categories)
        .into_iter()
        .zip(&speakers)
        .flat_map(|(suffixes, who)| {
            let theirs = |s: Option<&Speaker>| s == Some(who);
            layers(doc, theirs).into_iter().zip(suffixes)
        })
        .collect()
}

/// `s` with every character but ASCII letters, digits, `-` and `_` made `_`.
fn file_part(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// `base`, or `base-2`, `base-3`... when taken; recorded as taken.
fn unique(base: String, taken: &mut Vec<String>) -> String {
    let mut name = base.clone();
    let mut n = 1;
    while taken.contains(&name) {
        n += 1;
        name = format!("{base}-{n}");
    }
    taken.push(name.clone());
    name
}

/// The suffixes of each speaker's layers (each of [`layer_names`]):
/// `.sv-NAME-arousal.csv` and so on, where NAME is the speaker's name with
/// every character but ASCII letters, digits, `-` and `_` made `_`, and
/// `-2`, `-3`... added where two speakers' names would come out the same.
pub fn speaker_suffixes(speakers: &[Speaker], categories: &[String]) -> Vec<Vec<String>> {
    let mut taken: Vec<String> = Vec::new();
    let layers = layer_names(categories);
    speakers
        .iter()
        .map(|who| {
            let name = unique(file_part(who.as_str()), &mut taken);
            layers
                .iter()
                .map(|layer| format!(".sv-{name}-{layer}.csv"))
                .collect()
        })
        .collect()
}

/// The layers of the readings and segments whose speaker `keep` keeps.
fn layers(doc: &Annotation, keep: impl Fn(Option<&Speaker>) -> bool) -> Vec<String> {
    let layer = |name: &str, track: Track| {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(["TIME", "VALUE", "LABEL"]).expect("memory");
        for r in doc.timeline.iter().filter(|r| keep(r.speaker.as_ref())) {
            let v = track.value(&r.emotion);
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
        // Regions stack by arousal, or by the top category's probability.
        let value = match s.emotion.probabilities.top() {
            Some((_, p)) if !doc.categories.is_empty() => p,
            _ => s.emotion.arousal,
        };
        w.write_record([
            format!("{:.6}", s.span.start),
            format!("{value}"),
            format!("{:.6}", s.span.duration()),
            spoken(&s.label, s.speaker.as_ref()),
        ])
        .expect("memory");
    }
    let regions = String::from_utf8(w.into_inner().expect("memory")).expect("UTF-8");
    let mut out: Vec<String> = doc
        .tracks()
        .into_iter()
        .map(|(track, name)| layer(name, track))
        .collect();
    out.push(regions);
    out
}
