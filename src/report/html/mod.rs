//! `slowlane report`: one self-contained HTML page (inline SVG and CSS, no
//! script, no request), the same content as Markdown, and the SVG files.
//!
//! Pipeline: the analyzer gives the verdict rows ([`crate::analyze`], the
//! same code as `slowlane analyze`); one more pass over the same
//! `fetches.csv` files ([`agg`], a sink of the analyzer's CSV reader) keeps
//! the values the plots need per vantage × class × direction × group; the
//! plots draw from their quantiles and per-round medians, never a point per
//! fetch ([`model`]); a few fetches' timelines are read for the
//! bytes-over-time panels ([`timelines`]); [`page`] renders the templates.

pub mod agg;
mod facts;
pub mod matrix;
pub mod model;
pub mod page;
mod plot;
pub mod svg_cdf;
pub mod svg_phases;
pub mod svg_rounds;
pub mod svg_timeline;
mod timelines;
mod traces;

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use crate::analyze::{self, fastcsv, AnalyzeOptions};

pub use model::Report;

/// Knobs of `slowlane report`.
#[derive(Debug, Clone)]
pub struct ReportOptions {
    pub title: String,
    /// Vantages that get a section of their own (most throttled first); the
    /// matrix always covers every vantage.
    pub max_vantages: usize,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            title: "slowlane report".into(),
            max_vantages: 50,
        }
    }
}

/// The default output folder: `report/` in the one input's directory.
pub fn default_out(paths: &[PathBuf]) -> Result<PathBuf> {
    match paths {
        [one] if one.is_dir() => Ok(one.join("report")),
        [one] => Ok(one.parent().unwrap_or(Path::new(".")).join("report")),
        _ => bail!("several inputs: say where the report goes with --out DIR"),
    }
}

/// Aggregate the inputs' fetch rows (one pass per file, on all cores).
pub fn aggregate(paths: &[PathBuf]) -> Result<agg::Agg> {
    let mut a = agg::Agg::default();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    for (src, p) in paths.iter().enumerate() {
        let fetches = if p.is_dir() {
            p.join("fetches.csv")
        } else {
            p.clone()
        };
        fastcsv::read(
            &mut a,
            src as u32,
            &fetches,
            fastcsv::PARALLEL_MIN_BYTES,
            threads,
        )
        .map_err(|e| anyhow::anyhow!("reading {}: {e:#}", fetches.display()))?;
    }
    Ok(a)
}

/// Build the report of `paths` (output directories or fetches.csv files).
pub fn build(paths: &[PathBuf], opts: &ReportOptions) -> Result<Report> {
    let analysis = analyze::analyze_paths_full(paths, &AnalyzeOptions::default())?;
    let mut a = aggregate(paths)?;
    model::build(&analysis.verdicts, &mut a, paths, analysis.warnings, opts)
}

/// Write the report of `paths` whose verdicts are already known (the end of
/// `run`); the path of its index.html.
pub fn write_from_analysis(
    verdicts: &[analyze::Verdict],
    warnings: Vec<String>,
    paths: &[PathBuf],
    out: &Path,
    opts: &ReportOptions,
) -> Result<PathBuf> {
    let mut a = aggregate(paths)?;
    let r = model::build(verdicts, &mut a, paths, warnings, opts)?;
    page::write(&r, out)
}
