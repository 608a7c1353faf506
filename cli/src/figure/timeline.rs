//! A picture of an annotation: arousal, valence and dominance over time
//! (mapped from the model's output range onto 0..1), or a categorical
//! model's category probabilities stacked (a band per category, adding up
//! to 1 at each window), the speech segments as
//! shaded bands with their labels, stretches without speech (no reading)
//! as grey bands where the lines break, and the transcript's words along the
//! bottom. PNG or SVG by the file extension, drawn with plotters. Text in
//! PNGs is rendered with ab_glyph from the DejaVu Sans font embedded in the
//! binary (the `dejavu` crate), so no system fonts are needed.
//!
//! Times read as `m:ss` (`h:mm:ss` past an hour) at round steps; segment
//! labels and words that would overprint their neighbours are shortened or
//! left out. Pictures are [`MIN_SIZE`] to [`MAX_SIZE`] pixels.
//!
//! When the readings name speakers, each speaker has a lane of their own,
//! one under the other in the order of their first turn, with their name in
//! the lane's title and legend; a lane is at least [`MIN_SIZE`]'s height.

use std::path::Path;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::coord::Shift;
use plotters::prelude::*;

use emoscope::export::Annotation;
use emoscope::transcript::Speaker;
use emoscope::{Reading, Span};

/// Why a plot could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// The output name has no `.png` or `.svg` extension.
    #[error("{path}: the plot is written as PNG or SVG; name the file *.png or *.svg")]
    Extension {
        /// The output path.
        path: std::path::PathBuf,
    },
    /// The picture would be smaller than [`MIN_SIZE`] or larger than [`MAX_SIZE`].
    #[error(
        "a {width} x {height} pixel picture: the size must be {} x {} to {} x {} pixels",
        MIN_SIZE.0, MIN_SIZE.1, MAX_SIZE.0, MAX_SIZE.1
    )]
    Size {
        /// Width asked for.
        width: u32,
        /// Height asked for.
        height: u32,
    },
    /// A lane per speaker would be lower than [`MIN_SIZE`]'s height.
    #[error(
        "a {height} pixel high picture has no room for {lanes} speakers' lanes of at least {} pixels: give a height of {} or more",
        MIN_SIZE.1, MIN_SIZE.1 * lanes
    )]
    Lanes {
        /// Height asked for.
        height: u32,
        /// Lanes to draw (speakers).
        lanes: u32,
    },
    /// plotters failed (for example, the file could not be written).
    #[error("drawing {path}: {message}")]
    Draw {
        /// The output path.
        path: std::path::PathBuf,
        /// plotters' description.
        message: String,
    },
}

/// Font family name the plots use.
const FONT: &str = crate::figure::FAMILY;

/// The smallest picture, pixels (width, height): room for the axes and the caption.
pub const MIN_SIZE: (u32, u32) = (200, 150);

/// The largest picture, pixels (width, height): 8192 x 8192 is a 200 MB
/// bitmap while it is drawn.
pub const MAX_SIZE: (u32, u32) = (8192, 8192);

/// Draws `doc` into `path` (`.png` or `.svg`), `size` pixels wide and high
/// ([`MIN_SIZE`] to [`MAX_SIZE`]; a lane per speaker, see the module docs).
pub fn render(doc: &Annotation, path: &Path, size: (u32, u32)) -> Result<(), PlotError> {
    let (width, height) = size;
    if !(MIN_SIZE.0..=MAX_SIZE.0).contains(&width) || !(MIN_SIZE.1..=MAX_SIZE.1).contains(&height) {
        return Err(PlotError::Size { width, height });
    }
    let speakers = doc.speaker_names();
    let lanes: Vec<(Annotation, Option<&Speaker>)> = if speakers.is_empty() {
        vec![(doc.clone(), None)]
    } else {
        speakers.iter().map(|s| (doc.only(s), Some(s))).collect()
    };
    let n = lanes.len() as u32;
    if height / n < MIN_SIZE.1 {
        return Err(PlotError::Lanes { height, lanes: n });
    }
    crate::figure::register();
    let draw_err = |e: String| PlotError::Draw {
        path: path.to_owned(),
        message: e,
    };
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("png") => {
            let root = BitMapBackend::new(path, size).into_drawing_area();
            draw_lanes(&lanes, &root).map_err(draw_err)?;
            root.present().map_err(|e| draw_err(e.to_string()))
        }
        Some("svg") => {
            let root = SVGBackend::new(path, size).into_drawing_area();
            draw_lanes(&lanes, &root).map_err(draw_err)?;
            root.present().map_err(|e| draw_err(e.to_string()))
        }
        _ => Err(PlotError::Extension {
            path: path.to_owned(),
        }),
    }
}

/// Picks one dimension out of a reading.
type Pick = fn(&Reading) -> f32;

/// Colours of a categorical model's categories (matplotlib's tab10, then again).
const CATEGORY_COLOURS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// Colours of the three dimensions.
const COLOURS: [RGBColor; 3] = [
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(31, 119, 180),
];

/// Each lane (a document and its speaker, if any) in its own band of `root`, top to bottom.
fn draw_lanes<DB: DrawingBackend>(
    lanes: &[(Annotation, Option<&Speaker>)],
    root: &DrawingArea<DB, Shift>,
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(|x| x.to_string())?;
    let areas = root.split_evenly((lanes.len(), 1));
    for ((doc, speaker), area) in lanes.iter().zip(&areas) {
        draw(doc, *speaker, area)?;
    }
    Ok(())
}

/// One lane: `doc` (of `speaker` alone, when it is given) in `root`.
fn draw<DB: DrawingBackend>(
    doc: &Annotation,
    speaker: Option<&Speaker>,
    root: &DrawingArea<DB, Shift>,
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let e = |x: DrawingAreaErrorKind<DB::ErrorType>| x.to_string();
    let range = doc.output_range;
    let end = doc
        .duration
        .max(doc.timeline.last().map_or(0.0, |r| r.span.end))
        .max(1e-3);
    let name = Path::new(&doc.audio)
        .file_name()
        .map_or(doc.audio.clone(), |n| n.to_string_lossy().into_owned());
    let (step, ticks) = time_ticks(end, root.dim_in_pixel().0);
    let clock_format = |t: &f64| clock(*t, step, end);
    let categorical = !doc.categories.is_empty();
    let what = if categorical {
        "category probabilities"
    } else {
        "arousal, valence, dominance"
    };
    let caption = match speaker {
        Some(who) => format!("{who} in {name}: {what} ({})", doc.model),
        None => format!("{name}: {what} ({})", doc.model),
    };
    let mut chart = ChartBuilder::on(root)
        .caption(caption, (FONT, 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(TimeAxis { end, ticks }, -0.12f64..1.12)
        .map_err(e)?;
    chart
        .configure_mesh()
        .x_desc(if end >= 3600.0 {
            "time (h:mm:ss)"
        } else {
            "time (m:ss)"
        })
        .x_label_formatter(&clock_format)
        .y_desc(if categorical {
            "probability, stacked".to_owned()
        } else {
            format!("value, {}..{} mapped to 0..1", range.min, range.max)
        })
        .label_style((FONT, 13))
        .axis_desc_style((FONT, 14))
        .light_line_style(TRANSPARENT)
        .bold_line_style(RGBColor(225, 225, 225))
        .draw()
        .map_err(e)?;
    let (pixels, _) = chart.plotting_area().get_pixel_range();
    let px = move |t: f64| pixels.start + ((t / end) * f64::from(pixels.end - pixels.start)) as i32;
    let right = px(end);
    let measure = |text: &str, size: f64| {
        root.estimate_text_size(text, &(FONT, size).into_font().into())
            .map_or(text.chars().count() as i32 * size as i32 / 2, |(w, _)| {
                w as i32
            })
    };
    // No speech, so no reading: grey bands with a note.
    for &Span { start: a, end: b } in &doc.no_speech {
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(a, -0.1), (b, 1.0)],
                RGBColor(225, 225, 225).mix(0.7).filled(),
            )))
            .map_err(e)?;
        if px(b) - px(a) > measure("no speech", 12.0) + LABEL_GAP {
            chart
                .draw_series(std::iter::once(Text::new(
                    "no speech",
                    (a, -0.07),
                    (FONT, 12).into_font().color(&RGBColor(110, 110, 110)),
                )))
                .map_err(e)?;
        }
    }
    // Segments: shaded bands, alternating shades.
    for (i, s) in doc.segments.iter().enumerate() {
        let shade = if i % 2 == 0 {
            RGBColor(255, 236, 179)
        } else {
            RGBColor(255, 224, 130)
        };
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(s.span.start, 0.0), (s.span.end, 1.0)],
                shade.mix(0.6).filled(),
            )))
            .map_err(e)?;
    }
    // Their labels above them: shortened to their own segment where that leaves
    // a few characters, else whole over the next segments, whose labels then
    // give way (none overprints another).
    let starts: Vec<i32> = doc.segments.iter().map(|s| px(s.span.start)).collect();
    let mut free = i32::MIN;
    for (i, s) in doc.segments.iter().enumerate() {
        let x = starts[i];
        if x < free {
            continue;
        }
        let full = short(&s.label, 40);
        let own = starts.get(i + 1).copied().unwrap_or(right) - LABEL_GAP - x;
        let Some(label) = fit(&full, own, |t| measure(t, 13.0))
            .or_else(|| fit(&full, right - x, |t| measure(t, 13.0)))
        else {
            continue;
        };
        free = x + measure(&label, 13.0) + LABEL_GAP;
        chart
            .draw_series(std::iter::once(Text::new(
                label,
                (s.span.start, 1.1),
                (FONT, 13).into_font().color(&BLACK),
            )))
            .map_err(e)?;
    }
    // A categorical model: its probabilities stacked, one band per category
    // (in label order from the bottom), through the window centres.
    let gap = 1.5 * doc.hop_seconds.max(1e-6);
    if categorical {
        let mut runs: Vec<Vec<&Reading>> = Vec::new();
        for r in &doc.timeline {
            match runs.last_mut() {
                Some(run) if r.span.centre() - run[run.len() - 1].span.centre() <= gap => {
                    run.push(r)
                }
                _ => runs.push(vec![r]),
            }
        }
        let below = |r: &Reading, k: usize| -> f64 {
            r.emotion.probabilities.as_slice()[..k]
                .iter()
                .map(|&p| f64::from(p.clamp(0.0, 1.0)))
                .sum()
        };
        for (k, label) in doc.categories.iter().enumerate() {
            let colour = CATEGORY_COLOURS[k % CATEGORY_COLOURS.len()];
            for (i, run) in runs.iter().enumerate() {
                // A lone window is a band as wide as its hop.
                let half = if run.len() == 1 {
                    0.5 * doc.hop_seconds
                } else {
                    0.0
                };
                let mut outline: Vec<(f64, f64)> = Vec::new();
                for r in run.iter() {
                    let c = r.span.centre();
                    outline.push((c - half, below(r, k + 1)));
                    if half > 0.0 {
                        outline.push((c + half, below(r, k + 1)));
                    }
                }
                for r in run.iter().rev() {
                    let c = r.span.centre();
                    if half > 0.0 {
                        outline.push((c + half, below(r, k)));
                    }
                    outline.push((c - half, below(r, k)));
                }
                let series = chart
                    .draw_series(std::iter::once(Polygon::new(
                        outline,
                        colour.mix(0.8).filled(),
                    )))
                    .map_err(e)?;
                if i == 0 {
                    let label = match speaker {
                        Some(who) => format!("{who}: {label}"),
                        None => label.clone(),
                    };
                    series.label(label).legend(move |(x, y)| {
                        Rectangle::new([(x, y - 5), (x + 18, y + 5)], colour.mix(0.8).filled())
                    });
                }
            }
        }
    }
    // Lines at window centres.
    let picks: [(&str, Pick); 3] = [
        ("arousal", |r| r.emotion.arousal),
        ("valence", |r| r.emotion.valence),
        ("dominance", |r| r.emotion.dominance),
    ];
    for ((label, pick), colour) in picks.into_iter().zip(COLOURS) {
        if categorical {
            break;
        }
        let points: Vec<(f64, f64)> = doc
            .timeline
            .iter()
            .map(|r| (r.span.centre(), f64::from(range.normalise(pick(r)))))
            .collect();
        // One line per run of consecutive windows: a gap (no speech) breaks it.
        let mut runs: Vec<Vec<(f64, f64)>> = Vec::new();
        for &p in &points {
            match runs.last_mut() {
                Some(run) if p.0 - run.last().map_or(p.0, |q| q.0) <= gap => run.push(p),
                _ => runs.push(vec![p]),
            }
        }
        for (k, run) in runs.into_iter().enumerate() {
            let series = chart
                .draw_series(LineSeries::new(run, colour.stroke_width(2)))
                .map_err(e)?;
            if k == 0 {
                let label = match speaker {
                    Some(who) => format!("{who}: {label}"),
                    None => label.to_owned(),
                };
                series.label(label).legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2))
                });
            }
        }
        chart
            .draw_series(
                points
                    .into_iter()
                    .map(|p| Circle::new(p, 3, colour.filled())),
            )
            .map_err(e)?;
    }
    // Words (a segment's text where it has no word timings) along the bottom, in two rows.
    let words: Vec<(f64, &str)> = doc
        .transcript
        .iter()
        .flat_map(|s| {
            if s.words.is_empty() {
                vec![(s.start, s.text.as_str())]
            } else {
                s.words.iter().map(|w| (w.start, w.text.as_str())).collect()
            }
        })
        .collect();
    // Two rows: each word goes in the first row with room for it, else is left out.
    let mut row_free = [i32::MIN; 2];
    for (t, w) in words {
        let text = short(w, 30);
        let (x, width) = (px(t), measure(&text, 12.0));
        let Some(row) = (0..2).find(|&r| x >= row_free[r]) else {
            continue;
        };
        row_free[row] = x + width + LABEL_GAP;
        let y = if row == 0 { -0.04 } else { -0.09 };
        chart
            .draw_series(std::iter::once(Text::new(
                text,
                (t, y),
                (FONT, 12).into_font().color(&RGBColor(60, 60, 60)),
            )))
            .map_err(e)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font((FONT, 13))
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(180, 180, 180))
        .draw()
        .map_err(e)?;
    Ok(())
}

/// Pixels kept free between neighbouring labels.
const LABEL_GAP: i32 = 6;

/// `text` if it is at most `room` pixels wide (by `width`), else its longest
/// prefix (at least three characters) plus an ellipsis that is, else `None`:
/// a label too wide for its place is shortened or left out, never overprinted.
fn fit(text: &str, room: i32, width: impl Fn(&str) -> i32) -> Option<String> {
    if width(text) <= room {
        return Some(text.to_owned());
    }
    let chars: Vec<char> = text.chars().collect();
    (3..chars.len())
        .rev()
        .map(|n| chars[..n].iter().collect::<String>().trim_end().to_owned() + "…")
        .find(|t| width(t) <= room)
}

/// The time axis, 0 to `end` seconds, with its ticks at `ticks` (plotters
/// would put them at round decimal numbers of seconds).
struct TimeAxis {
    end: f64,
    ticks: Vec<f64>,
}

impl Ranged for TimeAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let span = f64::from(limit.1 - limit.0);
        limit.0 + (value / self.end * span).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, _hint: Hint) -> Vec<f64> {
        self.ticks.clone()
    }

    fn range(&self) -> std::ops::Range<f64> {
        0.0..self.end
    }
}

/// Round steps for the time axis, seconds.
const TIME_STEPS: [f64; 17] = [
    0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0,
    3600.0, 7200.0,
];

/// The step and the tick positions for a time axis from 0 to `end` seconds
/// on a picture `width` pixels wide: the smallest round step that leaves at
/// least 90 pixels per label.
fn time_ticks(end: f64, width: u32) -> (f64, Vec<f64>) {
    let most = (f64::from(width) / 90.0).floor().max(2.0);
    let step = TIME_STEPS
        .iter()
        .copied()
        .find(|s| end / s <= most)
        .unwrap_or_else(|| (end / most / 3600.0).ceil() * 3600.0);
    let n = (end / step).floor() as usize;
    (step, (0..=n).map(|k| k as f64 * step).collect())
}

/// `t` seconds as `m:ss` (`h:mm:ss` when the axis reaches `end` ≥ 1 h), with
/// tenths when the axis `step` is below a second.
fn clock(t: f64, step: f64, end: f64) -> String {
    let tenths = (t * 10.0).round() as u64;
    let (secs, frac) = (tenths / 10, tenths % 10);
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let mut out = if end >= 3600.0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{}:{s:02}", secs / 60)
    };
    if step < 1.0 {
        out.push_str(&format!(".{frac}"));
    }
    out
}

/// `s` cut to `n` characters with an ellipsis.
fn short(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(n - 1).collect();
        out.push('…');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_times() {
        // 125 s = 2 min 5 s; 3725 s = 1 h 2 min 5 s; 1.5 s on a sub-second axis.
        assert_eq!(clock(125.0, 30.0, 600.0), "2:05");
        assert_eq!(clock(3725.0, 600.0, 4000.0), "1:02:05");
        assert_eq!(clock(0.0, 600.0, 4000.0), "0:00:00");
        assert_eq!(clock(1.5, 0.5, 7.0), "0:01.5");
        assert_eq!(clock(600.0, 60.0, 600.0), "10:00");
    }

    #[test]
    fn ticks_are_round_and_leave_room() {
        // 10 min on 1200 px: at most 13 labels, so 60 s steps (600/60 = 10).
        let (step, ticks) = time_ticks(600.0, 1200);
        assert_eq!(step, 60.0);
        assert_eq!(ticks.len(), 11);
        assert_eq!(ticks.last(), Some(&600.0));
        // 7 s on 900 px: at most 10 labels, so 1 s steps.
        assert_eq!(time_ticks(7.0, 900).0, 1.0);
        // 10 h on 200 px: whole hours.
        let (step, _) = time_ticks(36_000.0, 200);
        assert_eq!(step % 3600.0, 0.0);
    }

    #[test]
    fn labels_are_shortened_or_left_out_to_fit() {
        // One pixel per character.
        let w = |t: &str| t.chars().count() as i32;
        assert_eq!(fit("A.50 V.40", 20, w).as_deref(), Some("A.50 V.40"));
        assert_eq!(fit("A.50 V.40", 6, w).as_deref(), Some("A.50…"));
        assert_eq!(fit("A.50 V.40", 3, w), None);
    }
}
