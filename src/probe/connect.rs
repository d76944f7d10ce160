//! DNS and TCP: where the socket of a fetch is opened — the only place.
//!
//! `--connect-to` and `--resolve` overrides are applied here, in curl's order:
//! connect-to first picks the host:port to connect to, then resolve may pin
//! that host's address. Only the first address (of the family asked for,
//! `ip_family`) is tried: trying the next one on failure would be a hidden
//! retry (and would blur TCP time).

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use tokio::net::TcpStream;

use super::failure::{classify_dns, classify_io, Failure};
use crate::types::{FetchOptions, FetchRecord, Ms, Phase};

/// Where to connect, and how we learned it.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// Every address the lookup returned (or the override's one).
    pub addrs: Vec<SocketAddr>,
    /// `connect_to`, `resolve`, `literal` (IP in the URL), or None (real DNS).
    pub via: Option<&'static str>,
    /// Lookup time; zero when no lookup happened.
    pub dns: Duration,
}

impl Endpoint {
    /// Write the lookup into `rec` (`dns_ms`, `dns_override`, `addrs`,
    /// `addr`, `ip_family`) and return the address to connect to: the
    /// first, whatever the transport, so TCP and QUIC rows read alike.
    pub fn record(&self, rec: &mut FetchRecord) -> SocketAddr {
        rec.dns_ms = Some(Ms::from_duration(self.dns));
        rec.dns_override = self.via.map(str::to_string);
        rec.addrs = self
            .addrs
            .iter()
            .map(|a| a.ip().to_string())
            .collect::<Vec<_>>()
            .join(" ");
        let addr = self.addrs[0];
        rec.addr = Some(addr.to_string());
        rec.ip_family = Some(if addr.is_ipv4() { "ipv4" } else { "ipv6" }.into());
        addr
    }
}

/// Resolve `host:port` honouring the overrides and the IP family in
/// `opts`. With `ip_family` set, addresses of the other family are dropped
/// (from `addrs` too); none left is `dns_no_answer`, as a lookup without
/// an A (or AAAA) record would be.
pub async fn resolve(host: &str, port: u16, opts: &FetchOptions) -> Result<Endpoint, Failure> {
    let mut ep = resolve_any(host, port, opts).await?;
    ep.addrs.retain(|a| opts.ip_family.allows(&a.ip()));
    if ep.addrs.is_empty() {
        return Err(Failure::new("dns_no_answer", Phase::Dns));
    }
    Ok(ep)
}

async fn resolve_any(host: &str, port: u16, opts: &FetchOptions) -> Result<Endpoint, Failure> {
    let mut via = None;
    let (mut host, mut port) = (host.to_string(), port);
    if let Some(ct) = opts.connect_to.iter().find(|c| {
        (c.from_host.is_empty() || c.from_host.eq_ignore_ascii_case(&host))
            && c.from_port.is_none_or(|p| p == port)
    }) {
        host = ct.to_host.clone();
        port = ct.to_port;
        via = Some("connect_to");
    }
    if let Some(r) = opts
        .resolve
        .iter()
        .find(|r| r.host.eq_ignore_ascii_case(&host) && r.port == port)
    {
        return Ok(Endpoint {
            addrs: vec![SocketAddr::new(r.addr, port)],
            via: Some("resolve"),
            dns: Duration::ZERO,
        });
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(Endpoint {
            addrs: vec![SocketAddr::new(ip, port)],
            via: via.or(Some("literal")),
            dns: Duration::ZERO,
        });
    }
    let start = Instant::now();
    let lookup = tokio::net::lookup_host((bare, port));
    let addrs: Vec<SocketAddr> = match tokio::time::timeout(opts.connect_timeout, lookup).await {
        Err(_) => return Err(Failure::timeout(Phase::Dns)),
        Ok(Err(e)) => return Err(classify_dns(&e)),
        Ok(Ok(it)) => it.collect(),
    };
    if addrs.is_empty() {
        return Err(Failure::new("dns_no_answer", Phase::Dns));
    }
    Ok(Endpoint {
        addrs,
        via,
        dns: start.elapsed(),
    })
}

/// Open the TCP connection (TCP_NODELAY on), bounded by `timeout`.
pub async fn connect(addr: SocketAddr, timeout: Duration) -> Result<TcpStream, Failure> {
    match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
        Err(_) => Err(Failure::timeout(Phase::Tcp)),
        Ok(Err(e)) => Err(classify_io(&e, Phase::Tcp)),
        Ok(Ok(s)) => {
            // Nagle would delay small writes (the request) by up to an RTT.
            let _ = s.set_nodelay(true);
            Ok(s)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{ConnectTo, Resolve};

    #[tokio::test]
    async fn overrides_skip_dns_and_are_noted() {
        let mut o = FetchOptions::default();
        o.resolve.push(Resolve {
            host: "pbs.twimg.com".into(),
            port: 443,
            addr: "127.0.0.1".parse().unwrap(),
        });
        let e = resolve("pbs.twimg.com", 443, &o).await.unwrap();
        assert_eq!(e.via, Some("resolve"));
        assert_eq!(e.dns, Duration::ZERO);
        assert_eq!(e.addrs, vec!["127.0.0.1:443".parse().unwrap()]);

        o.connect_to.push(ConnectTo {
            from_host: String::new(),
            from_port: Some(443),
            to_host: "127.0.0.2".into(),
            to_port: 8443,
        });
        let e = resolve("example.org", 443, &o).await.unwrap();
        assert_eq!(e.via, Some("connect_to"));
        assert_eq!(e.addrs, vec!["127.0.0.2:8443".parse().unwrap()]);
    }

    #[tokio::test]
    async fn ip_family_keeps_only_its_addresses() {
        use crate::types::IpFamily;
        let mut o = FetchOptions::default();
        let e = resolve("::1", 443, &o).await.unwrap();
        assert_eq!(e.addrs, vec!["[::1]:443".parse().unwrap()]);
        o.ip_family = IpFamily::Ipv4;
        let f = resolve("::1", 443, &o).await.unwrap_err();
        assert_eq!(f.kind, "dns_no_answer");
        assert!(resolve("127.0.0.1", 443, &o).await.is_ok());
        o.ip_family = IpFamily::Ipv6;
        assert!(resolve("127.0.0.1", 443, &o).await.is_err());
    }
}
