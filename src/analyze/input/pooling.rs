//! What a vantage pools: the runs (`campaign`, `run_id`) its fetches come
//! from. A verdict over several runs of one campaign is meant (more rounds);
//! over different campaigns, or runs that fetched different URLs, it is
//! usually an accident — every local run's vantage defaults to the hostname,
//! so `analyze demo-a demo-b` mixes two scenarios. Those are warned about,
//! and `analyze --by-run` keeps runs apart (see `docs/method.md`).

use std::collections::{BTreeMap, BTreeSet};

use super::load::Dataset;

/// The runs the series `members` come from (indices into [`Dataset::runs`]).
pub fn runs_of(ds: &Dataset, members: &[usize]) -> BTreeSet<u32> {
    members
        .iter()
        .flat_map(|&i| ds.series[i].runs.iter().copied())
        .collect()
}

/// `1 run`, `3 runs`.
pub fn plural(n: usize, one: &str) -> String {
    if n == 1 {
        format!("{n} {one}")
    } else {
        format!("{n} {one}s")
    }
}

/// A warning for a vantage whose rows come from different campaigns or from
/// runs whose URL sets differ; `None` when its runs are alike.
pub fn warning(ds: &Dataset, vantage: &str, members: &[usize]) -> Option<String> {
    // Per run, the series (URL, SNI, class, group, direction) it fetched.
    let mut sets: BTreeMap<u32, BTreeSet<usize>> = BTreeMap::new();
    for &i in members {
        for &r in &ds.series[i].runs {
            sets.entry(r).or_default().insert(i);
        }
    }
    if sets.len() < 2 {
        return None;
    }
    let campaigns: BTreeSet<&str> = sets
        .keys()
        .map(|&r| ds.runs[r as usize].campaign.as_str())
        .collect();
    let name = |r: u32| {
        let id = &ds.runs[r as usize];
        if campaigns.len() > 1 {
            format!("{}/{}", id.campaign, id.run_id)
        } else {
            id.run_id.clone()
        }
    };
    let hint = "verdicts pool them as one sample; `analyze --by-run` judges each run \
                alone (or give each run its own vantage)";
    if campaigns.len() > 1 {
        let names: Vec<String> = campaigns.iter().map(|c| format!("{c:?}")).collect();
        return Some(format!(
            "vantage {vantage:?} pools {} of different campaigns ({}): {hint}",
            plural(sets.len(), "run"),
            names.join(", ")
        ));
    }
    let first = sets.values().next().expect("two runs");
    if sets.values().all(|s| s == first) {
        return None;
    }
    let each: Vec<String> = sets
        .iter()
        .take(4)
        .map(|(&r, s)| format!("{}: {}", name(r), plural(s.len(), "URL")))
        .collect();
    let more = if sets.len() > 4 { ", …" } else { "" };
    Some(format!(
        "vantage {vantage:?} pools {} whose URL sets differ ({}{more}): {hint}",
        plural(sets.len(), "run"),
        each.join(", ")
    ))
}

/// Series indexes by vantage, vantages in name order.
pub fn by_vantage(ds: &Dataset) -> Vec<(&str, Vec<usize>)> {
    // Series by vantage, vantages in name order. Each vantage is evaluated
    // and decided alone (its own controls, its own test families), on all
    // cores: thousands of small vantages cost what one large one does.
    let mut index: std::collections::HashMap<&str, usize> = Default::default();
    let mut groups: Vec<(&str, Vec<usize>)> = Vec::new();
    for (i, s) in ds.series.iter().enumerate() {
        let g = *index.entry(s.vantage.as_str()).or_insert_with(|| {
            groups.push((s.vantage.as_str(), Vec::new()));
            groups.len() - 1
        });
        groups[g].1.push(i);
    }
    groups.sort_by(|a, b| a.0.cmp(b.0));
    groups
}
