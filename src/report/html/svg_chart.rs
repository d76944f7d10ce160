//! The frame every report panel shares: a white SVG canvas, the caption,
//! the label areas, the mesh with its axis texts, and the legend box. The
//! panels differ only in their ranges, axis texts and what they draw, so one
//! builder keeps them alike (a change of font or margin is made once).

use anyhow::Result;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

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
    /// The legend's entries (empty: no legend). They are laid out in rows
    /// in a band of their own between the caption and the plot, so the
    /// legend never covers a point (inside the plot it hid the start of the
    /// target curves and the rounds' lines).
    pub legend: Vec<Entry>,
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
            legend: Vec::new(),
        }
    }
}

/// How a legend entry is keyed: a short line or a dot in the colour.
#[derive(Debug, Clone, Copy)]
pub enum Key {
    Line(RGBColor),
    Dot(RGBColor),
}

/// One legend entry.
#[derive(Debug, Clone)]
pub struct Entry {
    pub key: Key,
    pub label: String,
}

impl Entry {
    pub fn line(color: RGBColor, label: impl Into<String>) -> Entry {
        Entry {
            key: Key::Line(color),
            label: label.into(),
        }
    }
    pub fn dot(color: RGBColor, label: impl Into<String>) -> Entry {
        Entry {
            key: Key::Dot(color),
            label: label.into(),
        }
    }
}

/// Legend geometry: 12 px text, an entry is its key (24 px), its text and a
/// gap; rows of 16 px. Text width is estimated at 6 px a character, a bit
/// wide for sans-serif at 12 px, so entries never touch.
const ROW_H: i32 = 16;
const KEY_W: i32 = 24;
const GAP: i32 = 18;
const CHAR_W: i32 = 6;

/// Where each entry goes (x, row) in a band `width` px wide, and the rows.
pub fn legend_layout(entries: &[Entry], width: i32) -> (Vec<(i32, i32)>, i32) {
    let (mut x, mut row) = (0, 0);
    let mut at = Vec::with_capacity(entries.len());
    for e in entries {
        let w = KEY_W + CHAR_W * e.label.chars().count() as i32;
        if x > 0 && x + w > width {
            x = 0;
            row += 1;
        }
        at.push((x, row));
        x += w + GAP;
    }
    (at, if entries.is_empty() { 0 } else { row + 1 })
}

/// The chart a panel draws its series on.
pub type Chart<'a, 'b, X, Y> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<X, Y>>;

/// Render one panel: the caption, the legend's band, the frame over the
/// ranges `x` and `y`, then `draw`'s series; the SVG text. The canvas grows
/// by the legend's band.
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
        let left = 10 + f.y_area as i32;
        let (at, rows) = legend_layout(&f.legend, f.size.0 as i32 - left - 10);
        let band = if rows > 0 { rows * ROW_H + 6 } else { 0 };
        let size = (f.size.0, f.size.1 + band as u32);
        let root = SVGBackend::with_string(&mut out, size).into_drawing_area();
        root.fill(&WHITE).map_err(plot::err)?;
        let body = root
            .titled(f.caption, ("sans-serif", 16))
            .map_err(plot::err)?;
        let (head, body) = body.split_vertically(band);
        let font = ("sans-serif", 12).into_font();
        for (e, &(x, row)) in f.legend.iter().zip(&at) {
            let (x, y) = (left + x, row * ROW_H + ROW_H / 2 + 4);
            match e.key {
                Key::Line(c) => head
                    .draw(&PathElement::new([(x, y), (x + 16, y)], c.stroke_width(2)))
                    .map_err(plot::err)?,
                Key::Dot(c) => head
                    .draw(&Circle::new((x + 8, y), 4, c.filled()))
                    .map_err(plot::err)?,
            }
            let style = font.color(&BLACK).pos(Pos::new(HPos::Left, VPos::Center));
            head.draw(&Text::new(e.label.clone(), (x + KEY_W, y), style))
                .map_err(plot::err)?;
        }
        let mut chart = ChartBuilder::on(&body)
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
        root.present().map_err(plot::err)?;
    }
    Ok(out)
}
