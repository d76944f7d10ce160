//! How verdict columns are written (the same for CSV and JSON): rates as
//! integer bit/s, ratios and shares with 6 significant digits, p- and
//! q-values in scientific notation with 4 significant digits — never a
//! 250-character decimal — and `<1e-300` below the float range.

use serde::Serializer;

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
        Some(x) => s.serialize_some(&round_sig(x, 6)),
        None => s.serialize_none(),
    }
}

/// A value in its metric's unit (bit/s or ms): 6 significant digits, and
/// whole numbers written as integers (`34377400`, not `34377400.0`).
pub fn value<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match v.filter(|x| x.is_finite()) {
        Some(x) => {
            let r = round_sig(x, 6);
            if r.fract() == 0.0 && r.abs() < 9e15 {
                s.serialize_some(&(r as i64))
            } else {
                s.serialize_some(&r)
            }
        }
        None => s.serialize_none(),
    }
}

/// `x` rounded to `digits` significant digits. Dividing the rounded integer
/// by a power of ten gives the double nearest the decimal, so it prints short.
pub fn round_sig(x: f64, digits: i32) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let e = digits - 1 - x.abs().log10().floor() as i32;
    if !(-300..=300).contains(&e) {
        return x;
    }
    if e >= 0 {
        let m = 10f64.powi(e);
        (x * m).round() / m
    } else {
        let m = 10f64.powi(-e);
        (x / m).round() * m
    }
}

/// `1.234e-5`, `5.000e-1`; `<1e-300` when the value underflowed.
pub fn fmt_pval(p: f64) -> String {
    if p < 1e-300 {
        "<1e-300".into()
    } else {
        let mut s = String::with_capacity(12);
        let _ = crate::analyze::stats::decimal::write_exp(&mut s, p, 3);
        s
    }
}

pub fn pval<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match v.filter(|x| !x.is_nan()) {
        Some(x) => s.serialize_some(&fmt_pval(x)),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn significant_digits_print_short() {
        assert_eq!(round_sig(0.123456789, 6).to_string(), "0.123457");
        assert_eq!(round_sig(1234567.0, 6).to_string(), "1234570");
        assert_eq!(round_sig(0.000_012_345_678, 6).to_string(), "0.0000123457");
        assert_eq!(fmt_pval(0.0), "<1e-300");
        assert_eq!(fmt_pval(0.003968), "3.968e-3");
    }
}
