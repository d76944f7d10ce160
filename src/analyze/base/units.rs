//! The units reasons and tables write: rates, durations, ratios and
//! p-values, formatted by exact decimal arithmetic ([`crate::analyze::stats::decimal`]).

use crate::analyze::stats::decimal::{write_exp, write_fixed};

/// A rate with a unit: `109 kbit/s`, `84.0 Mbit/s`.
pub fn fmt_bps(bps: f64) -> String {
    Bps(bps).to_string()
}

/// A duration given in ms: `120 ms`, `2.41 s`.
pub fn fmt_ms(ms: f64) -> String {
    Ms(ms).to_string()
}

/// A ratio with two significant digits (`0.0013`, `0.52`, `1.03`).
pub fn fmt_ratio(r: f64) -> String {
    Ratio(r).to_string()
}

/// A p-value: `3e-6`, `0.042`.
pub fn fmt_p(p: f64) -> String {
    P(p).to_string()
}

/// Write through `f`, padded when the caller asked for a width.
fn padded(
    f: &mut std::fmt::Formatter<'_>,
    write: impl Fn(&mut dyn std::fmt::Write) -> std::fmt::Result,
) -> std::fmt::Result {
    if f.width().is_none() {
        write(f)
    } else {
        let mut s = String::new();
        write(&mut s)?;
        f.pad(&s)
    }
}

/// [`fmt_bps`] as a `Display`: reasons write it straight into their buffer.
pub struct Bps(pub f64);

impl std::fmt::Display for Bps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let bps = self.0;
        if !bps.is_finite() {
            return f.pad("?");
        }
        let (v, u) = if bps >= 1e9 {
            (bps / 1e9, "Gbit/s")
        } else if bps >= 1e6 {
            (bps / 1e6, "Mbit/s")
        } else if bps >= 1e3 {
            (bps / 1e3, "kbit/s")
        } else {
            (bps, "bit/s")
        };
        let digits = if v >= 100.0 {
            0
        } else if v >= 10.0 {
            1
        } else {
            2
        };
        padded(f, |w| {
            write_fixed(w, v, digits)?;
            w.write_char(' ')?;
            w.write_str(u)
        })
    }
}

/// [`fmt_ms`] as a `Display`.
pub struct Ms(pub f64);

impl std::fmt::Display for Ms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = self.0;
        if !ms.is_finite() {
            f.pad("?")
        } else if ms >= 1000.0 {
            padded(f, |w| {
                write_fixed(w, ms / 1000.0, 2)?;
                w.write_str(" s")
            })
        } else {
            let d = if ms >= 10.0 { 0 } else { 2 };
            padded(f, |w| {
                write_fixed(w, ms, d)?;
                w.write_str(" ms")
            })
        }
    }
}

/// [`fmt_ratio`] as a `Display`.
pub struct Ratio(pub f64);

impl std::fmt::Display for Ratio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let r = self.0;
        if !r.is_finite() {
            return f.pad(&r.to_string());
        }
        if r == 0.0 {
            return f.pad("0");
        }
        let decimals = (1 - r.abs().log10().floor() as i32).clamp(2, 12) as usize;
        padded(f, |w| write_fixed(w, r, decimals))
    }
}

/// [`fmt_p`] as a `Display`.
pub struct P(pub f64);

impl std::fmt::Display for P {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let p = self.0;
        if p >= 0.001 {
            padded(f, |w| write_fixed(w, p, 3))
        } else {
            padded(f, |w| write_exp(w, p, 0))
        }
    }
}
