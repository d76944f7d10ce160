//! Rate CDF of one class and direction: target against control fetches on a
//! log bit/s axis, with a vertical mark at the plateau of each throttled or
//! partial row (the 2021 picture: a cliff near 130 kbit/s).

use anyhow::Result;
use plotters::prelude::*;

use super::plot::{self, CONTROL, PLATEAU, TARGET};
use super::svg_chart::{self, Axis, Entry, Frame};
use crate::analyze::base::units::fmt_bps;

/// What one CDF panel shows: quantiles (evenly spaced probabilities, min to
/// max) of each side, and the plateau marks (bit/s).
#[derive(Debug, Clone, Default)]
pub struct CdfData {
    pub target: Vec<f64>,
    pub control: Vec<f64>,
    pub plateaus: Vec<f64>,
    pub n_target: usize,
    pub n_control: usize,
}

/// (rate, cumulative share) points of a quantile vector; rates ≤ 0 are drawn
/// at the axis floor (a frozen transfer has rate 0).
fn points(q: &[f64], floor: f64) -> Vec<(f64, f64)> {
    let last = (q.len().max(2) - 1) as f64;
    q.iter()
        .enumerate()
        .map(|(i, &x)| (x.max(floor), i as f64 / last))
        .collect()
}

/// The legend: the plateau marks, then control and target with their n.
fn legend(d: &CdfData) -> Vec<Entry> {
    let mut out: Vec<Entry> = d
        .plateaus
        .iter()
        .map(|&p| Entry::line(PLATEAU, format!("plateau {}", fmt_bps(p))))
        .collect();
    for (q, n, color, name) in [
        (&d.control, d.n_control, CONTROL, "control"),
        (&d.target, d.n_target, TARGET, "target"),
    ] {
        if !q.is_empty() {
            out.push(Entry::line(color, format!("{name} (n={n})")));
        }
    }
    out
}

/// The SVG of one CDF panel.
pub fn render(d: &CdfData, caption: &str) -> Result<String> {
    let all = d.target.iter().chain(&d.control).chain(&d.plateaus);
    let (lo, hi) = plot::log_range(all.copied(), 1e3, 1e9);
    let frame = Frame {
        x: Axis {
            desc: Some("rate (log scale)"),
            labels: Some(8),
            format: Some(&|x| fmt_bps(*x)),
        },
        y: Axis {
            desc: Some("share of fetches ≤ rate"),
            ..Axis::default()
        },
        legend: legend(d),
        ..Frame::new(caption, 360, 50)
    };
    svg_chart::render(&frame, (lo..hi).log_scale(), 0f64..1f64, |chart| {
        for &p in &d.plateaus {
            chart
                .draw_series(LineSeries::new(
                    [(p.max(lo), 0.0), (p.max(lo), 1.0)],
                    PLATEAU.stroke_width(2),
                ))
                .map_err(plot::err)?;
        }
        for (q, color) in [(&d.control, CONTROL), (&d.target, TARGET)] {
            if q.is_empty() {
                continue;
            }
            chart
                .draw_series(LineSeries::new(points(q, lo), color.stroke_width(2)))
                .map_err(plot::err)?;
        }
        Ok(())
    })
}
