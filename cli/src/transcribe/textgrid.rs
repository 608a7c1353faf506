//! Praat TextGrid, long text format (Praat's "Save as text file"): an
//! interval tier `segments` and an interval tier `words`, both over
//! `[0, duration]`, the stretches between segments (or words) filled with
//! empty intervals as Praat requires. Praat has no overlapping or
//! zero-length intervals: a segment or word that starts before the previous
//! one ends starts at its end, and one left with no length is not written
//! (Whisper times some words that way). Times are written in Rust's shortest
//! round-trip form, so they read back exactly.

use super::format::Transcribed;

/// The TextGrid text.
pub fn render(file: &Transcribed) -> String {
    let segments = &file.transcript.segments;
    let xmax = segments
        .iter()
        .flat_map(|s| std::iter::once(s.end).chain(s.words.iter().map(|w| w.end)))
        .fold(file.duration, f64::max);
    // Words as every reader of Whisper's output gives them back: a piece
    // without a leading space continues the word before ("old" + "-sposed").
    let words = emoscope::engine::asr::segments_of(&file.transcript);
    let tiers = [
        (
            "segments",
            intervals(
                segments.iter().map(|s| (s.start, s.end, s.text.trim())),
                xmax,
            ),
        ),
        (
            "words",
            intervals(
                words
                    .iter()
                    .flat_map(|s| &s.words)
                    .map(|w| (w.start, w.end, w.text.as_str())),
                xmax,
            ),
        ),
    ];
    let mut o = String::from("File type = \"ooTextFile\"\nObject class = \"TextGrid\"\n\n");
    o.push_str(&format!(
        "xmin = 0 \nxmax = {xmax} \ntiers? <exists> \nsize = {} \nitem []: \n",
        tiers.len()
    ));
    for (i, (name, items)) in tiers.iter().enumerate() {
        o.push_str(&format!(
            "    item [{}]:\n        class = \"IntervalTier\" \n        name = {} \n        \
             xmin = 0 \n        xmax = {xmax} \n        intervals: size = {} \n",
            i + 1,
            quote(name),
            items.len()
        ));
        for (j, (a, b, text)) in items.iter().enumerate() {
            o.push_str(&format!(
                "        intervals [{}]:\n            xmin = {a} \n            xmax = {b} \n            \
                 text = {} \n",
                j + 1,
                quote(text)
            ));
        }
    }
    o
}

/// Intervals covering `[0, xmax]`: `items` in order, overlaps cut (see the
/// module docs), empty intervals in the gaps.
fn intervals<'a>(
    items: impl Iterator<Item = (f64, f64, &'a str)>,
    xmax: f64,
) -> Vec<(f64, f64, &'a str)> {
    let mut out = Vec::new();
    let mut t = 0.0f64;
    for (a, b, text) in items {
        let (a, b) = (a.max(t), b.min(xmax));
        if b <= a {
            continue;
        }
        if a > t {
            out.push((t, a, ""));
        }
        out.push((a, b, text));
        t = b;
    }
    if xmax > t || out.is_empty() {
        out.push((t, xmax, ""));
    }
    out
}

/// A Praat string: in double quotes, a quote inside doubled.
fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transcribe::test_transcript;
    use emoscope::transcript::textgrid;

    #[test]
    fn segments_and_words_read_back_with_gaps_filled() {
        let mut file = test_transcript();
        file.duration = 4.0;
        let grid = textgrid::parse_grid(&render(&file), "x.TextGrid".as_ref()).unwrap();
        assert_eq!((grid.xmin, grid.xmax), (0.0, 4.0));
        let items = |k: usize| match &grid.tiers[k].items {
            textgrid::TierItems::Intervals(v) => v
                .iter()
                .map(|i| (i.start, i.end, i.text.clone()))
                .collect::<Vec<_>>(),
            textgrid::TierItems::Points(_) => panic!("an interval tier"),
        };
        let s = |a: f64, b: f64, t: &str| (a, b, t.to_owned());
        assert_eq!(grid.tiers[0].name, "segments");
        assert_eq!(
            items(0),
            [
                s(0.0, 1.5, "Hello there."),
                s(1.5, 3.25, "General Kenobi!"),
                s(3.25, 4.0, "")
            ]
        );
        assert_eq!(grid.tiers[1].name, "words");
        assert_eq!(
            items(1),
            [
                s(0.0, 0.5, "Hello"),
                s(0.5, 1.25, "there."),
                s(1.25, 1.75, ""),
                s(1.75, 2.25, "General"),
                s(2.25, 3.25, "Kenobi!"),
                s(3.25, 4.0, "")
            ]
        );
    }

    #[test]
    fn overlaps_are_cut_and_empty_words_left_out() {
        // Words [0, 0.5] "a", [0.4, 0.9] "b" (starts at 0.5), [0.9, 0.9] "c"
        // (no length), in a 1 s file: a 0-0.5, b 0.5-0.9, gap 0.9-1.
        let items = [(0.0, 0.5, "a"), (0.4, 0.9, "b"), (0.9, 0.9, "c")];
        assert_eq!(
            intervals(items.into_iter(), 1.0),
            [(0.0, 0.5, "a"), (0.5, 0.9, "b"), (0.9, 1.0, "")]
        );
        // Nothing at all: one empty interval over the file.
        assert_eq!(intervals(std::iter::empty(), 2.0), [(0.0, 2.0, "")]);
    }

    #[test]
    fn quotes_are_doubled() {
        let mut file = test_transcript();
        file.transcript.segments[0].text = " He said \"hi\".".into();
        let grid = textgrid::parse_grid(&render(&file), "x.TextGrid".as_ref()).unwrap();
        let textgrid::TierItems::Intervals(v) = &grid.tiers[0].items else {
            panic!("an interval tier")
        };
        assert_eq!(v[0].text, "He said \"hi\".");
    }
}
