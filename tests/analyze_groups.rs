//! `analyze --group-by`: vantages counted per group (a vantages.csv column or
//! a name prefix) without pooling their fetches, so a group table never
//! changes a vantage's own verdict.

mod support;

use support::analyze::*;

fn clean_urls() -> Vec<Url> {
    twitter_urls()
        .into_iter()
        .map(|mut u| {
            if matches!(u.path, Path_::Policed(_)) {
                u.path = Path_::Fast(50e6);
            }
            u
        })
        .collect()
}

fn analyze(args: &[&str]) -> std::process::Output {
    support::bin::slowlane()
        .arg("analyze")
        .args(args)
        .output()
        .unwrap()
}

fn csv_rows(path: &std::path::Path) -> Vec<std::collections::HashMap<String, String>> {
    let mut rd = csv::Reader::from_path(path).unwrap();
    let h = rd.headers().unwrap().clone();
    rd.records()
        .map(|r| {
            let r = r.unwrap();
            h.iter()
                .zip(r.iter())
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        })
        .collect()
}

#[test]
fn mobile_vs_fixed_from_vantages_csv() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results");
    // Two mobile vantages throttled, two fixed ones clean, one not in the map.
    let plan = [
        ("ru-mts-1", true),
        ("ru-beeline-2", true),
        ("ru-rt-3", false),
        ("ru-ertelecom-4", false),
        ("de-hetzner-5", false),
    ];
    let mut paths = Vec::new();
    for (i, (v, throttled)) in plan.iter().enumerate() {
        let urls = if *throttled {
            twitter_urls()
        } else {
            clean_urls()
        };
        let d = results.join(v).join("camp");
        // 30 rounds: enough for the clean vantages' evidenced `ok` (issue 22.2).
        write_dir(&d, &campaign(100 + i as u64, v, 30, &urls));
        paths.push(d.join("fetches.csv"));
    }
    std::fs::write(
        results.join("vantages.csv"),
        "vantage,country,access\nru-mts-1,RU,mobile\nru-beeline-2,RU,mobile\nru-rt-3,RU,fixed\nru-ertelecom-4,RU,fixed\n",
    )
    .unwrap();
    let out = dir.path().join("merged");
    let mut args: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    args.extend([
        "--out".into(),
        out.display().to_string(),
        "--group-by".into(),
        "access".into(),
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = analyze(&args);
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(stdout.contains("By access"), "{stdout}");
    assert!(
        stderr.contains("de-hetzner-5"),
        "unmapped vantage not reported: {stderr}"
    );

    let groups = csv_rows(&out.join("groups.csv"));
    let image = |g: &str| {
        groups
            .iter()
            .find(|r| r["group"] == g && r["class"] == "image" && r["direction"] == "down")
            .unwrap_or_else(|| panic!("no image row for {g}: {groups:?}"))
    };
    let mobile = image("mobile");
    assert_eq!(mobile["vantages"], "2");
    assert_eq!(mobile["throttled"], "2");
    assert_eq!(mobile["throttled_vantages"], "ru-beeline-2;ru-mts-1");
    let rate: f64 = mobile["throttle_rate_bps"].parse().unwrap();
    assert!((rate / POLICE_BPS - 1.0).abs() < 0.15, "rate {rate}");
    let fixed = image("fixed");
    assert_eq!(
        (fixed["vantages"].as_str(), fixed["throttled"].as_str()),
        ("2", "0")
    );
    assert_eq!(fixed["ok"], "2");
    assert_eq!(image("(unmapped)")["vantages"], "1");

    // The per-vantage verdicts are those of each vantage analysed alone.
    let merged = csv_rows(&out.join("verdicts.csv"));
    for (i, (v, _)) in plan.iter().enumerate() {
        let alone = dir.path().join(format!("alone-{i}"));
        let p = paths[i].display().to_string();
        let o = analyze(&[&p, "--out", alone.to_str().unwrap()]);
        assert!(o.status.success());
        let key = |r: &std::collections::HashMap<String, String>| {
            (
                r["scope"].clone(),
                r["url"].clone(),
                r["class"].clone(),
                r["direction"].clone(),
                r["verdict"].clone(),
            )
        };
        let mut a: Vec<_> = csv_rows(&alone.join("verdicts.csv"))
            .iter()
            .map(key)
            .collect();
        let mut m: Vec<_> = merged
            .iter()
            .filter(|r| r["vantage"] == *v)
            .map(key)
            .collect();
        a.sort();
        m.sort();
        assert_eq!(a, m, "{v}: merged verdicts differ from the vantage alone");
    }
}

#[test]
fn prefix_groups_and_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let mut paths = Vec::new();
    for (i, v) in ["ru-mts-a", "ru-mts-b", "kz-x-c"].iter().enumerate() {
        let d = dir.path().join(v);
        write_dir(&d, &campaign(7 + i as u64, v, 6, &twitter_urls()));
        paths.push(d.display().to_string());
    }
    let out = dir.path().join("m");
    let mut args: Vec<&str> = paths.iter().map(String::as_str).collect();
    args.extend(["--out", out.to_str().unwrap(), "--group-by", "prefix:1"]);
    let o = analyze(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let groups = csv_rows(&out.join("groups.csv"));
    let ru: Vec<_> = groups.iter().filter(|r| r["group"] == "ru").collect();
    assert!(
        !ru.is_empty() && ru.iter().all(|r| r["vantages"] == "2"),
        "{groups:?}"
    );
    assert!(groups.iter().any(|r| r["group"] == "kz"));

    // A column without a vantages.csv, and a column the file lacks.
    let mut a2 = args.clone();
    *a2.last_mut().unwrap() = "country";
    let o = analyze(&a2);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("needs a vantages.csv"));
    let vf = dir.path().join("v.csv");
    std::fs::write(&vf, "vantage,isp\nru-mts-a,MTS\n").unwrap();
    a2.extend(["--vantages", vf.to_str().unwrap()]);
    let o = analyze(&a2);
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("v.csv") && e.contains("no column `country`"),
        "{e}"
    );
    std::fs::write(&vf, "vantage,isp\nru-mts-a,MTS\nru-mts-a,MTS2\n").unwrap();
    let o = analyze(&a2);
    assert!(String::from_utf8_lossy(&o.stderr).contains("v.csv:3: vantage `ru-mts-a` listed twice"));
}

/// Issue 19: `analyze results` after collect.yml walks the tree
/// (`results/<vantage>/<campaign>/fetches.csv`), leaves the merged outputs
/// out, says what it read, and gives the same verdicts as the files named.
#[test]
fn a_results_tree_is_walked() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results");
    let mut files = Vec::new();
    for (i, v) in ["ru-mts-a", "ru-rt-b", "de-c"].iter().enumerate() {
        let d = results.join(v).join("camp");
        write_dir(&d, &campaign(40 + i as u64, v, 6, &twitter_urls()));
        files.push(d.join("fetches.csv").display().to_string());
    }
    // A second campaign at one vantage: one more file, no more vantages.
    let d = results.join("ru-mts-a").join("other");
    write_dir(&d, &campaign(50, "ru-mts-a", 6, &clean_urls()));
    files.push(d.join("fetches.csv").display().to_string());
    // What collect.yml's own analysis left behind is not input.
    let merged = results.join("merged").join("camp");
    std::fs::create_dir_all(&merged).unwrap();
    std::fs::write(merged.join("verdicts.csv"), "not,input\n").unwrap();

    let out = dir.path().join("tree");
    let o = analyze(&[results.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(
        stderr.contains("read 4 fetches.csv files from 3 vantages"),
        "{stderr}"
    );
    files.sort();
    let named = dir.path().join("named");
    let mut args: Vec<&str> = files.iter().map(String::as_str).collect();
    args.extend(["--out", named.to_str().unwrap()]);
    let o = analyze(&args);
    assert!(o.status.success());
    let tree = std::fs::read_to_string(out.join("verdicts.csv")).unwrap();
    assert_eq!(
        tree,
        std::fs::read_to_string(named.join("verdicts.csv")).unwrap()
    );

    // Without a results tree the output goes beside it: results/verdicts.csv,
    // which a second walk does not take for input either.
    let o = analyze(&[results.to_str().unwrap()]);
    assert!(o.status.success());
    assert!(results.join("verdicts.csv").is_file());
    let o = analyze(&[results.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("read 4 fetches.csv files"));

    // A tree with outputs only: an error naming it, exit 2.
    let o = analyze(&[results.join("merged").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("no fetches.csv in") && e.contains("merged"),
        "{e}"
    );
}
