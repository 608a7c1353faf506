//! Fuzzes the srt transcript reader: arbitrary bytes must give a transcript or
//! a typed error, never a panic, and an accepted transcript keeps its invariants.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = std::path::Path::new("fuzz.srt");
    let Ok(text) = emoscope::transcript::decode_text(data, path) else {
        return;
    };
    if let Ok(t) = emoscope::transcript::srt::parse(&text, path) {
        emoscope_fuzz_check(&t);
    }
});

/// Every accepted transcript has sorted segments with finite, ordered spans.
fn emoscope_fuzz_check(t: &emoscope::transcript::Transcript) {
    let s = t.segments();
    assert!(s.windows(2).all(|w| w[0].start <= w[1].start));
    for seg in s {
        assert!(seg.start.is_finite() && seg.end.is_finite() && seg.start <= seg.end);
        for w in &seg.words {
            assert!(w.start.is_finite() && w.end.is_finite() && w.start <= w.end);
        }
    }
    let _ = t.text_between(0.0, 1.0e9);
}
