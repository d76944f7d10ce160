//! Building the rows: which fetches each verdict row is about and what they
//! are compared with (see `docs/method.md`). The decision itself, once every
//! test of a vantage has its q-value, is in [`super::decide`].
//!
//! Rows: every URL series (targets against their matched controls, controls
//! against the *other* matched controls), and every host aggregate of target
//! series (same vantage, host, SNI, class and direction), whose URLs are each
//! compared with their own controls (one stratum per URL).

use std::collections::BTreeMap;

use super::compare::{compare, share, Cmp, Share, Side, Stratum};
use super::ctlpool::{value, PoolCache};
use super::kind::Kind;
use super::matching::{Controls, Match};
use crate::analyze::base::verdict::{
    class_str, empty_verdict, ComparedWith, Metric, Scope, Verdict, VerdictKind,
};
use crate::analyze::base::AnalyzeOptions;
use crate::analyze::input::load::{merge_failures, Dataset, Failure, RateSrc, Series};
use crate::analyze::stats::seed_for;
use crate::types::Direction;
use crate::types::{Class, Group};

/// Downloads smaller than this (mean size) are judged by time only, whatever
/// their class: their transfer is over before any rate limit shows as a
/// rate, and their "rate" is mostly slow start and scheduling noise (a 30 KB
/// API response reads 13 or 100 Mbit/s on the same clean path).
pub const SMALL_OBJECT_BYTES: f64 = 128.0 * 1024.0;

/// A verdict row before and after its decision, plus what the fingerprint
/// needs.
pub struct Row {
    pub verdict: Verdict,
    /// Series aggregated by the row (targets, or the control itself).
    pub members: Vec<usize>,
    pub failures: Vec<Failure>,
    pub n_fetches: usize,
    /// Comparisons, in metric order (rate first).
    pub cmps: Vec<Cmp>,
    pub share: Option<Share>,
    /// Set when the row was decided before any test (blocked, no controls…).
    pub early: bool,
    /// The row is a host aggregate whose largest URL has this many values.
    pub most_per_url: usize,
    /// A small download: its rate is reported, not judged (times decide).
    pub small: bool,
    /// Anytime-valid evidence (only with `AnalyzeOptions::sequential`).
    pub seq: Option<SeqEvidence>,
}

/// A row's anytime-valid evidence (filled by `super::sequential`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SeqEvidence {
    /// The row's e-value (mean of the deep and share e-processes).
    pub e: f64,
    /// e-BH over its family rejects "no throttle".
    pub sig: bool,
    /// BH of 1/e over the family: the least alpha at which e-BH rejects.
    pub q: f64,
}

fn blank(s: &Series, scope: Scope) -> Verdict {
    Verdict {
        vantage: s.vantage.clone(),
        scope,
        host: s.host.clone(),
        sni: s.sni.clone(),
        class: s.class,
        direction: s.direction,
        transport: s.transport,
        control: s.group == Group::Control,
        ..empty_verdict()
    }
}

/// The rate column most target fetches used.
fn rate_metric(ds: &Dataset, members: &[usize]) -> Metric {
    let mut counts = [0usize; 5];
    for &i in members {
        for o in &ds.series[i].obs {
            counts[o.src as usize] += 1;
        }
    }
    let best = (1..5).max_by_key(|&i| (counts[i], i == 1)).unwrap_or(1);
    match best {
        1 => Metric::Steady,
        2 => Metric::Goodput,
        3 => Metric::Upload,
        _ => Metric::Achieved,
    }
}

const _: () = {
    // The order `rate_metric` indexes by.
    assert!(RateSrc::Steady as usize == 1 && RateSrc::Achieved as usize == 4);
};

/// Strata on metric `k`: each member with its own matched controls.
fn strata(ds: &Dataset, cache: &mut PoolCache, parts: &[(usize, &Match)], k: Kind) -> Vec<Stratum> {
    parts
        .iter()
        .map(|&(i, m)| {
            let mut t = Side::default();
            for o in &ds.series[i].obs {
                t.push(value(o, k), o.pair, Some((i, o.id)));
            }
            Stratum {
                t,
                c: cache.get(ds, &m.controls, k),
            }
        })
        .collect()
}

/// Everything but the decision for one row over `parts` (member, controls).
#[allow(clippy::too_many_arguments)]
fn prepare(
    ds: &Dataset,
    ctl: &Controls,
    cache: &mut PoolCache,
    opts: &AnalyzeOptions,
    mut v: Verdict,
    members: Vec<usize>,
    matches: &[Option<Result<Match, String>>],
    seed_key: &[&[u8]],
    same_as: Option<(Vec<Cmp>, Option<Share>)>,
) -> Row {
    let mut failures = Vec::new();
    let mut n_fetches = 0;
    let mut blocking = 0;
    let mut censored = 0;
    let mut sizes = Vec::new();
    for &i in &members {
        let s = &ds.series[i];
        merge_failures(&mut failures, &s.failures);
        n_fetches += s.n_fetches;
        blocking += s.n_blocking();
        censored += s.obs.iter().filter(|o| o.censored).count();
        sizes.extend(s.obs.iter().map(|o| o.size).filter(|x| x.is_finite()));
    }
    v.n_failed = failures.iter().map(|f| f.count).sum();
    v.failure = failures
        .iter()
        .max_by_key(|f| f.count)
        .map(|f| f.error.clone());
    v.n_censored = censored;
    v.runs = crate::analyze::input::pooling::runs_of(ds, &members).len();
    let mut row = Row {
        verdict: v,
        members: members.clone(),
        failures,
        n_fetches,
        cmps: Vec::new(),
        share: None,
        early: true,
        most_per_url: members
            .iter()
            .map(|&i| ds.series[i].obs.len())
            .max()
            .unwrap_or(0),
        small: false,
        seq: None,
    };
    let v = &mut row.verdict;
    let first = &ds.series[members[0]];
    // Blocked: most fetches failed with a blocking signal or timed out
    // without moving a byte — unless the controls here fail as much.
    if n_fetches > 0 && blocking * 2 > n_fetches {
        let all = ctl.all_of(&first.vantage, first.direction, first.transport);
        let (cf, cn) = all.iter().fold((0, 0), |(f, n), &c| {
            let s = &ds.series[c];
            (f + s.n_blocking(), n + s.n_fetches)
        });
        let dominant = row
            .failures
            .iter()
            .max_by_key(|f| f.count)
            .map(|f| {
                format!(
                    "{} ×{} in phase {}",
                    f.error,
                    f.count,
                    if f.phase.is_empty() { "?" } else { &f.phase }
                )
            })
            .unwrap_or_default();
        let silent = members
            .iter()
            .map(|&i| ds.series[i].silent_timeouts)
            .sum::<usize>();
        let what = match (dominant.is_empty(), silent) {
            (false, 0) => dominant,
            (true, s) => format!("{s} timed out before a single byte"),
            (false, s) => format!("{dominant}; {s} timed out before a single byte"),
        };
        // The controls that exist here (N/NC shows them, not 0).
        v.n_control = cn;
        v.n_control_series = all.len();
        if cn > 0 && cf * 2 > cn {
            v.verdict = VerdictKind::Inconclusive;
            v.reason = format!(
                "{blocking}/{n_fetches} fetches failed ({what}), but so did {cf}/{cn} controls \
                 here: the network, not this URL"
            );
        } else {
            v.verdict = VerdictKind::Blocked;
            v.n = n_fetches;
            v.reason = format!("{blocking}/{n_fetches} fetches failed: {what}");
        }
        return row;
    }
    let Some(class) = first.class else {
        v.reason = "class unknown: nothing to compare it with".into();
        return row;
    };
    let mut parts: Vec<(usize, &Match)> = Vec::new();
    let mut why_not = Vec::new();
    for (&i, m) in members.iter().zip(matches) {
        match m {
            Some(Ok(m)) => parts.push((i, m)),
            Some(Err(e)) => why_not.push(e.clone()),
            None => {}
        }
    }
    if parts.is_empty() {
        why_not.dedup();
        v.reason = why_not.join("; ");
        return row;
    }
    let mut ctl_series: Vec<usize> = parts
        .iter()
        .flat_map(|(_, m)| m.controls.iter().copied())
        .collect();
    ctl_series.sort_unstable();
    ctl_series.dedup();
    v.n_control_series = ctl_series.len();
    v.compared_with = Some(
        parts
            .iter()
            .map(|(_, m)| m.with)
            .max_by_key(|w| match w {
                ComparedWith::Class => 2,
                ComparedWith::SizeMatched => 1,
                ComparedWith::Explicit => 0,
            })
            .expect("parts is not empty"),
    );
    if parts.len() < members.len() {
        why_not.dedup();
        v.reason = format!(
            "{} of {} URLs without comparable controls ({})",
            members.len() - parts.len(),
            members.len(),
            why_not.join("; ")
        );
    }
    let down = first.direction == Direction::Down;
    let mean_size = if sizes.is_empty() {
        f64::NAN
    } else {
        sizes.iter().sum::<f64>() / sizes.len() as f64
    };
    let small_size = mean_size.is_nan() || mean_size < SMALL_OBJECT_BYTES;
    // Text is always judged by time too (inflated handshakes were how
    // Kazakhstan and Türkiye showed); other small downloads by time only.
    row.small = down && (small_size && (class == Class::Text || mean_size.is_finite()));
    let kinds: &[Kind] = if down && (class == Class::Text || row.small) {
        &[Kind::Rate, Kind::Total, Kind::Tls]
    } else {
        &[Kind::Rate]
    };
    // A host row of one URL compares exactly what that URL's row compared:
    // unless a comparison resampled (seeded by the row), take its results.
    if let Some((cmps, share)) = same_as {
        row.cmps = cmps;
        row.share = share;
        row.early = false;
        return row;
    }
    let rate_m = rate_metric(ds, &members);
    for (j, &k) in kinds.iter().enumerate() {
        let st = strata(ds, cache, &parts, k);
        let metric = match k {
            Kind::Rate => rate_m,
            Kind::Total => Metric::TotalTime,
            Kind::Tls => Metric::TlsTime,
        };
        let tag = [j as u8];
        let seed = seed_for(opts.seed, &[seed_key, &[&tag]].concat());
        let ctl_seed = seed_for(opts.seed, &[seed_key, &[&tag, b"ctl"]].concat());
        let mut c = compare(k, metric, &st, opts, seed, ctl_seed);
        // A large download's rate is judged, not its total time: that grows
        // with size (a like-size control at half the size reads as a 0.5
        // time ratio on a bandwidth-bound path). Small ones are judged by
        // time, not rate.
        c.judged = match k {
            Kind::Rate => !row.small,
            Kind::Total => row.small,
            Kind::Tls => true,
        };
        // The share is counted on the metric that can decide the row.
        if (k == Kind::Rate && !row.small) || (k == Kind::Total && row.small) {
            row.share = Some(share(k, &st, opts));
            c.add_deep(super::deep::count(k, &st, opts));
        }
        row.cmps.push(c);
    }
    row.early = false;
    row
}

/// URL and host rows for every vantage, before the decision.
///
/// `members` are the series of one vantage: a vantage is evaluated alone,
/// so nothing at another vantage can change its rows.
pub fn evaluate(ds: &Dataset, members: &[usize], opts: &AnalyzeOptions) -> Vec<Row> {
    let ctl = Controls::new(ds, members);
    let matches: std::collections::HashMap<usize, Option<Result<Match, String>>> = members
        .iter()
        .map(|&i| (i, ds.series[i].class.is_some().then(|| ctl.choose(ds, i))))
        .collect();
    type HostKey<'a> = (
        &'a str,
        &'a str,
        &'a str,
        Option<Class>,
        Direction,
        crate::types::Transport,
    );
    let mut hosts: BTreeMap<HostKey, Vec<usize>> = BTreeMap::new();
    for &i in members {
        let s = &ds.series[i];
        if s.group != Group::Control {
            hosts
                .entry((
                    &s.vantage,
                    &s.host,
                    &s.sni,
                    s.class,
                    s.direction,
                    s.transport,
                ))
                .or_default()
                .push(i);
        }
    }
    let host_matches: Vec<Vec<Option<Result<Match, String>>>> = hosts
        .values()
        .map(|ms| ms.iter().map(|i| matches[i].clone()).collect())
        .collect();
    // Every row that will compare with a control set, so that the cache
    // drops the set's pools after the last one.
    let mut cache = PoolCache::default();
    let url_matches = members.iter().map(|i| std::slice::from_ref(&matches[i]));
    for ms in url_matches.chain(host_matches.iter().map(Vec::as_slice)) {
        for set in control_sets(ms) {
            cache.count_use(set);
        }
    }
    let mut rows = Vec::with_capacity(members.len() + hosts.len());
    let mut url_row: std::collections::HashMap<usize, usize> = Default::default();
    for &i in members {
        let s = &ds.series[i];
        let mut v = blank(s, Scope::Url);
        v.url = s.url.clone();
        v.label = s.label.clone();
        let key: [&[u8]; 6] = [
            s.vantage.as_bytes(),
            s.url.as_bytes(),
            s.sni.as_bytes(),
            s.host.as_bytes(),
            class_str(s.class).as_bytes(),
            s.direction.as_str().as_bytes(),
        ];
        let mut key = key.to_vec();
        if s.group == Group::Control {
            key.push(b"control");
        }
        let m = std::slice::from_ref(&matches[&i]);
        url_row.insert(i, rows.len());
        rows.push(prepare(
            ds,
            &ctl,
            &mut cache,
            opts,
            v,
            vec![i],
            m,
            &key,
            None,
        ));
        release(&mut cache, m);
    }
    for (((vantage, host, sni, class, dir, _), members), ms) in hosts.into_iter().zip(host_matches)
    {
        let v = blank(&ds.series[members[0]], Scope::Host);
        let same_as = match members.as_slice() {
            [i] => url_row
                .get(i)
                .map(|&r| &rows[r])
                .filter(|r| !r.early && r.members.len() == 1 && r.cmps.iter().all(|c| !c.seeded)),
            _ => None,
        }
        .map(|r| (r.cmps.clone(), r.share.clone()));
        let key: [&[u8]; 6] = [
            vantage.as_bytes(),
            host.as_bytes(),
            sni.as_bytes(),
            class_str(class).as_bytes(),
            dir.as_str().as_bytes(),
            b"host",
        ];
        rows.push(prepare(
            ds, &ctl, &mut cache, opts, v, members, &ms, &key, same_as,
        ));
        release(&mut cache, &ms);
    }
    rows
}

/// The control sets a row compares with (each once).
fn control_sets(matches: &[Option<Result<Match, String>>]) -> Vec<&[usize]> {
    let mut sets: Vec<&[usize]> = matches
        .iter()
        .filter_map(|m| match m {
            Some(Ok(m)) => Some(m.controls.as_slice()),
            _ => None,
        })
        .collect();
    sets.sort_unstable();
    sets.dedup();
    sets
}

/// A row is done with its control sets.
fn release(cache: &mut PoolCache, matches: &[Option<Result<Match, String>>]) {
    for set in control_sets(matches) {
        cache.release(set);
    }
}

/// Whether a row waits for a fingerprint (mechanism, plateau, burst).
pub fn needs_fingerprint(r: &Row) -> bool {
    matches!(
        r.verdict.verdict,
        VerdictKind::Throttled | VerdictKind::Partial | VerdictKind::Blocked
    )
}
