//! The MIDI CC mapping of arousal, valence and dominance, shared by the
//! plugin's live CC output and the Standard MIDI File export, so that a file
//! dragged into a DAW lands on the same controllers the plugin drives.
//!
//! Defaults use controllers 20-22 (undefined in the MIDI 1.0 table, so no
//! synth reacts to them unasked) on channel 1, and for a categorical model's
//! category probabilities 23 onwards ([`default_category_cc`]). In 14-bit mode the value is
//! split into an MSB on the controller and an LSB on controller + 32, as the
//! MIDI specification pairs controllers 0-31 with 32-63. Values reach these
//! functions normalised by the model's range ([`OutputRange::normalise`](crate::OutputRange::normalise)).

/// Default controller numbers for arousal, valence and dominance.
pub const DEFAULT_CC: [u8; 3] = [20, 21, 22];

/// The default controller of a categorical model's `k`-th category (0-based,
/// below [`MAX_CATEGORIES`](crate::reading::MAX_CATEGORIES)): after the
/// dimensions', 23, 24, ... up to 38 for the 16th.
pub const fn default_category_cc(k: usize) -> u8 {
    DEFAULT_CC[2] + 1 + k as u8
}

/// Default MIDI channel, zero-based (channel 1 in a DAW's numbering).
pub const DEFAULT_CHANNEL: u8 = 0;

/// Offset from an MSB controller (0-31) to its LSB partner in 14-bit mode.
pub const LSB_OFFSET: u8 = 32;

/// A normalised value (0..=1) as a 7-bit controller value, rounded to nearest.
pub fn to_cc7(t: f32) -> u8 {
    (t.clamp(0.0, 1.0) * 127.0).round() as u8
}

/// A normalised value (0..=1) as a 14-bit controller value split into (MSB, LSB).
pub fn to_cc14(t: f32) -> (u8, u8) {
    let v = (t.clamp(0.0, 1.0) * 16383.0).round() as u16;
    ((v >> 7) as u8, (v & 0x7f) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::OutputRange;

    #[test]
    fn range_ends_map_to_controller_ends() {
        for range in [(0.0, 1.0), (1.0, 7.0), (-1.0, 1.0)].map(|(a, b)| OutputRange::new(a, b)) {
            assert_eq!(to_cc7(range.normalise(range.min)), 0);
            assert_eq!(to_cc7(range.normalise(range.max)), 127);
            assert_eq!(to_cc14(range.normalise(range.min)), (0, 0));
            assert_eq!(to_cc14(range.normalise(range.max)), (127, 127));
        }
    }

    #[test]
    fn out_of_range_and_nan_are_clamped() {
        assert_eq!(to_cc7(OutputRange::new(1.0, 7.0).normalise(9.0)), 127);
        assert_eq!(to_cc7(OutputRange::UNIT.normalise(-3.0)), 0);
        // Midpoint: 0.5 * 127 = 63.5 rounds to 64; 0.5 * 16383 = 8191.5 -> 8192 = 64 << 7.
        assert_eq!(to_cc7(OutputRange::UNIT.normalise(f32::NAN)), 64);
        assert_eq!(to_cc14(0.5), (64, 0));
    }

    #[test]
    fn fourteen_bit_msb_agrees_with_seven_bit_at_the_grid() {
        // At t = k / 127 the 14-bit value is k * 16383 / 127 = k * 129 exactly (16383 = 127 * 129),
        // whose MSB is (k * 129) >> 7 = k + (k >> 7) = k for k < 128.
        for k in 0..=127u8 {
            let t = f32::from(k) / 127.0;
            assert_eq!(to_cc14(t).0, to_cc7(t), "k = {k}");
        }
    }
}
