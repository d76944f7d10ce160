//! `--resume` and `--once`: a run continues where it stopped (same run_id,
//! rounds numbered on), refuses a changed campaign, starts anew (saying so)
//! when there is nothing to continue, and one directory has one writer.

mod support;

use std::process::Stdio;
use std::time::Duration;

use support::bin::*;
use support::unattended::*;

const FAST: [&str; 3] = ["/bytes/20000", "/bytes/30000", "/bytes/3000"];

fn runs_in(out: &std::path::Path) -> Vec<serde_json::Value> {
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("campaign.json")).unwrap()).unwrap();
    v["runs"].as_array().unwrap().clone()
}

#[test]
fn once_runs_one_round_per_invocation_and_numbers_rounds_across_them() {
    let srv = server();
    let dir = tempfile::tempdir().unwrap();
    // `rounds = 1` is ignored by --once: the caller schedules.
    let camp = campaign(dir.path(), &srv, "rounds = 1\ninterval = \"1h\"", FAST);
    let out = dir.path().join("out");
    for i in 0..3 {
        let o = run(&camp, &["--once"], &[]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        assert!(
            text(&o.stdout).contains("3 fetches (0 failed) in 1 round"),
            "{}",
            text(&o.stdout)
        );
        if i > 0 {
            assert!(
                text(&o.stderr).contains(&format!("at round {i}")),
                "{}",
                text(&o.stderr)
            );
        }
    }
    let rows = check_whole(&out);
    let log = rounds_log(&out);
    let run_id = &log[0].0;
    assert_eq!(
        log,
        (0..3)
            .map(|n| (run_id.clone(), n, "complete".to_string()))
            .collect::<Vec<_>>()
    );
    assert_eq!(rows.len(), 9);
    assert!(rows.iter().all(|r| &r.run_id == run_id));
    for n in 0..3 {
        assert_eq!(rows.iter().filter(|r| r.round == n).count(), 3);
    }
    let runs = runs_in(&out);
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["resumed"].as_array().unwrap().len(), 2);
}

#[test]
fn resume_after_a_stop_runs_only_the_remaining_rounds() {
    let srv = server();
    let dir = tempfile::tempdir().unwrap();
    // ~2 s per round.
    let slow = ["/bytes/200000?rate=100000"; 3];
    let camp = campaign(dir.path(), &srv, "rounds = 3", slow);
    let out = dir.path().join("out");
    let child = run_cmd(&camp, &["--grace", "0s"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_campaign_json(&out);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let st = child.wait_with_output().unwrap().status;
    assert_eq!(st.code(), Some(143));
    let stopped = rounds_log(&out);
    assert_eq!(stopped.len(), 1, "{stopped:?}");
    assert_eq!(stopped[0].2, "stopped");

    let o = run(&camp, &["--resume"], &[]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains("in 2 rounds"),
        "{}",
        text(&o.stdout)
    );
    let log = rounds_log(&out);
    let ends: Vec<(u32, &str)> = log.iter().map(|(_, n, e)| (*n, e.as_str())).collect();
    assert_eq!(ends, vec![(0, "stopped"), (1, "complete"), (2, "complete")]);
    assert!(log.iter().all(|(r, _, _)| *r == stopped[0].0), "one run_id");
    let rows = check_whole(&out);
    // The stopped round's cut rows are kept: they are evidence.
    assert_eq!(rows.iter().filter(|r| r.round == 0).count(), 3);
    assert_eq!(rows.iter().filter(|r| r.round == 1).count(), 3);
    assert_eq!(rows.iter().filter(|r| r.round == 2).count(), 3);
    // A finished run is not resumed again: a new one starts, and says so.
    let o = run(&camp, &["--resume"], &[]);
    assert!(o.status.success());
    assert!(
        text(&o.stderr).contains("is finished"),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(runs_in(&out).len(), 2);
}

#[test]
fn resume_is_refused_when_the_campaign_changed() {
    let srv = server();
    let dir = tempfile::tempdir().unwrap();
    let camp = campaign(dir.path(), &srv, "rounds = 2", FAST);
    let out = dir.path().join("out");
    let o = run(&camp, &["--rounds", "1"], &[]);
    assert!(o.status.success());
    let changed = campaign(
        dir.path(),
        &srv,
        "rounds = 2",
        ["/bytes/1000", FAST[1], FAST[2]],
    );
    let o = run(&changed, &["--rounds", "1", "--resume"], &[]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--resume refused") && err.contains("different campaign"),
        "{err}"
    );
    // --once on a changed campaign starts a new run (cron must not stall).
    let o = run(&changed, &["--once"], &[]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("starting a new run"));
    assert_eq!(runs_in(&out).len(), 2);
}

#[test]
fn resume_with_nothing_to_resume_starts_a_new_run_and_says_so() {
    let srv = server();
    let dir = tempfile::tempdir().unwrap();
    let camp = campaign(dir.path(), &srv, "rounds = 1", FAST);
    let o = run(&camp, &["--resume"], &[]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("nothing to resume") && text(&o.stderr).contains("no earlier run"),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(check_whole(&dir.path().join("out")).len(), 3);
}

#[test]
fn a_second_run_into_a_busy_directory_is_refused() {
    let srv = server();
    let dir = tempfile::tempdir().unwrap();
    let slow = ["/bytes/300000?rate=100000"; 3];
    let camp = campaign(dir.path(), &srv, "rounds = 1", slow);
    let out = dir.path().join("out");
    let mut child = run_cmd(&camp, &[])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_campaign_json(&out);
    let o = run(&camp, &["--once"], &[]);
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("another slowlane run is writing"),
        "{}",
        text(&o.stderr)
    );
}

/// Issue 19: round numbers (`u32`) end. `--once` after round u32::MAX - 1
/// runs round u32::MAX (the loop's counter used to overflow there: a panic in
/// a debug build, a wrap to round 0 in release), and the next `--once` starts
/// a new run at round 0, saying why, instead of numbering past the end.
#[test]
fn the_last_round_number_runs_and_then_a_new_run_starts() {
    let srv = server();
    let dir = tempfile::tempdir().unwrap();
    let camp = campaign(dir.path(), &srv, "rounds = 1", FAST);
    let out = dir.path().join("out");
    let o = run(&camp, &["--once"], &[]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    // As if the timer had started it four billion times.
    let path = out.join("rounds.csv");
    let log = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<String> = log.lines().map(str::to_string).collect();
    let mut cells: Vec<&str> = lines[1].split(',').collect();
    let before = (u32::MAX - 1).to_string();
    cells[1] = &before;
    lines[1] = cells.join(",");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();

    let o = run(&camp, &["--once"], &[]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let log = rounds_log(&out);
    assert_eq!(log.len(), 2, "{log:?}");
    assert_eq!((log[1].1, log[1].2.as_str()), (u32::MAX, "complete"));
    assert_eq!(log[1].0, log[0].0, "the same run");
    let last: Vec<_> = check_whole(&out)
        .into_iter()
        .filter(|r| r.round == u32::MAX)
        .collect();
    assert_eq!(last.len(), 3);

    let o = run(&camp, &["--once"], &[]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("every round number"),
        "{}",
        text(&o.stderr)
    );
    let log = rounds_log(&out);
    assert_eq!(log.len(), 3, "{log:?}");
    assert_eq!(log[2].1, 0);
    assert_ne!(log[2].0, log[1].0, "a new run");
}
