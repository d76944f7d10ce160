//! `slowlane run` end to end: the real binary against a loopback server.

mod support;

use std::path::Path;

use slowlane::types::FetchRecord;
use support::bin::{in_background, run, run_cmd, slowlane, Background};
use support::server::{Mode, TestServer};

fn write_campaign(dir: &Path, srv: &TestServer, rounds: u32, extra: &str) -> std::path::PathBuf {
    let port = srv.addr.port();
    let text = format!(
        r#"
name = "loop"
vantage = "test-vantage"
rounds = {rounds}
concurrency = 2
seed = 7
out = "out"
{extra}
{defaults}
[[url]]
url = "https://pbs.twimg.com:{port}/bytes/20000"
class = "image"
group = "target"

[[url]]
url = "https://example.org:{port}/bytes/20000"
class = "image"
group = "control"

[[url]]
url = "https://example.org:{port}/bytes/3000"
class = "text"
group = "control"
label = "small"
"#,
        defaults = srv.campaign_defaults("5s")
    );
    let path = dir.join("campaign.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// A test server for the synchronous tests (which run the binary).
fn blocking_server() -> Background<TestServer> {
    in_background(TestServer::start(
        Mode::Normal,
        &["pbs.twimg.com", "example.org"],
        &["h2"],
    ))
}

fn read_rows(path: &Path) -> Vec<FetchRecord> {
    let mut r = csv::Reader::from_path(path).unwrap();
    r.deserialize().map(|x| x.unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn ten_rounds_write_ten_times_n_rows_with_one_header() {
    let srv = TestServer::start(
        Mode::Normal,
        &["pbs.twimg.com", "example.org"],
        &["h2", "http/1.1"],
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let campaign = write_campaign(dir.path(), &srv, 10, "");
    let out = tokio::task::spawn_blocking(move || run(&campaign, &[], &[]))
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let fetches = dir.path().join("out/fetches.csv");
    let rows = read_rows(&fetches);
    assert_eq!(rows.len(), 30);
    let text = std::fs::read_to_string(&fetches).unwrap();
    assert_eq!(text.matches("campaign,vantage").count(), 1);
    assert!(rows
        .iter()
        .all(|r| r.error.is_none() && r.vantage == "test-vantage"));
    for round in 0..10 {
        assert_eq!(rows.iter().filter(|r| r.round == round).count(), 3);
    }
    // Every fetch id is unique and has timeline rows that add up to its body.
    let mut tl = csv::Reader::from_path(dir.path().join("out/timeline.csv")).unwrap();
    let windows: Vec<slowlane::types::Window> = tl.deserialize().map(|x| x.unwrap()).collect();
    for r in &rows {
        let sum: u64 = windows
            .iter()
            .filter(|w| w.fetch_id == r.fetch_id)
            .map(|w| w.bytes)
            .sum();
        assert_eq!(sum, r.body_bytes, "{}", r.fetch_id);
    }
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("out/campaign.json")).unwrap())
            .unwrap();
    assert_eq!(json["runs"][0]["seed"], 7);
    // Histograms (one interval per round) and the end-of-run verdicts.
    let hlog = std::fs::read_to_string(dir.path().join("out/histograms.hlog")).unwrap();
    assert!(
        hlog.contains("image.target.down.tcp.ttfb_us")
            && hlog.contains("image.control.down.tcp.tls_us"),
        "{hlog}"
    );
    let summary = std::fs::read_to_string(dir.path().join("out/summary.csv")).unwrap();
    assert!(summary.lines().count() > 4, "{summary}");
    let verdicts = std::fs::read_to_string(dir.path().join("out/verdicts.csv")).unwrap();
    assert!(
        verdicts.starts_with(
            "vantage,scope,url,host,sni,label,class,direction,group,verdict,n,n_control"
        ),
        "{verdicts}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("Summary"),
        "the verdict table is printed: {stdout}"
    );
    assert_eq!(json["runs"][0]["run_id"].as_str().unwrap(), rows[0].run_id);

    // A second run appends; the header is still written once.
    let campaign = dir.path().join("campaign.toml");
    let out = run(&campaign, &["--rounds", "1"], &[]);
    assert!(out.status.success());
    let text = std::fs::read_to_string(&fetches).unwrap();
    assert_eq!(text.matches("campaign,vantage").count(), 1);
    assert_eq!(read_rows(&fetches).len(), 33);
    // Its verdicts are over the whole directory: both runs, 11 fetches a URL.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("2 runs)"), "{stdout}");
    let mut v = csv::Reader::from_path(dir.path().join("out/verdicts.csv")).unwrap();
    let h = v.headers().unwrap().clone();
    let col = |name: &str| h.iter().position(|x| x == name).unwrap();
    let (scope, group, runs, n) = (col("scope"), col("group"), col("runs"), col("n"));
    let mut url_rows = 0;
    for rec in v.records() {
        let rec = rec.unwrap();
        if &rec[scope] == "url" {
            url_rows += 1;
            assert_eq!(&rec[runs], "2", "{rec:?}");
            if &rec[group] == "target" {
                assert_eq!(&rec[n], "11", "{rec:?}");
            }
        }
    }
    assert_eq!(url_rows, 3);
}

/// The fetch order of a run, from the sequence number in `fetch_id`.
fn order_of(dir: &Path) -> Vec<String> {
    let mut rows = read_rows(&dir.join("out/fetches.csv"));
    let seq = |r: &FetchRecord| {
        r.fetch_id
            .rsplit('-')
            .next()
            .unwrap()
            .parse::<u64>()
            .unwrap()
    };
    rows.sort_by_key(seq);
    rows.iter()
        .map(|r| format!("{} {}", r.url, r.label))
        .collect()
}

#[test]
fn order_is_shuffled_reproducibly_from_the_seed() {
    let srv = blocking_server();
    let mut orders = Vec::new();
    for seed in [7, 7, 8] {
        let dir = tempfile::tempdir().unwrap();
        let campaign = write_campaign(dir.path(), &srv, 4, "");
        let text = std::fs::read_to_string(&campaign).unwrap();
        let text = text.replace("concurrency = 2", "concurrency = 1");
        std::fs::write(&campaign, text).unwrap();
        let out = run(&campaign, &["--seed", &seed.to_string()], &[]);
        assert!(out.status.success());
        orders.push(order_of(dir.path()));
    }
    assert_eq!(orders[0].len(), 12);
    assert_eq!(orders[0], orders[1], "same seed, same order");
    assert_ne!(orders[0], orders[2], "another seed, another order");
    // Within a run, rounds are not all in the same order.
    let rounds: Vec<_> = orders[0].chunks(3).collect();
    assert!(rounds.iter().any(|r| *r != rounds[0]), "{rounds:?}");
}

#[test]
fn unknown_key_exits_2_naming_key_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "name = \"x\"\nrounds = 1\nfrobnicate = true\n[[url]]\nurl = \"https://example.org/\"\n",
    )
    .unwrap();
    let out = slowlane().arg("run").arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("frobnicate"), "{err}");
    assert!(err.contains("bad.toml:3"), "{err}");
}

#[test]
fn unwritable_output_exits_1() {
    let srv = blocking_server();
    let dir = tempfile::tempdir().unwrap();
    let campaign = write_campaign(dir.path(), &srv, 1, "");
    // A file where the output directory should be.
    std::fs::write(dir.path().join("out"), "not a dir").unwrap();
    let out = run(&campaign, &[], &[]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn ctrl_c_finishes_in_flight_flushes_and_exits_130() {
    let srv = blocking_server();
    let dir = tempfile::tempdir().unwrap();
    let campaign = write_campaign(dir.path(), &srv, 1000, "");
    let child = run_cmd(&campaign, &[])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    // SAFETY: sending SIGINT to our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130));
    let rows = read_rows(&dir.path().join("out/fetches.csv"));
    assert!(!rows.is_empty() && rows.len() < 3000, "{}", rows.len());
    // Every row is complete: the file ends with a newline and parses.
    let text = std::fs::read_to_string(dir.path().join("out/fetches.csv")).unwrap();
    assert!(text.ends_with('\n'));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("image"),
        "the per-class table is printed: {stdout}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn uploads_and_named_controls_reach_fetches_and_summary_per_direction() {
    let srv = TestServer::start(
        Mode::Normal,
        &["pbs.twimg.com", "example.org"],
        &["h2", "http/1.1"],
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let port = srv.addr.port();
    let text = format!(
        r#"
name = "up"
vantage = "test-vantage"
rounds = 2
seed = 3
out = "out"
{defaults}
[[url]]
url = "https://pbs.twimg.com:{port}/upload"
class = "image"
upload = "300KB"
label = "tw up"
control = ["ctl up"]

[[url]]
url = "https://example.org:{port}/upload"
class = "image"
group = "control"
upload = "300KB"
label = "ctl up"

[[url]]
url = "https://pbs.twimg.com:{port}/bytes/40000"
class = "image"
control = ["ctl down"]

[[url]]
url = "https://example.org:{port}/bytes/40000"
class = "image"
group = "control"
label = "ctl down"
"#,
        defaults = srv.campaign_defaults("5s")
    );
    let campaign = dir.path().join("campaign.toml");
    std::fs::write(&campaign, text).unwrap();
    let out = tokio::task::spawn_blocking(move || run(&campaign, &[], &[]))
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = read_rows(&dir.path().join("out/fetches.csv"));
    assert_eq!(rows.len(), 8);
    for r in &rows {
        assert_eq!(r.error, None, "{r:?}");
        let up = r.url.ends_with("/upload");
        assert_eq!(r.direction.as_str(), if up { "up" } else { "down" });
        assert_eq!(r.method, if up { "POST" } else { "GET" });
        let want = if up { 300_000 } else { 40_000 };
        assert_eq!(r.object_bytes, Some(want), "{r:?}");
        if up {
            assert_eq!(r.upload_bytes, 300_000);
            assert!(r.upload_bps.is_some());
        }
        let controls = match (r.group.unwrap().as_str(), up) {
            ("target", true) => "ctl up",
            ("target", false) => "ctl down",
            _ => "",
        };
        assert_eq!(r.controls, controls);
    }
    // summary.csv: uploads are rows of their own, rated by upload_bps only.
    let mut rdr = csv::Reader::from_path(dir.path().join("out/summary.csv")).unwrap();
    let hdr = rdr.headers().unwrap().clone();
    assert_eq!(&hdr[3], "direction");
    let cells: Vec<(String, String, String, u64)> = rdr
        .records()
        .map(|r| {
            let r = r.unwrap();
            (
                r[2].to_string(),
                r[3].to_string(),
                r[4].to_string(),
                r[5].parse().unwrap(),
            )
        })
        .collect();
    let n = |g: &str, d: &str, m: &str| {
        cells
            .iter()
            .find(|c| (c.0.as_str(), c.1.as_str(), c.2.as_str()) == (g, d, m))
            .map(|c| c.3)
    };
    assert_eq!(n("target", "up", "upload_bps"), Some(2), "{cells:?}");
    assert_eq!(n("control", "up", "upload_bps"), Some(2), "{cells:?}");
    // (A loopback body may arrive in one read, leaving goodput empty, so the
    // download side is checked by its latency rows; the exclusion of an
    // upload's goodput is tested in record::histograms.)
    assert_eq!(n("target", "up", "goodput_bps"), None, "{cells:?}");
    assert_eq!(n("target", "down", "upload_bps"), None, "{cells:?}");
    assert_eq!(n("target", "up", "ttfb_us"), Some(2), "{cells:?}");
    assert_eq!(n("target", "down", "ttfb_us"), Some(2), "{cells:?}");
    let hlog = std::fs::read_to_string(dir.path().join("out/histograms.hlog")).unwrap();
    assert!(
        hlog.contains("Tag=image.target.up.tcp.upload_bps,"),
        "{hlog}"
    );
}
