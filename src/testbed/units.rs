//! Rates and sizes as written in scenario files.
//!
//! Rates are bit/s because that is how throttling is reported (130 kbit/s),
//! sizes are bytes because that is how bursts and freezes are observed (16 KB).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer};

/// A rate in bits per second. TOML: an integer (`131072`) or a string with a
/// unit (`"128kbit"`, `"1Mbit"`, `"1mbps"`; k = 1000, Ki = 1024).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Rate(pub u64);

impl Rate {
    pub fn bytes_per_sec(self) -> f64 {
        self.0 as f64 / 8.0
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} bit/s", self.0)
    }
}

impl FromStr for Rate {
    type Err = String;
    fn from_str(s: &str) -> Result<Rate, String> {
        let t = s.trim().to_ascii_lowercase();
        let t = t
            .strip_suffix("bit/s")
            .or_else(|| t.strip_suffix("bps"))
            .or_else(|| t.strip_suffix("bit"))
            .unwrap_or(&t)
            .trim();
        let (num, mult) = match t.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
            None => (t, 1.0),
            Some((i, _)) => {
                let mult = match &t[i..] {
                    "k" => 1e3,
                    "ki" => 1024.0,
                    "m" => 1e6,
                    "mi" => 1024.0 * 1024.0,
                    "g" => 1e9,
                    "gi" => 1024.0 * 1024.0 * 1024.0,
                    u => return Err(format!("unknown rate unit {u:?} in {s:?}")),
                };
                (t[..i].trim(), mult)
            }
        };
        let v: f64 = num.parse().map_err(|_| format!("bad rate {s:?}"))?;
        if v.is_nan() || v <= 0.0 || !(v * mult).is_finite() {
            return Err(format!("rate must be positive: {s:?}"));
        }
        Ok(Rate((v * mult).round() as u64))
    }
}

/// A byte count. TOML: an integer or a string like `"16KiB"`, `"2MB"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Size(pub u64);

impl FromStr for Size {
    type Err = String;
    fn from_str(s: &str) -> Result<Size, String> {
        s.trim()
            .parse::<bytesize::ByteSize>()
            .map(|b| Size(b.as_u64()))
            .map_err(|e| format!("bad size {s:?}: {e}"))
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum NumOrStr {
    Num(u64),
    Str(String),
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Rate, D::Error> {
        match NumOrStr::deserialize(d)? {
            NumOrStr::Num(0) => Err(serde::de::Error::custom("rate must be positive")),
            NumOrStr::Num(n) => Ok(Rate(n)),
            NumOrStr::Str(s) => s.parse().map_err(serde::de::Error::custom),
        }
    }
}

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Size, D::Error> {
        match NumOrStr::deserialize(d)? {
            NumOrStr::Num(n) => Ok(Size(n)),
            NumOrStr::Str(s) => s.parse().map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse() {
        assert_eq!("131072".parse::<Rate>().unwrap(), Rate(131072));
        assert_eq!("128kbit".parse::<Rate>().unwrap(), Rate(128_000));
        assert_eq!("128Kibit".parse::<Rate>().unwrap(), Rate(131072));
        assert_eq!("1Mbit/s".parse::<Rate>().unwrap(), Rate(1_000_000));
        assert!("0".parse::<Rate>().is_err());
        assert!("fast".parse::<Rate>().is_err());
    }

    #[test]
    fn sizes_parse() {
        assert_eq!("16KiB".parse::<Size>().unwrap(), Size(16384));
        assert_eq!("2MB".parse::<Size>().unwrap(), Size(2_000_000));
    }
}
