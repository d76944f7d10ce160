//! Median rate per round of one class and direction, targets against
//! controls: shows when throttling started or stopped during a campaign.

use anyhow::Result;
use plotters::prelude::*;

use super::plot::{self, CONTROL, TARGET};
use crate::analyze::output::fmt_bps;

/// The SVG of one rounds panel: (round, median bit/s) per side.
pub fn render(target: &[(u32, f64)], control: &[(u32, f64)], caption: &str) -> Result<String> {
    let all = target.iter().chain(control).map(|p| p.1);
    let (lo, hi) = plot::log_range(all, 1e3, 1e9);
    let r0 = target.iter().chain(control).map(|p| p.0).min().unwrap_or(0);
    let r1 = target.iter().chain(control).map(|p| p.0).max().unwrap_or(1);
    let (x0, x1) = (r0 as f64 - 0.5, (r1.max(r0 + 1)) as f64 + 0.5);
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (640, 300)).into_drawing_area();
        root.fill(&WHITE).map_err(plot::err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(caption, ("sans-serif", 16))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(80)
            .build_cartesian_2d(x0..x1, (lo..hi).log_scale())
            .map_err(plot::err)?;
        chart
            .configure_mesh()
            .x_desc("round")
            .y_desc("median rate (log)")
            .x_labels(((r1 - r0) as usize + 2).min(12))
            .x_label_formatter(&|x| {
                // Rounds are whole numbers: no tick between two of them.
                if (x - x.round()).abs() < 1e-6 && *x >= 0.0 {
                    format!("{x:.0}")
                } else {
                    String::new()
                }
            })
            .y_label_formatter(&|y| fmt_bps(*y))
            .draw()
            .map_err(plot::err)?;
        for (pts, color, name) in [(control, CONTROL, "control"), (target, TARGET, "target")] {
            if pts.is_empty() {
                continue;
            }
            let line: Vec<(f64, f64)> = pts.iter().map(|&(r, v)| (r as f64, v.max(lo))).collect();
            chart
                .draw_series(LineSeries::new(line.clone(), color.stroke_width(2)))
                .map_err(plot::err)?
                .label(format!("{name} median"))
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 16, y)], color.stroke_width(2))
                });
            chart
                .draw_series(line.into_iter().map(|p| Circle::new(p, 3, color.filled())))
                .map_err(plot::err)?;
        }
        plot::legend(&mut chart, SeriesLabelPosition::MiddleRight)?;
        root.present().map_err(plot::err)?;
    }
    Ok(out)
}
