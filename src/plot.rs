//! A picture of an annotation: arousal, valence and dominance over time
//! (mapped from the model's output range onto 0..1), the speech segments as
//! shaded bands with their labels, and the transcript's words along the
//! bottom. PNG or SVG by the file extension, drawn with plotters. Text in
//! PNGs is rendered with ab_glyph from the DejaVu Sans font embedded in the
//! binary (the `dejavu` crate), so no system fonts are needed.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::cc::normalise;
use crate::export::Annotation;

/// Why a plot could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// The output name has no `.png` or `.svg` extension.
    #[error("{path}: the plot is written as PNG or SVG; name the file *.png or *.svg")]
    Extension {
        /// The output path.
        path: std::path::PathBuf,
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
const FONT: &str = crate::plot_font::FAMILY;

/// Draws `doc` into `path` (`.png` or `.svg`), `size` pixels wide and high.
pub fn render(doc: &Annotation, path: &Path, size: (u32, u32)) -> Result<(), PlotError> {
    crate::plot_font::register();
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
            draw(doc, &root).map_err(draw_err)?;
            root.present().map_err(|e| draw_err(e.to_string()))
        }
        Some("svg") => {
            let root = SVGBackend::new(path, size).into_drawing_area();
            draw(doc, &root).map_err(draw_err)?;
            root.present().map_err(|e| draw_err(e.to_string()))
        }
        _ => Err(PlotError::Extension {
            path: path.to_owned(),
        }),
    }
}

/// Picks one dimension out of a reading.
type Pick = fn(&crate::export::Reading) -> f32;

/// Colours of the three dimensions.
const COLOURS: [RGBColor; 3] = [
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(31, 119, 180),
];

fn draw<DB: DrawingBackend>(doc: &Annotation, root: &DrawingArea<DB, Shift>) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let e = |x: DrawingAreaErrorKind<DB::ErrorType>| x.to_string();
    root.fill(&WHITE).map_err(e)?;
    let range = (doc.output_range[0], doc.output_range[1]);
    let end = doc
        .duration
        .max(doc.timeline.last().map_or(0.0, |r| r.end))
        .max(1e-3);
    let name = Path::new(&doc.audio)
        .file_name()
        .map_or(doc.audio.clone(), |n| n.to_string_lossy().into_owned());
    let mut chart = ChartBuilder::on(root)
        .caption(
            format!("{name}: arousal, valence, dominance ({})", doc.model),
            (FONT, 20),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(0.0..end, -0.12f64..1.12)
        .map_err(e)?;
    chart
        .configure_mesh()
        .x_desc("time (s)")
        .y_desc(format!("value, {}..{} mapped to 0..1", range.0, range.1))
        .label_style((FONT, 13))
        .axis_desc_style((FONT, 14))
        .light_line_style(TRANSPARENT)
        .bold_line_style(RGBColor(225, 225, 225))
        .draw()
        .map_err(e)?;
    // Segments: shaded bands with the label at the top, alternating shades.
    for (i, s) in doc.segments.iter().enumerate() {
        let shade = if i % 2 == 0 {
            RGBColor(255, 236, 179)
        } else {
            RGBColor(255, 224, 130)
        };
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(s.start, 0.0), (s.end, 1.0)],
                shade.mix(0.6).filled(),
            )))
            .map_err(e)?;
        chart
            .draw_series(std::iter::once(Text::new(
                short(&s.label, 40),
                (s.start, 1.1),
                (FONT, 13).into_font().color(&BLACK),
            )))
            .map_err(e)?;
    }
    // Lines at window centres.
    let picks: [(&str, Pick); 3] = [
        ("arousal", |r| r.arousal),
        ("valence", |r| r.valence),
        ("dominance", |r| r.dominance),
    ];
    for ((label, pick), colour) in picks.into_iter().zip(COLOURS) {
        let points: Vec<(f64, f64)> = doc
            .timeline
            .iter()
            .map(|r| (r.centre(), f64::from(normalise(pick(r), range))))
            .collect();
        chart
            .draw_series(LineSeries::new(points.clone(), colour.stroke_width(2)))
            .map_err(e)?
            .label(label)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2))
            });
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
    for (i, (t, w)) in words.into_iter().enumerate() {
        let y = if i % 2 == 0 { -0.04 } else { -0.09 };
        chart
            .draw_series(std::iter::once(Text::new(
                short(w, 30),
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
