//! Issue 11 (the first hour of a new user), analyzer side: SNI A/B rows told
//! apart, pooled campaigns warned about, JSON carrying the same data as CSV.

mod analyze_support;

use analyze_support::*;
use slowlane::analyze::{
    analyze_paths, render, write_verdicts_csv, AnalyzeOptions, Format, Scope, Verdict, VerdictKind,
};
use slowlane::probe::spec::{Class, Group};
use slowlane::record::FetchRecord;

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
    let mut recs = campaign(7, "lab", 10, &urls);
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
