//! openai-whisper's JSON (`whisper --output_format json`): the `result`
//! dictionary its `transcribe()` returns, which WhisperX, subtitle tools and
//! Emoscope's own reader ([`emoscope::transcript::whisper`]) read:
//!
//! ```text
//! {"text": " And Mr. John …",
//!  "segments": [{"id": 0, "start": 0.0, "end": 7.1, "text": " And Mr. John …",
//!                "tokens": […], "temperature": 0.0, "avg_logprob": -0.21,
//!                "compression_ratio": 1.3, "no_speech_prob": 0.01,
//!                "words": [{"word": " And", "start": 0.0, "end": 0.3, "probability": 0.91}, …]}],
//!  "language": "en"}
//! ```
//!
//! Keys in openai-whisper's order, one segment per line; texts keep
//! Whisper's leading spaces, as there; `seek` is left out (the model does
//! not report it). Times are written in the shortest form that reads back
//! as the same number.

use serde::Serialize;

use super::format::Transcribed;

#[derive(Serialize)]
struct Segment<'a> {
    id: usize,
    start: f64,
    end: f64,
    text: &'a str,
    tokens: &'a [u32],
    temperature: f32,
    avg_logprob: f64,
    compression_ratio: f64,
    no_speech_prob: f64,
    words: Vec<Word<'a>>,
}

#[derive(Serialize)]
struct Word<'a> {
    word: &'a str,
    start: f64,
    end: f64,
    probability: f64,
}

/// The JSON text: one line per segment (and its words), so that a
/// transcript reads and diffs line by line.
pub fn render(file: &Transcribed) -> String {
    let segments = &file.transcript.segments;
    let text: String = segments.iter().map(|s| s.text.as_str()).collect();
    let mut out = format!("{{\"text\": {},\n \"segments\": [", json(&text));
    for (id, s) in segments.iter().enumerate() {
        out.push_str(if id == 0 { "\n  " } else { ",\n  " });
        out.push_str(&json(&Segment {
            id,
            start: s.start,
            end: s.end,
            text: &s.text,
            tokens: &s.tokens,
            temperature: s.temperature,
            avg_logprob: s.avg_logprob,
            compression_ratio: s.compression_ratio,
            no_speech_prob: s.no_speech_prob,
            words: s
                .words
                .iter()
                .map(|w| Word {
                    word: &w.word,
                    start: w.start,
                    end: w.end,
                    probability: w.probability,
                })
                .collect(),
        }));
    }
    if !segments.is_empty() {
        out.push_str("\n ");
    }
    out.push_str(&format!("],\n \"language\": {}}}\n", json(&file.language)));
    out
}

/// `v` as compact JSON.
fn json<T: Serialize + ?Sized>(v: &T) -> String {
    serde_json::to_string(v).expect("plain data serialises")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transcribe::test_transcript;

    #[test]
    fn keys_and_values_are_openai_whispers() {
        let file = test_transcript();
        let v: serde_json::Value = serde_json::from_str(&render(&file)).unwrap();
        let keys = |v: &serde_json::Value| -> Vec<String> {
            v.as_object().unwrap().keys().cloned().collect()
        };
        // serde_json's map is sorted; the order is checked on the text below.
        assert_eq!(keys(&v), ["language", "segments", "text"]);
        assert_eq!(v["text"], " Hello there. General Kenobi!");
        assert_eq!(v["language"], "en");
        let s = &v["segments"][1];
        assert_eq!(s["id"], 1);
        assert_eq!(s["start"], 1.5);
        assert_eq!(s["text"], " General Kenobi!");
        assert_eq!(s["temperature"], 0.2);
        assert_eq!(s["words"][1]["word"], " Kenobi!");
        assert_eq!(s["words"][1]["probability"], 0.75);
        let text = render(&file);
        let at = |k: &str| text.find(&format!("\"{k}\"")).unwrap();
        assert!(at("text") < at("segments") && at("segments") < at("language"));
        assert!(at("id") < at("start") && at("no_speech_prob") < at("words"));
    }

    #[test]
    fn emoscopes_reader_reads_it_back() {
        let file = test_transcript();
        let path = std::path::Path::new("x.json");
        let t = emoscope::transcript::whisper::parse(&render(&file), path).unwrap();
        let s = &t.segments()[1];
        assert_eq!(
            (s.start, s.end, s.text.as_str()),
            (1.5, 3.25, "General Kenobi!")
        );
        let w = &s.words[1];
        assert_eq!((w.start, w.end, w.text.as_str()), (2.25, 3.25, "Kenobi!"));
    }
}
