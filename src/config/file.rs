//! The campaign TOML as written, before validation.
//!
//! Values that need checking are kept as `Spanned` strings so validation errors
//! can name the line; serde's `deny_unknown_fields` catches misspelt keys (a typo
//! like `max_tme` silently falling back to a default would corrupt a campaign).
//! `#[serde(flatten)]` does not combine with `deny_unknown_fields`, so the
//! per-URL option keys are spliced into each table by a macro instead.

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use toml::Spanned;

/// A size as written: a TOML integer (bytes) or a string such as `"16MiB"`.
#[derive(Debug, Clone)]
pub enum RawSize {
    Bytes(i64),
    Text(String),
}

impl<'de> Deserialize<'de> for RawSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = RawSize;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a size: bytes as an integer, or a string like \"16MiB\"")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawSize, E> {
                Ok(RawSize::Bytes(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawSize, E> {
                Ok(RawSize::Bytes(i64::try_from(v).unwrap_or(i64::MAX)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawSize, E> {
                Ok(RawSize::Text(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// Declares a table struct that also accepts every per-URL option key, and a
/// `options()` accessor returning just those keys as [`RawOptions`].
macro_rules! with_options {
    ($(#[$m:meta])* pub struct $name:ident { $($(#[$fm:meta])* pub $f:ident : $t:ty,)* }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Default, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            $($(#[$fm])* pub $f: $t,)*
            pub max_time: Option<Spanned<String>>,
            pub max_bytes: Option<Spanned<RawSize>>,
            pub connect_timeout: Option<Spanned<String>>,
            pub tls_timeout: Option<Spanned<String>>,
            pub ttfb_timeout: Option<Spanned<String>>,
            pub window: Option<Spanned<String>>,
            pub alpn: Option<Spanned<Vec<String>>>,
            pub cacert: Option<Vec<Spanned<String>>>,
            pub insecure: Option<bool>,
            pub resolve: Option<Vec<Spanned<String>>>,
            pub connect_to: Option<Vec<Spanned<String>>>,
            pub headers: Option<Spanned<std::collections::BTreeMap<String, String>>>,
            pub ip_family: Option<Spanned<String>>,
            pub http: Option<Spanned<String>>,
            pub hello: Option<Spanned<String>>,
        }

        impl $name {
            /// Just the per-URL option keys of this table.
            #[allow(dead_code)]
            pub fn options(&self) -> RawOptions {
                RawOptions {
                    max_time: self.max_time.clone(),
                    max_bytes: self.max_bytes.clone(),
                    connect_timeout: self.connect_timeout.clone(),
                    tls_timeout: self.tls_timeout.clone(),
                    ttfb_timeout: self.ttfb_timeout.clone(),
                    window: self.window.clone(),
                    alpn: self.alpn.clone(),
                    cacert: self.cacert.clone(),
                    insecure: self.insecure,
                    resolve: self.resolve.clone(),
                    connect_to: self.connect_to.clone(),
                    headers: self.headers.clone(),
                    ip_family: self.ip_family.clone(),
                    http: self.http.clone(),
                    hello: self.hello.clone(),
                }
            }
        }
    };
}

with_options! {
    /// `[defaults]`: the per-URL option keys only.
    pub struct RawOptions {}
}

with_options! {
    /// One `[[url]]` table.
    pub struct RawUrl {
        pub url: Option<Spanned<String>>,
        pub class: Option<Spanned<String>>,
        pub group: Option<Spanned<String>>,
        pub sni: Option<Spanned<String>>,
        pub host: Option<Spanned<String>>,
        pub method: Option<Spanned<String>>,
        pub upload: Option<Spanned<RawSize>>,
        pub label: Option<String>,
        /// Labels of control URLs to compare this target with.
        pub control: Option<Spanned<Vec<Spanned<String>>>>,
    }
}

with_options! {
    /// One `[[list]]` table: a Citizen Lab CSV plus what applies to its URLs.
    pub struct RawList {
        pub path: Option<Spanned<String>>,
        pub class: Option<Spanned<String>>,
        pub group: Option<Spanned<String>>,
    }
}

with_options! {
    /// One `[[reflector]]` table: a same-server SNI A/B test against a
    /// `slowlane serve` reflector (expanded by `config::reflector`).
    pub struct RawReflector {
        pub url: Option<Spanned<String>>,
        pub id: Option<Spanned<String>>,
        pub pin: Option<Spanned<String>>,
        pub names: Option<Spanned<Vec<Spanned<String>>>>,
        pub controls: Option<Spanned<Vec<Spanned<String>>>>,
        pub download: Option<Spanned<RawSize>>,
        pub upload: Option<Spanned<RawSize>>,
        pub class: Option<Spanned<String>>,
        pub evasion: Option<Spanned<Vec<Spanned<String>>>>,
        /// `slowlane serve --token`: sent as `Authorization: Bearer …`.
        pub token: Option<Spanned<String>>,
        /// `["tcp", "quic"]`: the A/B over each transport.
        pub transport: Option<Spanned<Vec<Spanned<String>>>>,
    }
}

/// One `[[trigger]]` table: a `slowlane trigger` study the campaign runs
/// after its rounds (validated by `config::trigger`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTrigger {
    pub id: Option<Spanned<String>>,
    pub name: Option<Spanned<String>>,
    pub reflector: Option<Spanned<String>>,
    pub pin: Option<Spanned<String>>,
    pub token: Option<Spanned<String>>,
    pub controls: Option<Spanned<Vec<Spanned<String>>>>,
    pub size: Option<Spanned<RawSize>>,
    pub max_time: Option<Spanned<String>>,
    pub max_rounds: Option<Spanned<i64>>,
    pub gap: Option<Spanned<String>>,
}

/// The whole campaign file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCampaign {
    pub name: Option<Spanned<String>>,
    pub vantage: Option<Spanned<String>>,
    pub rounds: Option<Spanned<i64>>,
    pub duration: Option<Spanned<String>>,
    pub interval: Option<Spanned<String>>,
    pub jitter: Option<Spanned<String>>,
    /// `"decided"`: stop when every target row is decided (or the budget
    /// is spent); `"budget"` (the default): run the whole budget.
    pub until: Option<Spanned<String>>,
    /// Budget: no round starts once the run has moved this many body bytes.
    pub max_total_bytes: Option<Spanned<RawSize>>,
    pub concurrency: Option<Spanned<i64>>,
    pub seed: Option<Spanned<i64>>,
    pub out: Option<Spanned<String>>,
    pub defaults: Option<RawOptions>,
    #[serde(default)]
    pub url: Vec<Spanned<RawUrl>>,
    #[serde(default)]
    pub list: Vec<Spanned<RawList>>,
    #[serde(default)]
    pub reflector: Vec<Spanned<RawReflector>>,
    #[serde(default)]
    pub trigger: Vec<Spanned<RawTrigger>>,
}
