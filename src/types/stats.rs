//! The one median (and the percentile it is a case of), for every layer.
//!
//! Here rather than in `analyze::stats` because `plan` (below `analyze`)
//! and `plateau` need it too, and two definitions would let a plan's "median
//! earlier size" and the analyzer's median of the same fetches disagree.
//! The definition is linear interpolation, the "type 7" one R, NumPy and
//! DuckDB's `quantile_cont` use: for an even count the median is the mean
//! of the two middle values.

/// Percentile `q` in `[0, 1]` of an ascending slice, linear interpolation
/// (NaN when empty).
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        1 => sorted[0],
        n => interp(sorted, q.clamp(0.0, 1.0) * (n - 1) as f64),
    }
}

/// Median of an ascending slice (NaN when empty).
pub fn median(sorted: &[f64]) -> f64 {
    percentile(sorted, 0.5)
}

/// Median of the finite values (sorts a copy); `None` when there are none.
pub fn median_of(v: impl IntoIterator<Item = f64>) -> Option<f64> {
    let mut v: Vec<f64> = v.into_iter().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    sort(&mut v);
    Some(median(&v))
}

/// [`median`] of a non-empty unsorted buffer without sorting it (reorders
/// it; equal to `median` up to the last bit of rounding): linear time, for
/// the bootstrap's thousands of resamples.
pub fn select_median(buf: &mut [f64]) -> f64 {
    let n = buf.len();
    let mid = n / 2;
    let (lower, m, _) = buf.select_nth_unstable_by(mid, |a, b| a.total_cmp(b));
    let hi = *m;
    if n % 2 == 1 {
        hi
    } else {
        let lo = lower.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (lo + hi) / 2.0
    }
}

/// Value at fractional 0-based position `pos` of an ascending slice.
pub fn interp(sorted: &[f64], pos: f64) -> f64 {
    interp_by(sorted.len(), |i| sorted[i], pos)
}

/// [`interp`] of the ascending sequence of `n` values `at(0..n)` (a pool
/// kept as distinct values with repeat counts is read by position).
pub fn interp_by(n: usize, at: impl Fn(usize) -> f64, pos: f64) -> f64 {
    let pos = pos.clamp(0.0, (n - 1) as f64);
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    let f = pos - lo as f64;
    if f == 0.0 {
        at(lo)
    } else {
        at(lo) + (at(hi) - at(lo)) * f
    }
}

/// Sort a vector of finite floats ascending.
pub fn sort(v: &mut [f64]) {
    v.sort_unstable_by(|a, b| a.total_cmp(b));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(median(&v), 2.5);
        assert_eq!(percentile(&v, 0.0), 1.0);
        assert_eq!(percentile(&v, 1.0), 4.0);
        assert!((percentile(&v, 0.25) - 1.75).abs() < 1e-12);
        assert!(median(&[]).is_nan());
        assert_eq!(median(&[7.0]), 7.0);
    }

    #[test]
    fn median_of_ignores_non_finite_values() {
        assert_eq!(median_of([3.0, f64::NAN, 1.0, 2.0]), Some(2.0));
        assert_eq!(median_of([4.0, 1.0, f64::INFINITY, 2.0, 3.0]), Some(2.5));
        assert_eq!(median_of([f64::NAN]), None);
        assert_eq!(median_of(std::iter::empty()), None);
    }

    #[test]
    fn select_median_is_the_median() {
        for v in [vec![5.0, 1.0, 4.0, 2.0], vec![3.0, 9.0, 1.0], vec![2.0]] {
            let mut s = v.clone();
            sort(&mut s);
            assert_eq!(select_median(&mut v.clone()), median(&s), "{v:?}");
        }
    }
}
