//! Figures: an annotation over time ([`timeline`], `emoscope plot`) and the
//! layer analysis ([`layers`], `emoscope layers`), drawn with plotters.
//!
//! The font they are drawn with: DejaVu Sans, embedded by the `dejavu`
//! crate and registered with plotters' ab_glyph backend, so PNGs render the
//! same on any machine without system fonts (no font-kit, no fontconfig).

pub mod layers;
pub mod timeline;

use std::sync::OnceLock;

use plotters::style::FontStyle;

/// The family name plots ask for.
pub const FAMILY: &str = "sans-serif";

/// Registers the font under [`FAMILY`] (once per process).
pub fn register() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        plotters::style::register_font(FAMILY, FontStyle::Normal, dejavu::sans::regular())
            .unwrap_or_else(|_| panic!("the embedded DejaVu Sans font is a valid TrueType font"));
    });
}
