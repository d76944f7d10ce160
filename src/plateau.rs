//! The plateau rate of one transfer: the rate it settles at after any initial
//! burst. One owner for the engine's `steady_bps` and the analyzer's
//! `plateau_bps` (see `docs/method.md`, "Plateau", for the reasoning).
//!
//! Limiters deliver bytes in three shapes: smooth (a pacing shaper), a
//! sawtooth (a policer's bucket refills, TCP recovering after drops) and a
//! *staircase* of a few large steps with long flat stretches (htb releasing
//! GSO super-packets whole, 16 KB TLS records at 130 kbit/s). A line fitted
//! through the cumulative bytes of a staircase depends on where the fitted
//! region cuts the steps: half of a 20 s fetch holds four or five steps, and
//! the fit reads 9% low or high by phase alone. So the rate is measured
//! between *like points*: the corner at the foot of each step (the last
//! window before bytes resume after a flat). Bytes between two corners are
//! whole steps and the time between them whole periods, so phase cancels; a
//! token bucket releasing steps of any sizes puts every corner on one line of
//! slope = its rate. The slope is the median of the slopes of corner pairs at
//! least half the corners' span apart. Smooth arrival has no (or too few)
//! corners; there the slope is Theil–Sen over every window, pairs at least a
//! quarter of the span and 1.5 stalls apart.
//!
//! TCP-level bytes (`tcp_cum_bytes`) are used when every window has them and
//! they describe the same transfer: they move with every segment, while body
//! bytes move only when a whole TLS record has arrived.

use crate::types::stats::{median, percentile, sort};

/// Relative uncertainty above which a plateau is called too short to trust
/// to ±5%.
pub const TARGET_REL_ERR: f64 = 0.05;
/// Fewest corner-to-corner periods a staircase estimate needs before its
/// uncertainty (from the scatter of the corners) means anything.
pub const MIN_STEPS: usize = 3;

/// One timeline window of a transfer.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// End of the window, seconds since the request.
    pub t: f64,
    /// Cumulative body (application) bytes.
    pub body: f64,
    /// Cumulative TCP-level bytes; NaN when not recorded.
    pub tcp: f64,
}

/// Which like points the rate was measured between.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    /// Corners of a staircase (feet of the steps).
    Steps,
    /// Every window (smooth arrival): Theil–Sen.
    Fit,
}

/// The plateau of one transfer.
#[derive(Debug, Clone, PartialEq)]
pub struct Plateau {
    /// Bits per second.
    pub bps: f64,
    /// Index (into the caller's samples) of the window where the transfer
    /// settled: the end of the initial burst.
    pub settle: usize,
    pub basis: Basis,
    /// Measured on TCP-level bytes (else body bytes).
    pub tcp_level: bool,
    /// Whole corner-to-corner periods spanned (0 for [`Basis::Fit`]).
    pub steps: usize,
    /// Seconds between the first and last like point used.
    pub span_s: f64,
    /// Estimated relative uncertainty of `bps`: the scatter of the like
    /// points about the fitted line plus one window of timing, over the
    /// bytes the span covers.
    pub rel_err: f64,
}

impl Plateau {
    /// Too short (or too irregular) for the ±5% the estimator aims at.
    pub fn short(&self) -> bool {
        self.rel_err > TARGET_REL_ERR || (self.basis == Basis::Steps && self.steps < MIN_STEPS)
    }

    /// Why this plateau is not to be trusted to ±5%, when it is not.
    pub fn note(&self) -> Option<String> {
        if !self.short() {
            return None;
        }
        let what = match self.basis {
            Basis::Steps => format!(
                "{} step{}",
                self.steps,
                if self.steps == 1 { "" } else { "s" }
            ),
            Basis::Fit => "smooth arrival".to_string(),
        };
        Some(format!(
            "plateau from {what} over {:.1} s (±{:.0}%): too short for ±{:.0}%",
            self.span_s,
            (self.rel_err * 100.0).max(1.0),
            TARGET_REL_ERR * 100.0
        ))
    }
}

/// The plateau of a transfer from its windows (sorted by time). Windows after
/// the one holding the last body byte are ignored. None when fewer than three
/// windows carry the transfer or its bytes do not grow.
pub fn estimate(samples: &[Sample]) -> Option<Plateau> {
    let final_body = samples.last()?.body;
    if final_body.is_nan() || final_body <= 0.0 {
        return None;
    }
    let i_last = samples.iter().position(|s| s.body >= final_body)?;
    // From the last window before the first byte (the foot of the first step).
    let start = samples.iter().position(|s| s.body > 0.0)?.saturating_sub(1);
    let active = &samples[start..=i_last];
    if active.len() < 3 {
        return None;
    }
    let mut dts: Vec<f64> = active.windows(2).map(|w| w[1].t - w[0].t).collect();
    sort(&mut dts);
    let win = median(&dts).max(1e-6);
    let tcp_level = use_tcp(active);
    let pts: Vec<(f64, f64)> = active
        .iter()
        .map(|s| (s.t, if tcp_level { s.tcp } else { s.body }))
        .collect();
    // First fit on the later half, which any initial burst has left.
    let (t0, t1) = (pts[0].0, pts[pts.len() - 1].0);
    let mid = t0 + (t1 - t0) / 2.0;
    let later = pts.iter().position(|p| p.0 >= mid).unwrap_or(0);
    let later = later.min(pts.len() - 2);
    let first = fit(&pts[later..], win)?;
    // Settling: residuals from the first line sit at a level once the
    // transfer has settled; the first window within the spread of that level
    // ends the burst.
    let r0 = first.slope;
    let mut d: Vec<f64> = pts[later..].iter().map(|p| p.1 - r0 * p.0).collect();
    sort(&mut d);
    let level = median(&d);
    let tol = (percentile(&d, 0.9) - percentile(&d, 0.1)).max(2.0 * r0 * win);
    let s = pts
        .iter()
        .position(|p| p.1 - r0 * p.0 >= level - tol)
        .unwrap_or(0);
    let f = if pts.len() - s >= 4 {
        fit(&pts[s..], win).unwrap_or(first)
    } else {
        first
    };
    Some(Plateau {
        bps: (f.slope * 8.0).max(0.0),
        settle: start + s,
        basis: f.basis,
        tcp_level,
        steps: f.steps,
        span_s: f.span,
        rel_err: f.rel_err,
    })
}

/// Whether TCP-level bytes can stand in for body bytes: every window has
/// them, they never fall, and they grow by about as much as the body (TLS
/// and HTTP framing add a few percent; an upload's windows carry the
/// *received* count of the other direction, which does not match).
fn use_tcp(active: &[Sample]) -> bool {
    if !active.iter().all(|s| s.tcp.is_finite()) {
        return false;
    }
    if active.windows(2).any(|w| w[1].tcp < w[0].tcp) {
        return false;
    }
    let (a, b) = (active[0], active[active.len() - 1]);
    let body = b.body - a.body;
    let tcp = b.tcp - a.tcp;
    body > 0.0 && (0.9..=1.5).contains(&(tcp / body))
}

/// A slope and how it was measured.
#[derive(Debug, Clone, Copy)]
struct Fit {
    /// Bytes per second.
    slope: f64,
    basis: Basis,
    steps: usize,
    span: f64,
    rel_err: f64,
}

/// The slope of cumulative bytes over `pts` (time s, bytes): between the
/// corners of its steps when there are more than [`MIN_STEPS`] of them over
/// at least half the span; else Theil–Sen over every window, unless that
/// scatters beyond the target (a staircase of few steps) and there are at
/// least two corners to measure between.
fn fit(pts: &[(f64, f64)], win: f64) -> Option<Fit> {
    let (first, last) = (*pts.first()?, *pts.last()?);
    let span = last.0 - first.0;
    if span <= 0.0 {
        return None;
    }
    let corners = corners(pts);
    let c_span = match (corners.first(), corners.last()) {
        (Some(a), Some(b)) => b.0 - a.0,
        _ => 0.0,
    };
    let steps = (corners.len() >= 2 && c_span >= span / 2.0)
        .then(|| {
            let slope = median_slope(&corners, c_span / 2.0)?;
            Some(judge(&corners, slope, win, Basis::Steps))
        })
        .flatten();
    if let Some(s) = steps {
        if s.steps >= MIN_STEPS {
            return Some(s);
        }
    }
    let min_sep = (span / 4.0).max(win).max(1.5 * longest_flat(pts));
    let all = judge(pts, median_slope(pts, min_sep)?, win, Basis::Fit);
    Some(match steps {
        Some(s) if all.rel_err > TARGET_REL_ERR => s,
        _ => all,
    })
}

/// A slope with its uncertainty from the like points it was measured on.
fn judge(used: &[(f64, f64)], slope: f64, win: f64, basis: Basis) -> Fit {
    let span = used[used.len() - 1].0 - used[0].0;
    let (lo, hi) = used
        .iter()
        .map(|p| p.1 - slope * p.0)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), r| {
            (lo.min(r), hi.max(r))
        });
    let rel_err = if slope > 0.0 && span > 0.0 {
        ((hi - lo) + slope * win) / (slope * span)
    } else {
        f64::INFINITY
    };
    Fit {
        slope,
        basis,
        steps: match basis {
            Basis::Steps => used.len() - 1,
            Basis::Fit => 0,
        },
        span,
        rel_err,
    }
}

/// The feet of the steps: each window that got no bytes and is followed by
/// one that did.
fn corners(pts: &[(f64, f64)]) -> Vec<(f64, f64)> {
    (2..pts.len())
        .filter(|&i| pts[i].1 > pts[i - 1].1 && pts[i - 1].1 <= pts[i - 2].1)
        .map(|i| pts[i - 1])
        .collect()
}

/// Longest stretch (s) over which the cumulative count did not grow.
fn longest_flat(pts: &[(f64, f64)]) -> f64 {
    let mut longest = 0.0f64;
    let mut run_start: Option<f64> = None;
    for w in pts.windows(2) {
        if w[1].1 <= w[0].1 {
            let s = *run_start.get_or_insert(w[0].0);
            longest = longest.max(w[1].0 - s);
        } else {
            run_start = None;
        }
    }
    longest
}

/// Median slope of the pairs at least `min_sep` apart (≤ 300 points,
/// subsampled); the secant from first to last point when fewer than three
/// pairs are that far apart.
fn median_slope(pts: &[(f64, f64)], min_sep: f64) -> Option<f64> {
    const MAX_PTS: usize = 300;
    let (first, last) = (pts.first()?, pts.last()?);
    let step = pts.len().div_ceil(MAX_PTS).max(1);
    let sub: Vec<&(f64, f64)> = pts.iter().step_by(step).collect();
    let mut slopes = Vec::new();
    for (i, a) in sub.iter().enumerate() {
        for b in &sub[i + 1..] {
            let dt = b.0 - a.0;
            if dt > 0.0 && dt >= min_sep {
                slopes.push((b.1 - a.1) / dt);
            }
        }
    }
    if slopes.len() < 3 {
        let dt = last.0 - first.0;
        return (dt > 0.0).then(|| (last.1 - first.1) / dt);
    }
    sort(&mut slopes);
    Some(median(&slopes))
}

#[cfg(test)]
mod tests;
