//! `[[trigger]]` studies in a campaign: run after the rounds into
//! `triggers.csv`, faults as rows, not rerun by `--resume`, run by the
//! `--once` that completes the last round, and budgeted by `plan`.
//! Loopback only (the lab, or a closed port for the faults).

// One lab at a time (`support::lab::one_lab`): each test has its own
// runtime, so holding the guard across awaits blocks only its own thread.
#![allow(clippy::await_holding_lock)]

mod support;

use std::path::{Path, PathBuf};

use slowlane::config::load_campaign;
use slowlane::record::triggers::{TriggerRow, TRIGGERS_CSV};
use slowlane::run::{run_campaign, Mode, RunOptions, RunOutcome};
use support::lab::{one_lab, reflector_behind};

const PIN: &str = "sha256:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

fn rows(out: &Path) -> Vec<TriggerRow> {
    csv::Reader::from_path(out.join(TRIGGERS_CSV))
        .unwrap()
        .deserialize()
        .map(Result::unwrap)
        .collect()
}

fn lines(path: PathBuf) -> usize {
    std::fs::read_to_string(path).unwrap().lines().count()
}

async fn run(path: &Path, mode: Mode) -> RunOutcome {
    let c = load_campaign(path).unwrap();
    let opts = RunOptions {
        quiet: true,
        mode,
        ..RunOptions::default()
    };
    run_campaign(c, opts).await.unwrap()
}

/// A port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A campaign at `dir/c.toml` whose URL and studies of `names` all point
/// at a closed port: `head` holds its top-level keys, `study` each study's
/// keys beyond name, reflector, pin and `max_rounds = 5`.
fn closed_port_campaign(dir: &Path, head: &str, names: &[&str], study: &str) -> PathBuf {
    let port = closed_port();
    let mut toml = format!(
        "{head}out = \"out\"\n[defaults]\nconnect_timeout = \"1s\"\n\
         [[url]]\nurl = \"https://127.0.0.1:{port}/\"\n"
    );
    for name in names {
        toml.push_str(&format!(
            "[[trigger]]\nname = \"{name}\"\nreflector = \"https://127.0.0.1:{port}\"\n\
             pin = \"{PIN}\"\nmax_rounds = 5\n{study}"
        ));
    }
    let path = dir.join("c.toml");
    std::fs::write(&path, toml).unwrap();
    path
}

/// One round of a `[[reflector]]` A/B, then the study of `t.co` (which
/// takes the reflector's url and pin) against an `exact:t.co` rule.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_runs_its_trigger_study_after_the_rounds() {
    let _lab = one_lab();
    let dir = tempfile::tempdir().unwrap();
    let (refl, mb) = reflector_behind(
        dir.path(),
        "[[rule]]\nmatch = \"exact:t.co\"\n\
         down = { action = \"police\", rate = 131072, burst = \"8KiB\" }\n\
         [[rule]]\nmatch = \"*\"\n\
         down = { action = \"shape\", rate = \"20Mbit\", queue = \"256KiB\" }\n",
    )
    .await;
    let path = dir.path().join("c.toml");
    std::fs::write(
        &path,
        format!(
            "name = \"trig\"\nrounds = 1\nseed = 1\nout = \"out\"\n\
             [[reflector]]\nurl = \"https://{}\"\npin = \"{}\"\nnames = [\"t.co\"]\n\
             controls = [\"example.com\"]\ndownload = \"64KiB\"\nupload = \"\"\nmax_time = \"1s\"\n\
             [[trigger]]\nname = \"t.co\"\nsize = \"64KiB\"\nmax_time = \"1s\"\n\
             max_rounds = 5\ngap = \"0s\"\n",
            mb.local_addr(),
            refl.pin()
        ),
    )
    .unwrap();
    let o = run(&path, Mode::New).await;
    assert_eq!((o.rounds, o.fetches), (1, 2));
    assert_eq!(o.studies.len(), 1, "{:?}", o.studies);
    let rows = rows(&o.out);
    eprintln!("{rows:#?}");
    assert_eq!(rows.len(), o.studies[0].trials);
    assert!(rows.iter().all(|r| r.trigger == "t.co"
        && r.run_id == o.run_id
        && r.reflector == mb.local_addr().to_string()
        && r.rule == "exact"
        && r.sentence == o.studies[0].sentence));
    let verdict = |c: &str| {
        rows.iter()
            .find(|r| r.checks == c)
            .map(|r| r.verdict.as_str())
    };
    assert_eq!(verdict("exact"), Some("throttled"));
    // Not throttled: a clean trial of at most 5 rounds cannot evidence
    // absence (`ok` needs ~30 clean rounds), so `inconclusive` is the
    // honest word; the study steers on `throttled` alone.
    for c in ["subdomains", "substring"] {
        assert!(
            matches!(verdict(c), Some("ok" | "inconclusive")),
            "{c}: {rows:#?}"
        );
    }
    assert!(
        o.studies[0]
            .sentence
            .starts_with("t.co matches as the exact name only"),
        "{}",
        o.studies[0].sentence
    );
    // The rounds' fetches are in fetches.csv, the study's are not.
    assert_eq!(lines(o.out.join("fetches.csv")), 3);
}

/// Two studies against a closed port: each fault is rows (`unmeasured`),
/// not a crash. With one study's rows gone (as a signal during it leaves
/// it), `--resume` fetches nothing but that study; the other keeps its rows.
#[tokio::test]
async fn faults_are_rows_and_resume_runs_only_the_unfinished_study() {
    let dir = tempfile::tempdir().unwrap();
    let path = closed_port_campaign(
        dir.path(),
        "name = \"faults\"\nrounds = 2\n",
        &["t.co", "pbs.twimg.com"],
        "gap = \"0s\"\nmax_time = \"1s\"\n",
    );
    let o = run(&path, Mode::New).await;
    assert_eq!(o.rounds, 2);
    let ids: Vec<&str> = o.studies.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["t.co", "pbs.twimg.com"]);
    let all = rows(&o.out);
    assert!(all.iter().all(|r| r.rule == "unmeasured"), "{all:#?}");
    assert!(
        o.studies[0].sentence.contains("nothing measured"),
        "{}",
        o.studies[0].sentence
    );
    let first: Vec<TriggerRow> = all
        .iter()
        .filter(|r| r.trigger == "t.co")
        .cloned()
        .collect();
    assert!(!first.is_empty());
    // Keep only t.co's rows: pbs.twimg.com was cut.
    let mut w = csv::Writer::from_path(o.out.join(TRIGGERS_CSV)).unwrap();
    for r in &first {
        w.serialize(r).unwrap();
    }
    w.flush().unwrap();
    drop(w);
    let rounds_before = lines(o.out.join("rounds.csv"));
    let r = run(&path, Mode::Resume).await;
    assert_eq!(
        (r.run_id.as_str(), r.rounds, r.fetches),
        (o.run_id.as_str(), 0, 0)
    );
    let ids: Vec<&str> = r.studies.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["pbs.twimg.com"]);
    assert_eq!(lines(o.out.join("rounds.csv")), rounds_before);
    let after = rows(&o.out);
    let kept: Vec<TriggerRow> = after
        .iter()
        .filter(|r| r.trigger == "t.co")
        .cloned()
        .collect();
    assert_eq!(kept, first, "t.co not rerun");
    assert!(after
        .iter()
        .any(|r| r.trigger == "pbs.twimg.com" && r.run_id == o.run_id));
}

/// `--once`: the studies run with the invocation that completes the last
/// round of the schedule, not before.
#[tokio::test]
async fn once_runs_the_studies_with_the_last_round() {
    let dir = tempfile::tempdir().unwrap();
    let path = closed_port_campaign(
        dir.path(),
        "name = \"once\"\nrounds = 2\n",
        &["t.co"],
        "gap = \"0s\"\n",
    );
    let first = run(&path, Mode::Once).await;
    assert_eq!((first.first_round, first.rounds), (0, 1));
    assert!(first.studies.is_empty());
    assert!(!first.out.join(TRIGGERS_CSV).exists());
    let second = run(&path, Mode::Once).await;
    assert_eq!((second.first_round, second.rounds), (1, 1));
    assert_eq!(second.studies.len(), 1);
    assert!(rows(&second.out).iter().all(|r| r.run_id == first.run_id));
}

/// `plan` prints each study's budget, the same as `trigger --dry-run`, and
/// counts it in the totals.
#[test]
fn plan_prints_each_study_budget_and_adds_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    let campaign = |trigger: bool| {
        let t = if trigger {
            format!(
                "[[trigger]]\nid = \"ms\"\nname = \"microsoft.com\"\n\
                 reflector = \"https://127.0.0.1:9\"\npin = \"{PIN}\"\nsize = \"256KiB\"\n"
            )
        } else {
            String::new()
        };
        std::fs::write(
            &path,
            format!(
                "name = \"p\"\nrounds = 3\n[[reflector]]\nurl = \"https://127.0.0.1:9\"\n\
                 pin = \"{PIN}\"\nnames = [\"t.co\"]\ncontrols = [\"example.com\"]\n\
                 download = \"1MB\"\nupload = \"\"\n{t}"
            ),
        )
        .unwrap();
        let out = support::bin::slowlane()
            .args(["plan", "--format", "json"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v
    };
    let without = campaign(false);
    let with = campaign(true);
    let t = &with["triggers"][0];
    assert_eq!(
        (t["trigger"].as_str(), t["max_trials"].as_u64()),
        (Some("ms"), Some(15))
    );
    // 15 trials x 8 rounds x (1 + 2 names) + 2 baseline rounds x 2 names.
    assert_eq!(t["max_fetches"], 15 * 8 * 3 + 4);
    assert_eq!(t["max_down_bytes"], (15 * 8 * 3 + 4) * 256 * 1024);
    let n = |v: &serde_json::Value, k: &str| v[k].as_u64().unwrap();
    assert_eq!(
        n(&with, "total_fetches"),
        n(&without, "total_fetches") + 364
    );
    assert_eq!(
        n(&with, "total_down_bytes"),
        n(&without, "total_down_bytes") + 364 * 256 * 1024
    );
    // The text: the study's line, as `slowlane trigger --dry-run` counts it.
    let text = support::bin::slowlane()
        .arg("plan")
        .arg(&path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout).to_string();
    let dry = support::bin::slowlane()
        .args([
            "trigger",
            "microsoft.com",
            "--reflector",
            "https://127.0.0.1:9",
        ])
        .args(["--pin", PIN, "--size", "256KiB", "--dry-run"])
        .output()
        .unwrap();
    let dry = String::from_utf8_lossy(&dry.stdout).to_string();
    let mb = dry
        .split_once("at most 15 trials, ")
        .and_then(|(_, rest)| rest.split_once(" downloaded"))
        .map(|(b, _)| b)
        .unwrap_or_else(|| panic!("{dry}"));
    assert!(
        text.contains(&format!(
            "trigger study ms (after the rounds): microsoft.com at 127.0.0.1:9, at most 15 trials, \
             364 fetches, down ≤ {mb}"
        )),
        "{text}"
    );
    assert!(
        text.contains("total (3 rounds + 1 trigger study)"),
        "{text}"
    );
}

/// `until = "decided"`: the studies run after the stop.
#[tokio::test]
async fn decided_campaigns_run_them_after_the_stop() {
    let dir = tempfile::tempdir().unwrap();
    let path = closed_port_campaign(
        dir.path(),
        "name = \"decided\"\nuntil = \"decided\"\nrounds = 12\n",
        &["t.co"],
        "gap = \"0s\"\n",
    );
    let o = run(&path, Mode::New).await;
    assert_eq!(
        o.stop_reason.map(|r| r.as_str()),
        Some("decided"),
        "{:?} after {} rounds",
        o.tally,
        o.rounds
    );
    assert!(o.rounds < 12);
    assert_eq!(o.studies.len(), 1);
    assert!(!rows(&o.out).is_empty());
}

/// A stop signal during a study: the exit code is the signal's and the
/// study writes nothing (so `--resume` runs it again whole).
#[test]
fn a_signal_during_a_study_writes_none_of_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = closed_port_campaign(
        dir.path(),
        "name = \"sig\"\nrounds = 1\n",
        &["t.co"],
        "gap = \"2s\"\n",
    );
    let out = dir.path().join("out");
    let mut child = support::bin::run_cmd(&path, &[])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The round is logged, then the study starts (its baseline takes 8 s).
    let t = std::time::Instant::now();
    while !std::fs::read_to_string(out.join("rounds.csv")).is_ok_and(|s| s.lines().count() == 2) {
        assert!(t.elapsed().as_secs() < 20, "the round did not end");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let t = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if t.elapsed().as_secs() > 20 {
            let _ = child.kill();
            panic!("run did not stop");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let o = child.wait_with_output().unwrap();
    let err = support::bin::text(&o.stderr);
    assert_eq!(o.status.code(), Some(143), "{err}");
    assert!(
        err.contains("trigger study t.co (1/1): stopped by a signal"),
        "{err}"
    );
    assert!(!out.join(TRIGGERS_CSV).exists(), "{err}");
}
