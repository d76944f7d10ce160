//! Extra request headers (`headers` in a campaign, `token` of a
//! `[[reflector]]`, `fetch --header`/`--token`).
//!
//! Their values may be secrets (a bearer token), so they never leave the
//! process: serialisation (campaign.json, the campaign hash) writes the
//! header names only, `Debug` hides the values, and error messages about a
//! header never quote its value.

use http::{HeaderName, HeaderValue};
use serde::Serialize;

/// Headers a campaign may not set: the ones the engine owns because the
/// measurement depends on them (`Host` has its own key, `Accept-Encoding`
/// stays `identity` so counted bytes are bytes on the wire) or that belong
/// to the connection rather than the request.
const OWNED: &[&str] = &[
    "host",
    "accept-encoding",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "upgrade",
    "trailer",
];

/// Extra request headers, in the order given; a name set twice is sent twice.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Headers(Vec<(HeaderName, HeaderValue)>);

impl Headers {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&HeaderName, &HeaderValue)> {
        self.0.iter().map(|(n, v)| (n, v))
    }

    /// Add `name: value` after checking both (see [`check`]).
    pub fn push(&mut self, name: &str, value: &str) -> Result<(), String> {
        let (n, v) = check(name, value)?;
        self.0.push((n, v));
        Ok(())
    }

    /// Replace every header called `name` with this one (a `token` over a
    /// `headers` Authorization).
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), String> {
        let (n, v) = check(name, value)?;
        self.0.retain(|(m, _)| *m != n);
        self.0.push((n, v));
        Ok(())
    }

    /// `Authorization: Bearer TOKEN`, as `slowlane serve --token` expects.
    pub fn set_bearer(&mut self, token: &str) -> Result<(), String> {
        if token.trim().is_empty() {
            return Err("the token is empty".into());
        }
        self.set("authorization", &format!("Bearer {}", token.trim()))
    }
}

/// A valid header name and value that the engine does not own. Values are
/// marked sensitive (HTTP/2 never puts them in a compression table). The
/// error never contains the value.
pub fn check(name: &str, value: &str) -> Result<(HeaderName, HeaderValue), String> {
    let n = HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|_| format!("bad header name {:?}", name.trim()))?;
    if OWNED.contains(&n.as_str()) {
        return Err(format!(
            "header {n:?} cannot be set: slowlane sets it itself{}",
            if n == "host" {
                " (use `host`/`--host` for the Host header)"
            } else {
                ""
            }
        ));
    }
    let mut v = HeaderValue::from_str(value.trim())
        .map_err(|_| format!("the value of header {n:?} has a character HTTP does not allow"))?;
    v.set_sensitive(true);
    Ok((n, v))
}

/// A `--header` argument, `Name: value` as curl writes it.
pub fn parse_header_arg(s: &str) -> Result<(String, String), String> {
    let (n, v) = s
        .split_once(':')
        .ok_or_else(|| "a header is `Name: value`".to_string())?;
    check(n, v)?;
    Ok((n.trim().to_string(), v.trim().to_string()))
}

impl std::fmt::Debug for Headers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(n, _)| format!("{n}: (hidden)")))
            .finish()
    }
}

/// Names only: campaign.json records which headers were sent, never what.
impl Serialize for Headers {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|(n, _)| n.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_never_show_and_owned_names_are_refused() {
        let mut h = Headers::default();
        h.push("User-Agent", "Mozilla/5.0 secret-ua").unwrap();
        h.set_bearer("s3cr3t").unwrap();
        h.set_bearer("t0ken").unwrap();
        assert_eq!(h.iter().count(), 2, "a token replaces the earlier one");
        let shown = format!("{h:?}{}", serde_json::to_string(&h).unwrap());
        assert!(
            !shown.contains("secret-ua") && !shown.contains("t0ken"),
            "{shown}"
        );
        assert!(shown.contains("user-agent") && shown.contains("authorization"));
        assert!(h.iter().all(|(_, v)| v.is_sensitive()));
        for bad in ["Host", "accept-encoding", "Content-Length"] {
            assert!(h.push(bad, "x").is_err(), "{bad}");
        }
        let e = h.push("X-A", "line\nbreak-secret").unwrap_err();
        assert!(!e.contains("secret"), "{e}");
        assert!(parse_header_arg("no colon").is_err());
        assert_eq!(
            parse_header_arg("X-Test:  a b ").unwrap(),
            ("X-Test".into(), "a b".into())
        );
    }
}
