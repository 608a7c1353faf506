//! The scrolling history: arousal, valence and dominance (normalised), or a
//! categorical model's category probabilities, of the windows that ended in the last [`SPAN`] seconds before the playhead;
//! windows the speech gate left out are a shaded gap that the lines do not
//! cross.
//!
//! With speakers (a transcript that names them), each speaker's readings
//! are their own lines, broken between their turns, with each reading's
//! point and a strip along the bottom in the speaker's colour, and a legend
//! of the names.

use egui::{Align2, Color32, FontId, Pos2, Rect, Sense, Stroke, Ui, Vec2};
use emoscope::export::Track;
use emoscope::transcript::Speaker;
use emoscope::{OutputRange, Reading, Span};

use super::colors;

/// Seconds shown.
pub const SPAN: f64 = 30.0;

/// One curve of the history: the value it follows, its name and colour.
pub struct Curve {
    /// The value (a dimension, or a category's probability).
    pub track: Track,
    /// Its name in the legend.
    pub name: String,
    /// Its colour.
    pub color: Color32,
}

/// The curves of a model: arousal, valence and dominance when it outputs
/// them (`dimensional`), each of its `categories`' probabilities.
pub fn curves(dimensional: bool, categories: &[String]) -> Vec<Curve> {
    let mut out = Vec::new();
    if dimensional {
        for (d, name) in ["arousal", "valence", "dominance"].iter().enumerate() {
            out.push(Curve {
                track: Track::Dimension(d),
                name: (*name).to_owned(),
                color: colors::DIMENSION[d],
            });
        }
    }
    for (k, name) in categories.iter().enumerate() {
        out.push(Curve {
            track: Track::Category(k),
            name: name.clone(),
            color: colors::category(k),
        });
    }
    out
}

/// Draws the history of `entries` ending at `now` (host seconds), one line
/// per curve (dimensions normalised with `range`, probabilities on 0..1),
/// with the windows without speech `gaps` (both sorted by start) as gaps,
/// and each reading of one of `speakers` in that speaker's colour.
#[allow(clippy::too_many_arguments)]
pub fn history(
    ui: &mut Ui,
    size: Vec2,
    entries: &[Reading],
    gaps: &[Span],
    now: f64,
    range: OutputRange,
    curves: &[Curve],
    speakers: &[Speaker],
) {
    let (rect, _) = ui.allocate_exact_size(size, Sense::hover());
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 3.0, Color32::from_gray(24));
    let plot = rect.shrink2(Vec2::new(8.0, 14.0));
    let x_of = |t: f64| plot.min.x + plot.width() * ((t - (now - SPAN)) / SPAN) as f32;
    let y_of = |track: Track, e: &Reading| {
        plot.max.y - plot.height() * track.normalised(&e.emotion, range)
    };
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
    let pieces = pieces(&visible, &gap_ends);
    let speaker_color = |r: &Reading| {
        let k = r
            .speaker
            .as_ref()
            .and_then(|s| speakers.iter().position(|x| x == s));
        k.map(colors::speaker)
    };
    // Each speaker's turns as a strip along the bottom, in their colour.
    for piece in &pieces {
        let (Some(first), Some(last)) = (piece.first(), piece.last()) else {
            continue;
        };
        if let Some(color) = speaker_color(first) {
            let (a, b) = (x_of(first.span.end) - 2.0, x_of(last.span.end) + 2.0);
            let strip = Rect::from_min_max(
                Pos2::new(a.max(plot.min.x), plot.max.y - 4.0),
                Pos2::new(b.min(plot.max.x), plot.max.y),
            );
            painter.rect_filled(strip, 0.0, color);
        }
    }
    for curve in curves {
        let color = &curve.color;
        for piece in &pieces {
            let points: Vec<Pos2> = piece
                .iter()
                .map(|e| Pos2::new(x_of(e.span.end), y_of(curve.track, e)))
                .collect();
            if points.len() >= 2 {
                painter.line(points.clone(), Stroke::new(2.0, *color));
            } else if let Some(p) = points.first() {
                painter.circle_filled(*p, 2.5, *color);
            }
            // Each reading's point in its speaker's colour.
            for (e, p) in piece.iter().zip(&points) {
                if let Some(c) = speaker_color(e) {
                    painter.circle_filled(*p, 2.0, c);
                }
            }
        }
    }
    for (k, name) in speakers.iter().enumerate().take(8) {
        painter.text(
            Pos2::new(plot.max.x - 4.0, rect.min.y + 2.0 + 11.0 * k as f32),
            Align2::RIGHT_TOP,
            name.as_str(),
            FontId::proportional(10.0),
            colors::speaker(k),
        );
    }
    let mut x = plot.min.x + 4.0;
    for curve in curves {
        let placed = painter.text(
            Pos2::new(x, rect.min.y + 2.0),
            Align2::LEFT_TOP,
            &curve.name,
            FontId::proportional(10.0),
            curve.color,
        );
        x = placed.max.x + 12.0;
    }
}

/// The readings shown (sorted by start), cut into the pieces one line is
/// drawn through: broken where windows without speech end between two
/// readings (`gap_ends`), and, for readings that name their speaker, each
/// speaker's readings on their own, broken where one window no longer
/// reaches the next (another speaker's turn, or silence, between).
fn pieces<'a>(visible: &[&'a Reading], gap_ends: &[f64]) -> Vec<Vec<&'a Reading>> {
    let mut out: Vec<Vec<&Reading>> = Vec::new();
    // The piece each speaker (or no one) is drawing, as an index into `out`.
    let mut open: Vec<(Option<&Speaker>, usize)> = Vec::new();
    for &r in visible {
        let who = r.speaker.as_ref();
        let current = open.iter().find(|(s, _)| *s == who).map(|&(_, i)| i);
        let continues = current.is_some_and(|i| {
            let last = out[i].last().expect("pieces are never empty");
            let (a, b) = (last.span.end, r.span.end);
            let gap = gap_ends.iter().any(|&t| t > a && t < b);
            let apart = who.is_some() && r.span.start > last.span.end + 1e-6;
            !gap && !apart
        });
        match current {
            Some(i) if continues => out[i].push(r),
            _ => {
                out.push(vec![r]);
                let i = out.len() - 1;
                match open.iter_mut().find(|(s, _)| *s == who) {
                    Some(slot) => slot.1 = i,
                    None => open.push((who, i)),
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(start: f64, who: Option<&str>) -> Reading {
        Reading {
            span: Span::new(start, start + 1.0),
            speaker: who.map(Speaker::new),
            ..Reading::default()
        }
    }

    fn starts(p: &[Vec<&Reading>]) -> Vec<Vec<f64>> {
        p.iter()
            .map(|p| p.iter().map(|r| r.span.start).collect())
            .collect()
    }

    #[test]
    fn without_speakers_only_gaps_break_the_line() {
        let all = [r(0.0, None), r(0.5, None), r(3.0, None), r(3.5, None)];
        let v: Vec<&Reading> = all.iter().collect();
        assert_eq!(starts(&pieces(&v, &[])), [vec![0.0, 0.5, 3.0, 3.5]]);
        assert_eq!(
            starts(&pieces(&v, &[2.0])),
            [vec![0.0, 0.5], vec![3.0, 3.5]]
        );
    }

    /// Host 0-2 s, guest from 1.8 s (talking over the host's end), host
    /// again from 4 s: three lines, the host's two turns not joined.
    #[test]
    fn each_speakers_turns_are_lines_of_their_own() {
        let all = [
            r(0.0, Some("host")),
            r(0.5, Some("host")),
            r(1.0, Some("host")),
            r(1.8, Some("guest")),
            r(2.3, Some("guest")),
            r(4.0, Some("host")),
            r(4.5, Some("host")),
        ];
        let v: Vec<&Reading> = all.iter().collect();
        assert_eq!(
            starts(&pieces(&v, &[])),
            [vec![0.0, 0.5, 1.0], vec![1.8, 2.3], vec![4.0, 4.5]]
        );
    }
}
