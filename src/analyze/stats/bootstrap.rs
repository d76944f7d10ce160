//! Seeded percentile bootstrap of a ratio of medians ([`bootstrap_medians`],
//! [`ratio_ci`]) and its exact order-statistic form for small samples
//! ([`median_atoms`], [`exact_ratio_ci`]).

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::types::stats::{interp_by, percentile, select_median, sort};

type CdfCache =
    std::cell::RefCell<std::collections::HashMap<usize, std::rc::Rc<(Vec<f64>, Vec<f64>)>>>;

/// Bootstrap replicates per sample.
pub const BOOTSTRAP_B: usize = 1000;
/// Above this sample size the bootstrap median is drawn from its asymptotic
/// distribution instead of resampling `n` values (see [`bootstrap_medians`]).
pub const RESAMPLE_MAX_N: usize = 1000;

/// A reproducible RNG seed from the user seed and a key (FNV-1a), so that a
/// row's bootstrap does not depend on which other rows or vantages are analysed.
pub fn seed_for(seed: u64, parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
    for p in parts {
        for &b in p.iter() {
            h ^= b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// `BOOTSTRAP_B` bootstrap replicates of the median of an ascending sample.
///
/// For `n ≤ RESAMPLE_MAX_N` each replicate resamples `n` values with
/// replacement. Above that the median of a resample is drawn directly from its
/// large-sample distribution: the resample median is the order statistic at
/// 0-based position `(n−1)/2 + Z·√n/2`, `Z ~ N(0,1)` (the count of resampled
/// values below `x_(k)` is Binomial(n, k/n)), which costs O(1) per replicate.
pub fn bootstrap_medians(sorted: &[f64], seed: u64) -> Vec<f64> {
    bootstrap_medians_by(sorted.len(), |i| sorted[i], seed)
}

/// [`bootstrap_medians`] of the ascending sequence of `n` values `at(0..n)`:
/// a sample known by position, too large to write out (a host row's
/// controls, one pool counted once per URL of the host).
pub fn bootstrap_medians_by(n: usize, at: impl Fn(usize) -> f64, seed: u64) -> Vec<f64> {
    if n == 0 {
        return Vec::new();
    }
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(BOOTSTRAP_B);
    if n <= ORDER_STAT_MAX_N {
        // The resample median is an order statistic of the sample whose
        // distribution is known exactly: draw its position, not n values.
        let cdfs = median_position_cdfs(n);
        let (lo, hi) = (&cdfs.0, &cdfs.1);
        for _ in 0..BOOTSTRAP_B {
            let u: f64 = rng.gen();
            let k1 = lo.partition_point(|&f| f < u).min(n - 1);
            let k2 = hi.partition_point(|&f| f < u).min(n - 1);
            out.push((at(k1) + at(k2)) / 2.0);
        }
    } else if n <= RESAMPLE_MAX_N {
        let mut buf = vec![0.0; n];
        for _ in 0..BOOTSTRAP_B {
            for slot in buf.iter_mut() {
                *slot = at(rng.gen_range(0..n));
            }
            out.push(select_median(&mut buf));
        }
    } else {
        let half_sd = (n as f64).sqrt() / 2.0;
        let centre = (n - 1) as f64 / 2.0;
        for _ in 0..BOOTSTRAP_B {
            let z: f64 = rng.sample(rand_distr_standard_normal());
            out.push(interp_by(n, &at, centre + z * half_sd));
        }
    }
    out
}

/// Samples up to this size draw bootstrap medians from the exact
/// distribution of the resample median's position ([`median_position_cdfs`]):
/// O(B log n) instead of O(B·n). Many small samples (thousands of vantages
/// with a few rounds each) are where the bootstrap used to cost the most.
pub const ORDER_STAT_MAX_N: usize = 64;

/// For a resample of size n (with replacement) of a sorted sample, the CDFs
/// over 0-based positions k of its lower and upper middle order statistics:
/// `P(order stat r ≤ x_(k)) = P(Binomial(n, (k+1)/n) ≥ r)`. For odd n both
/// are the median's; for even n the two are drawn with one uniform (same
/// marginals as the true pair, which is what the percentile interval uses).
fn median_position_cdfs(n: usize) -> std::rc::Rc<(Vec<f64>, Vec<f64>)> {
    thread_local! {
        static CACHE: CdfCache = Default::default();
    }
    CACHE.with(|c| {
        c.borrow_mut()
            .entry(n)
            .or_insert_with(|| std::rc::Rc::new(median_position_cdfs_uncached(n)))
            .clone()
    })
}

fn median_position_cdfs_uncached(n: usize) -> (Vec<f64>, Vec<f64>) {
    let (r1, r2) = if n % 2 == 1 {
        (n.div_ceil(2), n.div_ceil(2))
    } else {
        (n / 2, n / 2 + 1)
    };
    // Binomial coefficients of n, exact enough in f64 for n ≤ 64.
    let mut binom = vec![1.0f64; n + 1];
    for j in 1..=n {
        binom[j] = binom[j - 1] * (n + 1 - j) as f64 / j as f64;
    }
    let tail = |p: f64, r: usize| -> f64 {
        (r..=n)
            .map(|j| binom[j] * p.powi(j as i32) * (1.0 - p).powi((n - j) as i32))
            .sum::<f64>()
            .min(1.0)
    };
    let lo = (0..n)
        .map(|k| tail((k + 1) as f64 / n as f64, r1))
        .collect();
    let hi = (0..n)
        .map(|k| tail((k + 1) as f64 / n as f64, r2))
        .collect();
    (lo, hi)
}

/// Standard normal draws without pulling in rand_distr: Box–Muller.
fn rand_distr_standard_normal() -> impl rand::distributions::Distribution<f64> {
    struct BoxMuller;
    impl rand::distributions::Distribution<f64> for BoxMuller {
        fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
            let u1: f64 = 1.0 - rng.gen::<f64>(); // (0, 1]
            let u2: f64 = rng.gen::<f64>();
            (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
        }
    }
    BoxMuller
}

/// The exact bootstrap distribution of the median of a small sorted sample
/// (n ≤ [`ORDER_STAT_MAX_N`]) as atoms (value, probability): the limit that
/// B resampled medians approach, from the order-statistic CDFs.
pub fn median_atoms(sorted: &[f64]) -> Vec<(f64, f64)> {
    let n = sorted.len();
    if n == 0 {
        return Vec::new();
    }
    let cdfs = median_position_cdfs(n);
    let (lo, hi) = (&cdfs.0, &cdfs.1);
    let mut cuts: Vec<f64> = lo.iter().chain(hi).copied().collect();
    cuts.push(1.0);
    sort(&mut cuts);
    cuts.dedup();
    let mut atoms = Vec::with_capacity(cuts.len());
    let mut prev = 0.0;
    for &c in &cuts {
        let c = c.min(1.0);
        if c <= prev {
            continue;
        }
        let mid = (prev + c) / 2.0;
        let k1 = lo.partition_point(|&f| f < mid).min(n - 1);
        let k2 = hi.partition_point(|&f| f < mid).min(n - 1);
        atoms.push(((sorted[k1] + sorted[k2]) / 2.0, c - prev));
        prev = c;
    }
    atoms
}

/// 95% interval of `num / den` for independent medians given as atoms: the
/// exact bootstrap percentile interval (no resampling noise).
pub fn exact_ratio_ci(num: &[(f64, f64)], den: &[(f64, f64)]) -> Option<(f64, f64)> {
    let mut r: Vec<(f64, f64)> = Vec::with_capacity(num.len() * den.len());
    for &(a, pa) in num {
        for &(b, pb) in den {
            let v = a / b;
            if !v.is_nan() {
                r.push((v, pa * pb));
            }
        }
    }
    if r.is_empty() {
        return None;
    }
    r.sort_unstable_by(|x, y| x.0.total_cmp(&y.0));
    let total: f64 = r.iter().map(|x| x.1).sum();
    let quantile = |q: f64| {
        let mut cum = 0.0;
        for &(v, p) in &r {
            cum += p / total;
            if cum >= q - 1e-12 {
                return v;
            }
        }
        r[r.len() - 1].0
    };
    Some((quantile(0.025), quantile(0.975)))
}

/// 95% percentile-bootstrap interval of `num_b / den_b` over paired replicates.
pub fn ratio_ci(num: &[f64], den: &[f64]) -> Option<(f64, f64)> {
    let mut r: Vec<f64> = num
        .iter()
        .zip(den)
        .map(|(a, b)| a / b)
        .filter(|v| !v.is_nan())
        .collect();
    if r.len() < 10 {
        return None;
    }
    sort(&mut r);
    Some((percentile(&r, 0.025), percentile(&r, 0.975)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::stats::median;

    #[test]
    fn exact_ratio_interval_matches_resampled_one() {
        let t: Vec<f64> = vec![1.0, 2.0, 3.0, 5.0, 8.0, 13.0];
        let c: Vec<f64> = vec![10.0, 11.0, 12.0, 14.0, 15.0];
        let (at, ac) = (median_atoms(&t), median_atoms(&c));
        let total: f64 = at.iter().map(|a| a.1).sum();
        assert!((total - 1.0).abs() < 1e-9, "{total}");
        let (lo, hi) = exact_ratio_ci(&at, &ac).unwrap();
        // Resampling many times approaches the same interval.
        let mut rng = SmallRng::seed_from_u64(1);
        let mut r: Vec<f64> = (0..40_000)
            .map(|_| {
                let mut a: Vec<f64> = (0..6).map(|_| t[rng.gen_range(0..6)]).collect();
                let mut b: Vec<f64> = (0..5).map(|_| c[rng.gen_range(0..5)]).collect();
                select_median(&mut a) / select_median(&mut b)
            })
            .collect();
        sort(&mut r);
        let (rl, rh) = (percentile(&r, 0.025), percentile(&r, 0.975));
        assert!(
            (lo - rl).abs() < 0.05 && (hi - rh).abs() < 0.12,
            "{lo}..{hi} vs {rl}..{rh}"
        );
    }

    #[test]
    fn order_statistic_bootstrap_matches_resampling() {
        // The exact-position draw and plain resampling give the same
        // distribution of the median (odd n: exactly; compare quantiles).
        for n in [5usize, 9, 31] {
            let v: Vec<f64> = (0..n).map(|i| (i * i) as f64).collect();
            let mut a = bootstrap_medians(&v, 3);
            sort(&mut a);
            let mut rng = SmallRng::seed_from_u64(5);
            let mut b: Vec<f64> = (0..20_000)
                .map(|_| {
                    let mut buf: Vec<f64> = (0..n).map(|_| v[rng.gen_range(0..n)]).collect();
                    select_median(&mut buf)
                })
                .collect();
            sort(&mut b);
            for q in [0.1, 0.25, 0.5, 0.75, 0.9] {
                let (x, y) = (percentile(&a, q), percentile(&b, q));
                let scale = v[n - 1] - v[0];
                assert!((x - y).abs() <= 0.08 * scale, "n={n} q={q}: {x} vs {y}");
            }
        }
    }

    #[test]
    fn bootstrap_is_seeded_and_sane() {
        let v: Vec<f64> = (0..50).map(|i| i as f64).collect();
        let a = bootstrap_medians(&v, 7);
        let b = bootstrap_medians(&v, 7);
        assert_eq!(a, b);
        let mut s = a.clone();
        sort(&mut s);
        let m = median(&s);
        assert!((m - 24.5).abs() < 3.0, "{m}");
        let big: Vec<f64> = (0..100_000).map(|i| i as f64).collect();
        let mut bm = bootstrap_medians(&big, 1);
        sort(&mut bm);
        // sd of the median of U(0, 1e5) with n = 1e5 is about 1e5 / (2·√n) ≈ 158
        let spread = percentile(&bm, 0.84) - percentile(&bm, 0.16);
        assert!(spread > 200.0 && spread < 450.0, "{spread}");
    }
}
