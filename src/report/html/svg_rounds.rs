//! Median rate per round of one class and direction, targets against
//! controls: shows when throttling started or stopped during a campaign.

use anyhow::Result;
use plotters::prelude::*;

use super::plot::{self, CONTROL, TARGET};
use super::svg_chart::{self, Axis, Frame};
use crate::analyze::output::fmt_bps;

/// The SVG of one rounds panel: (round, median bit/s) per side.
pub fn render(target: &[(u32, f64)], control: &[(u32, f64)], caption: &str) -> Result<String> {
    let all = target.iter().chain(control).map(|p| p.1);
    let (lo, hi) = plot::log_range(all, 1e3, 1e9);
    let r0 = target.iter().chain(control).map(|p| p.0).min().unwrap_or(0);
    let r1 = target.iter().chain(control).map(|p| p.0).max().unwrap_or(1);
    let (x0, x1) = (r0 as f64 - 0.5, (r1.max(r0 + 1)) as f64 + 0.5);
    // Rounds are whole numbers: no tick between two of them.
    let whole = |x: &f64| {
        if (x - x.round()).abs() < 1e-6 && *x >= 0.0 {
            format!("{x:.0}")
        } else {
            String::new()
        }
    };
    let frame = Frame {
        x: Axis {
            desc: Some("round"),
            labels: Some(((r1 - r0) as usize + 2).min(12)),
            format: Some(&whole),
        },
        y: Axis {
            desc: Some("median rate (log)"),
            format: Some(&|y| fmt_bps(*y)),
            ..Axis::default()
        },
        legend: Some(SeriesLabelPosition::MiddleRight),
        ..Frame::new(caption, 300, 80)
    };
    svg_chart::render(&frame, x0..x1, (lo..hi).log_scale(), |chart| {
        for (pts, color, name) in [(control, CONTROL, "control"), (target, TARGET, "target")] {
            if pts.is_empty() {
                continue;
            }
            let line: Vec<(f64, f64)> = pts.iter().map(|&(r, v)| (r as f64, v.max(lo))).collect();
            chart
                .draw_series(LineSeries::new(line.clone(), color.stroke_width(2)))
                .map_err(plot::err)?
                .label(format!("{name} median"))
                .legend(plot::line_key(color));
            chart
                .draw_series(line.into_iter().map(|p| Circle::new(p, 3, color.filled())))
                .map_err(plot::err)?;
        }
        Ok(())
    })
}
