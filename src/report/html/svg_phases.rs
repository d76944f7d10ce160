//! Phase times of one class and direction: TCP connect, TLS handshake and
//! time to first byte, target against control, as boxes (p25–p75, median
//! tick) with whiskers p5–p95 on a log ms axis. Handshake inflation — a DPI
//! box holding the ClientHello — shows as a target box to the right of its
//! control.

use anyhow::Result;
use plotters::prelude::*;

use super::plot::{self, CONTROL, TARGET};
use super::svg_chart::{self, Axis, Frame};
use crate::analyze::base::units::fmt_ms;

/// p5, p25, p50, p75, p95 of one phase on one side (ms).
pub type Five = [f64; 5];

/// One phase: its name and the five numbers of each side (None: no fetch
/// reached it).
#[derive(Debug, Clone)]
pub struct Phase {
    pub name: &'static str,
    pub target: Option<Five>,
    pub control: Option<Five>,
}

/// The five numbers of a sorted quantile vector of 21 points (0, 5, … 100%).
pub fn five(q21: &[f64]) -> Option<Five> {
    (q21.len() == 21).then(|| [q21[1], q21[5], q21[10], q21[15], q21[19]])
}

/// The SVG of one phase panel.
pub fn render(phases: &[Phase], caption: &str) -> Result<String> {
    let all = phases
        .iter()
        .flat_map(|p| p.target.iter().chain(p.control.iter()))
        .flat_map(|f| f.iter().copied());
    let (lo, hi) = plot::log_range(all, 1.0, 1000.0);
    let rows = phases.len() * 2;
    let names: Vec<String> = phases
        .iter()
        .flat_map(|p| [format!("{} target", p.name), format!("{} control", p.name)])
        .collect();
    let frame = Frame {
        x: Axis {
            desc: Some("time (log scale)"),
            format: Some(&|x| fmt_ms(*x)),
            ..Axis::default()
        },
        y: Axis {
            labels: Some(0),
            ..Axis::default()
        },
        y_mesh: false,
        ..Frame::new(caption, 80 + 36 * rows as u32, 10)
    };
    svg_chart::render(&frame, (lo..hi).log_scale(), 0f64..rows as f64, |chart| {
        for (k, p) in phases.iter().enumerate() {
            for (j, (f, color)) in [(p.target, TARGET), (p.control, CONTROL)]
                .into_iter()
                .enumerate()
            {
                let Some(f) = f else { continue };
                let f = f.map(|x| x.max(lo));
                let y = rows as f64 - (2 * k + j) as f64 - 0.5;
                let elems: Vec<DynElement<_, _>> = vec![
                    PathElement::new([(f[0], y), (f[4], y)], color.stroke_width(1)).into_dyn(),
                    Rectangle::new([(f[1], y - 0.3), (f[3], y + 0.3)], color.mix(0.35).filled())
                        .into_dyn(),
                    Rectangle::new([(f[1], y - 0.3), (f[3], y + 0.3)], color.stroke_width(1))
                        .into_dyn(),
                    PathElement::new([(f[2], y - 0.35), (f[2], y + 0.35)], color.stroke_width(3))
                        .into_dyn(),
                ];
                chart.draw_series(elems).map_err(plot::err)?;
                // The row's name above its whisker, at the left edge.
                let name = &names[2 * k + j];
                chart
                    .draw_series([Text::new(
                        name.clone(),
                        (lo * 1.03, y + 0.48),
                        ("sans-serif", 12).into_font().color(&BLACK),
                    )])
                    .map_err(plot::err)?;
            }
        }
        Ok(())
    })
}
