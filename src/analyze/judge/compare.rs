//! Comparing a sample with its controls on one metric, stratum by stratum.
//!
//! A **stratum** is one target series with its matched controls. A URL row
//! has one; a host row has one per URL of the host, so that objects of
//! different sizes are each compared with their own like controls. Values are
//! divided by their stratum's control median before strata are pooled — a
//! target at half its controls' rate is 0.5 whether its controls run at
//! 2 Mbit/s or 200 — so mixing sizes in a host row cannot create an effect.
//!
//! On the normalised values:
//! - **effect**: `ratio` = median(target) / median(control) (for times the
//!   inverse, a speed ratio: ≤ 1 always means slower), 95% bootstrap CI;
//! - **test**: fetches made in the same round of the same run are **paired**:
//!   per round, ln(median target) − ln(median control), one-sided Wilcoxon
//!   signed-rank, when enough rounds pair up for the test to reach alpha at
//!   all; otherwise the one-sided **unpaired** Mann–Whitney U of the values.
//!   Pairing cancels what a path does over hours of a campaign (both sides
//!   of a pair saw the same path state).

use std::borrow::Cow;
use std::rc::Rc;

use super::ctlpool::{group_median, CtlPool};
use super::kind::{decide_min, slowed, Kind, MIN_TIME_INFLATION_MS};
use crate::analyze::base::units::{Bps, Ms, Ratio, P};
use crate::analyze::base::verdict::Metric;
use crate::analyze::base::verdict::Test;
use crate::analyze::base::AnalyzeOptions;
use crate::analyze::stats::inference::{median_of, signed_rank};
use crate::analyze::stats::{
    bootstrap_medians, bootstrap_medians_by, exact_ratio_ci, mann_whitney_sorted, median,
    median_atoms, ratio_ci, sort, Alternative, ORDER_STAT_MAX_N,
};

/// One side of a stratum: values with their round key and (targets) who.
#[derive(Debug, Clone, Default)]
pub struct Side {
    pub vals: Vec<f64>,
    pub pairs: Vec<u64>,
    /// (series, obs id) per value; empty for controls.
    pub who: Vec<(usize, u32)>,
}

impl Side {
    pub fn push(&mut self, v: f64, pair: u64, who: Option<(usize, u32)>) {
        if v.is_finite() {
            self.vals.push(v);
            self.pairs.push(pair);
            if let Some(w) = who {
                self.who.push(w);
            }
        }
    }
}

/// A target series and its matched controls.
#[derive(Debug, Clone)]
pub struct Stratum {
    pub t: Side,
    /// The matched controls on this metric, prepared once per vantage.
    pub c: Rc<CtlPool>,
}

/// Per-round medians of the target's (round, value) list, merged by round
/// with the controls' per-round ln medians: ln(target) − ln(control) for
/// every round both sides have.
fn round_log_ratios(t: &mut [(u64, f64)], c: &[(u64, f64)], out: &mut Vec<f64>) {
    t.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
    let mut j = 0;
    for g in t.chunk_by(|a, b| a.0 == b.0) {
        let k = g[0].0;
        if k == 0 {
            continue;
        }
        j += c[j..].partition_point(|x| x.0 < k);
        if let Some(&(kc, lc)) = c.get(j) {
            if kc == k {
                let x = group_median(g).ln() - lc;
                out.push(if x.is_nan() { 0.0 } else { x });
            }
        }
    }
}

/// Sorted runs merged into one ascending list (borrowed when there is one).
fn merged<'a>(runs: &[&'a [f64]]) -> Cow<'a, [f64]> {
    match runs {
        [] => Cow::Borrowed(&[]),
        [one] => Cow::Borrowed(one),
        _ => {
            let mut v = runs.concat();
            // Stable sort: finds the runs and merges them (equal values
            // under total_cmp are the same bits, so any sort gives this).
            v.sort_by(|a, b| a.total_cmp(b));
            Cow::Owned(v)
        }
    }
}

/// The control side of a comparison: every stratum's pool pooled, a pool
/// counted once per stratum that uses it — as the ascending list of all of
/// them, without writing it out. A host row of 500 like-sized URLs has one
/// pool 500 times: 50M values (400 MB a metric, twice), sorted, for what is
/// each value of the pool repeated 500 times.
struct CtlSide<'a> {
    /// The distinct values, ascending.
    vals: Cow<'a, [f64]>,
    reps: Reps,
    len: usize,
}

enum Reps {
    /// Every value this many times.
    Each(usize),
    /// Value `i` ends before position `ends[i]` of the whole list.
    Ends(Vec<usize>),
}

impl<'a> CtlSide<'a> {
    /// `runs[i]` counted `times[i]` times.
    fn new(runs: &[&'a [f64]], times: &[usize]) -> CtlSide<'a> {
        let len = runs.iter().zip(times).map(|(r, t)| r.len() * t).sum();
        let k = times.first().copied().unwrap_or(1);
        if times.iter().all(|&t| t == k) {
            return CtlSide {
                vals: merged(runs),
                reps: Reps::Each(k),
                len,
            };
        }
        let mut w: Vec<(f64, usize)> = runs
            .iter()
            .zip(times)
            .flat_map(|(r, &t)| r.iter().map(move |&v| (v, t)))
            .collect();
        w.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut end = 0;
        let ends = w
            .iter()
            .map(|&(_, t)| {
                end += t;
                end
            })
            .collect();
        CtlSide {
            vals: Cow::Owned(w.into_iter().map(|p| p.0).collect()),
            reps: Reps::Ends(ends),
            len,
        }
    }

    /// The value at position `p` of the whole ascending list.
    fn at(&self, p: usize) -> f64 {
        match &self.reps {
            Reps::Each(k) => self.vals[p / k],
            Reps::Ends(e) => self.vals[e.partition_point(|&x| x <= p)],
        }
    }

    /// The whole list (written out unless every value is there once).
    fn list(&self) -> Cow<'_, [f64]> {
        match self.reps {
            Reps::Each(1) => Cow::Borrowed(&self.vals),
            _ => Cow::Owned((0..self.len).map(|p| self.at(p)).collect()),
        }
    }

    /// `median` of the whole list: the same one or two order statistics
    /// and the same interpolation (`median(&[a, b])` is `a + (b − a)·0.5`).
    fn median(&self) -> f64 {
        let n = self.len;
        if let Reps::Each(1) = self.reps {
            return median(&self.vals);
        }
        match n {
            0 => f64::NAN,
            _ if n % 2 == 1 => median(&[self.at(n / 2)]),
            _ => median(&[self.at(n / 2 - 1), self.at(n / 2)]),
        }
    }

    fn bootstrap_medians(&self, seed: u64) -> Vec<f64> {
        match self.reps {
            Reps::Each(1) => bootstrap_medians(&self.vals, seed),
            _ => bootstrap_medians_by(self.len, |p| self.at(p), seed),
        }
    }
}

/// Each distinct pool of `used` (by identity) and how many strata use it,
/// in first-use order.
fn distinct<'p>(used: &[&'p CtlPool]) -> (Vec<&'p CtlPool>, Vec<usize>) {
    let (mut pools, mut times): (Vec<&CtlPool>, Vec<usize>) = (Vec::new(), Vec::new());
    for &p in used {
        match pools.iter().position(|&q| std::ptr::eq(q, p)) {
            Some(i) => times[i] += 1,
            None => {
                pools.push(p);
                times.push(1);
            }
        }
    }
    (pools, times)
}

/// Paired rounds needed before the paired test is used: the fewest with
/// which an exact signed-rank test can go well below `alpha` (2^-n < alpha/8).
pub fn paired_min(o: &AnalyzeOptions) -> usize {
    let n = (8.0 / o.alpha).log2().ceil().max(1.0) as usize;
    n.max(o.min_n)
}

/// One comparison on one metric.
#[derive(Debug, Clone)]
pub struct Cmp {
    pub kind: Kind,
    pub metric: Metric,
    pub n: usize,
    pub n_c: usize,
    /// Raw medians (bit/s or ms) of the target and control values.
    pub med_t: f64,
    pub med_c: f64,
    pub ratio: Option<f64>,
    pub ci: Option<(f64, f64)>,
    pub p: Option<f64>,
    pub q: Option<f64>,
    pub test: Test,
    pub n_pairs: usize,
    /// Whether this comparison may decide the row (a small download's rate may not).
    pub judged: bool,
    /// Whether the CI came from seeded resampling (else it is exact, and the
    /// comparison depends on nothing but its values).
    pub seeded: bool,
    /// The deep-slowdown counts, on the comparison that may decide the row
    /// (see `super::deep`).
    pub deep: Option<super::kind::Deep>,
}

/// Compare the strata on one metric. `seed` seeds the target's bootstrap,
/// `ctl_seed` the controls'.
pub fn compare(
    kind: Kind,
    metric: Metric,
    strata: &[Stratum],
    o: &AnalyzeOptions,
    seed: u64,
    ctl_seed: u64,
) -> Cmp {
    let mut tn = Vec::new();
    let mut raw_t = Vec::new();
    let mut d = Vec::new();
    let mut tp: Vec<(u64, f64)> = Vec::new();
    let mut used: Vec<&CtlPool> = Vec::new();
    for s in strata {
        let p = &*s.c;
        let mc = p.median;
        if mc.is_nan() || mc <= 0.0 || s.t.vals.is_empty() {
            continue;
        }
        raw_t.extend_from_slice(&s.t.vals);
        tn.extend(s.t.vals.iter().map(|v| v / mc));
        tp.clear();
        tp.extend(s.t.pairs.iter().zip(&s.t.vals).map(|(&k, v)| (k, v / mc)));
        round_log_ratios(&mut tp, &p.round_ln, &mut d);
        used.push(p);
    }
    sort(&mut tn);
    let (pools, times) = distinct(&used);
    let norm: Vec<&[f64]> = pools.iter().map(|p| p.norm_sorted.as_slice()).collect();
    let cn = CtlSide::new(&norm, &times);
    let raw: Vec<&[f64]> = pools.iter().map(|p| p.sorted.as_slice()).collect();
    let raw_c = CtlSide::new(&raw, &times);
    let n_pairs = d.len();
    let rate = !kind.is_time();
    let (test, p) = if n_pairs >= paired_min(o) {
        (Test::Paired, signed_rank(&d, rate))
    } else {
        let alt = if rate {
            Alternative::Less
        } else {
            Alternative::Greater
        };
        (Test::Unpaired, mann_whitney_sorted(&tn, &cn.list(), alt))
    };
    let (mt, mc) = (median(&tn), cn.median());
    let ratio = if rate {
        (mc > 0.0).then(|| mt / mc)
    } else {
        (mt > 0.0).then(|| mc / mt)
    };
    // (at most 2n atoms a side: up to ~4,000 ratios to sort)
    let small =
        tn.len() <= ORDER_STAT_MAX_N && cn.len <= ORDER_STAT_MAX_N && tn.len() * cn.len <= 1024;
    let mut seeded = false;
    // The interval from the fetches a row may be decided at (3 a side when
    // e-values decide, so a throttle decided at round 3 still shows one).
    let m = decide_min(o);
    let ci = if tn.len() >= m && cn.len >= m && small {
        // Small samples: the exact bootstrap distribution, no resampling.
        let (at, ac) = (median_atoms(&tn), median_atoms(&cn.list()));
        if rate {
            exact_ratio_ci(&at, &ac)
        } else {
            exact_ratio_ci(&ac, &at)
        }
    } else if tn.len() >= m && cn.len >= m {
        seeded = true;
        let bt = bootstrap_medians(&tn, seed);
        let bc = cn.bootstrap_medians(ctl_seed);
        if rate {
            ratio_ci(&bt, &bc)
        } else {
            ratio_ci(&bc, &bt)
        }
    } else {
        None
    };
    Cmp {
        kind,
        metric,
        n: tn.len(),
        n_c: cn.len,
        med_t: median_of(raw_t).unwrap_or(f64::NAN),
        med_c: raw_c.median(),
        ratio: ratio.filter(|r| r.is_finite()),
        ci,
        p,
        q: None,
        test,
        n_pairs,
        judged: true,
        seeded,
        deep: None,
    }
}

impl Cmp {
    pub fn enough(&self, o: &AnalyzeOptions) -> bool {
        self.n >= o.min_n && self.n_c >= o.min_n
    }

    /// The effect is there: ratio at or below the threshold (and, for times,
    /// at least [`MIN_TIME_INFLATION_MS`] slower in absolute terms).
    pub fn effect(&self, o: &AnalyzeOptions) -> bool {
        let big = self.ratio.is_some_and(|r| r <= o.threshold);
        big && (!self.kind.is_time() || self.med_t - self.med_c >= MIN_TIME_INFLATION_MS)
    }

    fn write_val(&self, s: &mut String, v: f64) {
        use std::fmt::Write;
        let _ = if self.kind.is_time() {
            write!(s, "{}", Ms(v))
        } else {
            write!(s, "{}", Bps(v))
        };
    }

    /// `steady 120 kbit/s vs 84.0 Mbit/s = 0.0014 (0.0012–0.0016), paired p=3e-6 q=…, n=10/10`
    pub fn describe(&self) -> String {
        let mut s = String::with_capacity(96);
        self.describe_into(&mut s);
        s
    }

    /// [`Cmp::describe`] appended to `s` (one buffer per reason: 400,000
    /// rows at 10,000 vantages made the small strings a visible cost).
    pub fn describe_into(&self, s: &mut String) {
        use std::fmt::Write;
        let _ = write!(s, "{} ", self.metric.as_str(),);
        self.write_val(s, self.med_t);
        s.push_str(" vs ");
        self.write_val(s, self.med_c);
        if let Some(r) = self.ratio {
            let _ = write!(s, " = {}", Ratio(r));
            if let Some((lo, hi)) = self.ci {
                let _ = write!(s, " ({}–{})", Ratio(lo), Ratio(hi));
            }
        }
        if let Some(p) = self.p {
            let _ = write!(s, ", {} p={}", self.test.as_str(), P(p));
            if let Some(q) = self.q {
                let _ = write!(s, " q={}", P(q));
            }
        }
        let _ = write!(s, ", n={}/{}", self.n, self.n_c);
        if let Some(d) = self.deep.filter(|d| d.k > 0) {
            let _ = write!(
                s,
                ", {}/{} fetches 10× slower (controls {}/{})",
                d.k, d.n, d.k_c, d.n_c
            );
        }
    }
}

/// The "slowed" share of a row: per fetch, far below its matched controls.
#[derive(Debug, Clone, Default)]
pub struct Share {
    pub slowed: usize,
    pub n: usize,
    pub c_slowed: usize,
    pub n_c: usize,
    pub p: Option<f64>,
    pub q: Option<f64>,
    /// Raw values of the slowed target fetches.
    pub slowed_vals: Vec<f64>,
    pub slowed_who: Vec<(usize, u32)>,
}

/// Count slowed target fetches, and slowed control fetches (the same rule
/// applied to each control pool against itself: the false-alarm baseline).
///
/// Time-matched like the median test: when enough rounds pair up, only
/// target fetches of rounds that have control fetches count — a round
/// without controls cannot tell a throttle from the path of that hour (a
/// path slow every evening, with controls fetched only by day, would
/// otherwise read as a partial throttle).
pub fn share(kind: Kind, strata: &[Stratum], o: &AnalyzeOptions) -> Share {
    let mut sh = Share::default();
    let mut seen_pools: Vec<u64> = Vec::new();
    // `round_ln` is ascending by key and holds only keyed rounds.
    let has_ctl =
        |s: &Stratum, k: u64| k != 0 && s.c.round_ln.binary_search_by(|x| x.0.cmp(&k)).is_ok();
    let mut rounds: Vec<u64> = strata
        .iter()
        .flat_map(|s| s.t.pairs.iter().copied().filter(|&k| has_ctl(s, k)))
        .collect();
    rounds.sort_unstable();
    rounds.dedup();
    let paired = rounds.len() >= paired_min(o);
    for s in strata {
        let c = &s.c.sorted;
        if c.is_empty() {
            continue;
        }
        for (i, &v) in s.t.vals.iter().enumerate() {
            if paired && !has_ctl(s, s.t.pairs[i]) {
                continue;
            }
            sh.n += 1;
            if slowed(kind, v, c) {
                sh.slowed += 1;
                sh.slowed_vals.push(v);
                if let Some(&w) = s.t.who.get(i) {
                    sh.slowed_who.push(w);
                }
            }
        }
        // Each control pool counts once, however many strata share it.
        if seen_pools.contains(&s.c.id) {
            continue;
        }
        seen_pools.push(s.c.id);
        sh.n_c += c.len();
        sh.c_slowed += s.c.n_slowed();
    }
    sh.p = crate::analyze::stats::inference::fisher_greater(sh.slowed, sh.n, sh.c_slowed, sh.n_c);
    sh
}

impl Share {
    /// Median of the slowed fetches' values, leaving out those that moved
    /// nothing when others did: a timeout with no byte reads 0 bit/s, which
    /// says the fetch stalled, not what rate the throttle allows (with them
    /// a 131 kbit/s policer read as ~65 kbit/s).
    pub fn slowed_median(&self) -> Option<f64> {
        let moved = || self.slowed_vals.iter().copied().filter(|&v| v > 0.0);
        if moved().next().is_some() {
            median_of(moved())
        } else {
            median_of(self.slowed_vals.iter().copied())
        }
    }

    pub fn fraction(&self) -> Option<f64> {
        (self.n > 0).then(|| self.slowed as f64 / self.n as f64)
    }
    pub fn control_fraction(&self) -> Option<f64> {
        (self.n_c > 0).then(|| self.c_slowed as f64 / self.n_c as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn bits(v: &[f64]) -> Vec<u64> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// The control side without writing it out equals the pooled list
        /// written out and sorted: every value, median and bootstrap (the
        /// sizes cross the bootstrap's 64 and 1,000 thresholds).
        #[test]
        fn ctl_side_equals_the_list_written_out(
            runs in prop::collection::vec(
                (prop::collection::vec(0u8..40, 0..400), 1usize..5), 1..4),
            seed in any::<u64>(),
        ) {
            let runs: Vec<(Vec<f64>, usize)> = runs
                .into_iter()
                .map(|(r, t)| {
                    let mut r: Vec<f64> = r.into_iter().map(|v| f64::from(v) / 4.0).collect();
                    sort(&mut r);
                    (r, t)
                })
                .collect();
            let slices: Vec<&[f64]> = runs.iter().map(|r| r.0.as_slice()).collect();
            let times: Vec<usize> = runs.iter().map(|r| r.1).collect();
            let side = CtlSide::new(&slices, &times);
            let mut all: Vec<f64> = runs
                .iter()
                .flat_map(|(r, t)| std::iter::repeat_n(r.as_slice(), *t).flatten().copied())
                .collect();
            sort(&mut all);
            prop_assert_eq!(side.len, all.len());
            prop_assert_eq!(bits(&side.list()), bits(&all));
            prop_assert_eq!(side.median().to_bits(), median(&all).to_bits());
            prop_assert_eq!(
                bits(&side.bootstrap_medians(seed)),
                bits(&bootstrap_medians(&all, seed))
            );
        }
    }
}
