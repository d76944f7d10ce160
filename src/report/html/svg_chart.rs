//! The frame every report panel shares: a white SVG canvas, the caption,
//! the label areas, the mesh with its axis texts, and the legend box. The
//! panels differ only in their ranges, axis texts and what they draw, so one
//! builder keeps them alike (a change of font or margin is made once).

use anyhow::Result;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;

use super::plot;

/// One axis of a panel (every panel's values are f64: bit/s, seconds,
/// bytes, ms, shares or rounds).
#[derive(Default)]
pub struct Axis<'a> {
    /// The axis title (None: no title).
    pub desc: Option<&'a str>,
    /// How many tick labels (None: plotters' default).
    pub labels: Option<usize>,
    /// How a tick value is written (None: plotters' default).
    pub format: Option<&'a dyn Fn(&f64) -> String>,
}

/// What a panel's frame looks like.
pub struct Frame<'a> {
    pub caption: &'a str,
    /// Canvas size in pixels (width, height).
    pub size: (u32, u32),
    /// Width of the y label area: room for the longest tick label.
    pub y_area: u32,
    pub x: Axis<'a>,
    pub y: Axis<'a>,
    /// Whether horizontal grid lines are drawn.
    pub y_mesh: bool,
    /// Where the legend box goes (None: no legend).
    pub legend: Option<SeriesLabelPosition>,
}

impl<'a> Frame<'a> {
    /// A 640 px wide frame with grid lines both ways and no legend.
    pub fn new(caption: &'a str, height: u32, y_area: u32) -> Frame<'a> {
        Frame {
            caption,
            size: (640, height),
            y_area,
            x: Axis::default(),
            y: Axis::default(),
            y_mesh: true,
            legend: None,
        }
    }
}

/// The chart a panel draws its series on.
pub type Chart<'a, 'b, X, Y> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<X, Y>>;

/// Render one panel: the frame over the ranges `x` and `y`, then `draw`'s
/// series, then the legend; the SVG text.
pub fn render<X, Y>(
    f: &Frame,
    x: X,
    y: Y,
    draw: impl FnOnce(&mut Chart<'_, '_, X::CoordDescType, Y::CoordDescType>) -> Result<()>,
) -> Result<String>
where
    X: AsRangedCoord<Value = f64>,
    Y: AsRangedCoord<Value = f64>,
    X::CoordDescType: ValueFormatter<f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, f.size).into_drawing_area();
        root.fill(&WHITE).map_err(plot::err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(f.caption, ("sans-serif", 16))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(f.y_area)
            .build_cartesian_2d(x, y)
            .map_err(plot::err)?;
        let mut mesh = chart.configure_mesh();
        if !f.y_mesh {
            mesh.disable_y_mesh();
        }
        if let Some(d) = f.x.desc {
            mesh.x_desc(d);
        }
        if let Some(d) = f.y.desc {
            mesh.y_desc(d);
        }
        if let Some(n) = f.x.labels {
            mesh.x_labels(n);
        }
        if let Some(n) = f.y.labels {
            mesh.y_labels(n);
        }
        if let Some(g) = f.x.format {
            mesh.x_label_formatter(g);
        }
        if let Some(g) = f.y.format {
            mesh.y_label_formatter(g);
        }
        mesh.draw().map_err(plot::err)?;
        draw(&mut chart)?;
        if let Some(pos) = &f.legend {
            plot::legend(&mut chart, pos.clone())?;
        }
        root.present().map_err(plot::err)?;
    }
    Ok(out)
}
