//! `slowlane demo` end to end: the lab, the real `run` path, the CSV output.

mod support;

use std::path::Path;

use slowlane::types::FetchRecord;
use support::bin::{quick_demo, slowlane};

#[test]
fn demo_twitter_2021_writes_throttled_media_and_free_controls() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    let o = slowlane()
        .args(["demo", "--rounds", "2", "--quiet", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("image"), "{stdout}");
    assert!(out.join("testbed-ca.pem").exists());
    // The run ends by writing the report and saying where.
    let index = out.join("report").join("index.html");
    assert!(index.is_file(), "no report: {stdout}");
    assert!(
        stdout.contains(&format!("report: {}", index.display())),
        "{stdout}"
    );
    // Issue 23.7: the page keeps the scenario's name in its title, counts
    // in words ("1 vantage", not "1 vantage(s)"), and max_bytes in MiB.
    let page = std::fs::read_to_string(&index).unwrap();
    assert!(
        page.contains("<title>slowlane report: demo-twitter-2021</title>"),
        "{}",
        &page[..page.len().min(600)]
    );
    assert!(!page.contains("(s)"), "a (s) plural in the page");
    assert!(page.contains("<td>16 MiB</td>"), "max_bytes not in MiB");
    let rows: Vec<FetchRecord> = csv::Reader::from_path(out.join("fetches.csv"))
        .unwrap()
        .deserialize()
        .map(|r| r.unwrap())
        .collect();
    let n_urls = slowlane::testbed::Scenario::builtin("twitter-2021")
        .unwrap()
        .campaign
        .urls
        .len();
    assert_eq!(rows.len(), 2 * n_urls);
    // The demo includes uploads: a policed one and free controls.
    let posts = |media: bool| {
        rows.iter()
            .filter(|r| r.method == "POST" && r.url.contains("twimg.com") == media)
            .count()
    };
    assert!(
        posts(true) >= 2 && posts(false) >= 2,
        "no uploads in the demo"
    );
    for r in &rows {
        assert_eq!(r.error, None, "{} {:?}", r.url, r.error);
        let media = r.url.contains("twimg.com");
        if r.method == "POST" {
            // Uploads are judged by the bytes the peer acknowledged.
            let up = r.upload_bps.expect("an upload has an upload rate") as f64;
            if media {
                assert!((up / 131072.0 - 1.0).abs() < 0.10, "{} {up}", r.url);
            } else {
                assert_eq!(r.status, Some(200), "{}", r.url);
                assert!(up > 20.0 * 131072.0, "{} {up}", r.url);
            }
        } else if media {
            let steady = r.steady_bps.expect("policed media has a plateau") as f64;
            assert!((steady / 131072.0 - 1.0).abs() < 0.05, "{} {steady}", r.url);
        } else if r.body_bytes >= 600_000 {
            // Controls of the same size are at least 20x faster.
            assert!(r.goodput_bps.unwrap() as f64 > 20.0 * 131072.0, "{}", r.url);
        }
    }
}

fn slowlane_in(cwd: &Path, args: &[&str]) -> std::process::Output {
    slowlane().current_dir(cwd).args(args).output().unwrap()
}

/// [`quick_demo`] in `cwd`.
fn quick_demo_in(cwd: &Path, out: Option<&str>) -> std::process::Output {
    quick_demo(out.map(Path::new))
        .current_dir(cwd)
        .output()
        .unwrap()
}

fn fetch_rows(dir: &Path) -> usize {
    csv::Reader::from_path(dir.join("fetches.csv"))
        .unwrap()
        .records()
        .count()
}

/// Issue 11.1: a relative `--out` is relative to the working directory, not
/// to the generated campaign file inside it (which gave `reltest/reltest`),
/// and the next step of the README, `slowlane analyze DIR`, reads it.
#[test]
fn demo_relative_out_is_written_where_asked_and_analyzes() {
    let cwd = tempfile::tempdir().unwrap();
    let o = quick_demo_in(cwd.path(), Some("reltest"));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("written to reltest\n"), "{stdout}");
    let out = cwd.path().join("reltest");
    assert!(fetch_rows(&out) > 0);
    assert!(!out.join("reltest").exists(), "doubled output folder");
    let campaign = std::fs::read_to_string(out.join("campaign.toml")).unwrap();
    let abs = std::fs::canonicalize(&out).unwrap();
    assert!(
        campaign.contains(&format!("out = \"{}\"", abs.display())),
        "{campaign}"
    );
    let a = slowlane_in(cwd.path(), &["analyze", "reltest"]);
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    assert!(out.join("verdicts.csv").exists());
}

/// The default output folder, `slowlane-out/demo-<scenario>`, relative to the
/// working directory, holds the results directly.
#[test]
fn demo_default_out_is_not_doubled() {
    let cwd = tempfile::tempdir().unwrap();
    let o = quick_demo_in(cwd.path(), None);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = cwd.path().join("slowlane-out/demo-clean-fast");
    assert!(fetch_rows(&out) > 0);
    assert!(out.join("testbed-ca.pem").exists());
    assert!(!out.join("slowlane-out").exists(), "doubled output folder");
    let a = slowlane_in(cwd.path(), &["analyze", "slowlane-out/demo-clean-fast"]);
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
}

/// The generated campaign names its folder absolutely, so `run` of it from
/// another working directory appends to the same folder (the lab is gone by
/// then: the fetches fail, which is data, and land in the same fetches.csv;
/// nothing was measured, so the run exits 3).
#[test]
fn demo_campaign_reruns_into_its_own_folder_from_another_directory() {
    let first = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let o = quick_demo_in(first.path(), Some("d"));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = first.path().join("d");
    let before = fetch_rows(&out);
    let campaign = out.join("campaign.toml");
    let r = slowlane_in(
        elsewhere.path(),
        &[
            "run",
            campaign.to_str().unwrap(),
            "--rounds",
            "1",
            "--quiet",
        ],
    );
    assert_eq!(
        r.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
    assert_eq!(fetch_rows(&out), 2 * before);
    assert_eq!(std::fs::read_dir(elsewhere.path()).unwrap().count(), 0);
}

/// Issue 23, item 9: `demo --seed` is the run's seed, and a second demo
/// into the same folder says it pools the earlier run (the first does not).
#[test]
fn demo_seed_is_recorded_and_a_rerun_says_it_pools() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    let run = || {
        let o = quick_demo(Some(&out))
            .args(["--seed", "4242"])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        (
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let (first, err) = run();
    assert!(first.contains("seed 4242"), "{first}");
    assert!(!err.contains("already holds"), "{err}");
    let (_, err) = run();
    assert!(
        err.contains("already holds 1 earlier run") && err.contains("pool"),
        "{err}"
    );
    let meta = std::fs::read_to_string(out.join("campaign.json")).unwrap();
    let meta: serde_json::Value = serde_json::from_str(&meta).unwrap();
    let runs = meta["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    assert!(runs.iter().all(|r| r["seed"] == 4242), "{meta}");
}
