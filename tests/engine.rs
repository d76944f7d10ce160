//! Fetch engine tests against in-process HTTPS servers on loopback.

mod support;

use std::time::Duration;

use slowlane::probe::{fetch, Prepared};
use slowlane::types::{Capped, Direction, FetchRecord, Phase};
use slowlane::types::{FetchOptions, FetchSpec, Group, Method, Resolve};
use support::client::client_config;
use support::engine::fetch_one;
use support::server::{Mode, TestServer};

const NAMES: &[&str] = &["localhost", "pbs.twimg.com", "example.org"];

fn spec(srv: &TestServer, host: &str, path: &str) -> FetchSpec {
    let mut options = FetchOptions {
        cacert: vec![srv.ca_pem.clone()],
        ..FetchOptions::default()
    };
    options.resolve.push(Resolve {
        host: host.into(),
        port: srv.addr.port(),
        addr: srv.addr.ip(),
    });
    let url = format!("https://{host}:{}{path}", srv.addr.port());
    support::engine::spec(&url, 0, options)
}

async fn run(s: FetchSpec) -> FetchRecord {
    fetch_one(s).await
}

#[tokio::test]
async fn phases_are_present_ordered_and_bytes_exact() {
    for alpn in [&["h2"][..], &["http/1.1"][..]] {
        let srv = TestServer::start(Mode::Normal, NAMES, alpn).await;
        let r = run(spec(&srv, "localhost", "/bytes/300000")).await;
        assert_eq!(r.error, None, "{r:?}");
        assert_eq!(r.status, Some(200));
        assert_eq!(r.body_bytes, 300_000);
        assert_eq!(r.dns_ms.unwrap().0, 0.0, "resolve override skips DNS");
        assert_eq!(r.dns_override.as_deref(), Some("resolve"));
        let (tcp, tls, ttfb) = (
            r.tcp_ms.unwrap().0,
            r.tls_ms.unwrap().0,
            r.ttfb_ms.unwrap().0,
        );
        let (transfer, total) = (r.transfer_ms.unwrap().0, r.total_ms.unwrap().0);
        assert!(tcp > 0.0 && tls > 0.0 && ttfb > 0.0 && transfer >= 0.0);
        assert!(tcp + tls + ttfb + transfer <= total + 0.01, "{r:?}");
        let want = if alpn[0] == "h2" { "2" } else { "1.1" };
        assert_eq!(r.http_version.as_deref(), Some(want));
        assert_eq!(r.alpn.as_deref(), Some(alpn[0]));
        assert_eq!(r.tls_version.as_deref(), Some("TLSv1.3"));
        assert!(r.cipher.is_some());
        assert_eq!(r.addr.as_deref(), Some(srv.addr.to_string().as_str()));
        let down: u64 = r
            .timeline
            .iter()
            .filter(|w| w.direction == Direction::Down)
            .map(|w| w.bytes)
            .sum();
        assert_eq!(down, 300_000, "timeline windows add up to the body");
        assert!(r.tcp_rtt_ms.is_some() && r.tcp_retrans.is_some());
        assert_eq!(r.direction, Direction::Down);
        assert_eq!(r.object_bytes, Some(300_000), "from Content-Length");
        assert_eq!((r.method.as_str(), r.controls.as_str()), ("GET", ""));
    }
}

#[tokio::test]
async fn paced_server_gives_steady_rate_within_5_percent() {
    let srv = TestServer::start(Mode::Normal, NAMES, &["h2", "http/1.1"]).await;
    let rate = 1024 * 1024; // bytes per second
    let r = run(spec(
        &srv,
        "localhost",
        &format!("/bytes/{}?rate={rate}", 3 * rate),
    ))
    .await;
    assert_eq!(r.error, None);
    let steady = r.steady_bps.expect("steady rate") as f64;
    let want = rate as f64 * 8.0;
    assert!(
        (steady / want - 1.0).abs() < 0.05,
        "steady {steady} vs {want}"
    );
    let goodput = r.goodput_bps.unwrap() as f64;
    assert!((goodput / want - 1.0).abs() < 0.10, "goodput {goodput}");
    assert!(r.peak_window_bps.unwrap() as f64 >= steady * 0.9);
}

#[tokio::test]
async fn max_time_caps_with_bytes_so_far() {
    let srv = TestServer::start(Mode::Normal, NAMES, &["http/1.1"]).await;
    let mut s = spec(&srv, "localhost", "/bytes/2000000?rate=200000");
    s.options.max_time = Duration::from_millis(1200);
    let r = run(s).await;
    assert_eq!(r.capped, Some(Capped::Time));
    assert_eq!(r.error, None, "a cap is data, not an error");
    assert!(
        r.body_bytes > 100_000 && r.body_bytes < 300_000,
        "{}",
        r.body_bytes
    );
    assert!(r.total_ms.unwrap().0 < 1500.0);
}

#[tokio::test]
async fn max_bytes_caps() {
    let srv = TestServer::start(Mode::Normal, NAMES, &["h2"]).await;
    let mut s = spec(&srv, "localhost", "/bytes/5000000");
    s.options.max_bytes = 1_000_000;
    let r = run(s).await;
    assert_eq!(r.capped, Some(Capped::Bytes));
    assert!(r.body_bytes >= 1_000_000 && r.body_bytes < 1_500_000);
}

#[tokio::test]
async fn connection_refused_is_classified() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    let url = format!("https://127.0.0.1:{port}/");
    let mut s = support::engine::spec(&url, 0, FetchOptions::default());
    s.group = Group::Control;
    let r = run(s).await;
    assert_eq!(r.error.as_deref(), Some("connection_refused"));
    assert_eq!(r.error_phase, Some(Phase::Tcp));
    assert_eq!(r.dns_override.as_deref(), Some("literal"));
    assert!(r.tls_ms.is_none(), "unknown is empty, not 0");
}

#[tokio::test]
async fn reset_mid_body_keeps_its_bytes() {
    let srv = TestServer::start(Mode::ResetAfter(40_000), NAMES, &["http/1.1"]).await;
    let r = run(spec(&srv, "localhost", "/x.jpg")).await;
    assert_eq!(r.error.as_deref(), Some("connection_reset"), "{r:?}");
    assert_eq!(r.error_phase, Some(Phase::Body));
    assert_eq!(r.body_bytes, 40_000);
    assert_eq!(r.status, Some(200));
    assert_eq!(
        r.object_bytes,
        Some(10_000_000),
        "the size it set out to move"
    );
}

#[tokio::test]
async fn stall_before_headers_times_out_in_headers_phase() {
    let srv = TestServer::start(Mode::StallHeaders, NAMES, &["http/1.1"]).await;
    let mut s = spec(&srv, "localhost", "/");
    s.options.ttfb_timeout = Duration::from_millis(400);
    let r = run(s).await;
    assert_eq!(r.error.as_deref(), Some("generic_timeout_error"));
    assert_eq!(r.error_phase, Some(Phase::Headers));
    assert!(r.ttfb_ms.is_none());
}

#[tokio::test]
async fn untrusted_certificate_and_wrong_name_are_classified() {
    let srv = TestServer::start(Mode::Normal, NAMES, &["h2"]).await;
    let mut s = spec(&srv, "localhost", "/bytes/10");
    s.options.cacert.clear();
    let r = run(s).await;
    assert_eq!(r.error.as_deref(), Some("ssl_unknown_authority"));
    assert_eq!(r.error_phase, Some(Phase::Tls));

    let r = run(spec(&srv, "wrong.example", "/bytes/10")).await;
    assert_eq!(r.error.as_deref(), Some("ssl_invalid_hostname"));
    assert_eq!(r.error_phase, Some(Phase::Tls));

    // insecure skips verification: the same fetch succeeds.
    let mut s = spec(&srv, "wrong.example", "/bytes/10");
    s.options.insecure = true;
    assert_eq!(run(s).await.error, None);
}

#[tokio::test]
async fn sni_host_override_and_no_sni_reach_the_server_as_sent() {
    for alpn in ["h2", "http/1.1"] {
        let srv = TestServer::start(Mode::Normal, NAMES, &[alpn]).await;
        let mut s = spec(&srv, "localhost", "/bytes/10");
        s.sni = Some("pbs.twimg.com".into());
        s.host = Some("example.org".into());
        let r = run(s).await;
        assert_eq!(r.error, None, "{r:?}");
        assert_eq!(r.sni, "pbs.twimg.com");
        assert_eq!(r.host, "example.org");
        let mut s = spec(&srv, "localhost", "/bytes/10");
        s.sni = Some(String::new());
        let r = run(s).await;
        assert_eq!(r.error, None, "{r:?}");
        assert_eq!(r.sni, "");
        let seen = srv.seen();
        assert_eq!(seen[0].sni.as_deref(), Some("pbs.twimg.com"));
        assert_eq!(seen[0].host.as_deref(), Some("example.org"));
        assert_eq!(seen[1].sni, None, "no SNI sent");
        let port = srv.addr.port();
        assert_eq!(seen[1].host, Some(format!("localhost:{port}")));
    }
}

#[tokio::test]
async fn every_fetch_is_a_full_handshake() {
    let srv = TestServer::start(Mode::Normal, NAMES, &["h2"]).await;
    let p = Prepared::new(spec(&srv, "localhost", "/bytes/1000")).unwrap();
    for _ in 0..3 {
        assert_eq!(fetch(&p).await.error, None);
    }
    assert_eq!(srv.seen().len(), 3);
    assert!(srv.seen().iter().all(|s| !s.resumed), "{:?}", srv.seen());

    // Control: a client that allows resumption does resume against this
    // server, so the assertion above could fail.
    let cfg = client_config(srv.pki.root_store(), &["h2"], true);
    let connector = tokio_rustls::TlsConnector::from(cfg);
    for _ in 0..2 {
        use tokio::io::AsyncReadExt;
        let tcp = tokio::net::TcpStream::connect(srv.addr).await.unwrap();
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let mut tls = connector.connect(name, tcp).await.unwrap();
        // Read briefly so the session ticket is processed.
        let mut buf = [0u8; 64];
        let _ = tokio::time::timeout(Duration::from_millis(200), tls.read(&mut buf)).await;
    }
    assert!(srv.seen()[4].resumed, "control client should resume");
}

#[tokio::test]
async fn redirects_are_recorded_not_followed() {
    let srv = TestServer::start(Mode::Normal, NAMES, &["http/1.1"]).await;
    let r = run(spec(&srv, "localhost", "/redirect")).await;
    assert_eq!(r.status, Some(302));
    assert_eq!(r.location.as_deref(), Some("https://example.org/elsewhere"));
    assert_eq!(srv.seen().len(), 1);
}

#[tokio::test]
async fn upload_counts_acknowledged_bytes() {
    for alpn in ["h2", "http/1.1"] {
        let srv = TestServer::start(Mode::Normal, NAMES, &[alpn]).await;
        let mut s = spec(&srv, "localhost", "/upload");
        s.method = Method::Post;
        s.upload = 1 << 20;
        s.controls = vec!["cdn".into(), "static".into()];
        let r = run(s).await;
        assert_eq!(r.error, None, "{r:?}");
        assert_eq!(r.status, Some(200));
        assert_eq!(r.upload_bytes, 1 << 20);
        assert_eq!(r.direction, Direction::Up);
        assert_eq!(r.object_bytes, Some(1 << 20));
        assert_eq!(r.controls, "cdn;static");
        let up: Vec<_> = r
            .timeline
            .iter()
            .filter(|w| w.direction == Direction::Up)
            .collect();
        assert!(!up.is_empty());
        assert_eq!(
            up.last().unwrap().cum_bytes,
            1 << 20,
            "acknowledged body bytes, without the request head"
        );
        assert!(r.upload_bps.is_some());
    }
}

#[tokio::test]
async fn upload_response_timeout_starts_once_the_body_is_acknowledged() {
    // The server reads the head, then never answers. A body its kernel
    // buffers take whole is acknowledged at once: the response timeout runs
    // from there and fires in phase `headers`, long before max_time.
    let srv = TestServer::start(Mode::StallHeaders, NAMES, &["http/1.1"]).await;
    let mut s = spec(&srv, "localhost", "/upload");
    s.method = Method::Post;
    s.upload = 50_000;
    s.options.ttfb_timeout = Duration::from_millis(400);
    s.options.max_time = Duration::from_secs(5);
    let r = run(s).await;
    assert_eq!(r.error.as_deref(), Some("generic_timeout_error"), "{r:?}");
    assert_eq!(r.error_phase, Some(Phase::Headers));
    assert_eq!(r.capped, None);
    assert_eq!(r.upload_bytes, 50_000);
    assert!(r.total_ms.unwrap().0 < 3000.0, "{:?}", r.total_ms);
}

#[tokio::test]
async fn upload_the_peer_stops_acknowledging_is_capped_with_the_acked_bytes() {
    // A body far larger than the server's receive buffer, never read: the
    // acknowledgements stop when that buffer is full. The fetch is still
    // sending when max_time fires, so it is capped data, not an error, and
    // counts only what the peer acknowledged.
    let srv = TestServer::start(Mode::StallHeaders, NAMES, &["http/1.1"]).await;
    let mut s = spec(&srv, "localhost", "/upload");
    s.method = Method::Post;
    s.upload = 64 << 20;
    s.options.ttfb_timeout = Duration::from_millis(300);
    s.options.max_time = Duration::from_millis(1500);
    let r = run(s).await;
    assert_eq!(r.error, None, "{r:?}");
    assert_eq!(r.capped, Some(Capped::Time));
    assert_eq!(r.object_bytes, Some(64 << 20));
    assert!(
        r.upload_bytes > 0 && r.upload_bytes < 32 << 20,
        "{}",
        r.upload_bytes
    );
}

/// An h2 body cut short by a clean close is `eof_error` in the body phase,
/// as with HTTP/1.1 — both with TLS close_notify + FIN and with a bare FIN
/// (it used to be `connection_reset` and `unknown_failure: peer closed …`).
#[tokio::test]
async fn h2_body_cut_by_clean_close_is_eof_error() {
    for close_notify in [true, false] {
        let mode = Mode::H2CutBody {
            n: 5000,
            close_notify,
        };
        let srv = TestServer::start(mode, NAMES, &["h2"]).await;
        let r = run(spec(&srv, "localhost", "/cut.jpg")).await;
        assert_eq!(r.http_version.as_deref(), Some("2"), "{r:?}");
        assert_eq!(r.status, Some(200));
        assert_eq!(
            r.error.as_deref(),
            Some("eof_error"),
            "{close_notify}: {r:?}"
        );
        assert_eq!(r.error_phase, Some(Phase::Body));
        assert_eq!(r.body_bytes, 5000);
        assert_eq!(r.object_bytes, Some(10_000_000));
    }
}

/// Issue 19: an h2 response aborted mid-body by the peer gets an OONI-style
/// name of its own — `http2_stream_reset` for RST_STREAM, `http2_goaway` for
/// GOAWAY — in the body phase with the bytes it got (it used to be
/// `unknown_failure: error reading a body from connection: stream error
/// received: unexpected internal error encountered`).
#[tokio::test]
async fn h2_reset_and_goaway_mid_body_are_named() {
    for (goaway, want) in [(false, "http2_stream_reset"), (true, "http2_goaway")] {
        let srv = TestServer::start(Mode::H2AbortBody { n: 5000, goaway }, NAMES, &["h2"]).await;
        let mut s = spec(&srv, "localhost", "/cut.jpg");
        // The server keeps the connection open: a wrong name must not hide
        // behind a long wait.
        s.options.max_time = Duration::from_secs(5);
        let r = run(s).await;
        assert_eq!(r.http_version.as_deref(), Some("2"), "{r:?}");
        assert_eq!(r.status, Some(200));
        assert_eq!(r.error.as_deref(), Some(want), "{r:?}");
        assert_eq!(r.error_phase, Some(Phase::Body));
        assert_eq!(r.body_bytes, 5000);
    }
}
