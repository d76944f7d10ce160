//! Parsers for the small value syntaxes shared by campaign files and the
//! `slowlane fetch` / `slowlane run` flags. They return plain `String` errors so
//! both clap and the campaign loader can wrap them with their own context.

use std::net::IpAddr;
use std::time::Duration;

use http::Uri;

use crate::types::{ConnectTo, Resolve};

/// A duration in humantime syntax: `"20s"`, `"100ms"`, `"5m"`, `"1h 30m"`, `"0"`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    if t == "0" {
        return Ok(Duration::ZERO);
    }
    humantime::parse_duration(t)
        .map_err(|e| format!("invalid duration {s:?} ({e}); use e.g. \"20s\", \"100ms\", \"5m\""))
}

/// A size in bytes: a plain integer (`"1048576"`) or a number with a unit
/// (`"16MiB"`, `"1.5 MB"`, `"512KiB"`). `KB`/`MB` are powers of ten, `KiB`/`MiB`
/// powers of two.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    if t.is_empty() || !t.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(format!(
            "invalid size {s:?}; use bytes or a unit, e.g. \"16MiB\", \"500KB\""
        ));
    }
    t.parse::<bytesize::ByteSize>()
        .map(|b| b.as_u64())
        .map_err(|_| format!("invalid size {s:?}; use bytes or a unit, e.g. \"16MiB\", \"500KB\""))
}

/// An absolute `http://` or `https://` URL with a host.
pub fn parse_url(s: &str) -> Result<Uri, String> {
    let t = s.trim();
    if !t.contains("://") {
        return Err(format!("URL {s:?} is not absolute (https://host/...)"));
    }
    let uri: Uri = t.parse().map_err(|e| format!("invalid URL {s:?}: {e}"))?;
    match uri.scheme_str() {
        Some("https") | Some("http") => {}
        Some(other) => {
            return Err(format!(
                "unsupported scheme {other:?} in URL {s:?} (only https and http)"
            ))
        }
        None => return Err(format!("URL {s:?} is not absolute (https://host/...)")),
    }
    match uri.host() {
        Some(h) if !h.is_empty() => {}
        _ => return Err(format!("URL {s:?} has no host")),
    }
    url_port(&uri).map_err(|e| format!("URL {s:?}: {e}"))?;
    Ok(uri)
}

/// The explicit port of a URL, checked: `http` parses `:99999` as "no port",
/// which would silently fetch on the scheme's default port instead.
fn url_port(uri: &Uri) -> Result<Option<u16>, String> {
    let auth = uri.authority().map_or("", |a| a.as_str());
    let host_port = auth.rsplit_once('@').map_or(auth, |(_, hp)| hp);
    let after_host = host_port.rsplit_once(']').map_or(host_port, |(_, r)| r);
    match after_host.rsplit_once(':') {
        None | Some((_, "")) => Ok(None),
        Some((_, p)) => match p.parse::<u32>() {
            Ok(n @ 1..=65535) => Ok(Some(n as u16)),
            _ => Err(format!("port {p} is out of range (1-65535)")),
        },
    }
}

/// curl `--resolve HOST:PORT:ADDR`. ADDR may be an IPv6 address with or without
/// brackets (`[::1]` or `::1`). HOST may be bracketed too. Only one ADDR is
/// accepted (curl's `ADDR1,ADDR2` lists and `+`/`-` prefixes are not supported).
pub fn parse_resolve(s: &str) -> Result<Resolve, String> {
    let bad = |why: &str| format!("invalid resolve {s:?}: {why} (expected HOST:PORT:ADDR)");
    let (host, rest) = split_host(s.trim()).ok_or_else(|| bad("missing ':'"))?;
    if host.is_empty() {
        return Err(bad("empty HOST"));
    }
    let (port, addr) = rest.split_once(':').ok_or_else(|| bad("missing ADDR"))?;
    let port = parse_port(port).map_err(|e| bad(&e))?;
    if addr.contains(',') {
        return Err(bad("only one ADDR is supported"));
    }
    let addr = unbracket(addr);
    let addr: IpAddr = addr
        .parse()
        .map_err(|_| bad(&format!("ADDR {addr:?} is not an IP address")))?;
    Ok(Resolve {
        host: host.to_string(),
        port,
        addr,
    })
}

/// curl `--connect-to H1:P1:H2:P2`: requests to H1:P1 connect to H2:P2. An empty
/// H1 or P1 matches any host or port. H1 and H2 may be bracketed IPv6
/// addresses; H2 is stored without brackets so it parses as an `IpAddr`. H2 and
/// P2 are required (curl's "empty H2 = same host" is not supported).
pub fn parse_connect_to(s: &str) -> Result<ConnectTo, String> {
    let bad = |why: &str| format!("invalid connect-to {s:?}: {why} (expected H1:P1:H2:P2)");
    let (from_host, rest) = split_host(s.trim()).ok_or_else(|| bad("missing ':'"))?;
    let (from_port, rest) = rest.split_once(':').ok_or_else(|| bad("missing H2:P2"))?;
    let from_port = if from_port.is_empty() {
        None
    } else {
        Some(parse_port(from_port).map_err(|e| bad(&e))?)
    };
    // H2 may be a bare IPv6 address, so the port is after the *last* colon.
    let (to_host, to_port) = rest.rsplit_once(':').ok_or_else(|| bad("missing P2"))?;
    let to_host = unbracket(to_host);
    if to_host.is_empty() {
        return Err(bad("empty H2"));
    }
    if to_host.contains(':') && to_host.parse::<IpAddr>().is_err() {
        return Err(bad(&format!("H2 {to_host:?} is not a host name or IP")));
    }
    let to_port = parse_port(to_port).map_err(|e| bad(&e))?;
    Ok(ConnectTo {
        from_host: from_host.to_string(),
        from_port,
        to_host: to_host.to_string(),
        to_port,
    })
}

/// Split `HOST:rest` where HOST may be `[v6]`; returns HOST without brackets.
fn split_host(s: &str) -> Option<(&str, &str)> {
    if let Some(inner) = s.strip_prefix('[') {
        let (host, rest) = inner.split_once(']')?;
        Some((host, rest.strip_prefix(':')?))
    } else {
        s.split_once(':')
    }
}

fn unbracket(s: &str) -> &str {
    s.strip_prefix('[')
        .and_then(|x| x.strip_suffix(']'))
        .unwrap_or(s)
}

fn parse_port(p: &str) -> Result<u16, String> {
    match p.parse::<u16>() {
        Ok(0) | Err(_) => Err(format!("bad port {p:?}")),
        Ok(n) => Ok(n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert!(parse_url("https://example.org/a?b=c").is_ok());
        assert!(parse_url("http://example.org").is_ok());
        assert!(parse_url("ftp://example.org/x")
            .unwrap_err()
            .contains("scheme"));
        assert!(parse_url("example.org/x").is_err());
        assert!(parse_url("https:///x").is_err());
        let e = parse_url("http://127.0.0.1:99999/").unwrap_err();
        assert!(e.contains("port 99999 is out of range"), "{e}");
        assert!(parse_url("http://127.0.0.1:0/").is_err());
        assert!(parse_url("https://[::1]:70000/").is_err());
        assert!(parse_url("https://[::1]:8443/").is_ok());
        assert!(parse_url("https://u:p@a.example:65535/").is_ok());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("16MiB").unwrap(), 16 << 20);
        assert_eq!(parse_size("1 KiB").unwrap(), 1024);
        assert_eq!(parse_size("500KB").unwrap(), 500_000);
        assert_eq!(parse_size("123").unwrap(), 123);
        assert!(parse_size("-1").is_err());
        assert!(parse_size("MiB").is_err());
        assert!(parse_size("12 parsecs").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("100ms").unwrap(), Duration::from_millis(100));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        assert!(parse_duration("5 fortnights").is_err());
        assert!(parse_duration("20").is_err());
    }

    #[test]
    fn resolve_v6() {
        let r = parse_resolve("a.example:443:[::1]").unwrap();
        assert_eq!(r.addr, "::1".parse::<IpAddr>().unwrap());
        let r = parse_resolve("a.example:443:2001:db8::2").unwrap();
        assert_eq!(r.addr, "2001:db8::2".parse::<IpAddr>().unwrap());
        assert!(parse_resolve("a.example:0:1.2.3.4").is_err());
    }

    #[test]
    fn connect_to_forms() {
        let c = parse_connect_to("::[::1]:8443").unwrap();
        assert_eq!((c.from_host.as_str(), c.from_port), ("", None));
        assert_eq!((c.to_host.as_str(), c.to_port), ("::1", 8443));
        let c = parse_connect_to("[::2]:443:::1:8443").unwrap();
        assert_eq!(c.from_host, "::2");
        assert_eq!(c.to_host, "::1");
    }
}
