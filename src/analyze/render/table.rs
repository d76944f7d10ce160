//! The text table `analyze` and `run` print, and its summary block.
//!
//! Built for hundreds of vantages: `--only` keeps the rows a reader wants,
//! the block after the table counts verdicts instead of listing them, and
//! per-vantage sentences are printed for every vantage only when there are
//! few; with many, only for vantages where something was found.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::analyze::aggregate::summary::selective_summary;
use crate::analyze::base::units::{fmt_bps, fmt_ms, fmt_p, fmt_ratio};
use crate::analyze::base::verdict::{class_str, Scope, Verdict, VerdictKind};
use crate::analyze::input::pooling::plural;

/// What starts a row's reason line (right-aligned in 14 columns).
pub const REASON_MARK: &str = "└ ";

/// The table for a terminal `width` columns wide: each reason line (up to
/// ~700 characters) wrapped at spaces, continuation lines indented under
/// its text. Files and pipes get [`text`]'s whole lines (grep finds a
/// reason on its row's next line), and verdicts.csv always has them whole.
pub fn wrap_reasons(table: &str, width: usize) -> String {
    let mut out = String::with_capacity(table.len() + table.len() / 16);
    for line in table.lines() {
        let Some(at) = line
            .find(REASON_MARK)
            .filter(|&i| line[..i].trim().is_empty())
        else {
            out.push_str(line);
            out.push('\n');
            continue;
        };
        let indent = line[..at].chars().count() + REASON_MARK.chars().count();
        // Never narrower than 40 columns of text: a tiny width would give a
        // word a line.
        let room = width.saturating_sub(indent).max(40);
        let mut col = 0;
        out.push_str(&line[..at + REASON_MARK.len()]);
        for word in line[at + REASON_MARK.len()..]
            .split(' ')
            .filter(|w| !w.is_empty())
        {
            let w = word.chars().count();
            if col > 0 && col + 1 + w > room {
                out.push('\n');
                out.push_str(&" ".repeat(indent));
                col = 0;
            } else if col > 0 {
                out.push(' ');
                col += 1;
            }
            out.push_str(word);
            col += w;
        }
        out.push('\n');
    }
    out
}

/// Above this many vantages, sentences are printed only where something was found.
const ALL_SENTENCES_MAX: usize = 20;

const KINDS: [VerdictKind; 5] = [
    VerdictKind::Throttled,
    VerdictKind::Partial,
    VerdictKind::Blocked,
    VerdictKind::Inconclusive,
    VerdictKind::Ok,
];

/// A MEDIAN/CONTROL cell: the judged metric's value in its unit (a time for
/// time-judged rows, so the column says what RATIO divides), else the rate.
fn judged(v: &Verdict, value: Option<f64>, rate: Option<f64>) -> String {
    match (v.metric, value) {
        (Some(m), Some(x)) if !m.is_rate() => fmt_ms(x),
        (Some(_), Some(x)) => fmt_bps(x),
        _ => rate.map(fmt_bps).unwrap_or_default(),
    }
}

pub fn text<'a>(all: &'a [Verdict], kept: &[&'a Verdict]) -> String {
    let mut out = String::new();
    let header = format!(
        "{:<12} {:<5} {:<6} {:<4} {:<12} {:<8} {:>9} {:>12} {:>12} {:>8} {:>9}  WHAT",
        "VANTAGE",
        "SCOPE",
        "CLASS",
        "DIR",
        "VERDICT",
        "MECH",
        "N/NC",
        "MEDIAN",
        "CONTROL",
        "RATIO",
        "Q"
    );
    let _ = writeln!(out, "{}", header.trim_end());
    // URLs fetched with several SNIs (A/B tests) show the SNI of each row,
    // and its label when the labels differ too; host rows likewise per host.
    let key = |v: &'a Verdict| {
        let what = if v.scope == Scope::Url {
            &v.url
        } else {
            &v.host
        };
        (v.vantage.as_str(), v.scope, what.as_str())
    };
    type Seen<'a> = (Vec<&'a str>, Vec<&'a str>);
    // Only the shown rows' keys (`--only` over many vantages shows few).
    let mut seen: BTreeMap<(&str, Scope, &str), Seen> = kept
        .iter()
        .filter(|v| v.scope != Scope::Class)
        .map(|v| (key(v), Seen::default()))
        .collect();
    for v in all.iter().filter(|v| v.scope != Scope::Class) {
        let Some(e) = seen.get_mut(&key(v)) else {
            continue;
        };
        if !e.0.contains(&v.sni.as_str()) {
            e.0.push(&v.sni);
        }
        if !e.1.contains(&v.label.as_str()) {
            e.1.push(&v.label);
        }
    }
    for v in kept.iter().filter(|v| v.scope != Scope::Class) {
        let mut what = match v.scope {
            Scope::Url if v.control => format!("{} (control)", v.url),
            Scope::Url => v.url.clone(),
            Scope::Ab => crate::analyze::ab::what(v),
            _ => format!("{} (all URLs)", v.host),
        };
        let (snis, labels) = seen.get(&key(v)).map_or((0, 0), |e| (e.0.len(), e.1.len()));
        let mut tags = Vec::new();
        if snis > 1 {
            tags.push(format!(
                "sni {}",
                if v.sni.is_empty() { "none" } else { &v.sni }
            ));
        }
        if labels > 1 && !v.label.is_empty() {
            tags.push(format!("label {}", v.label));
        }
        if !tags.is_empty() {
            what = format!("{what} [{}]", tags.join(", "));
        }
        let line = format!(
            "{:<12} {:<5} {:<6} {:<4} {:<12} {:<8} {:>9} {:>12} {:>12} {:>8} {:>9}  {}",
            v.vantage,
            v.scope.as_str(),
            class_str(v.class),
            v.direction.as_str(),
            v.verdict.as_str(),
            v.mechanism.map_or("", |m| m.as_str()),
            format!("{}/{}", v.n, v.n_control),
            judged(v, v.median, v.median_bps),
            judged(v, v.control_median, v.control_median_bps),
            v.ratio.map(fmt_ratio).unwrap_or_default(),
            v.q_value.map(fmt_p).unwrap_or_default(),
            what
        );
        let _ = writeln!(out, "{}", line.trim_end());
        if v.verdict != VerdictKind::Ok {
            let _ = writeln!(out, "{REASON_MARK:>14}{}", v.reason.trim_end());
        }
    }
    if kept.len() < all.len() {
        let _ = writeln!(
            out,
            "({} of {} rows shown)",
            kept.iter().filter(|v| v.scope != Scope::Class).count(),
            all.iter().filter(|v| v.scope != Scope::Class).count()
        );
    }
    // Counts of URL rows by verdict, over every vantage.
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    // Rows come grouped by vantage: drop the repeats before sorting.
    let mut vantages: Vec<&str> = Vec::new();
    for v in all {
        if vantages.last() != Some(&v.vantage.as_str()) {
            vantages.push(&v.vantage);
        }
    }
    vantages.sort_unstable();
    vantages.dedup();
    for v in all.iter().filter(|v| v.scope == Scope::Url) {
        *counts.entry(v.verdict.as_str()).or_default() += 1;
    }
    let parts: Vec<String> = KINDS
        .iter()
        .filter_map(|k| {
            counts
                .get(k.as_str())
                .map(|n| format!("{n} {}", k.as_str()))
        })
        .collect();
    if !parts.is_empty() {
        // Runs per vantage, from its class rows (url rows when it has none).
        // (Rows come grouped by vantage: one map update per stretch.)
        let mut runs: BTreeMap<&str, usize> = BTreeMap::new();
        let mut stretch: Option<(&str, usize)> = None;
        for v in all {
            match &mut stretch {
                Some((name, n)) if *name == v.vantage => *n = (*n).max(v.runs),
                _ => {
                    if let Some((name, n)) = stretch.replace((&v.vantage, v.runs)) {
                        let e = runs.entry(name).or_default();
                        *e = (*e).max(n);
                    }
                }
            }
        }
        if let Some((name, n)) = stretch {
            let e = runs.entry(name).or_default();
            *e = (*e).max(n);
        }
        let total: usize = runs.values().sum();
        let over_runs = if runs.values().any(|&n| n > 1) {
            format!(", {}", plural(total, "run"))
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "\nURL rows: {} (over {}{over_runs})",
            parts.join(", "),
            plural(vantages.len(), "vantage"),
        );
    }
    out.push_str(&crate::analyze::ab::text_block(all));
    let summary = selective_summary(all);
    if summary.is_empty() {
        return out;
    }
    out.push_str("\nSummary\n");
    let many = summary.len() > ALL_SENTENCES_MAX;
    let with_findings: std::collections::HashSet<&str> = all
        .iter()
        .filter(|v| {
            v.scope == Scope::Class
                && matches!(
                    v.verdict,
                    VerdictKind::Throttled | VerdictKind::Partial | VerdictKind::Blocked
                )
        })
        .map(|v| v.vantage.as_str())
        .collect();
    let found = |vantage: &str| with_findings.contains(vantage);
    let mut quiet = 0;
    for (vantage, sentence) in &summary {
        if many && !found(vantage) {
            quiet += 1;
            continue;
        }
        let _ = writeln!(out, "  {vantage}: {sentence}");
    }
    if quiet > 0 {
        let _ = writeln!(
            out,
            "  … and {} where nothing was found throttled, partial or blocked",
            plural(quiet, "vantage")
        );
    }
    out
}

#[cfg(test)]
mod wrap_tests {
    use super::*;

    /// Issue 23.8: a 600-character reason becomes lines that fit the
    /// terminal, indented under the reason, same words in the same order;
    /// other lines are left alone.
    #[test]
    fn reasons_wrap_to_the_width() {
        let reason: Vec<String> = (0..80).map(|i| format!("word{i};")).collect();
        let reason = reason.join(" ");
        let row = format!(
            "{:<120}https://example.org/a-long-url",
            "vm url image down throttled"
        );
        let table = format!("HEADER\n{row}\n{REASON_MARK:>14}{reason}\n\nSummary\n");
        let out = wrap_reasons(&table, 80);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "HEADER");
        assert_eq!(lines[1], row, "a table row is not wrapped");
        let body: Vec<&&str> = lines[2..].iter().take_while(|l| !l.is_empty()).collect();
        assert!(body.len() > 5, "{out}");
        for l in &body {
            assert!(l.chars().count() <= 80, "{l:?} is wider than 80");
        }
        assert!(body[0].starts_with(&format!("{REASON_MARK:>14}")));
        for l in &body[1..] {
            assert!(
                l.starts_with(&" ".repeat(14)) && !l[14..].starts_with(' '),
                "{l:?}"
            );
        }
        let words: Vec<&str> = body
            .iter()
            .flat_map(|l| {
                l.trim_start()
                    .trim_start_matches(REASON_MARK)
                    .split_whitespace()
            })
            .collect();
        assert_eq!(words.join(" "), reason);
        assert!(out.ends_with("\nSummary\n"));
    }
}
