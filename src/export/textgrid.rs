//! Praat TextGrid, long text format (Praat's "Save as text file"): an
//! interval tier `segments` covering the whole recording (gaps between
//! segments filled with empty intervals, as Praat requires), an interval tier
//! `words` when the transcript has word timings, and one point tier per
//! dimension (`arousal`, `valence`, `dominance`) with a point per analysis
//! window at its centre, marked with the value (four decimals); for a
//! categorical model a point tier `category` (the most probable category
//! per window) and one point tier per category (its probability) instead of
//! the dimensions' (the `segments` labels start with the top category). Times are
//! written in Rust's shortest round-trip form, so they read back exactly.
//!
//! With speakers, each has these tiers of their own, named `tier@speaker`
//! (`segments@host`, `words@host`, `arousal@host`, ...), one speaker after
//! the other in the order of their first turn.

use super::document::Annotation;
use super::{one_line, tier_name, voices};
use crate::reading::Reading;
use crate::transcript::Speaker;

/// The TextGrid text.
pub fn render(doc: &Annotation) -> String {
    let xmax = doc
        .duration
        .max(doc.segments.last().map_or(0.0, |s| s.span.end))
        .max(doc.timeline.last().map_or(0.0, |r| r.span.centre()));
    let mut tiers: Vec<Tier> = Vec::new();
    for who in voices(doc) {
        let theirs = |s: &Option<Speaker>| s.as_ref() == who.as_ref();
        let segments: Vec<(f64, f64, String)> = doc
            .segments
            .iter()
            .filter(|s| theirs(&s.speaker))
            .map(|s| (s.span.start, s.span.end, one_line(&s.label)))
            .collect();
        let mut words: Vec<(f64, f64, String)> = doc
            .transcript
            .iter()
            .filter(|s| theirs(&s.speaker))
            .flat_map(|s| &s.words)
            .map(|w| (w.start.max(0.0), w.end.min(xmax), one_line(&w.text)))
            .collect();
        words.sort_by(|a, b| a.0.total_cmp(&b.0));
        let name = |base: &str| tier_name(base, who.as_ref());
        tiers.push(Tier::Intervals(
            name("segments"),
            fill_gaps(&segments, xmax),
        ));
        if !words.is_empty() {
            tiers.push(Tier::Intervals(name("words"), fill_gaps(&words, xmax)));
        }
        let points = |pick: &dyn Fn(&Reading) -> String| -> Vec<(f64, String)> {
            doc.timeline
                .iter()
                .filter(|r| theirs(&r.speaker))
                .map(|r| (r.span.centre(), pick(r)))
                .collect()
        };
        if !doc.categories.is_empty() {
            let top = |r: &Reading| {
                let label = doc.top_category(&r.emotion).map(|(l, _)| l);
                one_line(label.unwrap_or_default())
            };
            tiers.push(Tier::Points(name("category"), points(&top)));
        }
        for (track, track_name) in doc.tracks() {
            let value = |r: &Reading| format!("{:.4}", track.value(&r.emotion));
            tiers.push(Tier::Points(name(track_name), points(&value)));
        }
    }

    let mut o = String::new();
    o.push_str("File type = \"ooTextFile\"\nObject class = \"TextGrid\"\n\n");
    o.push_str(&format!(
        "xmin = 0 \nxmax = {xmax} \ntiers? <exists> \nsize = {} \nitem []: \n",
        tiers.len()
    ));
    for (i, tier) in tiers.iter().enumerate() {
        o.push_str(&format!("    item [{}]:\n", i + 1));
        match tier {
            Tier::Intervals(name, items) => {
                o.push_str(&format!(
                    "        class = \"IntervalTier\" \n        name = {} \n        xmin = 0 \n        xmax = {xmax} \n        intervals: size = {} \n",
                    quote(name),
                    items.len()
                ));
                for (j, (a, b, text)) in items.iter().enumerate() {
                    o.push_str(&format!(
                        "        intervals [{}]:\n            xmin = {a} \n            xmax = {b} \n            text = {} \n",
                        j + 1,
                        quote(text)
                    ));
                }
            }
            Tier::Points(name, items) => {
                o.push_str(&format!(
                    "        class = \"TextTier\" \n        name = {} \n        xmin = 0 \n        xmax = {xmax} \n        points: size = {} \n",
                    quote(name),
                    items.len()
                ));
                for (j, (t, mark)) in items.iter().enumerate() {
                    o.push_str(&format!(
                        "        points [{}]:\n            number = {t} \n            mark = {} \n",
                        j + 1,
                        quote(mark)
                    ));
                }
            }
        }
    }
    o
}

enum Tier {
    Intervals(String, Vec<(f64, f64, String)>),
    Points(String, Vec<(f64, String)>),
}

/// Intervals covering `[0, xmax]`: `items` (sorted) with empty intervals in
/// the gaps; an item overlapping the previous one starts at its end, and
/// items left empty by that are dropped.
pub fn fill_gaps(items: &[(f64, f64, String)], xmax: f64) -> Vec<(f64, f64, String)> {
    let mut out = Vec::with_capacity(2 * items.len() + 1);
    let mut t = 0.0f64;
    for (a, b, text) in items {
        let a = a.max(t);
        let b = b.min(xmax);
        if b <= a {
            continue;
        }
        if a > t {
            out.push((t, a, String::new()));
        }
        out.push((a, b, text.clone()));
        t = b;
    }
    if xmax > t || out.is_empty() {
        out.push((t, xmax.max(t), String::new()));
    }
    out
}

/// A Praat string literal: in double quotes, `"` doubled.
fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_are_filled_and_overlaps_cut() {
        let items = vec![
            (0.5, 1.0, "a".to_string()),
            (0.8, 1.5, "b".into()),
            (2.0, 2.5, "c".into()),
        ];
        let got = fill_gaps(&items, 3.0);
        let want = vec![
            (0.0, 0.5, String::new()),
            (0.5, 1.0, "a".into()),
            (1.0, 1.5, "b".into()),
            (1.5, 2.0, String::new()),
            (2.0, 2.5, "c".into()),
            (2.5, 3.0, String::new()),
        ];
        assert_eq!(got, want);
        assert_eq!(fill_gaps(&[], 2.0), vec![(0.0, 2.0, String::new())]);
    }
}
