//! Output files survive anything: a full disk, an abort timed to a row
//! write, kill -9 at random moments, a truncated campaign.json; and a panic
//! inside a fetch becomes a row. Every scenario ends with the files whole
//! and, after `--resume`, the run complete with no duplicate `fetch_id`.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use support::bin::*;
use support::engine::run_quiet;
use support::server::{Mode, TestServer};
use support::unattended::*;

const FAST: [&str; 3] = ["/bytes/20000", "/bytes/30000", "/bytes/3000"];

/// The latest run in `out` is complete: `rounds` rounds logged once each,
/// 3 rows per round, rows only of those rounds.
fn assert_latest_run_complete(out: &Path, rounds: u32) {
    let rows = check_whole(out);
    let log = rounds_log(out);
    let run_id = log.last().expect("rounds logged").0.clone();
    let logged: Vec<u32> = log
        .iter()
        .filter(|(r, _, _)| *r == run_id)
        .map(|(_, n, _)| *n)
        .collect();
    assert_eq!(
        logged,
        (0..rounds).collect::<Vec<_>>(),
        "rounds.csv: {log:?}"
    );
    let mut per_round = BTreeMap::new();
    for r in rows.iter().filter(|r| r.run_id == run_id) {
        *per_round.entry(r.round).or_insert(0) += 1;
    }
    let expected: BTreeMap<u32, i32> = (0..rounds).map(|n| (n, 3)).collect();
    assert_eq!(per_round, expected, "rows per round of run {run_id}");
}

#[test]
fn disk_full_exits_1_with_whole_files_and_resume_completes_the_run() {
    let srv = server();
    let dir = tempfile::tempdir().unwrap();
    let camp = campaign(dir.path(), &srv, "rounds = 3", FAST);
    let out = dir.path().join("out");
    let o = run(&camp, &[], &[("SLOWLANE_FAULT", "enospc@2500")]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_eq!(
        err.matches("No space left on device").count(),
        1,
        "said once: {err}"
    );
    check_whole(&out);
    assert!(!out.join(".campaign.json.tmp").exists());

    let o = run(&camp, &["--resume"], &[]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("continuing run"),
        "{}",
        text(&o.stderr)
    );
    assert_latest_run_complete(&out, 3);
}

#[test]
fn abort_at_row_writes_then_resume_loses_and_duplicates_nothing() {
    let srv = server();
    let seed: u64 = rand::random();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut aborted = 0;
    for _ in 0..6 {
        // Anywhere from inside the fetches.csv header to the last round.
        let k: u64 = rng.gen_range(100..5000);
        let dir = tempfile::tempdir().unwrap();
        let camp = campaign(dir.path(), &srv, "rounds = 3", FAST);
        let out = dir.path().join("out");
        let o = run(&camp, &[], &[("SLOWLANE_FAULT", &format!("abort@{k}"))]);
        if o.status.code().is_none() {
            aborted += 1;
        }
        let o = run(&camp, &["--resume"], &[]);
        assert!(
            o.status.success(),
            "seed {seed}, abort@{k}: {}",
            text(&o.stderr)
        );
        assert_latest_run_complete(&out, 3);
    }
    assert!(
        aborted >= 3,
        "the fault hook aborted only {aborted} of 6 runs (seed {seed})"
    );
}

#[test]
fn kill_9_at_random_moments_then_resume() {
    let srv = server();
    let seed: u64 = rand::random();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    // ~0.5 s per fetch, 4 rounds: about 2 s of run to kill into.
    let slow = [
        "/bytes/60000?rate=120000",
        "/bytes/60000?rate=120000",
        "/bytes/3000",
    ];
    for _ in 0..3 {
        let dir = tempfile::tempdir().unwrap();
        let camp = campaign(dir.path(), &srv, "rounds = 4", slow);
        let out = dir.path().join("out");
        let ms = rng.gen_range(50..2200);
        let mut child = run_cmd(&camp, &[])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(ms));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let o = run(&camp, &["--resume"], &[]);
        assert!(
            o.status.success(),
            "seed {seed}, kill at {ms} ms: {}",
            text(&o.stderr)
        );
        assert_latest_run_complete(&out, 4);
    }
}

#[test]
fn torn_tails_are_cut_before_appending() {
    let srv = server();
    let dir = tempfile::tempdir().unwrap();
    let camp = campaign(dir.path(), &srv, "rounds = 1", FAST);
    let out = dir.path().join("out");
    assert!(run(&camp, &[], &[]).status.success());
    // A torn quoted label: the worst case (an unterminated quote).
    for (name, tail) in [
        ("fetches.csv", "unattended,v,\"torn la"),
        ("timeline.csv", "x-1,do"),
    ] {
        let p = out.join(name);
        let mut t = std::fs::read_to_string(&p).unwrap();
        t.push_str(tail);
        std::fs::write(&p, t).unwrap();
    }
    let o = run(&camp, &[], &[]);
    let err = text(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("fetches.csv: cut 21 bytes of an unterminated last line"),
        "{err}"
    );
    assert!(err.contains("timeline.csv: cut 6 bytes"), "{err}");
    let rows = check_whole(&out);
    assert_eq!(rows.len(), 6);
    assert_eq!(
        std::fs::read_to_string(out.join("fetches.csv.torn")).unwrap(),
        "unattended,v,\"torn la\n"
    );
    // analyze reads the repaired directory without complaint.
    let a = slowlane()
        .args(["analyze", "--strict"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(a.status.success(), "{}", text(&a.stderr));
}

#[test]
fn unreadable_campaign_json_is_set_aside_not_a_permanent_block() {
    let srv = server();
    let dir = tempfile::tempdir().unwrap();
    let camp = campaign(dir.path(), &srv, "rounds = 1", FAST);
    let out = dir.path().join("out");
    assert!(run(&camp, &[], &[]).status.success());
    let p = out.join("campaign.json");
    let bytes = std::fs::read(&p).unwrap();
    std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
    for args in [&[][..], &["--resume"][..]] {
        let o = run(&camp, args, &[]);
        assert!(o.status.success(), "{args:?}: {}", text(&o.stderr));
    }
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
    assert_eq!(json["runs"].as_array().unwrap().len(), 2);
    let names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names
            .iter()
            .filter(|n| n.starts_with("campaign.json.bad-"))
            .count(),
        1
    );
    assert!(!names.iter().any(|n| n.ends_with(".tmp")), "{names:?}");
    check_whole(&out);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_panic_inside_a_fetch_becomes_a_row_and_counts_as_an_internal_error() {
    let srv = TestServer::start(Mode::Normal, &["a.test", "b.test"], &["h2"]).await;
    let dir = tempfile::tempdir().unwrap();
    let camp = campaign(dir.path(), &srv, "rounds = 2", FAST);
    let mut c = slowlane::config::load_campaign(&camp).unwrap();
    // Past what the config accepts: `Instant + max_time` overflows (a
    // panic) inside the fetch of this one URL.
    c.targets[0].options.max_time = Duration::MAX;
    let o = run_quiet(c).await;
    assert_eq!(o.internal_errors, 2);
    assert_eq!(o.fetches, 6);
    let rows = check_whole(&dir.path().join("out"));
    let internal: Vec<_> = rows
        .iter()
        .filter(|r| {
            r.error
                .as_deref()
                .is_some_and(|e| e.starts_with("unknown_failure: internal: "))
        })
        .collect();
    assert_eq!(internal.len(), 2, "{rows:#?}");
    assert!(internal
        .iter()
        .all(|r| r.url.contains("a.test") && !r.fetch_id.is_empty()));
}
