//! The scrolling history: arousal, valence and dominance (normalised) of the
//! windows that ended in the last [`SPAN`] seconds before the playhead.

use egui::{Align2, Color32, FontId, Pos2, Sense, Stroke, Ui, Vec2};
use emoscope::{OutputRange, Reading};

use super::colors;

/// Seconds shown.
pub const SPAN: f64 = 30.0;

/// Draws the history of `entries` ending at `now` (host seconds), values
/// normalised with `range`.
pub fn history(ui: &mut Ui, size: Vec2, entries: &[Reading], now: f64, range: OutputRange) {
    let (rect, _) = ui.allocate_exact_size(size, Sense::hover());
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 3.0, Color32::from_gray(24));
    let plot = rect.shrink2(Vec2::new(8.0, 14.0));
    let x_of = |t: f64| plot.min.x + plot.width() * ((t - (now - SPAN)) / SPAN) as f32;
    let y_of = |v: f32| plot.max.y - plot.height() * range.normalise(v);
    // Grid: quarter lines, and a tick every 5 s labelled in seconds before now.
    for q in [0.25f32, 0.5, 0.75] {
        let y = plot.max.y - plot.height() * q;
        painter.line_segment(
            [Pos2::new(plot.min.x, y), Pos2::new(plot.max.x, y)],
            Stroke::new(1.0, Color32::from_gray(if q == 0.5 { 60 } else { 40 })),
        );
    }
    for k in 0..=6 {
        let t = now - SPAN + 5.0 * f64::from(k);
        let x = x_of(t);
        painter.line_segment(
            [Pos2::new(x, plot.min.y), Pos2::new(x, plot.max.y)],
            Stroke::new(1.0, Color32::from_gray(40)),
        );
        painter.text(
            Pos2::new(x, rect.max.y - 1.0),
            Align2::CENTER_BOTTOM,
            format!("{}s", 5 * k - 30),
            FontId::proportional(9.0),
            Color32::from_gray(130),
        );
    }
    // One polyline per dimension through the window ends (the time a value became known).
    let visible: Vec<&Reading> = entries
        .iter()
        .filter(|e| e.span.end > now - SPAN && e.span.end <= now + 0.5)
        .collect();
    for (d, color) in colors::DIMENSION.iter().enumerate() {
        let points: Vec<Pos2> = visible
            .iter()
            .map(|e| {
                let v = e.emotion.dimensions()[d];
                Pos2::new(x_of(e.span.end), y_of(v))
            })
            .collect();
        if points.len() >= 2 {
            painter.line(points, Stroke::new(2.0, *color));
        } else if let Some(p) = points.first() {
            painter.circle_filled(*p, 2.5, *color);
        }
    }
    let legend = ["arousal", "valence", "dominance"];
    for (d, name) in legend.iter().enumerate() {
        painter.text(
            Pos2::new(plot.min.x + 4.0 + 70.0 * d as f32, rect.min.y + 2.0),
            Align2::LEFT_TOP,
            *name,
            FontId::proportional(10.0),
            colors::DIMENSION[d],
        );
    }
}
