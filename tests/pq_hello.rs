//! `hello = "pq"`: a real X25519MLKEM768 key share, so the hello spans two
//! segments (the 2024 effect). Against the lab origin and `slowlane serve`
//! on loopback: the handshake completes with the hybrid group, the hello is
//! a share's size larger and leaves in two segments (the middlebox announces
//! MSS 1460), and a box that reads only the first segment (twitter-2021)
//! throttles the classic hello but not the pq one.

// One lab at a time (`support::lab::one_lab`).
#![allow(clippy::await_holding_lock)]

mod support;

use std::time::Duration;

use slowlane::probe::pq::CLIENT_SHARE_LEN;
use slowlane::testbed::{Lab, Scenario};
use slowlane::types::{FetchOptions, FetchRecord, Hello, Wire};
use support::engine::{fetch_one, spec};
use support::lab::{lab, one_lab, via_lab};

async fn get(lab: &Lab, hello: Hello) -> FetchRecord {
    let options = FetchOptions {
        hello,
        max_time: Duration::from_secs(10),
        tls_timeout: Duration::from_secs(3),
        ..via_lab(lab)
    };
    let rec = fetch_one(spec("https://pbs.twimg.com/image/20000.jpg", 0, options)).await;
    assert_eq!(rec.error, None, "{hello:?}: {rec:?}");
    assert_eq!(rec.body_bytes, 20000, "{hello:?}");
    rec
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pq_hello_spans_two_segments_and_escapes_a_first_segment_box() {
    let _lab = one_lab();
    let (lab, _dir) = lab(&Scenario::builtin("twitter-2021").unwrap()).await;

    let classic = get(&lab, Hello::Classic).await;
    let c = lab.connections().pop().unwrap();
    let pq = get(&lab, Hello::Pq).await;
    let p = lab.connections().pop().unwrap();

    // A real hybrid key exchange, taken by the lab origin.
    assert_eq!(classic.kx_group.as_deref(), Some("X25519"));
    assert_eq!(pq.kx_group.as_deref(), Some("X25519MLKEM768"));
    assert_eq!(pq.tls_version.as_deref(), Some("TLSv1.3"));
    // The share (4-byte entry header + 1,216 bytes) and its group in the
    // groups list; the X25519 share is in both hellos.
    let (cb, pb) = (classic.hello_bytes.unwrap(), pq.hello_bytes.unwrap());
    assert!(pb >= cb + 4 + CLIENT_SHARE_LEN as u64, "{cb} -> {pb}");
    // The record (5-byte header + message) does not fit one 1460-byte
    // segment (rustls's hello has no GREASE or padding: ~1,470 bytes, where
    // a browser's pq hello is ~1,800).
    assert!(pb + 5 > 1460, "{pb}");
    eprintln!("hello_bytes classic {cb}, pq {pb}");
    assert_eq!(classic.hello_segments, Some(1));
    assert_eq!(pq.hello_segments, Some(2));

    // The box read the name from the classic hello's one segment and
    // policed it; the pq hello's first segment ends before the name.
    assert_eq!(
        (c.name.as_deref(), c.rule),
        (Some("pbs.twimg.com"), Some(0))
    );
    assert_eq!(p.name, None, "{p:?}");
    assert_ne!(p.rule, Some(0));
    // And the times say so: 20 KB policed to 131 kbit/s (~1 s after an
    // 8 KiB burst) against a 100 Mbit/s link (milliseconds).
    let (ct, pt) = (classic.transfer_ms.unwrap().0, pq.transfer_ms.unwrap().0);
    eprintln!("transfer_ms classic {ct}, pq {pt}");
    assert!(ct > 5.0 * pt, "classic {ct} ms, pq {pt} ms");
}

#[tokio::test]
async fn the_reflector_takes_a_real_pq_share_for_the_pq_variant_and_hello() {
    let dir = tempfile::tempdir().unwrap();
    let refl = support::lab::reflector(dir.path()).await;
    let url = format!("https://{}/bytes/4000", refl.local_addr());
    let fetch = |wire: Wire, hello: Hello| {
        let mut s = spec(
            &url,
            0,
            FetchOptions {
                wire,
                hello,
                pin: Some(refl.pin()),
                max_time: Duration::from_secs(5),
                ..FetchOptions::default()
            },
        );
        s.sni = Some("pbs.twimg.com".into());
        fetch_one(s)
    };
    let classic = fetch(Wire::Plain, Hello::Classic).await;
    let by_key = fetch(Wire::Plain, Hello::Pq).await;
    let by_variant = fetch(Wire::Pq, Hello::Classic).await;
    for r in [&classic, &by_key, &by_variant] {
        assert_eq!(r.error, None, "{r:?}");
        assert_eq!(r.body_bytes, 4000);
        assert_eq!(r.server_sni.as_deref(), Some("pbs.twimg.com"));
        assert!(r.hello_segments.is_some());
    }
    assert_eq!(classic.kx_group.as_deref(), Some("X25519"));
    for r in [&by_key, &by_variant] {
        assert_eq!(r.kx_group.as_deref(), Some("X25519MLKEM768"), "{r:?}");
        let grown = r.hello_bytes.unwrap() - classic.hello_bytes.unwrap();
        assert!(grown >= 4 + CLIENT_SHARE_LEN as u64, "{grown}");
    }
    // The variant is the hello: same size on the wire.
    assert_eq!(by_key.hello_bytes, by_variant.hello_bytes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_hello_pq_flag_records_the_group_and_the_hello() {
    let dir = tempfile::tempdir().unwrap();
    let refl = support::lab::reflector(dir.path()).await;
    let (addr, pin) = (refl.local_addr(), refl.pin().to_string());
    let run = |hello: &'static str| {
        let pin = pin.clone();
        tokio::task::spawn_blocking(move || {
            support::bin::slowlane()
                .args(["fetch", "--format", "csv", "--max-time", "5s"])
                .args(["--pin", &pin, "--hello", hello])
                .arg(format!("https://{addr}/bytes/2000"))
                .output()
                .unwrap()
        })
    };
    let out = run("pq").await.unwrap();
    assert!(out.status.success(), "{out:?}");
    let mut r = csv::Reader::from_reader(&out.stdout[..]);
    let h = r.headers().unwrap().clone();
    let rec = r.records().next().unwrap().unwrap();
    let col = |n: &str| rec[h.iter().position(|x| x == n).unwrap()].to_string();
    assert_eq!(col("kx_group"), "X25519MLKEM768");
    assert_eq!(col("body_bytes"), "2000");
    assert_eq!(col("variant"), "");
    let bytes: u64 = col("hello_bytes").parse().unwrap();
    assert!(bytes > 4 + CLIENT_SHARE_LEN as u64, "{bytes}");
    assert!(!col("hello_segments").is_empty());
    let bad = run("kyber").await.unwrap();
    assert_eq!(bad.status.code(), Some(2), "{bad:?}");
    assert!(support::bin::text(&bad.stderr).contains("unknown hello"));
}

/// A server that reads the hello and hangs up (a box's reset): the row
/// still says what hello was sent.
#[tokio::test]
async fn a_failed_handshake_still_records_the_hello() {
    use tokio::io::AsyncReadExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.unwrap();
        let mut buf = vec![0u8; 8192];
        let _ = tokio::time::timeout(Duration::from_secs(3), tcp.read(&mut buf)).await;
    });
    let options = FetchOptions {
        hello: Hello::Pq,
        insecure: true,
        tls_timeout: Duration::from_secs(3),
        max_time: Duration::from_secs(5),
        ..FetchOptions::default()
    };
    let rec = fetch_one(spec(&format!("https://{addr}/"), 0, options)).await;
    server.await.unwrap();
    assert!(rec.error.is_some(), "{rec:?}");
    assert_eq!(
        rec.error_phase,
        Some(slowlane::types::Phase::Tls),
        "{rec:?}"
    );
    assert!(
        rec.hello_bytes.unwrap() > 4 + CLIENT_SHARE_LEN as u64,
        "{rec:?}"
    );
    // Loopback's MSS is ~64 KiB: one segment here.
    assert_eq!(rec.hello_segments, Some(1));
    assert_eq!(rec.kx_group, None);
}
