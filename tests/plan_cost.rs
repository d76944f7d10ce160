//! `slowlane plan`: what it predicts a campaign moves is what a run then
//! moves (within 5%), measured against the lab; and its bounds are honest
//! when sizes are unknown.

mod support;

use std::path::Path;

use support::bin::slowlane;
use support::lab::{background_lab, slowlane_via};

const CAMPAIGN: &str = r#"
name = "plan-check"
rounds = 3
concurrency = 3

[defaults]
max_time = "10s"

[[url]]
url = "https://example.org/text/30000"
class = "text"

[[url]]
url = "https://cdn.example.net/image/600000.jpg"
class = "image"

[[url]]
url = "https://cdn.example.net/image/250000.jpg"
class = "image"

[[url]]
url = "https://upload.example.org/upload"
upload = "200KiB"
class = "image"
"#;

fn json(o: &std::process::Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn moved(fetches: &Path) -> (u64, u64, usize) {
    let mut rd = csv::Reader::from_path(fetches).unwrap();
    let h = rd.headers().unwrap().clone();
    let col = |n: &str| h.iter().position(|c| c == n).unwrap();
    let (down, up) = (col("body_bytes"), col("upload_bytes"));
    let (mut d, mut u, mut n) = (0, 0, 0);
    for r in rd.records() {
        let r = r.unwrap();
        d += r[down].parse::<u64>().unwrap();
        u += r[up].parse::<u64>().unwrap();
        n += 1;
    }
    (d, u, n)
}

fn within_5pct(planned: u64, actual: u64) -> bool {
    (planned as f64 - actual as f64).abs() <= 0.05 * actual as f64
}

#[test]
fn plan_matches_what_a_run_transfers() {
    let dir = tempfile::tempdir().unwrap();
    let lab = background_lab("clean", &dir.path().join("lab"));
    let file = dir.path().join("c.toml");
    std::fs::write(&file, CAMPAIGN).unwrap();
    let out = dir.path().join("out");
    let (f, o) = (file.to_str().unwrap(), out.to_str().unwrap());
    let at_lab = |args: &[&str]| slowlane_via(&lab, args).output().unwrap();

    let before = json(&at_lab(&["plan", f, "--out", o, "--format", "json"]));
    let probed = json(&at_lab(&[
        "plan", f, "--out", o, "--format", "json", "--probe",
    ]));
    let run = at_lab(&["run", f, "--out", o, "--quiet"]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let after = json(&at_lab(&["plan", f, "--out", o, "--format", "json"]));

    // Without sizes, downloads count at the 16 MiB cap: an upper bound, said so.
    assert_eq!(before["upper_bound"], true);
    assert_eq!(before["down_bytes_per_round"], 3 * 16 * 1024 * 1024);
    assert_eq!(probed["upper_bound"], false, "{probed}");
    assert_eq!(probed["rounds"], 3);
    assert_eq!(probed["total_fetches"], 12);

    let (down, up, n) = moved(&out.join("fetches.csv"));
    assert_eq!(n, 12);
    for plan in [&probed, &after] {
        let pd = plan["total_down_bytes"].as_u64().unwrap();
        let pu = plan["total_up_bytes"].as_u64().unwrap();
        assert!(
            within_5pct(pd, down),
            "planned down {pd}, moved {down}: {plan}"
        );
        assert!(within_5pct(pu, up), "planned up {pu}, moved {up}: {plan}");
    }
    // Sizes from the run itself once it exists.
    let sources: Vec<&str> = after["per_url"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["size_source"].as_str().unwrap())
        .collect();
    assert_eq!(
        sources.iter().filter(|s| **s == "earlier").count(),
        3,
        "{sources:?}"
    );
    assert_eq!(sources.iter().filter(|s| **s == "upload").count(), 1);
}

#[test]
fn plan_bounds_a_duration_campaign_by_its_interval() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.toml");
    std::fs::write(
        &file,
        r#"
name = "d"
duration = "1h"
interval = "10m"
concurrency = 2
[defaults]
max_time = "30s"
max_bytes = "1MiB"
[[url]]
url = "https://a.example/x"
[[url]]
url = "https://b.example/y"
[[url]]
url = "https://c.example/z"
"#,
    )
    .unwrap();
    let o = slowlane()
        .args(["plan", file.to_str().unwrap(), "--format", "json"])
        .output()
        .unwrap();
    let v = json(&o);
    assert_eq!(v["rounds"], 6);
    assert_eq!(v["total_fetches"], 18);
    assert_eq!(v["down_bytes_per_round"], 3 * 1024 * 1024);
    // Three 30 s caps on two slots: 60 s at worst.
    assert_eq!(v["max_round_ms"], 60_000);
    let text = slowlane()
        .args(["plan", file.to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.contains("total (6 rounds): 18 fetches"), "{text}");
    assert!(text.contains("3 unknown (counted at max_bytes)"), "{text}");
}

/// A reflector's `download` is the size it serves: planned at exactly that,
/// not at `max_bytes` (16 MiB), and no upper bound.
#[test]
fn plan_counts_a_reflector_download_at_its_size() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.toml");
    std::fs::write(
        &file,
        r#"
name = "r"
rounds = 2
[[reflector]]
url = "https://127.0.0.1:9"
pin = "sha256:0000000000000000000000000000000000000000000000000000000000000000"
names = ["pbs.twimg.com"]
controls = ["example.com"]
download = "2MiB"
upload = ""
"#,
    )
    .unwrap();
    let o = slowlane()
        .args(["plan", file.to_str().unwrap(), "--format", "json"])
        .args(["--out", dir.path().join("o").to_str().unwrap()])
        .output()
        .unwrap();
    let v = json(&o);
    assert_eq!(v["upper_bound"], false, "{v}");
    assert_eq!(v["down_bytes_per_round"], 2 * 2 * 1024 * 1024, "{v}");
    for u in v["per_url"].as_array().unwrap() {
        assert_eq!(u["size_source"], "campaign", "{u}");
    }
}

/// After a run whose throttled photo was capped by `max_time` every time,
/// `plan` counts it at its Content-Length (`object_bytes`), not `max_bytes`.
#[test]
fn plan_sizes_capped_downloads_by_their_content_length() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.toml");
    let out = dir.path().join("o");
    std::fs::write(
        &file,
        r#"
name = "c"
rounds = 1
[[url]]
url = "https://pbs.twimg.com/image/600000.jpg"
"#,
    )
    .unwrap();
    std::fs::create_dir_all(&out).unwrap();
    // The columns earlier_sizes reads, as a run writes them.
    std::fs::write(
        out.join("fetches.csv"),
        "url,direction,body_bytes,object_bytes,capped,error\n\
         https://pbs.twimg.com/image/600000.jpg,down,32768,600000,time,\n\
         https://pbs.twimg.com/image/600000.jpg,down,31000,600000,time,\n",
    )
    .unwrap();
    let o = slowlane()
        .args(["plan", file.to_str().unwrap(), "--format", "json"])
        .args(["--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    let v = json(&o);
    assert_eq!(v["down_bytes_per_round"], 600_000, "{v}");
    assert_eq!(v["per_url"][0]["size_source"], "earlier", "{v}");
    assert_eq!(v["upper_bound"], false, "{v}");
}

/// Issue 22.5: an adaptive campaign's cost is a range — decided at the
/// first look (the analyzer's `--min-n` rounds) up to its budget spent; a
/// byte budget bounds the rounds when sizes are exact.
#[test]
fn plan_of_an_adaptive_campaign_is_a_range() {
    assert_eq!(
        slowlane::plan::cost::FIRST_LOOK_ROUNDS,
        slowlane::analyze::AnalyzeOptions::default().min_n as u64
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.toml");
    let campaign = |extra: &str| {
        format!(
            "name = \"a\"\nuntil = \"decided\"\n{extra}\n\
             [[reflector]]\nurl = \"https://r.example:8443\"\n\
             pin = \"sha256:{}\"\nnames = [\"a.example\"]\ncontrols = [\"b.example\"]\n\
             download = \"1MB\"\nupload = \"\"\n",
            "0".repeat(64)
        )
    };
    std::fs::write(&file, campaign("rounds = 30")).unwrap();
    let plan = |args: &[&str]| {
        slowlane()
            .arg("plan")
            .arg(&file)
            .args(args)
            .output()
            .unwrap()
    };
    let v = json(&plan(&["--format", "json"]));
    assert_eq!(v["until"], "decided");
    assert_eq!(v["first_look"]["rounds"], 5);
    assert_eq!(v["first_look"]["fetches"], 10);
    assert_eq!(v["first_look"]["down_bytes"], 10_000_000);
    assert_eq!(v["rounds"], 30);
    assert_eq!(v["total_down_bytes"], 60_000_000);
    let text = String::from_utf8(plan(&[]).stdout).unwrap();
    assert!(
        text.contains("every target row decided at the first look (5 rounds): 10 fetches"),
        "{text}"
    );
    assert!(
        text.contains("and the budget spent (30 rounds): 60 fetches"),
        "{text}"
    );

    // 21 MB of budget at 2 MB a round: the 11th round reaches it.
    let v = json(&plan(&["--format", "json", "--max-total-bytes", "21MB"]));
    assert_eq!(v["rounds"], 11);
    // A fixed campaign has no range.
    let v = json(&plan(&["--format", "json", "--until", "budget"]));
    assert!(v["first_look"].is_null());
    assert_eq!(v["rounds"], 30);
}
