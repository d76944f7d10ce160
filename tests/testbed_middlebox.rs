//! The middlebox end to end: rates, failure modes and split hellos, measured
//! by a plain tokio(-rustls) client on loopback.

mod support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use slowlane::testbed::{Action, Scenario};
use support::client::*;
use support::lab::*;

const POLICE_BPS: f64 = 131072.0;

fn within(measured: f64, want: f64, tol: f64) -> bool {
    (measured / want - 1.0).abs() <= tol
}

#[tokio::test]
async fn policed_download_converges_to_the_rate() {
    let (lab, _dir) = lab(&Scenario::builtin("twitter-2021").unwrap()).await;
    let conn = tcp(lab.middlebox_addr()).await;
    let local = conn.local_addr().unwrap();
    let mut s = tls(conn, "pbs.twimg.com", lab.pki().root_store())
        .await
        .unwrap();
    let t = request(
        &mut s,
        "pbs.twimg.com",
        "/image/2000000.jpg",
        0,
        Duration::from_secs(4),
    )
    .await;
    assert_eq!(t.status, Some(200));
    assert!(t.capped && t.error.is_none(), "{t:?}");
    let steady = t.steady_bps().unwrap();
    eprintln!("policed steady: {steady:.0} bit/s");
    assert!(within(steady, POLICE_BPS, 0.05), "steady {steady:.0} bit/s");
    let c = conn_of(&lab, local);
    assert_eq!(c.name.as_deref(), Some("pbs.twimg.com"));
    assert!(matches!(c.down, Action::Police { .. }));
    // Bursts then stalls: some 100 ms windows carry nothing at all.
    let idle = (1..39)
        .filter(|k| {
            let (a, b) = (*k as f64 * 0.1, (*k + 1) as f64 * 0.1);
            !t.samples.iter().any(|s| s.0 > a && s.0 <= b)
        })
        .count();
    assert!(
        idle >= 20,
        "a policer stalls between bursts; idle windows: {idle}"
    );
}

#[tokio::test]
async fn shaped_download_is_paced_at_the_rate() {
    let rules = r#"[[rule]]
match = "*.twimg.com"
down = { action = "shape", rate = "1Mbit", queue = "64KiB" }"#;
    let (lab, _dir) = lab(&scenario(rules, false)).await;
    let mut s = tls(
        tcp(lab.middlebox_addr()).await,
        "video.twimg.com",
        lab.pki().root_store(),
    )
    .await
    .unwrap();
    let t = request(
        &mut s,
        "video.twimg.com",
        "/video/2000000.mp4",
        0,
        Duration::from_secs(3),
    )
    .await;
    assert!(t.capped && t.error.is_none(), "{t:?}");
    let steady = t.steady_bps().unwrap();
    eprintln!("shaped steady: {steady:.0} bit/s");
    assert!(within(steady, 1e6, 0.05), "steady {steady:.0} bit/s");
}

#[tokio::test]
async fn free_names_pass_at_full_speed() {
    let (lab, _dir) = lab(&Scenario::builtin("twitter-2021").unwrap()).await;
    for host in ["twitter.com", "cdn.example.net"] {
        let mut s = tls(
            tcp(lab.middlebox_addr()).await,
            host,
            lab.pki().root_store(),
        )
        .await
        .unwrap();
        let t = request(
            &mut s,
            host,
            "/image/2000000.jpg",
            0,
            Duration::from_secs(10),
        )
        .await;
        assert!(!t.capped && t.error.is_none(), "{t:?}");
        assert_eq!(t.body, 2_000_000);
        assert!(
            t.mean_bps() >= 20.0 * POLICE_BPS,
            "{host}: {:.0} bit/s",
            t.mean_bps()
        );
    }
}

#[tokio::test]
async fn upload_is_throttled_independently_of_download() {
    let rules = r#"[[rule]]
match = "up.twimg.com"
up = { action = "police", rate = 131072, burst = "4KiB" }"#;
    let (lab, _dir) = lab(&scenario(rules, false)).await;
    let roots = lab.pki().root_store();

    let tcp1 = tcp(lab.middlebox_addr()).await;
    let fd = std::os::fd::AsRawFd::as_raw_fd(&tcp1);
    let local = tcp1.local_addr().unwrap();
    let mut s = tls(tcp1, "up.twimg.com", roots.clone()).await.unwrap();
    let forwarded = conn_of(&lab, local).counters;
    // What the middlebox passes to the origin, sampled every 100 ms.
    let sampler = async {
        let mut t = Transfer::default();
        let start = tokio::time::Instant::now();
        for _ in 0..40 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let n = forwarded.up.load(Ordering::Relaxed);
            t.samples.push((start.elapsed().as_secs_f64(), n));
        }
        t.elapsed = start.elapsed().as_secs_f64();
        t
    };
    let upload = request_with(
        &mut s,
        "up.twimg.com",
        "/upload",
        2_000_000,
        Some(fd),
        Duration::from_secs(4),
    );
    let (origin_side, client_side) = tokio::join!(sampler, upload);
    let steady = origin_side.steady_bps().unwrap();
    eprintln!("upload steady (relay side): {steady:.0} bit/s");
    assert!(
        within(steady, POLICE_BPS, 0.05),
        "upload steady {steady:.0} bit/s"
    );
    // The client's own view (bytes acked) is throttled too: it sees the
    // limiter plus the relay's small receive buffer.
    assert!(client_side.capped, "{client_side:?}");
    assert!(client_side.mean_bps() < 4.0 * POLICE_BPS, "{client_side:?}");

    // Same name, same rule: the download direction is untouched.
    let mut s = tls(tcp(lab.middlebox_addr()).await, "up.twimg.com", roots)
        .await
        .unwrap();
    let down = request(
        &mut s,
        "up.twimg.com",
        "/image/2000000.jpg",
        0,
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(down.body, 2_000_000);
    assert!(
        down.mean_bps() >= 20.0 * POLICE_BPS,
        "{:.0}",
        down.mean_bps()
    );
}

#[tokio::test]
async fn plain_http_is_classified_by_host() {
    let (lab, _dir) = lab(&Scenario::builtin("twitter-2021").unwrap()).await;
    let mut s = tcp(lab.middlebox_addr()).await;
    let local = s.local_addr().unwrap();
    let t = request(
        &mut s,
        "pbs.twimg.com",
        "/image/2000000.jpg",
        0,
        Duration::from_secs(2),
    )
    .await;
    assert_eq!(t.status, Some(200));
    assert!(t.capped);
    assert!(t.mean_bps() < 3.0 * POLICE_BPS, "{:.0}", t.mean_bps());
    let c = conn_of(&lab, local);
    assert!(!c.tls);
    assert_eq!(c.name.as_deref(), Some("pbs.twimg.com"));
}

#[tokio::test]
async fn freeze_after_stops_without_reset() {
    let (lab, _dir) = lab(&Scenario::builtin("freeze").unwrap()).await;
    let conn = tcp(lab.middlebox_addr()).await;
    let local = conn.local_addr().unwrap();
    let mut s = tls(conn, "pbs.twimg.com", lab.pki().root_store())
        .await
        .unwrap();
    let t = request(
        &mut s,
        "pbs.twimg.com",
        "/image/600000.jpg",
        0,
        Duration::from_secs(2),
    )
    .await;
    // Still open, no error: the client only gives up on its own clock.
    assert!(t.capped && t.error.is_none(), "{t:?}");
    // Headers got through; the body stops inside the first 16 KiB (a
    // client only sees whole TLS records, so possibly at 0).
    assert_eq!(t.status, Some(200));
    assert!(t.body < 16384, "body {}", t.body);
    let c = conn_of(&lab, local);
    assert_eq!(c.counters.down.load(Ordering::Relaxed), 16384);
}

#[tokio::test]
async fn reset_after_hello_is_a_connection_reset() {
    let (lab, _dir) = lab(&Scenario::builtin("reset").unwrap()).await;
    let conn = tcp(lab.middlebox_addr()).await;
    let local = conn.local_addr().unwrap();
    let err = tls(conn, "pbs.twimg.com", lab.pki().root_store())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset, "{err}");
    assert_eq!(conn_of(&lab, local).counters.up.load(Ordering::Relaxed), 0);
    // A control name on the same box is untouched.
    let mut s = tls(
        tcp(lab.middlebox_addr()).await,
        "example.org",
        lab.pki().root_store(),
    )
    .await
    .unwrap();
    let t = request(
        &mut s,
        "example.org",
        "/text/30000",
        0,
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(t.body, 30000);
}

#[tokio::test]
async fn reset_mid_body_keeps_the_bytes_before_it() {
    let rules = r#"[[rule]]
match = "*.twimg.com"
down = { action = "reset_after", bytes = 40000 }"#;
    let (lab, _dir) = lab(&scenario(rules, false)).await;
    let mut s = tls(
        tcp(lab.middlebox_addr()).await,
        "pbs.twimg.com",
        lab.pki().root_store(),
    )
    .await
    .unwrap();
    let t = request(
        &mut s,
        "pbs.twimg.com",
        "/image/600000.jpg",
        0,
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(t.error, Some(std::io::ErrorKind::ConnectionReset), "{t:?}");
    assert!(t.body > 30000 && t.body < 40000, "body {}", t.body);
}

#[tokio::test]
async fn blackhole_never_answers_the_handshake() {
    for dir in ["up", "down"] {
        let rules =
            format!("[[rule]]\nmatch = \"*.twimg.com\"\n{dir} = {{ action = \"blackhole\" }}");
        let (lab, _tmp) = lab(&scenario(&rules, false)).await;
        let hs = tls(
            tcp(lab.middlebox_addr()).await,
            "pbs.twimg.com",
            lab.pki().root_store(),
        );
        let r = tokio::time::timeout(Duration::from_millis(1500), hs).await;
        assert!(r.is_err(), "{dir}: the handshake must hang, got {r:?}");
    }
}

#[tokio::test]
async fn split_hello_escapes_unless_reassembled() {
    for reassemble in [false, true] {
        let s = Scenario::builtin("twitter-2021").unwrap();
        let s = Scenario { reassemble, ..s };
        let (lab, _dir) = lab(&s).await;
        let conn = tcp(lab.middlebox_addr()).await;
        let local = conn.local_addr().unwrap();
        // 20 bytes, a pause, the rest: two TCP segments, SNI in the second.
        let split = SplitFirstWrite::new(conn, 20, Duration::from_millis(100));
        let mut s = tls(split, "pbs.twimg.com", lab.pki().root_store())
            .await
            .unwrap();
        let t = request(
            &mut s,
            "pbs.twimg.com",
            "/image/600000.jpg",
            0,
            Duration::from_secs(2),
        )
        .await;
        let c = conn_of(&lab, local);
        if reassemble {
            assert_eq!(c.name.as_deref(), Some("pbs.twimg.com"));
            assert!(t.capped, "reassembled hello must be policed");
        } else {
            assert_eq!(c.name, None);
            assert_eq!(t.body, 600_000, "split hello must pass unthrottled");
        }
    }
}
