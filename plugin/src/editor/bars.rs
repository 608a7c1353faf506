//! A categorical model's reading: a horizontal bar per category, its
//! probability as the bar's length, in the model's label order; the most
//! probable category highlighted (its name strong, its bar in full colour,
//! the others faded). While the latest window had no speech (the speech
//! gate), the last reading is held, faded, and the panel says "no speech".

use egui::{self, Align2, Color32, FontId, Rect, Sense, Stroke, StrokeKind, Ui, Vec2};

use emoscope::reading::Probabilities;

use super::colors;

/// Draws the bars of `labels` in `size`; `probabilities` are the latest
/// reading's, in label order (`None` before the first reading).
pub fn bars(
    ui: &mut Ui,
    size: Vec2,
    labels: &[String],
    probabilities: Option<&Probabilities>,
    no_speech: bool,
) {
    let (rect, _) = ui.allocate_exact_size(size, Sense::hover());
    let painter = ui.painter_at(rect);
    let n = labels.len().max(1);
    let footer = 18.0;
    let row_h = ((rect.height() - footer) / n as f32).min(28.0);
    let name_w = (rect.width() * 0.3).clamp(50.0, 110.0);
    let value_w = 44.0;
    let top = probabilities.and_then(|p| p.top()).map(|(k, _)| k);
    let fade = if no_speech { 0.35 } else { 1.0 };
    for (k, label) in labels.iter().enumerate() {
        let y = rect.min.y + row_h * k as f32;
        let is_top = top == Some(k);
        let text_color = if is_top {
            ui.visuals().strong_text_color()
        } else {
            ui.visuals().text_color()
        };
        painter.text(
            egui::pos2(rect.min.x + name_w - 6.0, y + row_h * 0.5),
            Align2::RIGHT_CENTER,
            label,
            if is_top {
                FontId::proportional(14.0)
            } else {
                FontId::proportional(12.0)
            },
            text_color,
        );
        let track = Rect::from_min_max(
            egui::pos2(rect.min.x + name_w, y + row_h * 0.2),
            egui::pos2(rect.max.x - value_w, y + row_h * 0.8),
        );
        painter.rect_filled(track, 2.0, Color32::from_gray(36));
        let p = probabilities.and_then(|p| p.as_slice().get(k).copied());
        if let Some(p) = p {
            let w = track.width() * p.clamp(0.0, 1.0);
            let bar = Rect::from_min_size(track.min, Vec2::new(w, track.height()));
            let strength = if is_top { 1.0 } else { 0.45 };
            painter.rect_filled(
                bar,
                2.0,
                colors::category(k).gamma_multiply(strength * fade),
            );
            painter.text(
                egui::pos2(rect.max.x - 4.0, y + row_h * 0.5),
                Align2::RIGHT_CENTER,
                format!("{p:.2}"),
                FontId::monospace(11.0),
                text_color,
            );
        }
        if is_top {
            painter.rect_stroke(
                track,
                2.0,
                Stroke::new(1.5, Color32::WHITE.gamma_multiply(fade)),
                StrokeKind::Outside,
            );
        }
    }
    if no_speech {
        painter.text(
            egui::pos2(rect.center().x, rect.max.y - 2.0),
            Align2::CENTER_BOTTOM,
            "no speech",
            FontId::monospace(11.0),
            ui.visuals().text_color(),
        );
    }
}
