//! Shared by the `unattended_*` tests: a loopback HTTPS server, a campaign
//! pointed at it, and the checks that output files are whole (every line
//! parses, no duplicate `fetch_id`, every fetch row has its timeline).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use slowlane::types::{FetchRecord, Window};

use super::bin::{in_background, Background};
use super::server::{Mode, TestServer};

/// A server on its own runtime (the tests run the binary synchronously).
pub fn server() -> Background<TestServer> {
    in_background(TestServer::start(
        Mode::Normal,
        &["a.test", "b.test"],
        &["h2"],
    ))
}

/// A campaign of three URLs on `srv`: `paths` are the three `/bytes/...`
/// paths (e.g. with `?rate=` to make fetches slow).
pub fn campaign(dir: &Path, srv: &TestServer, schedule: &str, paths: [&str; 3]) -> PathBuf {
    let port = srv.addr.port();
    let text = format!(
        r#"
name = "unattended"
vantage = "test-vantage"
{schedule}
concurrency = 3
seed = 11
out = "out"

{defaults}
[[url]]
url = "https://a.test:{port}{p0}"
class = "image"
group = "target"

[[url]]
url = "https://b.test:{port}{p1}"
class = "image"
group = "control"

[[url]]
url = "https://b.test:{port}{p2}"
class = "text"
group = "control"
"#,
        defaults = srv.campaign_defaults("30s"),
        p0 = paths[0],
        p1 = paths[1],
        p2 = paths[2],
    );
    let path = dir.join("campaign.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Waits (at most 20 s) until a spawned run has written `out/campaign.json`.
pub fn wait_for_campaign_json(out: &Path) {
    let t = Instant::now();
    while !out.join("campaign.json").exists() {
        assert!(t.elapsed() < Duration::from_secs(20), "run never started");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Every line of `fetches.csv` and `timeline.csv` parses as a row of the
/// right type, fetch ids are unique, and every fetch row's timeline adds up
/// to its body bytes. Returns the fetch rows.
pub fn check_whole(out: &Path) -> Vec<FetchRecord> {
    let fetches = out.join("fetches.csv");
    let raw = std::fs::read_to_string(&fetches).unwrap();
    assert!(raw.ends_with('\n'), "fetches.csv ends mid-line");
    let mut r = csv::Reader::from_path(&fetches).unwrap();
    let rows: Vec<FetchRecord> = r
        .deserialize()
        .map(|x| x.unwrap_or_else(|e| panic!("fetches.csv: {e}\n{raw}")))
        .collect();
    let mut ids = HashSet::new();
    for row in &rows {
        assert!(
            ids.insert(row.fetch_id.clone()),
            "duplicate fetch_id {}",
            row.fetch_id
        );
    }
    let tl_raw = std::fs::read_to_string(out.join("timeline.csv")).unwrap();
    assert!(tl_raw.ends_with('\n'), "timeline.csv ends mid-line");
    let mut t = csv::Reader::from_path(out.join("timeline.csv")).unwrap();
    let windows: Vec<Window> = t
        .deserialize()
        .map(|x| x.unwrap_or_else(|e| panic!("timeline.csv: {e}")))
        .collect();
    for w in &windows {
        assert!(
            ids.contains(&w.fetch_id),
            "timeline row of unknown fetch {}",
            w.fetch_id
        );
    }
    for row in &rows {
        let sum: u64 = windows
            .iter()
            .filter(|w| w.fetch_id == row.fetch_id && w.direction == row.direction)
            .map(|w| w.bytes)
            .sum();
        assert_eq!(sum, row.body_bytes, "timeline of {}", row.fetch_id);
    }
    rows
}

/// Lines of `rounds.csv` as (run_id, round, end).
pub fn rounds_log(out: &Path) -> Vec<(String, u32, String)> {
    let mut r = csv::Reader::from_path(out.join("rounds.csv")).unwrap();
    r.records()
        .map(|x| {
            let x = x.unwrap();
            (x[0].to_string(), x[1].parse().unwrap(), x[6].to_string())
        })
        .collect()
}
