//! SIGTERM, SIGHUP and SIGINT stop a run without losing the fetches in
//! flight: they get a grace period, then are cut and written with
//! `capped = stop`; verdicts are written; the exit code names the signal.

mod support;

use std::path::Path;
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use slowlane::types::Capped;
use support::bin::*;
use support::unattended::*;

/// 20 s per fetch at 100 kB/s: still running whenever the signal comes.
const SLOW: [&str; 3] = [
    "/bytes/2000000?rate=100000",
    "/bytes/2000000?rate=100000",
    "/bytes/2000000?rate=100000",
];

fn spawn(camp: &Path, args: &[&str]) -> Child {
    run_cmd(camp, args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Wait until the run has started its fetches (campaign.json written, then
/// a moment for the connections), bounded.
fn wait_started(out: &Path) {
    wait_for_campaign_json(out);
    std::thread::sleep(Duration::from_millis(700));
}

fn signal(child: &Child, sig: i32) {
    let rc = unsafe { libc::kill(child.id() as i32, sig) };
    assert_eq!(rc, 0);
}

/// Wait for the child, killing it if it takes longer than `limit`.
fn finish(mut child: Child, limit: Duration) -> Output {
    let t = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if t.elapsed() > limit {
            let _ = child.kill();
            panic!("run did not stop within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn sigterm_cuts_in_flight_fetches_after_the_grace_and_writes_their_rows() {
    let srv = server();
    let dir = tempfile::tempdir().unwrap();
    let camp = campaign(dir.path(), &srv, "rounds = 5", SLOW);
    let out = dir.path().join("out");
    let child = spawn(&camp, &["--grace", "1s"]);
    wait_started(&out);
    signal(&child, libc::SIGTERM);
    let o = finish(child, Duration::from_secs(15));
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(143), "{err}");
    assert!(err.contains("SIGTERM: stopping"), "{err}");
    let rows = check_whole(&out);
    assert_eq!(rows.len(), 3, "one row per fetch in flight");
    for r in &rows {
        assert_eq!(r.capped, Some(Capped::Stop), "{r:?}");
        assert!(r.error.is_none(), "{r:?}");
        assert!(
            r.body_bytes > 0 && r.body_bytes < 2_000_000,
            "{}",
            r.body_bytes
        );
    }
    assert_eq!(
        rounds_log(&out),
        vec![(rows[0].run_id.clone(), 0, "stopped".to_string())]
    );
    assert!(out.join("verdicts.csv").exists(), "verdicts written");
}

#[test]
fn fetches_that_finish_within_the_grace_are_not_cut() {
    let srv = server();
    let dir = tempfile::tempdir().unwrap();
    // ~1.5 s per fetch; the signal comes ~0.7 s in, the grace is 10 s.
    let paths = ["/bytes/150000?rate=100000"; 3];
    let camp = campaign(dir.path(), &srv, "rounds = 5", paths);
    let out = dir.path().join("out");
    let child = spawn(&camp, &["--grace", "10s"]);
    wait_started(&out);
    signal(&child, libc::SIGTERM);
    let o = finish(child, Duration::from_secs(20));
    assert_eq!(o.status.code(), Some(143), "{}", text(&o.stderr));
    let rows = check_whole(&out);
    assert_eq!(rows.len(), 3);
    for r in &rows {
        assert_eq!(r.capped, None, "{r:?}");
        assert_eq!(r.body_bytes, 150_000);
    }
}

#[test]
fn a_second_sigint_cuts_at_once_and_still_writes_the_rows() {
    let srv = server();
    let dir = tempfile::tempdir().unwrap();
    let camp = campaign(dir.path(), &srv, "rounds = 5", SLOW);
    let out = dir.path().join("out");
    let child = spawn(&camp, &["--grace", "5min"]);
    wait_started(&out);
    signal(&child, libc::SIGINT);
    std::thread::sleep(Duration::from_millis(300));
    signal(&child, libc::SIGINT);
    // Far below the 5 min grace and the 20 s fetches.
    let o = finish(child, Duration::from_secs(15));
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(130), "{err}");
    assert!(err.contains("cutting fetches in flight now"), "{err}");
    let rows = check_whole(&out);
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|r| r.capped == Some(Capped::Stop)));
}

#[test]
fn sighup_stops_like_sigterm_with_exit_129() {
    let srv = server();
    let dir = tempfile::tempdir().unwrap();
    let camp = campaign(dir.path(), &srv, "rounds = 5", SLOW);
    let out = dir.path().join("out");
    let child = spawn(&camp, &["--grace", "200ms"]);
    wait_started(&out);
    signal(&child, libc::SIGHUP);
    let o = finish(child, Duration::from_secs(15));
    assert_eq!(o.status.code(), Some(129), "{}", text(&o.stderr));
    let rows = check_whole(&out);
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|r| r.capped == Some(Capped::Stop)));
}

#[test]
fn a_signal_during_the_final_analysis_ends_the_run_at_once() {
    use rand::{Rng, SeedableRng};
    let srv = server();
    let dir = tempfile::tempdir().unwrap();
    let camp = campaign(dir.path(), &srv, "rounds = 1", ["/bytes/2000"; 3]);
    let out = dir.path().join("out");
    // An earlier, large campaign in the same directory: 60,000 rows over
    // 1,000 URLs make the end-of-run analysis take many seconds.
    std::fs::create_dir_all(&out).unwrap();
    let mut w = csv::Writer::from_path(out.join("fetches.csv")).unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    for i in 0..60_000u32 {
        let u = i % 1000;
        let rec = slowlane::types::FetchRecord {
            campaign: "old".into(),
            vantage: "test-vantage".into(),
            run_id: "old".into(),
            round: i / 1000,
            fetch_id: format!("old-{i}"),
            url: format!("https://h{}.test/x/{u}", u % 7),
            host: format!("h{}.test", u % 7),
            class: Some(slowlane::types::Class::Image),
            group: Some(if u % 5 == 0 {
                slowlane::types::Group::Control
            } else {
                slowlane::types::Group::Target
            }),
            method: "GET".into(),
            status: Some(200),
            body_bytes: 100_000,
            object_bytes: Some(100_000),
            ttfb_ms: Some(slowlane::types::Ms(rng.gen_range(5.0..50.0))),
            total_ms: Some(slowlane::types::Ms(rng.gen_range(50.0..500.0))),
            goodput_bps: Some(rng.gen_range(1_000_000..50_000_000)),
            ..Default::default()
        };
        w.serialize(&rec).unwrap();
    }
    w.flush().unwrap();
    drop(w);
    let child = spawn(&camp, &[]);
    // The run itself is short; once its round is logged, the analysis runs.
    let t = Instant::now();
    while rounds_log_len(&out) < 1 {
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "the round never ended"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    signal(&child, libc::SIGTERM);
    let o = finish(child, Duration::from_secs(10));
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(143), "{err}");
    assert!(err.contains("stopped during the final analysis"), "{err}");
    let mut r = csv::Reader::from_path(out.join("fetches.csv")).unwrap();
    let rows: Vec<slowlane::types::FetchRecord> = r.deserialize().map(|x| x.unwrap()).collect();
    assert_eq!(rows.len(), 60_003, "the run's rows are on disk");
}

fn rounds_log_len(out: &Path) -> usize {
    std::fs::read_to_string(out.join("rounds.csv"))
        .map(|t| t.lines().count().saturating_sub(1))
        .unwrap_or(0)
}
