//! Decisions a campaign may look at after every round (issue 22.3,
//! `AnalyzeOptions::sequential`). The rank, Fisher and binomial p-values
//! are valid at one fixed number of rounds; a campaign that looks after
//! each round and stops at the first "significant" one would make false
//! throttles far more often than alpha. So with `sequential` a row is
//! throttled or partial only on **e-values** (likelihood ratios that may be
//! looked at any time, [`crate::analyze::stats::sequential`]), combined
//! over a vantage's rows by **e-BH** (valid under the dependence the shared
//! control pool creates):
//!
//! - the deep-slowdown e-process: k of n fetches 10× below the controls'
//!   median against the null share `eps` of [`super::deep`];
//! - the slowed-share e-process: k of n fetches slowed against the null
//!   share max(10%, the controls' own slowed share with one pseudo-count) —
//!   10% is the floor of `partial` itself;
//! - a row's e-value is their mean (a mean of e-values is one).
//!
//! `ok` uses the anytime-valid share bound of [`super::absence`].
//!
//! An e-value needs no minimum sample for its validity (Ville's inequality
//! holds at every n), so these decisions may come from
//! [`SEQ_MIN_N`](super::kind::SEQ_MIN_N) fetches a side rather than
//! `min_n`: three of three fetches 10× below six control fetches is already e ≈ 170, and a blatant throttle is then
//! decided in three rounds instead of five. The fixed-n tests, the slowed
//! share's verdict and `ok` keep `min_n`.

use std::collections::BTreeMap;

use super::kind::seq_enough;
use super::rows::{Row, SeqEvidence};
use crate::analyze::base::verdict::Scope;
use crate::analyze::base::AnalyzeOptions;
use crate::analyze::stats::inference::benjamini_hochberg;
use crate::analyze::stats::sequential::{e_bh, excess_e};

/// The null slowed share of the share e-process: at least the floor of
/// `partial` (see [`super::decide::PARTIAL_MIN_SHARE`]).
fn share_eps(c_slowed: usize, n_c: usize) -> f64 {
    super::decide::PARTIAL_MIN_SHARE.max((c_slowed as f64 + 1.0) / (n_c as f64 + 2.0))
}

/// The row's e-value, when it has enough fetches to be tested.
fn row_e(r: &Row, o: &AnalyzeOptions) -> Option<f64> {
    if r.early {
        return None;
    }
    let c = r.cmps.iter().find(|c| c.judged && c.deep.is_some())?;
    let d = c.deep?;
    if !seq_enough(c.n, c.n_c, o) {
        return None;
    }
    let e_deep = excess_e(d.k, d.n, d.eps());
    let e_share = r
        .share
        .as_ref()
        .filter(|s| seq_enough(s.n, s.n_c, o))
        .map_or(1.0, |s| {
            excess_e(s.slowed, s.n, share_eps(s.c_slowed, s.n_c))
        });
    Some((e_deep + e_share) / 2.0)
}

/// Fill each row's [`SeqEvidence`]: e-BH per vantage and family (target
/// URL rows, control URL rows, host rows — the families of `fill_q`).
pub fn fill_e(rows: &mut [Row], o: &AnalyzeOptions) {
    let mut by: BTreeMap<(String, u8), Vec<(usize, f64)>> = BTreeMap::new();
    for (i, r) in rows.iter().enumerate() {
        let Some(e) = row_e(r, o) else { continue };
        let family = match (r.verdict.scope, r.verdict.control) {
            (Scope::Host, _) => 2,
            (_, true) => 1,
            _ => 0,
        };
        by.entry((r.verdict.vantage.clone(), family))
            .or_default()
            .push((i, e));
    }
    for members in by.into_values() {
        let e: Vec<f64> = members.iter().map(|m| m.1).collect();
        let sig = e_bh(&e, o.alpha);
        let p: Vec<f64> = e.iter().map(|&x| (1.0 / x).min(1.0)).collect();
        let q = benjamini_hochberg(&p);
        for (j, &(i, e)) in members.iter().enumerate() {
            rows[i].seq = Some(SeqEvidence {
                e,
                sig: sig[j],
                q: q[j],
            });
        }
    }
}
