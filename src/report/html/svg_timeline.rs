//! Bytes over time inside single fetches: a few fetches of a throttled or
//! partial row next to a control fetch of about the same size, each target
//! with its fitted plateau line (from [`crate::plateau`], the one estimator)
//! and a mark where its initial burst ended. A policer's sawtooth and a
//! shaper's straight line look different here.

use anyhow::Result;
use plotters::prelude::*;

use super::plot::{self, BURST, CONTROL, PLATEAU, TARGET};
use super::svg_chart::{self, Axis, Frame};
use crate::analyze::base::units::fmt_bps;

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

/// The SVG of one bytes-over-time panel.
pub fn render(targets: &[Curve], control: Option<&Curve>, caption: &str) -> Result<String> {
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
        legend: Some(SeriesLabelPosition::UpperLeft),
        ..Frame::new(caption, 360, 70)
    };
    svg_chart::render(&frame, 0f64..t_max, 0f64..b_max, |chart| {
        if let Some(c) = control {
            let (t_end, b_end) = c.points.last().copied().unwrap_or_default();
            let mut pts = vec![(0.0, 0.0)];
            pts.extend(clip(&c.points, b_max));
            chart
                .draw_series(LineSeries::new(pts, CONTROL.stroke_width(2)))
                .map_err(plot::err)?
                .label(format!(
                    "control fetch: {} in {t_end:.2} s",
                    bytesize::ByteSize(b_end as u64)
                ))
                .legend(plot::line_key(CONTROL));
        }
        for (i, c) in targets.iter().enumerate() {
            let color = TARGET.mix(1.0 - 0.25 * i as f64);
            let s = chart
                .draw_series(LineSeries::new(c.points.clone(), color.stroke_width(2)))
                .map_err(plot::err)?;
            if i == 0 {
                s.label("target fetches").legend(plot::line_key(TARGET));
            }
            if let Some((t0, b0, slope)) = c.plateau {
                let t_end = c.points.last().map_or(t_max, |p| p.0);
                let b_end = (b0 + slope * (t_end - t0)).min(b_max);
                let t_end = if slope > 0.0 {
                    t0 + (b_end - b0) / slope
                } else {
                    t_end
                };
                let s = chart
                    .draw_series(LineSeries::new(
                        [(t0, b0), (t_end, b_end)],
                        PLATEAU.stroke_width(2),
                    ))
                    .map_err(plot::err)?;
                if i == 0 {
                    s.label(format!("plateau fit {}", fmt_bps(slope * 8.0)))
                        .legend(plot::line_key(PLATEAU));
                }
            }
            if let Some(p) = c.settle {
                let s = chart
                    .draw_series([Circle::new(p, 5, BURST.filled())])
                    .map_err(plot::err)?;
                if i == 0 {
                    s.label("burst ends")
                        .legend(|(x, y)| Circle::new((x + 8, y), 4, BURST.filled()));
                }
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

    #[test]
    fn clip_stops_at_the_top() {
        let c = clip(&[(0.0, 0.0), (1.0, 10.0), (2.0, 30.0)], 20.0);
        assert_eq!(c, vec![(0.0, 0.0), (1.0, 10.0), (1.5, 20.0)]);
    }
}
