//! Issue 23, items 5 and 9: `run examples/lab.toml` with no lab listening
//! says what failed and why and exits 3 (nothing measured), keeping every
//! row; and rounds.csv never shows a round starting before the previous one
//! ended (refused connections make the rounds follow back to back).

mod support;

use support::bin::{slowlane, text};

/// A loopback port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[test]
fn a_run_where_every_fetch_fails_says_why_and_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let port = closed_port();
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/lab.toml");
    let o = slowlane()
        .args(["run", example, "--quiet", "--rounds", "8"])
        .arg("--out")
        .arg(&out)
        .args(["--connect-to", &format!(":443:127.0.0.1:{port}")])
        .args(["--connect-to", &format!(":80:127.0.0.1:{port}")])
        .output()
        .unwrap();
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{err}{}", text(&o.stdout));
    let want =
        format!("nothing measured: all 48 fetches: 48 connection_refused to 127.0.0.1:{port}");
    assert!(err.contains(&want), "{err}");
    assert!(err.contains("is the server running"), "{err}");
    // The rows are data all the same.
    let rows = std::fs::read_to_string(out.join("fetches.csv")).unwrap();
    assert_eq!(rows.lines().count(), 1 + 48);

    // rounds.csv: each round ends before the next one starts.
    let mut rd = csv::Reader::from_path(out.join("rounds.csv")).unwrap();
    let rounds: Vec<(String, String)> = rd
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[2].to_string(), r[3].to_string())
        })
        .collect();
    assert_eq!(rounds.len(), 8);
    let t = |s: &str| humantime::parse_rfc3339(s).unwrap();
    for w in rounds.windows(2) {
        assert!(t(&w[0].0) <= t(&w[0].1), "{w:?}");
        assert!(
            t(&w[0].1) <= t(&w[1].0),
            "round ended after the next began: {w:?}"
        );
    }
}

/// One success among the failures is a measurement: exit 0, no message.
#[test]
fn failures_beside_a_measurement_are_data() {
    let dir = tempfile::tempdir().unwrap();
    let lab = support::lab::background_lab("clean", &dir.path().join("lab"));
    let c = dir.path().join("c.toml");
    std::fs::write(
        &c,
        format!(
            "name = \"mixed\"\nrounds = 1\n[defaults]\nmax_time = \"5s\"\n\
             [[url]]\nurl = \"https://example.org/text/3000\"\n\
             [[url]]\nurl = \"https://127.0.0.1:{}/text/3000\"\n",
            closed_port()
        ),
    )
    .unwrap();
    let out = dir.path().join("out");
    let o = support::lab::slowlane_via(&lab, &["run", c.to_str().unwrap(), "--quiet"])
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(!err.contains("nothing measured"), "{err}");
}
