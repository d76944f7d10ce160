//! Evidence of absence for `scope = ab` rows (issue 22.2): the same
//! standard as URL rows, from the same code ([`crate::analyze::judge::absence`]).
//! A name × variant is `ok` only when the interval of its ratio (the median
//! of its per-round ratios to the control names of the same rounds) lies
//! above the threshold **and** its slowed share's one-sided 95% upper bound
//! is below 10%; else `inconclusive`, saying what cannot be excluded, with
//! `needs_rounds` (each name × variant is fetched once a round).

use crate::analyze::base::verdict::{Metric, Test};
use crate::analyze::base::AnalyzeOptions;
use crate::analyze::judge::absence::{missing, Missing};
use crate::analyze::judge::compare::{Cmp, Share};
use crate::analyze::judge::kind::{slowed, Kind};
use crate::analyze::stats::{
    bootstrap_medians, exact_ratio_ci, median, median_atoms, ratio_ci, ORDER_STAT_MAX_N,
};

/// A row's comparison and slowed share, in the terms of the URL rows.
pub struct Evidence {
    pub cmp: Cmp,
    pub share: Share,
}

/// 95% interval of the median of `ratios` (sorted): the exact bootstrap
/// distribution of the median up to [`ORDER_STAT_MAX_N`] ratios, seeded
/// resampling above. `None` below `min_n` ratios.
fn median_ci(ratios: &[f64], o: &AnalyzeOptions) -> Option<(f64, f64)> {
    if ratios.len() < o.min_n.max(1) {
        return None;
    }
    if ratios.len() <= ORDER_STAT_MAX_N {
        return exact_ratio_ci(&median_atoms(ratios), &[(1.0, 1.0)]);
    }
    let b = bootstrap_medians(ratios, o.seed);
    ratio_ci(&b, &vec![1.0; b.len()])
}

/// The evidence of one side: `x` its sorted rates, `ctrl` the sorted rates
/// of the control names in its rounds, `ratios` its sorted per-round
/// ratios, `p` its rank test's p-value.
pub fn evidence(
    x: &[f64],
    ctrl: &[f64],
    ratios: &[f64],
    metric: Metric,
    p: Option<f64>,
    o: &AnalyzeOptions,
) -> Evidence {
    let fin = |v: &[f64]| if v.is_empty() { f64::NAN } else { median(v) };
    let cmp = Cmp {
        kind: Kind::Rate,
        metric,
        n: ratios.len(),
        n_c: ctrl.len(),
        med_t: fin(x),
        med_c: fin(ctrl),
        ratio: (!ratios.is_empty()).then(|| median(ratios)),
        ci: median_ci(ratios, o),
        p,
        q: None,
        test: Test::Unpaired,
        n_pairs: ratios.len(),
        judged: true,
        seeded: ratios.len() > ORDER_STAT_MAX_N,
        deep: None,
    };
    let count = |v: &[f64]| {
        if ctrl.is_empty() {
            0
        } else {
            v.iter().filter(|&&r| slowed(Kind::Rate, r, ctrl)).count()
        }
    };
    let share = Share {
        slowed: count(x),
        n: if ctrl.is_empty() { 0 } else { x.len() },
        c_slowed: count(ctrl),
        n_c: ctrl.len(),
        ..Default::default()
    };
    Evidence { cmp, share }
}

impl Evidence {
    /// What keeps the row from `ok` (None: `ok` is evidenced).
    pub fn missing(&self, o: &AnalyzeOptions) -> Option<Missing> {
        missing(&[&self.cmp], Some(&self.share), 1, o)
    }

    /// Whether the ratio half of the evidence holds: the interval (alpha
    /// spent over looks with `sequential`) above the threshold.
    pub fn ratio_excluded(&self, o: &AnalyzeOptions) -> bool {
        crate::analyze::judge::absence::ratio_excluded(&self.cmp, o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rates around 20 Mbit/s (±10%, deterministic), `slow` of them at
    /// 130 kbit/s; controls likewise, two a round.
    fn side(n: usize, slow: usize) -> Evidence {
        let wobble = |i: usize| 20e6 * (0.9 + 0.2 * ((i * 7919) % 101) as f64 / 100.0);
        let mut x: Vec<f64> = (0..n)
            .map(|i| if i < slow { 130e3 } else { wobble(i) })
            .collect();
        let mut ctrl: Vec<f64> = (0..2 * n).map(|i| wobble(i + 1000)).collect();
        let mut ratios: Vec<f64> = x
            .iter()
            .enumerate()
            .map(|(i, v)| v / ((ctrl[2 * i] + ctrl[2 * i + 1]) / 2.0))
            .collect();
        for v in [&mut x, &mut ctrl, &mut ratios] {
            crate::analyze::stats::sort(v);
        }
        evidence(
            &x,
            &ctrl,
            &ratios,
            Metric::Steady,
            None,
            &AnalyzeOptions::default(),
        )
    }

    #[test]
    fn one_of_twelve_slowed_is_not_ok() {
        let o = AnalyzeOptions::default();
        let e = side(12, 1);
        // The median half holds: 11 of 12 are like the controls.
        assert!(e.ratio_excluded(&o), "{:?}", e.cmp.ci);
        let m = e.missing(&o).expect("not ok");
        assert!(
            m.text
                .starts_with("cannot exclude a partial throttle: 1/12 fetches slowed, up to"),
            "{}",
            m.text
        );
    }

    #[test]
    fn none_of_thirty_with_a_tight_interval_is_ok() {
        let o = AnalyzeOptions::default();
        let e = side(30, 0);
        let (lo, hi) = e.cmp.ci.unwrap();
        assert!(lo > 0.8 && hi < 1.25, "{lo}–{hi}");
        assert!(e.missing(&o).is_none());
        // Six clean rounds: the median half, not the share (0/6 allows 39%).
        let e = side(6, 0);
        assert!(e.ratio_excluded(&o));
        let m = e.missing(&o).expect("not ok at six rounds");
        assert_eq!(m.rounds, Some(23), "{}", m.text);
    }
}
