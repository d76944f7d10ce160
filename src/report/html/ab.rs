//! The A/B tests section: what each same-server SNI A/B test found, in the
//! words of `slowlane analyze` (one sentence builder, [`crate::analyze::ab`]).

use std::collections::BTreeMap;

use crate::analyze::{ab, Scope, Verdict};

/// The A/B tests of one vantage.
#[derive(Debug, Clone, Default)]
pub struct AbView {
    /// What the vantage's A/B rows found: the `SNI A/B` line of `analyze`.
    pub sentence: String,
    /// Per reflector and tested name, what it found against the control
    /// names of that reflector; trigger names first.
    pub pairs: Vec<String>,
}

/// The section of one vantage's rows; None when it has no A/B row.
pub fn view(rows: &[&Verdict]) -> Option<AbView> {
    let ab_rows: Vec<&Verdict> = rows
        .iter()
        .copied()
        .filter(|v| v.scope == Scope::Ab)
        .collect();
    if ab_rows.is_empty() {
        return None;
    }
    // reflector → (control names, tested name → its rows)
    type Tested<'a> = BTreeMap<&'a str, Vec<&'a Verdict>>;
    let mut by: BTreeMap<&str, (Vec<&str>, Tested)> = BTreeMap::new();
    for v in &ab_rows {
        let e = by.entry(ab::reflector(v)).or_default();
        if v.control {
            if !e.0.contains(&v.host.as_str()) {
                e.0.push(&v.host);
            }
        } else {
            e.1.entry(&v.host).or_default().push(v);
        }
    }
    let mut pairs = Vec::new();
    for (reflector, (mut controls, tested)) in by {
        controls.sort_unstable();
        let controls = if controls.is_empty() {
            "no control name".to_string()
        } else {
            controls.join(", ")
        };
        let mut named: Vec<(bool, String)> = tested
            .iter()
            .map(|(name, vs)| {
                let trigger = vs.iter().any(|v| v.trigger == "sni");
                let s = format!(
                    "{name} vs {controls} on reflector {reflector}: {}",
                    ab::sentence(vs)
                );
                (!trigger, s)
            })
            .collect();
        named.sort();
        pairs.extend(named.into_iter().map(|(_, s)| s));
    }
    Some(AbView {
        sentence: ab::sentence(&ab_rows),
        pairs,
    })
}
