//! The fetch engine: one measured fetch over a fresh TCP+TLS connection.
//!
//! We drive the stack reqwest is built on one level down —
//! `tokio::net::TcpStream` → `tokio-rustls` → a `hyper` 1.x client connection —
//! because owning the socket is what lets us time TCP apart from TLS, read
//! TCP_INFO, and send an SNI different from the Host header. A fetch never
//! retries, never follows redirects, never asks for compression, and never
//! resumes a TLS session: each row is exactly one connection's story.

pub mod classify;
pub mod connect;
pub mod failure;
pub mod hello;
pub mod hello_edit;
mod http;
mod meter;
pub mod pq;
pub mod quic;
pub mod split;
pub mod tcpinfo;
pub mod timeline;
pub mod tls;
mod upload;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use rustls::pki_types::ServerName;
use rustls::ClientConfig;

use crate::types::{Capped, FetchRecord, FetchSpec, Method, Ms, Phase, Transport};
use failure::Failure;
pub use http::SNI_HEADER;

/// A URL ready to be fetched many times: its spec plus the TLS config built
/// from it (built once; loading trust roots per fetch would be wasted work).
#[derive(Debug, Clone)]
pub struct Prepared {
    pub spec: FetchSpec,
    tls: Arc<ClientConfig>,
    tls_name: ServerName<'static>,
    /// The QUIC client config, for a URL fetched over QUIC.
    quic: Option<quinn::ClientConfig>,
    /// Host and port from the URL (the port defaulted from the scheme).
    url_host: String,
    url_port: u16,
    https: bool,
}

impl Prepared {
    pub fn new(spec: FetchSpec) -> anyhow::Result<Prepared> {
        let https = match spec.url.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            other => anyhow::bail!("{}: unsupported scheme {:?}", spec.url, other),
        };
        let url_host = spec
            .url
            .host()
            .ok_or_else(|| anyhow::anyhow!("{}: URL has no host", spec.url))?
            .to_string();
        let url_port = spec.url.port_u16().unwrap_or(if https { 443 } else { 80 });
        let send_sni = spec.sni.as_deref() != Some("");
        let name = match spec.sni.as_deref() {
            Some(s) if !s.is_empty() => s.to_string(),
            _ => url_host.clone(),
        };
        if spec.options.transport == Transport::Quic && !https {
            anyhow::bail!("{}: HTTP/3 needs an https:// URL", spec.url);
        }
        Ok(Prepared {
            quic: (spec.options.transport == Transport::Quic)
                .then(|| quic::client_config(&spec.options, send_sni))
                .transpose()?,
            tls: tls::client_config(&spec.options, send_sni)?,
            tls_name: tls::server_name(&name)?,
            url_host,
            url_port,
            https,
            spec,
        })
    }

    /// The SNI this fetch sends ("" for none). TLS never carries an IP
    /// address as SNI, so an IP-literal name sends none.
    pub fn sni(&self) -> String {
        let name = match (&self.spec.sni, self.https) {
            (_, false) => return String::new(),
            (Some(s), _) => s.clone(),
            (None, _) => self.url_host.clone(),
        };
        match self.tls_name {
            ServerName::IpAddress(_) => String::new(),
            _ => name,
        }
    }

    /// The name given to rustls (certificate check and SNI).
    fn tls_name_str(&self) -> String {
        match &self.tls_name {
            ServerName::DnsName(d) => d.as_ref().to_string(),
            ServerName::IpAddress(ip) => std::net::IpAddr::from(*ip).to_string(),
            other => format!("{other:?}"),
        }
    }

    /// The Host header / `:authority` value sent.
    pub fn host_header(&self) -> String {
        self.spec
            .host
            .clone()
            .unwrap_or_else(|| match self.spec.url.port_u16() {
                Some(p) => format!("{}:{p}", self.url_host),
                None => self.url_host.clone(),
            })
    }
}

/// A request to end fetches at once (a stop after its grace period, or a
/// second signal). A cut fetch keeps what it measured and is marked
/// `capped = stop`, like a time cap: its rows are evidence, never dropped.
#[derive(Debug, Clone, Default)]
pub struct Cut(Option<tokio::sync::watch::Receiver<bool>>);

impl Cut {
    /// Fires when `true` is sent on the channel.
    pub fn new(rx: tokio::sync::watch::Receiver<bool>) -> Cut {
        Cut(Some(rx))
    }

    /// Resolves once the cut is requested; never for [`Cut::default`].
    pub async fn fired(&self) {
        if let Some(rx) = &self.0 {
            let mut rx = rx.clone();
            if rx.wait_for(|c| *c).await.is_ok() {
                return;
            }
        }
        std::future::pending::<()>().await
    }
}

/// The fields of a record known before any network activity.
pub fn blank_record(p: &Prepared) -> FetchRecord {
    let spec = &p.spec;
    FetchRecord {
        started_at: humantime::format_rfc3339_micros(SystemTime::now()).to_string(),
        url: spec.url.to_string(),
        host: p.host_header(),
        sni: p.sni(),
        class: spec.class,
        group: Some(spec.group),
        label: spec.label.clone(),
        controls: spec.controls.join(";"),
        method: spec.method.as_str().into(),
        direction: spec.method.direction(),
        // A download's size comes from its Content-Length (set in `http`).
        object_bytes: (spec.method == Method::Post).then_some(spec.upload),
        ab: spec.ab.clone(),
        variant: spec.variant.clone(),
        transport: spec.options.transport,
        ..FetchRecord::default()
    }
}

/// Perform one fetch. Never fails: every fault becomes fields of the record.
pub async fn fetch(p: &Prepared) -> FetchRecord {
    fetch_until(p, &Cut::default()).await
}

/// [`fetch`], ended early (with `capped = stop`) when `cut` fires.
pub async fn fetch_until(p: &Prepared, cut: &Cut) -> FetchRecord {
    let spec = &p.spec;
    let mut rec = blank_record(p);
    let t0 = Instant::now();
    // Before the HTTP exchange a cut simply abandons the phase in progress
    // (the timings of the finished phases are already in `rec`); from the
    // exchange on, `http` handles the cut itself so the bytes and windows
    // measured so far are written into the record.
    let in_exchange = AtomicBool::new(false);
    let result = {
        let fut = run(p, &mut rec, t0, cut, &in_exchange);
        let early_cut = async {
            cut.fired().await;
            if in_exchange.load(Ordering::SeqCst) {
                std::future::pending::<()>().await
            }
        };
        tokio::select! {
            biased;
            r = fut => Some(r),
            _ = early_cut => None,
        }
    };
    match result {
        Some(Err(f)) => {
            rec.error = Some(f.kind);
            rec.error_phase = Some(f.phase);
        }
        Some(Ok(())) => {}
        None => rec.capped = Some(Capped::Stop),
    }
    rec.total_ms = Some(Ms::from_duration(t0.elapsed()));
    if rec.class.is_none() {
        let path = spec.url.path();
        rec.class = Some(classify::infer(rec.content_type.as_deref(), path));
    }
    rec
}

/// The phases up to an open connection; the HTTP exchange is in `http`.
async fn run(
    p: &Prepared,
    rec: &mut FetchRecord,
    t0: Instant,
    cut: &Cut,
    in_exchange: &AtomicBool,
) -> Result<(), Failure> {
    if let Some(q) = &p.quic {
        return quic::run(p, q, rec, t0, cut, in_exchange).await;
    }
    let opts = &p.spec.options;
    let deadline = t0 + opts.max_time;
    // The overall cap also bounds the phases before the body; when it is the
    // limit that fires there, the fetch is marked capped as well as failed.
    let phase_limit = |timeout: std::time::Duration| {
        let now = Instant::now();
        let left = deadline.saturating_duration_since(now);
        (timeout.min(left), left <= timeout)
    };

    let addr = connect::resolve(&p.url_host, p.url_port, opts)
        .await?
        .record(rec);

    let (limit, capping) = phase_limit(opts.connect_timeout);
    let t_tcp = Instant::now();
    let tcp = connect::connect(addr, limit).await.inspect_err(|_| {
        if capping {
            rec.capped = Some(Capped::Time);
        }
    })?;
    rec.tcp_ms = Some(Ms::from_duration(t_tcp.elapsed()));
    let info = tcpinfo::TcpInfoSource::new(&tcp);

    if !p.https {
        in_exchange.store(true, Ordering::SeqCst);
        return http::exchange(p, rec, tcp, info, deadline, cut).await;
    }
    let (limit, capping) = phase_limit(opts.tls_timeout);
    let t_tls = Instant::now();
    let connector = tokio_rustls::TlsConnector::from(p.tls.clone());
    let shape = split::HelloShape {
        wire: if opts.split_hello {
            crate::types::Wire::SplitHello
        } else {
            opts.wire
        },
        trailing_dot: rec.sni.ends_with('.'),
    };
    if !shape.wire.is_plain() {
        // Each write must leave as its own segment (no Nagle coalescing).
        let _ = socket2::SockRef::from(&tcp).set_tcp_nodelay(true);
    }
    let io = split::HelloIo::new(tcp, shape);
    let sent = io.sent();
    let handshake = tokio::time::timeout(limit, connector.connect(p.tls_name.clone(), io)).await;
    // Recorded whether or not the handshake completed: a hello the box
    // answered with a reset or silence is the row that needs its size.
    if let Some((bytes, segments)) = sent.get() {
        rec.hello_bytes = Some(bytes);
        rec.hello_segments = Some(segments);
    }
    let tls = match handshake {
        Err(_) => {
            if capping {
                rec.capped = Some(Capped::Time);
            }
            return Err(Failure::timeout(Phase::Tls));
        }
        Ok(Err(e)) => return Err(failure::classify_io(&e, Phase::Tls)),
        Ok(Ok(s)) => s,
    };
    rec.tls_ms = Some(Ms::from_duration(t_tls.elapsed()));
    let conn = tls.get_ref().1;
    rec.tls_version = conn.protocol_version().map(|v| match v {
        rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3".to_string(),
        rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2".to_string(),
        other => format!("{other:?}"),
    });
    rec.alpn = conn
        .alpn_protocol()
        .map(|a| String::from_utf8_lossy(a).into_owned());
    rec.cipher = conn
        .negotiated_cipher_suite()
        .and_then(|c| c.suite().as_str().map(str::to_string));
    rec.kx_group = conn
        .negotiated_key_exchange_group()
        .map(|g| match g.name().as_str() {
            Some(n) => n.to_string(),
            None => format!("0x{:04x}", u16::from(g.name())),
        });
    in_exchange.store(true, Ordering::SeqCst);
    http::exchange(p, rec, tls, info, deadline, cut).await
}
