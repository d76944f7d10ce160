//! Per-URL options: validate one layer (`[defaults]`, a `[[list]]`, a
//! `[[url]]`) once, then stack the layers over [`FetchOptions::default`].
//!
//! Each layer is checked on its own, so a bad value in `[defaults]` is reported
//! even when every URL overrides it; a key set in a later layer replaces the
//! earlier value wholesale (lists such as `resolve` are not merged).

use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;

use super::bounds::{check_fetch_time, check_size, check_window};
use super::error::{ConfigError, Source};
use super::file::{RawOptions, RawSize};
use super::parse::{parse_connect_to, parse_duration, parse_resolve, parse_size};
use crate::types::{ConnectTo, FetchOptions, Headers, Hello, IpFamily, Resolve, Transport};

/// One validated layer of options; `None` means "not set here".
#[derive(Debug, Clone, Default)]
pub struct PartialOptions {
    pub max_time: Option<Duration>,
    pub max_bytes: Option<u64>,
    pub connect_timeout: Option<Duration>,
    pub tls_timeout: Option<Duration>,
    pub ttfb_timeout: Option<Duration>,
    pub window: Option<Duration>,
    pub alpn: Option<Vec<String>>,
    pub cacert: Option<Vec<PathBuf>>,
    pub insecure: Option<bool>,
    pub resolve: Option<Vec<Resolve>>,
    pub connect_to: Option<Vec<ConnectTo>>,
    pub headers: Option<Headers>,
    pub ip_family: Option<IpFamily>,
    /// `http = "tcp" | "h3" | "both"`: (transport, also over QUIC).
    pub http: Option<(Transport, bool)>,
    /// `hello = "classic" | "pq"`.
    pub hello: Option<Hello>,
}

impl PartialOptions {
    /// Validate a raw layer. `base` is the directory relative `cacert` paths
    /// resolve against; `place` names the table for messages (`"[defaults]"`).
    pub fn from_raw(
        raw: &RawOptions,
        src: &Source,
        base: &Path,
        place: &str,
    ) -> Result<Self, ConfigError> {
        let dur = |v: &Option<Spanned<String>>, key: &str, check: Check<Duration>| {
            v.as_ref()
                .map(|s| duration_value(s, src, key, place, check))
                .transpose()
        };
        let max_bytes = match &raw.max_bytes {
            Some(s) => {
                let n = size_value(s, src, "max_bytes", place)?;
                if n == 0 {
                    return Err(src.err_at(
                        s.span(),
                        "max_bytes",
                        format!("`max_bytes` in {place} must be more than 0"),
                    ));
                }
                Some(n)
            }
            None => None,
        };
        let alpn = match &raw.alpn {
            Some(a) => {
                if let Some(bad) = a.get_ref().iter().find(|p| p.is_empty() || p.len() > 255) {
                    return Err(src.err_at(
                        a.span(),
                        "alpn",
                        format!("bad protocol {bad:?} in `alpn` in {place} (1..=255 bytes)"),
                    ));
                }
                Some(a.get_ref().clone())
            }
            None => None,
        };
        let cacert = raw
            .cacert
            .as_ref()
            .map(|v| v.iter().map(|p| base.join(p.get_ref())).collect::<Vec<_>>());
        if let Some(empty) = raw.cacert.iter().flatten().find(|p| p.get_ref().is_empty()) {
            return Err(src.err_at(
                empty.span(),
                "cacert",
                format!("empty path in `cacert` in {place}"),
            ));
        }
        let headers = match &raw.headers {
            Some(t) => {
                let mut h = Headers::default();
                for (name, value) in t.get_ref() {
                    // The message names the header, never its value (a secret).
                    h.push(name, value).map_err(|e| {
                        src.err_at(t.span(), "headers", format!("`headers` in {place}: {e}"))
                    })?;
                }
                Some(h)
            }
            None => None,
        };
        let ip_family = match &raw.ip_family {
            Some(f) => Some(f.get_ref().parse::<IpFamily>().map_err(|e| {
                src.err_at(
                    f.span(),
                    "ip_family",
                    format!("`ip_family` in {place}: {e}"),
                )
            })?),
            None => None,
        };
        let http = match &raw.http {
            None => None,
            Some(h) => Some(match h.get_ref().trim().to_ascii_lowercase().as_str() {
                "tcp" => (Transport::Tcp, false),
                "h3" | "quic" => (Transport::Quic, false),
                "both" => (Transport::Tcp, true),
                other => {
                    return Err(src.err_at(
                        h.span(),
                        "http",
                        format!("unknown `http` {other:?} in {place} (valid: tcp, h3, both)"),
                    ))
                }
            }),
        };
        let hello =
            match &raw.hello {
                Some(h) => Some(h.get_ref().parse::<Hello>().map_err(|e| {
                    src.err_at(h.span(), "hello", format!("`hello` in {place}: {e}"))
                })?),
                None => None,
            };
        Ok(PartialOptions {
            hello,
            headers,
            ip_family,
            http,
            max_time: dur(&raw.max_time, "max_time", check_fetch_time)?,
            max_bytes,
            connect_timeout: dur(&raw.connect_timeout, "connect_timeout", check_fetch_time)?,
            tls_timeout: dur(&raw.tls_timeout, "tls_timeout", check_fetch_time)?,
            ttfb_timeout: dur(&raw.ttfb_timeout, "ttfb_timeout", check_fetch_time)?,
            window: dur(&raw.window, "window", check_window)?,
            alpn,
            cacert,
            insecure: raw.insecure,
            resolve: list_value(&raw.resolve, src, "resolve", place, parse_resolve)?,
            connect_to: list_value(&raw.connect_to, src, "connect_to", place, parse_connect_to)?,
        })
    }

    /// `base` with every key set in this layer replaced.
    pub fn over(&self, base: &FetchOptions) -> FetchOptions {
        let o = base.clone();
        FetchOptions {
            max_time: self.max_time.unwrap_or(o.max_time),
            max_bytes: self.max_bytes.unwrap_or(o.max_bytes),
            connect_timeout: self.connect_timeout.unwrap_or(o.connect_timeout),
            tls_timeout: self.tls_timeout.unwrap_or(o.tls_timeout),
            ttfb_timeout: self.ttfb_timeout.unwrap_or(o.ttfb_timeout),
            window: self.window.unwrap_or(o.window),
            alpn: self.alpn.clone().unwrap_or(o.alpn),
            cacert: self.cacert.clone().unwrap_or(o.cacert),
            insecure: self.insecure.unwrap_or(o.insecure),
            resolve: self.resolve.clone().unwrap_or(o.resolve),
            connect_to: self.connect_to.clone().unwrap_or(o.connect_to),
            pin: o.pin,
            split_hello: o.split_hello,
            wire: o.wire,
            hello: self.hello.unwrap_or(o.hello),
            headers: self.headers.clone().unwrap_or(o.headers),
            ip_family: self.ip_family.unwrap_or(o.ip_family),
            transport: self.http.map_or(o.transport, |h| h.0),
            also_quic: self.http.map_or(o.also_quic, |h| h.1),
        }
    }
}

/// A bound on a parsed value (see [`super::bounds`]): the value, or why not.
pub(crate) type Check<T> = fn(T) -> Result<T, String>;

/// Parse a spanned duration string and check it against its bounds, naming
/// key and line on failure.
pub(crate) fn duration_value(
    s: &Spanned<String>,
    src: &Source,
    key: &str,
    place: &str,
    check: Check<Duration>,
) -> Result<Duration, ConfigError> {
    let d = parse_duration(s.get_ref())
        .map_err(|e| src.err_at(s.span(), key, format!("`{key}` in {place}: {e}")))?;
    check(d).map_err(|e| {
        src.err_at(
            s.span(),
            key,
            format!("`{key}` = {:?} in {place} {e}", s.get_ref()),
        )
    })
}

/// Parse a spanned size (integer bytes or `"16MiB"`), naming key and line.
pub(crate) fn size_value(
    s: &Spanned<RawSize>,
    src: &Source,
    key: &str,
    place: &str,
) -> Result<u64, ConfigError> {
    let r = match s.get_ref() {
        RawSize::Bytes(n) => u64::try_from(*n).map_err(|_| format!("size {n} is negative")),
        RawSize::Text(t) => parse_size(t),
    };
    let n = r.map_err(|e| src.err_at(s.span(), key, format!("`{key}` in {place}: {e}")))?;
    check_size(n).map_err(|e| {
        let shown = match s.get_ref() {
            RawSize::Bytes(n) => n.to_string(),
            RawSize::Text(t) => format!("{t:?}"),
        };
        src.err_at(s.span(), key, format!("`{key}` = {shown} in {place} {e}"))
    })
}

fn list_value<T>(
    v: &Option<Vec<Spanned<String>>>,
    src: &Source,
    key: &str,
    place: &str,
    parse: fn(&str) -> Result<T, String>,
) -> Result<Option<Vec<T>>, ConfigError> {
    v.as_ref()
        .map(|items| {
            items
                .iter()
                .map(|s| {
                    parse(s.get_ref())
                        .map_err(|e| src.err_at(s.span(), key, format!("`{key}` in {place}: {e}")))
                })
                .collect()
        })
        .transpose()
}
