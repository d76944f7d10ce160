//! What a person reads: the block for one `fetch`, the per-class table after
//! a `run`. Machine-readable output is the CSV written by `record`.

pub mod classes;
pub mod fetch;

/// Human-readable bit rate ("109.4 kbit/s").
pub fn fmt_bps(bps: f64) -> String {
    let (v, unit) = if bps >= 1e9 {
        (bps / 1e9, "Gbit/s")
    } else if bps >= 1e6 {
        (bps / 1e6, "Mbit/s")
    } else if bps >= 1e3 {
        (bps / 1e3, "kbit/s")
    } else {
        (bps, "bit/s")
    };
    format!("{v:.1} {unit}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn rates_read_well() {
        assert_eq!(super::fmt_bps(131_072.0), "131.1 kbit/s");
        assert_eq!(super::fmt_bps(84e6), "84.0 Mbit/s");
        assert_eq!(super::fmt_bps(12.0), "12.0 bit/s");
    }
}
