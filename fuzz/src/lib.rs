//! What every fuzz target checks: arbitrary bytes, decoded as a transcript
//! (or speaker-turn) file and given to one reader, give a transcript (or
//! turns) or a typed error, never a panic, and what is accepted keeps its
//! invariants.

use std::path::Path;

use emoscope::transcript::{decode_text, SpeakerTurns, Transcript};

/// Decodes `data` as the file `name` and runs `parse` on it, checking the
/// transcript it accepts.
pub fn check_reader<E>(
    data: &[u8],
    name: &str,
    parse: impl Fn(&str, &Path) -> Result<Transcript, E>,
) {
    let path = Path::new(name);
    let Ok(text) = decode_text(data, path) else {
        return;
    };
    if let Ok(t) = parse(&text, path) {
        check_invariants(&t);
    }
}

/// Every accepted transcript has sorted segments with finite, ordered spans.
pub fn check_invariants(t: &Transcript) {
    let s = t.segments();
    assert!(s.windows(2).all(|w| w[0].start <= w[1].start));
    for seg in s {
        assert!(seg.start.is_finite() && seg.end.is_finite() && seg.start <= seg.end);
        for w in &seg.words {
            assert!(w.start.is_finite() && w.end.is_finite() && w.start <= w.end);
        }
    }
    for w in t.warnings() {
        let _ = w.to_string();
    }
    let _ = t.text_between(0.0, 1.0e9);
    check_turn_invariants(&t.speaker_turns());
}

/// Decodes `data` as the file `name` and runs the speaker-turn reader
/// `parse` on it, checking the turns it accepts.
pub fn check_turns<E>(
    data: &[u8],
    name: &str,
    parse: impl Fn(&str, &Path) -> Result<SpeakerTurns, E>,
) {
    let path = Path::new(name);
    let Ok(text) = decode_text(data, path) else {
        return;
    };
    if let Ok(t) = parse(&text, path) {
        check_turn_invariants(&t);
    }
}

/// Accepted turns are sorted, with finite, ordered spans and named speakers;
/// their overlaps and excluded stretches are finite, ordered and sorted.
pub fn check_turn_invariants(t: &SpeakerTurns) {
    let turns = t.turns();
    assert!(turns.windows(2).all(|w| w[0].span.start <= w[1].span.start));
    for turn in turns {
        let s = turn.span;
        assert!(s.start.is_finite() && s.end.is_finite() && s.start <= s.end);
        assert!(!turn.speaker.as_str().trim().is_empty());
        let _ = t.speakers_in(s);
    }
    for spans in [t.overlaps(), t.excluded().to_vec()] {
        assert!(spans.windows(2).all(|w| w[0].start <= w[1].start));
        assert!(spans
            .iter()
            .all(|s| s.start.is_finite() && s.start <= s.end));
    }
    let _ = t.speakers();
    for w in t.warnings() {
        let _ = w.to_string();
    }
}
