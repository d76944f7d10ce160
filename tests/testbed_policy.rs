//! Rules that model real paths: partial policy (`share`), one queue shared
//! by many connections (`shared`), and one-way delay (`delay`), measured
//! through the middlebox by a plain client on loopback.

mod support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use slowlane::testbed::{Action, Deck, Share};
use support::client::*;
use support::lab::*;
use tokio::time::Instant;

const PARTIAL: &str = r#"[[rule]]
match = "*.twimg.com"
share = 0.3
share_seed = 7
down = { action = "police", rate = 131072, burst = "8KiB" }
[[rule]]
match = "*"
down = { action = "shape", rate = "100Mbit", queue = "256KiB" }"#;

#[tokio::test]
async fn share_applies_the_rule_to_the_seeded_deck_and_logs_it() {
    let (lab, _dir) = lab(&scenario(PARTIAL, false)).await;
    // One connection at a time, so arrival order is the deck's order.
    let mut applied = Vec::new();
    for _ in 0..30 {
        let conn = tcp(lab.middlebox_addr()).await;
        let local = conn.local_addr().unwrap();
        tls(conn, "pbs.twimg.com", lab.pki().root_store())
            .await
            .unwrap();
        let c = conn_of(&lab, local);
        match c.rule {
            Some(0) => {
                assert!(c.declined.is_empty());
                assert!(matches!(c.down, Action::Police { .. }));
            }
            Some(1) => {
                assert_eq!(c.declined, vec![0]);
                assert!(matches!(c.down, Action::Shape { .. }));
            }
            other => panic!("rule {other:?}"),
        }
        applied.push(c.rule == Some(0));
    }
    for block in applied.chunks(10) {
        assert_eq!(block.iter().filter(|&&a| a).count(), 3, "{applied:?}");
    }
    let mut deck = Deck::new(Share::new(0.3, Some(7)).unwrap());
    let dealt: Vec<bool> = (0..30).map(|_| deck.draw()).collect();
    assert_eq!(applied, dealt, "share_seed makes the order reproducible");
    // A name only the catch-all matches draws no card.
    let conn = tcp(lab.middlebox_addr()).await;
    let local = conn.local_addr().unwrap();
    tls(conn, "localhost", lab.pki().root_store())
        .await
        .unwrap();
    let c = conn_of(&lab, local);
    assert_eq!((c.rule, c.declined.len()), (Some(1), 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn share_polices_exactly_the_connections_it_takes() {
    let unseeded = PARTIAL.replace("share_seed = 7\n", "");
    let (lab, _dir) = lab(&scenario(&unseeded, false)).await;
    let roots = lab.pki().root_store();
    let addr = lab.middlebox_addr();
    // Twenty fetches at once: two whole blocks of the deck.
    let mut fetches = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let roots = roots.clone();
        fetches.spawn(async move {
            let conn = tcp(addr).await;
            let local = conn.local_addr().unwrap();
            let mut s = tls(conn, "pbs.twimg.com", roots).await.unwrap();
            let t = request(
                &mut s,
                "pbs.twimg.com",
                "/image/100000.jpg",
                0,
                Duration::from_millis(1500),
            )
            .await;
            (local, t)
        });
    }
    let mut policed = 0;
    while let Some(r) = fetches.join_next().await {
        let (local, t) = r.unwrap();
        let c = conn_of(&lab, local);
        if c.rule == Some(0) {
            policed += 1;
            // 8 KiB at once, then 16 KiB/s: well under 100 kB in 1.5 s.
            assert!(t.capped && t.body < 50_000, "policed: {t:?}");
        } else {
            assert_eq!(t.body, 100_000, "free: {t:?}");
        }
    }
    assert_eq!(policed, 6, "30% of 20 connections");
}

const SHARED: &str = r#"[[rule]]
match = "*.twimg.com"
down = { action = "shape", rate = "1Mbit", queue = "125000", shared = true }"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_shaper_splits_one_rate_between_connections() {
    let (lab, _dir) = lab(&scenario(SHARED, false)).await;
    let roots = lab.pki().root_store();
    let open = |host: &'static str| {
        let roots = roots.clone();
        let addr = lab.middlebox_addr();
        async move {
            let conn = tcp(addr).await;
            let local = conn.local_addr().unwrap();
            (local, tls(conn, host, roots).await.unwrap())
        }
    };
    let (a_local, mut a) = open("pbs.twimg.com").await;
    let (b_local, mut b) = open("video.twimg.com").await;
    let (ca, cb) = (conn_of(&lab, a_local), conn_of(&lab, b_local));
    let sampler = async {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let sum =
            || ca.counters.down.load(Ordering::Relaxed) + cb.counters.down.load(Ordering::Relaxed);
        let (t0, s0) = (Instant::now(), sum());
        tokio::time::sleep(Duration::from_secs(2)).await;
        (sum() - s0) as f64 * 8.0 / t0.elapsed().as_secs_f64()
    };
    let max = Duration::from_secs(4);
    let (aggregate, ta, tb) = tokio::join!(
        sampler,
        request(&mut a, "pbs.twimg.com", "/image/2000000.jpg", 0, max),
        request(&mut b, "video.twimg.com", "/video/2000000.mp4", 0, max),
    );
    eprintln!(
        "shared shaper: aggregate {aggregate:.0} bit/s; a {:.0}, b {:.0} bit/s",
        ta.mean_bps(),
        tb.mean_bps()
    );
    assert!(
        (aggregate / 1e6 - 1.0).abs() <= 0.05,
        "two connections share one 1 Mbit/s queue: {aggregate:.0} bit/s"
    );
    // Both get a real share (they take turns), neither gets the whole rate.
    for t in [&ta, &tb] {
        assert!(t.capped, "{t:?}");
        assert!(
            t.mean_bps() > 0.25e6 && t.mean_bps() < 0.75e6,
            "{:.0}",
            t.mean_bps()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_queue_delays_a_new_connections_handshake() {
    let (lab, _dir) = lab(&scenario(SHARED, false)).await;
    let roots = lab.pki().root_store();
    let handshake = || {
        let roots = roots.clone();
        let addr = lab.middlebox_addr();
        async move {
            let conn = tcp(addr).await;
            let t0 = Instant::now();
            let s = tls(conn, "pbs.twimg.com", roots).await.unwrap();
            (t0.elapsed().as_secs_f64(), s)
        }
    };
    // Empty queue: the handshake is quick.
    let (idle, mut a) = handshake().await;
    // Fill the queue with a long download, then shake hands behind it.
    let busy = async {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let (busy, mut b) = handshake().await;
        let t = request(
            &mut b,
            "pbs.twimg.com",
            "/text/1000",
            0,
            Duration::from_secs(5),
        )
        .await;
        (busy, t)
    };
    let bulk = request(
        &mut a,
        "pbs.twimg.com",
        "/image/2000000.jpg",
        0,
        Duration::from_secs(5),
    );
    let ((busy, small), _) = tokio::join!(busy, bulk);
    let first_byte = small.samples.first().map(|s| s.0);
    eprintln!(
        "handshake idle {idle:.3} s, behind a full queue {busy:.3} s; first byte {first_byte:?}"
    );
    // queue / rate = 125000 B / 125000 B/s = 1 s.
    assert!(idle < 0.3, "idle handshake {idle:.3} s");
    assert!(
        (0.8..2.0).contains(&busy),
        "handshake behind a full 1 s queue took {busy:.3} s"
    );
    // The response waits behind the queue again.
    assert_eq!(small.body, 1000, "{small:?}");
    assert!(first_byte.unwrap() >= 0.8, "{small:?}");
}

#[tokio::test]
async fn delay_adds_round_trips_to_handshake_and_first_byte() {
    let rules = r#"[[rule]]
match = "*.twimg.com"
down = { action = "pass", delay = "50ms" }
up = { action = "pass", delay = "50ms" }"#;
    let (lab, _dir) = lab(&scenario(rules, false)).await;
    let roots = lab.pki().root_store();
    let mut seen = Vec::new();
    for host in ["pbs.twimg.com", "localhost"] {
        // Best of three: the floor is the model, the rest is scheduling.
        let (mut hs, mut fb) = (f64::MAX, f64::MAX);
        for _ in 0..3 {
            let conn = tcp(lab.middlebox_addr()).await;
            let local = conn.local_addr().unwrap();
            let t0 = Instant::now();
            let mut s = tls(conn, host, roots.clone()).await.unwrap();
            hs = hs.min(t0.elapsed().as_secs_f64());
            let t = request(&mut s, host, "/text/1000", 0, Duration::from_secs(5)).await;
            assert_eq!(t.body, 1000);
            fb = fb.min(t.samples[0].0);
            let c = conn_of(&lab, local);
            let want = if host == "pbs.twimg.com" { 50 } else { 0 };
            assert_eq!(c.down_delay, Duration::from_millis(want));
            assert_eq!(c.up_delay, Duration::from_millis(want));
        }
        seen.push((hs, fb));
    }
    let [(hs_d, fb_d), (hs_0, fb_0)] = seen[..] else {
        unreachable!()
    };
    eprintln!("handshake {hs_d:.3} vs {hs_0:.3} s, first byte {fb_d:.3} vs {fb_0:.3} s");
    // ClientHello up + server flight down: two one-way delays; the request
    // and its response: two more.
    assert!((0.09..0.25).contains(&(hs_d - hs_0)), "{hs_d} vs {hs_0}");
    assert!((0.09..0.25).contains(&(fb_d - fb_0)), "{fb_d} vs {fb_0}");

    // Bulk data is not held back by the delay line: 2 MB still arrives
    // far faster than any throttle the lab models.
    let mut s = tls(tcp(lab.middlebox_addr()).await, "pbs.twimg.com", roots)
        .await
        .unwrap();
    let t = request(
        &mut s,
        "pbs.twimg.com",
        "/image/2000000.jpg",
        0,
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(t.body, 2_000_000);
    assert!(t.mean_bps() > 20e6, "{:.0}", t.mean_bps());
}
