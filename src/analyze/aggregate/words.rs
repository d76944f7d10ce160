//! How the summary names what it found: a class (and, for the catch-all,
//! its hosts), a slow-down factor with the precision it has, the mechanisms
//! per direction, the transport, and lists joined in English.

use std::collections::BTreeSet;

use crate::analyze::base::verdict::{class_str, Mechanism, Verdict};
use crate::types::{Class, Direction, Transport};

/// `image`, `image upload`, `unknown class`.
pub(super) fn class_name(class: Option<Class>, dir: Direction) -> String {
    let c = if class.is_some() {
        class_str(class)
    } else {
        "unknown class"
    };
    match dir {
        Direction::Down => c.to_string(),
        Direction::Up => format!("{c} upload"),
    }
}

/// The name a finding is told by in the sentence: a class's name, and for
/// the catch-all `other` (or no class) also its hosts, since "other
/// throttled" would hide which site was hit (microsoft.com caught by a
/// `*t.co*` rule is the most telling line of the 2021 scenario). Class rows
/// carry their hosts in `host` ([`super::summary::class_rows`]); a long list keeps the class.
/// `both`: the vantage measured over QUIC too, so the transport is named.
pub(super) fn finding_name(v: &Verdict, both: bool) -> String {
    let name = class_name(v.class, v.direction) + over(v.transport, both);
    let catch_all = matches!(v.class, None | Some(Class::Other));
    if catch_all && !v.host.is_empty() && !v.host.contains('…') {
        format!("{name} ({})", v.host)
    } else {
        name
    }
}

/// A slow-down factor with the precision its measurement has: `×4.5`,
/// `×49`, `×290` (two significant digits at most; medians of a few fetches
/// do not know a third).
pub fn fmt_factor(x: f64) -> String {
    if !x.is_finite() || x <= 0.0 {
        return "×?".to_string();
    }
    if x < 10.0 {
        return format!("×{x:.1}");
    }
    let digits = x.log10().floor() as i32;
    let unit = 10f64.powi((digits - 1).max(0));
    format!("×{:.0}", (x / unit).round() * unit)
}

/// The mechanisms of rows told in one clause: ` (policer)` when they
/// agree; split by direction when each direction has one (` (policer on
/// downloads, shaper on the upload)`: the lab's upload policer is seen by
/// the sender as a closed receive window, which reads as a shaper); else
/// per name.
pub(super) fn mechanisms(rows: &[&Verdict]) -> String {
    let mut all: Vec<Mechanism> = rows.iter().filter_map(|v| v.mechanism).collect();
    all.sort_unstable_by_key(|m| m.as_str());
    all.dedup();
    match all.len() {
        0 => return String::new(),
        1 => return format!(" ({})", all[0]),
        _ => {}
    }
    let mut per_dir = Vec::new();
    for (dir, one, many) in [
        (Direction::Down, "the download", "downloads"),
        (Direction::Up, "the upload", "uploads"),
    ] {
        let of: Vec<&&Verdict> = rows.iter().filter(|v| v.direction == dir).collect();
        let mut m: Vec<Mechanism> = of.iter().filter_map(|v| v.mechanism).collect();
        m.sort_unstable_by_key(|m| m.as_str());
        m.dedup();
        match m.as_slice() {
            [] => {}
            [one_mech] => {
                let what = if of.len() == 1 { one } else { many };
                per_dir.push(format!("{one_mech} on {what}"));
            }
            _ => {
                per_dir.clear();
                break;
            }
        }
    }
    if per_dir.len() > 1 {
        return format!(" ({})", per_dir.join(", "));
    }
    let each: Vec<String> = rows
        .iter()
        .filter_map(|v| {
            v.mechanism
                .map(|m| format!("{} {m}", class_name(v.class, v.direction)))
        })
        .collect();
    format!(" ({})", each.join(", "))
}

/// " over TCP" / " over QUIC" after a class name, where the vantage measured
/// over QUIC at all (a TCP-only vantage reads as before).
pub(super) fn over(t: Transport, both: bool) -> &'static str {
    match (t, both) {
        (Transport::Quic, _) => " over QUIC",
        (Transport::Tcp, true) => " over TCP",
        (Transport::Tcp, false) => "",
    }
}

/// The vantages with any QUIC row.
pub(super) fn quic_vantages<'a>(rows: impl Iterator<Item = &'a Verdict>) -> BTreeSet<&'a str> {
    rows.filter(|v| v.transport == Transport::Quic)
        .map(|v| v.vantage.as_str())
        .collect()
}

/// `a`, `a and b`, `a, b and c`.
pub(super) fn join_and(items: &[String]) -> String {
    match items.len() {
        0 => String::new(),
        1 => items[0].clone(),
        n => format!("{} and {}", items[..n - 1].join(", "), items[n - 1]),
    }
}
