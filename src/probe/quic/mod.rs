//! HTTP/3 over QUIC: one measured fetch over a fresh QUIC connection.
//!
//! quinn (QUIC) and h3 (HTTP/3) over the same rustls and `ring` provider as
//! the TCP path. The guarantees are the TCP path's: one fresh connection per
//! fetch on its own UDP socket and endpoint (no 0-RTT, no resumption, no
//! address validation token kept), the SNI independent of the address, every
//! fault a row. QUIC only: nothing here ever falls back to TCP — a blocked
//! QUIC fetch must read as blocked, not as a TCP success (`curl --http3`
//! falls back silently, which hides exactly what is measured).

mod exchange;
pub mod fail;
pub mod initial;
pub mod socket;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use quinn::crypto::rustls::QuicClientConfig;

use super::failure::Failure;
use super::{connect, Cut, Prepared};
use crate::types::{Capped, FetchOptions, FetchRecord, Ms, Phase};

/// The ALPN of HTTP/3 (RFC 9114); a QUIC fetch offers only this.
pub const ALPN_H3: &str = "h3";

/// The quinn client config of a URL: its TLS options with ALPN `h3`, and a
/// transport tuned for measuring (see [`transport`]).
pub fn client_config(opts: &FetchOptions, send_sni: bool) -> anyhow::Result<quinn::ClientConfig> {
    let mut o = opts.clone();
    o.alpn = vec![ALPN_H3.into()];
    let tls = super::tls::client_config(&o, send_sni)?;
    let crypto = QuicClientConfig::try_from(tls)
        .map_err(|e| anyhow::anyhow!("TLS config unusable for QUIC: {e}"))?;
    let mut c = quinn::ClientConfig::new(Arc::new(crypto));
    c.transport_config(Arc::new(transport(opts)));
    Ok(c)
}

/// Idle timeout above `max_time` (our caps end a fetch, not quinn's timer);
/// receive windows large enough that flow control never is the plateau on a
/// fast path; a small send window so an upload's "handed over" stays close
/// to "on the wire" (QUIC has no TCP_INFO to read the acknowledged count).
fn transport(opts: &FetchOptions) -> quinn::TransportConfig {
    let mut t = quinn::TransportConfig::default();
    let idle = (opts.max_time + Duration::from_secs(5)).min(Duration::from_secs(3600));
    t.max_idle_timeout(quinn::IdleTimeout::try_from(idle).ok());
    t.stream_receive_window(quinn::VarInt::from_u32(16 << 20));
    t.receive_window(quinn::VarInt::from_u32(32 << 20));
    t.send_window(256 * 1024);
    t
}

/// The phases up to an open QUIC connection, then the HTTP/3 exchange.
pub(super) async fn run(
    p: &Prepared,
    quic: &quinn::ClientConfig,
    rec: &mut FetchRecord,
    t0: Instant,
    cut: &Cut,
    in_exchange: &AtomicBool,
) -> Result<(), Failure> {
    let opts = &p.spec.options;
    let deadline = t0 + opts.max_time;
    let addr = connect::resolve(&p.url_host, p.url_port, opts)
        .await?
        .record(rec);

    let io_fail = |e: std::io::Error| Failure::classify(&e, Phase::Quic);
    let (sock, watch) = socket::open(addr).map_err(io_fail)?;
    let endpoint = quinn::Endpoint::new_with_abstract_socket(
        quinn::EndpointConfig::default(),
        None,
        sock,
        Arc::new(quinn::TokioRuntime),
    )
    .map_err(io_fail)?;
    let left = deadline.saturating_duration_since(Instant::now());
    let (limit, capping) = (opts.connect_timeout.min(left), left <= opts.connect_timeout);
    let t_quic = Instant::now();
    let connecting = endpoint
        .connect_with(quic.clone(), addr, &p.tls_name_str())
        .map_err(|e| Failure::new(format!("unknown_failure: {e}"), Phase::Quic))?;
    let hello = |rec: &mut FetchRecord| {
        let s = watch.seen.lock().unwrap();
        rec.initial_packets = Some(s.hello.packets);
        rec.hello_bytes = s.hello.hello().map(|h| h.len() as u64);
    };
    let conn = tokio::select! {
        r = connecting => r,
        k = watch.icmp_error() => {
            hello(rec);
            return Err(fail::classify(Some(k), None, None, Phase::Quic));
        }
        _ = tokio::time::sleep(limit) => {
            hello(rec);
            if capping {
                rec.capped = Some(Capped::Time);
            }
            return Err(Failure::timeout(Phase::Quic));
        }
    };
    hello(rec);
    let conn = match conn {
        Ok(c) => c,
        Err(e) => {
            let icmp = watch.seen.lock().unwrap().icmp;
            return Err(fail::classify(icmp, Some(&e), None, Phase::Quic));
        }
    };
    rec.quic_ms = Some(Ms::from_duration(t_quic.elapsed()));
    rec.tls_version = Some("TLSv1.3".into());
    rec.alpn = conn
        .handshake_data()
        .and_then(|d| d.downcast::<quinn::crypto::rustls::HandshakeData>().ok())
        .and_then(|d| d.protocol)
        .map(|a| String::from_utf8_lossy(&a).into_owned());
    in_exchange.store(true, Ordering::SeqCst);
    let r = exchange::exchange(p, rec, &conn, &watch, deadline, cut).await;
    let stats = conn.stats();
    rec.quic_rtt_ms = Some(Ms::from_duration(stats.path.rtt));
    rec.quic_lost_packets = Some(stats.path.lost_packets);
    rec.quic_cwnd = Some(stats.path.cwnd);
    let rtt = rec.quic_rtt_ms.unwrap_or_default();
    rec.quic_min_rtt_ms = Some(
        rec.quic_min_rtt_ms
            .map_or(rtt, |m| if m.0 < rtt.0 { m } else { rtt }),
    );
    // The fetch is over: close at once (no draining wait on our side).
    conn.close(quinn::VarInt::from_u32(0x100), b"");
    endpoint.close(quinn::VarInt::from_u32(0x100), b"");
    r
}
