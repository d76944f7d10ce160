//! The vocabulary every layer shares: content class, group, direction and
//! method, plus the machine's host name (the default vantage); what one
//! fetch should do ([`FetchSpec`], [`spec`]), what it did ([`FetchRecord`],
//! [`record`]), the certificate [`Pin`], and the one median ([`stats`]).
//!
//! This is the bottom layer: it imports nothing from the crate outside
//! itself, so `record` and `analyze` can name a class or read a row without
//! depending on `probe` or `config`, and `plan` and `analyze` share one
//! median. Each name has exactly one spelling table here: `as_str` writes
//! it, `FromStr` reads it back (case-insensitively, surrounding spaces
//! ignored), serde uses the same lowercase names (`Method`: uppercase).

pub mod headers;
pub mod pin;
pub mod record;
pub mod spec;
pub mod stats;
pub mod wire;

pub use headers::Headers;
pub use pin::Pin;
pub use record::{Capped, FetchRecord, Ms, Phase, Window};
pub use spec::{ConnectTo, FetchOptions, FetchSpec, IpFamily, Resolve};
pub use wire::{Hello, Wire};

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A string that is none of an enum's names; the message lists the valid ones.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {value:?} (valid: {})", valid.join(", "))]
pub struct UnknownName {
    /// What was being parsed (`class`, `group`, …).
    pub what: &'static str,
    pub value: String,
    pub valid: &'static [&'static str],
}

/// Declares an enum with its one name table: `ALL`, `NAMES`, `as_str`,
/// `Display` and a case-insensitive `FromStr`.
macro_rules! named_enum {
    (
        $(#[$m:meta])*
        pub enum $name:ident ($what:literal) {
            $($(#[$vm:meta])* $v:ident => $s:literal),+ $(,)?
        }
    ) => {
        $(#[$m])*
        pub enum $name {
            $($(#[$vm])* $v),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$v),+];
            /// The written names, in the order of [`Self::ALL`].
            pub const NAMES: &'static [&'static str] = &[$($s),+];

            /// The name used in campaign files and CSV.
            pub fn as_str(&self) -> &'static str {
                match self {
                    $($name::$v => $s),+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownName;

            fn from_str(s: &str) -> Result<$name, UnknownName> {
                let t = s.trim();
                $(
                    if t.eq_ignore_ascii_case($s) {
                        return Ok($name::$v);
                    }
                )+
                Err(UnknownName {
                    what: $what,
                    value: s.to_string(),
                    valid: Self::NAMES,
                })
            }
        }
    };
}

named_enum! {
    /// Content class of a URL, used to pick the controls it is compared with.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
    #[serde(rename_all = "lowercase")]
    pub enum Class ("class") {
        Text => "text",
        Image => "image",
        Video => "video",
        Audio => "audio",
        Other => "other",
    }
}

named_enum! {
    /// Whether a URL is suspected (target) or a reference (control).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
    #[serde(rename_all = "lowercase")]
    pub enum Group ("group") {
        Target => "target",
        Control => "control",
    }
}

named_enum! {
    /// Which way a fetch moves its payload: `down` (a GET, judged by the body
    /// bytes received) or `up` (a POST, judged by the upload bytes the peer
    /// acknowledged). Also the direction of a timeline window.
    #[derive(
        Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
    )]
    #[serde(rename_all = "lowercase")]
    pub enum Direction ("direction") {
        #[default]
        Down => "down",
        Up => "up",
    }
}

named_enum! {
    /// The HTTP method of a fetch.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
    #[serde(rename_all = "UPPERCASE")]
    pub enum Method ("method") {
        Get => "GET",
        Post => "POST",
    }
}

impl Method {
    /// The direction this method's payload moves: a POST uploads.
    pub fn direction(&self) -> Direction {
        match self {
            Method::Get => Direction::Down,
            Method::Post => Direction::Up,
        }
    }
}

named_enum! {
    /// The transport a fetch ran over: TCP (+TLS, HTTP/1.1 or h2) or QUIC
    /// (HTTP/3). Series, control pools and verdicts are kept apart by it:
    /// one name can be policed to two rates over the two transports.
    #[derive(
        Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
    )]
    #[serde(rename_all = "lowercase")]
    pub enum Transport ("transport") {
        #[default]
        Tcp => "tcp",
        Quic => "quic",
    }
}

/// The machine's host name (the default `vantage`), or `"unknown"`.
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for `buf.len()` bytes; gethostname writes at
    // most that many and we stop at the first NUL (or the end if truncated).
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast::<libc::c_char>(), buf.len()) };
    if rc != 0 {
        return "unknown".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let h = String::from_utf8_lossy(&buf[..end]).trim().to_string();
    if h.is_empty() {
        "unknown".into()
    } else {
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_parse_case_insensitively() {
        for c in Class::ALL {
            assert_eq!(c.as_str().parse::<Class>(), Ok(*c));
            assert_eq!(c.as_str().to_uppercase().parse::<Class>(), Ok(*c));
        }
        assert_eq!("Image".parse::<Class>(), Ok(Class::Image));
        assert_eq!(" IMAGE ".parse::<Class>(), Ok(Class::Image));
        assert_eq!("Control".parse::<Group>(), Ok(Group::Control));
        assert_eq!("UP".parse::<Direction>(), Ok(Direction::Up));
        assert_eq!("post".parse::<Method>(), Ok(Method::Post));
        assert_eq!(Method::Post.as_str(), "POST");
        assert_eq!(Direction::default(), Direction::Down);
        assert_eq!(Method::Post.direction(), Direction::Up);
        assert_eq!("QUIC".parse::<Transport>(), Ok(Transport::Quic));
        assert_eq!(Transport::default(), Transport::Tcp);
    }

    #[test]
    fn unknown_names_list_the_valid_ones() {
        let e = "picture".parse::<Class>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown class \"picture\" (valid: text, image, video, audio, other)"
        );
        let e = "PUT".parse::<Method>().unwrap_err();
        assert_eq!(e.to_string(), "unknown method \"PUT\" (valid: GET, POST)");
        assert!("sideways"
            .parse::<Direction>()
            .unwrap_err()
            .to_string()
            .contains("down, up"));
        assert!("".parse::<Group>().is_err());
    }

    #[test]
    fn serde_names_match_as_str() {
        for c in Class::ALL {
            assert_eq!(serde_json::to_string(c).unwrap(), format!("\"{c}\""));
        }
        for d in Direction::ALL {
            assert_eq!(serde_json::to_string(d).unwrap(), format!("\"{d}\""));
        }
        for m in Method::ALL {
            assert_eq!(serde_json::to_string(m).unwrap(), format!("\"{m}\""));
        }
        for g in Group::ALL {
            assert_eq!(serde_json::to_string(g).unwrap(), format!("\"{g}\""));
        }
    }
}
