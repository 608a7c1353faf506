//! The scrolling history: arousal, valence and dominance (normalised) of the
//! windows that ended in the last [`SPAN`] seconds before the playhead;
//! windows the speech gate left out are a shaded gap that the lines do not
//! cross.

use egui::{Align2, Color32, FontId, Pos2, Rect, Sense, Stroke, Ui, Vec2};
use emoscope::{OutputRange, Reading, Span};

use super::colors;

/// Seconds shown.
pub const SPAN: f64 = 30.0;

/// Draws the history of `entries` ending at `now` (host seconds), values
/// normalised with `range`, with the windows without speech `gaps` (both
/// sorted by start) as gaps.
pub fn history(
    ui: &mut Ui,
    size: Vec2,
    entries: &[Reading],
    gaps: &[Span],
    now: f64,
    range: OutputRange,
) {
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
    // Windows without speech, by their ends like the readings: a shaded
    // band over each run of them.
    let shown = |t: f64| t > now - SPAN && t <= now + 0.5;
    let gap_ends: Vec<f64> = gaps.iter().map(|g| g.end).filter(|&t| shown(t)).collect();
    let mut runs: Vec<(f64, f64)> = Vec::new();
    for &t in &gap_ends {
        let read_between = |a: f64| entries.iter().any(|e| e.span.end > a && e.span.end < t);
        match runs.last_mut() {
            Some(run) if !read_between(run.1) => run.1 = t,
            _ => runs.push((t, t)),
        }
    }
    for (a, b) in runs {
        let band = Rect::from_min_max(
            Pos2::new(x_of(a) - 2.0, plot.min.y),
            Pos2::new((x_of(b) + 2.0).min(plot.max.x), plot.max.y),
        );
        painter.rect_filled(band, 0.0, Color32::from_gray(40));
        if band.width() > 50.0 {
            painter.text(
                band.center_top() + Vec2::new(0.0, 2.0),
                Align2::CENTER_TOP,
                "no speech",
                FontId::proportional(9.0),
                Color32::from_gray(130),
            );
        }
    }
    // One polyline per dimension through the window ends (the time a value
    // became known), broken where windows without speech come between.
    let visible: Vec<&Reading> = entries.iter().filter(|e| shown(e.span.end)).collect();
    let mut pieces: Vec<&[&Reading]> = Vec::new();
    let mut from = 0;
    for i in 1..=visible.len() {
        let broken = i == visible.len() || {
            let (a, b) = (visible[i - 1].span.end, visible[i].span.end);
            gap_ends.iter().any(|&t| t > a && t < b)
        };
        if broken {
            pieces.push(&visible[from..i]);
            from = i;
        }
    }
    for (d, color) in colors::DIMENSION.iter().enumerate() {
        for piece in &pieces {
            let points: Vec<Pos2> = piece
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
