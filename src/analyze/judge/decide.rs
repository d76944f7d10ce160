//! The decision of each row, once every test at its vantage has a q-value.
//!
//! Many rows means many tests: with 40 rows at alpha 0.01 a clean network
//! would show a false "throttled" every few campaigns. So every p-value a
//! vantage's rows produce (each judged metric comparison and each slowed-share
//! test) is one hypothesis of a Benjamini–Hochberg family, and rows are
//! decided on q. Vantages are separate families: adding a vantage never
//! changes another's verdicts.
//!
//! Per row, in order (the early rules — blocked, no comparable controls —
//! were applied when the row was built):
//! 1. a judged comparison with n ≥ min-n on both sides, effect (ratio ≤
//!    threshold) and q < alpha → `throttled` (the smallest ratio decides);
//! 2. else slowed share ≥ [`PARTIAL_MIN_SHARE`], above the controls' own
//!    slowed share with q < alpha → `partial` — or `throttled` when more
//!    than half the fetches are slowed and the median effect is there (the
//!    median then lies in the slowed cluster; only the rank test lacked power);
//! 3. else too few fetches → `inconclusive`; an effect without significance
//!    → `inconclusive`; otherwise `ok` — only when the data exclude a
//!    material throttle ([`super::absence`]), else `inconclusive` saying
//!    what cannot be excluded, with `needs_rounds`.
//!
//! The median comparison's p is the smaller of the rank test's and the
//! deep-slowdown binomial test's, doubled ([`super::deep`]). With
//! `AnalyzeOptions::sequential` throttled and partial come from the
//! anytime-valid e-values instead ([`super::sequential`]).

use std::collections::BTreeMap;
use std::fmt::Write;

use super::compare::Cmp;
use super::kind::{decide_min, seq_enough};
use super::rows::Row;
use crate::analyze::base::units::{Bps, P};
use crate::analyze::base::verdict::{Scope, Test, VerdictKind};
use crate::analyze::base::AnalyzeOptions;
use crate::analyze::stats::decimal::write_fixed;
use crate::analyze::stats::inference::{benjamini_hochberg, wilson};

/// A partial throttle must slow at least this share of the fetches.
pub const PARTIAL_MIN_SHARE: f64 = 0.10;

/// Fill q-values per vantage: Benjamini–Hochberg over every test of its
/// target URL rows — the discoveries a user acts on — and separately over its
/// control URL rows (checks of the controls, nulls by design: in the targets'
/// family they would only dilute it) and over its host rows (which re-test
/// the targets' fetches pooled).
pub fn fill_q(rows: &mut [Row], o: &AnalyzeOptions) {
    let mut by: BTreeMap<(&str, u8), Vec<usize>> = BTreeMap::new();
    for (i, r) in rows.iter().enumerate() {
        let family = match (r.verdict.scope, r.verdict.control) {
            (Scope::Host, _) => 2,
            (_, true) => 1,
            _ => 0,
        };
        by.entry((r.verdict.vantage.as_str(), family))
            .or_default()
            .push(i);
    }
    let by: Vec<Vec<usize>> = by.into_values().collect();
    for idx in &by {
        // (row, Some(cmp) | None = share, p)
        let mut tests: Vec<(usize, Option<usize>, f64)> = Vec::new();
        for &i in idx {
            let r = &rows[i];
            if r.early {
                continue;
            }
            for (j, c) in r.cmps.iter().enumerate() {
                if let (true, true, Some(p)) = (c.judged, c.enough(o), c.p) {
                    tests.push((i, Some(j), p));
                }
            }
            if let Some(s) = &r.share {
                if let (true, Some(p)) = (s.n >= o.min_n && s.n_c >= o.min_n, s.p) {
                    tests.push((i, None, p));
                }
            }
        }
        let p: Vec<f64> = tests.iter().map(|t| t.2).collect();
        let q = benjamini_hochberg(&p);
        for ((i, j, _), q) in tests.into_iter().zip(q) {
            match j {
                Some(j) => rows[i].cmps[j].q = Some(q),
                None => {
                    if let Some(s) = rows[i].share.as_mut() {
                        s.q = Some(q);
                    }
                }
            }
        }
    }
}

/// Decide every row (after [`fill_q`]).
pub fn decide(rows: &mut [Row], o: &AnalyzeOptions) {
    for r in rows.iter_mut().filter(|r| !r.early) {
        decide_row(r, o);
    }
}

fn significant(c: &Cmp, o: &AnalyzeOptions) -> bool {
    c.q.is_some_and(|q| q < o.alpha)
}

fn decide_row(r: &mut Row, o: &AnalyzeOptions) {
    let cmps = &r.cmps;
    let judged: Vec<usize> = (0..cmps.len()).filter(|&i| cmps[i].judged).collect();
    let throttled = judged
        .iter()
        .copied()
        .filter(|&i| cmps[i].enough(o) && cmps[i].effect(o) && significant(&cmps[i], o))
        .min_by(|&a, &b| {
            let r = |i: usize| cmps[i].ratio.unwrap_or(f64::INFINITY);
            r(a).total_cmp(&r(b))
        });
    let weak = judged
        .iter()
        .copied()
        .find(|&i| cmps[i].enough(o) && cmps[i].effect(o));
    let too_few = judged.iter().copied().find(|&i| !cmps[i].enough(o));
    let primary = if r.small { 1 } else { 0 };
    // Looked at after every round: only the anytime-valid evidence may
    // decide throttled or partial (see `super::sequential`).
    let seq = r.seq.filter(|_| o.sequential);
    let seq_cmp = judged.iter().copied().find(|&i| cmps[i].deep.is_some());
    let seq_throttled = seq_cmp.filter(|&i| {
        let c = &cmps[i];
        seq.is_some_and(|e| e.sig) && seq_enough(c.n, c.n_c, o) && c.effect(o)
    });
    let throttled = if o.sequential {
        seq_throttled
    } else {
        throttled
    };
    let pick = throttled.or(weak).unwrap_or(primary.min(cmps.len() - 1));
    let d = &cmps[pick];
    let v = &mut r.verdict;
    v.metric = Some(d.metric);
    v.n = d.n;
    v.n_control = d.n_c;
    v.test = Some(d.test);
    let rate = &cmps[0];
    v.median_bps = rate.med_t.is_finite().then_some(rate.med_t);
    v.control_median_bps = rate.med_c.is_finite().then_some(rate.med_c);
    v.median = d.med_t.is_finite().then_some(d.med_t);
    v.control_median = d.med_c.is_finite().then_some(d.med_c);
    v.ratio = d.ratio;
    v.ratio_ci_low = d.ci.map(|x| x.0);
    v.ratio_ci_high = d.ci.map(|x| x.1);
    v.p_value = d.p;
    v.q_value = d.q;
    // Shares.
    let sh = r.share.as_ref();
    let share_ok = sh.is_some_and(|s| s.n >= o.min_n && s.n_c >= o.min_n);
    if let Some(s) = sh.filter(|_| share_ok) {
        v.slowed_share = s.fraction();
        let ci = wilson(s.slowed, s.n);
        v.slowed_share_ci_low = ci.map(|c| c.0);
        v.slowed_share_ci_high = ci.map(|c| c.1);
        v.control_slowed_share = s.control_fraction();
        // The rates of the slowed fetches, when the share was counted on rates.
        if !r.small && !d.kind.is_time() {
            v.slowed_median_bps = s.slowed_median();
        }
    }
    let share_sig = sh.filter(|_| share_ok).is_some_and(|s| {
        let sig = match seq {
            Some(e) => e.sig,
            None => !o.sequential && s.q.is_some_and(|q| q < o.alpha),
        };
        s.fraction().unwrap_or(0.0) >= PARTIAL_MIN_SHARE && sig
    });
    // More than half slowed puts the median in the slowed cluster: with the
    // effect there, that is a throttle decided by the share test.
    let majority = !o.sequential
        && share_sig
        && sh.is_some_and(|s| s.fraction().unwrap_or(0.0) > 0.5)
        && d.enough(o)
        && d.effect(o);
    let partial = share_sig && !majority;
    // The reason is written into one buffer (400,000 rows at 10,000
    // vantages: the small strings of a format-and-concatenate were a
    // visible share of the run).
    let share_text = |s: &super::compare::Share, t: &mut String| {
        let _ = write!(t, "slowed {}/{} fetches (", s.slowed, s.n);
        let _ = write_fixed(t, 100.0 * s.fraction().unwrap_or(0.0), 0);
        let _ = write!(t, "%) vs {}/{} controls", s.c_slowed, s.n_c);
        if let Some(p) = s.p {
            let _ = write!(t, ", fisher p={}", P(p));
            if let Some(q) = s.q {
                let _ = write!(t, " q={}", P(q));
            }
        }
        if let Some(m) = s.slowed_median().filter(|_| !r.small) {
            let _ = write!(t, ", slowed median {}", Bps(m));
        }
    };
    let mut reason = String::with_capacity(320);
    // Each member series is fetched once a round.
    let per_round = r.members.len().max(1);
    let seq_text = |t: &mut String| {
        if let Some(e) = seq {
            let _ = write!(t, "e-process e={} q={}: ", P(e.e), P(e.q));
        }
    };
    if throttled.is_some() {
        v.verdict = VerdictKind::Throttled;
        if let Some(e) = seq {
            v.test = Some(Test::EProcess);
            v.p_value = Some((1.0 / e.e).min(1.0));
            v.q_value = Some(e.q);
            seq_text(&mut reason);
        }
        d.describe_into(&mut reason);
    } else if majority {
        let s = sh.expect("majority has a share");
        v.verdict = VerdictKind::Throttled;
        v.test = Some(Test::Fisher);
        v.p_value = s.p;
        v.q_value = s.q;
        reason.push_str("most fetches slowed: ");
        share_text(s, &mut reason);
        reason.push_str("; median test: ");
        d.describe_into(&mut reason);
    } else if partial {
        let s = sh.expect("partial has a share");
        v.verdict = VerdictKind::Partial;
        v.test = Some(Test::Fisher);
        v.p_value = s.p;
        v.q_value = s.q;
        reason.push_str("partial: ");
        if let Some(e) = seq {
            v.test = Some(Test::EProcess);
            v.p_value = Some((1.0 / e.e).min(1.0));
            v.q_value = Some(e.q);
            seq_text(&mut reason);
        }
        share_text(s, &mut reason);
        reason.push_str("; median test: ");
        d.describe_into(&mut reason);
    } else if let Some(i) = too_few.filter(|_| weak.is_none()) {
        v.verdict = VerdictKind::Inconclusive;
        let _ = write!(
            reason,
            "too few measured fetches (need {} each side): ",
            o.min_n
        );
        cmps[i].describe_into(&mut reason);
        // Rounds until both sides have min-n (a side with none: unknown).
        let c = &cmps[i];
        if c.n > 0 && c.n_c > 0 {
            v.needs_rounds = Some(super::absence::rounds_to(o.min_n, c.n, per_round));
        }
    } else if weak.is_some() {
        v.verdict = VerdictKind::Inconclusive;
        let _ = write!(
            reason,
            "slower but not significant (alpha {} on q): ",
            o.alpha
        );
        seq_text(&mut reason);
        d.describe_into(&mut reason);
        v.needs_rounds = weak_rounds(d, per_round, o);
        // Beyond the cap on projected rounds (see `absence::rounds_cap`):
        // no count, but why.
        let done = d.n.div_ceil(per_round.max(1)) as u32;
        if let (Some(m), Some(r)) = (v.needs_rounds, d.ratio) {
            if done + m > super::absence::rounds_cap(done) {
                v.needs_rounds = None;
                let _ = write!(
                    reason,
                    "; the observed {} ratio, {}, is close to the threshold {} for its spread: more rounds may not settle it",
                    d.metric.as_str(),
                    crate::analyze::base::units::Ratio(r),
                    o.threshold
                );
            }
        }
    } else {
        let judged_cmps: Vec<&Cmp> = judged.iter().map(|&i| &cmps[i]).collect();
        match super::absence::missing(&judged_cmps, sh.filter(|_| share_ok), per_round, o) {
            None => v.verdict = VerdictKind::Ok,
            Some(m) => {
                v.verdict = VerdictKind::Inconclusive;
                reason.push_str(&m.text);
                reason.push_str(": ");
                v.needs_rounds = m.rounds;
            }
        }
        d.describe_into(&mut reason);
    }
    for (i, x) in cmps.iter().enumerate() {
        if i != pick && x.n > 0 {
            reason.push_str("; ");
            x.describe_into(&mut reason);
        }
    }
    if let (Some(s), false) = (sh.filter(|_| share_ok), partial || majority) {
        reason.push_str("; ");
        share_text(s, &mut reason);
    }
    if r.small {
        reason.push_str(
            "; rate not judged: downloads under 128 KiB are judged by total and TLS time",
        );
    }
    if v.n_censored > 0 {
        let _ = write!(
            reason,
            "; {} observation{} censored (capped or timed out: rate counted as achieved, an upper bound)",
            v.n_censored,
            if v.n_censored == 1 { "" } else { "s" }
        );
    }
    if v.n_failed > 0 {
        let _ = write!(reason, "; {} failed fetches", v.n_failed);
    }
    if !v.reason.is_empty() {
        reason.push_str("; ");
        reason.push_str(&v.reason);
    }
    if v.verdict != VerdictKind::Inconclusive {
        v.needs_rounds = None;
    }
    // A host aggregate concludes no more than its URLs could (which, when
    // e-values decide, is from `decide_min` fetches).
    let host_min = decide_min(o);
    if v.scope == Scope::Host
        && matches!(v.verdict, VerdictKind::Throttled | VerdictKind::Partial)
        && r.most_per_url < host_min
    {
        v.verdict = VerdictKind::Inconclusive;
        reason = format!(
            "too few measured fetches per URL (at most {}, need {host_min}): {reason}",
            r.most_per_url
        );
        v.needs_rounds = Some((host_min - r.most_per_url) as u32);
    }
    v.reason = reason;
}

/// Rounds until a weak effect (ratio at or below the threshold, not
/// significant) would be settled at its spread: until its interval's high
/// end is below the threshold (the interval shrinking as √n), and at least
/// a quarter more fetches when it already is and only the test lags.
fn weak_rounds(d: &Cmp, per_round: usize, o: &AnalyzeOptions) -> Option<u32> {
    let (r, ci) = (d.ratio?, d.ci?);
    let f = crate::analyze::stats::evidence::fetches_for_ratio(r, ci, d.n, o.threshold)?;
    // The interval clears the threshold already: significance lags; a
    // quarter more fetches is the least more rounds can give.
    let f = f.max(d.n + d.n.div_ceil(4));
    Some(super::absence::rounds_to(f, d.n, per_round))
}
