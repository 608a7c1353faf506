//! SubRip subtitles as openai-whisper writes them (`--output_format srt`):
//! one numbered cue per segment, `HH:MM:SS,mmm --> HH:MM:SS,mmm`, the
//! segment's text trimmed, with `-->` written `->` so that no text line
//! reads as a timing line.

use emoscope_models::whisper::Transcript;

use super::format::clock;

/// The SubRip text.
pub fn render(t: &Transcript) -> String {
    let mut out = String::new();
    for (i, s) in t.segments.iter().enumerate() {
        out.push_str(&format!(
            "{}\n{} --> {}\n{}\n\n",
            i + 1,
            clock(s.start, ','),
            clock(s.end, ','),
            s.text.trim().replace("-->", "->")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transcribe::test_transcript;

    #[test]
    fn one_numbered_cue_per_segment() {
        let t = test_transcript().transcript;
        assert_eq!(
            render(&t),
            "1\n00:00:00,000 --> 00:00:01,500\nHello there.\n\n\
             2\n00:00:01,500 --> 00:00:03,250\nGeneral Kenobi!\n\n"
        );
    }

    #[test]
    fn nothing_said_is_an_empty_file_that_reads_back_empty() {
        let t = Transcript::default();
        assert_eq!(render(&t), "");
        let back = emoscope::transcript::srt::parse("", "x.srt".as_ref()).unwrap();
        assert!(back.segments().is_empty());
    }

    #[test]
    fn an_arrow_in_the_text_is_shortened() {
        let mut t = test_transcript().transcript;
        t.segments[0].text = " a --> b".into();
        let back = emoscope::transcript::srt::parse(&render(&t), "x.srt".as_ref()).unwrap();
        assert_eq!(back.segments().len(), 2);
        assert_eq!(back.segments()[0].text, "a -> b");
    }
}
