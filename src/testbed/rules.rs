//! Throttling rules: which names a middlebox singles out and what it does to them.
//!
//! Matching copies the loose globbing of the March 2021 rules (`*.twimg.com`,
//! `*t.co*`) on purpose: the collateral damage those rules caused
//! (`microsoft.com` matching `*t.co*`) is part of what the lab must reproduce.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use super::units::{Rate, Size};
use crate::types::Transport;

/// A case-insensitive glob where `*` matches any run of characters (also none)
/// and every other character matches itself. No `?`, no classes: the real
/// rules did not have them either. A prefix picks another kind of rule, as
/// other boxes write them: `exact:x` (the name alone), `domain:x` (`x` and
/// its subdomains, label-aligned), `suffix:x` (any name ending in `x`, so
/// `suffix:twitter.com` takes `throttletwitter.com`), `substring:x` (`x`
/// anywhere: `substring:t.co` takes `microsoft.com`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    text: String,
    kind: Kind,
    /// Match the name's bytes as sent (`case_sensitive = true` in a rule):
    /// then `PBS.TWIMG.COM` escapes `*.twimg.com`, as it does on a box that
    /// compares bytes without folding case.
    exact: bool,
}

/// How a [`Pattern`]'s text is compared with a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Glob,
    Exact,
    Domain,
    Suffix,
    Substring,
}

const KINDS: [(&str, Kind); 4] = [
    ("exact:", Kind::Exact),
    ("domain:", Kind::Domain),
    ("suffix:", Kind::Suffix),
    ("substring:", Kind::Substring),
];

impl Pattern {
    fn parse(text: &str, exact: bool) -> Pattern {
        let (kind, body) = KINDS
            .iter()
            .find_map(|(p, k)| text.strip_prefix(p).map(|b| (*k, b)))
            .unwrap_or((Kind::Glob, text));
        Pattern {
            text: if exact {
                body.to_string()
            } else {
                body.to_ascii_lowercase()
            },
            kind,
            exact,
        }
    }

    pub fn new(text: &str) -> Pattern {
        Pattern::parse(text, false)
    }

    /// A pattern matched without folding case.
    pub fn exact(text: &str) -> Pattern {
        Pattern::parse(text, true)
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the pattern matches every name (stars alone): the only kind
    /// that also applies to a connection without a name.
    pub fn is_catch_all(&self) -> bool {
        self.kind == Kind::Glob && !self.text.is_empty() && self.text.bytes().all(|c| c == b'*')
    }

    /// Whether `name` matches. A trailing dot in `name` is kept, as the real
    /// box kept it (`pbs.twimg.com.` escaped `*.twimg.com`).
    pub fn matches(&self, name: &str) -> bool {
        let folded;
        let name = if self.exact {
            name
        } else {
            folded = name.to_ascii_lowercase();
            &folded
        };
        let t = self.text.as_str();
        match self.kind {
            Kind::Glob => glob(t.as_bytes(), name.as_bytes()),
            Kind::Exact => name == t,
            Kind::Domain => name == t || name.strip_suffix(t).is_some_and(|h| h.ends_with('.')),
            Kind::Suffix => name.ends_with(t),
            Kind::Substring => name.contains(t),
        }
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some((p, _)) = KINDS.iter().find(|(_, k)| *k == self.kind) {
            f.write_str(p)?;
        }
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
    /// Smooth pacing at `rate`, reading ahead at most `queue` bytes. With
    /// `shared`, every connection the rule applies to goes through ONE
    /// FIFO queue of `queue` bytes drained at `rate` (an htb class with a
    /// long pfifo): connections share the rate and wait behind each other.
    Shape {
        rate: Rate,
        queue: Size,
        #[serde(default)]
        shared: bool,
        /// Only with `shared`: most bytes one connection may have in the
        /// queue (and delay line) at once, as its TCP window bounds a real
        /// flow. `None`: one connection may fill the whole queue.
        #[serde(default)]
        window: Option<Size>,
    },
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

    /// A rate limit (police or shape, private or shared).
    pub fn is_throttle(&self) -> bool {
        matches!(self, Action::Police { .. } | Action::Shape { .. })
    }
}

/// Which fraction of the connections a rule matches it applies to: exactly
/// `take` of every block of `of` consecutive matching connections, in a
/// shuffled order (a deck of cards, see `policy`). Exact over whole blocks,
/// so a test that expects 30% gets 30%, not 30% ± sampling noise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Share {
    pub take: u32,
    pub of: u32,
    /// Seed of the shuffle; `None` draws one per middlebox.
    pub seed: Option<u64>,
}

impl Share {
    /// The smallest block (≤ 100) in which `fraction` is a whole number of
    /// connections; other fractions are rounded to the nearest 1%.
    pub fn new(fraction: f64, seed: Option<u64>) -> Result<Share, String> {
        if !(fraction > 0.0 && fraction <= 1.0) {
            return Err(format!("share must be in (0, 1], got {fraction}"));
        }
        let exact = (1..=100u32).find(|&n| {
            let k = fraction * n as f64;
            (k - k.round()).abs() < 1e-6
        });
        let of = exact.unwrap_or(100);
        let take = (fraction * of as f64).round() as u32;
        if take == 0 {
            return Err(format!(
                "share {fraction} is below 1%: the rule would never apply"
            ));
        }
        Ok(Share { take, of, seed })
    }

    pub fn fraction(&self) -> f64 {
        self.take as f64 / self.of as f64
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
    /// One-way delay added to every byte origin → client.
    pub down_delay: Duration,
    /// One-way delay added to every byte client → origin.
    pub up_delay: Duration,
    /// `None`: the rule applies to every connection it matches.
    pub share: Option<Share>,
    /// `None`: TCP connections and QUIC flows alike; else only that one
    /// (one name, two transports, two plateaus: youtube-2024).
    pub transport: Option<Transport>,
    /// Per-address state: after a connection matches this rule, every
    /// later TCP connection to the same server address gets the rule too,
    /// whatever its name, for this long (Türkiye 2024). `None`: per
    /// connection only, as in 2021.
    pub sticky: Option<Duration>,
}

/// The TOML form of a rule: `match` is one pattern or a list.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RuleToml {
    #[serde(rename = "match")]
    pub pattern: OneOrMany,
    #[serde(default)]
    pub down: Leg,
    #[serde(default)]
    pub up: Leg,
    pub share: Option<f64>,
    pub share_seed: Option<u64>,
    /// `"tcp"` or `"quic"`: the rule applies to that transport only.
    pub transport: Option<String>,
    /// Match names without folding case (default: case-insensitive).
    #[serde(default)]
    pub case_sensitive: bool,
    /// Per-address state for this long after a match ("30s").
    pub sticky: Option<String>,
}

/// One direction as written: an action table that may also carry `delay`.
#[derive(Debug, Default)]
pub(crate) struct Leg {
    action: Action,
    delay: Duration,
}

impl<'de> Deserialize<'de> for Leg {
    /// `delay` is taken out before the rest is read as an [`Action`], so
    /// every action accepts it and an action's own fields stay strict.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Leg, D::Error> {
        use serde::de::Error;
        let mut table = toml::Table::deserialize(d)?;
        let delay = match table.remove("delay") {
            None => Duration::ZERO,
            Some(toml::Value::String(s)) => humantime::parse_duration(&s)
                .map_err(|e| D::Error::custom(format!("bad delay {s:?}: {e}")))?,
            Some(v) => {
                return Err(D::Error::custom(format!(
                    "delay must be a string like \"30ms\", got {v}"
                )))
            }
        };
        // serde lets unit variants of a tagged enum ignore extra keys.
        let extra: Vec<&String> = table.keys().filter(|k| *k != "action").collect();
        let unit = matches!(
            table.get("action").and_then(|v| v.as_str()),
            Some("pass" | "blackhole")
        );
        if unit && !extra.is_empty() {
            return Err(D::Error::custom(format!(
                "unknown field {:?}: this action takes only `delay`",
                extra[0]
            )));
        }
        let action = Action::deserialize(toml::Value::Table(table)).map_err(D::Error::custom)?;
        Ok(Leg { action, delay })
    }
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl TryFrom<RuleToml> for Rule {
    type Error = String;

    fn try_from(t: RuleToml) -> Result<Rule, String> {
        let pats = match t.pattern {
            OneOrMany::One(p) => vec![p],
            OneOrMany::Many(v) => v,
        };
        for a in [t.down.action, t.up.action] {
            if let Action::Shape {
                shared: false,
                window: Some(_),
                ..
            } = a
            {
                return Err("window needs shared = true".into());
            }
        }
        let share = match (t.share, t.share_seed) {
            (Some(f), seed) => Some(Share::new(f, seed)?),
            (None, Some(_)) => return Err("share_seed without share".into()),
            (None, None) => None,
        };
        let transport = t
            .transport
            .as_deref()
            .map(|s| s.parse::<Transport>().map_err(|e| e.to_string()))
            .transpose()?;
        let sticky = t
            .sticky
            .as_deref()
            .map(|s| humantime::parse_duration(s).map_err(|e| format!("bad sticky {s:?}: {e}")))
            .transpose()?;
        Ok(Rule {
            sticky,
            transport,
            patterns: pats
                .iter()
                .map(|p| {
                    if t.case_sensitive {
                        Pattern::exact(p)
                    } else {
                        Pattern::new(p)
                    }
                })
                .collect(),
            down: t.down.action,
            up: t.up.action,
            down_delay: t.down.delay,
            up_delay: t.up.delay,
            share,
        })
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

    /// Index of the first rule whose patterns match, if any — before any
    /// `share` is drawn (the middlebox's `Policy` draws it). A connection
    /// whose name could not be read (no SNI, split hello, not TLS/HTTP)
    /// matches only catch-all rules (a pattern of stars alone, `match =
    /// "*"`): the access link applies to every connection, named or not,
    /// while no name rule (`*.twimg.com`, `*t.co*`) ever matches a missing
    /// name — an SNI A/B test then compares like paths.
    pub fn find(&self, name: Option<&str>) -> Option<usize> {
        self.matching(name).next()
    }

    /// Indices of every rule whose patterns match a TCP connection, in order.
    pub fn matching<'a>(&'a self, name: Option<&'a str>) -> impl Iterator<Item = usize> + 'a {
        self.matching_over(name, Transport::Tcp)
    }

    /// The first rule matching a flow of `transport` (the UDP relay asks
    /// with [`Transport::Quic`]).
    pub fn find_over(&self, name: Option<&str>, transport: Transport) -> Option<usize> {
        self.matching_over(name, transport).next()
    }

    /// The (down, up) actions for a flow of `transport`.
    pub fn actions_over(&self, name: Option<&str>, transport: Transport) -> (Action, Action) {
        self.find_over(name, transport)
            .map(|i| (self.rules[i].down, self.rules[i].up))
            .unwrap_or_default()
    }

    fn matching_over<'a>(
        &'a self,
        name: Option<&'a str>,
        transport: Transport,
    ) -> impl Iterator<Item = usize> + 'a {
        self.rules.iter().enumerate().filter_map(move |(i, r)| {
            if r.transport.is_some_and(|t| t != transport) {
                return None;
            }
            let hit = match name {
                Some(name) => r.patterns.iter().any(|p| p.matches(name)),
                None => r.patterns.iter().any(Pattern::is_catch_all),
            };
            hit.then_some(i)
        })
    }

    /// The (down, up) actions of the first matching rule (share not drawn):
    /// pass/pass when nothing matches.
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
        assert!(!Pattern::exact("*.twimg.com").matches("PBS.TWIMG.COM"));
        assert!(Pattern::exact("*.twimg.com").matches("pbs.twimg.com"));
    }

    #[test]
    fn rule_kinds_match_as_the_field_saw_them() {
        let p = Pattern::new;
        assert!(p("substring:t.co").matches("microsoft.com"));
        assert!(p("substring:t.co").matches("T.CO"));
        assert!(!Pattern::exact("substring:t.co").matches("T.CO"));
        assert!(p("suffix:twitter.com").matches("throttletwitter.com"));
        assert!(!p("domain:twitter.com").matches("throttletwitter.com"));
        assert!(p("domain:twitter.com").matches("api.twitter.com"));
        assert!(p("domain:twitter.com").matches("twitter.com"));
        assert!(p("exact:t.co").matches("t.co") && !p("exact:t.co").matches("t.com"));
        assert!(!p("exact:t.co").matches("t.co."));
        assert!(!p("substring:*").is_catch_all());
        assert_eq!(p("suffix:X.com").to_string(), "suffix:x.com");
    }

    #[test]
    fn unnamed_connections_match_only_catch_alls() {
        let rule = |p: &[&str]| Rule {
            patterns: p.iter().map(|p| Pattern::new(p)).collect(),
            down: Action::Blackhole,
            up: Action::Pass,
            down_delay: Duration::ZERO,
            up_delay: Duration::ZERO,
            share: None,
            transport: None,
            sticky: None,
        };
        let r = RuleSet::new(vec![
            rule(&["*.twimg.com", "*t.co*"]),
            rule(&["*x*"]),
            rule(&["**"]),
        ]);
        assert_eq!(r.find(None), Some(2));
        assert_eq!(r.matching(None).collect::<Vec<_>>(), vec![2]);
        assert_eq!(r.find(Some("pbs.twimg.com")), Some(0));
        assert_eq!(RuleSet::new(vec![rule(&["*.twimg.com"])]).find(None), None);
        assert!(!Pattern::new("").is_catch_all());
    }

    #[test]
    fn share_blocks_are_the_smallest_exact_ones() {
        let s = |f| Share::new(f, None).unwrap();
        assert_eq!((s(0.3).take, s(0.3).of), (3, 10));
        assert_eq!((s(0.25).take, s(0.25).of), (1, 4));
        assert_eq!((s(1.0).take, s(1.0).of), (1, 1));
        assert_eq!((s(0.333).take, s(0.333).of), (33, 100));
        assert!(Share::new(0.0, None).is_err());
        assert!(Share::new(1.5, None).is_err());
        assert!(Share::new(0.001, None).is_err());
        assert!(Share::new(f64::NAN, None).is_err());
    }
}
