//! What every fuzz target checks: arbitrary bytes, decoded as a transcript
//! file and given to one reader, give a transcript or a typed error, never a
//! panic, and an accepted transcript keeps its invariants.

use std::path::Path;

use emoscope::transcript::{decode_text, Transcript};

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
}
