//! One row of `verdicts.csv` and its enums: what every stage fills in or
//! reads, with no logic beyond naming the values.

use serde::Serialize;

use super::serial;
use crate::types::{Class, Direction};

/// What a verdict row aggregates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    Url,
    Host,
    Class,
    /// A same-server SNI A/B row (`[[reflector]]`, see [`ab`]).
    Ab,
}

/// The decision for one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum VerdictKind {
    Throttled,
    /// A significant share of fetches slowed, the median not (per-subscriber
    /// or per-box policy: the normal case in the field).
    Partial,
    Inconclusive,
    Blocked,
    Ok,
}

/// What the throttle looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mechanism {
    Policer,
    Shaper,
    Freeze,
    Reset,
    Unclear,
}

/// Which measurement the ratio, CI and p-value of a row refer to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Per-fetch rate from `steady_bps` (bit/s); ratio = target / control.
    Steady,
    /// … from `goodput_bps` (no steady rate recorded).
    Goodput,
    /// … from `upload_bps` (uploads).
    Upload,
    /// … bytes ÷ elapsed time (no rate column; every timed-out fetch).
    Achieved,
    /// Total fetch time; ratio = control / target (a speed ratio).
    TotalTime,
    /// TLS handshake time; ratio = control / target.
    TlsTime,
}

macro_rules! as_str {
    ($t:ty { $($v:ident => $s:literal),* $(,)? }) => {
        impl $t {
            pub fn as_str(&self) -> &'static str {
                match self { $(Self::$v => $s),* }
            }
        }
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
as_str!(Scope { Url => "url", Host => "host", Class => "class", Ab => "ab" });
as_str!(VerdictKind { Throttled => "throttled", Partial => "partial", Inconclusive => "inconclusive", Blocked => "blocked", Ok => "ok" });
as_str!(Mechanism { Policer => "policer", Shaper => "shaper", Freeze => "freeze", Reset => "reset", Unclear => "unclear" });
as_str!(Metric { Steady => "steady", Goodput => "goodput", Upload => "upload", Achieved => "achieved", TotalTime => "total_time", TlsTime => "tls_time" });

impl Metric {
    /// Whether the metric is a rate (else a time).
    pub fn is_rate(&self) -> bool {
        !matches!(self, Metric::TotalTime | Metric::TlsTime)
    }
}

impl std::str::FromStr for VerdictKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let all = [
            VerdictKind::Throttled,
            VerdictKind::Partial,
            VerdictKind::Inconclusive,
            VerdictKind::Blocked,
            VerdictKind::Ok,
        ];
        all.into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                format!("unknown verdict {s:?} (throttled, partial, inconclusive, blocked, ok)")
            })
    }
}

/// Name of a class as written in the CSV files.
pub fn class_str(c: Option<Class>) -> &'static str {
    c.map_or("", |c| c.as_str())
}

/// One row of `verdicts.csv` (field order = column order; documented in
/// `docs/csv.md`). Serialised by serde for CSV and JSON alike.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    pub vantage: String,
    pub scope: Scope,
    /// Empty for host and class rows.
    pub url: String,
    /// Empty for class rows.
    pub host: String,
    /// The SNI sent.
    pub sni: String,
    /// Campaign label of the URL (url rows).
    pub label: String,
    pub class: Option<Class>,
    pub direction: Direction,
    /// Whether the row is about control URLs (each compared with the other controls).
    #[serde(rename = "group", serialize_with = "serial::group")]
    pub control: bool,
    pub verdict: VerdictKind,
    /// Target fetches with a measured value (class rows: target URLs).
    pub n: usize,
    /// Control fetches compared with.
    pub n_control: usize,
    /// Control series compared with.
    pub n_control_series: usize,
    pub compared_with: Option<ComparedWith>,
    pub metric: Option<Metric>,
    pub test: Option<Test>,
    #[serde(serialize_with = "serial::rate")]
    pub median_bps: Option<f64>,
    #[serde(serialize_with = "serial::rate")]
    pub control_median_bps: Option<f64>,
    /// Median of `metric` over the row's values, in its unit (bit/s for
    /// rates, ms for times): what `ratio` divides.
    #[serde(serialize_with = "serial::value")]
    pub median: Option<f64>,
    /// … and over the controls compared with.
    #[serde(serialize_with = "serial::value")]
    pub control_median: Option<f64>,
    #[serde(serialize_with = "serial::sig")]
    pub ratio: Option<f64>,
    #[serde(serialize_with = "serial::sig")]
    pub ratio_ci_low: Option<f64>,
    #[serde(serialize_with = "serial::sig")]
    pub ratio_ci_high: Option<f64>,
    #[serde(serialize_with = "serial::pval")]
    pub p_value: Option<f64>,
    #[serde(serialize_with = "serial::pval")]
    pub q_value: Option<f64>,
    #[serde(serialize_with = "serial::sig")]
    pub slowed_share: Option<f64>,
    #[serde(serialize_with = "serial::sig")]
    pub slowed_share_ci_low: Option<f64>,
    #[serde(serialize_with = "serial::sig")]
    pub slowed_share_ci_high: Option<f64>,
    #[serde(serialize_with = "serial::sig")]
    pub control_slowed_share: Option<f64>,
    #[serde(serialize_with = "serial::rate")]
    pub slowed_median_bps: Option<f64>,
    pub mechanism: Option<Mechanism>,
    #[serde(serialize_with = "serial::rate")]
    pub plateau_bps: Option<f64>,
    pub burst_bytes: Option<u64>,
    /// Observations that were capped or timed out (rates are upper bounds).
    pub n_censored: usize,
    /// Fetches that ended in an error (timeouts included: they are also
    /// censored observations).
    pub n_failed: usize,
    /// The dominant failure string, when any fetch failed.
    pub failure: Option<String>,
    pub reason: String,
    /// Runs (`campaign`, `run_id`) the row's fetches come from (class rows:
    /// the vantage's).
    pub runs: usize,
    /// Class rows: the vantage's one-sentence summary (the same on each of
    /// its class rows); empty on other rows. A/B rows: the vantage's A/B
    /// sentence.
    pub summary: String,
    /// A/B plain rows: `sni` when the name triggered throttling.
    pub trigger: String,
    /// A/B evasion rows of a trigger: `evades`, `does_not_evade`,
    /// `inconclusive`.
    pub evasion_result: String,
    /// A/B rows: the `[[reflector]]` test (fetches.csv `ab`); else empty.
    pub ab: String,
    /// A/B rows: `plain`, `split-hello`, … (fetches.csv `variant`); else empty.
    pub variant: String,
    /// `tcp` or `quic`: rows are per transport, never mixed. Last, so the
    /// columns before it keep their places.
    pub transport: crate::types::Transport,
    /// Inconclusive rows: about how many more rounds would settle the row at
    /// the observed variance and slowed share; `None` (empty) when decided.
    /// After `transport`, so older readers keep their column positions.
    pub needs_rounds: Option<u32>,
}

impl Verdict {
    /// Whether an adaptive campaign (`until = "decided"`) may stop fetching
    /// this row: `throttled`, `partial`, `blocked`, or an evidenced `ok`.
    pub fn is_decided(&self) -> bool {
        self.verdict != VerdictKind::Inconclusive && self.needs_rounds.is_none()
    }
}

/// How a row's controls were chosen (`compared_with` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ComparedWith {
    Explicit,
    SizeMatched,
    Class,
}

impl ComparedWith {
    pub fn as_str(&self) -> &'static str {
        match self {
            ComparedWith::Explicit => "explicit",
            ComparedWith::SizeMatched => "size-matched",
            ComparedWith::Class => "class",
        }
    }
}

/// Which test decided a comparison (`test` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Test {
    /// Wilcoxon signed-rank over per-round log ratios.
    Paired,
    /// Mann–Whitney U over fetches.
    Unpaired,
    /// Fisher exact test of slowed shares (a `partial` row).
    Fisher,
    /// Exact binomial test of the deeply slowed fetches (10× below the
    /// controls' median): power where the effect is large.
    #[serde(rename = "deep-binomial")]
    DeepBinomial,
    /// Anytime-valid e-process with e-BH (campaigns that stop when decided).
    #[serde(rename = "e-process")]
    EProcess,
}

impl Test {
    /// Every value, for readers of `verdicts.csv` (`--merge-verdicts`): a
    /// new variant that is not listed here fails the round-trip test below.
    pub const ALL: [Test; 5] = [
        Test::Paired,
        Test::Unpaired,
        Test::Fisher,
        Test::DeepBinomial,
        Test::EProcess,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Test::Paired => "paired",
            Test::Unpaired => "unpaired",
            Test::Fisher => "fisher",
            Test::DeepBinomial => "deep-binomial",
            Test::EProcess => "e-process",
        }
    }
}

/// A row with nothing filled in.
pub fn empty_verdict() -> Verdict {
    Verdict {
        vantage: String::new(),
        scope: Scope::Url,
        url: String::new(),
        host: String::new(),
        sni: String::new(),
        label: String::new(),
        class: None,
        direction: Direction::Down,
        control: false,
        n: 0,
        n_control: 0,
        n_control_series: 0,
        compared_with: None,
        test: None,
        median_bps: None,
        control_median_bps: None,
        median: None,
        control_median: None,
        ratio: None,
        ratio_ci_low: None,
        ratio_ci_high: None,
        p_value: None,
        q_value: None,
        metric: None,
        slowed_share: None,
        slowed_share_ci_low: None,
        slowed_share_ci_high: None,
        control_slowed_share: None,
        slowed_median_bps: None,
        n_censored: 0,
        verdict: VerdictKind::Inconclusive,
        mechanism: None,
        plateau_bps: None,
        burst_bytes: None,
        n_failed: 0,
        failure: None,
        reason: String::new(),
        runs: 0,
        summary: String::new(),
        trigger: String::new(),
        evasion_result: String::new(),
        ab: String::new(),
        variant: String::new(),
        transport: crate::types::Transport::Tcp,
        needs_rounds: None,
    }
}

#[cfg(test)]
mod tests {
    use super::Test;

    #[test]
    fn every_test_value_is_listed_once() {
        for t in Test::ALL {
            // Exhaustive: a new variant must be added to this match and ALL.
            let i = match t {
                Test::Paired => 0,
                Test::Unpaired => 1,
                Test::Fisher => 2,
                Test::DeepBinomial => 3,
                Test::EProcess => 4,
            };
            assert_eq!(Test::ALL[i], t);
            assert_eq!(
                serde_json::to_string(&t).unwrap(),
                format!("\"{}\"", t.as_str())
            );
        }
    }
}
