//! Shared by the `unattended_*` tests: a loopback HTTPS server, a campaign
//! pointed at it, the built binary, and the checks that output files are
//! whole (every line parses, no duplicate `fetch_id`, every fetch row has
//! its timeline).
#![allow(dead_code)]

#[path = "../common/mod.rs"]
mod common;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub use common::{Mode, TestServer};
use slowlane::record::{FetchRecord, Window};

pub const BIN: &str = env!("CARGO_BIN_EXE_slowlane");

/// A server on its own runtime (the tests run the binary synchronously).
pub fn server() -> (tokio::runtime::Runtime, TestServer) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let srv = rt.block_on(TestServer::start(
        Mode::Normal,
        &["a.test", "b.test"],
        &["h2"],
    ));
    (rt, srv)
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

[defaults]
max_time = "30s"
cacert = ["{ca}"]
resolve = ["a.test:{port}:127.0.0.1", "b.test:{port}:127.0.0.1"]

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
        ca = srv.ca_pem.display(),
        p0 = paths[0],
        p1 = paths[1],
        p2 = paths[2],
    );
    let path = dir.join("campaign.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// `slowlane run CAMPAIGN --quiet ARGS…` with `env`, to completion.
pub fn run(campaign: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.arg("run").arg(campaign).arg("--quiet").args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
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
