//! The report as the templates see it: per vantage its sentence, verdict
//! rows and figures (SVG text plus a file name for the Markdown copy), and
//! the cross-vantage matrix. Every value here is plain text; the templates
//! escape it.

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::Result;

use super::ab::{self, AbView};
use super::agg::{medians_by_key, quantiles, Agg, Cell};
pub use super::figure::Figure;
use super::matrix::{self, Matrix};
use super::svg_cdf::{self, CdfData};
use super::svg_phases::{self, five, Phase};
use super::svg_rounds::{self, Over};
use super::{facts, text, timelines, ReportOptions};
use crate::analyze::base::units::{fmt_bps, fmt_p, fmt_ratio};
use crate::analyze::{class_str, Scope, Verdict, VerdictKind};
use crate::types::{Direction, Group};

/// One verdict row as shown.
#[derive(Debug, Clone)]
pub struct RowView {
    pub scope: String,
    pub what: String,
    pub label: String,
    pub class: String,
    pub direction: String,
    pub verdict: &'static str,
    pub ratio: String,
    pub n: String,
    pub plateau: String,
    pub mechanism: String,
    pub reason: String,
}

/// The cells as HTML that breaks only between words (and after a URL's
/// slashes): no `q=5e-` / `4`, no `…/2000000.` / `jpg`.
impl RowView {
    pub fn what_html(&self) -> String {
        text::words(&self.what)
    }
    pub fn label_html(&self) -> String {
        text::words(&self.label)
    }
    pub fn ratio_html(&self) -> String {
        text::words(&self.ratio)
    }
    pub fn reason_html(&self) -> String {
        text::words(&self.reason)
    }
}

/// One vantage's section.
#[derive(Debug, Clone)]
pub struct VantageView {
    pub name: String,
    pub anchor: String,
    pub sentence: String,
    /// Rows about targets, worst first.
    pub rows: Vec<RowView>,
    /// Rows about controls checked against the other controls.
    pub control_rows: Vec<RowView>,
    /// The A/B tests section (None: no A/B row).
    pub ab: Option<AbView>,
    pub cdfs: Vec<Figure>,
    pub traces: Vec<Figure>,
    pub phases: Vec<Figure>,
    /// Median rate per round, and per hour when the fetches span hours.
    pub rounds: Vec<Figure>,
    /// One (label, value) list per run recorded in campaign.json.
    pub runs: Vec<Vec<(String, String)>>,
}

impl VantageView {
    pub fn sentence_html(&self) -> String {
        text::words(&self.sentence)
    }
    /// `12 control rows`.
    pub fn control_rows_word(&self) -> String {
        plural(self.control_rows.len(), "control row")
    }
}

/// `1 vantage`, `3 vantages`.
pub fn plural(n: usize, one: &str) -> String {
    if n == 1 {
        format!("{n} {one}")
    } else {
        format!("{n} {one}s")
    }
}

/// The whole report.
#[derive(Debug, Clone)]
pub struct Report {
    pub title: String,
    pub version: String,
    pub n_vantages: usize,
    pub n_fetches: usize,
    pub matrix: Matrix,
    pub vantages: Vec<VantageView>,
    /// Vantages without a section (beyond `max_vantages`).
    pub omitted: usize,
    pub warnings: Vec<String>,
}

impl Report {
    /// `1 vantage`, `3 vantages`.
    pub fn vantages_word(&self) -> String {
        plural(self.n_vantages, "vantage")
    }
    /// `2 vantages` with no section of their own.
    pub fn omitted_word(&self) -> String {
        plural(self.omitted, "vantage")
    }
    /// `2 vantages` whose every class is ok or inconclusive.
    pub fn quiet_word(&self) -> String {
        plural(self.matrix.quiet.len(), "vantage")
    }
}

fn rank(k: VerdictKind) -> u8 {
    match k {
        VerdictKind::Throttled => 0,
        VerdictKind::Blocked => 1,
        VerdictKind::Partial => 2,
        VerdictKind::Inconclusive => 3,
        VerdictKind::Ok => 4,
    }
}

fn row_view(v: &Verdict) -> RowView {
    let ratio = match (v.ratio, v.ratio_ci_low, v.ratio_ci_high) {
        (Some(r), Some(a), Some(b)) => {
            format!("{} [{}–{}]", fmt_ratio(r), fmt_ratio(a), fmt_ratio(b))
        }
        (Some(r), _, _) => fmt_ratio(r),
        _ => String::new(),
    };
    let ratio = match (ratio.is_empty(), v.metric, v.q_value) {
        (false, Some(m), Some(q)) => format!("{ratio} ({m}, q={})", fmt_p(q)),
        (false, Some(m), None) => format!("{ratio} ({m})"),
        _ => ratio,
    };
    let what = match v.scope {
        Scope::Url => v.url.clone(),
        Scope::Host => v.host.clone(),
        Scope::Class => "all targets of the class".to_string(),
        Scope::Ab => crate::analyze::ab::what(v),
    };
    RowView {
        scope: if v.control {
            format!("{} (control)", v.scope)
        } else {
            v.scope.to_string()
        },
        what,
        label: v.label.clone(),
        class: class_str(v.class).to_string(),
        direction: v.direction.to_string(),
        verdict: v.verdict.as_str(),
        ratio,
        // URL and host rows count fetches; a class row's `n` is its number
        // of target URLs, so it says so rather than "2 / 10" beside "5 / 10".
        n: if v.scope == Scope::Class {
            plural(v.n, "URL")
        } else {
            format!("{} / {}", v.n, v.n_control)
        },
        plateau: v.plateau_bps.map(fmt_bps).unwrap_or_default(),
        mechanism: v.mechanism.map(|m| m.to_string()).unwrap_or_default(),
        reason: v.reason.clone(),
    }
}

/// Cells of one vantage by (class, direction, group).
type CellKey<'a> = (&'a str, Direction, Group);

fn cdf_figure(
    i: usize,
    col: (&str, Direction),
    cells: &mut [Cell],
    by: &HashMap<CellKey, usize>,
    plateaus: Vec<f64>,
) -> Result<Option<Figure>> {
    let (class, d) = col;
    let Some(&t) = by.get(&(class, d, Group::Target)) else {
        return Ok(None);
    };
    let mut data = CdfData {
        n_target: cells[t].rates.len(),
        target: quantiles(&mut cells[t].rates, 201),
        plateaus,
        ..CdfData::default()
    };
    let mut note = "";
    let ctrl = by.get(&(class, d, Group::Control)).copied();
    if let Some(c) = ctrl {
        data.n_control = cells[c].rates.len();
        data.control = quantiles(&mut cells[c].rates, 201);
    } else {
        // No control of this class: every control in the direction.
        let mut pooled: Vec<f32> = by
            .iter()
            .filter(|(k, _)| k.1 == d && k.2 == Group::Control)
            .flat_map(|(_, &c)| cells[c].rates.iter().copied())
            .collect();
        data.n_control = pooled.len();
        data.control = quantiles(&mut pooled, 201);
        note = " (controls of every class)";
    }
    if data.target.is_empty() {
        return Ok(None);
    }
    let caption = format!(
        "Rate CDF: {} {}{note}",
        matrix::column_name(class, d),
        "fetches"
    );
    Ok(Some(Figure {
        file: format!("v{i}-cdf-{}-{d}.svg", slug(class)),
        svg: svg_cdf::render(&data, &caption)?,
        caption,
    }))
}

fn slug(class: &str) -> &str {
    if class.is_empty() {
        "unknown"
    } else {
        class
    }
}

fn phase_figure(
    i: usize,
    col: (&str, Direction),
    cells: &mut [Cell],
    by: &HashMap<CellKey, usize>,
) -> Result<Option<Figure>> {
    let (class, d) = col;
    let mut side = |g: Group, which: usize| -> Option<svg_phases::Five> {
        let c = *by.get(&(class, d, g))?;
        let cell = &mut cells[c];
        let v = match which {
            0 => &mut cell.tcp_ms,
            1 => &mut cell.tls_ms,
            _ => &mut cell.ttfb_ms,
        };
        five(&quantiles(v, 21))
    };
    let phases: Vec<Phase> = ["TCP", "TLS", "TTFB"]
        .into_iter()
        .enumerate()
        .map(|(k, name)| Phase {
            name,
            target: side(Group::Target, k),
            control: side(Group::Control, k),
        })
        .filter(|p| p.target.is_some() || p.control.is_some())
        .collect();
    if phases.is_empty() || !by.contains_key(&(class, d, Group::Target)) {
        return Ok(None);
    }
    let caption = format!("Phase times: {}", matrix::column_name(class, d));
    Ok(Some(Figure {
        file: format!("v{i}-phases-{}-{d}.svg", slug(class)),
        svg: svg_phases::render(&phases, &caption)?,
        caption,
    }))
}

/// The median rate per round, or per hour when `over` is `Hours` (drawn
/// only when the targets' fetches fall in three hours or more: a short run
/// that merely crosses an hour boundary gets none).
fn over_time_figure(
    i: usize,
    col: (&str, Direction),
    cells: &mut [Cell],
    by: &HashMap<CellKey, usize>,
    over: Over,
) -> Result<Option<Figure>> {
    let (class, d) = col;
    let mut med = |g: Group| {
        by.get(&(class, d, g))
            .map(|&c| {
                let cell = &mut cells[c];
                medians_by_key(match over {
                    Over::Rounds => &mut cell.rounds,
                    Over::Hours => &mut cell.hours,
                })
            })
            .unwrap_or_default()
    };
    let (t, c) = (med(Group::Target), med(Group::Control));
    let (least, per, name) = match over {
        Over::Rounds => (1, "round", "rounds"),
        Over::Hours => (3, "hour (UTC)", "hours"),
    };
    if t.len() < least {
        return Ok(None);
    }
    let caption = format!("Median rate per {per}: {}", matrix::column_name(class, d));
    Ok(Some(Figure {
        file: format!("v{i}-{name}-{}-{d}.svg", slug(class)),
        svg: svg_rounds::render(&t, &c, over, &caption)?,
        caption,
    }))
}

/// Plateau marks of one column: the throttled/partial rows' plateaus, one
/// mark per value within 2% of another. A/B rows are left out: their
/// "plateau" is the median rate of fetches whose URL rows already give a
/// fitted one.
fn plateaus(rows: &[&Verdict], class: &str, d: Direction) -> Vec<f64> {
    let mut out: Vec<f64> = Vec::new();
    for v in rows {
        let loud = matches!(v.verdict, VerdictKind::Throttled | VerdictKind::Partial);
        let ab = v.scope == Scope::Ab;
        if !loud || ab || v.control || class_str(v.class) != class || v.direction != d {
            continue;
        }
        if let Some(p) = v.plateau_bps.filter(|p| *p > 0.0) {
            if !out.iter().any(|q| (q / p - 1.0).abs() < 0.02) {
                out.push(p);
            }
        }
    }
    out
}

/// `slowlane report: demo-twitter-2021`: the campaign names of the runs the
/// sections show (a page called only "slowlane report" lost what it is
/// about), three at most.
fn default_title(facts: &HashMap<u32, Vec<Vec<(String, String)>>>) -> String {
    let mut sources: Vec<&u32> = facts.keys().collect();
    sources.sort_unstable();
    let mut names: Vec<&str> = Vec::new();
    for s in sources {
        for run in &facts[s] {
            for (k, v) in run {
                if k == "campaign" && !v.is_empty() && !names.contains(&v.as_str()) {
                    names.push(v);
                }
            }
        }
    }
    match names.len() {
        0 => "slowlane report".to_string(),
        1..=3 => format!("slowlane report: {}", names.join(", ")),
        n => format!(
            "slowlane report: {} and {} more",
            names[..3].join(", "),
            n - 3
        ),
    }
}

/// Build every section and the matrix.
pub fn build(
    verdicts: &[Verdict],
    agg: &mut Agg,
    inputs: &[PathBuf],
    warnings: Vec<String>,
    opts: &ReportOptions,
) -> Result<Report> {
    let mut matrix = matrix::build(verdicts);
    let mut by_vantage: HashMap<&str, Vec<&Verdict>> = HashMap::new();
    for v in verdicts {
        by_vantage.entry(v.vantage.as_str()).or_default().push(v);
    }
    let mut cells_of: HashMap<String, HashMap<CellKey, usize>> = HashMap::new();
    for (i, c) in agg.cells.iter().enumerate() {
        cells_of
            .entry(c.vantage.clone())
            .or_default()
            .insert((class_str(c.class), c.direction, c.group), i);
    }
    let n_fetches = agg.cells.iter().map(|c| c.rates.len()).sum();
    let shown: Vec<String> = matrix
        .order
        .iter()
        .take(opts.max_vantages)
        .cloned()
        .collect();
    let mut facts_cache: HashMap<u32, Vec<Vec<(String, String)>>> = HashMap::new();
    let mut vantages = Vec::new();
    let mut plans = Vec::new();
    for (i, name) in shown.iter().enumerate() {
        let anchor = format!("v{i}");
        if let Some(r) = matrix.rows.iter_mut().find(|r| &r.vantage == name) {
            r.anchor = Some(anchor.clone());
        }
        let mut rows: Vec<&Verdict> = by_vantage.get(name.as_str()).cloned().unwrap_or_default();
        rows.sort_by_key(|v| rank(v.verdict));
        // The selective summary of the class rows; A/B rows carry their
        // own sentence, shown in the A/B section.
        let sentence = rows
            .iter()
            .filter(|v| v.scope == Scope::Class)
            .chain(&rows)
            .find(|v| !v.summary.is_empty())
            .map(|v| v.summary.clone())
            .unwrap_or_default();
        let by = cells_of.remove(name).unwrap_or_default();
        let mut cols: Vec<(&str, Direction)> = by
            .keys()
            .filter(|k| k.2 == Group::Target)
            .map(|k| (k.0, k.1))
            .collect();
        cols.sort();
        let (mut cdfs, mut phases, mut rounds) = (Vec::new(), Vec::new(), Vec::new());
        for &col in &cols {
            let p = plateaus(&rows, col.0, col.1);
            cdfs.extend(cdf_figure(i, col, &mut agg.cells, &by, p)?);
            phases.extend(phase_figure(i, col, &mut agg.cells, &by)?);
            for over in [Over::Rounds, Over::Hours] {
                rounds.extend(over_time_figure(i, col, &mut agg.cells, &by, over)?);
            }
        }
        let mut sources: Vec<u32> = by
            .values()
            .flat_map(|&c| agg.cells[c].sources.clone())
            .collect();
        sources.sort_unstable();
        sources.dedup();
        let mut runs = Vec::new();
        for s in sources {
            if let std::collections::hash_map::Entry::Vacant(e) = facts_cache.entry(s) {
                e.insert(facts::runs(&facts::campaign_json(&inputs[s as usize]))?);
            }
            runs.extend(
                facts_cache[&s]
                    .iter()
                    .filter(|r| {
                        r.iter()
                            .any(|(k, v)| k == "vantage" && (v == name || v.is_empty()))
                    })
                    .cloned(),
            );
        }
        plans.extend(timelines::plan(i, &rows, agg));
        vantages.push(VantageView {
            name: name.clone(),
            anchor,
            sentence,
            rows: rows
                .iter()
                .filter(|v| !v.control)
                .map(|v| row_view(v))
                .collect(),
            control_rows: rows
                .iter()
                .filter(|v| v.control)
                .map(|v| row_view(v))
                .collect(),
            ab: ab::view(&rows),
            cdfs,
            traces: Vec::new(),
            phases,
            rounds,
            runs,
        });
    }
    for (i, fig) in timelines::render(plans, inputs)? {
        vantages[i].traces.push(fig);
    }
    let title = if opts.title.is_empty() {
        default_title(&facts_cache)
    } else {
        opts.title.clone()
    };
    Ok(Report {
        title,
        version: env!("CARGO_PKG_VERSION").to_string(),
        n_vantages: matrix.order.len(),
        n_fetches,
        omitted: matrix.order.len() - vantages.len(),
        matrix,
        vantages,
        warnings,
    })
}
