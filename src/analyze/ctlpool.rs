//! Control pools, prepared once per (control set, metric) within a vantage.
//!
//! Every target URL row of a class, and every host row, is compared with one
//! of a few control sets — when the controls of a class share a size, the
//! same set of up to ~100k fetches. Sorting that set, normalising it by its
//! median and taking its per-round medians again for every row was most of
//! what `analyze` spent on a large campaign (issue 7). A [`PoolCache`] does
//! that work once per set and metric, and forgets a set after the last row
//! that uses it (a control's own row uses a set no other row does).
//!
//! The values are the ones the per-row code produced — the same divisions,
//! in the same order — so caching changes no verdict.

use std::collections::HashMap;
use std::rc::Rc;

use super::compare::{slowed, Kind};
use super::load::{Dataset, Obs};
use super::stats::{median, seed_for, sort};

/// The value of metric `k` in one observation (NaN: not measured).
pub fn value(o: &Obs, k: Kind) -> f64 {
    match k {
        Kind::Rate => o.rate,
        Kind::Total => o.total_ms,
        Kind::Tls => o.tls_ms,
    }
}

/// One control set on one metric.
#[derive(Debug)]
pub struct CtlPool {
    pub kind: Kind,
    /// Identity of the control set (strata with equal `id` share controls).
    pub id: u64,
    /// The finite values of every control fetch, ascending.
    pub sorted: Vec<f64>,
    /// `median(sorted)`: what a stratum divides its values by (NaN when empty).
    pub median: f64,
    /// `sorted` divided by `median`; empty unless `median` is positive.
    pub norm_sorted: Vec<f64>,
    /// Per round (pairing key, ascending, rounds without a key left out): ln
    /// of the median normalised value; empty unless `median` is positive.
    pub round_ln: Vec<(u64, f64)>,
    /// Control values slowed against the pool itself (the false-alarm
    /// baseline), counted when first asked for.
    slowed: std::cell::OnceCell<usize>,
}

impl CtlPool {
    fn build(ds: &Dataset, controls: &[usize], kind: Kind) -> CtlPool {
        let mut pairs: Vec<(u64, f64)> = Vec::new();
        for &ci in controls {
            for o in &ds.series[ci].obs {
                let v = value(o, kind);
                if v.is_finite() {
                    pairs.push((o.pair, v));
                }
            }
        }
        let mut sorted: Vec<f64> = pairs.iter().map(|p| p.1).collect();
        sort(&mut sorted);
        let mc = median(&sorted);
        let (mut norm_sorted, mut round_ln) = (Vec::new(), Vec::new());
        if !(mc.is_nan() || mc <= 0.0) {
            norm_sorted = sorted.iter().map(|v| v / mc).collect();
            for p in &mut pairs {
                p.1 /= mc;
            }
            pairs.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
            for g in pairs.chunk_by(|a, b| a.0 == b.0) {
                if g[0].0 != 0 {
                    round_ln.push((g[0].0, group_median(g).ln()));
                }
            }
        }
        let key: Vec<u8> = controls.iter().flat_map(|c| c.to_le_bytes()).collect();
        CtlPool {
            kind,
            id: seed_for(0, &[&key]),
            sorted,
            median: mc,
            norm_sorted,
            round_ln,
            slowed: Default::default(),
        }
    }

    /// How many control values are slowed against the pool itself.
    pub fn n_slowed(&self) -> usize {
        *self.slowed.get_or_init(|| {
            let c = &self.sorted;
            c.iter().filter(|&&v| slowed(self.kind, v, c)).count()
        })
    }
}

/// Median of one round's values, sorted by value.
pub fn group_median(g: &[(u64, f64)]) -> f64 {
    let n = g.len();
    if n % 2 == 1 {
        g[n / 2].1
    } else {
        (g[n / 2 - 1].1 + g[n / 2].1) / 2.0
    }
}

/// A control set's pools (one per metric) and how many rows still need it.
#[derive(Default)]
struct Entry {
    uses: usize,
    by_kind: [Option<Rc<CtlPool>>; 3],
}

/// The pools of one vantage's control sets (see the module doc).
#[derive(Default)]
pub struct PoolCache {
    sets: HashMap<Vec<usize>, Entry>,
}

impl PoolCache {
    /// One more row will compare with `controls`.
    pub fn count_use(&mut self, controls: &[usize]) {
        match self.sets.get_mut(controls) {
            Some(e) => e.uses += 1,
            None => {
                self.sets.insert(
                    controls.to_vec(),
                    Entry {
                        uses: 1,
                        ..Entry::default()
                    },
                );
            }
        }
    }

    /// The pool of `controls` on metric `kind`, built on first use.
    pub fn get(&mut self, ds: &Dataset, controls: &[usize], kind: Kind) -> Rc<CtlPool> {
        if !self.sets.contains_key(controls) {
            self.sets.insert(controls.to_vec(), Entry::default());
        }
        let e = self.sets.get_mut(controls).expect("inserted above");
        e.by_kind[kind as usize]
            .get_or_insert_with(|| Rc::new(CtlPool::build(ds, controls, kind)))
            .clone()
    }

    /// A row that compared with `controls` is done; the set's pools are
    /// dropped after its last row.
    pub fn release(&mut self, controls: &[usize]) {
        if let Some(e) = self.sets.get_mut(controls) {
            e.uses = e.uses.saturating_sub(1);
            if e.uses == 0 {
                self.sets.remove(controls);
            }
        }
    }
}
