//! Bytes over time inside single fetches: a few fetches of a throttled or
//! partial row next to a control fetch of about the same size, each target
//! with its fitted plateau line (from [`crate::plateau`], the one estimator)
//! and a mark where its initial burst ended. A policer's sawtooth and a
//! shaper's straight line look different here.

use anyhow::Result;
use plotters::prelude::*;

use super::plot::{self, BURST, CONTROL, PLATEAU, TARGET};
use crate::analyze::output::fmt_bps;

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
    let t_max = plot::lin_max(curves().flat_map(|c| c.points.iter().map(|p| p.0)));
    let b_max = plot::lin_max(curves().flat_map(|c| c.points.iter().map(|p| p.1)));
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (640, 360)).into_drawing_area();
        root.fill(&WHITE).map_err(plot::err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(caption, ("sans-serif", 16))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(0f64..t_max, 0f64..b_max)
            .map_err(plot::err)?;
        chart
            .configure_mesh()
            .x_desc("seconds since the request")
            .y_desc("cumulative bytes")
            .y_label_formatter(&|y| bytesize::ByteSize(*y as u64).to_string())
            .draw()
            .map_err(plot::err)?;
        if let Some(c) = control {
            chart
                .draw_series(LineSeries::new(c.points.clone(), CONTROL.stroke_width(2)))
                .map_err(plot::err)?
                .label("control fetch")
                .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], CONTROL.stroke_width(2)));
        }
        for (i, c) in targets.iter().enumerate() {
            let color = TARGET.mix(1.0 - 0.25 * i as f64);
            let s = chart
                .draw_series(LineSeries::new(c.points.clone(), color.stroke_width(2)))
                .map_err(plot::err)?;
            if i == 0 {
                s.label("target fetches").legend(|(x, y)| {
                    PathElement::new([(x, y), (x + 16, y)], TARGET.stroke_width(2))
                });
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
                        .legend(|(x, y)| {
                            PathElement::new([(x, y), (x + 16, y)], PLATEAU.stroke_width(2))
                        });
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
        plot::legend(&mut chart)?;
        root.present().map_err(plot::err)?;
    }
    Ok(out)
}
