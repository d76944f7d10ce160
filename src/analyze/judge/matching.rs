//! Which controls a series is compared with: like for like.
//!
//! A target is compared only with controls that did the same work — same
//! vantage, class and direction, and a comparable size. Why size: on a real
//! path a small object spends its whole life in TCP slow start and its rate
//! (and total time) depends on its size and the RTT, not on any throttle; a
//! 600 KB object judged against 2–8 MB controls reads 2–4× slower on a clean
//! path. Within slow start the number of round trips grows with log2 of the
//! size, so objects within a factor of [`SIZE_FACTOR`] differ by at most one
//! round trip — too little to reach the 0.5 effect threshold on its own.
//!
//! In order:
//! 1. **explicit**: the URL names its controls (`control = ["label", …]`):
//!    the control series of that vantage and direction with those labels;
//! 2. **size-matched**: when the sizes of the target and of the class's
//!    controls are known: the controls within [`SIZE_FACTOR`] of its size;
//!    none → no comparison (inconclusive), never a comparison with unlike work;
//! 3. **class**: sizes unknown (crowd data, files of other tools): every
//!    control of the class and direction, said in `reason` — unless those
//!    controls differ among themselves by more than [`SIZE_FACTOR`] in median
//!    rate: then they did unlike work (a 30 KB and an 8 MB object on one
//!    path), the pool is no reference, and the row is not compared.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

use crate::analyze::base::units::fmt_bps;
use crate::analyze::base::verdict::ComparedWith;
use crate::analyze::input::load::Dataset;
use crate::analyze::stats::inference::median_of;
use crate::types::{Class, Direction, Group, Transport};

/// Largest size ratio between a target and a control it is compared with.
pub const SIZE_FACTOR: f64 = 2.0;

/// The chosen controls of one series.
#[derive(Debug, Clone)]
pub struct Match {
    pub with: ComparedWith,
    /// Control series indices, ascending.
    pub controls: Vec<usize>,
}

/// (vantage, class, direction, transport): a QUIC target is compared with
/// QUIC controls only — the two transports can be policed to two rates.
type PoolKey<'a> = (&'a str, Option<Class>, Direction, Transport);

/// Control series per (vantage, class, direction), and per (vantage, label).
pub struct Controls<'a> {
    by_class: BTreeMap<PoolKey<'a>, Vec<usize>>,
    by_direction: HashMap<(&'a str, Direction, Transport), Vec<usize>>,
    by_label: BTreeMap<(&'a str, &'a str), Vec<usize>>,
    sizes: HashMap<usize, f64>,
    /// Median rate per control series, computed when a class pool needs it.
    rates: RefCell<HashMap<usize, Option<f64>>>,
}

impl<'a> Controls<'a> {
    /// The controls among `members` (the series of one vantage).
    pub fn new(ds: &'a Dataset, members: &[usize]) -> Controls<'a> {
        let mut by_class: BTreeMap<PoolKey, Vec<usize>> = BTreeMap::new();
        let mut by_label: BTreeMap<(&str, &str), Vec<usize>> = BTreeMap::new();
        for &i in members {
            let s = &ds.series[i];
            if s.group != Group::Control {
                continue;
            }
            by_class
                .entry((s.vantage.as_str(), s.class, s.direction, s.transport))
                .or_default()
                .push(i);
            if !s.label.is_empty() {
                by_label
                    .entry((s.vantage.as_str(), s.label.as_str()))
                    .or_default()
                    .push(i);
            }
        }
        let sizes = members.iter().map(|&i| (i, ds.series[i].size())).collect();
        let mut by_direction: HashMap<(&str, Direction, Transport), Vec<usize>> = HashMap::new();
        for ((v, _, d, t), members) in &by_class {
            by_direction
                .entry((v, *d, *t))
                .or_default()
                .extend_from_slice(members);
        }
        Controls {
            by_class,
            by_direction,
            by_label,
            sizes,
            rates: RefCell::default(),
        }
    }

    /// Lowest and highest median rate of the pool's control series, when
    /// they differ by more than [`SIZE_FACTOR`]: a pool of unlike work.
    /// Why: without sizes the class pool may mix a 30 KB object (slow
    /// start) with 8 MB ones, and a clean target then reads "throttled";
    /// controls of like work on one path agree well within 2×.
    fn unlike_spread(&self, ds: &Dataset, pool: &[usize]) -> Option<(f64, f64)> {
        let mut rates = self.rates.borrow_mut();
        let mut lo = f64::INFINITY;
        let mut hi = 0.0f64;
        for &c in pool {
            let m = *rates
                .entry(c)
                .or_insert_with(|| median_of(ds.series[c].obs.iter().map(|o| o.rate)));
            if let Some(m) = m.filter(|m| *m > 0.0) {
                lo = lo.min(m);
                hi = hi.max(m);
            }
        }
        (hi > lo * SIZE_FACTOR).then_some((lo, hi))
    }

    /// Every control series of a vantage and direction (any class): used to
    /// tell "this URL fails" from "everything fails here".
    pub fn all_of<'s>(&'s self, vantage: &'s str, dir: Direction, t: Transport) -> &'s [usize] {
        self.by_direction
            .get(&(vantage, dir, t))
            .map_or(&[], |v| v.as_slice())
    }

    /// The controls of series `i` (a target, or a control compared with the
    /// other controls), or why there are none.
    pub fn choose(&self, ds: &Dataset, i: usize) -> Result<Match, String> {
        let s = &ds.series[i];
        let class = s.class.map_or("unknown", |c| c.as_str());
        let dir = s.direction.as_str();
        if s.group == Group::Target && !s.controls.is_empty() {
            let mut found = Vec::new();
            let mut other_dir = 0;
            for l in &s.controls {
                for &c in self
                    .by_label
                    .get(&(s.vantage.as_str(), l.as_str()))
                    .into_iter()
                    .flatten()
                {
                    let like = &ds.series[c];
                    if like.direction == s.direction && like.transport == s.transport {
                        found.push(c);
                    } else {
                        other_dir += 1;
                    }
                }
            }
            found.sort_unstable();
            found.dedup();
            if found.is_empty() {
                let mut why = format!(
                    "none of its explicit controls ({}) was measured at this vantage in direction {dir}",
                    s.controls.join(", ")
                );
                if other_dir > 0 {
                    why += &format!(" ({other_dir} series in the other direction)");
                }
                return Err(why);
            }
            return Ok(Match {
                with: ComparedWith::Explicit,
                controls: found,
            });
        }
        let pool: Vec<usize> = self
            .by_class
            .get(&(s.vantage.as_str(), s.class, s.direction, s.transport))
            .into_iter()
            .flatten()
            .copied()
            .filter(|&c| c != i)
            .collect();
        if pool.is_empty() {
            let what = if s.group == Group::Control {
                "no other control"
            } else {
                "no control"
            };
            return Err(format!(
                "{what} of class {class}, direction {dir} at vantage {}",
                s.vantage
            ));
        }
        let size = self.sizes[&i];
        let known: Vec<usize> = pool
            .iter()
            .copied()
            .filter(|&c| self.sizes[&c].is_finite())
            .collect();
        if !size.is_finite() || known.is_empty() {
            // A control row is one of the pool: without sizes, a control
            // far from the others cannot be told from a smaller object.
            let mut all = pool.clone();
            if s.group == Group::Control {
                all.push(i);
            }
            if let Some((lo, hi)) = self.unlike_spread(ds, &all) {
                return Err(format!(
                    "sizes unknown, and the controls of class {class}, direction {dir} \
                     differ {:.1}× among themselves ({}–{}): unlike work, not compared \
                     (record object_bytes, or name the controls: control = [...])",
                    hi / lo,
                    fmt_bps(lo),
                    fmt_bps(hi)
                ));
            }
            return Ok(Match {
                with: ComparedWith::Class,
                controls: pool,
            });
        }
        let near: Vec<usize> = known
            .into_iter()
            .filter(|&c| {
                let r = self.sizes[&c] / size;
                (1.0 / SIZE_FACTOR..=SIZE_FACTOR).contains(&r)
            })
            .collect();
        if near.is_empty() {
            let mut sizes: Vec<String> = pool
                .iter()
                .filter(|&&c| self.sizes[&c].is_finite())
                .map(|&c| fmt_size(self.sizes[&c]))
                .collect();
            sizes.sort();
            sizes.dedup();
            return Err(format!(
                "no {}control of class {class}, direction {dir} within {SIZE_FACTOR}× of its size {} \
                 (controls: {}): not compared with unlike work",
                if s.group == Group::Control { "other " } else { "" },
                fmt_size(size),
                sizes.join(", ")
            ));
        }
        Ok(Match {
            with: ComparedWith::SizeMatched,
            controls: near,
        })
    }
}

/// `600 KB`, `8.0 MB`, `4.0 KB`.
pub fn fmt_size(b: f64) -> String {
    if b >= 1e6 {
        format!("{:.1} MB", b / 1e6)
    } else if b >= 1e3 {
        format!("{:.0} KB", b / 1e3)
    } else {
        format!("{b:.0} B")
    }
}
