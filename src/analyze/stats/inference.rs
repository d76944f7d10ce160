//! The tests and intervals behind `paired`, `partial` and `q_value`
//! (Mann–Whitney lives in [`super::ranks`], the bootstrap in [`super::bootstrap`]):
//!
//! - [`signed_rank`]: one-sided Wilcoxon signed-rank test of per-round log
//!   ratios (exact distribution for small samples without ties, normal
//!   approximation with tie correction otherwise);
//! - [`fisher_greater`]: one-sided Fisher exact test of two proportions
//!   (hypergeometric tail, statrs);
//! - [`wilson`]: 95% Wilson score interval of a proportion — unlike the
//!   normal (Wald) interval it stays inside [0, 1] and does not collapse to
//!   a point when the share is 0 or 1, which small shares and small n give;
//! - [`benjamini_hochberg`]: q-values controlling the false discovery rate
//!   over the tests made at one vantage.

use statrs::distribution::{ContinuousCDF, DiscreteCDF, Hypergeometric, Normal};

pub use crate::types::stats::median_of;

/// Above this many non-zero differences the signed-rank p-value uses the
/// normal approximation; below, the exact distribution (2^n sign patterns).
const EXACT_MAX_N: usize = 60;

/// One-sided Wilcoxon signed-rank p-value that the differences `d` tend to
/// be negative (`less = true`) or positive. Zeros are dropped (Wilcoxon's
/// convention); NaN values are ignored. `None` when no non-zero difference
/// is left.
pub fn signed_rank(d: &[f64], less: bool) -> Option<f64> {
    let mut v: Vec<f64> = d
        .iter()
        .copied()
        .filter(|x| !x.is_nan() && *x != 0.0)
        .collect();
    let n = v.len();
    if n == 0 {
        return None;
    }
    // Ranks of |d| (mid-ranks for ties); W+ = rank sum of positive values.
    v.sort_unstable_by(|a, b| a.abs().total_cmp(&b.abs()));
    let mut w_plus = 0.0;
    let mut ties = 0.0;
    let mut i = 0;
    while i < n {
        let mut j = i + 1;
        while j < n && v[j].abs() == v[i].abs() {
            j += 1;
        }
        let rank = (i + j + 1) as f64 / 2.0; // mean of ranks i+1..=j
        let t = (j - i) as f64;
        ties += t * t * t - t;
        for x in &v[i..j] {
            if *x > 0.0 {
                w_plus += rank;
            }
        }
        i = j;
    }
    let nf = n as f64;
    if ties == 0.0 && n <= EXACT_MAX_N {
        // Integer ranks: count sign patterns by rank sum (once per n and
        // thread: O(n³), and every paired row of a 50-round campaign asks).
        let count = sign_pattern_counts(n);
        let total: f64 = 2f64.powi(n as i32);
        let w = w_plus.round() as usize;
        let tail: f64 = if less {
            count[..=w].iter().sum()
        } else {
            count[w..].iter().sum()
        };
        return Some((tail / total).clamp(0.0, 1.0));
    }
    let mean = nf * (nf + 1.0) / 4.0;
    let var = nf * (nf + 1.0) * (2.0 * nf + 1.0) / 24.0 - ties / 48.0;
    if var <= 0.0 {
        return Some(1.0);
    }
    let z = if less {
        (w_plus - mean + 0.5) / var.sqrt()
    } else {
        (w_plus - mean - 0.5) / var.sqrt()
    };
    let std_normal = Normal::new(0.0, 1.0).expect("valid normal");
    let p = if less {
        std_normal.cdf(z)
    } else {
        std_normal.sf(z)
    };
    Some(p.clamp(0.0, 1.0))
}

/// How many of the 2^n sign patterns of ranks 1..=n have each rank sum.
fn sign_pattern_counts(n: usize) -> std::rc::Rc<Vec<f64>> {
    type Cache = std::cell::RefCell<std::collections::HashMap<usize, std::rc::Rc<Vec<f64>>>>;
    thread_local! {
        static CACHE: Cache = Default::default();
    }
    CACHE.with(|c| {
        c.borrow_mut()
            .entry(n)
            .or_insert_with(|| {
                let max = n * (n + 1) / 2;
                let mut count = vec![0f64; max + 1];
                count[0] = 1.0;
                for r in 1..=n {
                    for s in (r..=max).rev() {
                        count[s] += count[s - r];
                    }
                }
                std::rc::Rc::new(count)
            })
            .clone()
    })
}

/// One-sided Fisher exact p-value that `k1` of `n1` is a larger proportion
/// than `k2` of `n2`: `P(X ≥ k1)` for X hypergeometric with the margins fixed.
pub fn fisher_greater(k1: usize, n1: usize, k2: usize, n2: usize) -> Option<f64> {
    if n1 == 0 || n2 == 0 {
        return None;
    }
    if k1 == 0 {
        return Some(1.0);
    }
    let h = Hypergeometric::new((n1 + n2) as u64, (k1 + k2) as u64, n1 as u64).ok()?;
    Some(h.sf(k1 as u64 - 1).clamp(0.0, 1.0))
}

/// 95% Wilson score interval of `k` successes in `n`.
pub fn wilson(k: usize, n: usize) -> Option<(f64, f64)> {
    if n == 0 {
        return None;
    }
    let z = 1.959_963_984_540_054_f64;
    let nf = n as f64;
    let p = k as f64 / nf;
    let denom = 1.0 + z * z / nf;
    let centre = (p + z * z / (2.0 * nf)) / denom;
    let half = z * (p * (1.0 - p) / nf + z * z / (4.0 * nf * nf)).sqrt() / denom;
    Some(((centre - half).max(0.0), (centre + half).min(1.0)))
}

/// Benjamini–Hochberg q-values of `p` (same order): `q_(i) = min_{j ≥ i}
/// p_(j)·m/j` over the ascending p-values, capped at 1.
pub fn benjamini_hochberg(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_unstable_by(|&a, &b| p[a].total_cmp(&p[b]));
    let mut q = vec![1.0; m];
    let mut running = 1.0f64;
    for (rank, &i) in order.iter().enumerate().rev() {
        let v = (p[i] * m as f64 / (rank + 1) as f64).min(1.0);
        running = running.min(v);
        q[i] = running;
    }
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_rank_matches_scipy() {
        // scipy.stats.wilcoxon([-1,-2,-3,-4,-5,-6,-7], alternative='less') -> 0.0078125
        let d: Vec<f64> = (1..=7).map(|i| -(i as f64)).collect();
        assert!((signed_rank(&d, true).unwrap() - 0.0078125).abs() < 1e-12);
        assert!(signed_rank(&d, false).unwrap() > 0.99);
        // [-3,-1,2,-4,-5,-6]: W+ = 2 (rank of 2), exact P(W+ <= 2) = 3/64 ({}, {1}, {2})
        let d = [-3.0, -1.0, 2.0, -4.0, -5.0, -6.0];
        assert!((signed_rank(&d, true).unwrap() - 3.0 / 64.0).abs() < 1e-12);
        assert_eq!(signed_rank(&[0.0, 0.0], true), None);
    }

    #[test]
    fn fisher_and_wilson() {
        // scipy.stats.fisher_exact([[6,14],[0,20]], alternative='greater') -> 0.010098
        let p = fisher_greater(6, 20, 0, 20).unwrap();
        assert!((p - 0.010_098).abs() < 1e-5, "{p}");
        assert_eq!(fisher_greater(0, 20, 3, 20), Some(1.0));
        let (lo, hi) = wilson(6, 20).unwrap();
        // statsmodels proportion_confint(6, 20, method='wilson') -> (0.1455, 0.5190)
        assert!((lo - 0.1455).abs() < 1e-3 && (hi - 0.5190).abs() < 1e-3);
        let (lo, hi) = wilson(0, 10).unwrap();
        assert_eq!(lo, 0.0);
        assert!(hi > 0.2 && hi < 0.35);
    }

    #[test]
    fn bh_q_values() {
        // R: p.adjust(c(0.01, 0.04, 0.03, 0.005), "BH") -> 0.02 0.04 0.04 0.02
        let q = benjamini_hochberg(&[0.01, 0.04, 0.03, 0.005]);
        let want = [0.02, 0.04, 0.04, 0.02];
        for (a, b) in q.iter().zip(want) {
            assert!((a - b).abs() < 1e-12, "{q:?}");
        }
    }
}
