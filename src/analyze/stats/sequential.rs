//! Anytime-valid evidence for campaigns that look after every round and
//! stop when decided (issue 22.3). A p-value is valid at one pre-declared
//! sample size; looked at after every round, a test at alpha 0.01 fires
//! falsely far more often than 1%. An **e-process** — here a likelihood
//! ratio, a nonnegative supermartingale under the null — may be looked at
//! whenever one likes: by Ville's inequality `P(sup_t E_t ≥ 1/a) ≤ a`.
//!
//! - [`excess_e`]: "more than a share `eps` of fetches are slowed" — a
//!   mixture of likelihood ratios over a partial and a full throttle;
//! - [`absence_e`]: "fewer than `limit` are slowed" — the evidence `ok`
//!   needs, the mirror image;
//! - [`e_bh`]: e-BH (Wang & Ramdas 2022), the false discovery rate over a
//!   vantage's rows from their e-values, valid under any dependence (the
//!   rows of a vantage share their controls).
//!
//! Fetches are exchangeable within a row, so each likelihood ratio depends
//! only on the counts `(k, n)`: the value after the last round is the
//! process's current value, whatever the order the fetches came in.

/// Alternatives of [`excess_e`]: a partial throttle of a third of the
/// fetches, most of them, nearly all (equal weights).
pub const EXCESS_ALTERNATIVES: [f64; 3] = [0.3, 0.6, 0.9];

/// ln of the likelihood ratio of `k` of `n` under `p1` against `p0`.
fn ln_lr(k: usize, n: usize, p1: f64, p0: f64) -> f64 {
    let (k, m) = (k as f64, (n - k.min(n)) as f64);
    let a = if k > 0.0 { k * (p1 / p0).ln() } else { 0.0 };
    let b = if m > 0.0 {
        m * ((1.0 - p1) / (1.0 - p0)).ln()
    } else {
        0.0
    };
    a + b
}

/// E-value against "each fetch is slowed with probability at most `eps`",
/// after `k` of `n` fetches were: the mean of the likelihood ratios of
/// [`EXCESS_ALTERNATIVES`] above `eps`. Each ratio's expected factor per
/// fetch is ≤ 1 for every null share ≤ `eps`, so the mean is an e-process
/// for the whole composite null.
pub fn excess_e(k: usize, n: usize, eps: f64) -> f64 {
    let eps = eps.clamp(1e-9, 1.0 - 1e-9);
    let alts: Vec<f64> = EXCESS_ALTERNATIVES
        .iter()
        .copied()
        .filter(|&p| p > eps)
        .collect();
    if alts.is_empty() || k > n {
        return 1.0;
    }
    let s: f64 = alts.iter().map(|&p| ln_lr(k, n, p, eps).exp()).sum();
    // Weights 1/3 each; an alternative at or below eps has weight 1 × 1.
    (s + (EXCESS_ALTERNATIVES.len() - alts.len()) as f64) / EXCESS_ALTERNATIVES.len() as f64
}

/// Weight of "no fetch slowed at all" in [`absence_e`]; the rest goes to
/// a small share ([`ABSENCE_SMALL`]), so one unlucky fetch delays `ok`
/// rather than forbidding it. Half and half: 0 slowed of 31 fetches or 1
/// of 64 decide (0.8/0.2 took 30 and 74). Real and lab paths alike show a
/// clean 30 KB fetch "slowed" now and then (a 45 ms fetch among 14 ms
/// ones), and 64 fetches of 30 KB still fit a 2 MB budget.
pub const ABSENCE_NONE_WEIGHT: f64 = 0.5;
/// The small slowed share of [`absence_e`]'s second alternative.
pub const ABSENCE_SMALL: f64 = 0.02;

/// E-value against "at least a share `limit` of fetches is slowed" after
/// `k` of `n` were: a mixture of the likelihood ratios of no slowed fetch
/// (weight [`ABSENCE_NONE_WEIGHT`]) and of [`ABSENCE_SMALL`] against
/// `limit`. Per fetch each ratio's expected factor is ≤ 1 for every true
/// share ≥ `limit`. At level 0.05 (E ≥ 20) 0 slowed fetches of 31 suffice, or 1 of 64.
pub fn absence_e(k: usize, n: usize, limit: f64) -> f64 {
    let limit = limit.clamp(1e-9, 1.0 - 1e-9);
    let none = if k == 0 {
        ABSENCE_NONE_WEIGHT * (n as f64 * (1.0 / (1.0 - limit)).ln()).exp()
    } else {
        0.0
    };
    let small = (1.0 - ABSENCE_NONE_WEIGHT) * ln_lr(k, n, ABSENCE_SMALL, limit).exp();
    none + small
}

/// The anytime-valid upper confidence bound of a slowed share at level
/// `1 − a` (issue 22.2): the largest `p` that [`absence_e`] has not
/// rejected, `absence_e(k, n, p) < 1/a`. Above the observed share `k/n`
/// the e-value grows with `p` (each likelihood ratio against `p` does), so
/// the bound is a bisection there; it is below a limit exactly when
/// `absence_e` at that limit reaches `1/a`. Wider than the fixed-n
/// [`super::evidence::share_upper`]: it holds at every look.
pub fn absence_upper(k: usize, n: usize, a: f64) -> f64 {
    if n == 0 || k >= n {
        return 1.0;
    }
    let reject = |p: f64| absence_e(k, n, p) >= 1.0 / a;
    let mut lo = k as f64 / n as f64;
    let mut hi = 1.0 - 1e-9;
    if !reject(hi) {
        return 1.0;
    }
    // to 2^-30: far below the percent the bound is read at.
    for _ in 0..30 {
        let mid = (lo + hi) / 2.0;
        if reject(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    lo
}

/// The share of `total` an alpha-spending plan gives look `k` (1-based):
/// `total · 6/(π² k²)`, whose sum over all `k` is `total`. A test run at
/// `alpha_k` at each look errs at some look with probability at most
/// `total` (a union bound: no independence between looks needed).
pub fn spent_alpha(total: f64, k: usize) -> f64 {
    let k = k.max(1) as f64;
    total * 6.0 / (std::f64::consts::PI.powi(2) * k * k)
}

/// A ratio's lower confidence bound moved from one-sided level `a0` to
/// `a1`: the interval read as a normal on the log scale, its lower
/// half-width `ln(ratio / lo)` scaled by `z(1 − a1) / z(1 − a0)`. How the
/// anytime-valid `ok` widens the (fixed-n, bootstrap) 95% interval at each
/// look without a second resampling.
pub fn widened_lower(ratio: f64, lo: f64, a0: f64, a1: f64) -> f64 {
    use statrs::distribution::{ContinuousCDF, Normal};
    if !(ratio > 0.0 && lo > 0.0 && lo <= ratio) {
        return lo.min(ratio);
    }
    let z = Normal::new(0.0, 1.0).expect("valid normal");
    let scale = z.inverse_cdf(1.0 - a1) / z.inverse_cdf(1.0 - a0);
    ratio * (lo / ratio).powf(scale.max(1.0))
}

/// e-BH at level `alpha`: reject the `k` largest e-values, `k` the largest
/// with `e_(k) ≥ m / (alpha·k)` (e sorted descending). Controls the false
/// discovery rate at `alpha` under arbitrary dependence.
pub fn e_bh(e: &[f64], alpha: f64) -> Vec<bool> {
    let m = e.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_unstable_by(|&a, &b| e[b].total_cmp(&e[a]));
    let mut k = 0;
    for (i, &j) in order.iter().enumerate() {
        if e[j] >= m as f64 / (alpha * (i + 1) as f64) {
            k = i + 1;
        }
    }
    let mut out = vec![false; m];
    for &j in &order[..k] {
        out[j] = true;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::{Rng, SeedableRng};

    #[test]
    fn blatant_five_of_five_is_overwhelming() {
        // 5 of 5 deeply slowed against eps 1/7 (no deep control of 5).
        let e = excess_e(5, 5, 1.0 / 7.0);
        // Past e-BH's 1/alpha·m for a family of up to 37 rows at alpha 0.01.
        assert!(e > 3_700.0, "{e}");
        assert!(excess_e(0, 5, 0.05) < 1.0);
        assert_eq!(excess_e(3, 5, 0.95), 1.0);
    }

    #[test]
    fn absence_needs_about_thirty_clean_fetches() {
        let first = (1..100).find(|&n| absence_e(0, n, 0.1) >= 20.0).unwrap();
        assert_eq!(first, 31);
        // One slowed fetch delays it, does not forbid it.
        let one = (1..1000).find(|&n| absence_e(1, n, 0.1) >= 20.0).unwrap();
        assert_eq!(one, 64);
        // A 30% share is never "absent" at 12 fetches, whatever fell.
        for k in 0..=12 {
            assert!(absence_e(k, 12, 0.1) < 20.0);
        }
    }

    #[test]
    fn absence_upper_inverts_the_e_process() {
        // Below 10% exactly when the e-process rejects 10%.
        for n in [5, 12, 25, 29, 30, 31, 60, 120] {
            for k in 0..4 {
                let up = absence_upper(k, n, 0.05);
                let e = absence_e(k, n, 0.1);
                assert_eq!(up < 0.1, e >= 20.0, "{k}/{n}: {up} vs e {e}");
                // Never tighter than the fixed-n exact bound.
                let cp = crate::analyze::stats::evidence::share_upper(k, n, 0.95);
                assert!(up >= cp - 1e-9, "{k}/{n}: {up} < {cp}");
            }
        }
        // 0 of 25: the fixed bound is 11%, the anytime one above it and
        // still above 10% (the anytime test needs 31).
        assert!(absence_upper(0, 25, 0.05) > 0.1);
        assert!(absence_upper(0, 30, 0.05) > 0.1);
        assert!(absence_upper(0, 31, 0.05) < 0.1);
        assert_eq!(absence_upper(3, 3, 0.05), 1.0);
    }

    #[test]
    fn spending_sums_to_the_total() {
        let s: f64 = (1..200_000).map(|k| spent_alpha(0.05, k)).sum();
        assert!((s - 0.05).abs() < 1e-6, "{s}");
        assert!(spent_alpha(0.05, 2) < spent_alpha(0.05, 1));
        // Same level: unchanged; smaller alpha: lower.
        assert!((widened_lower(1.0, 0.6, 0.025, 0.025) - 0.6).abs() < 1e-12);
        let w = widened_lower(1.0, 0.6, 0.025, spent_alpha(0.05, 10));
        assert!(w < 0.6 && w > 0.3, "{w}");
    }

    #[test]
    fn e_bh_matches_its_definition() {
        // m = 4, alpha 0.1: thresholds 40, 20, 13.3, 10 for k = 1..4.
        assert_eq!(
            e_bh(&[50.0, 1.0, 21.0, 0.5], 0.1),
            vec![true, false, true, false]
        );
        assert_eq!(e_bh(&[39.0, 1.0, 1.0, 1.0], 0.1), vec![false; 4]);
        assert!(e_bh(&[], 0.1).is_empty());
    }

    /// Ville: under the null, the running e-process crosses 1/a with
    /// probability at most a, looked at after every fetch. Seeded, 4,000
    /// sequences of 200 fetches at the null's edge; tolerance: the bound a
    /// plus three binomial standard errors.
    #[test]
    fn looking_after_every_fetch_stays_within_level() {
        let mut rng = SmallRng::seed_from_u64(22);
        let (runs, a) = (4_000, 0.05);
        let (mut excess, mut absence) = (0, 0);
        for _ in 0..runs {
            let (mut k1, mut k2) = (0, 0);
            let (mut hit1, mut hit2) = (false, false);
            for n in 1..=200 {
                k1 += usize::from(rng.gen::<f64>() < 0.1);
                k2 += usize::from(rng.gen::<f64>() < 0.1);
                hit1 |= excess_e(k1, n, 0.1) >= 1.0 / a;
                hit2 |= absence_e(k2, n, 0.1) >= 1.0 / a;
            }
            excess += usize::from(hit1);
            absence += usize::from(hit2);
        }
        let tol = runs as f64 * a + 3.0 * (runs as f64 * a * (1.0 - a)).sqrt();
        assert!((excess as f64) <= tol, "excess {excess}/{runs}");
        assert!((absence as f64) <= tol, "absence {absence}/{runs}");
    }
}
