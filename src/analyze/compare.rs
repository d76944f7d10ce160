//! Comparing a sample with its controls on one metric: medians, ratio,
//! bootstrap CI and one-sided Mann–Whitney p.

use super::load::Failure;
use super::output::{fmt_bps, fmt_ms, fmt_p, fmt_ratio};
use super::stats::{
    bootstrap_medians, mann_whitney, median, ratio_ci, seed_for, Alternative, Pool,
};
use super::{AnalyzeOptions, Metric, VerdictKind};
use crate::probe::spec::Class;

pub(super) const METRICS: [Metric; 3] = [Metric::Steady, Metric::TotalTime, Metric::TlsTime];

pub(super) fn mi(m: Metric) -> usize {
    match m {
        Metric::Steady => 0,
        Metric::TotalTime => 1,
        Metric::TlsTime => 2,
    }
}

/// A sample of fetches: one URL series, or a host aggregate.
pub(super) struct Sample {
    pub(super) vals: [Vec<f64>; 3],
    pub(super) n_fetches: usize,
    /// Mean body size of the fetches without error (NaN: unknown).
    pub(super) mean_body: f64,
    pub(super) failures: Vec<Failure>,
}

impl Sample {
    pub(super) fn n_failed(&self) -> usize {
        self.failures.iter().map(|f| f.count).sum()
    }
    pub(super) fn dominant_failure(&self) -> Option<&Failure> {
        self.failures.iter().max_by_key(|f| f.count)
    }
}

pub(super) fn merge_failures(into: &mut Vec<Failure>, from: &[Failure]) {
    for f in from {
        match into.iter_mut().find(|g| g.error == f.error) {
            Some(g) => {
                g.count += f.count;
                g.body_bytes.extend_from_slice(&f.body_bytes);
            }
            None => into.push(f.clone()),
        }
    }
}

/// The controls of one class at one vantage.
pub(super) struct Controls {
    pub(super) pools: [Pool; 3],
    pub(super) boot: [Vec<f64>; 3],
    pub(super) n_fetches: usize,
    pub(super) n_failed: usize,
}

impl Controls {
    /// `nm` metrics are prepared (1: the rate only; 3: text, all three).
    pub(super) fn new(
        pools: [Pool; 3],
        n_fetches: usize,
        n_failed: usize,
        seed: u64,
        key: &[&[u8]],
        nm: usize,
    ) -> Self {
        let boot = [0, 1, 2].map(|i| {
            if i >= nm {
                return Vec::new();
            }
            let mut parts = key.to_vec();
            let tag = [i as u8];
            parts.push(&tag);
            bootstrap_medians(&pools[i].sorted, seed_for(seed, &parts))
        });
        Controls {
            pools,
            boot,
            n_fetches,
            n_failed,
        }
    }
}

pub(super) fn n_metrics(c: Option<Class>) -> usize {
    if c == Some(Class::Text) {
        3
    } else {
        1
    }
}

/// A time metric (total, TLS) only shows an *effect* when the target is also
/// this much slower in absolute terms. On fast paths the times are a few ms
/// and scheduling noise alone makes ratios like 1.2 ms vs 2.6 ms (0.45);
/// the throttling this looks for inflates by hundreds of ms (a 30 KB page at
/// 130 kbit/s takes ~1.8 s; the TLS inflation seen in Kazakhstan and Türkiye
/// was of that order).
pub(super) const MIN_TIME_INFLATION_MS: f64 = 20.0;

/// One comparison of a sample with the controls on one metric.
pub(super) struct Cmp {
    pub(super) metric: Metric,
    pub(super) n: usize,
    pub(super) n_c: usize,
    pub(super) med_t: f64,
    pub(super) med_c: f64,
    pub(super) ratio: Option<f64>,
    pub(super) ci: Option<(f64, f64)>,
    pub(super) p: Option<f64>,
}

pub(super) fn compare(metric: Metric, t: &[f64], c: &Controls, seed: u64) -> Cmp {
    let i = mi(metric);
    let pool = &c.pools[i];
    let med_t = median(t);
    let med_c = pool.median();
    let boot_t = bootstrap_medians(t, seed);
    let (ratio, ci, alt) = if metric == Metric::Steady {
        let r = (med_c > 0.0).then(|| med_t / med_c);
        (r, ratio_ci(&boot_t, &c.boot[i]), Alternative::Less)
    } else {
        let r = (med_t > 0.0).then(|| med_c / med_t);
        (r, ratio_ci(&c.boot[i], &boot_t), Alternative::Greater)
    };
    Cmp {
        metric,
        n: t.len(),
        n_c: pool.len(),
        med_t,
        med_c,
        ratio: ratio.filter(|r| r.is_finite()),
        ci,
        p: mann_whitney(t, pool, alt),
    }
}

impl Cmp {
    pub(super) fn enough(&self, o: &AnalyzeOptions) -> bool {
        self.n >= o.min_n && self.n_c >= o.min_n
    }
    pub(super) fn effect(&self, o: &AnalyzeOptions) -> bool {
        let big_enough = match self.metric {
            Metric::Steady => true,
            Metric::TotalTime | Metric::TlsTime => self.med_t - self.med_c >= MIN_TIME_INFLATION_MS,
        };
        big_enough && self.ratio.is_some_and(|r| r <= o.threshold)
    }
    pub(super) fn significant(&self, o: &AnalyzeOptions) -> bool {
        self.p.is_some_and(|p| p < o.alpha)
    }
    pub(super) fn kind(&self, o: &AnalyzeOptions) -> VerdictKind {
        if !self.enough(o) {
            VerdictKind::Inconclusive
        } else if self.effect(o) && self.significant(o) {
            VerdictKind::Throttled
        } else if self.effect(o) {
            VerdictKind::Inconclusive
        } else {
            VerdictKind::Ok
        }
    }
    pub(super) fn describe(&self) -> String {
        let (what, t, c, rname) = match self.metric {
            Metric::Steady => ("median", fmt_bps(self.med_t), fmt_bps(self.med_c), "ratio"),
            Metric::TotalTime => (
                "total time median",
                fmt_ms(self.med_t),
                fmt_ms(self.med_c),
                "speed ratio",
            ),
            Metric::TlsTime => (
                "TLS time median",
                fmt_ms(self.med_t),
                fmt_ms(self.med_c),
                "speed ratio",
            ),
        };
        let mut s = format!("{what} {t} vs {c} control");
        if let Some(r) = self.ratio {
            s += &format!(" ({rname} {}", fmt_ratio(r));
            if let Some((lo, hi)) = self.ci {
                s += &format!(", CI {}–{}", fmt_ratio(lo), fmt_ratio(hi));
            }
            s += ")";
        }
        if let Some(p) = self.p {
            s += &format!(", p={}", fmt_p(p));
        }
        s + &format!(", n={}/{}", self.n, self.n_c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmp(metric: Metric, med_t: f64, med_c: f64) -> Cmp {
        Cmp {
            metric,
            n: 10,
            n_c: 10,
            med_t,
            med_c,
            ratio: Some(if metric == Metric::Steady {
                med_t / med_c
            } else {
                med_c / med_t
            }),
            ci: None,
            p: Some(1e-4),
        }
    }

    #[test]
    fn millisecond_time_differences_are_not_an_effect() {
        let o = AnalyzeOptions::default();
        assert_eq!(cmp(Metric::TlsTime, 2.6, 1.2).kind(&o), VerdictKind::Ok);
        assert_eq!(
            cmp(Metric::TotalTime, 1800.0, 40.0).kind(&o),
            VerdictKind::Throttled
        );
        assert_eq!(
            cmp(Metric::Steady, 1.0, 100.0).kind(&o),
            VerdictKind::Throttled
        );
    }
}
