//! Mechanism, plateau and burst of the rows that need them (throttled,
//! partial, blocked), from the timeline windows of their fetches.
//!
//! Only the fetches that show the throttle are fingerprinted: for a
//! `partial` row (and a `throttled` one) the *slowed* fetches — a row where a
//! third of the fetches are policed would otherwise be described by the
//! normal two thirds. Without any timeline window for those fetches the
//! plateau and mechanism stay empty and `reason` says so: a rate column alone
//! cannot tell a policer from a shaper.

use std::collections::HashMap;

use anyhow::Result;

use super::print::{aggregate, fetch_print, FetchPrint};
use super::timeline::TraceCollector;
use crate::analyze::base::verdict::{Mechanism, VerdictKind};
use crate::analyze::input::load::Dataset;
use crate::analyze::judge::rows::{needs_fingerprint as needs, Row};
use crate::types::Window;

/// The (series, fetch slot) pairs a row is fingerprinted on.
fn focus(r: &Row, ds: &Dataset) -> Vec<(usize, u32)> {
    if let Some(s) = r.share.as_ref().filter(|s| !s.slowed_who.is_empty()) {
        if r.verdict.verdict != VerdictKind::Blocked {
            return s.slowed_who.clone();
        }
    }
    r.members
        .iter()
        .flat_map(|&i| (0..ds.series[i].id_sources.len() as u32).map(move |k| (i, k)))
        .collect()
}

/// Fill mechanism, plateau and burst of throttled, partial and blocked rows.
pub fn fingerprint_rows(ds: &Dataset, rows: &mut [Row], windows: &[&Window]) -> Result<()> {
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
    let mut cache: HashMap<(usize, u32), Option<FetchPrint>> = HashMap::new();
    for r in rows.iter_mut().filter(|r| needs(r)) {
        let dir = r.verdict.direction;
        let mut keys = focus(r, ds);
        keys.sort_unstable();
        keys.dedup();
        let mut prints = Vec::new();
        let mut traced = 0;
        for &(i, k) in &keys {
            let Some(t) = tc.traces.get(&i).and_then(|v| v.get(k as usize)) else {
                continue;
            };
            if t.has(dir) {
                traced += 1;
            }
            let p = cache
                .entry((i, k))
                .or_insert_with(|| fetch_print(&t.of(dir)))
                .clone();
            prints.extend(p);
        }
        let fp = aggregate(&prints, &r.failures, r.n_fetches);
        let v = &mut r.verdict;
        // Without windows only the error strings speak: resets are seen
        // directly; a plateau or a policer/shaper is not.
        if traced == 0 && fp.mechanism != Mechanism::Reset {
            v.reason += "; no timeline windows for these fetches: plateau and mechanism not \
                         estimated (a rate alone cannot tell a policer from a shaper)";
            continue;
        }
        v.mechanism = Some(fp.mechanism);
        if v.verdict != VerdictKind::Blocked || fp.mechanism == Mechanism::Freeze {
            v.plateau_bps = fp.plateau_bps;
            v.burst_bytes = fp.burst_bytes;
        }
        v.reason += &format!("; {}", fp.evidence);
        // Say when the plateau rests on transfers too short for ±5%.
        let short: Vec<&String> = prints
            .iter()
            .filter_map(|p| p.plateau_note.as_ref())
            .collect();
        if v.plateau_bps.is_some() && !short.is_empty() {
            v.reason += &format!(
                "; plateau accuracy: {}/{} fetches too short for ±5% (e.g. {})",
                short.len(),
                prints.len(),
                // The example must not depend on the order of the rows.
                short.iter().min().expect("not empty")
            );
        }
    }
    Ok(())
}
