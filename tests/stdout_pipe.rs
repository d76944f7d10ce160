//! stdout that is a closed pipe (`| head -1`) or a full disk (`> /dev/full`):
//! never a panic (exit 101). A closed pipe ends printing quietly and the
//! command keeps its own exit code; another write error is exit 1 with a
//! message. The lab runs on loopback (`demo`).

mod support;

use std::fs::File;
use std::process::{Command, Output, Stdio};

use support::bin::{quick_demo, slowlane};

/// Run with stdout a pipe whose read end is closed before anything is written.
fn into_closed_pipe(mut cmd: Command) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn slowlane");
    drop(child.stdout.take());
    child.wait_with_output().expect("wait for slowlane")
}

fn into_dev_full(mut cmd: Command) -> Output {
    cmd.stdout(File::create("/dev/full").expect("/dev/full"))
        .output()
        .expect("run slowlane")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn run_into_closed_pipe_exits_with_its_own_code() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("d");
    let o = into_closed_pipe(quick_demo(Some(&out)));
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(!err.contains("cannot write"), "{err}");
    // The run itself was not cut short by the closed pipe.
    assert!(out.join("fetches.csv").exists());
    assert!(out.join("verdicts.csv").exists());
}

#[test]
fn run_into_dev_full_exits_1_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("d");
    let o = into_dev_full(quick_demo(Some(&out)));
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("cannot write to stdout"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn analyze_and_fetch_into_closed_pipe_and_dev_full() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("d");
    let o = quick_demo(Some(&out)).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));

    let analyze = || {
        let mut c = slowlane();
        c.arg("analyze").arg(&out);
        c
    };
    let o = into_closed_pipe(analyze());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!stderr(&o).contains("panicked"));
    let o = into_dev_full(analyze());
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("cannot write to stdout"),
        "{}",
        stderr(&o)
    );

    // `fetch`: port 9 on loopback refuses, so the fetch's own code is 7.
    let fetch = || {
        let mut c = slowlane();
        c.args(["fetch", "http://127.0.0.1:9/", "--format", "json"]);
        c
    };
    let o = into_closed_pipe(fetch());
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    assert!(!stderr(&o).contains("panicked"));
    let o = into_dev_full(fetch());
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("cannot write output"), "{}", stderr(&o));
}

/// `2>&1 | head -1`: stderr is the closed pipe too. Messages that cannot be
/// shown are dropped; the exit code stays the command's own.
#[test]
fn stderr_into_closed_pipe_keeps_the_exit_code() {
    let closed_both = |mut cmd: Command| {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn slowlane");
        drop(child.stdout.take());
        drop(child.stderr.take());
        child.wait().expect("wait for slowlane")
    };
    let mut bad = slowlane();
    bad.args(["analyze", "/nonexistent/slowlane-test-dir"]);
    assert_eq!(closed_both(bad).code(), Some(2));

    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        closed_both(quick_demo(Some(&dir.path().join("d")))).code(),
        Some(0)
    );
}
