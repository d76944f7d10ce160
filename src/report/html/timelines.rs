//! Which fetches the bytes-over-time panels show, and the panels: for each
//! throttled or partial URL row the slowest few of its fetches (a partial
//! row's slowed ones are among them) and one typical fetch of the control
//! closest in size, same direction (uploads get their own panels).

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::Result;

use super::agg::{Agg, Pick, SeriesPicks};
use super::figure::Figure;
use super::svg_timeline;
use super::traces::{self, FetchKey};
use crate::analyze::{class_str, Scope, Verdict, VerdictKind};
use crate::types::{Direction, Group};

/// Panels per vantage at most (the rows are sorted worst first).
const MAX_PANELS: usize = 6;

/// One planned panel.
#[derive(Debug, Clone)]
pub struct Plan {
    pub vantage: usize,
    pub file: String,
    pub caption: String,
    pub direction: Direction,
    pub targets: Vec<FetchKey>,
    pub control: Option<FetchKey>,
    /// The row's plateau, as the verdict table gives it.
    pub plateau: Option<f64>,
}

fn key(p: &Pick) -> FetchKey {
    (p.source, p.fetch_id.clone())
}

/// How far apart two sizes are (log ratio; unknown sizes are far).
fn size_gap(a: u64, b: u64) -> f64 {
    if a == 0 || b == 0 {
        return 50.0;
    }
    (a as f64 / b as f64).ln().abs()
}

/// The control series closest in size to `t` at its vantage and direction
/// (same class preferred on a tie), and its median-rate early fetch.
fn control_for(t: &SeriesPicks, agg: &Agg) -> Option<FetchKey> {
    let best = agg
        .series
        .iter()
        .filter(|s| {
            s.group == Group::Control && s.vantage == t.vantage && s.direction == t.direction
        })
        .min_by(|a, b| {
            let ka = (size_gap(a.size, t.size), a.class != t.class);
            let kb = (size_gap(b.size, t.size), b.class != t.class);
            ka.0.total_cmp(&kb.0).then(ka.1.cmp(&kb.1))
        })?;
    let mut first: Vec<&Pick> = best.first.iter().collect();
    first.sort_by(|a, b| a.rate.total_cmp(&b.rate));
    first.get(first.len() / 2).map(|p| key(p))
}

/// The panels of one vantage (`rows` sorted worst first).
pub fn plan(vantage: usize, rows: &[&Verdict], agg: &Agg) -> Vec<Plan> {
    let mut out = Vec::new();
    for v in rows {
        let loud = matches!(v.verdict, VerdictKind::Throttled | VerdictKind::Partial);
        if !loud || v.control || v.scope != Scope::Url || out.len() == MAX_PANELS {
            continue;
        }
        let Some(t) = agg.series.iter().find(|s| {
            s.group == Group::Target
                && s.direction == v.direction
                && s.vantage == v.vantage
                && s.url == v.url
                && s.sni == v.sni
                && s.host == v.host
        }) else {
            continue;
        };
        let what = if v.label.is_empty() { &v.url } else { &v.label };
        out.push(Plan {
            vantage,
            file: format!("v{vantage}-bytes-{}.svg", out.len()),
            caption: format!(
                "Bytes over time ({}, {} {}): {what} — {} — slowest fetches vs a control of similar size",
                v.verdict,
                class_str(v.class),
                v.direction,
                v.url
            ),
            direction: v.direction,
            targets: t.slowest.iter().map(key).collect(),
            control: control_for(t, agg),
            plateau: v.plateau_bps,
        });
    }
    out
}

/// Read the planned fetches' timelines and draw the panels that have any.
pub fn render(plans: Vec<Plan>, inputs: &[PathBuf]) -> Result<Vec<(usize, Figure)>> {
    let mut wanted: HashMap<FetchKey, Direction> = HashMap::new();
    for p in &plans {
        for k in p.targets.iter().chain(&p.control) {
            wanted.insert(k.clone(), p.direction);
        }
    }
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let samples = traces::read(inputs, &wanted)?;
    let mut out = Vec::new();
    for p in plans {
        let targets: Vec<svg_timeline::Curve> = p
            .targets
            .iter()
            .filter_map(|k| samples.get(k))
            .map(|s| traces::curve(s, true))
            .collect();
        if targets.is_empty() {
            continue;
        }
        let control = p
            .control
            .as_ref()
            .and_then(|k| samples.get(k))
            .map(|s| traces::curve(s, false));
        let svg_caption = format!("Bytes over time ({})", p.direction);
        let svg = svg_timeline::render(&targets, control.as_ref(), &svg_caption, p.plateau)?;
        out.push((
            p.vantage,
            Figure {
                file: p.file,
                caption: p.caption,
                svg,
            },
        ));
    }
    Ok(out)
}
