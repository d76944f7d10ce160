//! Planning a campaign: which URL is fetched when.
//!
//! Two decisions live here, both driven by a seed so a campaign can be replayed
//! exactly from its `campaign.json`:
//! - the fetch order inside each round ([`Plan::order`]), shuffled afresh every
//!   round so targets and controls interleave randomly — a fixed order would let
//!   a slowly varying path (congestion building up, a policer's token bucket, a
//!   time-of-day effect) masquerade as a difference between URLs;
//! - when each round starts ([`Schedule`]).

pub mod cost;
mod schedule;

pub use schedule::{Schedule, Until, DEFAULT_DECIDED_ROUNDS};

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

/// The per-round fetch order for `n_targets` URLs, reproducible from a seed.
///
/// Note: `StdRng` (rand 0.8, ChaCha12) is only guaranteed reproducible for the
/// same rand version, which `Cargo.lock` pins; the seed is recorded in
/// `campaign.json` alongside the slowlane version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    n_targets: usize,
    seed: u64,
}

/// Independent random streams derived from one seed (see [`Plan::round_rng`]).
const STREAM_ORDER: u64 = 0;
const STREAM_JITTER: u64 = 1;

impl Plan {
    pub fn new(n_targets: usize, seed: u64) -> Self {
        Plan { n_targets, seed }
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    pub fn n_targets(&self) -> usize {
        self.n_targets
    }

    /// A permutation of `0..n_targets` for `round`: the same for the same seed
    /// and round, different (almost always) from one round to the next.
    pub fn order(&self, round: u32) -> Vec<usize> {
        let mut v: Vec<usize> = (0..self.n_targets).collect();
        v.shuffle(&mut self.stream(round, STREAM_ORDER));
        v
    }

    /// An RNG for the jitter of `round`'s start (pass it to
    /// [`Schedule::round_start_offset`]). Separate from the order stream, so
    /// changing the jitter setting does not change the fetch order.
    pub fn round_rng(&self, round: u32) -> StdRng {
        self.stream(round, STREAM_JITTER)
    }

    fn stream(&self, round: u32, stream: u64) -> StdRng {
        // Mix round and stream through splitmix64 so neighbouring rounds get
        // unrelated seeds (StdRng::seed_from_u64 also scrambles, belt and braces).
        let r = splitmix64((u64::from(round) << 8) | stream);
        StdRng::seed_from_u64(splitmix64(self.seed ^ r))
    }
}

/// A fresh random seed for campaigns that set none. The seed actually used is
/// always recorded, so even an unseeded campaign can be replayed.
pub fn random_seed() -> u64 {
    rand::random()
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_is_reproducible_permutation() {
        let p = Plan::new(50, 42);
        let a = p.order(3);
        assert_eq!(a, Plan::new(50, 42).order(3));
        let mut s = a.clone();
        s.sort_unstable();
        assert_eq!(s, (0..50).collect::<Vec<_>>());
        assert_ne!(a, p.order(4));
        assert_ne!(a, Plan::new(50, 43).order(3));
    }

    #[test]
    fn empty_and_single() {
        assert!(Plan::new(0, 1).order(0).is_empty());
        assert_eq!(Plan::new(1, 1).order(7), vec![0]);
    }
}
