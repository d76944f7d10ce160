//! `slowlane trigger`: what exactly a DPI rule matches, found by trials
//! against a reflector (`docs/reflector.md`, "Trigger discovery").
//!
//! A trial fetches one probe name ([`names`]) and the control names from
//! the reflector, in rounds (shuffled, an idle `gap` between fetches), and
//! asks the A/B analysis after each round whether the probe is throttled
//! against the controls; it stops when the row is decided
//! (`Verdict::is_decided`, sequential options) or at `max_rounds`. The
//! control names' rate is watched against a baseline taken before any
//! probe: when it falls to ≤ threshold × the baseline, the trial is
//! `contaminated` (per-address state, or a throttle that outlives its
//! connection). The class probes decide the rule's class; a substring rule
//! is then cut down from each end by binary search to its minimal string.

pub mod names;

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{bail, Result};
use rand::seq::SliceRandom;
use serde::Serialize;

use crate::analyze::{analyze_records, AnalyzeOptions, Scope, VerdictKind};
use crate::config::TriggerStudy;
use crate::probe::{self, Prepared};
use crate::types::{FetchOptions, FetchRecord, FetchSpec, Group, Method, Pin, Wire};
use names::{class_probes, trim_trials, wrapped, Probe};

/// What to look for, and where.
#[derive(Debug, Clone)]
pub struct TriggerConfig {
    /// The name known (or suspected) to trigger the throttle.
    pub name: String,
    /// The reflector's `host:port`.
    pub reflector: String,
    pub pin: Pin,
    pub controls: Vec<String>,
    /// Download size per fetch.
    pub size: u64,
    /// Per-fetch cap (a throttled fetch ends there: its rate is known).
    pub max_time: Duration,
    /// Rounds a trial takes at most.
    pub max_rounds: u32,
    /// Idle time between two fetches.
    pub gap: Duration,
    pub analyze: AnalyzeOptions,
    /// Extra options for every fetch (token header, timeouts).
    pub options: FetchOptions,
}

impl From<&TriggerStudy> for TriggerConfig {
    /// The command's flags and a `[[trigger]]` table alike; trials decided
    /// with the sequential options.
    fn from(s: &TriggerStudy) -> TriggerConfig {
        TriggerConfig {
            name: s.name.clone(),
            reflector: s.reflector.clone(),
            pin: s.pin,
            controls: s.controls.clone(),
            size: s.size,
            max_time: s.max_time,
            max_rounds: s.max_rounds,
            gap: s.gap,
            analyze: AnalyzeOptions {
                sequential: true,
                ..Default::default()
            },
            options: s.options.clone(),
        }
    }
}

/// One trial, as written to `trials.csv`.
#[derive(Debug, Clone, Serialize)]
pub struct Trial {
    pub trial: usize,
    /// What the probe checks (see [`names::Probe`]).
    pub checks: String,
    pub name: String,
    pub variant: String,
    /// `throttled`, `ok`, `blocked` or `inconclusive` (A/B row verdict).
    pub verdict: String,
    pub rounds: u32,
    /// Median rate of the probe and of the control names in this trial.
    pub rate_bps: Option<f64>,
    pub control_bps: Option<f64>,
    pub contaminated: bool,
}

impl Trial {
    fn throttled(&self) -> bool {
        self.verdict == "throttled"
    }
}

/// What the trials found.
#[derive(Debug, Clone)]
pub struct Finding {
    pub trials: Vec<Trial>,
    /// The control names' median rate before any probe.
    pub baseline_bps: Option<f64>,
    /// The minimal matching string of a substring rule.
    pub minimal: Option<String>,
    /// The rule's class (see [`rule_class`]).
    pub rule: &'static str,
    pub sentence: String,
}

/// The most trials and bytes a discovery can take.
pub fn budget(cfg: &TriggerConfig) -> (usize, u64) {
    let (trials, fetches) = budget_fetches(cfg);
    (trials, fetches * cfg.size)
}

/// The most trials and fetches (each of `size` bytes) a discovery can take.
pub fn budget_fetches(cfg: &TriggerConfig) -> (usize, u64) {
    let trials = class_probes(&cfg.name).len() + trim_trials(cfg.name.len());
    let per_trial = u64::from(cfg.max_rounds) * (1 + cfg.controls.len() as u64);
    let baseline = 2 * cfg.controls.len() as u64;
    (trials, trials as u64 * per_trial + baseline)
}

struct Runner<'a> {
    cfg: &'a TriggerConfig,
    seq: usize,
    trials: Vec<Trial>,
    baseline: Option<f64>,
    on_trial: &'a mut (dyn FnMut(&Trial) + Send),
}

fn median(v: Vec<f64>) -> Option<f64> {
    crate::types::stats::median_of(v)
}

impl Runner<'_> {
    async fn fetch(&mut self, name: &str, variant: Wire, group: Group, round: u32) -> FetchRecord {
        let cfg = self.cfg;
        let (sni, host) = variant.names(name);
        let mut options = cfg.options.clone();
        options.pin = Some(cfg.pin);
        options.max_time = cfg.max_time;
        options.wire = variant;
        let spec = FetchSpec {
            url: format!("https://{}/bytes/{}?type=image", cfg.reflector, cfg.size)
                .parse()
                .expect("built from a host:port"),
            class: None,
            group,
            sni: Some(sni),
            host: Some(host),
            method: Method::Get,
            upload: 0,
            label: format!("trigger: {name} {variant}"),
            controls: Vec::new(),
            options,
            ab: "trigger".into(),
            variant: variant.as_str(),
            size: Some(cfg.size),
        };
        self.seq += 1;
        let mut rec = match Prepared::new(spec) {
            Ok(p) => probe::fetch(&p).await,
            Err(e) => FetchRecord {
                error: Some(format!("unknown_failure: {e:#}")),
                ..Default::default()
            },
        };
        rec.vantage = "trigger".into();
        rec.run_id = "trigger".into();
        rec.round = round;
        rec.fetch_id = self.seq.to_string();
        rec.ab = "trigger".into();
        rec.variant = variant.as_str();
        rec.group = Some(group);
        tokio::time::sleep(cfg.gap).await;
        rec
    }

    fn rate(r: &FetchRecord) -> Option<f64> {
        let ok = r.error.is_none() || r.error.as_deref() == Some("generic_timeout_error");
        ok.then(|| r.steady_bps.or(r.goodput_bps).map(|b| b as f64))
            .flatten()
    }

    /// The control names alone for two rounds: the baseline rate.
    async fn baseline(&mut self) {
        let mut rates = Vec::new();
        for round in 1..=2 {
            for c in self.cfg.controls.clone() {
                let r = self.fetch(&c, Wire::Plain, Group::Control, round).await;
                rates.extend(Self::rate(&r));
            }
        }
        self.baseline = median(rates);
    }

    async fn trial(&mut self, p: &Probe) -> Trial {
        let cfg = self.cfg;
        let mut recs: Vec<FetchRecord> = Vec::new();
        let mut row = None;
        let mut rounds = 0;
        for round in 1..=cfg.max_rounds {
            rounds = round;
            let mut order: Vec<Option<&String>> = vec![None];
            order.extend(cfg.controls.iter().map(Some));
            order.shuffle(&mut rand::thread_rng());
            for o in order {
                let r = match o {
                    None => self.fetch(&p.name, p.variant, Group::Target, round).await,
                    Some(c) => self.fetch(c, Wire::Plain, Group::Control, round).await,
                };
                recs.push(r);
            }
            let rows = analyze_records(&recs, &[], &cfg.analyze);
            row = rows
                .into_iter()
                .find(|v| v.scope == Scope::Ab && !v.control);
            if row.as_ref().is_some_and(|v| v.is_decided()) {
                break;
            }
        }
        let rate_of = |g: Group| {
            median(
                recs.iter()
                    .filter(|r| r.group == Some(g))
                    .filter_map(Self::rate)
                    .collect(),
            )
        };
        let control_bps = rate_of(Group::Control);
        let contaminated = match (control_bps, self.baseline) {
            (Some(c), Some(b)) => c <= cfg.analyze.threshold * b,
            _ => false,
        };
        let verdict = row.map_or(VerdictKind::Inconclusive, |v| v.verdict);
        Trial {
            trial: self.trials.len() + 1,
            checks: p.checks.to_string(),
            name: p.name.clone(),
            variant: p.variant.as_str(),
            verdict: verdict.as_str().to_string(),
            rounds,
            rate_bps: rate_of(Group::Target),
            control_bps,
            contaminated,
        }
    }

    async fn run(&mut self, p: Probe) -> bool {
        let t = self.trial(&p).await;
        let hit = t.throttled();
        (self.on_trial)(&t);
        self.trials.push(t);
        hit
    }
}

/// Run the trials and say what the rule is.
pub async fn discover(cfg: &TriggerConfig) -> Result<Finding> {
    discover_with(cfg, &mut |_| {}).await
}

/// [`discover`], calling `on_trial` after each trial (progress).
pub async fn discover_with(
    cfg: &TriggerConfig,
    on_trial: &mut (dyn FnMut(&Trial) + Send),
) -> Result<Finding> {
    if cfg.controls.is_empty() {
        bail!("at least one control name is needed");
    }
    let mut r = Runner {
        cfg,
        seq: 0,
        trials: Vec::new(),
        baseline: None,
        on_trial,
    };
    r.baseline().await;
    let probes = class_probes(&cfg.name);
    let mut hits = BTreeMap::new();
    for p in probes {
        let checks = p.checks;
        let hit = r.run(p).await;
        hits.insert(checks, hit);
        if checks == "exact" && !hit {
            break;
        }
    }
    let mut minimal = None;
    if hits.get("substring") == Some(&true) {
        minimal = Some(shortest(&mut r, &cfg.name).await);
    }
    let rule = rule_class(&hits, minimal.is_some(), r.baseline.is_some());
    let sentence = sentence(cfg, rule, minimal.as_deref(), &hits, &r.trials);
    Ok(Finding {
        trials: r.trials,
        baseline_bps: r.baseline,
        minimal,
        rule,
        sentence,
    })
}

/// The shortest piece of `name` a substring rule still matches: the
/// largest start, then the smallest end, each by binary search.
async fn shortest(r: &mut Runner<'_>, name: &str) -> String {
    let b = name.as_bytes();
    let piece = |s: usize, e: usize| String::from_utf8_lossy(&b[s..e]).into_owned();
    let trim = |s: String| Probe {
        checks: "trim",
        name: wrapped(&s),
        variant: Wire::Plain,
    };
    // start: `lo` matches (0 does: the substring probe), `hi` = len does not.
    let (mut lo, mut hi) = (0, b.len());
    while hi - lo > 1 {
        let mid = (lo + hi) / 2;
        if r.run(trim(piece(mid, b.len()))).await {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let start = lo;
    // end: `hi` matches (the whole rest), `lo` = start does not (empty).
    let (mut lo, mut hi) = (start, b.len());
    while hi - lo > 1 {
        let mid = (lo + hi) / 2;
        if r.run(trim(piece(start, mid))).await {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    piece(start, hi)
}

/// The rule's class from the class probes: `substring`, `parent`,
/// `prefix`, `subdomains`, `exact`; `none` when the name is not throttled
/// against the control names, `unmeasured` when no control-name fetch
/// succeeded (the reflector unreachable, a wrong pin or token: a fault,
/// not a finding).
pub fn rule_class(hits: &BTreeMap<&str, bool>, minimal: bool, baseline: bool) -> &'static str {
    let hit = |k: &str| hits.get(k) == Some(&true);
    if !hit("exact") {
        if baseline {
            "none"
        } else {
            "unmeasured"
        }
    } else if minimal {
        "substring"
    } else if hit("parent") {
        "parent"
    } else if hit("prefix") {
        "prefix"
    } else if hit("subdomains") {
        "subdomains"
    } else {
        "exact"
    }
}

fn sentence(
    cfg: &TriggerConfig,
    rule: &str,
    minimal: Option<&str>,
    hits: &BTreeMap<&str, bool>,
    trials: &[Trial],
) -> String {
    let n = &cfg.name;
    let hit = |k: &str| hits.get(k).copied();
    let mut s = match (rule, minimal) {
        ("unmeasured", _) => format!(
            "{n}: nothing measured: no fetch of the control names succeeded against the \
             reflector (unreachable, or a wrong pin or token?)"
        ),
        ("none", _) => format!("{n} is not throttled against the control names: no rule to find"),
        ("substring", Some(m)) => {
            format!("{n} matches a substring rule: the string `{m}` anywhere in a name (`*{m}*`)")
        }
        ("parent", _) => {
            let parent = n.split_once('.').map_or(n.as_str(), |x| x.1);
            format!("{n} matches through its parent domain: any name under {parent} (`*.{parent}`)")
        }
        ("prefix", _) => {
            format!("{n} matches any name ending in {n} (`*{n}`), e.g. slowlaneprobe{n}")
        }
        ("subdomains", _) => format!("{n} matches with its subdomains (`*.{n}`)"),
        _ => format!("{n} matches as the exact name only"),
    };
    if hit("exact") == Some(true) {
        let yes_no = |k: &str, yes: &str, no: &str| match hit(k) {
            Some(true) => format!("; {yes}"),
            Some(false) => format!("; {no}"),
            None => String::new(),
        };
        s += &yes_no("case", "case folded", "case-sensitive (upper case escapes)");
        s += &yes_no(
            "trailing-dot",
            "a trailing dot does not escape",
            "a trailing dot escapes",
        );
        s += &yes_no("tld-swap", "the TLD swapped matches too", "");
        s = s.replace("; ;", ";");
    }
    let bad: Vec<&str> = trials
        .iter()
        .filter(|t| t.contaminated)
        .map(|t| t.name.as_str())
        .collect();
    if !bad.is_empty() {
        s += &format!(
            "; contaminated: the control names slowed during {} trial(s), first in the trial of {}: \
             per-address state or a throttle outliving its connection, so these verdicts \
             are unreliable",
            bad.len(),
            bad[0]
        );
    }
    s.trim_end_matches("; ").to_string()
}
