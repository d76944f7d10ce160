//! What the plots share: the colours (one meaning each across the report),
//! axis ranges, and the error conversion (the legend is drawn by
//! [`super::svg_chart`]).

use plotters::prelude::*;

/// Target fetches (red).
pub const TARGET: RGBColor = RGBColor(0xD6, 0x27, 0x28);
/// Control fetches (blue).
pub const CONTROL: RGBColor = RGBColor(0x1F, 0x77, 0xB4);
/// A fitted plateau (purple).
pub const PLATEAU: RGBColor = RGBColor(0x94, 0x67, 0xBD);
/// The end of the initial burst (orange).
pub const BURST: RGBColor = RGBColor(0xFF, 0x7F, 0x0E);

/// Plotters' errors carry the backend's error type; the report only needs
/// their text.
pub fn err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow::anyhow!("drawing failed: {e:?}")
}

/// A log axis range covering the positive finite values, padded by a
/// quarter decade; (`lo`, `hi`) when there is none.
pub fn log_range(values: impl Iterator<Item = f64>, lo: f64, hi: f64) -> (f64, f64) {
    let (mut a, mut b) = (f64::INFINITY, 0f64);
    for v in values.filter(|v| v.is_finite() && *v > 0.0) {
        a = a.min(v);
        b = b.max(v);
    }
    if a > b {
        return (lo, hi);
    }
    let pad = 10f64.powf(0.25);
    let (a, b) = (a / pad, b * pad);
    if b / a < 10.0 {
        let mid = (a * b).sqrt();
        return (mid / 10f64.sqrt(), mid * 10f64.sqrt());
    }
    (a, b)
}

/// A linear range from 0 to a bit above the largest finite value.
pub fn lin_max(values: impl Iterator<Item = f64>) -> f64 {
    let m = values.filter(|v| v.is_finite()).fold(0f64, f64::max);
    if m > 0.0 {
        m * 1.05
    } else {
        1.0
    }
}
