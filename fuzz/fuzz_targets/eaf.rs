//! Fuzzes the eaf transcript reader (the checks are in `src/lib.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    emoscope_fuzz::check_reader(data, "fuzz.eaf", |text, path| {
        emoscope::transcript::eaf::parse(text, path, None)
    });
});
