//! WebVTT: one cue per segment, `HH:MM:SS.mmm --> HH:MM:SS.mmm`, the label as
//! the cue text (`&`, `<`, `>` escaped, which also keeps `-->` out of the
//! payload), so a video player or a subtitle editor shows the readings.
//! With speakers, a cue opens with its speaker's voice tag (`<v host>`), as
//! WebVTT names who speaks.

use super::document::Annotation;
use super::one_line;

/// The WebVTT text.
pub fn render(doc: &Annotation) -> String {
    let mut out = format!("WEBVTT {}\n", super::VTT_HEADER_TAG);
    for (i, s) in doc.segments.iter().enumerate() {
        out.push_str(&format!(
            "\n{}\n{} --> {}\n{}\n",
            i + 1,
            timestamp(s.span.start),
            timestamp(s.span.end),
            match &s.speaker {
                Some(who) => format!("<v {}>{}", escape(who.as_str()), escape(&s.label)),
                None => escape(&s.label),
            }
        ));
    }
    out
}

/// `HH:MM:SS.mmm`, rounded to the millisecond.
pub fn timestamp(t: f64) -> String {
    let ms = (t.max(0.0) * 1000.0).round() as u64;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

fn escape(s: &str) -> String {
    one_line(s)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
