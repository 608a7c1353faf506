//! Fuzzes the STM transcript reader, as a transcript and as speaker turns
//! (the checks are in `src/lib.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    emoscope_fuzz::check_reader(data, "fuzz.stm", |text, path| {
        emoscope::transcript::stm::parse(text, path, None)
    });
    emoscope_fuzz::check_turns(data, "fuzz.stm", |text, path| {
        emoscope::transcript::stm::parse_turns(text, path, None)
    });
});
