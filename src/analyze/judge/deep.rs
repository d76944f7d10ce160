//! The deep-slowdown binomial test (issue 22.1): power where the effect is
//! large, without assuming light tails.
//!
//! A rank test over 5 against 5 fetches cannot go below p = 1/252, and the
//! false discovery rate over a vantage's rows lifts that above 0.01: a
//! 10,000× throttle read `inconclusive`. A test that gets more from five
//! fetches must use the *size* of the effect — but a lossy long path makes
//! clean fetches of one object vary 3× (a loss in slow start halves the
//! window), so a test on log rates that assumes light tails would call that
//! a throttle. This test assumes no distribution, only a per-fetch rate of
//! 10× outliers:
//!
//! - a fetch is **deeply slowed** when its rate is below [`DEEP_FRACTION`]
//!   (0.1) × its controls' median (a time: above 10× the median and at least
//!   [`MIN_TIME_INFLATION_MS`] more). The 2021 policer was 10–30×; a clean
//!   lossy path varies ~3×;
//! - under "no material throttle" a fetch is deeply slowed with probability
//!   at most `eps` = max([`DEEP_EPS0`], (k_c + 1)/(n_c + 2)), the controls'
//!   own deep-slowed share with one pseudo-count: a path whose controls
//!   themselves fall 10× now and then raises the null;
//! - p = P(Bin(n, eps) ≥ k) for k of n target fetches deeply slowed.
//!
//! The row's p-value is then the smaller of the rank test's and this one,
//! times 2 (Bonferroni: each row is still one member of the vantage's FDR
//! family). `DEEP_EPS0` is checked against the synthetic path model, lossy
//! long paths included, in `tests/analyze_evidence.rs`.

use super::compare::{paired_min, Cmp, Stratum};
use super::kind::Kind;
pub use super::kind::{deep, Deep, DEEP_EPS0, DEEP_FRACTION};
use crate::analyze::base::verdict::Test;
use crate::analyze::base::AnalyzeOptions;

/// Count the deeply slowed fetches of the strata, each against its own
/// controls' median, and of each control pool (once) against itself.
///
/// Time-matched like the slowed share: when enough rounds pair up, only
/// target fetches of rounds that have control fetches count (a path ten
/// times slower every evening, with controls fetched only by day, is no
/// throttle).
pub fn count(kind: Kind, strata: &[Stratum], o: &AnalyzeOptions) -> Deep {
    let has_ctl =
        |s: &Stratum, k: u64| k != 0 && s.c.round_ln.binary_search_by(|x| x.0.cmp(&k)).is_ok();
    let mut rounds: Vec<u64> = strata
        .iter()
        .flat_map(|s| s.t.pairs.iter().copied().filter(|&k| has_ctl(s, k)))
        .collect();
    rounds.sort_unstable();
    rounds.dedup();
    let paired = rounds.len() >= paired_min(o);
    let mut d = Deep::default();
    let mut seen: Vec<u64> = Vec::new();
    for s in strata {
        let m = s.c.median;
        if m.is_nan() || m <= 0.0 || s.c.sorted.is_empty() {
            continue;
        }
        for (i, &v) in s.t.vals.iter().enumerate() {
            if paired && !has_ctl(s, s.t.pairs[i]) {
                continue;
            }
            d.n += 1;
            d.k += usize::from(deep(kind, v, m));
        }
        if !seen.contains(&s.c.id) {
            seen.push(s.c.id);
            d.n_c += s.c.sorted.len();
            d.k_c += s.c.sorted.iter().filter(|&&v| deep(kind, v, m)).count();
        }
    }
    d
}

impl Cmp {
    /// Add the deep-slowdown test to this comparison: p becomes twice the
    /// smaller of the two, and `test` names the one that gave it.
    pub fn add_deep(&mut self, d: Deep) {
        self.deep = Some(d);
        let Some(pd) = d.p() else { return };
        let pr = self.p.unwrap_or(1.0);
        if pd < pr {
            self.test = Test::DeepBinomial;
        }
        self.p = Some((2.0 * pd.min(pr)).min(1.0));
    }
}
