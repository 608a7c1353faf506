//! Batching by similar length: padded batches of similar-length
//! utterances waste little compute on padding.
//!
//! Each epoch, utterances are sorted by their length times a small random
//! jitter (so batch membership changes between epochs), cut into batches of
//! `size`, and the batches shuffled. Everything is drawn from
//! `(seed, epoch)` alone, so an epoch's batches can be recomputed when
//! training resumes.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Relative jitter applied to lengths before sorting (±10 %).
const JITTER: f64 = 0.1;

/// The batches of one epoch: indices into `lengths`. Every index appears
/// exactly once; a last batch smaller than `min_size` is merged into its
/// neighbour, since the CCC loss needs several utterances per batch.
pub fn epoch_batches(
    lengths: &[usize],
    size: usize,
    min_size: usize,
    seed: u64,
    epoch: usize,
) -> Vec<Vec<usize>> {
    let size = size.max(1);
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ (epoch as u64).wrapping_mul(0x9e37_79b9));
    let mut keyed: Vec<(f64, usize)> = lengths
        .iter()
        .enumerate()
        .map(|(i, &n)| (n as f64 * (1.0 + rng.random_range(-JITTER..=JITTER)), i))
        .collect();
    keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
    let order: Vec<usize> = keyed.into_iter().map(|(_, i)| i).collect();
    let mut batches: Vec<Vec<usize>> = order.chunks(size).map(<[usize]>::to_vec).collect();
    if batches.len() > 1 && batches.last().is_some_and(|b| b.len() < min_size) {
        let tail = batches.pop().unwrap_or_default();
        if let Some(prev) = batches.last_mut() {
            prev.extend(tail);
        }
    }
    batches.shuffle(&mut rng);
    batches
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_index_once_and_lengths_grouped() {
        let lengths: Vec<usize> = (0..103).map(|i| (i * 37) % 200 + 50).collect();
        let batches = epoch_batches(&lengths, 10, 4, 7, 0);
        let mut seen: Vec<usize> = batches.iter().flatten().copied().collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..103).collect::<Vec<_>>());
        // 103 = 10 · 10 + 3: the 3-item tail is merged, leaving 10 batches.
        assert_eq!(batches.len(), 10);
        // Sorted with ±10 % jitter, a batch's keys span a few units, so its lengths
        // differ by about the jitter (1.1 / 0.9 ≈ 1.22) plus the spacing of ~10 lengths
        // (≈ 20 units, 1.4 at the short end); 1.6 bounds both loosely. Unsorted batches
        // of ten would span most of 50..250 (ratios near 4).
        let spread: f64 = batches
            .iter()
            .map(|b| {
                let l: Vec<f64> = b.iter().map(|&i| lengths[i] as f64).collect();
                l.iter().cloned().fold(f64::MIN, f64::max)
                    / l.iter().cloned().fold(f64::MAX, f64::min)
            })
            .fold(0.0, f64::max);
        assert!(spread < 1.6, "{spread}");
        // The same (seed, epoch) gives the same batches; another epoch others.
        assert_eq!(batches, epoch_batches(&lengths, 10, 4, 7, 0));
        assert_ne!(batches, epoch_batches(&lengths, 10, 4, 7, 1));
    }
}
