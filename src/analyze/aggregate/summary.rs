//! The selective summary: per vantage, which content classes are throttled
//! and which are not ("image and video throttled to ~130 kbit/s (policer);
//! text not throttled"). Written as `scope = class` rows and printed last.

use std::collections::BTreeMap;

use crate::analyze::base::units::fmt_bps;
use crate::analyze::base::verdict::{
    empty_verdict, Mechanism, Metric, Scope, Verdict, VerdictKind,
};
use crate::analyze::stats::inference::median_of;
use crate::types::{Class, Direction, Transport};

pub use super::words::fmt_factor;
use super::words::{class_name, finding_name, join_and, mechanisms, over, quic_vantages};

/// The rate a throttled row is described by: its plateau, else the median
/// of its slowed fetches, else its median (never the median of a bimodal
/// sample when a slowed cluster is known).
pub fn throttle_rate(v: &Verdict) -> Option<f64> {
    v.plateau_bps.or(v.slowed_median_bps).or(v.median_bps)
}

/// `1 URL`, `3 URLs`.
fn urls_word(n: usize) -> String {
    crate::analyze::input::pooling::plural(n, "URL")
}

fn hosts(rows: &[&Verdict]) -> String {
    let mut h: Vec<&str> = rows.iter().map(|v| v.host.as_str()).collect();
    h.sort_unstable();
    h.dedup();
    if h.len() > 4 {
        format!("{}, … ({} hosts)", h[..3].join(", "), h.len())
    } else {
        h.join(", ")
    }
}

/// One `scope = class` row per vantage and class of target URLs.
pub fn class_rows(rows: &[Verdict]) -> Vec<Verdict> {
    type Key<'a> = (&'a str, Option<Class>, Direction, Transport);
    let mut by: BTreeMap<Key, Vec<&Verdict>> = BTreeMap::new();
    for v in rows.iter().filter(|v| v.scope == Scope::Url && !v.control) {
        by.entry((v.vantage.as_str(), v.class, v.direction, v.transport))
            .or_default()
            .push(v);
    }
    let quic = quic_vantages(rows.iter());
    let mut out = Vec::new();
    for ((vantage, class, direction, transport), urls) in by {
        let of = |k: VerdictKind| {
            urls.iter()
                .copied()
                .filter(|v| v.verdict == k)
                .collect::<Vec<_>>()
        };
        let (thr, part, blk, inc) = (
            of(VerdictKind::Throttled),
            of(VerdictKind::Partial),
            of(VerdictKind::Blocked),
            of(VerdictKind::Inconclusive),
        );
        let n = urls.len();
        let name = class_name(class, direction) + over(transport, quic.contains(vantage));
        let (verdict, reason, focus) = if !thr.is_empty() {
            let mut s = format!(
                "{name}: {}/{} throttled ({})",
                thr.len(),
                urls_word(n),
                hosts(&thr)
            );
            s += &throttle_detail(&thr);
            (VerdictKind::Throttled, s, thr)
        } else if !part.is_empty() {
            let share = median_of(part.iter().filter_map(|v| v.slowed_share));
            let mut s = format!(
                "{name}: {}/{} partially throttled ({})",
                part.len(),
                urls_word(n),
                hosts(&part)
            );
            if let Some(sh) = share {
                s += &format!(", {:.0}% of fetches slowed", sh * 100.0);
            }
            if let Some(r) = median_of(part.iter().filter_map(|v| throttle_rate(v))) {
                s += &format!(" to ~{}", fmt_bps(r));
            }
            (VerdictKind::Partial, s, part)
        } else if !blk.is_empty() {
            let f = blk[0].failure.clone().unwrap_or_default();
            (
                VerdictKind::Blocked,
                format!(
                    "{name}: {}/{} blocked ({}; {f})",
                    blk.len(),
                    urls_word(n),
                    hosts(&blk)
                ),
                blk,
            )
        } else if !inc.is_empty() {
            let why = &inc[0].reason;
            let short = why.split(':').next().unwrap_or(why);
            (
                VerdictKind::Inconclusive,
                format!(
                    "{name}: {}/{} inconclusive ({short})",
                    inc.len(),
                    urls_word(n)
                ),
                inc,
            )
        } else {
            (
                VerdictKind::Ok,
                format!("{name}: not throttled ({} ok)", urls_word(n)),
                urls.clone(),
            )
        };
        let mut mech: BTreeMap<&str, (usize, Mechanism)> = BTreeMap::new();
        for v in &focus {
            if let Some(m) = v.mechanism {
                mech.entry(m.as_str()).or_insert((0, m)).0 += 1;
            }
        }
        let mechanism = mech
            .values()
            .max_by_key(|(c, m)| (*c, *m != Mechanism::Unclear))
            .map(|(_, m)| *m);
        let mut reason = reason;
        if let (VerdictKind::Throttled | VerdictKind::Partial, Some(m)) = (verdict, mechanism) {
            reason += &format!(", {m}");
        }
        let metric = class_metric(&focus, verdict);
        out.push(Verdict {
            vantage: vantage.to_string(),
            scope: Scope::Class,
            host: hosts(&focus),
            class,
            direction,
            transport,
            n,
            n_control: urls.iter().map(|v| v.n_control).max().unwrap_or(0),
            median_bps: median_of(focus.iter().filter_map(|v| v.median_bps)),
            control_median_bps: median_of(focus.iter().filter_map(|v| v.control_median_bps)),
            ratio: median_of(
                focus
                    .iter()
                    .filter(|v| metric.is_none() || v.metric == metric)
                    .filter_map(|v| v.ratio),
            ),
            slowed_share: median_of(focus.iter().filter_map(|v| v.slowed_share)),
            slowed_median_bps: median_of(focus.iter().filter_map(|v| v.slowed_median_bps)),
            control_slowed_share: median_of(focus.iter().filter_map(|v| v.control_slowed_share)),
            verdict,
            mechanism: if verdict == VerdictKind::Ok {
                None
            } else {
                mechanism
            },
            plateau_bps: median_of(focus.iter().filter_map(|v| v.plateau_bps)),
            burst_bytes: median_of(focus.iter().filter_map(|v| v.burst_bytes.map(|b| b as f64)))
                .map(|b| b as u64),
            metric,
            // Medians of the class's metric, over its URLs judged by it.
            median: metric.and_then(|m| {
                median_of(
                    focus
                        .iter()
                        .filter(|v| v.metric == Some(m))
                        .filter_map(|v| v.median),
                )
            }),
            control_median: metric.and_then(|m| {
                median_of(
                    focus
                        .iter()
                        .filter(|v| v.metric == Some(m))
                        .filter_map(|v| v.control_median),
                )
            }),
            n_failed: urls.iter().map(|v| v.n_failed).sum(),
            n_censored: urls.iter().map(|v| v.n_censored).sum(),
            failure: focus.iter().find_map(|v| v.failure.clone()),
            reason,
            ..empty_verdict()
        });
    }
    out
}

/// The metric a throttled class is described by: the rate when any of its
/// throttled URLs was judged by rate, else the time metric most of them used.
fn class_metric(rows: &[&Verdict], verdict: VerdictKind) -> Option<Metric> {
    if verdict != VerdictKind::Throttled {
        return None;
    }
    if let Some(m) = rows.iter().filter_map(|v| v.metric).find(|m| m.is_rate()) {
        return Some(m);
    }
    let tls = rows
        .iter()
        .filter(|v| v.metric == Some(Metric::TlsTime))
        .count();
    Some(if tls * 2 > rows.len() {
        Metric::TlsTime
    } else {
        Metric::TotalTime
    })
}

/// " to ~131 kbit/s" for rate throttles; " (total time ×13.7)" for time ones.
fn throttle_detail(rows: &[&Verdict]) -> String {
    let rate = median_of(
        rows.iter()
            .filter(|v| v.metric.is_some_and(|m| m.is_rate()))
            .filter_map(|v| throttle_rate(v)),
    );
    let mut parts = Vec::new();
    for (m, what) in [
        (Metric::TotalTime, "total time"),
        (Metric::TlsTime, "TLS time"),
    ] {
        if let Some(r) = median_of(
            rows.iter()
                .filter(|v| v.metric == Some(m))
                .filter_map(|v| v.ratio),
        ) {
            if r > 0.0 {
                parts.push(format!("{what} {}", fmt_factor(1.0 / r)));
            }
        }
    }
    let mut s = String::new();
    if let Some(r) = rate {
        s += &format!(" to ~{}", fmt_bps(r));
    }
    if !parts.is_empty() {
        s += &format!(" ({})", parts.join(", "));
    }
    s
}

/// Per vantage, the one sentence: which classes are throttled and which not.
/// Built from the `scope = class` rows of `rows`.
pub fn selective_summary(rows: &[Verdict]) -> Vec<(String, String)> {
    let mut by: BTreeMap<&str, Vec<&Verdict>> = BTreeMap::new();
    for v in rows.iter().filter(|v| v.scope == Scope::Class) {
        by.entry(v.vantage.as_str()).or_default().push(v);
    }
    let quic = quic_vantages(rows.iter());
    let mut out = Vec::new();
    for (vantage, classes) in by {
        let both = quic.contains(vantage);
        let name = |v: &Verdict| class_name(v.class, v.direction) + over(v.transport, both);
        let of = |k: VerdictKind| {
            classes
                .iter()
                .copied()
                .filter(|v| v.verdict == k)
                .collect::<Vec<_>>()
        };
        let mut parts = Vec::new();
        let thr = of(VerdictKind::Throttled);
        if !thr.is_empty() {
            // Rate-throttled classes at similar rates share one clause.
            let by_rate: Vec<&Verdict> = thr
                .iter()
                .copied()
                .filter(|v| {
                    v.metric.is_some_and(|m| m.is_rate())
                        && v.mechanism != Some(Mechanism::Freeze)
                        && throttle_rate(v).is_some()
                })
                .collect();
            let rates: Vec<f64> = by_rate.iter().filter_map(|v| throttle_rate(v)).collect();
            let (lo, hi) = rates
                .iter()
                .fold((f64::INFINITY, 0.0f64), |(a, b), &r| (a.min(r), b.max(r)));
            let grouped = by_rate.len() > 1 && hi <= lo * 1.25;
            if grouped {
                // Downloads first, so the names read in the order of the
                // mechanisms' directions.
                let mut told = by_rate.clone();
                told.sort_by_key(|v| v.direction == Direction::Up);
                let names: Vec<String> = told.iter().map(|v| finding_name(v, both)).collect();
                parts.push(format!(
                    "{} throttled to ~{}{}",
                    join_and(&names),
                    fmt_bps(median_of(rates).unwrap_or(lo)),
                    mechanisms(&by_rate)
                ));
            }
            for v in thr
                .iter()
                .filter(|v| !(grouped && by_rate.iter().any(|b| std::ptr::eq(*b, **v))))
            {
                let detail = match (v.metric, throttle_rate(v), v.ratio) {
                    // A freeze has no rate to speak of: say where it stops.
                    _ if v.mechanism == Some(Mechanism::Freeze) => {
                        let after = v
                            .burst_bytes
                            .map(|b| format!(": stops after ~{:.0} KiB", b as f64 / 1024.0))
                            .unwrap_or_default();
                        // One parenthesis: the mechanism and where it stops.
                        parts.push(format!(
                            "{} throttled (freeze{after})",
                            finding_name(v, both)
                        ));
                        continue;
                    }
                    (Some(m), Some(r), _) if m.is_rate() => format!(" to ~{}", fmt_bps(r)),
                    // A time factor and the mechanism share one parenthesis.
                    (Some(Metric::TotalTime | Metric::TlsTime), _, Some(r)) if r > 0.0 => {
                        let what = if v.metric == Some(Metric::TlsTime) {
                            "TLS time"
                        } else {
                            "total time"
                        };
                        let m = v.mechanism.map(|m| format!(", {m}")).unwrap_or_default();
                        parts.push(format!(
                            "{} throttled ({what} {}{m})",
                            finding_name(v, both),
                            fmt_factor(1.0 / r)
                        ));
                        continue;
                    }
                    _ => String::new(),
                };
                parts.push(format!(
                    "{} throttled{detail}{}",
                    finding_name(v, both),
                    mechanisms(&[*v])
                ));
            }
        }
        for v in of(VerdictKind::Partial) {
            let mut s = format!("{} partially throttled", finding_name(v, both));
            if let Some(sh) = v.slowed_share {
                s += &format!(": {:.0}% of fetches", sh * 100.0);
            }
            if let Some(r) = v.plateau_bps.or(v.slowed_median_bps) {
                s += &format!(" at ~{}", fmt_bps(r));
            }
            if let Some(m) = v.mechanism {
                s += &format!(" ({m})");
            }
            parts.push(s);
        }
        let blk = of(VerdictKind::Blocked);
        if !blk.is_empty() {
            let names: Vec<String> = blk
                .iter()
                .map(|v| match &v.failure {
                    Some(f) => format!("{} ({f})", finding_name(v, both)),
                    None => finding_name(v, both),
                })
                .collect();
            parts.push(format!("{} blocked", join_and(&names)));
        }
        let ok = of(VerdictKind::Ok);
        if !ok.is_empty() {
            let names: Vec<String> = ok.iter().map(|v| name(v)).collect();
            parts.push(format!("{} not throttled", join_and(&names)));
        }
        let inc = of(VerdictKind::Inconclusive);
        if !inc.is_empty() {
            let names: Vec<String> = inc.iter().map(|v| name(v)).collect();
            parts.push(format!("{} inconclusive", join_and(&names)));
        }
        let runs = classes.iter().map(|v| v.runs).max().unwrap_or(0);
        let mut sentence = parts.join("; ");
        if runs > 1 {
            sentence += &format!(" (over {runs} runs)");
        }
        out.push((vantage.to_string(), sentence));
    }
    out
}

#[cfg(test)]
mod headline_tests {
    use super::*;

    fn class_row(class: Class, dir: Direction, verdict: VerdictKind) -> Verdict {
        Verdict {
            vantage: "vm".into(),
            scope: Scope::Class,
            class: Some(class),
            direction: dir,
            verdict,
            ..crate::analyze::base::verdict::empty_verdict()
        }
    }

    fn rate_row(class: Class, dir: Direction, m: Mechanism, host: &str) -> Verdict {
        Verdict {
            metric: Some(if dir == Direction::Up {
                Metric::Upload
            } else {
                Metric::Steady
            }),
            plateau_bps: Some(131_072.0),
            mechanism: Some(m),
            host: host.into(),
            ..class_row(class, dir, VerdictKind::Throttled)
        }
    }

    #[test]
    fn factors_keep_two_significant_digits() {
        assert_eq!(fmt_factor(289.04), "×290");
        assert_eq!(fmt_factor(49.4), "×49");
        assert_eq!(fmt_factor(13.7), "×14");
        assert_eq!(fmt_factor(4.51), "×4.5");
        assert_eq!(fmt_factor(1234.0), "×1200");
        assert_eq!(fmt_factor(f64::INFINITY), "×?");
    }

    /// Issue 23.4: the demo's sentence names the collateral host, says which
    /// direction has which mechanism, and rounds the time factor.
    #[test]
    fn headline_names_hosts_and_mechanisms_per_direction() {
        let rows = vec![
            rate_row(
                Class::Image,
                Direction::Down,
                Mechanism::Policer,
                "pbs.twimg.com",
            ),
            rate_row(
                Class::Image,
                Direction::Up,
                Mechanism::Shaper,
                "upload.twimg.com",
            ),
            rate_row(
                Class::Video,
                Direction::Down,
                Mechanism::Policer,
                "video.twimg.com",
            ),
            Verdict {
                metric: Some(Metric::TotalTime),
                ratio: Some(1.0 / 289.04),
                plateau_bps: Some(131_072.0),
                mechanism: Some(Mechanism::Policer),
                host: "microsoft.com".into(),
                ..class_row(Class::Other, Direction::Down, VerdictKind::Throttled)
            },
            class_row(Class::Text, Direction::Down, VerdictKind::Ok),
        ];
        let s = &selective_summary(&rows)[0].1;
        assert_eq!(
            s,
            "image, video and image upload throttled to ~131 kbit/s \
             (policer on downloads, shaper on the upload); \
             other (microsoft.com) throttled (total time ×290, policer); \
             text not throttled"
        );
        // One mechanism: one word; mixed within a direction: per name.
        let same = vec![
            rate_row(Class::Image, Direction::Down, Mechanism::Policer, "a"),
            rate_row(Class::Video, Direction::Down, Mechanism::Policer, "b"),
        ];
        assert!(selective_summary(&same)[0]
            .1
            .ends_with("~131 kbit/s (policer)"));
        let mixed = vec![
            rate_row(Class::Image, Direction::Down, Mechanism::Policer, "a"),
            rate_row(Class::Video, Direction::Down, Mechanism::Shaper, "b"),
        ];
        assert!(
            selective_summary(&mixed)[0]
                .1
                .ends_with("(image policer, video shaper)"),
            "{:?}",
            selective_summary(&mixed)
        );
        // A named class that is not the catch-all keeps its name alone.
        assert!(!s.contains("image (pbs"), "{s}");
    }

    /// Class rows carry the hosts their verdict rests on.
    #[test]
    fn class_rows_carry_their_hosts() {
        let url = |host: &str, verdict| Verdict {
            vantage: "vm".into(),
            scope: Scope::Url,
            class: Some(Class::Other),
            host: host.into(),
            url: format!("https://{host}/x"),
            verdict,
            ..crate::analyze::base::verdict::empty_verdict()
        };
        let rows = vec![
            url("microsoft.com", VerdictKind::Throttled),
            url("example.org", VerdictKind::Ok),
        ];
        let c = class_rows(&rows);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].host, "microsoft.com");
    }
}
