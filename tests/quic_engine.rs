//! HTTP/3 over QUIC: the engine against `slowlane serve` (which answers
//! HTTP/3 on its UDP port) and against fault servers, all on loopback.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use slowlane::serve::{Limits, Reflector, ServeConfig};
use slowlane::types::{Direction, FetchOptions, FetchRecord, Phase, Pin, Resolve, Transport};
use support::engine::{fetch_one, spec};

async fn reflector(dir: &std::path::Path) -> Reflector {
    Reflector::start(ServeConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        state: dir.to_path_buf(),
        cert_key: None,
        token: None,
        limits: Limits::default(),
        log: None,
    })
    .await
    .unwrap()
}

/// Options for `name:port` fetched over QUIC at `addr`, trusting `pin`.
fn quic_opts(name: &str, addr: SocketAddr, pin: Pin) -> FetchOptions {
    FetchOptions {
        pin: Some(pin),
        transport: Transport::Quic,
        resolve: vec![Resolve {
            host: name.into(),
            port: addr.port(),
            addr: addr.ip(),
        }],
        connect_timeout: Duration::from_secs(3),
        max_time: Duration::from_secs(10),
        ..FetchOptions::default()
    }
}

async fn get(name: &str, addr: SocketAddr, pin: Pin, path: &str) -> FetchRecord {
    let url = format!("https://{name}:{}{path}", addr.port());
    fetch_one(spec(&url, 0, quic_opts(name, addr, pin))).await
}

#[tokio::test]
async fn h3_fetch_has_monotonic_phases_a_timeline_and_quic_stats() {
    let dir = tempfile::tempdir().unwrap();
    let r = reflector(dir.path()).await;
    let addr = r.local_addr();
    let rec = get("pbs.twimg.com", addr, r.pin(), "/bytes/300000?type=image").await;
    assert_eq!(rec.error, None, "{rec:?}");
    assert_eq!(rec.transport, Transport::Quic);
    assert_eq!(rec.status, Some(200));
    assert_eq!(rec.http_version.as_deref(), Some("3"));
    assert_eq!(rec.alpn.as_deref(), Some("h3"));
    assert_eq!(rec.body_bytes, 300_000);
    assert_eq!(rec.object_bytes, Some(300_000));
    // The name reached the server as sent, though we connected to an IP.
    assert_eq!(rec.sni, "pbs.twimg.com");
    assert_eq!(rec.server_sni.as_deref(), Some("pbs.twimg.com"));
    // The address columns are filled as over TCP (one helper for both).
    assert_eq!(rec.ip_family.as_deref(), Some("ipv4"), "{rec:?}");
    assert!(rec.addr.is_some() && !rec.addrs.is_empty(), "{rec:?}");
    // QUIC replaces TCP and TLS: those stay empty, quic_ms is the handshake.
    assert!(rec.tcp_ms.is_none() && rec.tls_ms.is_none(), "{rec:?}");
    let (q, ttfb, transfer, total) = (
        rec.quic_ms.unwrap().0,
        rec.ttfb_ms.unwrap().0,
        rec.transfer_ms.unwrap().0,
        rec.total_ms.unwrap().0,
    );
    assert!(q > 0.0 && ttfb > 0.0 && transfer >= 0.0, "{rec:?}");
    assert!(q + ttfb + transfer <= total + 0.01, "{rec:?}");
    let down: u64 = rec
        .timeline
        .iter()
        .filter(|w| w.direction == Direction::Down)
        .map(|w| w.bytes)
        .sum();
    assert_eq!(down, 300_000, "timeline windows add up to the body");
    let mut last = 0.0;
    for w in &rec.timeline {
        assert!(w.t_ms.0 >= last, "windows in time order");
        last = w.t_ms.0;
    }
    // The Initial's shape and quinn's path statistics.
    let hello = rec.hello_bytes.expect("hello size read from the Initial");
    assert!((200..4000).contains(&hello), "{hello}");
    assert!(rec.initial_packets.unwrap() >= 1);
    assert!(rec.hello_segments.is_none());
    assert!(rec.quic_rtt_ms.is_some() && rec.quic_cwnd.unwrap() > 0);
    assert!(rec.quic_min_rtt_ms.unwrap().0 <= rec.quic_rtt_ms.unwrap().0);
    assert!(rec.quic_lost_packets.is_some());
    r.shutdown().await;
    let log = std::fs::read_to_string(dir.path().join("requests.csv")).unwrap();
    let line = log.lines().nth(1).expect("one request logged");
    assert!(line.contains(",h3,quic,GET,"), "{log}");
}

#[tokio::test]
async fn every_h3_fetch_is_a_fresh_full_handshake_and_uploads_are_measured() {
    let dir = tempfile::tempdir().unwrap();
    let r = reflector(dir.path()).await;
    let addr = r.local_addr();
    let url = format!("https://up.example:{}/upload", addr.port());
    let rec = fetch_one(spec(&url, 200_000, quic_opts("up.example", addr, r.pin()))).await;
    assert_eq!(rec.error, None, "{rec:?}");
    assert_eq!(rec.direction, Direction::Up);
    assert_eq!(rec.upload_bytes, 200_000);
    assert_eq!(rec.server_upload_bytes, Some(200_000), "{rec:?}");
    // Two fetches, two connections from two client ports, each with its
    // own handshake (nothing resumed: a full hello each time).
    let a = get("a.example", addr, r.pin(), "/echo").await;
    let b = get("a.example", addr, r.pin(), "/echo").await;
    for x in [&a, &b] {
        assert_eq!(x.error, None, "{x:?}");
        assert!(x.quic_ms.is_some());
        // A full hello each time (rustls varies a few bytes of it).
        assert!(x.hello_bytes.unwrap() > 200, "{x:?}");
    }
    r.shutdown().await;
    let log = std::fs::read_to_string(dir.path().join("requests.csv")).unwrap();
    assert_eq!(
        log.lines().filter(|l| l.contains(",quic,")).count(),
        3,
        "{log}"
    );
}

#[tokio::test]
async fn a_wrong_pin_is_a_certificate_failure_in_the_quic_phase() {
    let dir = tempfile::tempdir().unwrap();
    let r = reflector(dir.path()).await;
    let wrong: Pin = format!("sha256:{}", "ab".repeat(32)).parse().unwrap();
    let rec = get("x.example", r.local_addr(), wrong, "/bytes/10").await;
    assert_eq!(
        rec.error.as_deref(),
        Some("ssl_invalid_certificate"),
        "{rec:?}"
    );
    assert_eq!(rec.error_phase, Some(Phase::Quic));
    assert!(rec.quic_ms.is_none());
}

#[tokio::test]
async fn no_answer_is_a_timeout_in_the_quic_phase_never_a_tcp_fallback() {
    // A UDP socket that reads and never answers: a QUIC block by drop.
    let sink = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = sink.local_addr().unwrap();
    let mut o = quic_opts("blocked.example", addr, any_pin());
    o.connect_timeout = Duration::from_millis(1500);
    let url = format!("https://blocked.example:{}/bytes/10", addr.port());
    let rec = fetch_one(spec(&url, 0, o)).await;
    assert_eq!(
        rec.error.as_deref(),
        Some("generic_timeout_error"),
        "{rec:?}"
    );
    assert_eq!(rec.error_phase, Some(Phase::Quic));
    assert_eq!(rec.transport, Transport::Quic);
    assert!(rec.tcp_ms.is_none(), "no TCP connection was tried");
    // The client's Initials reached the socket, and we read them.
    let mut buf = [0u8; 2048];
    let (n, _) = sink.try_recv_from(&mut buf).unwrap();
    assert!(n >= 1200, "a client Initial is padded to 1200 bytes");
    assert!(rec.initial_packets.unwrap() >= 2, "retransmitted: {rec:?}");
    assert!(rec.hello_bytes.is_some());
}

#[tokio::test]
async fn icmp_port_unreachable_is_connection_refused() {
    // Bind then drop: nothing listens on the port, the kernel answers ICMP.
    let addr = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let rec = get("closed.example", addr, any_pin(), "/").await;
    assert_eq!(rec.error.as_deref(), Some("connection_refused"), "{rec:?}");
    assert_eq!(rec.error_phase, Some(Phase::Quic));
    assert!(rec.total_ms.unwrap().0 < 2000.0, "not a timeout: {rec:?}");
}

/// What a fault server does after sending part of a body.
#[derive(Clone, Copy)]
enum Fault {
    /// CONNECTION_CLOSE (application close) mid-body.
    Close,
    /// RESET_STREAM on the request stream mid-body.
    Reset,
}

/// An HTTP/3 server that starts a 1 MB body, sends 100 KB, then faults.
async fn fault_server(fault: Fault) -> (SocketAddr, Pin, tokio::task::JoinHandle<()>) {
    let dir = tempfile::tempdir().unwrap();
    let id = slowlane::serve::tls::Identity::load_or_create(dir.path(), None).unwrap();
    let cfg = slowlane::serve::h3::quic_config(&id.server_config().unwrap()).unwrap();
    let ep = quinn::Endpoint::server(cfg, "127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = ep.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let _dir = dir;
        let Some(inc) = ep.accept().await else { return };
        let conn = inc.await.unwrap();
        let mut h3c =
            h3::server::Connection::<_, Bytes>::new(h3_quinn::Connection::new(conn.clone()))
                .await
                .unwrap();
        let resolver = h3c.accept().await.unwrap().unwrap();
        let (_req, mut stream) = resolver.resolve_request().await.unwrap();
        let resp = http::Response::builder()
            .header("content-length", 1_000_000)
            .body(())
            .unwrap();
        stream.send_response(resp).await.unwrap();
        for _ in 0..10 {
            stream
                .send_data(Bytes::from(vec![7u8; 10_000]))
                .await
                .unwrap();
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        match fault {
            Fault::Close => conn.close(0x42u32.into(), b"gone"),
            Fault::Reset => stream.stop_stream(h3::error::Code::H3_REQUEST_CANCELLED),
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        drop(h3c);
    });
    (addr, id.pin(), task)
}

#[tokio::test]
async fn close_and_reset_mid_body_are_named_and_keep_their_bytes() {
    for (fault, name) in [
        (Fault::Close, "quic_connection_closed"),
        (Fault::Reset, "quic_stream_reset"),
    ] {
        let (addr, pin, task) = fault_server(fault).await;
        let rec = get("fault.example", addr, pin, "/bytes/1000000").await;
        assert_eq!(rec.error.as_deref(), Some(name), "{rec:?}");
        assert_eq!(rec.error_phase, Some(Phase::Body), "{rec:?}");
        assert_eq!(rec.body_bytes, 100_000, "{rec:?}");
        assert_eq!(rec.object_bytes, Some(1_000_000));
        task.abort();
    }
}

#[test]
fn one_tls_stack_and_one_crypto_provider() {
    // Cargo.lock holds exactly one rustls and no aws-lc: QUIC and TCP share
    // rustls with the ring provider.
    let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.lock")).unwrap();
    let rustls = lock.matches("\nname = \"rustls\"\n").count();
    assert_eq!(rustls, 1, "one rustls in Cargo.lock");
    assert!(!lock.contains("name = \"aws-lc"), "no aws-lc provider");
}

fn any_pin() -> Pin {
    format!("sha256:{}", "cd".repeat(32)).parse().unwrap()
}
