//! Control pools, prepared once per (control set, metric) within a vantage.
//!
//! Every target URL row of a class, and every host row, is compared with one
//! of a few control sets — when the controls of a class share a size, the
//! same set of up to ~100k fetches. Sorting that set, normalising it by its
//! median and taking its per-round medians again for every row was most of
//! what `analyze` spent on a large campaign (issue 7). A [`PoolCache`] does
//! that work once per set and metric, and forgets a set after the last row
//! that uses it.
//!
//! A control's own row uses a set no other row does — the other controls —
//! and there are as many such sets as controls. Each is its parent set (the
//! one a like-sized target gets) minus one series, and is derived from the
//! parent's sorted values in O(n) instead of sorted again ([`family`],
//! [`Base::without`]).
//!
//! The values are the ones the per-row code produced — the same divisions,
//! on the same sorted values — so caching changes no verdict.

mod family;

use std::cmp::Ordering;
use std::collections::HashMap;
use std::rc::Rc;

use super::kind::{slowed, Kind};
use crate::analyze::input::load::{Dataset, Obs};
use crate::analyze::stats::{median, seed_for, sort};

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

/// Every finite value of a control set on one metric, in the two orders a
/// pool is made from: ascending, and by (round key, value). Removing one
/// series' values keeps both orders, so a leave-one-out set is derived from
/// its parent's base by two merge-walks ([`Base::without`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Base {
    sorted: Vec<f64>,
    pairs: Vec<(u64, f64)>,
}

fn by_round(a: &(u64, f64), b: &(u64, f64)) -> Ordering {
    a.0.cmp(&b.0).then(a.1.total_cmp(&b.1))
}

impl Base {
    /// The base of the series whose observations are `series`.
    pub fn of<'a>(series: impl IntoIterator<Item = &'a [Obs]>, kind: Kind) -> Base {
        let mut pairs: Vec<(u64, f64)> = Vec::new();
        for obs in series {
            for o in obs {
                let v = value(o, kind);
                if v.is_finite() {
                    pairs.push((o.pair, v));
                }
            }
        }
        let mut sorted: Vec<f64> = pairs.iter().map(|p| p.1).collect();
        sort(&mut sorted);
        pairs.sort_unstable_by(by_round);
        Base { sorted, pairs }
    }

    /// This base without the values of one series it counts (`obs`).
    pub fn without(&self, obs: &[Obs], kind: Kind) -> Base {
        let gone = Base::of([obs], kind);
        Base {
            sorted: remove(&self.sorted, &gone.sorted, |a, b| a.total_cmp(b)),
            pairs: remove(&self.pairs, &gone.pairs, by_round),
        }
    }
}

/// `all` without the sub-multiset `gone` (both ascending under `cmp`, whose
/// equality is bit equality: `total_cmp`).
fn remove<T: Copy>(all: &[T], gone: &[T], cmp: impl Fn(&T, &T) -> Ordering) -> Vec<T> {
    let mut out = Vec::with_capacity(all.len().saturating_sub(gone.len()));
    let mut j = 0;
    for x in all {
        if j < gone.len() && cmp(&gone[j], x) == Ordering::Equal {
            j += 1;
        } else {
            out.push(*x);
        }
    }
    debug_assert_eq!(j, gone.len(), "removed values must be in the base");
    out
}

impl CtlPool {
    /// The pool of `controls` from their base. The per-round order of the
    /// base survives the division by a positive median (division by a
    /// positive number is monotone, signs of zeros included, and values
    /// equal under `total_cmp` have the same bits), so the rounds' medians
    /// are those of dividing first and sorting after.
    fn from_base(base: Base, controls: &[usize], kind: Kind) -> CtlPool {
        let Base { sorted, pairs } = base;
        let mc = median(&sorted);
        let (mut norm_sorted, mut round_ln) = (Vec::new(), Vec::new());
        if !(mc.is_nan() || mc <= 0.0) {
            norm_sorted = sorted.iter().map(|v| v / mc).collect();
            let norm: Vec<(u64, f64)> = pairs.iter().map(|&(k, v)| (k, v / mc)).collect();
            for g in norm.chunk_by(|a, b| a.0 == b.0) {
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
            // `slowed` is monotone in the value (a rate below a cut; a time
            // above one, by at least a margin): the slowed values of the
            // ascending pool are a prefix (rates) or a suffix (times).
            let (c, k) = (&self.sorted, self.kind);
            if k.is_time() {
                c.len() - c.partition_point(|&v| !slowed(k, v, c))
            } else {
                c.partition_point(|&v| slowed(k, v, c))
            }
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

/// A control set's pools (one per metric) and how many rows still need it
/// (a parent's count includes its children's).
#[derive(Default)]
struct Entry {
    uses: usize,
    by_kind: [Option<Rc<CtlPool>>; 3],
    /// Kept while children are derived from it (parents only).
    bases: [Option<Rc<Base>>; 3],
    /// Some child sets derive from this one.
    parent: bool,
}

/// The pools of one vantage's control sets (see the module doc). Sets that
/// are another set minus one series (a control compared with the other
/// controls) are derived from that set's base: see [`family`].
#[derive(Default)]
pub struct PoolCache {
    sets: HashMap<Vec<usize>, Entry>,
    /// Child set → (parent set, the series the parent has more).
    links: HashMap<Vec<usize>, (Vec<usize>, usize)>,
    planned: bool,
}

impl PoolCache {
    /// One more row will compare with `controls`.
    pub fn count_use(&mut self, controls: &[usize]) {
        self.add_use(controls, 1);
        if let Some((p, _)) = self.links.get(controls).cloned() {
            self.add_use(&p, 1);
        }
    }

    fn add_use(&mut self, controls: &[usize], n: usize) {
        match self.sets.get_mut(controls) {
            Some(e) => e.uses += n,
            None => {
                self.sets.insert(
                    controls.to_vec(),
                    Entry {
                        uses: n,
                        ..Entry::default()
                    },
                );
            }
        }
    }

    /// Link the sets counted so far to their parents (once, at the first
    /// [`PoolCache::get`]; sets counted later are built from scratch).
    fn plan(&mut self, ds: &Dataset) {
        self.planned = true;
        let mut keys: Vec<Vec<usize>> = self.sets.keys().cloned().collect();
        keys.sort_unstable();
        let key = |i: usize| {
            let s = &ds.series[i];
            (s.vantage.as_str(), s.class, s.direction, s.transport)
        };
        for l in family::plan(&keys, key) {
            let parent = match l.parent {
                family::Parent::Given(pi) => keys[pi].clone(),
                family::Parent::Made(p) => p,
            };
            let uses = self.sets.get(&keys[l.child]).map_or(0, |e| e.uses);
            self.add_use(&parent, uses);
            self.sets.get_mut(&parent).expect("added above").parent = true;
            self.links
                .insert(keys[l.child].clone(), (parent, l.removed));
        }
    }

    /// The base of `controls` on `kind`: kept when the set is a parent.
    fn base(&mut self, ds: &Dataset, controls: &[usize], kind: Kind) -> Rc<Base> {
        let build = || {
            Rc::new(Base::of(
                controls.iter().map(|&c| ds.series[c].obs.as_slice()),
                kind,
            ))
        };
        match self.sets.get_mut(controls) {
            Some(e) if e.parent => e.bases[kind as usize].get_or_insert_with(build).clone(),
            _ => build(),
        }
    }

    /// The pool of `controls` on metric `kind`, built on first use.
    pub fn get(&mut self, ds: &Dataset, controls: &[usize], kind: Kind) -> Rc<CtlPool> {
        if !self.planned {
            self.plan(ds);
        }
        if let Some(p) = self
            .sets
            .get(controls)
            .and_then(|e| e.by_kind[kind as usize].clone())
        {
            return p;
        }
        let base = match self.links.get(controls).cloned() {
            Some((parent, removed)) => self
                .base(ds, &parent, kind)
                .without(&ds.series[removed].obs, kind),
            None => Rc::unwrap_or_clone(self.base(ds, controls, kind)),
        };
        let pool = Rc::new(CtlPool::from_base(base, controls, kind));
        if !self.sets.contains_key(controls) {
            self.sets.insert(controls.to_vec(), Entry::default());
        }
        let e = self.sets.get_mut(controls).expect("inserted above");
        e.by_kind[kind as usize] = Some(pool.clone());
        pool
    }

    /// A row that compared with `controls` is done; the set's pools are
    /// dropped after its last row (a parent's after its children's too).
    pub fn release(&mut self, controls: &[usize]) {
        let parent = self.links.get(controls).map(|l| l.0.clone());
        if self.drop_use(controls) {
            self.links.remove(controls);
        }
        if let Some(p) = parent {
            self.drop_use(&p);
        }
    }

    /// One use fewer; whether the set is gone.
    fn drop_use(&mut self, controls: &[usize]) -> bool {
        let Some(e) = self.sets.get_mut(controls) else {
            return true;
        };
        e.uses = e.uses.saturating_sub(1);
        if e.uses == 0 {
            self.sets.remove(controls);
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::input::row::RateSrc;
    use proptest::prelude::*;

    /// The pool as `PoolCache` built it before derivations: sort the values,
    /// divide the (round, value) pairs by the median, then sort them.
    fn reference(series: &[Vec<Obs>], controls: &[usize], kind: Kind) -> CtlPool {
        let mut pairs: Vec<(u64, f64)> = Vec::new();
        for &ci in controls {
            for o in &series[ci] {
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

    fn bits(v: &[f64]) -> Vec<u64> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    /// Equal to the bit: the verdicts are printed from these.
    fn same(a: &CtlPool, b: &CtlPool) -> Result<(), TestCaseError> {
        prop_assert_eq!(a.id, b.id);
        prop_assert_eq!(bits(&a.sorted), bits(&b.sorted));
        prop_assert_eq!(a.median.to_bits(), b.median.to_bits());
        prop_assert_eq!(bits(&a.norm_sorted), bits(&b.norm_sorted));
        let rl = |p: &CtlPool| -> Vec<(u64, u64)> {
            p.round_ln.iter().map(|&(k, v)| (k, v.to_bits())).collect()
        };
        prop_assert_eq!(rl(a), rl(b));
        prop_assert_eq!(a.n_slowed(), b.n_slowed());
        let c = &a.sorted;
        let count = c.iter().filter(|&&v| slowed(a.kind, v, c)).count();
        prop_assert_eq!(a.n_slowed(), count);
        Ok(())
    }

    /// Values with ties, zeros of both signs, NaN and huge/tiny magnitudes:
    /// what could make the derived orders differ from sorting afresh.
    fn val() -> impl Strategy<Value = f64> {
        prop_oneof![
            Just(f64::NAN),
            Just(0.0),
            Just(-0.0),
            Just(f64::INFINITY),
            (1u32..6).prop_map(f64::from),
            (1e-3f64..1e9),
            (-5.0f64..5.0),
            Just(f64::MAX),
            Just(f64::MIN_POSITIVE),
        ]
    }

    fn obs() -> impl Strategy<Value = Obs> {
        (val(), val(), val(), 0u64..4).prop_map(|(rate, total_ms, tls_ms, pair)| Obs {
            rate,
            total_ms,
            tls_ms,
            size: f64::NAN,
            pair,
            id: u32::MAX,
            censored: false,
            src: RateSrc::default(),
        })
    }

    /// `n` control URLs of one class (`with_target`: and a target), 30
    /// rounds each, values with ties.
    fn dataset(n: usize, with_target: bool) -> Dataset {
        use crate::analyze::input::load::{Row, TimelineSrc};
        use crate::types::{Class, Group};
        let mut ds = Dataset::default();
        let src = ds.add_source(TimelineSrc::None);
        let mut x: u64 = 7;
        for i in 0..n + usize::from(with_target) {
            let url = format!("http://h/{i}");
            let group = if i < n { Group::Control } else { Group::Target };
            for round in 0..30 {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let v = ((x >> 33) % 50) as f64;
                ds.add(
                    src,
                    &Row {
                        vantage: b"v",
                        run_id: b"r",
                        round: Some(round),
                        url: url.as_bytes(),
                        class: Some(Class::Text),
                        group: Some(group),
                        body_bytes: Some(1000),
                        steady_bps: Some(1e6 + v * 1e4),
                        total_ms: Some(20.0 + v),
                        ..Row::default()
                    },
                );
            }
        }
        ds
    }

    /// Through the cache: every leave-one-out set is derived (from the
    /// target's set, or from a made-up one when no target has it), equals a
    /// fresh build, and nothing is kept after the last release.
    #[test]
    fn cache_derives_leave_one_out_sets_and_forgets_them() {
        for with_target in [true, false] {
            let n = 6;
            let ds = dataset(n, with_target);
            assert_eq!(ds.series.len(), n + usize::from(with_target));
            let ctl: Vec<usize> = (0..ds.series.len())
                .filter(|&i| ds.series[i].group == crate::types::Group::Control)
                .collect();
            let mut sets: Vec<Vec<usize>> = ctl
                .iter()
                .map(|&i| ctl.iter().copied().filter(|&c| c != i).collect())
                .collect();
            if with_target {
                sets.push(ctl.clone());
            }
            let mut cache = PoolCache::default();
            for s in &sets {
                cache.count_use(s);
            }
            for s in &sets {
                for kind in [Kind::Rate, Kind::Total] {
                    let got = cache.get(&ds, s, kind);
                    let fresh = CtlPool::from_base(
                        Base::of(s.iter().map(|&c| ds.series[c].obs.as_slice()), kind),
                        s,
                        kind,
                    );
                    same(&got, &fresh).unwrap();
                    assert!(!got.sorted.is_empty());
                }
            }
            assert_eq!(cache.links.len(), n, "every leave-one-out set is derived");
            for s in &sets {
                cache.release(s);
            }
            assert!(cache.sets.is_empty() && cache.links.is_empty());
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn leave_one_out_pool_equals_a_fresh_build(
            series in prop::collection::vec(prop::collection::vec(obs(), 0..25), 1..7)
        ) {
            let all: Vec<usize> = (0..series.len()).collect();
            for kind in [Kind::Rate, Kind::Total, Kind::Tls] {
                let full = Base::of(series.iter().map(Vec::as_slice), kind);
                let whole = CtlPool::from_base(full.clone(), &all, kind);
                same(&whole, &reference(&series, &all, kind))?;
                for i in 0..series.len() {
                    let others: Vec<usize> = all.iter().copied().filter(|&c| c != i).collect();
                    let derived = CtlPool::from_base(full.without(&series[i], kind), &others, kind);
                    let fresh = Base::of(others.iter().map(|&c| series[c].as_slice()), kind);
                    prop_assert_eq!(&full.without(&series[i], kind), &fresh);
                    same(&derived, &reference(&series, &others, kind))?;
                }
            }
        }
    }
}
