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
//! - [`render`]: CSV, JSON, text table;
//! - [`merge`]: `verdicts.csv` files of vantages analysed apart, merged.
//!
//! The method is documented in `docs/method.md`.

pub mod ab;
pub mod aggregate;
pub mod base;
pub mod fingerprint;
pub mod input;
pub mod judge;
pub mod merge;
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

/// Inputs with more bytes of `fetches.csv` than this are read, judged and
/// written a batch of vantages of about this size at a time (issue 21; see
/// `docs/method.md`). `SLOWLANE_ANALYZE_BATCH_BYTES` sets it (tests, benchmarks).
pub const BATCH_BYTES: u64 = 512 << 20;

fn batch_bytes() -> u64 {
    std::env::var("SLOWLANE_ANALYZE_BATCH_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(BATCH_BYTES)
}

/// Like [`analyze_paths_checked`], also returning the pooling warnings.
/// Large inputs are streamed ([`analyze_paths_streamed`]).
pub fn analyze_paths_full(paths: &[PathBuf], opts: &AnalyzeOptions) -> Result<Analysis> {
    let budget = batch_bytes();
    let size: u64 = paths
        .iter()
        .map(|p| std::fs::metadata(input::load::resolve(p).0).map_or(0, |m| m.len()))
        .sum();
    if size > budget {
        return analyze_paths_streamed(paths, opts, budget);
    }
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

/// [`analyze_paths_full`] holding at most one batch of vantages of about
/// `budget` bytes of input (or one vantage, if larger) in memory: a first
/// pass notes where each vantage's rows are ([`input::vindex`]), then each
/// batch is loaded from those byte ranges and judged. Vantages are
/// independent families, so the verdicts are those of a full load.
pub fn analyze_paths_streamed(
    paths: &[PathBuf],
    opts: &AnalyzeOptions,
    budget: u64,
) -> Result<Analysis> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    let resolved: Vec<_> = paths.iter().map(|p| input::load::resolve(p)).collect();
    let fetches: Vec<PathBuf> = resolved.iter().map(|r| r.0.clone()).collect();
    let ix = input::vindex::Index::build(&fetches, threads)?;
    let mut rows: Vec<Verdict> = Vec::new();
    let mut warnings: Vec<(String, String)> = Vec::new();
    let mut bad: Vec<Vec<(u64, BadRows)>> = vec![Vec::new(); fetches.len()];
    let mut vantages = 0;
    let mut member = vec![false; ix.names.len()];
    for batch in ix.batches(budget) {
        member.iter_mut().for_each(|m| *m = false);
        for &v in &batch {
            member[v as usize] = true;
        }
        let mut ds = input::load::Dataset::default();
        ds.by_run = opts.by_run;
        ds.intern_runs(&ix.runs);
        for (i, f) in ix.files.iter().enumerate() {
            let src = ds.add_source(resolved[i].1.clone());
            let ranges: Vec<(u64, u64, u64)> = f
                .ranges
                .iter()
                .filter(|r| member[r.vantage as usize])
                .map(|r| (r.start, r.end, r.lines_before))
                .collect();
            if !ranges.is_empty() {
                bad[i].extend(ds.read_ranges(src, &f.path, &f.cols, &ranges, threads)?);
            }
        }
        let (v, w) = run_keyed(&ds, &[], opts)?;
        rows.extend(v);
        warnings.extend(w);
        vantages += input::paths::vantage_count(&ds);
    }
    // Batches follow the vantages' names as written; with `--by-run` (and
    // names that are not UTF-8) the output's names may sort otherwise.
    if !rows.is_sorted_by(|a, b| a.vantage <= b.vantage) {
        rows.sort_by(|a, b| a.vantage.cmp(&b.vantage));
        warnings.sort_by(|a, b| a.0.cmp(&b.0));
    }
    rows.extend(ab::from_paths(paths, opts)?);
    let bad = fetches
        .into_iter()
        .zip(bad)
        .filter_map(|(path, mut parts)| {
            parts.sort_by_key(|p| p.0);
            let mut b = BadRows::default();
            for (before, part) in &parts {
                b.absorb(part, *before);
            }
            (b.total() > 0).then_some((path, b))
        })
        .collect();
    Ok(Analysis {
        verdicts: rows,
        bad,
        warnings: warnings.into_iter().map(|w| w.1).collect(),
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
    let (rows, warnings) = run_keyed(ds, windows, opts)?;
    Ok((rows, warnings.into_iter().map(|w| w.1).collect()))
}

/// A pooling warning with its vantage.
type Keyed = (String, String);

/// [`run`] with each warning's vantage.
fn run_keyed(
    ds: &input::load::Dataset,
    windows: &[&Window],
    opts: &AnalyzeOptions,
) -> Result<(Vec<Verdict>, Vec<Keyed>)> {
    let groups = input::pooling::by_vantage(ds);
    let warnings: Vec<(String, String)> = groups
        .iter()
        .filter_map(|(v, members)| {
            input::pooling::warning(ds, v, members).map(|w| (v.to_string(), w))
        })
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
