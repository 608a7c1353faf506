//! Fuzzes the textgrid transcript reader, text and binary forms (the checks
//! are in `src/lib.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    emoscope_fuzz::check_reader(data, "fuzz.TextGrid", |text, path| {
        emoscope::transcript::textgrid::parse(text, path, None)
    });
    // Praat's binary form, from the raw bytes (with the signature put in front
    // so the fuzzer need not find it).
    let path = std::path::Path::new("fuzz.TextGrid");
    let mut bytes = b"ooBinaryFile\x08TextGrid".to_vec();
    bytes.extend_from_slice(data);
    for input in [data, &bytes[..]] {
        if let Ok(grid) = emoscope::transcript::textgrid::parse_binary_grid(input, path) {
            if let Ok(t) = emoscope::transcript::textgrid::transcript(&grid, path, None) {
                emoscope_fuzz::check_invariants(&t);
            }
        }
    }
});
