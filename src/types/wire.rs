//! How one fetch's ClientHello goes on the wire: the A/B `variant`.
//!
//! One spelling table: `as_str` writes the name used in `evasion = [...]`,
//! `fetch --variant` and the `variant` column; `FromStr` reads it back.
//! What each sends is in `docs/reflector.md`; `probe::split` does it.

use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};

/// A ClientHello variant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Wire {
    /// The name as written, the hello in one write.
    #[default]
    Plain,
    /// Two TCP segments, cut in the middle of the name.
    SplitHello,
    /// Two TCP segments, the first of N bytes (`split:N`).
    SplitAt(u16),
    /// Two TCP segments, cut just before the name (`split:sni`).
    SplitSni,
    /// The hello in two TLS records, cut in the name, in one segment.
    TlsRecords,
    /// Two segments cut in the name, the first sent with a TTL too low to
    /// reach the server (its retransmission arrives after the second).
    Disorder,
    /// One urgent (out-of-band) byte before the hello.
    Oob,
    /// `name.` in SNI and Host (reflector only).
    TrailingDot,
    /// `NAME` in SNI and Host.
    UpperCase,
    /// No server_name extension; Host is the name.
    NoSni,
    /// The hello grown past 1,500 bytes by a padding extension (reflector only).
    Pad,
    /// A ChangeCipherSpec record before the hello (reflector only).
    CcsFirst,
    /// A 128-byte non-TLS first packet, then the hello (reflector only).
    JunkFirst,
    /// The `pq` hello ([`Hello::Pq`]): a real X25519MLKEM768 key share,
    /// so the hello spans two segments; any TLS 1.3 server completes it.
    Pq,
}

/// Every fixed name (`split:N` besides), for messages and the sentence order;
/// `plain` first, because `config::reflector::VARIANTS` is the rest.
pub const WIRE_NAMES: &[&str] = &[
    "plain",
    "split-hello",
    "split:N",
    "split:sni",
    "tls-records",
    "disorder",
    "oob",
    "trailing-dot",
    "upper-case",
    "no-sni",
    "pad",
    "ccs-first",
    "junk-first",
    "pq",
];

impl Wire {
    pub fn is_plain(&self) -> bool {
        *self == Wire::Plain
    }

    /// Whether only `slowlane serve` can complete the handshake: the probe
    /// edits the hello on the wire and the reflector undoes the edit before
    /// its TLS stack reads it (both ends then hash the same transcript).
    pub fn needs_reflector(&self) -> bool {
        matches!(
            self,
            Wire::TrailingDot | Wire::Pad | Wire::CcsFirst | Wire::JunkFirst
        )
    }

    /// Whether the hello leaves in two writes with a pause between them.
    pub fn is_split(&self) -> bool {
        matches!(
            self,
            Wire::SplitHello | Wire::SplitAt(_) | Wire::SplitSni | Wire::Disorder | Wire::JunkFirst
        )
    }

    /// The (SNI, Host) a fetch of `name` sends (`""` SNI: none).
    pub fn names(&self, name: &str) -> (String, String) {
        match self {
            Wire::TrailingDot => (format!("{name}."), format!("{name}.")),
            Wire::UpperCase => (name.to_ascii_uppercase(), name.to_ascii_uppercase()),
            Wire::NoSni => (String::new(), name.to_string()),
            _ => (name.to_string(), name.to_string()),
        }
    }

    pub fn as_str(&self) -> String {
        match self {
            Wire::Plain => "plain".into(),
            Wire::SplitHello => "split-hello".into(),
            Wire::SplitAt(n) => format!("split:{n}"),
            Wire::SplitSni => "split:sni".into(),
            Wire::TlsRecords => "tls-records".into(),
            Wire::Disorder => "disorder".into(),
            Wire::Oob => "oob".into(),
            Wire::TrailingDot => "trailing-dot".into(),
            Wire::UpperCase => "upper-case".into(),
            Wire::NoSni => "no-sni".into(),
            Wire::Pad => "pad".into(),
            Wire::CcsFirst => "ccs-first".into(),
            Wire::JunkFirst => "junk-first".into(),
            Wire::Pq => "pq".into(),
        }
    }
}

/// Which key shares the ClientHello offers: per-URL `hello`, `fetch
/// --hello`. `classic` is rustls's own hello (X25519 first); `pq` puts the
/// hybrid post-quantum group X25519MLKEM768 first (`probe::pq`), so the
/// hello carries a 1,216-byte share and the X25519 one and no longer fits
/// one 1,460-byte segment. The `pq` variant is this hello.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Hello {
    #[default]
    Classic,
    Pq,
}

impl Hello {
    pub const NAMES: &'static [&'static str] = &["classic", "pq"];

    pub fn is_classic(&self) -> bool {
        *self == Hello::Classic
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Hello::Classic => "classic",
            Hello::Pq => "pq",
        }
    }
}

impl FromStr for Hello {
    type Err = String;

    fn from_str(s: &str) -> Result<Hello, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "classic" => Ok(Hello::Classic),
            "pq" => Ok(Hello::Pq),
            _ => Err(format!(
                "unknown hello {s:?} (valid: {})",
                Hello::NAMES.join(", ")
            )),
        }
    }
}

impl Serialize for Hello {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl fmt::Display for Wire {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_str())
    }
}

impl FromStr for Wire {
    type Err = String;

    fn from_str(s: &str) -> Result<Wire, String> {
        let s = s.trim().to_ascii_lowercase();
        let w = match s.as_str() {
            "plain" => Wire::Plain,
            "split-hello" => Wire::SplitHello,
            "split:sni" => Wire::SplitSni,
            "tls-records" => Wire::TlsRecords,
            "disorder" => Wire::Disorder,
            "oob" => Wire::Oob,
            "trailing-dot" => Wire::TrailingDot,
            "upper-case" => Wire::UpperCase,
            "no-sni" => Wire::NoSni,
            "pad" => Wire::Pad,
            "ccs-first" => Wire::CcsFirst,
            "junk-first" => Wire::JunkFirst,
            "pq" => Wire::Pq,
            _ => match s.strip_prefix("split:").map(str::parse::<u16>) {
                Some(Ok(n)) if (1..=1024).contains(&n) => Wire::SplitAt(n),
                Some(_) => {
                    return Err(format!(
                        "bad variant {s:?}: split:N takes N from 1 to 1024 (or split:sni)"
                    ))
                }
                None => {
                    return Err(format!(
                        "unknown variant {s:?} (valid: {})",
                        WIRE_NAMES.join(", ")
                    ))
                }
            },
        };
        Ok(w)
    }
}

impl Serialize for Wire {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_bad_ones_say_why() {
        for n in WIRE_NAMES.iter().filter(|n| **n != "split:N") {
            assert_eq!(n.parse::<Wire>().unwrap().as_str(), *n);
        }
        assert_eq!("split:2".parse::<Wire>(), Ok(Wire::SplitAt(2)));
        assert_eq!(" Split:SNI ".parse::<Wire>(), Ok(Wire::SplitSni));
        assert!("split:0".parse::<Wire>().unwrap_err().contains("1 to 1024"));
        assert!("split:x".parse::<Wire>().is_err());
        assert!("nope".parse::<Wire>().unwrap_err().contains("junk-first"));
        assert!(Wire::Pad.needs_reflector() && !Wire::TlsRecords.needs_reflector());
        // The pq hello is a real key share: any TLS 1.3 server takes it.
        assert!(!Wire::Pq.needs_reflector());
        assert_eq!(" PQ ".parse::<Hello>(), Ok(Hello::Pq));
        assert_eq!("classic".parse::<Hello>(), Ok(Hello::Classic));
        assert!("kyber"
            .parse::<Hello>()
            .unwrap_err()
            .contains("classic, pq"));
        assert_eq!(Wire::NoSni.names("t.co"), (String::new(), "t.co".into()));
    }
}
