//! A vertical meter for one dimension: the colour scale as a faint track, the
//! value as a filled bar in the scale's colour, the name and the value below.
//! While the latest window had no speech (the speech gate), the last value
//! is held, faded, and the meter says "no speech".

use egui::{self, Align2, Color32, FontId, Rect, Sense, Stroke, StrokeKind, Ui, Vec2};

use super::colors;

/// Draws a meter of `size`; `t` is the value normalised to the model's range
/// (`None` before the first reading), `value` the value in model units;
/// `no_speech`: the latest window had no speech (the value is the last one, held).
pub fn meter(
    ui: &mut Ui,
    size: Vec2,
    name: &str,
    t: Option<f32>,
    value: Option<f32>,
    no_speech: bool,
) {
    let (rect, _) = ui.allocate_exact_size(size, Sense::hover());
    let painter = ui.painter_at(rect);
    let label_h = 34.0;
    let track = Rect::from_min_max(
        rect.min + Vec2::new(rect.width() * 0.3, 4.0),
        egui::pos2(rect.max.x - rect.width() * 0.3, rect.max.y - label_h),
    );
    // The colour scale, faint, as the track: 32 bands from bottom (0) to top (1).
    let bands = 32;
    for k in 0..bands {
        let t0 = k as f32 / bands as f32;
        let y1 = track.max.y - track.height() * t0;
        let y0 = track.max.y - track.height() * (k + 1) as f32 / bands as f32;
        let band = Rect::from_min_max(egui::pos2(track.min.x, y0), egui::pos2(track.max.x, y1));
        painter.rect_filled(band, 0.0, colors::scale(t0).gamma_multiply(0.25));
    }
    if let Some(t) = t {
        let t = t.clamp(0.0, 1.0);
        let top = track.max.y - track.height() * t;
        let bar = Rect::from_min_max(egui::pos2(track.min.x, top), track.max);
        let fade = if no_speech { 0.35 } else { 1.0 };
        painter.rect_filled(bar, 2.0, colors::scale(t).gamma_multiply(fade));
        painter.line_segment(
            [
                egui::pos2(track.min.x - 4.0, top),
                egui::pos2(track.max.x + 4.0, top),
            ],
            Stroke::new(2.0, Color32::WHITE.gamma_multiply(fade)),
        );
    }
    painter.rect_stroke(
        track,
        2.0,
        Stroke::new(1.0, Color32::from_gray(90)),
        StrokeKind::Outside,
    );
    // Ticks at 0, 0.5 and 1 of the range.
    for (tick, label) in [(0.0, "0"), (0.5, "½"), (1.0, "1")] {
        let y = track.max.y - track.height() * tick;
        painter.text(
            egui::pos2(track.min.x - 6.0, y),
            Align2::RIGHT_CENTER,
            label,
            FontId::proportional(10.0),
            Color32::from_gray(140),
        );
    }
    let text_color = ui.visuals().strong_text_color();
    painter.text(
        egui::pos2(rect.center().x, rect.max.y - label_h + 4.0),
        Align2::CENTER_TOP,
        name,
        FontId::proportional(13.0),
        text_color,
    );
    let shown = match (t, value) {
        _ if no_speech => "no speech".to_owned(),
        (Some(t), Some(v)) => format!("{t:.2}  ({v:.2})"),
        _ => "–".to_owned(),
    };
    painter.text(
        egui::pos2(rect.center().x, rect.max.y - 2.0),
        Align2::CENTER_BOTTOM,
        shown,
        FontId::monospace(11.0),
        ui.visuals().text_color(),
    );
}
