//! `ok` needs evidence of absence (issue 22.2).
//!
//! "Not throttled" is a claim too. A failed test is not evidence of
//! absence: twelve fetches of which one came through a policer that hits
//! 30% of connections looked "ok" beside its slowed share of 0.08. A row is
//! `ok` only when its data exclude a material throttle:
//!
//! - **the median**: every judged comparison's 95% interval of the ratio
//!   lies above the threshold (0.5) — for a time, alternatively the worst
//!   time the interval allows is within [`MIN_TIME_INFLATION_MS`] of the
//!   controls' (a 1.2 vs 2.6 ms handshake is no throttle at any ratio);
//! - **the share**: the slowed share's one-sided 95% upper bound is below
//!   [`ABSENCE_SHARE`] (10%, the floor of `partial`). The claim is
//!   one-sided, so is the bound: exact (Clopper–Pearson) at a fixed number
//!   of rounds — 0 slowed of 29 fetches is the least that does it — and
//!   the anytime-valid [`absence_e`] when the campaign stops when decided
//!   (0 of 31, or 1 of 64).
//!
//! Otherwise the row is `inconclusive`, saying what cannot be excluded and
//! about how many more rounds would settle it at the observed share and
//! spread (`needs_rounds`).

use std::fmt::Write;

use super::compare::{Cmp, Share};
use super::kind::MIN_TIME_INFLATION_MS;
use crate::analyze::base::units::Ratio;
use crate::analyze::base::AnalyzeOptions;
use crate::analyze::stats::decimal::write_fixed;
use crate::analyze::stats::evidence::{
    fetches_for_ratio, fetches_for_share, share_upper, FETCHES_CAP,
};
use crate::analyze::stats::sequential::absence_e;

/// `ok` needs the slowed share's upper bound below this.
pub const ABSENCE_SHARE: f64 = 0.10;
/// Confidence of the absence bounds (one-sided).
pub const ABSENCE_LEVEL: f64 = 0.95;

/// Whether a comparison's interval excludes a throttle of its metric.
fn ratio_excluded(c: &Cmp, o: &AnalyzeOptions) -> bool {
    let Some((lo, _)) = c.ci else { return false };
    if lo > o.threshold {
        return true;
    }
    // A time: the slowest the interval allows, med_c / lo, adds < 20 ms.
    c.kind.is_time()
        && lo > 0.0
        && c.med_c.is_finite()
        && c.med_c / lo - c.med_c < MIN_TIME_INFLATION_MS
}

/// Whether the share's bound is below [`ABSENCE_SHARE`].
pub fn share_excluded(s: &Share, o: &AnalyzeOptions) -> bool {
    if o.sequential {
        absence_e(s.slowed, s.n, ABSENCE_SHARE) >= 1.0 / (1.0 - ABSENCE_LEVEL)
    } else {
        share_upper(s.slowed, s.n, ABSENCE_LEVEL) < ABSENCE_SHARE
    }
}

/// Fetches at which the share, at its observed proportion, would be below
/// the bound (or above it: then it is no longer a question of absence).
fn share_fetches(s: &Share, o: &AnalyzeOptions) -> Option<usize> {
    if !o.sequential {
        return fetches_for_share(s.slowed, s.n, ABSENCE_SHARE, ABSENCE_LEVEL);
    }
    let p = s.slowed as f64 / s.n.max(1) as f64;
    if p >= ABSENCE_SHARE {
        return fetches_for_share(s.slowed, s.n, ABSENCE_SHARE, ABSENCE_LEVEL);
    }
    let ok = |m: usize| {
        let k = (p * m as f64).round() as usize;
        absence_e(k, m, ABSENCE_SHARE) >= 1.0 / (1.0 - ABSENCE_LEVEL)
    };
    let mut m = s.n.max(1);
    while !ok(m) {
        if m >= FETCHES_CAP {
            return None;
        }
        m = (m + m / 8 + 1).min(FETCHES_CAP);
    }
    Some(m)
}

/// What keeps a row from `ok`: the reason's words and the rounds that
/// would settle it (None: not within a plausible campaign).
pub struct Missing {
    pub text: String,
    pub rounds: Option<u32>,
}

/// Rounds still to go for `fetches` in total, `n` done, at `per_round`
/// fetches a round (a row's member series are each fetched once a round).
pub fn rounds_to(fetches: usize, n: usize, per_round: usize) -> u32 {
    let more = fetches.saturating_sub(n) as f64 / per_round.max(1) as f64;
    (more.ceil() as u32).max(1)
}

/// `None` when the data exclude a material throttle; else what they do not
/// exclude. `cmps` are the row's judged comparisons with enough values;
/// `share` its slowed share (None: not counted).
pub fn missing(
    cmps: &[&Cmp],
    share: Option<&Share>,
    per_round: usize,
    o: &AnalyzeOptions,
) -> Option<Missing> {
    let mut text = String::new();
    let mut need: Option<usize> = Some(0);
    let mut settle = |f: Option<usize>| {
        need = match (need, f) {
            (Some(a), Some(b)) => Some(a.max(b)),
            _ => None,
        }
    };
    let lead = cmps.first().copied();
    for c in cmps.iter().filter(|c| !ratio_excluded(c, o)) {
        if !text.is_empty() {
            text.push_str("; ");
        }
        let _ = write!(
            text,
            "cannot exclude a throttle: {} ratio",
            c.metric.as_str()
        );
        match (c.ratio, c.ci) {
            (Some(r), Some((lo, hi))) => {
                let _ = write!(
                    text,
                    " {} ({}–{}) reaches below {}",
                    Ratio(r),
                    Ratio(lo),
                    Ratio(hi),
                    o.threshold
                );
                settle(fetches_for_ratio(r, (lo, hi), c.n, o.threshold));
            }
            _ => {
                text.push_str(" has no interval");
                settle(None);
            }
        }
    }
    match share {
        Some(s) if s.n > 0 && share_excluded(s, o) => {}
        Some(s) if s.n > 0 => {
            if !text.is_empty() {
                text.push_str("; ");
            }
            let up = share_upper(s.slowed, s.n, ABSENCE_LEVEL);
            let _ = write!(
                text,
                "cannot exclude a partial throttle: {}/{} fetches slowed, up to ",
                s.slowed, s.n
            );
            let _ = write_fixed(&mut text, 100.0 * up, 0);
            let _ = write!(
                text,
                "% (one-sided 95%{}; ok needs below 10%)",
                if o.sequential { ", anytime-valid" } else { "" }
            );
            settle(share_fetches(s, o));
        }
        _ => {
            if !text.is_empty() {
                text.push_str("; ");
            }
            text.push_str("cannot exclude a partial throttle: no slowed share counted");
            settle(None);
        }
    }
    if text.is_empty() {
        return None;
    }
    let rounds = match (need, lead) {
        (Some(f), Some(c)) => Some(rounds_to(f, c.n, per_round)),
        _ => None,
    };
    match rounds {
        Some(r) => {
            let _ = write!(
                text,
                "; about {r} more round{} would settle it",
                if r == 1 { "" } else { "s" }
            );
        }
        None => text.push_str("; more rounds at this spread would not settle it"),
    }
    Some(Missing { text, rounds })
}
