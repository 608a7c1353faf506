//! The editor's colours: one per dimension and per category for curves, and the colour scale
//! meters use for a normalised value (low = cool, high = warm).

use egui::Color32;

/// Curve colours for arousal, valence and dominance.
pub const DIMENSION: [Color32; 3] = [
    Color32::from_rgb(0xf2, 0x6b, 0x3a), // arousal: orange
    Color32::from_rgb(0x4f, 0xb3, 0xe8), // valence: sky blue
    Color32::from_rgb(0xb6, 0x8c, 0xf2), // dominance: violet
];

/// Category colours, in the model's label order (repeating after eight):
/// the history's probability curves and the category bars.
const CATEGORIES: [Color32; 8] = [
    Color32::from_rgb(0xf2, 0x6b, 0x3a), // orange
    Color32::from_rgb(0x4f, 0xb3, 0xe8), // sky blue
    Color32::from_rgb(0xb6, 0x8c, 0xf2), // violet
    Color32::from_rgb(0xf2, 0xd1, 0x3a), // yellow
    Color32::from_rgb(0x5f, 0xd9, 0x8a), // green
    Color32::from_rgb(0xf2, 0x7f, 0xb3), // rose
    Color32::from_rgb(0x9e, 0xe0, 0xe8), // ice
    Color32::from_rgb(0xd9, 0xa0, 0x6c), // tan
];

/// The colour of the category with index `k` (see [`CATEGORIES`]).
pub fn category(k: usize) -> Color32 {
    CATEGORIES[k % CATEGORIES.len()]
}

/// Speaker colours, in the order of the speakers' first turns (repeating
/// after eight): distinct from each other and from the dimension colours.
const SPEAKERS: [Color32; 8] = [
    Color32::from_rgb(0x3d, 0xd6, 0xa3), // mint
    Color32::from_rgb(0xf2, 0xc2, 0x3a), // amber
    Color32::from_rgb(0xe8, 0x6a, 0xb8), // pink
    Color32::from_rgb(0x8f, 0xd1, 0x4f), // lime
    Color32::from_rgb(0x5a, 0x8d, 0xf2), // blue
    Color32::from_rgb(0xd9, 0x8c, 0x5f), // clay
    Color32::from_rgb(0x9e, 0xe0, 0xe8), // ice
    Color32::from_rgb(0xc7, 0xc7, 0xc7), // grey
];

/// The colour of the speaker with index `k` (see [`SPEAKERS`]).
pub fn speaker(k: usize) -> Color32 {
    SPEAKERS[k % SPEAKERS.len()]
}

/// Stops of the value colour scale at t = 0, 0.25, 0.5, 0.75, 1.
const SCALE: [[u8; 3]; 5] = [
    [0x2c, 0x3e, 0x8f], // deep blue
    [0x21, 0x91, 0x8c], // teal
    [0x5e, 0xc9, 0x62], // green
    [0xfd, 0xd8, 0x35], // yellow
    [0xe8, 0x45, 0x3c], // red
];

/// The scale's colour at `t` (clamped to 0..=1), linearly interpolated between stops.
pub fn scale(t: f32) -> Color32 {
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.5
    };
    let x = t * (SCALE.len() - 1) as f32;
    let i = (x.floor() as usize).min(SCALE.len() - 2);
    let f = x - i as f32;
    let mix = |a: u8, b: u8| (f32::from(a) + (f32::from(b) - f32::from(a)) * f).round() as u8;
    let (a, b) = (SCALE[i], SCALE[i + 1]);
    Color32::from_rgb(mix(a[0], b[0]), mix(a[1], b[1]), mix(a[2], b[2]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_hits_its_stops_and_clamps() {
        assert_eq!(scale(0.0), Color32::from_rgb(0x2c, 0x3e, 0x8f));
        assert_eq!(scale(0.5), Color32::from_rgb(0x5e, 0xc9, 0x62));
        assert_eq!(scale(1.0), Color32::from_rgb(0xe8, 0x45, 0x3c));
        assert_eq!(scale(7.0), scale(1.0));
        assert_eq!(scale(-1.0), scale(0.0));
        // Halfway between the first two stops: (0x2c + 0x21) / 2 = 38.5 -> 39 (round half away).
        assert_eq!(scale(0.125).r(), 39);
    }
}
