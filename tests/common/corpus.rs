//! The synthetic corpus for the tests of training and of the corpus generator
//! (included with `#[path]` by the tests that need it: the runtime's tests do
//! not link `emoscope-training`).

use std::path::{Path, PathBuf};

/// The CI-size synthetic corpus (seed 2023), generated once per test binary
/// under cargo's target tmp directory. Needs espeak-ng and sox.
pub fn ci_corpus() -> &'static Path {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("corpus-ci-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        emoscope_training::corpus::generate(
            &dir,
            2023,
            emoscope_training::corpus::CorpusSize::CI,
            0,
        )
        .expect("generating the CI corpus (needs espeak-ng and sox)");
        dir
    })
}
