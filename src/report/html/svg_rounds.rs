//! Median rate per round, or per hour of the fetches' start (UTC), of one
//! class and direction, targets against controls: shows when throttling
//! started or stopped during a campaign.

use anyhow::Result;
use plotters::prelude::*;

use super::plot::{self, CONTROL, TARGET};
use super::svg_chart::{self, Axis, Entry, Frame};
use crate::analyze::base::units::fmt_bps;

/// What the x axis counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Over {
    /// Rounds as numbered in `fetches.csv`.
    Rounds,
    /// Whole hours since the Unix epoch (UTC), from `started_at`.
    Hours,
}

impl Over {
    /// A tick's text at whole value `x`.
    fn label(self, x: u32) -> String {
        match self {
            Over::Rounds => x.to_string(),
            Over::Hours => {
                let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(x as u64 * 3600);
                // "2021-03-10T12:00:00Z" → "03-10 12h"
                let s = humantime::format_rfc3339_seconds(t).to_string();
                format!("{} {}h", &s[5..10], &s[11..13])
            }
        }
    }
}

/// The SVG of one panel: (round or hour, median bit/s) per side.
pub fn render(
    target: &[(u32, f64)],
    control: &[(u32, f64)],
    over: Over,
    caption: &str,
) -> Result<String> {
    let all = target.iter().chain(control).map(|p| p.1);
    let (lo, hi) = plot::log_range(all, 1e3, 1e9);
    let r0 = target.iter().chain(control).map(|p| p.0).min().unwrap_or(0);
    let r1 = target.iter().chain(control).map(|p| p.0).max().unwrap_or(1);
    let (x0, x1) = (r0 as f64 - 0.5, (r1.max(r0 + 1)) as f64 + 0.5);
    // Rounds and hours are whole numbers: no tick between two of them.
    let whole = |x: &f64| {
        if (x - x.round()).abs() < 1e-6 && *x >= 0.0 {
            over.label(x.round() as u32)
        } else {
            String::new()
        }
    };
    let (desc, most) = match over {
        Over::Rounds => ("round", 12),
        Over::Hours => ("hour the fetch started (UTC)", 8),
    };
    let frame = Frame {
        x: Axis {
            desc: Some(desc),
            labels: Some(((r1 - r0) as usize + 2).min(most)),
            format: Some(&whole),
        },
        y: Axis {
            desc: Some("median rate (log)"),
            format: Some(&|y| fmt_bps(*y)),
            ..Axis::default()
        },
        legend: [(control, CONTROL, "control"), (target, TARGET, "target")]
            .iter()
            .filter(|(pts, _, _)| !pts.is_empty())
            .map(|&(_, color, name)| Entry::line(color, format!("{name} median")))
            .collect(),
        ..Frame::new(caption, 300, 80)
    };
    svg_chart::render(&frame, x0..x1, (lo..hi).log_scale(), |chart| {
        for (pts, color) in [(control, CONTROL), (target, TARGET)] {
            if pts.is_empty() {
                continue;
            }
            let line: Vec<(f64, f64)> = pts.iter().map(|&(r, v)| (r as f64, v.max(lo))).collect();
            chart
                .draw_series(LineSeries::new(line.clone(), color.stroke_width(2)))
                .map_err(plot::err)?;
            chart
                .draw_series(line.into_iter().map(|p| Circle::new(p, 3, color.filled())))
                .map_err(plot::err)?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::Over;

    #[test]
    fn hour_ticks_name_the_utc_hour() {
        assert_eq!(Over::Hours.label(1615377600 / 3600), "03-10 12h");
        assert_eq!(Over::Rounds.label(7), "7");
    }
}
