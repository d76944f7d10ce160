//! Throttling rules: which names a middlebox singles out and what it does to them.
//!
//! Matching copies the loose globbing of the March 2021 rules (`*.twimg.com`,
//! `*t.co*`) on purpose: the collateral damage those rules caused
//! (`microsoft.com` matching `*t.co*`) is part of what the lab must reproduce.

use std::fmt;

use serde::Deserialize;

use super::units::{Rate, Size};

/// A case-insensitive glob where `*` matches any run of characters (also none)
/// and every other character matches itself. No `?`, no classes: the real
/// rules did not have them either.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    text: String,
}

impl Pattern {
    pub fn new(text: &str) -> Pattern {
        Pattern {
            text: text.to_ascii_lowercase(),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether `name` matches. A trailing dot in `name` is kept, as the real
    /// box kept it (`pbs.twimg.com.` escaped `*.twimg.com`).
    pub fn matches(&self, name: &str) -> bool {
        glob(self.text.as_bytes(), name.to_ascii_lowercase().as_bytes())
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Iterative glob with single-star backtracking: O(len(p) * len(s)) worst
/// case, no recursion, so hostile names cannot blow the stack.
fn glob(p: &[u8], s: &[u8]) -> bool {
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, si));
            pi += 1;
        } else if pi < p.len() && p[pi] == s[si] {
            pi += 1;
            si += 1;
        } else if let Some((sp, ss)) = star {
            pi = sp + 1;
            si = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// What the middlebox does to one direction of a matched connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// Forward untouched.
    #[default]
    Pass,
    /// Token bucket of `burst` bytes refilled at `rate`; see `limiter` for how
    /// "drops" are approximated (bursts then stalls).
    Police { rate: Rate, burst: Size },
    /// Smooth pacing at `rate`, reading ahead at most `queue` bytes.
    Shape { rate: Rate, queue: Size },
    /// Forward `bytes`, then nothing more and no FIN/RST: the connection hangs.
    FreezeAfter { bytes: Size },
    /// Forward `bytes`, then abort the client connection with a RST.
    ResetAfter { bytes: Size },
    /// Forward nothing in this direction, ever (the connection stays open).
    Blackhole,
}

impl Action {
    pub fn is_pass(&self) -> bool {
        matches!(self, Action::Pass)
    }
}

/// One rule: a set of name patterns and an action per direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub patterns: Vec<Pattern>,
    /// Origin → client (downloads).
    pub down: Action,
    /// Client → origin (uploads, and the ClientHello itself).
    pub up: Action,
}

/// The TOML form of a rule: `match` is one pattern or a list.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RuleToml {
    #[serde(rename = "match")]
    pub pattern: OneOrMany,
    #[serde(default)]
    pub down: Action,
    #[serde(default)]
    pub up: Action,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl From<RuleToml> for Rule {
    fn from(t: RuleToml) -> Rule {
        let pats = match t.pattern {
            OneOrMany::One(p) => vec![p],
            OneOrMany::Many(v) => v,
        };
        Rule {
            patterns: pats.iter().map(|p| Pattern::new(p)).collect(),
            down: t.down,
            up: t.up,
        }
    }
}

/// An ordered rule list; the first rule with a matching pattern wins.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleSet {
    pub rules: Vec<Rule>,
}

impl RuleSet {
    pub fn new(rules: Vec<Rule>) -> RuleSet {
        RuleSet { rules }
    }

    /// Index of the first matching rule, if any. `None` for a connection
    /// whose name could not be read (no SNI, split hello, not TLS/HTTP).
    pub fn find(&self, name: Option<&str>) -> Option<usize> {
        let name = name?;
        self.rules
            .iter()
            .position(|r| r.patterns.iter().any(|p| p.matches(name)))
    }

    /// The (down, up) actions for a name: pass/pass when nothing matches.
    pub fn actions(&self, name: Option<&str>) -> (Action, Action) {
        self.find(name)
            .map(|i| (self.rules[i].down, self.rules[i].up))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_basics() {
        assert!(Pattern::new("*").matches(""));
        assert!(Pattern::new("a*b*c").matches("axxbyyc"));
        assert!(!Pattern::new("a*b*c").matches("axxbyy"));
        assert!(Pattern::new("EXAMPLE.org").matches("example.ORG"));
        assert!(Pattern::new("**x").matches("x"));
    }
}
