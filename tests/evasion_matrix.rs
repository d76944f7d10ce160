//! The evasion matrix per lab mode, as the middlebox classifies it: each
//! A/B variant fetched through the lab middlebox to `slowlane serve`, and
//! whether the name rule caught the connection. The throughput side (the
//! same matrix out of `analyze`) is the long study in `reflector_lab.rs`.
//! Loopback only.

// One lab at a time (`support::lab::one_lab`): each test has its own
// runtime, so holding the guard across awaits blocks only its own thread.
#![allow(clippy::await_holding_lock)]

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use slowlane::serve::Reflector;
use slowlane::testbed::middlebox::{self, Middlebox, MiddleboxConfig};
use slowlane::testbed::{ConnLog, Scenario};
use slowlane::types::{FetchOptions, Wire};
use support::engine::{fetch_one, spec};
use support::lab::{one_lab, reflector};

fn middlebox_for(s: &Scenario, refl: &Reflector) -> Middlebox {
    let mut cfg = MiddleboxConfig::new(s.rules.clone(), refl.local_addr(), refl.local_addr());
    cfg.reassemble = s.reassemble;
    cfg.inspect = s.inspect;
    Middlebox::start(
        middlebox::listen(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap(),
        cfg,
    )
}

/// One small fetch of `name` as `variant` through `mb`; the middlebox's
/// record of that connection.
async fn through(mb: &Middlebox, refl: &Reflector, name: &str, variant: &str) -> ConnLog {
    let wire: Wire = variant.parse().unwrap();
    let (sni, host) = wire.names(name);
    let options = FetchOptions {
        wire,
        pin: Some(refl.pin()),
        max_time: Duration::from_secs(5),
        ..FetchOptions::default()
    };
    let mut s = spec(
        &format!("https://{}/bytes/3000", mb.local_addr()),
        0,
        options,
    );
    (s.sni, s.host) = (Some(sni), Some(host));
    let rec = fetch_one(s).await;
    assert_eq!(rec.error, None, "{name} {variant}: {rec:?}");
    assert_eq!(rec.body_bytes, 3000, "{name} {variant}");
    mb.connections().pop().unwrap()
}

/// Every variant: (name, whether the name rule (rule 0) must catch it).
async fn matrix(scenario: &str, name: &str, caught: &[(&str, bool)]) {
    let _lab = one_lab();
    let dir = tempfile::tempdir().unwrap();
    let s = Scenario::builtin(scenario).unwrap();
    let refl = reflector(dir.path()).await;
    let mb = middlebox_for(&s, &refl);
    let mut wrong = Vec::new();
    for (variant, want) in caught {
        let c = through(&mb, &refl, name, variant).await;
        if (c.rule == Some(0)) != *want {
            wrong.push(format!("{variant}: caught={} (saw {:?})", !want, c.name));
        }
        // Under a control name no variant is caught.
        let c = through(&mb, &refl, "example.com", variant).await;
        assert_ne!(c.rule, Some(0), "{scenario} control {variant}");
    }
    assert!(wrong.is_empty(), "{scenario}: {wrong:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twitter_2021_reads_one_segment_and_one_record() {
    matrix(
        "twitter-2021",
        "pbs.twimg.com",
        &[
            ("plain", true),
            ("split-hello", false),
            ("split:1", false),
            ("split:2", false),
            ("split:sni", false),
            ("tls-records", false),
            ("disorder", false),
            ("oob", true),
            ("trailing-dot", false),
            ("upper-case", true),
            ("no-sni", false),
            ("pad", false),
            ("ccs-first", false),
            ("junk-first", false),
            ("pq", false),
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tspu_2025_reassembles_beyond_byte_2() {
    matrix(
        "tspu-2025",
        "rr1.googlevideo.com",
        &[
            ("plain", true),
            ("split-hello", true),
            ("split:1", false),
            ("split:2", false),
            ("split:3", true),
            ("split:sni", true),
            ("tls-records", false),
            ("disorder", true),
            ("oob", false),
            ("trailing-dot", false),
            ("upper-case", true),
            ("no-sni", false),
            ("pad", true),
            ("ccs-first", true),
            ("junk-first", true),
            ("pq", true),
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sticky_state_catches_later_connections_to_the_address() {
    let _lab = one_lab();
    let dir = tempfile::tempdir().unwrap();
    let s = support::lab::scenario(
        "[[rule]]\nmatch = \"domain:twimg.com\"\nsticky = \"30s\"\n\
         down = { action = \"police\", rate = 131072, burst = \"8KiB\" }\n",
        false,
    );
    let refl = reflector(dir.path()).await;
    let mb = middlebox_for(&s, &refl);
    let before = through(&mb, &refl, "example.com", "plain").await;
    assert_eq!((before.rule, before.sticky), (None, false));
    let t = through(&mb, &refl, "pbs.twimg.com", "plain").await;
    assert_eq!((t.rule, t.sticky), (Some(0), false));
    // Any name, even none, to the same address now gets the rule.
    for (name, variant) in [("example.com", "plain"), ("pbs.twimg.com", "no-sni")] {
        let c = through(&mb, &refl, name, variant).await;
        assert_eq!((c.rule, c.sticky), (Some(0), true), "{name} {variant}");
    }
}
