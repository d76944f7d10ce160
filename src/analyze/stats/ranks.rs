//! Rank tests used by the verdicts:
//!
//! - [`Pool`]: a sorted sample with its tie term, so that many target samples
//!   can be tested against one control pool in `O(n_t log n_c)`;
//! - [`mann_whitney`]: one-sided Mann–Whitney U, normal approximation with
//!   continuity and tie correction (statrs for Φ), exact for small samples.

use statrs::distribution::{ContinuousCDF, Normal};

use crate::types::stats::{median, sort};

/// `Σ (t³ − t)` over the tie groups of an ascending slice.
fn tie_term(sorted: &[f64]) -> f64 {
    let mut t = 0.0;
    let mut i = 0;
    while i < sorted.len() {
        let mut j = i + 1;
        while j < sorted.len() && sorted[j] == sorted[i] {
            j += 1;
        }
        let c = (j - i) as f64;
        t += c * c * c - c;
        i = j;
    }
    t
}

/// A sorted sample (a control pool) prepared for repeated tests.
#[derive(Debug, Clone, Default)]
pub struct Pool {
    pub sorted: Vec<f64>,
    ties: f64,
}

impl Pool {
    pub fn new(mut values: Vec<f64>) -> Pool {
        sort(&mut values);
        let ties = tie_term(&values);
        Pool {
            sorted: values,
            ties,
        }
    }

    /// A pool from values already in ascending order.
    pub fn from_sorted(sorted: Vec<f64>) -> Pool {
        let ties = tie_term(&sorted);
        Pool { sorted, ties }
    }

    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }

    pub fn median(&self) -> f64 {
        median(&self.sorted)
    }

    /// The pool without the values of `remove` (an ascending sub-multiset).
    pub fn without(&self, remove: &[f64]) -> Pool {
        let mut out = Vec::with_capacity(self.sorted.len().saturating_sub(remove.len()));
        let mut j = 0;
        for &v in &self.sorted {
            if j < remove.len() && remove[j] == v {
                j += 1;
            } else {
                out.push(v);
            }
        }
        Pool::from_sorted(out)
    }
}

/// Which way the one-sided alternative points, for the target sample X.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alternative {
    /// X tends to be smaller than the pool (rates of a throttled target).
    Less,
    /// X tends to be larger (times of a throttled target).
    Greater,
}

/// One-sided Mann–Whitney U test of `x` (ascending) against `pool`.
///
/// `U_x = Σ_i #{y < x_i} + ½ #{y = x_i}`; under H0 `E[U] = nm/2` and
/// `Var[U] = nm/12 · ((N+1) − Σ(t³−t)/(N(N−1)))` with `t` the tie-group sizes
/// of the combined sample. The p-value is `Φ(z)` with a 0.5 continuity
/// correction toward the mean. Returns `None` when either side is empty; 1.0
/// when every value is tied.
pub fn mann_whitney(x: &[f64], pool: &Pool, alt: Alternative) -> Option<f64> {
    mann_whitney_ties(x, &pool.sorted, pool.ties, alt)
}

/// [`mann_whitney`] against an ascending slice `y` that is not a [`Pool`]
/// (no copy of a control pool shared by many rows).
pub fn mann_whitney_sorted(x: &[f64], y: &[f64], alt: Alternative) -> Option<f64> {
    mann_whitney_ties(x, y, tie_term(y), alt)
}

fn mann_whitney_ties(x: &[f64], y: &[f64], y_ties: f64, alt: Alternative) -> Option<f64> {
    let n = x.len();
    let m = y.len();
    if n == 0 || m == 0 {
        return None;
    }
    let mut u = 0.0;
    let mut ties = y_ties;
    let walk = (n as f64) * (m as f64).log2().max(1.0) > (n + m) as f64;
    let (mut lo, mut hi) = (0usize, 0usize);
    let mut cross_ties = false;
    let mut i = 0;
    while i < n {
        let v = x[i];
        let mut j = i + 1;
        while j < n && x[j] == v {
            j += 1;
        }
        let a = (j - i) as f64;
        // x is ascending, so the boundaries only move forward: walk them when
        // x is large relative to y (O(n + m)), binary-search otherwise.
        if walk {
            while lo < m && y[lo] < v {
                lo += 1;
            }
            hi = hi.max(lo);
            while hi < m && y[hi] <= v {
                hi += 1;
            }
        } else {
            lo += y[lo..].partition_point(|&w| w < v);
            hi = lo + y[lo..].partition_point(|&w| w <= v);
        }
        let b = (hi - lo) as f64;
        cross_ties |= hi > lo;
        u += a * (lo as f64 + 0.5 * b);
        let t = a + b;
        ties += (t * t * t - t) - (b * b * b - b);
        i = j;
    }
    // Ties within one sample leave U the same however they are broken; only
    // ties across the samples need the normal approximation's correction.
    if !cross_ties && n <= EXACT_MW_MAX && m <= EXACT_MW_MAX {
        return Some(exact_mw(n, m, u.round() as usize, alt));
    }
    let (nf, mf) = (n as f64, m as f64);
    let big_n = nf + mf;
    let mean = nf * mf / 2.0;
    let var = nf * mf / 12.0 * ((big_n + 1.0) - ties / (big_n * (big_n - 1.0)));
    if var <= 0.0 {
        return Some(1.0);
    }
    let sd = var.sqrt();
    let std_normal = Normal::new(0.0, 1.0).expect("valid normal");
    let p = match alt {
        Alternative::Less => std_normal.cdf((u - mean + 0.5) / sd),
        Alternative::Greater => std_normal.sf((u - mean - 0.5) / sd),
    };
    Some(p.clamp(0.0, 1.0))
}

/// Samples up to this size (each side, no tie across the samples) get the
/// exact Mann–Whitney
/// distribution: at 5 vs 5 the normal approximation gives 0.006 where the
/// exact p is 1/252 = 0.004 — the difference between significant and not
/// once several tests share a false-discovery budget.
pub const EXACT_MW_MAX: usize = 25;

type MwCache = std::cell::RefCell<std::collections::HashMap<(usize, usize), std::rc::Rc<Vec<f64>>>>;

/// Exact one-sided p of `U = u` for samples of `n` and `m` without ties:
/// the count of orderings with each U (the largest value is an x, adding m
/// to U, or a y, adding 0), over C(n+m, n).
fn exact_mw(n: usize, m: usize, u: usize, alt: Alternative) -> f64 {
    thread_local! {
        // Counts by U per (n, m): thousands of vantages ask for the same few.
        static CACHE: MwCache = Default::default();
    }
    let counts = CACHE.with(|c| {
        c.borrow_mut()
            .entry((n, m))
            .or_insert_with(|| std::rc::Rc::new(exact_mw_counts(n, m)))
            .clone()
    });
    let total: f64 = counts.iter().sum();
    let u = u.min(counts.len() - 1);
    let tail: f64 = match alt {
        Alternative::Less => counts[..=u].iter().sum(),
        Alternative::Greater => counts[u..].iter().sum(),
    };
    (tail / total).clamp(0.0, 1.0)
}

/// Orderings of n x's and m y's by U.
fn exact_mw_counts(n: usize, m: usize) -> Vec<f64> {
    // c[i][j] = counts by U for i x's and j y's; built row by row.
    let mut prev: Vec<Vec<f64>> = (0..=m).map(|_| vec![1.0]).collect(); // i = 0
    for i in 1..=n {
        let mut cur: Vec<Vec<f64>> = Vec::with_capacity(m + 1);
        cur.push(vec![1.0]); // j = 0
        for j in 1..=m {
            let mut v = vec![0.0; i * j + 1];
            for (k, &c) in prev[j].iter().enumerate() {
                v[k + j] += c; // largest is an x: beats all j y's
            }
            for (k, &c) in cur[j - 1].iter().enumerate() {
                v[k] += c; // largest is a y
            }
            cur.push(v);
        }
        prev = cur;
    }
    prev.swap_remove(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mw_matches_reference() {
        // scipy.stats.mannwhitneyu([1,2,3,4,5],[6,7,8,9,10],alternative='less',
        // method='exact') -> p = 1/252 = 0.003968
        let pool = Pool::new(vec![6.0, 7.0, 8.0, 9.0, 10.0]);
        let p = mann_whitney(&[1.0, 2.0, 3.0, 4.0, 5.0], &pool, Alternative::Less).unwrap();
        assert!((p - 1.0 / 252.0).abs() < 1e-12, "{p}");
        // [1,2,7,8] vs [3,4,5,6]: U = 8 (x>y pairs) -> exact P(U <= 8) = 39/70
        // (enumerating all 70 splits)
        let pool = Pool::new(vec![3.0, 4.0, 5.0, 6.0]);
        let p = mann_whitney(&[1.0, 2.0, 7.0, 8.0], &pool, Alternative::Less).unwrap();
        assert!((p - 39.0 / 70.0).abs() < 1e-12, "{p}");
        // Large samples keep the normal approximation: 30 vs 30 separated.
        let pool = Pool::new((30..60).map(|i| i as f64).collect());
        let x: Vec<f64> = (0..30).map(|i| i as f64).collect();
        assert!(mann_whitney(&x, &pool, Alternative::Less).unwrap() < 1e-9);
        let p = mann_whitney(&[1.0, 2.0, 3.0, 4.0, 5.0], &pool, Alternative::Greater).unwrap();
        assert!(p > 0.99);
        // With ties, by hand: U = 3, E = 10, Var = 20/12·(10 − 48/72) = 15.556,
        // z = (3 − 10 + 0.5)/3.944 = −1.648 -> p = 0.0497
        let pool = Pool::new(vec![2.0, 3.0, 3.0, 4.0, 5.0]);
        let p = mann_whitney(&[1.0, 2.0, 2.0, 3.0], &pool, Alternative::Less).unwrap();
        assert!((p - 0.0497).abs() < 1e-3, "{p}");
        let all_tied = Pool::new(vec![1.0; 5]);
        assert_eq!(
            mann_whitney(&[1.0; 5], &all_tied, Alternative::Less),
            Some(1.0)
        );
    }
}
