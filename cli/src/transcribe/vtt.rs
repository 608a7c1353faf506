//! WebVTT subtitles: `WEBVTT`, then one cue per segment,
//! `HH:MM:SS.mmm --> HH:MM:SS.mmm` and the segment's text trimmed, with `&`,
//! `<` and `>` written as character references (openai-whisper's writer
//! leaves them bare, which a WebVTT parser takes as tags; escaping `>` also
//! keeps `-->` out of the text).

use emoscope_models::whisper::Transcript;

use super::format::clock;

/// The WebVTT text.
pub fn render(t: &Transcript) -> String {
    let mut out = String::from("WEBVTT\n\n");
    for s in &t.segments {
        out.push_str(&format!(
            "{} --> {}\n{}\n\n",
            clock(s.start, '.'),
            clock(s.end, '.'),
            escape(s.text.trim())
        ));
    }
    out
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transcribe::test_transcript;

    #[test]
    fn one_cue_per_segment() {
        let t = test_transcript().transcript;
        assert_eq!(
            render(&t),
            "WEBVTT\n\n00:00:00.000 --> 00:00:01.500\nHello there.\n\n\
             00:00:01.500 --> 00:00:03.250\nGeneral Kenobi!\n\n"
        );
    }

    #[test]
    fn nothing_said_is_a_header_that_reads_back_empty() {
        let text = render(&Transcript::default());
        assert_eq!(text, "WEBVTT\n\n");
        let back = emoscope::transcript::vtt::parse(&text, "x.vtt".as_ref()).unwrap();
        assert!(back.segments().is_empty());
    }

    #[test]
    fn markup_characters_read_back_as_text() {
        let mut t = test_transcript().transcript;
        t.segments[0].text = " <i>R&D</i> --> 5 > 3".into();
        let back = emoscope::transcript::vtt::parse(&render(&t), "x.vtt".as_ref()).unwrap();
        assert_eq!(back.segments().len(), 2);
        assert_eq!(back.segments()[0].text, "<i>R&D</i> --> 5 > 3");
    }
}
