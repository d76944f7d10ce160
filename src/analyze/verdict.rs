//! The decision rules (issue 4; `docs/method.md`).
//!
//! Every target URL series, every host+class aggregate of targets and every
//! control URL (against the other controls) is compared with the control pool
//! of its class at its vantage:
//! - `blocked` when more than half of its fetches failed (and the controls
//!   did not fail as much);
//! - `inconclusive` when no control of the class exists, when either side
//!   has fewer than `min_n` measured fetches, or when the effect is there
//!   (ratio ≤ threshold) without p < alpha;
//! - `throttled` when ratio ≤ threshold and p < alpha with n ≥ min_n on both
//!   sides — for text, by the steady rate, the total time or the TLS time;
//! - `ok` otherwise.

use std::collections::{BTreeMap, HashMap};

use anyhow::Result;

use super::compare::{compare, merge_failures, mi, n_metrics, Cmp, Controls, Sample, METRICS};
use super::fingerprint::{aggregate, fetch_print, FetchPrint};
use super::load::{Dataset, Failure};
use super::stats::{seed_for, sort, Pool};
use super::timeline::TraceCollector;
use super::{class_str, AnalyzeOptions, Mechanism, Metric, Scope, Verdict, VerdictKind};
use crate::probe::spec::{Class, Group};
use crate::record::Window;

/// Text objects smaller than this (mean body) are judged by time only: their
/// transfer is over before any rate limit shows as a rate.
pub const TEXT_RATE_MIN_BYTES: f64 = 128.0 * 1024.0;

/// A verdict row plus the series it aggregates (for the fingerprint).
pub struct Row {
    pub verdict: Verdict,
    pub members: Vec<usize>,
    failures: Vec<Failure>,
    n_fetches: usize,
}

#[allow(clippy::too_many_arguments)]
fn judge(
    opts: &AnalyzeOptions,
    mut v: Verdict,
    s: &Sample,
    controls: Option<&Controls>,
    seed: u64,
) -> Verdict {
    let n_failed = s.n_failed();
    v.n_failed = n_failed;
    v.failure = s.dominant_failure().map(|f| f.error.clone());
    v.n = s.vals[0].len();
    let class = class_str(v.class);
    if s.n_fetches > 0 && n_failed * 2 > s.n_fetches {
        let f = s.dominant_failure().expect("failures exist");
        let ctl_fail = controls.filter(|c| c.n_fetches > 0 && c.n_failed * 2 > c.n_fetches);
        if let Some(c) = ctl_fail {
            v.verdict = VerdictKind::Inconclusive;
            v.reason = format!(
                "{n_failed}/{} fetches failed ({} ×{}), but so did {}/{} {class} controls: \
                 the network, not this URL",
                s.n_fetches, f.error, f.count, c.n_failed, c.n_fetches
            );
        } else {
            v.verdict = VerdictKind::Blocked;
            v.n = s.n_fetches;
            v.reason = format!(
                "{n_failed}/{} fetches failed, mostly {} ({}) in phase {}",
                s.n_fetches,
                f.error,
                f.count,
                if f.phase.is_empty() { "?" } else { &f.phase }
            );
        }
        return v;
    }
    let Some(class_val) = v.class else {
        v.verdict = VerdictKind::Inconclusive;
        v.reason = "class unknown: nothing to compare it with".into();
        return v;
    };
    let Some(c) = controls.filter(|c| c.n_fetches > 0) else {
        v.verdict = VerdictKind::Inconclusive;
        v.reason = format!("no control of class {class} at vantage {}", v.vantage);
        return v;
    };
    let metrics: &[Metric] = if class_val == Class::Text {
        &METRICS
    } else {
        &METRICS[..1]
    };
    let cmps: Vec<Cmp> = metrics
        .iter()
        .map(|&m| compare(m, &s.vals[mi(m)], c, seed_for(seed, &[&[mi(m) as u8]])))
        .collect();
    let mut kinds: Vec<VerdictKind> = cmps.iter().map(|x| x.kind(opts)).collect();
    let small_text =
        class_val == Class::Text && (s.mean_body.is_nan() || s.mean_body < TEXT_RATE_MIN_BYTES);
    // The rate of a small text object is reported, not judged: neither an
    // effect nor a lack of significance on it may decide the row (too few
    // fetches still make every comparison, and so the row, inconclusive).
    if small_text && cmps[0].enough(opts) {
        kinds[0] = VerdictKind::Ok;
    }
    // The deciding comparison: the throttled one with the smallest ratio, else
    // the first inconclusive one showing the effect, else the rate.
    let pick = (0..cmps.len())
        .filter(|&i| kinds[i] == VerdictKind::Throttled)
        .min_by(|&a, &b| {
            let r = |i: usize| cmps[i].ratio.unwrap_or(f64::INFINITY);
            r(a).total_cmp(&r(b))
        })
        .or_else(|| {
            (0..cmps.len()).find(|&i| kinds[i] == VerdictKind::Inconclusive && cmps[i].effect(opts))
        })
        .unwrap_or(if small_text { 1 } else { 0 });
    let d = &cmps[pick];
    v.verdict = kinds[pick];
    v.metric = Some(d.metric);
    v.n = d.n;
    v.n_control = d.n_c;
    let rate = &cmps[0];
    v.median_bps = rate.med_t.is_finite().then_some(rate.med_t);
    v.control_median_bps = rate.med_c.is_finite().then_some(rate.med_c);
    v.ratio = d.ratio;
    v.ratio_ci_low = d.ci.map(|x| x.0);
    v.ratio_ci_high = d.ci.map(|x| x.1);
    v.p_value = d.p;
    let mut reason = match v.verdict {
        VerdictKind::Inconclusive if !d.enough(opts) => format!(
            "too few measured fetches (need {} each side): {}",
            opts.min_n,
            d.describe()
        ),
        VerdictKind::Inconclusive => format!(
            "slower but not significant (alpha {}): {}",
            opts.alpha,
            d.describe()
        ),
        _ => d.describe(),
    };
    for (i, x) in cmps.iter().enumerate() {
        if i != pick && x.n > 0 {
            reason += &format!("; {}", x.describe());
        }
    }
    if small_text {
        reason += "; rate not judged: text objects under 128 KiB are judged by total and TLS time";
    }
    if n_failed > 0 {
        reason += &format!("; {n_failed} failed fetches");
    }
    v.reason = reason;
    v
}

fn blank(vantage: &str, scope: Scope, class: Option<Class>, control: bool) -> Verdict {
    Verdict {
        vantage: vantage.to_string(),
        scope,
        url: String::new(),
        host: String::new(),
        sni: String::new(),
        class,
        control,
        n: 0,
        n_control: 0,
        median_bps: None,
        control_median_bps: None,
        ratio: None,
        ratio_ci_low: None,
        ratio_ci_high: None,
        p_value: None,
        verdict: VerdictKind::Ok,
        mechanism: None,
        plateau_bps: None,
        burst_bytes: None,
        metric: None,
        n_failed: 0,
        failure: None,
        reason: String::new(),
    }
}

/// URL and host rows for every vantage.
pub fn evaluate(ds: &Dataset, opts: &AnalyzeOptions) -> Vec<Row> {
    // Control pools per (vantage, class).
    let mut ctl: BTreeMap<(&str, Option<Class>), Vec<usize>> = BTreeMap::new();
    for (i, s) in ds.series.iter().enumerate() {
        if s.group == Group::Control {
            ctl.entry((s.vantage.as_str(), s.class))
                .or_default()
                .push(i);
        }
    }
    let sample_of = |members: &[usize], nm: usize| {
        let mut vals: [Vec<f64>; 3] = Default::default();
        let mut failures = Vec::new();
        let mut n_fetches = 0;
        let mut body = (0.0, 0usize);
        for &i in members {
            let s = &ds.series[i];
            vals[0].extend_from_slice(&s.rate);
            if nm == 3 {
                vals[1].extend_from_slice(&s.total_ms);
                vals[2].extend_from_slice(&s.tls_ms);
            }
            n_fetches += s.n_fetches;
            body.0 += s.body_sum;
            body.1 += s.body_n;
            merge_failures(&mut failures, &s.failures);
        }
        vals.iter_mut().for_each(|v| sort(v));
        Sample {
            vals,
            n_fetches,
            mean_body: if body.1 > 0 {
                body.0 / body.1 as f64
            } else {
                f64::NAN
            },
            failures,
        }
    };
    let nm_of = |c: Option<Class>| n_metrics(c);
    let controls: HashMap<(&str, Option<Class>), Controls> = ctl
        .iter()
        .map(|(&(v, c), members)| {
            let nm = nm_of(c);
            let pool = sample_of(members, nm);
            let n_failed = pool.n_failed();
            let key: [&[u8]; 2] = [v.as_bytes(), class_str(c).as_bytes()];
            let pools = pool.vals.map(Pool::from_sorted); // sample_of sorted them
            let ctl = Controls::new(pools, pool.n_fetches, n_failed, opts.seed, &key, nm);
            ((v, c), ctl)
        })
        .collect();
    let mut rows = Vec::new();
    let mut hosts: BTreeMap<(&str, &str, Option<Class>), Vec<usize>> = BTreeMap::new();
    for (i, s) in ds.series.iter().enumerate() {
        let control = s.group == Group::Control;
        let key: [&[u8]; 4] = [
            s.vantage.as_bytes(),
            s.url.as_bytes(),
            s.sni.as_bytes(),
            s.host.as_bytes(),
        ];
        let seed = seed_for(
            opts.seed,
            &[&key[..], &[b"url", class_str(s.class).as_bytes()]].concat(),
        );
        let nm = nm_of(s.class);
        let sample = sample_of(&[i], nm);
        let mut v = blank(&s.vantage, Scope::Url, s.class, control);
        v.url = s.url.clone();
        v.host = s.host.clone();
        v.sni = s.sni.clone();
        let pool_key = (s.vantage.as_str(), s.class);
        let v = if control {
            // Leave-one-out: this control against the others, when they suffice.
            let all = &controls[&pool_key];
            let others = all.pools[0].len() - sample.vals[0].len();
            if others >= opts.min_n {
                let pools = [0, 1, 2].map(|m| all.pools[m].without(&sample.vals[m]));
                let loo: Vec<&[u8]> = [&key[..], &[b"loo"]].concat();
                let c = Controls::new(
                    pools,
                    all.n_fetches - s.n_fetches,
                    all.n_failed - s.n_failed(),
                    opts.seed,
                    &loo,
                    nm,
                );
                judge(opts, v, &sample, Some(&c), seed)
            } else {
                let mut v = judge(opts, v, &sample, controls.get(&pool_key), seed);
                v.reason += "; the only control of its class: compared with the pool it is part of";
                v
            }
        } else {
            hosts
                .entry((s.vantage.as_str(), s.host.as_str(), s.class))
                .or_default()
                .push(i);
            judge(opts, v, &sample, controls.get(&pool_key), seed)
        };
        rows.push(Row {
            verdict: v,
            members: vec![i],
            failures: sample.failures,
            n_fetches: sample.n_fetches,
        });
    }
    for ((vantage, host, class), members) in hosts {
        let seed = seed_for(
            opts.seed,
            &[
                vantage.as_bytes(),
                host.as_bytes(),
                class_str(class).as_bytes(),
                b"host",
            ],
        );
        let sample = sample_of(&members, nm_of(class));
        let mut v = blank(vantage, Scope::Host, class, false);
        v.host = host.to_string();
        let first = &ds.series[members[0]].sni;
        v.sni = if members.iter().all(|&i| &ds.series[i].sni == first) {
            first.clone()
        } else {
            "*".into()
        };
        let mut v = judge(opts, v, &sample, controls.get(&(vantage, class)), seed);
        // An aggregate concludes no more than its URLs could: too few rounds
        // stay inconclusive even when several URLs add up to min-n fetches.
        let most = members
            .iter()
            .map(|&i| ds.series[i].rate.len())
            .max()
            .unwrap_or(0);
        if v.verdict == VerdictKind::Throttled && most < opts.min_n {
            v.verdict = VerdictKind::Inconclusive;
            v.reason = format!(
                "too few measured fetches per URL (at most {most}, need {}): {}",
                opts.min_n, v.reason
            );
        }
        rows.push(Row {
            verdict: v,
            members,
            failures: sample.failures,
            n_fetches: sample.n_fetches,
        });
    }
    rows
}

/// Fill mechanism, plateau and burst of throttled and blocked rows.
pub fn fingerprint_rows(ds: &Dataset, rows: &mut [Row], windows: &[&Window]) -> Result<()> {
    let needs = |r: &Row| {
        matches!(
            r.verdict.verdict,
            VerdictKind::Throttled | VerdictKind::Blocked
        )
    };
    let mut needed: Vec<usize> = rows
        .iter()
        .filter(|r| needs(r))
        .flat_map(|r| r.members.iter().copied())
        .collect();
    needed.sort_unstable();
    needed.dedup();
    if needed.is_empty() {
        return Ok(());
    }
    let mut tc = TraceCollector::new(ds, &needed);
    tc.collect(ds, windows)?;
    let prints: HashMap<usize, Vec<FetchPrint>> = tc
        .traces
        .iter()
        .map(|(&i, traces)| {
            (
                i,
                traces
                    .iter()
                    .filter_map(|t| fetch_print(&t.main()))
                    .collect(),
            )
        })
        .collect();
    for r in rows.iter_mut().filter(|r| needs(r)) {
        let p: Vec<FetchPrint> = r
            .members
            .iter()
            .flat_map(|i| prints.get(i).into_iter().flatten().cloned())
            .collect();
        let fp = aggregate(&p, &r.failures, r.n_fetches);
        let v = &mut r.verdict;
        v.mechanism = Some(fp.mechanism);
        if v.verdict == VerdictKind::Throttled || fp.mechanism == Mechanism::Freeze {
            v.plateau_bps = fp.plateau_bps;
            v.burst_bytes = fp.burst_bytes;
        }
        v.reason += &format!("; {}", fp.evidence);
    }
    Ok(())
}
