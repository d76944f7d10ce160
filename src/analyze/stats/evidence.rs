//! Exact binomial tools behind the effect-size test and the evidence of
//! absence (issue 22): the deep-slowdown binomial test ([`binomial_sf`]),
//! the one-sided upper bound of a share ([`share_upper`]), and how many
//! fetches would settle a share or a ratio at what was observed
//! ([`fetches_for_share`], [`fetches_for_ratio`]).

use statrs::distribution::{Binomial, DiscreteCDF};

/// `P(Bin(n, p) ≥ k)`: the p-value of `k` of `n` fetches deeply slowed
/// when each is so with probability at most `p` under "no material
/// throttle". 1 for `k = 0`.
pub fn binomial_sf(k: usize, n: usize, p: f64) -> f64 {
    if k == 0 || n == 0 {
        return 1.0;
    }
    if k > n {
        return 0.0;
    }
    match Binomial::new(p.clamp(0.0, 1.0), n as u64) {
        Ok(b) => b.sf(k as u64 - 1).clamp(0.0, 1.0),
        Err(_) => 1.0,
    }
}

/// One-sided exact (Clopper–Pearson) upper confidence bound of a share at
/// `level` (e.g. 0.95): the largest `p` with `P(Bin(n, p) ≤ k) ≥ 1 − level`.
/// The claim it serves is one-sided ("below 10%"), so the one-sided bound
/// is the right one; for `k = 0` it is `1 − (1 − level)^(1/n)`, below 10%
/// from 29 fetches on.
pub fn share_upper(k: usize, n: usize, level: f64) -> f64 {
    if n == 0 {
        return 1.0;
    }
    if k >= n {
        return 1.0;
    }
    let a = 1.0 - level;
    if k == 0 {
        return 1.0 - a.powf(1.0 / n as f64);
    }
    // P(Bin(n, p) ≤ k) falls as p grows: bisect (to 2^-30, well below the
    // percent the bound is read at; each step is one regularised beta).
    let (mut lo, mut hi) = (k as f64 / n as f64, 1.0);
    for _ in 0..30 {
        let mid = (lo + hi) / 2.0;
        let cdf = Binomial::new(mid, n as u64).map_or(0.0, |b| b.cdf(k as u64));
        if cdf >= a {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

/// One-sided exact lower bound of a share at `level` (0 for `k = 0`).
pub fn share_lower(k: usize, n: usize, level: f64) -> f64 {
    if k == 0 || n == 0 {
        return 0.0;
    }
    1.0 - share_upper(n - k, n, level)
}

/// The most fetches a settling estimate looks at: beyond this the answer is
/// "not with a plausible campaign".
pub const FETCHES_CAP: usize = 10_000;

/// Fewest fetches `m ≥ n` at which a share observed at `k/n` would be
/// settled: its upper bound below `limit` (absence), or — when the observed
/// share is at least `limit` — its lower bound above `limit` (presence).
/// `None` when the observed share sits so close to `limit` that no
/// plausible campaign settles it.
pub fn fetches_for_share(k: usize, n: usize, limit: f64, level: f64) -> Option<usize> {
    let p = if n == 0 { 0.0 } else { k as f64 / n as f64 };
    let settled = |m: usize| {
        let km = (p * m as f64).round() as usize;
        if p < limit {
            share_upper(km, m, level) < limit
        } else {
            share_lower(km, m, level) > limit
        }
    };
    let mut m = n.max(1);
    if settled(m) {
        return Some(m);
    }
    // Double, then bisect: the bound tightens (almost) monotonically in m.
    let mut hi = m;
    while !settled(hi) {
        if hi >= FETCHES_CAP {
            return None;
        }
        m = hi;
        hi = (hi * 2).min(FETCHES_CAP);
    }
    let mut lo = m;
    while hi - lo > 1 {
        let mid = (lo + hi) / 2;
        if settled(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Some(hi)
}

/// Fewest fetches at which a ratio observed with confidence interval
/// `ci` over `n` fetches would have its interval on one side of
/// `threshold`, the interval's log half-width shrinking as `√(n/m)`.
/// `Some(n)` when it already is; `None` when the ratio sits on the
/// threshold.
pub fn fetches_for_ratio(ratio: f64, ci: (f64, f64), n: usize, threshold: f64) -> Option<usize> {
    if !(ratio > 0.0 && ci.0 > 0.0 && ci.1 > 0.0 && n > 0) {
        return None;
    }
    let (lr, lt) = (ratio.ln(), threshold.ln());
    let gap = (lr - lt).abs();
    if gap < 1e-9 {
        return None;
    }
    // The half-width on the side that faces the threshold.
    let half = if lr > lt {
        lr - ci.0.ln()
    } else {
        ci.1.ln() - lr
    };
    if half < gap {
        return Some(n);
    }
    let m = (n as f64 * (half / gap).powi(2)).ceil();
    (m <= FETCHES_CAP as f64).then_some(m as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binomial_tail_matches_closed_forms() {
        // 5 of 5 at 0.05: 0.05^5.
        assert!((binomial_sf(5, 5, 0.05) - 0.05f64.powi(5)).abs() < 1e-15);
        // P(X ≥ 1) = 1 − 0.95^5
        assert!((binomial_sf(1, 5, 0.05) - (1.0 - 0.95f64.powi(5))).abs() < 1e-12);
        assert_eq!(binomial_sf(0, 5, 0.05), 1.0);
        // scipy.stats.binom.sf(2, 12, 0.1) -> 0.11087
        assert!((binomial_sf(3, 12, 0.1) - 0.110_87).abs() < 1e-4);
    }

    #[test]
    fn share_bounds_are_exact_one_sided() {
        // 0 of 29: 1 − 0.05^(1/29) = 0.0980 < 0.1; 0 of 28: 0.1014.
        assert!(share_upper(0, 29, 0.95) < 0.1);
        assert!(share_upper(0, 28, 0.95) > 0.1);
        // scipy: beta.ppf(0.95, 4, 9) -> 0.5273 (3 of 12, one-sided 95%)
        assert!((share_upper(3, 12, 0.95) - 0.5273).abs() < 1e-3);
        // beta.ppf(0.05, 3, 10) -> 0.0719
        assert!((share_lower(3, 12, 0.95) - 0.0719).abs() < 1e-3);
        // A 30% share over 12 fetches is never excluded, whatever fell.
        for k in 0..=12 {
            let up = share_upper(k, 12, 0.95);
            assert!(up > 0.1, "{k}/12: {up}");
        }
    }

    #[test]
    fn fetches_to_settle() {
        assert_eq!(fetches_for_share(0, 5, 0.1, 0.95), Some(29));
        assert_eq!(fetches_for_share(0, 40, 0.1, 0.95), Some(40));
        // 1 slowed in 20: about 5%, settled somewhere above 29.
        let m = fetches_for_share(1, 20, 0.1, 0.95).unwrap();
        assert!(m > 29 && m < 400, "{m}");
        // At the limit: never.
        assert_eq!(fetches_for_share(1, 10, 0.1, 0.95), None);
        // Presence: 6 of 10 slowed.
        assert!(fetches_for_share(6, 10, 0.1, 0.95).unwrap() <= 10);
        // Ratio 1.0 with CI 0.4–2.5 over 5: half-width ln 2.5 vs gap ln 2.
        let m = fetches_for_ratio(1.0, (0.4, 2.5), 5, 0.5).unwrap();
        assert_eq!(m, (5.0 * (2.5f64.ln() / 2f64.ln()).powi(2)).ceil() as usize);
        assert_eq!(fetches_for_ratio(1.0, (0.8, 1.2), 5, 0.5), Some(5));
    }
}
