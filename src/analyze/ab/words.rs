//! The words of `scope = ab` rows: the per-vantage sentence ("split
//! ClientHello evades; upper case does not"), what a row is about, and the
//! text block under the table. Split from the judging in `mod.rs`, which
//! these only read.

use std::collections::BTreeMap;

use crate::analyze::base::units::fmt_bps;
use crate::analyze::base::verdict::{Scope, Verdict, VerdictKind};
use crate::analyze::stats::{median, sort};
use crate::types::Direction;

/// How an evasion is named in the sentence.
fn evasion_text(variant: &str) -> String {
    match variant {
        "split-hello" => "split ClientHello".into(),
        "split:sni" => "split before the name".into(),
        "tls-records" => "TLS record split".into(),
        "disorder" => "disordered split".into(),
        "oob" => "urgent byte".into(),
        "trailing-dot" => "trailing dot".into(),
        "upper-case" => "upper case".into(),
        "no-sni" => "no SNI".into(),
        "pad" => "padded hello".into(),
        "ccs-first" => "ChangeCipherSpec first".into(),
        "junk-first" => "junk first".into(),
        "pq" => "post-quantum key share".into(),
        other => match other.strip_prefix("split:") {
            Some(n) => format!("split at byte {n}"),
            None => other.into(),
        },
    }
}

/// Names, with two or more under one parent domain written `*.parent`.
fn name_list(mut names: Vec<&str>) -> String {
    names.sort_unstable();
    names.dedup();
    let parent = |n: &str| {
        let labels: Vec<&str> = n.split('.').collect();
        (labels.len() > 2).then(|| labels[labels.len() - 2..].join("."))
    };
    let mut parts: Vec<String> = Vec::new();
    for n in &names {
        let item = match parent(n) {
            Some(p)
                if names
                    .iter()
                    .filter(|m| parent(m).as_ref() == Some(&p))
                    .count()
                    > 1 =>
            {
                format!("*.{p}")
            }
            _ => n.to_string(),
        };
        if !parts.contains(&item) {
            parts.push(item);
        }
    }
    match parts.len() {
        0 => String::new(),
        1 => parts.remove(0),
        _ => {
            let last = parts.pop().unwrap_or_default();
            format!("{} and {last}", parts.join(", "))
        }
    }
}

/// One sentence per vantage with A/B rows.
pub fn sentences(rows: &[Verdict]) -> Vec<(String, String)> {
    let mut by: BTreeMap<&str, Vec<&Verdict>> = BTreeMap::new();
    for v in rows.iter().filter(|v| v.scope == Scope::Ab) {
        by.entry(v.vantage.as_str()).or_default().push(v);
    }
    by.into_iter()
        .map(|(vantage, vs)| (vantage.to_string(), sentence(&vs)))
        .collect()
}

/// What a set of A/B rows found, in one sentence: the trigger names, their
/// rate and directions, and how each evasion fared (`sentences` gives it per
/// vantage; the report also per reflector and name).
pub fn sentence(vs: &[&Verdict]) -> String {
    let triggers: Vec<&&Verdict> = vs.iter().filter(|v| v.trigger == "sni").collect();
    if triggers.is_empty() {
        return "SNI A/B: no name throttled against the control names".to_string();
    }
    let hosts: Vec<&str> = triggers.iter().map(|v| v.host.as_str()).collect();
    let one = hosts.iter().all(|h| *h == hosts[0]);
    let names = name_list(hosts);
    let down = triggers.iter().any(|v| v.direction == Direction::Down);
    let up = triggers.iter().any(|v| v.direction == Direction::Up);
    let dirs = match (down, up) {
        (true, true) => "both directions",
        (true, false) => "downloads",
        _ => "uploads",
    };
    let mut rates: Vec<f64> = triggers.iter().filter_map(|v| v.median_bps).collect();
    sort(&mut rates);
    let mut s = format!(
        "SNI-triggered: {names} {} throttled to ~{} {dirs}",
        if one { "name" } else { "names" },
        fmt_bps(median(&rates))
    );
    // Variants in the documented order, grouped by what they did: "split
    // ClientHello and no SNI evade; upper case does not; pad breaks".
    let mut variants: Vec<&str> = Vec::new();
    for v in vs
        .iter()
        .filter(|v| !v.control && !v.evasion_result.is_empty())
    {
        if !variants.contains(&v.variant.as_str()) {
            variants.push(&v.variant);
        }
    }
    let order = |v: &str| {
        let (key, n) = match v.strip_prefix("split:").map(str::parse::<u32>) {
            Some(Ok(n)) => ("split:N", n),
            _ => (v, 0),
        };
        let at = crate::config::AB_VARIANTS.iter().position(|x| *x == key);
        (at.unwrap_or(usize::MAX), n, v.to_string())
    };
    variants.sort_by_key(|v| order(v));
    let mut groups: Vec<(&str, Vec<String>)> = Vec::new();
    for variant in variants {
        let results: Vec<&str> = vs
            .iter()
            .filter(|v| !v.control && v.variant == variant)
            .map(|v| v.evasion_result.as_str())
            .filter(|r| !r.is_empty())
            .collect();
        let all = |x: &str| results.iter().all(|r| *r == x);
        let word = if all("evades") {
            "evades"
        } else if all("does_not_evade") {
            "does not"
        } else if all("breaks") {
            "breaks"
        } else if results.contains(&"evades") {
            "evades for some names"
        } else {
            "inconclusive"
        };
        match groups.iter_mut().find(|g| g.0 == word) {
            Some(g) => g.1.push(evasion_text(variant)),
            None => groups.push((word, vec![evasion_text(variant)])),
        }
    }
    for (word, mut items) in groups {
        let many = items.len() > 1;
        let last = items.pop().unwrap_or_default();
        let list = if items.is_empty() {
            last
        } else {
            format!("{} and {last}", items.join(", "))
        };
        let word = match (word, many) {
            ("evades", true) => "evade",
            ("does not", true) => "do not",
            ("breaks", true) => "break",
            ("evades for some names", true) => "evade for some names",
            (w, _) => w,
        };
        s += &format!("; {list} {word}");
    }
    s + &transport_clause(vs)
}

/// Where names were measured over both transports: how each fared on
/// each ("; pbs.twimg.com throttled over TCP, not over QUIC"). Empty when
/// only one transport was measured.
fn transport_clause(vs: &[&Verdict]) -> String {
    let mut by: BTreeMap<&str, [Option<VerdictKind>; 2]> = BTreeMap::new();
    for v in vs
        .iter()
        .filter(|v| !v.control && v.label.ends_with(" plain"))
    {
        let slot = &mut by.entry(v.host.as_str()).or_default()[v.transport as usize];
        // Several sizes or directions: a throttled one speaks for the name.
        if *slot != Some(VerdictKind::Throttled) {
            *slot = Some(v.verdict);
        }
    }
    let thr = |k: Option<VerdictKind>| k == Some(VerdictKind::Throttled);
    let mut s = String::new();
    for (name, [tcp, quic]) in by {
        let (Some(_), Some(_)) = (tcp, quic) else {
            continue;
        };
        let said = match (thr(tcp), thr(quic)) {
            (true, false) => "throttled over TCP, not over QUIC",
            (false, true) => "throttled over QUIC, not over TCP",
            (true, true) => "throttled over TCP and over QUIC",
            (false, false) => continue,
        };
        s += &format!("; {name} {said}");
    }
    s
}

/// The reflector id of an A/B row (its label is `{id}: {name} {variant}`,
/// and neither name nor variant holds a space).
pub fn reflector(v: &Verdict) -> &str {
    v.label
        .rsplitn(3, ' ')
        .nth(2)
        .and_then(|id| id.strip_suffix(':'))
        .unwrap_or("")
}

/// The WHAT cell of an A/B row in the text table.
pub fn what(v: &Verdict) -> String {
    let mut s = v.label.clone();
    if v.control {
        s += " (control)";
    }
    if !v.trigger.is_empty() {
        s += &format!(" [trigger: {}]", v.trigger);
    }
    if !v.evasion_result.is_empty() {
        s += &format!(" [{}]", v.evasion_result);
    }
    s
}

/// The A/B sentences for the text output (empty without A/B rows).
pub fn text_block(rows: &[Verdict]) -> String {
    let s = sentences(rows);
    if s.is_empty() {
        return String::new();
    }
    let mut out = String::from("\nSNI A/B\n");
    for (vantage, sentence) in s {
        out += &format!("  {vantage}: {sentence}\n");
    }
    out
}
