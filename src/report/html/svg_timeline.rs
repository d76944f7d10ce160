//! Bytes over time inside single fetches: a few fetches of a throttled or
//! partial row next to a control fetch of about the same size, each target
//! with its fitted plateau line (from [`crate::plateau`], the one estimator)
//! and a mark where its initial burst ended. A policer's sawtooth and a
//! shaper's straight line look different here.

use anyhow::Result;
use plotters::prelude::*;

use super::plot::{self, BURST, CONTROL, PLATEAU, TARGET};
use super::svg_chart::{self, Axis, Entry, Frame};
use crate::analyze::base::units::{fmt_bps, fmt_ms};

/// One fetch's cumulative bytes and its fitted plateau.
#[derive(Debug, Clone, Default)]
pub struct Curve {
    /// (seconds since the request, cumulative bytes).
    pub points: Vec<(f64, f64)>,
    /// The fitted plateau: from (t, bytes) at the slope in bytes/s.
    pub plateau: Option<(f64, f64, f64)>,
    /// Where the initial burst ended (t, bytes).
    pub settle: Option<(f64, f64)>,
}

/// The legend's words for the control fetch: `control: 2.0 MB in 150 ms
/// (107 Mbit/s)`, its time in a unit that shows it (not "in 0.00 s").
pub fn control_label(bytes: f64, secs: f64) -> String {
    let rate = if secs > 0.0 {
        format!(" ({})", fmt_bps(bytes * 8.0 / secs))
    } else {
        String::new()
    };
    format!(
        "control: {} in {}{rate}",
        bytesize::ByteSize(bytes as u64),
        fmt_ms(secs * 1000.0)
    )
}

/// The legend's words for the plateau line: it is fitted to the slowest
/// fetch drawn, while the verdict table gives the row's plateau (the median
/// over its fetches), so both are said when they differ.
pub fn plateau_label(fetch_bps: f64, row_bps: Option<f64>) -> String {
    let this = fmt_bps(fetch_bps);
    match row_bps.map(fmt_bps) {
        Some(row) if row != this => {
            format!("plateau fit {this} (slowest fetch; row's median {row})")
        }
        _ => format!("plateau fit {this}"),
    }
}

/// The SVG of one bytes-over-time panel; `row_plateau` is the plateau the
/// verdict table gives for the row.
pub fn render(
    targets: &[Curve],
    control: Option<&Curve>,
    caption: &str,
    row_plateau: Option<f64>,
) -> Result<String> {
    let curves = || targets.iter().chain(control);
    // The axes fit the targets: a control of the same size finishes in a
    // fraction of the time and leaves the top of the panel (its curve is cut
    // there), so the shape of a throttled transfer stays visible.
    let t_max = plot::lin_max(curves().flat_map(|c| c.points.iter().map(|p| p.0)));
    let b_max = plot::lin_max(targets.iter().flat_map(|c| c.points.iter().map(|p| p.1)));
    let b_max = if targets.is_empty() {
        plot::lin_max(curves().flat_map(|c| c.points.iter().map(|p| p.1)))
    } else {
        b_max * 1.3
    };
    let mut legend = Vec::new();
    if let Some(c) = control {
        let (t_end, b_end) = c.points.last().copied().unwrap_or_default();
        legend.push(Entry::line(CONTROL, control_label(b_end, t_end)));
    }
    if let Some(first) = targets.first() {
        legend.push(Entry::line(TARGET, "target fetches"));
        if let Some((_, _, slope)) = first.plateau {
            legend.push(Entry::line(
                PLATEAU,
                plateau_label(slope * 8.0, row_plateau),
            ));
        }
        if targets.iter().any(|c| c.settle.is_some()) {
            legend.push(Entry::dot(BURST, "burst ends"));
        }
    }
    let frame = Frame {
        x: Axis {
            desc: Some("seconds since the request"),
            ..Axis::default()
        },
        y: Axis {
            desc: Some("cumulative bytes"),
            format: Some(&|y| bytesize::ByteSize(*y as u64).to_string()),
            ..Axis::default()
        },
        legend,
        ..Frame::new(caption, 360, 70)
    };
    // The x axis starts a little before 0: a control of the same size ends
    // in a fraction of the targets' time, and from t = 0 its steep line lay
    // on the y axis, unseen.
    let t_min = -0.03 * t_max;
    svg_chart::render(&frame, t_min..t_max, 0f64..b_max, |chart| {
        if let Some(c) = control {
            let mut pts = vec![(0.0, 0.0)];
            pts.extend(clip(&c.points, b_max));
            chart
                .draw_series(LineSeries::new(pts, CONTROL.stroke_width(2)))
                .map_err(plot::err)?;
        }
        for (i, c) in targets.iter().enumerate() {
            let color = TARGET.mix(1.0 - 0.25 * i as f64);
            chart
                .draw_series(LineSeries::new(c.points.clone(), color.stroke_width(2)))
                .map_err(plot::err)?;
            if let Some((t0, b0, slope)) = c.plateau {
                let t_end = c.points.last().map_or(t_max, |p| p.0);
                let b_end = (b0 + slope * (t_end - t0)).min(b_max);
                let t_end = if slope > 0.0 {
                    t0 + (b_end - b0) / slope
                } else {
                    t_end
                };
                chart
                    .draw_series(LineSeries::new(
                        [(t0, b0), (t_end, b_end)],
                        PLATEAU.stroke_width(2),
                    ))
                    .map_err(plot::err)?;
            }
            if let Some(p) = c.settle {
                chart
                    .draw_series([Circle::new(p, 5, BURST.filled())])
                    .map_err(plot::err)?;
            }
        }
        Ok(())
    })
}

/// The points of a curve up to where it crosses `top` (interpolated there).
fn clip(points: &[(f64, f64)], top: f64) -> Vec<(f64, f64)> {
    let mut out = Vec::with_capacity(points.len());
    for &(t, b) in points {
        if b <= top {
            out.push((t, b));
            continue;
        }
        if let Some(&(t0, b0)) = out.last() {
            let f = if b > b0 { (top - b0) / (b - b0) } else { 0.0 };
            out.push((t0 + f * (t - t0), top));
        } else {
            out.push((t, top));
        }
        break;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::clip;

    /// Issue 23.7: "30.0 KB in 0.00 s" said nothing; a plateau that differs
    /// from the table's says which is which.
    #[test]
    fn legends_say_what_they_mean() {
        assert_eq!(
            super::control_label(30_000.0, 0.0012),
            "control: 30.0 KB in 1.20 ms (200 Mbit/s)"
        );
        assert!(!super::control_label(30_000.0, 0.0012).contains("0.00 s"));
        assert_eq!(
            super::plateau_label(127_000.0, Some(131_000.0)),
            "plateau fit 127 kbit/s (slowest fetch; row's median 131 kbit/s)"
        );
        assert_eq!(
            super::plateau_label(131_000.0, Some(131_200.0)),
            "plateau fit 131 kbit/s"
        );
    }

    #[test]
    fn clip_stops_at_the_top() {
        let c = clip(&[(0.0, 0.0), (1.0, 10.0), (2.0, 30.0)], 20.0);
        assert_eq!(c, vec![(0.0, 0.0), (1.0, 10.0), (1.5, 20.0)]);
    }
}
