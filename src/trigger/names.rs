//! The probe names `slowlane trigger` tries, and what each one tells.
//!
//! Every probe is the trigger name changed one way; whether the DPI still
//! throttles it says which class of rule it holds (exact name, subdomains,
//! any prefix, substring, case folding, trailing dot, TLD swap, the parent
//! domain). The marks (`slowlaneprobe`, `probe.net`) are letters no real
//! rule is likely to hold.

use crate::types::Wire;

/// One probe: what it checks, the name and the variant it is sent as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// `exact`, `subdomains`, `prefix`, `substring`, `case`, `trailing-dot`,
    /// `tld-swap`, `parent`, `trim` (a minimal-substring step).
    pub checks: &'static str,
    pub name: String,
    pub variant: Wire,
}

fn probe(checks: &'static str, name: String, variant: Wire) -> Probe {
    Probe {
        checks,
        name,
        variant,
    }
}

/// A name holding `s` with letters on both sides: a substring rule `*s*`
/// matches it, a suffix, subdomain or exact rule does not.
pub fn wrapped(s: &str) -> String {
    format!("slowlaneprobe{s}probe.net")
}

/// The class probes of `name` (lower case, no trailing dot), exact first.
pub fn class_probes(name: &str) -> Vec<Probe> {
    let mut v = vec![
        probe("exact", name.to_string(), Wire::Plain),
        probe("subdomains", format!("slowlane-probe.{name}"), Wire::Plain),
        probe("prefix", format!("slowlaneprobe{name}"), Wire::Plain),
        probe("substring", wrapped(name), Wire::Plain),
        probe("case", name.to_string(), Wire::UpperCase),
        probe("trailing-dot", name.to_string(), Wire::TrailingDot),
    ];
    let labels: Vec<&str> = name.split('.').collect();
    if labels.len() >= 2 {
        let last = labels[labels.len() - 1];
        let swap = if last == "net" { "org" } else { "net" };
        let stem = labels[..labels.len() - 1].join(".");
        v.push(probe("tld-swap", format!("{stem}.{swap}"), Wire::Plain));
    }
    if labels.len() >= 3 {
        let parent = labels[1..].join(".");
        v.push(probe(
            "parent",
            format!("slowlane-probe.{parent}"),
            Wire::Plain,
        ));
    }
    v
}

/// Trials the minimal-substring search takes at most for a name of `len`
/// bytes: a binary search from each end.
pub fn trim_trials(len: usize) -> usize {
    2 * (usize::BITS - len.max(1).leading_zeros()) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testbed::Pattern;

    #[test]
    fn each_probe_tells_its_class_apart() {
        let p = class_probes("t.co");
        let name = |c: &str| p.iter().find(|x| x.checks == c).unwrap().name.clone();
        // Which probes each rule class catches.
        let caught = |rule: &str| -> Vec<&str> {
            let pat = Pattern::new(rule);
            p.iter()
                .filter(|x| x.variant == Wire::Plain && pat.matches(&x.name))
                .map(|x| x.checks)
                .collect()
        };
        assert_eq!(caught("exact:t.co"), ["exact"]);
        assert_eq!(caught("domain:t.co"), ["exact", "subdomains"]);
        assert_eq!(caught("*t.co"), ["exact", "subdomains", "prefix"]);
        assert_eq!(
            caught("*t.co*"),
            ["exact", "subdomains", "prefix", "substring"]
        );
        assert_eq!(name("tld-swap"), "t.net");
        assert!(p.iter().all(|x| x.checks != "parent"));
        assert_eq!(
            class_probes("pbs.twimg.com").last().unwrap().name,
            "slowlane-probe.twimg.com"
        );
        assert_eq!(trim_trials(13), 8);
        for x in &p {
            assert!(crate::probe::tls::server_name(&x.name).is_ok(), "{x:?}");
        }
    }
}
