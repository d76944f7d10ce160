//! What a comparison measures, and when one fetch counts as slowed against
//! its controls: shared by the comparisons and the control pools.

use crate::analyze::base::AnalyzeOptions;
use crate::analyze::stats::evidence::binomial_sf;
use crate::analyze::stats::percentile;

/// What a comparison measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Rate,
    Total,
    Tls,
}

impl Kind {
    pub fn is_time(&self) -> bool {
        *self != Kind::Rate
    }
}

/// A time metric (total, TLS) only shows an *effect* when the target is also
/// this much slower in absolute terms. On fast paths the times are a few ms
/// and scheduling noise alone makes ratios like 1.2 ms vs 2.6 ms (0.45);
/// the throttling this looks for inflates by hundreds of ms (a 30 KB page at
/// 130 kbit/s takes ~1.8 s; the TLS inflation seen in Kazakhstan and Türkiye
/// was of that order).
pub const MIN_TIME_INFLATION_MS: f64 = 20.0;

/// A rate is *slowed* below this fraction of its controls' 10th percentile; a
/// time above `1/SLOWED_FRACTION` × their 90th percentile (and at least
/// [`MIN_TIME_INFLATION_MS`] above it). Half the p10: a control pool's own
/// spread rarely reaches it (measured by `control_slowed_share`), while the
/// 2021 policer put fetches 10–30× below the controls.
pub const SLOWED_FRACTION: f64 = 0.5;

/// Whether value `v` is slowed against sorted controls `c`.
pub fn slowed(kind: Kind, v: f64, c: &[f64]) -> bool {
    if kind.is_time() {
        let p90 = percentile(c, 0.9);
        v > p90 / SLOWED_FRACTION && v - p90 >= MIN_TIME_INFLATION_MS
    } else {
        v < SLOWED_FRACTION * percentile(c, 0.1)
    }
}

/// Fetches a side from which the e-values may decide in sequential mode
/// (see `super::sequential`): an e-value needs no minimum sample for its
/// validity. A smaller `min_n` given by the user wins.
pub const SEQ_MIN_N: usize = 3;

/// Fetches a side from which a row may be decided: `min_n`, or in
/// sequential mode [`SEQ_MIN_N`] (when smaller).
pub fn decide_min(o: &AnalyzeOptions) -> usize {
    if o.sequential {
        seq_min(o)
    } else {
        o.min_n
    }
}

/// Fetches a side the e-values need: [`SEQ_MIN_N`], or a smaller `min_n`.
fn seq_min(o: &AnalyzeOptions) -> usize {
    SEQ_MIN_N.min(o.min_n)
}

/// Whether a comparison has enough fetches for the e-values.
pub fn seq_enough(n: usize, n_c: usize, o: &AnalyzeOptions) -> bool {
    let m = seq_min(o);
    n >= m && n_c >= m
}

// The deep-slowdown test's definitions (the test itself: `super::deep`).

/// A fetch is deeply slowed below this fraction of its controls' median.
pub const DEEP_FRACTION: f64 = 0.1;

/// The least per-fetch probability of a deep slowdown assumed under "no
/// material throttle" (the clean path model, lossy paths included, stays
/// far below it: see the module doc).
pub const DEEP_EPS0: f64 = 0.05;

/// Deeply slowed fetches of a row and of its controls.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Deep {
    pub k: usize,
    pub n: usize,
    pub k_c: usize,
    pub n_c: usize,
}

impl Deep {
    /// The null's per-fetch probability of a deep slowdown.
    pub fn eps(&self) -> f64 {
        DEEP_EPS0.max((self.k_c as f64 + 1.0) / (self.n_c as f64 + 2.0))
    }

    /// The exact binomial p-value (None without fetches).
    pub fn p(&self) -> Option<f64> {
        (self.n > 0 && self.n_c > 0).then(|| binomial_sf(self.k, self.n, self.eps()))
    }
}

/// Whether value `v` is deeply slowed against a control median `m`.
pub fn deep(kind: Kind, v: f64, m: f64) -> bool {
    if kind.is_time() {
        v > m / DEEP_FRACTION && v - m >= MIN_TIME_INFLATION_MS
    } else {
        v < DEEP_FRACTION * m
    }
}
