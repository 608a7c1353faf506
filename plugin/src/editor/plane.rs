//! The valence-arousal plane (Russell's circumplex): valence left to right,
//! arousal bottom to top, the current reading as a dot in the scale's colour
//! for dominance, and a fading trail of the readings before it.

use egui::{Align2, Color32, FontId, Pos2, Sense, Stroke, StrokeKind, Ui, Vec2};
use emoscope::{OutputRange, Reading};

use super::colors;

/// Draws the plane in a square of side `side`. `trail` are the latest
/// readings, oldest first; the last one is the current point.
pub fn plane(ui: &mut Ui, side: f32, trail: &[&Reading], range: OutputRange) {
    let (rect, _) = ui.allocate_exact_size(Vec2::splat(side), Sense::hover());
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 3.0, Color32::from_gray(24));
    let plot = rect.shrink(16.0);
    let at = |e: &Reading| {
        Pos2::new(
            plot.min.x + plot.width() * range.normalise(e.emotion.valence),
            plot.max.y - plot.height() * range.normalise(e.emotion.arousal),
        )
    };
    let axis = Stroke::new(1.0, Color32::from_gray(70));
    painter.line_segment(
        [
            Pos2::new(plot.center().x, plot.min.y),
            Pos2::new(plot.center().x, plot.max.y),
        ],
        axis,
    );
    painter.line_segment(
        [
            Pos2::new(plot.min.x, plot.center().y),
            Pos2::new(plot.max.x, plot.center().y),
        ],
        axis,
    );
    painter.rect_stroke(plot, 0.0, axis, StrokeKind::Inside);
    let small = FontId::proportional(10.0);
    let grey = Color32::from_gray(140);
    let labels = [
        (
            Pos2::new(plot.center().x, rect.min.y + 2.0),
            Align2::CENTER_TOP,
            "high arousal",
        ),
        (
            Pos2::new(plot.center().x, rect.max.y - 2.0),
            Align2::CENTER_BOTTOM,
            "low arousal",
        ),
        (
            Pos2::new(rect.min.x + 2.0, plot.center().y - 2.0),
            Align2::LEFT_BOTTOM,
            "negative",
        ),
        (
            Pos2::new(rect.max.x - 2.0, plot.center().y - 2.0),
            Align2::RIGHT_BOTTOM,
            "positive",
        ),
    ];
    for (pos, align, text) in labels {
        painter.text(pos, align, text, small.clone(), grey);
    }
    let n = trail.len();
    for (i, pair) in trail.windows(2).enumerate() {
        let alpha = (i + 1) as f32 / n as f32;
        painter.line_segment(
            [at(pair[0]), at(pair[1])],
            Stroke::new(1.5, Color32::from_gray(200).gamma_multiply(alpha)),
        );
    }
    for (i, e) in trail.iter().enumerate() {
        let alpha = (i + 1) as f32 / n as f32;
        let last = i + 1 == n;
        let color = colors::scale(range.normalise(e.emotion.dominance));
        let r = if last { 7.0 } else { 3.0 };
        painter.circle_filled(
            at(e),
            r,
            if last {
                color
            } else {
                color.gamma_multiply(alpha)
            },
        );
        if last {
            painter.circle_stroke(at(e), r, Stroke::new(1.5, Color32::WHITE));
        }
    }
}
