//! openai-whisper and WhisperX JSON output.
//!
//! Both write `{"segments": [{"start", "end", "text", "words"?}, …]}`; other
//! keys (`id`, `tokens`, `word_segments`, …) are ignored. WhisperX after
//! diarisation (`whisperx --diarize`) names a `speaker` on segments and
//! words: a segment's is its [`Speaker`](super::Speaker), else the one most
//! of its words name (a segment stays whole where its words change speaker). Word
//! entries are `{"word", "start"?, "end"?}`: openai-whisper
//! (`--word_timestamps True`) always times them, WhisperX leaves `start` and
//! `end` out for tokens its aligner could not place (numbers, symbols). Such a
//! word gets times by sharing the gap between its timed neighbours (or the
//! segment's edges) evenly with the other untimed words in that gap, so word
//! order and the segment's extent are kept and no time is invented outside it.

use std::path::Path;

use serde::Deserialize;

use super::error::{Location, ReadError};
use super::markup::collapse_whitespace;
use super::speakers::Names;
use super::{finish, Segment, Transcript, Word};

#[derive(Deserialize)]
struct Doc {
    segments: Vec<JsonSegment>,
}

#[derive(Deserialize)]
struct JsonSegment {
    start: f64,
    end: f64,
    #[serde(default)]
    text: String,
    #[serde(default)]
    words: Vec<JsonWord>,
    #[serde(default)]
    speaker: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct JsonWord {
    #[serde(alias = "text")]
    word: String,
    #[serde(default)]
    start: Option<f64>,
    #[serde(default)]
    end: Option<f64>,
    #[serde(default)]
    speaker: Option<serde_json::Value>,
}

/// A `speaker` value as a name: a string, or a number written as one.
fn speaker_name(v: &Option<serde_json::Value>) -> Option<String> {
    match v.as_ref()? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The segment's speaker, else the one most of its words name (the first
/// named of those tied).
fn segment_speaker(s: &JsonSegment) -> Option<String> {
    if let Some(name) = speaker_name(&s.speaker) {
        return Some(name);
    }
    let mut counts: Vec<(String, usize)> = Vec::new();
    for name in s.words.iter().filter_map(|w| speaker_name(&w.speaker)) {
        match counts.iter_mut().find(|(n, _)| *n == name) {
            Some((_, c)) => *c += 1,
            None => counts.push((name, 1)),
        }
    }
    let most = counts.iter().map(|c| c.1).max()?;
    counts.into_iter().find(|c| c.1 == most).map(|c| c.0)
}

/// Parses openai-whisper or WhisperX JSON read from `path` (named in errors).
pub fn parse(text: &str, path: &Path) -> Result<Transcript, ReadError> {
    let doc: Doc = serde_json::from_str(text).map_err(|e| {
        let location = if e.line() == 0 {
            Location::File
        } else {
            Location::Line {
                line: e.line(),
                column: Some(e.column()),
            }
        };
        ReadError::Syntax {
            path: path.to_owned(),
            location,
            expected: "whisper JSON: `{\"segments\": [{\"start\": s, \"end\": s, \"text\": …, \"words\"?: […]}]}`".into(),
            found: e.to_string(),
        }
    })?;
    let mut segments = Vec::with_capacity(doc.segments.len());
    let mut names = Names::default();
    for (i, s) in doc.segments.into_iter().enumerate() {
        let key = format!("segments[{i}]");
        check_span(path, &key, s.start, s.end)?;
        let words = timed_words(path, &key, &s)?;
        segments.push(Segment {
            start: s.start,
            end: s.end,
            text: collapse_whitespace(&s.text),
            words,
            speaker: segment_speaker(&s).and_then(|n| names.get(&n)),
        });
    }
    finish(path, segments)
}

fn check_span(path: &Path, key: &str, start: f64, end: f64) -> Result<(), ReadError> {
    if start < 0.0 {
        return Err(ReadError::syntax(
            path,
            Location::Key(format!("{key}.start")),
            "a time in seconds >= 0",
            &start.to_string(),
        ));
    }
    if end < start {
        return Err(ReadError::syntax(
            path,
            Location::Key(format!("{key}.end")),
            "an end time not before the start time",
            &format!("{end} (start {start})"),
        ));
    }
    Ok(())
}

/// The segment's words with every time filled in (see the module docs).
fn timed_words(path: &Path, key: &str, s: &JsonSegment) -> Result<Vec<Word>, ReadError> {
    let mut spans: Vec<Option<(f64, f64)>> = Vec::with_capacity(s.words.len());
    for (j, w) in s.words.iter().enumerate() {
        let span = match (w.start, w.end) {
            (Some(a), Some(b)) => {
                check_span(path, &format!("{key}.words[{j}]"), a, b)?;
                Some((a, b))
            }
            _ => None,
        };
        spans.push(span);
    }
    let mut j = 0;
    while j < spans.len() {
        if spans[j].is_some() {
            j += 1;
            continue;
        }
        // A run of untimed words j..k between the previous word's end (or the
        // segment start) and the next timed word's start (or the segment end).
        let k = (j..spans.len())
            .find(|&k| spans[k].is_some())
            .unwrap_or(spans.len());
        let from = if j == 0 {
            s.start
        } else {
            spans[j - 1].map_or(s.start, |p| p.1)
        };
        let to = spans
            .get(k)
            .copied()
            .flatten()
            .map_or(s.end, |n| n.0)
            .max(from);
        let step = (to - from) / (k - j) as f64;
        for (n, span) in spans[j..k].iter_mut().enumerate() {
            *span = Some((from + step * n as f64, from + step * (n + 1) as f64));
        }
        j = k;
    }
    Ok(join_pieces(s.words.iter().zip(spans).filter_map(
        |(w, span)| {
            let (start, end) = span?;
            Some((w.word.as_str(), start, end))
        },
    )))
}

/// Words from Whisper's word entries `(text, start, end)`, whitespace
/// collapsed. openai-whisper starts each word with its space, so an entry
/// without one continues the word before it (`" cold"`, `"-hearted"` is
/// "cold-hearted", spanning both); WhisperX writes no spaces at all, so
/// when no entry after the first starts with one, each entry is a word.
pub(crate) fn join_pieces<'a>(entries: impl IntoIterator<Item = (&'a str, f64, f64)>) -> Vec<Word> {
    let entries: Vec<(&str, f64, f64)> = entries.into_iter().collect();
    let spaced = entries
        .iter()
        .skip(1)
        .any(|(t, _, _)| t.starts_with(char::is_whitespace));
    let mut words: Vec<Word> = Vec::with_capacity(entries.len());
    for (raw, start, end) in entries {
        let text = collapse_whitespace(raw);
        if text.is_empty() {
            continue;
        }
        match words.last_mut() {
            Some(prev) if spaced && !raw.starts_with(char::is_whitespace) => {
                prev.text.push_str(&text);
                prev.end = prev.end.max(end);
            }
            _ => words.push(Word { start, end, text }),
        }
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> &'static Path {
        Path::new("talk.json")
    }

    #[test]
    fn openai_whisper_segments_and_words() {
        let json = r#"{"text": " Hello there.", "language": "en", "segments": [
            {"id": 0, "seek": 0, "start": 0.0, "end": 1.5, "text": " Hello there.", "tokens": [1, 2],
             "words": [{"word": " Hello", "start": 0.0, "end": 0.6, "probability": 0.9},
                       {"word": " there.", "start": 0.7, "end": 1.5, "probability": 0.8}]}]}"#;
        let t = parse(json, p()).unwrap();
        let s = &t.segments()[0];
        assert_eq!(
            (s.start, s.end, s.text.as_str()),
            (0.0, 1.5, "Hello there.")
        );
        assert_eq!(s.words.len(), 2);
        assert_eq!(
            (s.words[1].start, s.words[1].end, s.words[1].text.as_str()),
            (0.7, 1.5, "there.")
        );
    }

    /// openai-whisper's word pieces without a leading space continue the
    /// word before; WhisperX's words (no spaces at all) stay apart.
    #[test]
    fn pieces_without_a_space_join_the_word_before() {
        let doc = r#"{"segments": [{"start": 0.0, "end": 2.0, "text": " cold-hearted man",
             "words": [{"word": " cold", "start": 0.0, "end": 0.4},
                       {"word": "-hearted", "start": 0.4, "end": 0.9},
                       {"word": " man", "start": 1.0, "end": 1.4}]}]}"#;
        let t = parse(doc, p()).unwrap();
        let w = &t.segments()[0].words;
        assert_eq!(w.len(), 2);
        assert_eq!(
            (w[0].text.as_str(), w[0].start, w[0].end),
            ("cold-hearted", 0.0, 0.9)
        );
        assert_eq!(t.text_between(0.0, 2.0), "cold-hearted man");
        let x = r#"{"segments": [{"start": 0.0, "end": 1.0, "text": "a b",
             "words": [{"word": "a", "start": 0.0, "end": 0.4}, {"word": "b", "start": 0.5, "end": 0.9}]}]}"#;
        assert_eq!(parse(x, p()).unwrap().segments()[0].words.len(), 2);
    }

    #[test]
    fn whisperx_untimed_words_share_their_gap() {
        // "in" ends at 1.0, "2024" and "we" are untimed, "won" starts at 2.0:
        // the gap 1.0..2.0 is split in two: 1.0..1.5 and 1.5..2.0.
        // The untimed last word fills from "won"'s end (2.4) to the segment end (3.0).
        let json = r#"{"segments": [{"start": 0.5, "end": 3.0, "text": "in 2024 we won !", "speaker": "SPEAKER_00",
            "words": [{"word": "in", "start": 0.5, "end": 1.0, "score": 0.9},
                      {"word": "2024"}, {"word": "we", "start": 1.4},
                      {"word": "won", "start": 2.0, "end": 2.4}, {"word": "!"}]}],
            "word_segments": []}"#;
        let t = parse(json, p()).unwrap();
        let w: Vec<(f64, f64, &str)> = t.segments()[0]
            .words
            .iter()
            .map(|w| (w.start, w.end, w.text.as_str()))
            .collect();
        assert_eq!(
            w,
            vec![
                (0.5, 1.0, "in"),
                (1.0, 1.5, "2024"),
                (1.5, 2.0, "we"),
                (2.0, 2.4, "won"),
                (2.4, 3.0, "!")
            ]
        );
    }

    #[test]
    fn whisperx_speakers_name_the_segments() {
        // As `whisperx --diarize` writes it: a speaker on segments and words;
        // a segment without one takes the speaker most of its words name
        // (SPEAKER_01 twice, SPEAKER_00 once); numbers are names too.
        let json = r#"{"segments": [
            {"start": 0.0, "end": 1.0, "text": "hi", "speaker": "SPEAKER_00",
             "words": [{"word": "hi", "start": 0.0, "end": 1.0, "speaker": "SPEAKER_00"}]},
            {"start": 1.0, "end": 2.0, "text": "a b c",
             "words": [{"word": "a", "start": 1.0, "end": 1.2, "speaker": "SPEAKER_00"},
                       {"word": "b", "start": 1.2, "end": 1.5, "speaker": "SPEAKER_01"},
                       {"word": "c", "speaker": "SPEAKER_01"}]},
            {"start": 2.0, "end": 3.0, "text": "unassigned"},
            {"start": 3.0, "end": 4.0, "text": "seven", "speaker": 7}]}"#;
        let t = parse(json, p()).unwrap();
        let names: Vec<Option<&str>> = t
            .segments()
            .iter()
            .map(|s| s.speaker.as_ref().map(|v| v.as_str()))
            .collect();
        assert_eq!(
            names,
            vec![Some("SPEAKER_00"), Some("SPEAKER_01"), None, Some("7")]
        );
        // openai-whisper names no speaker.
        let plain = r#"{"segments": [{"start": 0.0, "end": 1.0, "text": "hi"}]}"#;
        assert_eq!(parse(plain, p()).unwrap().segments()[0].speaker, None);
    }

    #[test]
    fn errors_name_line_or_key() {
        let e = parse(
            "{\"segments\": [\n {\"start\": \"zero\", \"end\": 1}]}",
            p(),
        )
        .unwrap_err();
        match &e {
            ReadError::Syntax {
                location: Location::Line { line, .. },
                found,
                ..
            } => {
                assert_eq!(*line, 2);
                assert!(found.contains("invalid type"), "{found}");
            }
            e => panic!("{e:?}"),
        }
        let e = parse(
            r#"{"segments": [{"start": 0, "end": 1}, {"start": 3, "end": 2}]}"#,
            p(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("at `segments[1].end`"), "{e}");
        let e = parse(r#"{"segments": [{"start": 0, "end": 1, "words": [{"word": "a", "start": -1, "end": 0}]}]}"#, p())
            .unwrap_err();
        assert!(e.to_string().contains("segments[0].words[0].start"), "{e}");
        let e = parse(r#"{"text": "no segments"}"#, p()).unwrap_err();
        assert!(e.to_string().contains("missing field `segments`"), "{e}");
    }
}
