//! QUIC in the lab: the UDP relay reads the SNI from the decrypted Initial
//! and polices or drops the flow; the youtube-2024 and quic-block scenarios
//! through the real `run` path; a reflector A/B over both transports.
//! Loopback only; every campaign is bounded in rounds and time.

mod support;

use std::path::Path;
use std::sync::Mutex;

use slowlane::analyze::{analyze_paths, AnalyzeOptions, Scope, Verdict, VerdictKind};
use slowlane::testbed::middlebox::{self, Middlebox, MiddleboxConfig};
use slowlane::testbed::udp::UdpRelay;
use slowlane::testbed::{Lab, Scenario};
use slowlane::types::{Direction, FetchRecord, Transport};
use support::engine::run_quiet;

/// One lab at a time in this file: QUIC over the user-space relay is
/// CPU-bound on loopback, so three labs side by side on two cores made a
/// clean QUIC control read half its rate (a false `inconclusive`) and bent
/// the 512 kbit/s plateau. Each test has its own runtime, so holding this
/// across awaits blocks only that test's thread.
static ONE_LAB: Mutex<()> = Mutex::new(());

fn one_lab() -> std::sync::MutexGuard<'static, ()> {
    ONE_LAB.lock().unwrap_or_else(|e| e.into_inner())
}

/// Run scenario `name`'s own campaign through a fresh lab; fetches and
/// verdicts.
async fn scenario_run(name: &str, dir: &Path) -> (Vec<FetchRecord>, Vec<Verdict>) {
    let s = Scenario::builtin(name).unwrap();
    let lab = Lab::start(&s, "127.0.0.1:0".parse().unwrap(), dir)
        .await
        .unwrap();
    let out = dir.join("out");
    let path = slowlane::testbed::write_demo_campaign(&s, &lab, &out, None).unwrap();
    let c = slowlane::config::load_campaign(&path).unwrap();
    let o = run_quiet(c).await;
    let fetches: Vec<FetchRecord> = csv::Reader::from_path(o.out.join("fetches.csv"))
        .unwrap()
        .deserialize()
        .map(|r| r.unwrap())
        .collect();
    let rows = analyze_paths(&[o.out], &AnalyzeOptions::default()).unwrap();
    eprintln!(
        "{}",
        slowlane::analyze::render(&rows, slowlane::analyze::Format::Text)
    );
    // The relay decided by the name it decrypted from the Initials.
    let flows = lab.quic_flows();
    assert!(
        flows
            .iter()
            .any(|f| f.sni.as_deref() == Some("rr1.googlevideo.com")),
        "{flows:?}"
    );
    (fetches, rows)
}

fn url_row<'a>(rows: &'a [Verdict], url: &str, t: Transport) -> &'a Verdict {
    rows.iter()
        .find(|v| v.scope == Scope::Url && v.url.contains(url) && v.transport == t)
        .unwrap_or_else(|| panic!("no url row {url} over {t}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[allow(clippy::await_holding_lock)]
async fn youtube_2024_one_name_two_transports_two_plateaus() {
    let _lab = one_lab();
    let dir = tempfile::tempdir().unwrap();
    let (fetches, rows) = scenario_run("youtube-2024", dir.path()).await;
    // Every URL was fetched over both transports, and every QUIC row really
    // went over QUIC (HTTP/3, no TCP phase).
    for t in [Transport::Tcp, Transport::Quic] {
        assert!(fetches.iter().any(|r| r.transport == t));
    }
    // No fetch of a name the relay does not police fails, over either
    // transport (a server's STOP_SENDING before our FIN once read as
    // `quic_stream_reset` on a clean control).
    for r in fetches.iter().filter(|r| r.sni != "rr1.googlevideo.com") {
        assert!(r.error.is_none(), "{r:?}");
    }
    for r in fetches.iter().filter(|r| r.transport == Transport::Quic) {
        assert!(r.tcp_ms.is_none(), "{r:?}");
        if r.error.is_none() {
            assert_eq!(r.http_version.as_deref(), Some("3"));
        }
    }
    // The issue's ±10% for both. TCP under a burst-less policer settles
    // smoothly; QUIC's body arrives at ~3% under the relay's 512 kbit/s of
    // UDP payload (QUIC headers, AEAD tags, frames) and its policed 4 s
    // fetches read 493–503 kbit/s over 11 runs (55 fetches, load 4–8).
    // Their own stated bound is wider ("smooth arrival over 3.7 s (±18%)"):
    // the one or two head-of-line stalls as slow start meets the relay's
    // FIFO (docs/testbed.md) widen the band of windows about the line, not
    // the slope. Two plateaus, not one: QUIC at least 3× TCP (4× set).
    let mut plateau = Vec::new();
    for (t, want, tol) in [
        (Transport::Tcp, 128_000.0, 0.10),
        (Transport::Quic, 512_000.0, 0.10),
    ] {
        let v = url_row(&rows, "rr1.googlevideo.com", t);
        assert_eq!(v.verdict, VerdictKind::Throttled, "{t}: {v:#?}");
        let p = v.plateau_bps.or(v.median_bps).unwrap();
        eprintln!("plateau over {t}: {p:.0} bit/s (set {want})");
        assert!((p / want - 1.0).abs() <= tol, "{t} plateau {p} vs {want}");
        plateau.push(p);
        let text = url_row(&rows, "www.youtube.com", t);
        assert_ne!(text.verdict, VerdictKind::Throttled, "{t}: {text:#?}");
    }
    assert!(plateau[1] >= 3.0 * plateau[0], "QUIC {plateau:?} vs TCP");
    for v in rows.iter().filter(|v| v.scope == Scope::Url && v.control) {
        // Five rounds of controls against each other: never a finding. (Not
        // necessarily `ok`: on a busy machine two clean 4 MB controls can
        // differ 3× and the honest answer is `inconclusive`.)
        assert!(
            !matches!(
                v.verdict,
                VerdictKind::Throttled | VerdictKind::Partial | VerdictKind::Blocked
            ),
            "{v:#?}"
        );
    }
    let summary = &rows
        .iter()
        .find(|v| v.scope == Scope::Class)
        .unwrap()
        .summary;
    assert!(summary.contains("video over TCP throttled"), "{summary}");
    assert!(summary.contains("video over QUIC throttled"), "{summary}");
}

/// The quic-block scenario end to end (about 16 s). Short variant in the plain suite: `quic_engine::no_answer_is_a_timeout_in_the_quic_phase_never_a_tcp_fallback`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[allow(clippy::await_holding_lock)]
#[ignore = "long lab study: cargo test -- --include-ignored"]
async fn a_quic_block_is_blocked_over_quic_and_tcp_is_unaffected() {
    let _lab = one_lab();
    let dir = tempfile::tempdir().unwrap();
    let (fetches, rows) = scenario_run("quic-block", dir.path()).await;
    for r in fetches
        .iter()
        .filter(|r| r.url.contains("googlevideo") && r.transport == Transport::Quic)
    {
        assert_eq!(r.error.as_deref(), Some("generic_timeout_error"), "{r:?}");
        assert_eq!(r.error_phase, Some(slowlane::types::Phase::Quic));
        assert!(r.initial_packets.unwrap() >= 1, "{r:?}");
    }
    let quic = url_row(&rows, "rr1.googlevideo.com", Transport::Quic);
    assert_eq!(quic.verdict, VerdictKind::Blocked, "{quic:#?}");
    let tcp = url_row(&rows, "rr1.googlevideo.com", Transport::Tcp);
    assert!(support::analyze::clean_verdict(tcp), "{tcp:#?}");
    assert_eq!(tcp.n_failed, 0);
}

/// A reflector A/B over both transports (about 16 s). Short variant in the plain suite: `quic_engine::every_h3_fetch_is_a_fresh_full_handshake_and_uploads_are_measured`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[allow(clippy::await_holding_lock)]
#[ignore = "long lab study: cargo test -- --include-ignored"]
async fn reflector_ab_compares_transports() {
    let _lab = one_lab();
    // The reflector behind the UDP relay only: QUIC to *.googlevideo.com is
    // policed to 512 kbit/s, TCP goes straight to the reflector.
    let dir = tempfile::tempdir().unwrap();
    let refl = support::lab::reflector(dir.path()).await;
    let rules = Scenario::parse(
        "name = \"q\"\ndescription = \"\"\n\
         [[rule]]\nmatch = \"*.googlevideo.com\"\ntransport = \"quic\"\n\
         down = { action = \"police\", rate = \"512kbit\", burst = \"32KiB\" }\n\
         [campaign]\nrounds = 1\nconcurrency = 1\nmax_time = \"1s\"\n\
         [[campaign.url]]\nurl = \"https://a.example/\"\nclass = \"text\"\n\
         group = \"control\"\nlabel = \"x\"\n",
    )
    .unwrap()
    .rules;
    // One port for both, as in the lab: the TCP middlebox (no TCP rule:
    // everything passes) and the UDP relay on the same port number.
    let cfg = MiddleboxConfig::new(rules.clone(), refl.local_addr(), refl.local_addr());
    let mb = Middlebox::start(
        middlebox::listen("127.0.0.1:0".parse().unwrap()).unwrap(),
        cfg,
    );
    let _relay = UdpRelay::start(mb.local_addr(), refl.local_addr(), rules)
        .await
        .unwrap();
    let toml = format!(
        "name = \"ab-quic\"\nrounds = 5\nconcurrency = 4\nseed = 7\nout = \"out\"\n\
         [defaults]\nmax_time = \"3s\"\n\
         [[reflector]]\nid = \"lab\"\nurl = \"https://{}\"\npin = \"{}\"\n\
         names = [\"rr1.googlevideo.com\"]\ncontrols = [\"example.com\", \"random\"]\n\
         download = \"1MiB\"\nupload = \"\"\nclass = \"video\"\n\
         transport = [\"tcp\", \"quic\"]\n",
        mb.local_addr(),
        refl.pin(),
    );
    let path = dir.path().join("campaign.toml");
    std::fs::write(&path, toml).unwrap();
    let c = slowlane::config::load_campaign(&path).unwrap();
    let o = run_quiet(c).await;
    let rows = analyze_paths(&[o.out], &AnalyzeOptions::default()).unwrap();
    let ab: Vec<&Verdict> = rows.iter().filter(|v| v.scope == Scope::Ab).collect();
    eprintln!("{ab:#?}");
    let plain = |t: Transport| {
        ab.iter()
            .find(|v| {
                v.transport == t
                    && v.direction == Direction::Down
                    && v.label == "lab: rr1.googlevideo.com plain"
            })
            .unwrap_or_else(|| panic!("no plain row over {t}"))
    };
    assert_eq!(plain(Transport::Quic).verdict, VerdictKind::Throttled);
    assert_eq!(plain(Transport::Quic).trigger, "sni");
    assert_ne!(plain(Transport::Tcp).verdict, VerdictKind::Throttled);
    let s = &plain(Transport::Quic).summary;
    assert!(
        s.contains("rr1.googlevideo.com throttled over QUIC, not over TCP"),
        "{s}"
    );
}
