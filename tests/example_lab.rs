//! `examples/lab.toml`, the README's runnable example: it loads, and run
//! through the binary against the lab (as `slowlane testbed` serves it) it
//! finds the policed photo and prints a progress line per round on a
//! non-terminal stderr.

mod support;

use std::path::Path;

use support::bin::slowlane;
use support::lab::{background_lab, slowlane_via};

fn example() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/lab.toml"))
}

#[test]
fn lab_example_loads() {
    let c = slowlane::config::load_campaign(example()).unwrap();
    assert_eq!(c.name, "lab-example");
    assert_eq!(c.targets.len(), 6);
    assert!(c.out.ends_with("slowlane-out/lab-example"), "{:?}", c.out);
    // Issue 19: `out = "../slowlane-out/…"` relative to examples/ is printed
    // and used as the path a person would write, not `examples/../…`.
    assert_eq!(
        c.out,
        Path::new(env!("CARGO_MANIFEST_DIR")).join("slowlane-out/lab-example")
    );
    // Tests run in the package root, as `slowlane run examples/lab.toml` does.
    let rel = slowlane::config::load_campaign(Path::new("examples/lab.toml")).unwrap();
    assert_eq!(rel.out, Path::new("slowlane-out/lab-example"));
    // Without flags every URL goes to the lab's fixed port, never out.
    for t in &c.targets {
        assert_eq!(t.options.connect_to.len(), 2, "{}", t.url);
        assert!(t
            .options
            .connect_to
            .iter()
            .all(|ct| ct.to_host == "127.0.0.1"));
    }
}

#[test]
fn lab_example_runs_against_the_testbed_with_round_lines() {
    let dir = tempfile::tempdir().unwrap();
    let lab = background_lab("twitter-2021", &dir.path().join("lab"));
    let out = dir.path().join("run");
    let (example, o_dir) = (example().to_str().unwrap(), out.to_str().unwrap());
    // --connect-to: the lab's ephemeral port, not 8443.
    let o = slowlane_via(&lab, &["run", example, "--out", o_dir])
        .output()
        .unwrap();
    drop(lab);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    // stderr is a pipe here: one line per round instead of a bar.
    for r in 1..=5 {
        let line = format!("slowlane: round {r}/5 done, {} fetches so far", 6 * r);
        assert!(stderr.contains(&line), "missing {line:?} in {stderr}");
    }
    let mut rd = csv::Reader::from_path(out.join("verdicts.csv")).unwrap();
    let h = rd.headers().unwrap().clone();
    let col = |name: &str| h.iter().position(|c| c == name).unwrap();
    let (scope, url, verdict) = (col("scope"), col("url"), col("verdict"));
    let verdict_of = |u: &str, rows: &[csv::StringRecord]| {
        rows.iter()
            .find(|r| &r[scope] == "url" && &r[url] == u)
            .map(|r| r[verdict].to_string())
    };
    let rows: Vec<csv::StringRecord> = rd.records().map(|r| r.unwrap()).collect();
    assert_eq!(
        verdict_of("https://pbs.twimg.com/image/600000.jpg", &rows).as_deref(),
        Some("throttled")
    );
    // The text target is clean: `ok` once its fetches exclude a throttle,
    // before that (five rounds) inconclusive saying what it cannot exclude
    // (issue 22.2).
    let reason = col("reason");
    let text = rows
        .iter()
        .find(|r| &r[scope] == "url" && &r[url] == "https://twitter.com/text/30000")
        .expect("text row");
    assert!(
        &text[verdict] == "ok"
            || (&text[verdict] == "inconclusive" && text[reason].contains("cannot exclude")),
        "{text:?}"
    );
}

/// `--quiet` silences the round lines too.
#[test]
fn quiet_run_prints_no_round_lines() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens on the lab port here: every fetch fails fast, which
    // is data; the run still completes its round (and exits 3: nothing
    // was measured).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let ct = format!(":443:127.0.0.1:{port}");
    let run = |quiet: bool| {
        let mut cmd = slowlane();
        cmd.arg("run")
            .arg(example())
            .args(["--rounds", "1", "--connect-to", &ct]);
        cmd.arg("--out").arg(dir.path());
        if quiet {
            cmd.arg("--quiet");
        }
        cmd.output().unwrap()
    };
    let loud = run(false);
    assert_eq!(loud.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&loud.stderr)
        .contains("round 1/1 done, 6 fetches so far (6 failed)"));
    let quiet = run(true);
    assert_eq!(quiet.status.code(), Some(3));
    assert!(!String::from_utf8_lossy(&quiet.stderr).contains("round 1/1"));
}
