//! Throttling verdicts: `slowlane analyze` and the table `run` prints at its end.
//!
//! Pipeline: [`load`] folds `fetches.csv` rows (or in-memory records) into
//! per-URL series grouped by vantage → [`verdict`] compares every URL, and
//! every host+class aggregate, with the pool of control fetches of the same
//! class at the same vantage (median-rate ratio with a seeded bootstrap CI,
//! one-sided Mann–Whitney U) → [`fingerprint`] reads the timeline windows of
//! throttled and blocked rows (plateau, burst, mechanism) → [`summary`] adds
//! the per-class "selective" rows → [`output`] writes CSV, JSON or a text
//! table. The method is documented in `docs/method.md`.

mod compare;
pub mod fastcsv;
pub mod fingerprint;
pub mod load;
pub mod output;
pub mod stats;
pub mod summary;
pub mod timeline;
pub mod verdict;

use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::Serialize;

use crate::probe::spec::Class;
use crate::record::{FetchRecord, Window};

pub use output::{render, write_verdicts_csv, Format};
pub use summary::selective_summary;

/// Knobs of `slowlane analyze`.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalyzeOptions {
    /// Throttled needs median target/control ≤ this (Wehe's 0.5).
    pub threshold: f64,
    /// … and a one-sided Mann–Whitney p below this (Wehe's 0.01).
    pub alpha: f64,
    /// … and at least this many measured fetches on each side.
    pub min_n: usize,
    /// Seed of the bootstrap resampling.
    pub seed: u64,
}

impl Default for AnalyzeOptions {
    fn default() -> Self {
        AnalyzeOptions {
            threshold: 0.5,
            alpha: 0.01,
            min_n: 5,
            seed: 1,
        }
    }
}

/// What a verdict row aggregates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    Url,
    Host,
    Class,
}

/// The decision for one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum VerdictKind {
    Throttled,
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
    /// Per-fetch steady rate (bit/s); ratio = target / control.
    Steady,
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
as_str!(Scope { Url => "url", Host => "host", Class => "class" });
as_str!(VerdictKind { Throttled => "throttled", Inconclusive => "inconclusive", Blocked => "blocked", Ok => "ok" });
as_str!(Mechanism { Policer => "policer", Shaper => "shaper", Freeze => "freeze", Reset => "reset", Unclear => "unclear" });
as_str!(Metric { Steady => "steady", TotalTime => "total_time", TlsTime => "tls_time" });

/// Name of a class as written in the CSV files.
pub fn class_str(c: Option<Class>) -> &'static str {
    c.map_or("", |c| c.as_str())
}

/// One row of `verdicts.csv`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    pub vantage: String,
    pub scope: Scope,
    /// Empty for host and class rows.
    pub url: String,
    /// Empty for class rows.
    pub host: String,
    /// The SNI sent; `*` on a host row whose URLs used several.
    pub sni: String,
    pub class: Option<Class>,
    /// Whether the row is about control URLs (each compared with the other controls).
    pub control: bool,
    /// Target fetches with a measured value (class rows: target URLs).
    pub n: usize,
    /// Control fetches of the class with a measured value.
    pub n_control: usize,
    pub median_bps: Option<f64>,
    pub control_median_bps: Option<f64>,
    pub ratio: Option<f64>,
    pub ratio_ci_low: Option<f64>,
    pub ratio_ci_high: Option<f64>,
    pub p_value: Option<f64>,
    pub verdict: VerdictKind,
    pub mechanism: Option<Mechanism>,
    pub plateau_bps: Option<f64>,
    pub burst_bytes: Option<u64>,
    pub metric: Option<Metric>,
    /// Fetches that ended in an error.
    pub n_failed: usize,
    /// The dominant failure string, when any fetch failed.
    pub failure: Option<String>,
    pub reason: String,
}

/// Analyse output directories and/or `fetches.csv` files together.
pub fn analyze_paths(paths: &[PathBuf], opts: &AnalyzeOptions) -> Result<Vec<Verdict>> {
    let mut ds = load::Dataset::default();
    for p in paths {
        ds.add_path(p)?;
    }
    run(&ds, &[], opts)
}

/// Analyse in-memory records; windows come from each record's `timeline` and
/// from `timelines` (matched by `fetch_id`).
pub fn analyze_records(
    records: &[FetchRecord],
    timelines: &[Window],
    opts: &AnalyzeOptions,
) -> Vec<Verdict> {
    let mut ds = load::Dataset::default();
    ds.add_records(records);
    let windows: Vec<&Window> = records
        .iter()
        .flat_map(|r| r.timeline.iter())
        .chain(timelines.iter())
        .collect();
    run(&ds, &windows, opts).expect("in-memory analysis reads no file")
}

fn run(ds: &load::Dataset, windows: &[&Window], opts: &AnalyzeOptions) -> Result<Vec<Verdict>> {
    let mut rows = verdict::evaluate(ds, opts);
    verdict::fingerprint_rows(ds, &mut rows, windows)?;
    let mut out: Vec<Verdict> = rows.into_iter().map(|r| r.verdict).collect();
    let classes = summary::class_rows(&out);
    out.extend(classes);
    // Vantages apart, rows of one vantage in a fixed order.
    out.sort_by(|a, b| {
        (
            &a.vantage,
            a.scope,
            a.control,
            class_str(a.class),
            &a.host,
            &a.url,
            &a.sni,
        )
            .cmp(&(
                &b.vantage,
                b.scope,
                b.control,
                class_str(b.class),
                &b.host,
                &b.url,
                &b.sni,
            ))
    });
    Ok(out)
}

/// `verdicts.csv` in `dir`.
pub fn verdicts_path(dir: &Path) -> PathBuf {
    dir.join("verdicts.csv")
}
