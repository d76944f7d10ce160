//! How verdict columns are written (the same for CSV and JSON): rates as
//! integer bit/s, ratios and shares with 6 significant digits, p- and
//! q-values in scientific notation with 4 significant digits — never a
//! 250-character decimal — and `<1e-300` below the float range.

use serde::Serializer;

use crate::record::Direction;

pub fn direction<S: Serializer>(d: &Direction, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(super::dir_str(*d))
}

pub fn group<S: Serializer>(control: &bool, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(if *control { "control" } else { "target" })
}

pub fn rate<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match v.filter(|x| x.is_finite()) {
        Some(x) => s.serialize_some(&(x.round().max(0.0) as u64)),
        None => s.serialize_none(),
    }
}

pub fn sig<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match v.filter(|x| x.is_finite()) {
        Some(x) => {
            let r: f64 = format!("{x:.5e}").parse().unwrap_or(x);
            s.serialize_some(&r)
        }
        None => s.serialize_none(),
    }
}

/// `1.234e-5`, `5.000e-1`; `<1e-300` when the value underflowed.
pub fn fmt_pval(p: f64) -> String {
    if p < 1e-300 {
        "<1e-300".into()
    } else {
        format!("{p:.3e}")
    }
}

pub fn pval<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match v.filter(|x| !x.is_nan()) {
        Some(x) => s.serialize_some(&fmt_pval(x)),
        None => s.serialize_none(),
    }
}
