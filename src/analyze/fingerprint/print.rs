//! What a throttle looks like, from the bytes-over-time windows of its fetches.
//!
//! Per fetch (see `docs/method.md` for the reasoning):
//! 1. **Freeze**: the bytes stop for good — the silence after the last byte
//!    lasts ≥ 2 s and ≥ half the fetch — with some bytes delivered before.
//! 2. **Plateau** and **burst**: [`crate::plateau::estimate`], the estimator
//!    the engine's `steady_bps` uses (rate between the feet of the steps of a
//!    staircase, Theil–Sen when smooth, from where the initial burst settled).
//!    `burst_bytes` is the body count where the transfer settled; a plateau
//!    too short for ±5% gets a `plateau_note`.
//! 3. **Raggedness** after settling: share of windows with no bytes and the
//!    longest such run. **RTT inflation**: median `tcp_rtt_ms` after settling
//!    over the smallest RTT seen. **Retransmissions**: growth of `tcp_retrans`.
//! 4. Mechanism: RTT inflated ≥ 1.3× (Flach et al.'s queueing threshold) →
//!    shaper; otherwise ragged or retransmitting → policer; otherwise unclear.
//!
//! Per URL the mechanism is the one most fetches show (more than half), else
//! `unclear`; plateau and burst are medians over fetches.

use super::timeline::Pt;
use crate::analyze::base::units::fmt_bps;
use crate::analyze::base::verdict::Mechanism;
use crate::analyze::input::load::Failure;
use crate::analyze::stats::inference::median_of;
use crate::analyze::stats::{median, sort};
use crate::plateau::{self, Sample};

/// RTT ratio above which queueing (a shaper) is assumed.
pub const RTT_INFLATION: f64 = 1.3;
/// Share of zero-byte windows after settling that makes a transfer ragged.
pub const STALL_FRAC: f64 = 0.3;
/// A run of zero-byte windows this long (ms) makes a transfer ragged.
pub const LONG_STALL_MS: f64 = 500.0;

/// The fingerprint of one fetch.
#[derive(Debug, Clone, Default)]
pub struct FetchPrint {
    pub mechanism: Option<Mechanism>,
    pub plateau_bps: Option<f64>,
    pub burst_bytes: Option<f64>,
    /// For a freeze: silence after the last byte (ms).
    pub silence_ms: Option<f64>,
    pub stall_frac: f64,
    pub longest_stall_ms: f64,
    pub rtt_inflation: Option<f64>,
    pub retrans: Option<f64>,
    /// Raggedness was judged on TCP-level bytes (else on body bytes).
    pub tcp_level: bool,
    /// Set when the plateau is too short (or too irregular) to trust to ±5%:
    /// how many steps over how long; for the row's `reason`.
    pub plateau_note: Option<String>,
}

/// The fingerprint of a URL (or host): aggregate of its fetches.
#[derive(Debug, Clone)]
pub struct Fingerprint {
    pub mechanism: Mechanism,
    pub plateau_bps: Option<f64>,
    pub burst_bytes: Option<u64>,
    pub evidence: String,
}

/// The fingerprint of one fetch from its windows (sorted by time).
pub fn fetch_print(pts: &[Pt]) -> Option<FetchPrint> {
    if pts.len() < 3 {
        return None;
    }
    let last = pts[pts.len() - 1];
    let final_bytes = last.cum;
    if final_bytes.is_nan() || final_bytes <= 0.0 {
        return None;
    }
    let mut dts: Vec<f64> = pts.windows(2).map(|w| w[1].t_ms - w[0].t_ms).collect();
    sort(&mut dts);
    let win = median(&dts).max(1.0);
    let i_last = pts.iter().position(|p| p.cum >= final_bytes)?;
    let t_last = pts[i_last].t_ms;
    let silence = last.t_ms - t_last;
    let retrans = {
        let r: Vec<f64> = pts
            .iter()
            .map(|p| p.retrans)
            .filter(|v| v.is_finite())
            .collect();
        (r.len() >= 2).then(|| r[r.len() - 1] - r[0])
    };
    if silence >= 2000.0 && silence >= 0.5 * last.t_ms {
        return Some(FetchPrint {
            mechanism: Some(Mechanism::Freeze),
            burst_bytes: Some(final_bytes),
            silence_ms: Some(silence),
            retrans,
            ..Default::default()
        });
    }
    let active = &pts[..=i_last];
    let mut fp = FetchPrint {
        retrans,
        ..Default::default()
    };
    if active.len() < 4 {
        return Some(fp);
    }
    // Plateau and settling point: the estimator the engine's steady_bps uses.
    let samples: Vec<Sample> = active
        .iter()
        .map(|p| Sample {
            t: p.t_ms / 1000.0,
            body: p.cum,
            tcp: p.tcp_cum,
        })
        .collect();
    let Some(pl) = plateau::estimate(&samples) else {
        return Some(fp);
    };
    let s = pl.settle;
    let post = &active[s..];
    fp.plateau_bps = Some(pl.bps);
    fp.burst_bytes = Some(active[s].cum);
    fp.plateau_note = pl.note();
    // Raggedness after settling (the settling window itself excluded).
    let after = &post[1.min(post.len())..];
    let (stall_frac, longest) = stalls(post, after);
    fp.tcp_level = tcp_level(post);
    fp.stall_frac = stall_frac;
    fp.longest_stall_ms = longest as f64 * win;
    // RTT inflation: median after settling over the smallest seen.
    let base = pts
        .iter()
        .map(|p| p.rtt_ms)
        .filter(|v| v.is_finite() && *v > 0.0)
        .fold(f64::INFINITY, f64::min);
    let mut post_rtt: Vec<f64> = post
        .iter()
        .map(|p| p.rtt_ms)
        .filter(|v| v.is_finite() && *v > 0.0)
        .collect();
    if base.is_finite() && !post_rtt.is_empty() {
        sort(&mut post_rtt);
        fp.rtt_inflation = Some(median(&post_rtt) / base);
    }
    let ragged = fp.stall_frac >= STALL_FRAC || fp.longest_stall_ms >= LONG_STALL_MS;
    fp.mechanism = Some(match fp.rtt_inflation {
        Some(x) if x >= RTT_INFLATION => Mechanism::Shaper,
        _ if ragged || fp.retrans.unwrap_or(0.0) > 0.0 => Mechanism::Policer,
        // Smooth arrival is a shaper's mark, but only at TCP level: the
        // application sees whole TLS records, which at low rates arrive in
        // steps whatever the limiter does.
        _ if fp.tcp_level => Mechanism::Shaper,
        _ => Mechanism::Unclear,
    });
    Some(fp)
}

/// Whether TCP-level byte counts cover the settled part of a transfer.
fn tcp_level(post: &[Pt]) -> bool {
    post.len() >= 2 && post.iter().all(|p| p.tcp_cum.is_finite())
}

/// Share of empty windows in `after` and the longest run of them, counted on
/// TCP-level bytes when every window has them (see [`tcp_level`]), else on
/// the application's body bytes.
fn stalls(post: &[Pt], after: &[Pt]) -> (f64, usize) {
    let use_tcp = tcp_level(post);
    let start = post.len() - after.len();
    let mut zero = 0usize;
    let mut run = 0usize;
    let mut longest = 0usize;
    for (i, p) in after.iter().enumerate() {
        let moved = if use_tcp {
            let prev = if start + i > 0 {
                post[start + i - 1].tcp_cum
            } else {
                p.tcp_cum
            };
            p.tcp_cum - prev
        } else {
            p.bytes
        };
        if moved <= 0.0 {
            zero += 1;
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    let frac = if after.is_empty() {
        0.0
    } else {
        zero as f64 / after.len() as f64
    };
    (frac, longest)
}

fn kb(b: f64) -> String {
    if b >= 1_048_576.0 {
        format!("{:.1} MB", b / 1_048_576.0)
    } else {
        format!("{:.1} KB", b / 1024.0)
    }
}

/// Aggregate the fetch prints (and failures) of one URL or host.
pub fn aggregate(prints: &[FetchPrint], failures: &[Failure], n_fetches: usize) -> Fingerprint {
    let resets: usize = failures
        .iter()
        .filter(|f| f.error == "connection_reset")
        .map(|f| f.count)
        .sum();
    // Timeouts in the body after some bytes count as freezes when no windows show it.
    let body_timeouts: usize = failures
        .iter()
        .filter(|f| f.error == "generic_timeout_error" && f.phase == "body")
        .map(|f| f.body_bytes.iter().filter(|&&b| b > 0).count())
        .sum();
    if n_fetches > 0 && resets * 2 > n_fetches {
        return Fingerprint {
            mechanism: Mechanism::Reset,
            plateau_bps: None,
            burst_bytes: None,
            evidence: format!("reset: {resets}/{n_fetches} fetches ended in connection_reset"),
        };
    }
    let count = |m: Mechanism| prints.iter().filter(|p| p.mechanism == Some(m)).count();
    let n_freeze_traces = count(Mechanism::Freeze);
    let n_freeze = n_freeze_traces.max(body_timeouts);
    let judged = prints
        .iter()
        .filter(|p| p.mechanism.is_some())
        .count()
        .max(n_freeze);
    let rated: Vec<&FetchPrint> = prints.iter().filter(|p| p.plateau_bps.is_some()).collect();
    let plateau = median_of(rated.iter().filter_map(|p| p.plateau_bps));
    let burst = median_of(rated.iter().filter_map(|p| p.burst_bytes));
    if judged == 0 {
        return Fingerprint {
            mechanism: Mechanism::Unclear,
            plateau_bps: plateau,
            burst_bytes: burst.map(|b| b as u64),
            evidence: "unclear: too few timeline windows to fingerprint (transfers shorter \
                       than 3 windows, or no timeline.csv)"
                .into(),
        };
    }
    if n_freeze * 2 > judged {
        let frozen: Vec<&FetchPrint> = prints
            .iter()
            .filter(|p| p.mechanism == Some(Mechanism::Freeze))
            .collect();
        let at = median_of(frozen.iter().filter_map(|p| p.burst_bytes)).or_else(|| {
            median_of(
                failures
                    .iter()
                    .flat_map(|f| f.body_bytes.iter().map(|&b| b as f64))
                    .filter(|&b| b > 0.0),
            )
        });
        let silent = median_of(frozen.iter().filter_map(|p| p.silence_ms));
        let mut ev = format!("freeze: {n_freeze}/{judged} fetches stop receiving");
        if let Some(at) = at {
            ev += &format!(" after {} (median)", kb(at));
        }
        if let Some(s) = silent {
            ev += &format!(", then nothing for {:.1} s", s / 1000.0);
        }
        return Fingerprint {
            mechanism: Mechanism::Freeze,
            plateau_bps: Some(0.0),
            burst_bytes: at.map(|b| b as u64),
            evidence: ev,
        };
    }
    let (pol, sha) = (count(Mechanism::Policer), count(Mechanism::Shaper));
    let mechanism = if pol * 2 > judged {
        Mechanism::Policer
    } else if sha * 2 > judged {
        Mechanism::Shaper
    } else {
        Mechanism::Unclear
    };
    let stall = median_of(rated.iter().map(|p| p.stall_frac)).unwrap_or(0.0);
    let longest = median_of(rated.iter().map(|p| p.longest_stall_ms)).unwrap_or(0.0);
    let infl = median_of(rated.iter().filter_map(|p| p.rtt_inflation));
    let retr = median_of(prints.iter().filter_map(|p| p.retrans));
    let level = if rated.iter().all(|p| p.tcp_level) {
        "TCP-level"
    } else {
        "body"
    };
    let mut ev = format!(
        "{}: policer-like {pol}/{judged}, shaper-like {sha}/{judged} fetches; \
         no-byte windows {:.0}% (longest {:.1} s, {level} bytes)",
        mechanism.as_str(),
        stall * 100.0,
        longest / 1000.0
    );
    match infl {
        Some(x) => ev += &format!(", RTT {x:.2}× its minimum"),
        None => ev += ", no RTT samples",
    }
    if let Some(r) = retr {
        ev += &format!(", {r:.0} retransmits/fetch");
    }
    if let (Some(p), Some(b)) = (plateau, burst) {
        ev += &format!("; settles at {} after {}", fmt_bps(p), kb(b));
    }
    Fingerprint {
        mechanism,
        plateau_bps: plateau,
        burst_bytes: burst.map(|b| b as u64),
        evidence: ev,
    }
}
