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

mod ab;
pub mod agg;
mod facts;
pub mod figure;
pub mod matrix;
pub mod model;
pub mod page;
mod plot;
pub mod svg_cdf;
pub mod svg_chart;
pub mod svg_phases;
pub mod svg_rounds;
pub mod svg_timeline;
pub mod text;
mod timelines;
mod traces;

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use crate::analyze::input::fastcsv::{self, RowSink};
use crate::analyze::input::load::{Dataset, Row, TimelineSrc};
use crate::analyze::{self, AnalyzeOptions, BadKind};

pub use model::Report;

/// Knobs of `slowlane report`.
#[derive(Debug, Clone)]
pub struct ReportOptions {
    /// The page's title; empty: "slowlane report: " and the campaign names.
    pub title: String,
    /// Vantages that get a section of their own (most throttled first); the
    /// matrix always covers every vantage.
    pub max_vantages: usize,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            title: String::new(),
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

/// The fetches.csv of an input, and its timeline.csv the way `analyze`
/// finds it (beside an output directory's or a file named fetches.csv).
fn files_of(p: &Path) -> (PathBuf, TimelineSrc) {
    let fetches = if p.is_dir() {
        p.join("fetches.csv")
    } else {
        p.to_path_buf()
    };
    let tl = traces::timeline_path(p).map_or(TimelineSrc::None, TimelineSrc::File);
    (fetches, tl)
}

/// The analyzer's dataset and the report's aggregates, filled by one parse.
#[derive(Default)]
struct Both {
    ds: Dataset,
    agg: agg::Agg,
}

impl RowSink for Both {
    fn row(&mut self, source: u32, row: &Row) {
        self.ds.add(source, row);
        self.agg.add(source, row);
    }
    fn bad(&mut self, line: u64, kind: BadKind) {
        RowSink::bad(&mut self.ds, line, kind);
        RowSink::bad(&mut self.agg, line, kind);
    }
    fn absorb(&mut self, other: Both, line_offset: u64) {
        self.ds.absorb(other.ds, line_offset);
        self.agg.absorb(other.agg, line_offset);
    }
    fn fresh(&self) -> Both {
        Both {
            ds: self.ds.fresh(),
            agg: agg::Agg::default(),
        }
    }
}

/// Read the inputs once into `both` (each file on all cores).
fn read_inputs(both: &mut Both, paths: &[PathBuf]) -> Result<()> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    for p in paths {
        let (fetches, tl) = files_of(p);
        let src = both.ds.add_source(tl);
        fastcsv::read(both, src, &fetches, fastcsv::PARALLEL_MIN_BYTES, threads)
            .map_err(|e| anyhow::anyhow!("reading {}: {e:#}", fetches.display()))?;
    }
    Ok(())
}

/// Aggregate the inputs' fetch rows (for verdicts computed elsewhere): the
/// aggregates alone, no analyzer dataset (the end of `run` has analysed
/// already; filling a second dataset here cost time and memory for nothing).
pub fn aggregate(paths: &[PathBuf]) -> Result<agg::Agg> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    let mut agg = agg::Agg::default();
    for (src, p) in paths.iter().enumerate() {
        // Source numbers as `read_inputs` gives them: one per input, in order.
        let (fetches, _) = files_of(p);
        fastcsv::read(
            &mut agg,
            src as u32,
            &fetches,
            fastcsv::PARALLEL_MIN_BYTES,
            threads,
        )
        .map_err(|e| anyhow::anyhow!("reading {}: {e:#}", fetches.display()))?;
    }
    Ok(agg)
}

/// Build the report of `paths` (output directories or fetches.csv files):
/// one parse feeds the analyzer (default options, as `slowlane analyze`)
/// and the plots.
pub fn build(paths: &[PathBuf], opts: &ReportOptions) -> Result<Report> {
    let mut both = Both::default();
    read_inputs(&mut both, paths)?;
    let opts_a = AnalyzeOptions::default();
    let (mut verdicts, mut warnings) = analyze::analyze_dataset(&both.ds, &opts_a)?;
    // The A/B rows, as `slowlane analyze` adds them.
    verdicts.extend(analyze::ab::from_paths(paths, &opts_a)?);
    if both.agg.bad_rows > 0 {
        warnings.push(format!(
            "{} unusable input row(s) skipped (`slowlane analyze` lists them)",
            both.agg.bad_rows
        ));
    }
    model::build(&verdicts, &mut both.agg, paths, warnings, opts)
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
