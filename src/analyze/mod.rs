//! Throttling verdicts: `slowlane analyze` and the table `run` prints at its end.
//!
//! The folders are the pipeline, each importing only from the ones above it
//! in this list (`scripts/check-layers --strict analyze` checks it):
//!
//! - [`stats`]: pure math — rank tests, bootstrap, FDR, intervals, exact decimals;
//! - [`base`]: what every stage shares — the verdict row and its enums,
//!   [`AnalyzeOptions`], the units reasons are written in;
//! - [`input`]: `fetches.csv` rows (or in-memory records) folded into
//!   per-URL series, unusable rows, the runs a vantage pools;
//! - [`judge`]: per vantage, every URL and host+class aggregate compared with
//!   its matched controls (median ratio with a seeded bootstrap CI, paired or
//!   Mann–Whitney test, slowed share), q-values, decisions;
//! - [`fingerprint`]: mechanism, plateau and burst of the throttled, partial
//!   and blocked rows, from timeline windows;
//! - [`aggregate`]: per-class "selective" rows, and group tables;
//! - [`ab`]: same-server SNI A/B rows (`[[reflector]]`);
//! - [`render`]: CSV, JSON, text table.
//!
//! The method is documented in `docs/method.md`.

pub mod ab;
pub mod aggregate;
pub mod base;
pub mod fingerprint;
pub mod input;
pub mod judge;
pub mod render;
pub mod stats;

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::types::{FetchRecord, Window};

pub use aggregate::summary::selective_summary;
pub use base::verdict::{
    class_str, ComparedWith, Mechanism, Metric, Scope, Test, Verdict, VerdictKind,
};
pub use base::AnalyzeOptions;
pub use input::badrows::{BadKind, BadRows};
pub use render::output::{render, render_only, write_verdicts_csv, Format, Only};
pub use render::table::wrap_reasons;

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
    let mut ds = input::load::Dataset::default();
    ds.by_run = opts.by_run;
    for p in paths {
        ds.add_path(p)?;
    }
    let (mut verdicts, warnings) = run(&ds, &[], opts)?;
    verdicts.extend(ab::from_paths(paths, opts)?);
    let vantages = input::paths::vantage_count(&ds);
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
    ds: &input::load::Dataset,
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
    let mut ds = input::load::Dataset::default();
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

/// Verdicts of every vantage, and the pooling warnings: load → judge →
/// fingerprint → aggregate (rendering is the caller's).
fn run(
    ds: &input::load::Dataset,
    windows: &[&Window],
    opts: &AnalyzeOptions,
) -> Result<(Vec<Verdict>, Vec<String>)> {
    let groups = input::pooling::by_vantage(ds);
    let warnings: Vec<String> = groups
        .iter()
        .filter_map(|(v, members)| input::pooling::warning(ds, v, members))
        .collect();
    let runs: Vec<usize> = groups
        .iter()
        .map(|(_, members)| input::pooling::runs_of(ds, members).len())
        .collect();
    let mut judged = judge::vantages::judge(ds, &groups, opts);
    fingerprint::mechanism::fingerprint_rows(ds, &mut judged.pending, windows)?;
    let (mut out, spans) = judged.into_rows();
    aggregate::classes::fill_class_rows(&mut out, spans, runs);
    Ok((out, warnings))
}

/// `verdicts.csv` in `dir`.
pub fn verdicts_path(dir: &Path) -> PathBuf {
    dir.join("verdicts.csv")
}
