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

pub mod ab;
mod badrows;
pub mod compare;
mod ctlpool;
mod decide;
pub mod decimal;
pub mod fastcsv;
pub mod fingerprint;
pub mod groups;
pub mod inference;
pub mod inputs;
pub mod load;
pub mod matching;
mod mechanism;
pub mod output;
mod pooling;
pub mod row;
mod serial;
pub mod stats;
pub mod summary;
mod table;
pub mod timeline;
pub mod verdict;

use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::Serialize;

use crate::types::Class;
use crate::types::{Direction, FetchRecord, Window};

pub use badrows::{BadKind, BadRows};
pub use compare::Test;
pub use matching::ComparedWith;
pub use output::{render, render_only, write_verdicts_csv, Format, Only};
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
    /// Judge every run alone: the vantage of a row becomes `vantage/run_id`.
    pub by_run: bool,
}

impl Default for AnalyzeOptions {
    fn default() -> Self {
        AnalyzeOptions {
            threshold: 0.5,
            alpha: 0.01,
            min_n: 5,
            seed: 1,
            by_run: false,
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
}

/// Above this many series the loaded data is freed on a thread of its own.
const BACKGROUND_DROP_SERIES: usize = 10_000;

/// Analyse output directories and/or `fetches.csv` files together.
pub fn analyze_paths(paths: &[PathBuf], opts: &AnalyzeOptions) -> Result<Vec<Verdict>> {
    Ok(analyze_paths_checked(paths, opts)?.0)
}

/// Unusable rows of one input file.
pub type FileBadRows = (PathBuf, BadRows);

/// Like [`analyze_paths`], also returning the unusable rows of each file.
pub fn analyze_paths_checked(
    paths: &[PathBuf],
    opts: &AnalyzeOptions,
) -> Result<(Vec<Verdict>, Vec<FileBadRows>)> {
    let a = analyze_paths_full(paths, opts)?;
    Ok((a.verdicts, a.bad))
}

/// Verdicts and what the reader should be told about the input.
#[derive(Debug)]
pub struct Analysis {
    pub verdicts: Vec<Verdict>,
    /// Unusable rows per file (files without any left out).
    pub bad: Vec<FileBadRows>,
    /// Vantages that pool different campaigns, or runs with different URL
    /// sets (print them on stderr; see `docs/method.md`).
    pub warnings: Vec<String>,
    /// Distinct vantages read (with `--by-run`, runs).
    pub vantages: usize,
}

/// Like [`analyze_paths_checked`], also returning the pooling warnings.
pub fn analyze_paths_full(paths: &[PathBuf], opts: &AnalyzeOptions) -> Result<Analysis> {
    let mut ds = load::Dataset::default();
    ds.by_run = opts.by_run;
    for p in paths {
        ds.add_path(p)?;
    }
    let (mut verdicts, warnings) = run(&ds, &[], opts)?;
    verdicts.extend(ab::from_paths(paths, opts)?);
    let vantages = inputs::vantage_count(&ds);
    let bad = std::mem::take(&mut ds.bad)
        .into_iter()
        .filter(|(_, b)| b.total() > 0)
        .collect();
    // Freeing the series of a large input takes a while (200k series at
    // 10,000 vantages); nothing waits for it.
    if ds.series.len() > BACKGROUND_DROP_SERIES {
        std::thread::spawn(move || drop(ds));
    }
    Ok(Analysis {
        verdicts,
        bad,
        warnings,
        vantages,
    })
}

/// Verdicts and pooling warnings of a dataset the caller loaded itself
/// (`slowlane report` fills it in the same pass as its own aggregates);
/// windows come from the dataset's timeline sources.
pub fn analyze_dataset(
    ds: &load::Dataset,
    opts: &AnalyzeOptions,
) -> Result<(Vec<Verdict>, Vec<String>)> {
    run(ds, &[], opts)
}

/// Analyse in-memory records; windows come from each record's `timeline` and
/// from `timelines` (matched by `fetch_id`).
pub fn analyze_records(
    records: &[FetchRecord],
    timelines: &[Window],
    opts: &AnalyzeOptions,
) -> Vec<Verdict> {
    let mut ds = load::Dataset::default();
    ds.by_run = opts.by_run;
    ds.add_records(records);
    let windows: Vec<&Window> = records
        .iter()
        .flat_map(|r| r.timeline.iter())
        .chain(timelines.iter())
        .collect();
    let mut verdicts = run(&ds, &windows, opts)
        .expect("in-memory analysis reads no file")
        .0;
    verdicts.extend(ab::from_records(records, opts));
    verdicts
}

/// The order of rows within a vantage.
fn row_key(v: &Verdict) -> (Scope, bool, &str, Direction, &str, &str, &str) {
    (
        v.scope,
        v.control,
        class_str(v.class),
        v.direction,
        v.host.as_str(),
        v.url.as_str(),
        v.sni.as_str(),
    )
}

/// Where one vantage's rows are in the output: `rows` verdicts from `start`,
/// then `classes` class rows.
#[derive(Debug, Clone, Copy)]
struct Span {
    start: usize,
    rows: usize,
    classes: usize,
}

/// The (class, direction) pairs that get a class row: one per pair among
/// the target URL rows (see [`summary::class_rows`]).
fn class_keys<'a>(rows: impl Iterator<Item = &'a Verdict>) -> usize {
    rows.filter(|v| v.scope == Scope::Url && !v.control)
        .map(|v| (v.class, v.direction))
        .collect::<std::collections::BTreeSet<_>>()
        .len()
}

/// How many rows a vantage will have: a URL row per series, a host row per
/// (host, SNI, class, direction) of targets, a class row per (class,
/// direction) of targets. Only a capacity hint.
fn rows_hint(ds: &load::Dataset, members: &[usize]) -> usize {
    let mut hosts = std::collections::BTreeSet::new();
    let mut classes = std::collections::BTreeSet::new();
    for &i in members {
        let s = &ds.series[i];
        if s.group != crate::types::Group::Control {
            hosts.insert((&s.host, &s.sni, s.class, s.direction));
            classes.insert((s.class, s.direction));
        }
    }
    members.len() + hosts.len() + classes.len()
}

/// Evaluate and decide one vantage, appending its rows, sorted, to `out`:
/// finished verdicts, placeholders for the rows waiting for a fingerprint
/// (returned with their index in `out`) and for its class rows.
fn decide_vantage(
    ds: &load::Dataset,
    members: &[usize],
    opts: &AnalyzeOptions,
    out: &mut Vec<Verdict>,
) -> (Span, Vec<(usize, verdict::Row)>) {
    let mut rows = verdict::evaluate(ds, members, opts);
    decide::fill_q(&mut rows, opts);
    decide::decide(&mut rows, opts);
    // Sorted through an index: a row is a few hundred bytes, and moving
    // whole rows in the sort was a visible cost at 10,000 vantages.
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by(|&a, &b| row_key(&rows[a].verdict).cmp(&row_key(&rows[b].verdict)));
    let classes = class_keys(rows.iter().map(|r| &r.verdict));
    let start = out.len();
    let n = rows.len();
    let mut pending = Vec::new();
    let mut rows: Vec<Option<verdict::Row>> = rows.into_iter().map(Some).collect();
    for i in order {
        let mut r = rows[i].take().expect("each row once");
        if mechanism::needs(&r) {
            r.cmps = Vec::new();
            pending.push((out.len(), r));
            out.push(verdict::empty_verdict());
        } else {
            out.push(r.verdict);
        }
    }
    out.extend((0..classes).map(|_| verdict::empty_verdict()));
    let span = Span {
        start,
        rows: n,
        classes,
    };
    (span, pending)
}

/// Verdicts of every vantage, and the pooling warnings.
fn run(
    ds: &load::Dataset,
    windows: &[&Window],
    opts: &AnalyzeOptions,
) -> Result<(Vec<Verdict>, Vec<String>)> {
    // Series by vantage, vantages in name order. Each vantage is evaluated
    // and decided alone (its own controls, its own test families), on all
    // cores: thousands of small vantages cost what one large one does.
    let mut index: std::collections::HashMap<&str, usize> = Default::default();
    let mut groups: Vec<(&str, Vec<usize>)> = Vec::new();
    for (i, s) in ds.series.iter().enumerate() {
        let g = *index.entry(s.vantage.as_str()).or_insert_with(|| {
            groups.push((s.vantage.as_str(), Vec::new()));
            groups.len() - 1
        });
        groups[g].1.push(i);
    }
    groups.sort_by(|a, b| a.0.cmp(b.0));
    let warnings: Vec<String> = groups
        .iter()
        .filter_map(|(v, members)| pooling::warning(ds, v, members))
        .collect();
    let runs: Vec<usize> = groups
        .iter()
        .map(|(_, members)| pooling::runs_of(ds, members).len())
        .collect();
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get().min(8))
        .min(groups.len())
        .max(1);
    let per = groups.len().div_ceil(threads).max(1);
    // Every vantage's row count is known before it is decided (a URL row
    // per series, a host row per target host, a class row per target
    // class), so each thread moves its rows straight into their final slots
    // of one vector: no second copy of 400,000 rows at 10,000 vantages
    // (concatenating per-thread vectors was a serial tenth of the run).
    let counts: Vec<usize> = groups.iter().map(|(_, m)| rows_hint(ds, m)).collect();
    let total: usize = counts.iter().sum();
    let mut out: Vec<Verdict> = Vec::with_capacity(total);
    type Pending = Vec<(Span, Vec<(usize, verdict::Row)>)>;
    let decided: Vec<Pending> = {
        let mut free = &mut out.spare_capacity_mut()[..total];
        let mut parts = Vec::new();
        let mut start = 0;
        for (chunk, cs) in groups.chunks(per).zip(counts.chunks(per)) {
            let n: usize = cs.iter().sum();
            let (slots, rest) = free.split_at_mut(n);
            free = rest;
            parts.push((chunk, cs, slots, start));
            start += n;
        }
        std::thread::scope(|s| {
            let handles: Vec<_> = parts
                .into_iter()
                .map(|(chunk, cs, slots, start)| {
                    s.spawn(move || {
                        let mut buf = Vec::new();
                        let mut at = 0;
                        let mut spans = Vec::with_capacity(chunk.len());
                        for ((_, members), &n) in chunk.iter().zip(cs) {
                            buf.clear();
                            let (span, rows) = decide_vantage(ds, members, opts, &mut buf);
                            assert_eq!(buf.len(), n, "rows of a vantage");
                            let shift = start + at;
                            for (slot, v) in slots[at..at + n].iter_mut().zip(buf.drain(..)) {
                                slot.write(v);
                            }
                            at += n;
                            let span = Span {
                                start: span.start + shift,
                                ..span
                            };
                            let rows = rows.into_iter().map(|(i, r)| (i + shift, r)).collect();
                            spans.push((span, rows));
                        }
                        spans
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("analysis thread"))
                .collect()
        })
    };
    // SAFETY: the threads above wrote every one of the first `total` slots
    // (each its disjoint run of them, one row per slot, the count of every
    // vantage asserted); a thread that panicked made the join panic before
    // this line, leaking the rows written so far but never exposing a slot
    // that was not written.
    unsafe { out.set_len(total) };
    let mut spans: Vec<Span> = Vec::with_capacity(groups.len());
    let mut slots: Vec<usize> = Vec::new();
    let mut pending: Vec<verdict::Row> = Vec::new();
    for part in decided {
        for (span, rows) in part {
            spans.push(span);
            for (i, r) in rows {
                slots.push(i);
                pending.push(r);
            }
        }
    }
    mechanism::fingerprint_rows(ds, &mut pending, windows)?;
    for (i, r) in slots.into_iter().zip(pending) {
        out[i] = r.verdict;
    }
    for (span, runs) in spans.into_iter().zip(runs) {
        // Class rows come last in a vantage (Scope::Class sorts last).
        let rows = span.start..span.start + span.rows;
        let mut classes = summary::class_rows(&out[rows.clone()]);
        assert_eq!(classes.len(), span.classes, "class rows of a vantage");
        classes.sort_by(|a, b| row_key(a).cmp(&row_key(b)));
        for c in &mut classes {
            c.runs = runs;
        }
        if let Some((_, sentence)) = selective_summary(&classes).pop() {
            for c in &mut classes {
                c.summary.clone_from(&sentence);
            }
        }
        for (slot, c) in out[rows.end..].iter_mut().zip(classes) {
            *slot = c;
        }
    }
    Ok((out, warnings))
}

/// `verdicts.csv` in `dir`.
pub fn verdicts_path(dir: &Path) -> PathBuf {
    dir.join("verdicts.csv")
}
