//! Fuzzes the RTTM speaker-turn reader (the checks are in `src/lib.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    emoscope_fuzz::check_turns(data, "fuzz.rttm", |text, path| {
        emoscope::transcript::rttm::parse(text, path, None)
    });
});
