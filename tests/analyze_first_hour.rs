//! Issue 11 (the first hour of a new user), analyzer side: SNI A/B rows told
//! apart, pooled campaigns warned about, JSON carrying the same data as CSV.

mod support;

use slowlane::analyze::{
    analyze_paths, analyze_paths_full, render, write_verdicts_csv, AnalyzeOptions, Format, Scope,
    Verdict, VerdictKind,
};
use slowlane::types::FetchRecord;
use slowlane::types::{Class, Group};
use support::analyze::*;

fn opts() -> AnalyzeOptions {
    AnalyzeOptions::default()
}

const PBS: &str = "https://pbs.twimg.com/media/b.jpg";

/// The twitter campaign plus one URL fetched three times: with its real
/// SNI (policed), without SNI and with `example.org` (both fast, as a
/// name-based throttle does).
fn three_sni_campaign() -> Vec<FetchRecord> {
    let mut urls = twitter_urls();
    urls.retain(|u| u.url != PBS);
    let base = urls.len();
    urls.push(url(
        PBS,
        Class::Image,
        Group::Target,
        2_000_000,
        Path_::Policed(POLICE_BPS),
    ));
    urls.push(url(
        PBS,
        Class::Image,
        Group::Target,
        2_000_000,
        Path_::Fast(60e6),
    ));
    urls.push(url(
        PBS,
        Class::Image,
        Group::Target,
        2_000_000,
        Path_::Fast(60e6),
    ));
    // 30 rounds: enough for the clean variants' evidenced `ok` (issue 22.2).
    let mut recs = campaign(7, "lab", 30, &urls);
    for r in &mut recs {
        let i: usize = r.fetch_id.rsplit('-').next().unwrap().parse().unwrap();
        let (sni, label) = match i.checked_sub(base) {
            Some(0) => ("pbs.twimg.com", "pbs-real"),
            Some(1) => ("", "pbs-nosni"),
            Some(2) => ("example.org", "pbs-other"),
            _ => continue,
        };
        r.sni = sni.into();
        r.label = label.into();
    }
    recs
}

#[test]
fn three_sni_rows_told_apart() {
    let dir = tempfile::tempdir().unwrap();
    write_dir(dir.path(), &three_sni_campaign());
    let v = analyze_paths(&[dir.path().to_path_buf()], &opts()).unwrap();
    let table = render(&v, Format::Text);
    println!("{table}");

    // Text table: three distinguishable url rows for the one URL.
    let lines: Vec<&str> = table
        .lines()
        .filter(|l| l.contains(" url ") && l.ends_with(']') && l.contains(PBS))
        .collect();
    assert_eq!(lines.len(), 3, "{table}");
    let find = |tag: &str| {
        lines
            .iter()
            .find(|l| l.contains(tag))
            .unwrap_or_else(|| panic!("no row with {tag}\n{table}"))
    };
    assert!(find("[sni pbs.twimg.com, label pbs-real]").contains("throttled"));
    assert!(find("[sni none, label pbs-nosni]").contains(" ok "));
    assert!(find("[sni example.org, label pbs-other]").contains(" ok "));

    // verdicts.csv: three url rows with distinct sni and their labels.
    let path = dir.path().join("verdicts.csv");
    write_verdicts_csv(&path, &v).unwrap();
    let mut rd = csv::Reader::from_path(&path).unwrap();
    let head = rd.headers().unwrap().clone();
    let col = |n: &str| head.iter().position(|h| h == n).unwrap();
    let (scope, url, host, sni, label, verdict) = (
        col("scope"),
        col("url"),
        col("host"),
        col("sni"),
        col("label"),
        col("verdict"),
    );
    let recs: Vec<csv::StringRecord> = rd.records().map(Result::unwrap).collect();
    let mut rows: Vec<(String, String, String)> = recs
        .iter()
        .filter(|r| &r[scope] == "url" && &r[url] == PBS)
        .map(|r| {
            (
                r[sni].to_string(),
                r[label].to_string(),
                r[verdict].to_string(),
            )
        })
        .collect();
    rows.sort();
    assert_eq!(
        rows,
        vec![
            ("".into(), "pbs-nosni".into(), "ok".into()),
            ("example.org".into(), "pbs-other".into(), "ok".into()),
            (
                "pbs.twimg.com".into(),
                "pbs-real".into(),
                "throttled".into()
            ),
        ]
    );

    // Host rows per SNI: the real-SNI one throttled, not pooled away.
    let hosts: Vec<(&str, &str)> = recs
        .iter()
        .filter(|r| &r[scope] == "host" && &r[host] == "pbs.twimg.com")
        .map(|r| (&r[sni], &r[verdict]))
        .collect();
    assert_eq!(hosts.len(), 3, "{hosts:?}");
    assert!(hosts.contains(&("pbs.twimg.com", "throttled")), "{hosts:?}");
    assert!(hosts.contains(&("", "ok")), "{hosts:?}");
    assert!(hosts.contains(&("example.org", "ok")), "{hosts:?}");
    let host_rows: Vec<&Verdict> = v
        .iter()
        .filter(|r| r.scope == Scope::Host && r.host == "pbs.twimg.com")
        .collect();
    assert_eq!(
        host_rows
            .iter()
            .filter(|r| r.verdict == VerdictKind::Throttled)
            .count(),
        1
    );
}

/// Two dirs at vantage "lab": `b` rewritten with `campaign`, `run_id` and
/// only the URLs `keep` keeps.
fn two_runs(
    campaign_b: &str,
    keep: impl Fn(&FetchRecord) -> bool,
) -> (tempfile::TempDir, Vec<std::path::PathBuf>) {
    let dir = tempfile::tempdir().unwrap();
    let a = campaign(1, "lab", 6, &twitter_urls());
    let mut b = campaign(2, "lab", 6, &twitter_urls());
    b.retain(|r| keep(r));
    for r in &mut b {
        r.campaign = campaign_b.into();
        r.run_id = "run2".into();
    }
    let (pa, pb) = (dir.path().join("a"), dir.path().join("b"));
    write_dir(&pa, &a);
    write_dir(&pb, &b);
    (dir, vec![pa, pb])
}

#[test]
fn different_campaigns_at_one_vantage_are_warned_about() {
    let (_d, paths) = two_runs("other-scenario", |_| true);
    let a = analyze_paths_full(&paths, &opts()).unwrap();
    assert_eq!(a.warnings.len(), 1, "{:?}", a.warnings);
    let w = &a.warnings[0];
    assert!(
        w.contains("\"lab\"") && w.contains("different campaigns") && w.contains("--by-run"),
        "{w}"
    );
    assert!(
        w.contains("\"other-scenario\"") && w.contains("\"synthetic\""),
        "{w}"
    );
}

#[test]
fn runs_with_different_url_sets_are_warned_about() {
    let (_d, paths) = two_runs("synthetic", |r| !r.url.contains("video"));
    let a = analyze_paths_full(&paths, &opts()).unwrap();
    assert_eq!(a.warnings.len(), 1, "{:?}", a.warnings);
    let w = &a.warnings[0];
    assert!(w.contains("URL sets differ"), "{w}");
    assert!(
        w.contains("run1: 8 URLs") && w.contains("run2: 7 URLs"),
        "{w}"
    );
}

#[test]
fn reruns_of_one_campaign_pool_without_warning_and_say_over_n_runs() {
    let (_d, paths) = two_runs("synthetic", |_| true);
    let a = analyze_paths_full(&paths, &opts()).unwrap();
    assert!(a.warnings.is_empty(), "{:?}", a.warnings);
    let table = render(&a.verdicts, Format::Text);
    println!("{table}");
    assert!(table.contains("(over 1 vantage, 2 runs)"), "{table}");
    assert!(table.contains("(over 2 runs)"), "{table}");
    let r = a
        .verdicts
        .iter()
        .find(|v| v.scope == Scope::Url && v.url == PBS)
        .unwrap();
    assert_eq!((r.runs, r.n), (2, 12), "12 fetches over both runs");
    // One run alone says nothing about runs.
    let one = analyze_paths_full(&paths[..1], &opts()).unwrap();
    let table = render(&one.verdicts, Format::Text);
    assert!(
        table.contains("(over 1 vantage)") && !table.contains(" runs)"),
        "{table}"
    );
}

#[test]
fn by_run_judges_every_run_alone() {
    let (_d, paths) = two_runs("other-scenario", |_| true);
    let o = AnalyzeOptions {
        by_run: true,
        ..opts()
    };
    let a = analyze_paths_full(&paths, &o).unwrap();
    assert!(a.warnings.is_empty(), "{:?}", a.warnings);
    let mut vantages: Vec<&str> = a.verdicts.iter().map(|v| v.vantage.as_str()).collect();
    vantages.dedup();
    assert_eq!(vantages, vec!["lab/run1", "lab/run2"]);
    for v in ["lab/run1", "lab/run2"] {
        let r = a
            .verdicts
            .iter()
            .find(|r| r.vantage == v && r.scope == Scope::Url && r.url == PBS)
            .unwrap();
        assert_eq!(
            (r.runs, r.n, r.verdict),
            (1, 6, VerdictKind::Throttled),
            "{v}"
        );
    }
}

/// A JSON value as the CSV cell it must equal.
fn cell(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[test]
fn json_and_csv_carry_the_same_fields_and_values() {
    let dir = tempfile::tempdir().unwrap();
    write_dir(dir.path(), &three_sni_campaign());
    let v = analyze_paths(&[dir.path().to_path_buf()], &opts()).unwrap();
    let csv_text = render(&v, Format::Csv);
    let json: serde_json::Value = serde_json::from_str(&render(&v, Format::Json)).unwrap();
    let rows = json["verdicts"].as_array().unwrap();
    let mut rd = csv::Reader::from_reader(csv_text.as_bytes());
    let head: Vec<String> = rd.headers().unwrap().iter().map(str::to_string).collect();
    let recs: Vec<csv::StringRecord> = rd.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), recs.len());
    assert!(recs.len() > 10);
    for (j, c) in rows.iter().zip(&recs) {
        let obj = j.as_object().unwrap();
        let mut keys: Vec<&String> = obj.keys().collect();
        let mut cols: Vec<&String> = head.iter().collect();
        keys.sort();
        cols.sort();
        assert_eq!(keys, cols, "same fields");
        for (k, cell_csv) in head.iter().zip(c.iter()) {
            assert_eq!(cell(&obj[k]), cell_csv, "column {k}");
        }
    }
    // The summary: in JSON per vantage, in CSV on the class rows.
    let summary = json["summary"].as_array().unwrap();
    assert_eq!(summary.len(), 1);
    assert_eq!(summary[0]["vantage"], "lab");
    let sentence = summary[0]["sentence"].as_str().unwrap();
    assert!(sentence.contains("image and video throttled"), "{sentence}");
    let class_rows: Vec<&Verdict> = v.iter().filter(|r| r.scope == Scope::Class).collect();
    assert!(!class_rows.is_empty());
    for r in class_rows {
        assert_eq!(r.summary, sentence);
    }
    assert!(v
        .iter()
        .filter(|r| r.scope != Scope::Class)
        .all(|r| r.summary.is_empty()));
}

/// The text table's MEDIAN/CONTROL say what RATIO divides: times for
/// time-judged rows; blocked rows show the controls that exist; the freeze
/// sentence says "freeze" once.
#[test]
fn table_columns_say_one_thing() {
    use slowlane::analyze::{selective_summary, Metric};
    let urls = vec![
        url(
            "https://policed.example/",
            Class::Text,
            Group::Target,
            60_000,
            Path_::Policed(POLICE_BPS),
        ),
        url(
            "https://ctl.example/",
            Class::Text,
            Group::Control,
            20_000,
            Path_::Fast(40e6),
        ),
        url(
            "https://ctl2.example/",
            Class::Text,
            Group::Control,
            40_000,
            Path_::Fast(40e6),
        ),
        url(
            "https://frozen.example/v.mp4",
            Class::Video,
            Group::Target,
            2_000_000,
            Path_::Freeze,
        ),
        url(
            "https://reset.example/v.mp4",
            Class::Video,
            Group::Target,
            2_000_000,
            Path_::Reset,
        ),
        url(
            "https://ctl.example/v.mp4",
            Class::Video,
            Group::Control,
            2_000_000,
            Path_::Fast(50e6),
        ),
    ];
    let v = slowlane::analyze::analyze_records(&campaign(11, "v", 10, &urls), &[], &opts());
    let table = render(&v, Format::Text);
    println!("{table}");
    let row = |u: &str| {
        v.iter()
            .find(|r| r.scope == Scope::Url && r.url == u)
            .unwrap()
    };
    let line = |u: &str| {
        table
            .lines()
            .find(|l| l.contains(" url ") && l.ends_with(u))
            .unwrap()
            .to_string()
    };
    // Time-judged: the medians are times, and their ratio is RATIO.
    let p = row("https://policed.example/");
    assert_eq!(
        (p.verdict, p.metric),
        (VerdictKind::Throttled, Some(Metric::TotalTime))
    );
    let (m, c) = (p.median.unwrap(), p.control_median.unwrap());
    assert!(
        (c / m - p.ratio.unwrap()).abs() < 0.01 * p.ratio.unwrap(),
        "{m} {c} {:?}",
        p.ratio
    );
    let l = line("https://policed.example/");
    let cells: Vec<&str> = l
        .split("  ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    assert!(
        cells
            .iter()
            .filter(|c| c.ends_with(" s") || c.ends_with(" ms"))
            .count()
            == 2
            && !l.contains("bit/s"),
        "{l}"
    );
    // A rate-judged row keeps rates.
    let f = row("https://frozen.example/v.mp4");
    assert!(f.metric.unwrap().is_rate());
    assert!(line("https://frozen.example/v.mp4").contains("bit/s"));
    // Blocked: N/NC counts the controls that exist here (every download
    // control at the vantage, as the blocked rule checks them all).
    let r = row("https://reset.example/v.mp4");
    assert_eq!(r.verdict, VerdictKind::Blocked);
    assert_eq!(
        (r.n, r.n_control),
        (10, 30),
        "{}",
        line("https://reset.example/v.mp4")
    );
    assert!(line("https://reset.example/v.mp4").contains("10/30"));
    // One freeze wording; grammar; no trailing spaces.
    let sentence = &selective_summary(&v)[0].1;
    assert!(
        sentence.contains("video throttled (freeze: stops after ~"),
        "{sentence}"
    );
    assert!(!sentence.contains(") ("), "{sentence}");
    assert!(
        sentence.contains("text throttled (total time ×"),
        "{sentence}"
    );
    assert!(
        !table.contains(" 1 URLs") && !table.contains("/1 URLs"),
        "{table}"
    );
    assert!(
        table.lines().all(|l| l == l.trim_end()),
        "trailing spaces:\n{table}"
    );
}

/// `slowlane analyze a b` warns on stderr; `--by-run` judges the runs apart.
#[test]
fn analyze_cli_warns_and_by_run_splits() {
    let (_d, paths) = two_runs("other-scenario", |_| true);
    let out = support::bin::slowlane()
        .arg("analyze")
        .args(&paths)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("warning: vantage \"lab\" pools 2 runs of different campaigns"),
        "{err}"
    );
    let out = support::bin::slowlane()
        .args(["analyze", "--by-run"])
        .args(&paths)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("warning"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("lab/run1:") && text.contains("lab/run2:"),
        "{text}"
    );
    assert!(text.contains("(over 2 vantages)"), "{text}");
}
