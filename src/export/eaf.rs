//! ELAN annotation document, EAF 3.0: time slots in milliseconds, a tier
//! `segments` with the segment labels, a tier `words` when the transcript has
//! word timings, and one tier per dimension (`arousal`, `valence`,
//! `dominance`; for a categorical model, a tier `category` with the most
//! probable category and one tier per category with its probability)
//! whose annotations tile the analysed span: each window's
//! value holds from midway after the previous window's centre to midway
//! before the next one's (ELAN annotations on one tier may not overlap,
//! analysis windows do). Each annotation has its own two slots, as ELAN
//! writes them; slots are listed in time order. Written with `quick-xml`.
//!
//! With speakers, each has these tiers of their own, named `tier@speaker`
//! (`segments@host`, `arousal@host`, ...) with the speaker as the tier's
//! `PARTICIPANT`; a speaker's value annotations tile each run of their
//! windows (a turn's), not the time between their turns.

use std::borrow::Borrow;
use std::io::Cursor;
use std::path::Path;

use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;

use super::document::Annotation;
use super::{tier_name, voices};
use crate::reading::Reading;
use crate::transcript::Speaker;

/// Annotations of one tier: (start s, end s, value).
type Spans = Vec<(f64, f64, String)>;

/// The EAF document. `date` is the `DATE` attribute (an RFC 3339 time).
pub fn render(doc: &Annotation, date: &str) -> String {
    // (tier id, participant, annotations).
    let mut tiers: Vec<(String, Option<Speaker>, Spans)> = Vec::new();
    for who in voices(doc) {
        let theirs = |s: &Option<Speaker>| s.as_ref() == who.as_ref();
        let name = |base: &str| tier_name(base, who.as_ref());
        tiers.push((
            name("segments"),
            who.clone(),
            doc.segments
                .iter()
                .filter(|s| theirs(&s.speaker))
                .map(|s| (s.span.start, s.span.end, s.label.clone()))
                .collect(),
        ));
        // Words, sorted, each starting no earlier than the previous one ends.
        let mut words: Vec<(f64, f64, String)> = doc
            .transcript
            .iter()
            .filter(|s| theirs(&s.speaker))
            .flat_map(|s| &s.words)
            .map(|w| (w.start, w.end, w.text.clone()))
            .collect();
        words.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut t = 0.0f64;
        words.retain_mut(|w| {
            w.0 = w.0.max(t);
            let keep = ms(w.1) > ms(w.0);
            if keep {
                t = w.1;
            }
            keep
        });
        if !words.is_empty() {
            tiers.push((name("words"), who.clone(), words));
        }
        let readings: Vec<&Reading> = doc.timeline.iter().filter(|r| theirs(&r.speaker)).collect();
        // A speaker's readings tile each run of their speech on its own,
        // not the silence between their turns.
        let values = |pick: &dyn Fn(&Reading) -> String| match &who {
            None => cells(&readings, pick),
            Some(_) => runs(&readings)
                .into_iter()
                .flat_map(|run| cells(run, pick))
                .collect(),
        };
        if !doc.categories.is_empty() {
            let top = |r: &Reading| {
                let label = doc.top_category(&r.emotion).map(|(l, _)| l);
                label.unwrap_or_default().to_owned()
            };
            tiers.push((name("category"), who.clone(), values(&top)));
        }
        for (track, track_name) in doc.tracks() {
            let value = |r: &Reading| format!("{:.4}", track.value(&r.emotion));
            tiers.push((name(track_name), who.clone(), values(&value)));
        }
    }

    // Slots: two per annotation, numbered in time order.
    let mut slots: Vec<(u64, usize)> = Vec::new(); // (ms, annotation endpoint index)
    for (a, b, _) in tiers.iter().flat_map(|t| &t.2) {
        let k = slots.len();
        slots.push((ms(*a), k));
        slots.push((ms(*b), k + 1));
    }
    let mut order: Vec<usize> = (0..slots.len()).collect();
    order.sort_by_key(|&i| (slots[i].0, i));
    let mut slot_id = vec![0usize; slots.len()];
    for (rank, &i) in order.iter().enumerate() {
        slot_id[i] = rank + 1;
    }

    let mut w = Writer::new_with_indent(Cursor::new(Vec::new()), b' ', 4);
    let mut put = |e: Event<'_>| w.write_event(e).expect("writing to memory");
    put(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)));
    let n_annotations = slots.len() / 2;
    put(Event::Start(
        BytesStart::new("ANNOTATION_DOCUMENT").with_attributes([
            ("AUTHOR", "emoscope"),
            ("DATE", date),
            ("FORMAT", "3.0"),
            ("VERSION", "3.0"),
            ("xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance"),
            (
                "xsi:noNamespaceSchemaLocation",
                "http://www.mpi.nl/tools/elan/EAFv3.0.xsd",
            ),
        ]),
    ));
    put(Event::Start(BytesStart::new("HEADER").with_attributes([
        ("MEDIA_FILE", ""),
        ("TIME_UNITS", "milliseconds"),
    ])));
    if let Some(url) = media_url(&doc.audio) {
        put(Event::Empty(
            BytesStart::new("MEDIA_DESCRIPTOR")
                .with_attributes([("MEDIA_URL", url.as_str()), ("MIME_TYPE", mime(&doc.audio))]),
        ));
    }
    put(Event::Start(
        BytesStart::new("PROPERTY").with_attributes([("NAME", "lastUsedAnnotationId")]),
    ));
    put(Event::Text(BytesText::new(&n_annotations.to_string())));
    put(Event::End(BytesEnd::new("PROPERTY")));
    put(Event::End(BytesEnd::new("HEADER")));
    put(Event::Start(BytesStart::new("TIME_ORDER")));
    for &i in &order {
        let id = format!("ts{}", slot_id[i]);
        let value = slots[i].0.to_string();
        put(Event::Empty(BytesStart::new("TIME_SLOT").with_attributes(
            [
                ("TIME_SLOT_ID", id.as_str()),
                ("TIME_VALUE", value.as_str()),
            ],
        )));
    }
    put(Event::End(BytesEnd::new("TIME_ORDER")));
    let mut k = 0;
    for (name, who, items) in &tiers {
        let mut tier = BytesStart::new("TIER");
        tier.push_attribute(("LINGUISTIC_TYPE_REF", "emoscope"));
        if let Some(who) = who {
            tier.push_attribute(("PARTICIPANT", who.as_str()));
        }
        tier.push_attribute(("TIER_ID", name.as_str()));
        if items.is_empty() {
            put(Event::Empty(tier));
            continue;
        }
        put(Event::Start(tier));
        for (_, _, value) in items {
            let (id, r1, r2) = (
                format!("a{}", k / 2 + 1),
                format!("ts{}", slot_id[k]),
                format!("ts{}", slot_id[k + 1]),
            );
            k += 2;
            put(Event::Start(BytesStart::new("ANNOTATION")));
            put(Event::Start(
                BytesStart::new("ALIGNABLE_ANNOTATION").with_attributes([
                    ("ANNOTATION_ID", id.as_str()),
                    ("TIME_SLOT_REF1", r1.as_str()),
                    ("TIME_SLOT_REF2", r2.as_str()),
                ]),
            ));
            put(Event::Start(BytesStart::new("ANNOTATION_VALUE")));
            put(Event::Text(BytesText::new(value)));
            put(Event::End(BytesEnd::new("ANNOTATION_VALUE")));
            put(Event::End(BytesEnd::new("ALIGNABLE_ANNOTATION")));
            put(Event::End(BytesEnd::new("ANNOTATION")));
        }
        put(Event::End(BytesEnd::new("TIER")));
    }
    put(Event::Empty(
        BytesStart::new("LINGUISTIC_TYPE").with_attributes([
            ("GRAPHIC_REFERENCES", "false"),
            ("LINGUISTIC_TYPE_ID", "emoscope"),
            ("TIME_ALIGNABLE", "true"),
        ]),
    ));
    put(Event::End(BytesEnd::new("ANNOTATION_DOCUMENT")));
    let mut text = String::from_utf8(w.into_inner().into_inner()).expect("UTF-8");
    text.push('\n');
    text
}

/// Milliseconds, rounded.
fn ms(t: f64) -> u64 {
    (t.max(0.0) * 1000.0).round() as u64
}

/// Tiles of the analysed span, one per reading (see the module docs), valued with four decimals.
pub fn cells<R: Borrow<Reading>>(
    timeline: &[R],
    pick: &dyn Fn(&Reading) -> String,
) -> Vec<(f64, f64, String)> {
    let c: Vec<f64> = timeline.iter().map(|r| r.borrow().span.centre()).collect();
    (0..c.len())
        .filter_map(|i| {
            let half_before = if i > 0 {
                0.5 * (c[i] - c[i - 1])
            } else if c.len() > 1 {
                0.5 * (c[1] - c[0])
            } else {
                0.5 * timeline[i].borrow().span.duration()
            };
            let half_after = if i + 1 < c.len() {
                0.5 * (c[i + 1] - c[i])
            } else {
                half_before
            };
            let (a, b) = ((c[i] - half_before).max(0.0), c[i] + half_after);
            (ms(b) > ms(a)).then(|| (a, b, pick(timeline[i].borrow())))
        })
        .collect()
}

/// `readings` (in time order) cut where one does not overlap or touch the
/// one before: the runs of windows of one stretch of speech.
fn runs<'r>(readings: &'r [&'r Reading]) -> Vec<&'r [&'r Reading]> {
    let mut out = Vec::new();
    let mut from = 0;
    for i in 1..=readings.len() {
        if i == readings.len() || readings[i].span.start > readings[i - 1].span.end {
            if i > from {
                out.push(&readings[from..i]);
            }
            from = i;
        }
    }
    out
}

/// `file://` URL of the audio (made absolute against the current directory).
fn media_url(audio: &str) -> Option<String> {
    if audio.is_empty() {
        return None;
    }
    let path = std::path::absolute(Path::new(audio)).ok()?;
    url::Url::from_file_path(path).ok().map(|u| u.to_string())
}

fn mime(audio: &str) -> &'static str {
    match Path::new(audio)
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("wav") | Some("wave") => "audio/x-wav",
        Some("mp3") => "audio/mpeg",
        _ => "audio/*",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::reading::{Emotion, Span};

    fn r(start: f64) -> Reading {
        Reading {
            span: Span::new(start, start + 4.0),
            emotion: Emotion::new(0.25, 0.0, 0.0),
            text: String::new(),
            model_id: "m".into(),
            ..Reading::default()
        }
    }

    #[test]
    fn cells_tile_between_centres() {
        let arousal = |r: &Reading| format!("{:.4}", r.emotion.arousal);
        // Centres 2, 3, 4 (windows 0..4, 1..5, 2..6 s): cells 1.5..2.5, 2.5..3.5, 3.5..4.5.
        let got = cells(&[r(0.0), r(1.0), r(2.0)], &arousal);
        assert_eq!(
            got,
            vec![
                (1.5, 2.5, "0.2500".into()),
                (2.5, 3.5, "0.2500".into()),
                (3.5, 4.5, "0.2500".into())
            ]
        );
        // One window: its own extent.
        assert_eq!(
            cells(&[r(0.0)], &arousal),
            vec![(0.0, 4.0, "0.2500".into())]
        );
    }
}
