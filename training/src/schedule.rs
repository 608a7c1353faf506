//! Learning-rate schedules: linear warm-up, then cosine or linear decay.

use serde::{Deserialize, Serialize};

/// How the rate falls after the warm-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decay {
    /// Half a cosine from the peak down to `floor · peak`.
    Cosine,
    /// A straight line from the peak down to `floor · peak`.
    Linear,
}

/// A warm-up + decay schedule over `total` optimiser steps.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    /// Peak learning rate, reached at the end of the warm-up.
    pub peak: f64,
    /// Warm-up steps (the rate rises linearly from `peak / warmup` to `peak`).
    pub warmup: usize,
    /// Total optimiser steps; the rate reaches its floor here and stays there.
    pub total: usize,
    /// Decay shape.
    pub decay: Decay,
    /// Final rate as a fraction of the peak.
    pub floor: f64,
}

impl Schedule {
    /// The learning rate of optimiser step `step` (0-based).
    pub fn rate(&self, step: usize) -> f64 {
        if step < self.warmup {
            return self.peak * (step + 1) as f64 / self.warmup as f64;
        }
        let span = self.total.saturating_sub(self.warmup).max(1) as f64;
        let progress = ((step - self.warmup) as f64 / span).min(1.0);
        let shape = match self.decay {
            Decay::Cosine => 0.5 * (1.0 + (std::f64::consts::PI * progress).cos()),
            Decay::Linear => 1.0 - progress,
        };
        self.peak * (self.floor + (1.0 - self.floor) * shape)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warmup_then_decay_by_hand() {
        let s = Schedule {
            peak: 1.0,
            warmup: 4,
            total: 14,
            decay: Decay::Linear,
            floor: 0.0,
        };
        // Warm-up: 1/4, 2/4, 3/4, 4/4.
        assert_eq!(
            (0..4).map(|i| s.rate(i)).collect::<Vec<_>>(),
            [0.25, 0.5, 0.75, 1.0]
        );
        // Linear over the 10 remaining steps: step 9 is half-way.
        assert!((s.rate(9) - 0.5).abs() < 1e-12);
        assert_eq!(s.rate(14), 0.0);
        assert_eq!(s.rate(100), 0.0);
        let c = Schedule {
            decay: Decay::Cosine,
            floor: 0.1,
            ..s
        };
        // Half-way through a cosine: shape 0.5, so 0.1 + 0.9 · 0.5.
        assert!((c.rate(9) - 0.55).abs() < 1e-12);
        assert!((c.rate(4) - 1.0).abs() < 1e-12);
        assert!((c.rate(14) - 0.1).abs() < 1e-12);
    }
}
