//! Verdicts, fingerprints and the selective summary on synthetic campaigns.

mod support;

use slowlane::analyze::{
    analyze_paths, analyze_records, render, write_verdicts_csv, AnalyzeOptions, Format, Mechanism,
    Scope, Verdict, VerdictKind,
};
use slowlane::types::{Class, Group};
use support::analyze::*;

fn opts() -> AnalyzeOptions {
    AnalyzeOptions::default()
}

fn url_row<'a>(v: &'a [Verdict], url: &str) -> &'a Verdict {
    v.iter()
        .find(|r| r.scope == Scope::Url && r.url == url)
        .unwrap_or_else(|| panic!("no row for {url}"))
}

fn dump(v: &[Verdict]) -> String {
    render(v, Format::Text)
}

#[test]
fn twitter_policer_from_files() {
    let dir = tempfile::tempdir().unwrap();
    // 30 rounds: enough clean text fetches for an evidenced `ok` (issue
    // 22.2; at 10 the text row is inconclusive, "cannot exclude a partial
    // throttle": tests/analyze_evidence.rs).
    let recs = campaign(42, "msk-vps-1", 30, &twitter_urls());
    write_dir(dir.path(), &recs);
    let v = analyze_paths(&[dir.path().to_path_buf()], &opts()).unwrap();
    let table = dump(&v);
    println!("{table}");
    for u in [
        "https://pbs.twimg.com/media/a.jpg",
        "https://pbs.twimg.com/media/b.jpg",
        "https://video.twimg.com/v/1.mp4",
    ] {
        let r = url_row(&v, u);
        assert_eq!(r.verdict, VerdictKind::Throttled, "{u}\n{table}");
        assert_eq!(r.mechanism, Some(Mechanism::Policer), "{u}\n{table}");
        let p = r.plateau_bps.unwrap();
        println!(
            "{u}: plateau {p:.0} ({:+.2}%)",
            (p / POLICE_BPS - 1.0) * 100.0
        );
        assert!(
            (p / POLICE_BPS - 1.0).abs() < 0.05,
            "{u}: plateau {p}\n{table}"
        );
        assert!(r.ratio.unwrap() < 0.01 && r.p_value.unwrap() < 0.01);
        assert!(
            r.ratio_ci_low.unwrap() <= r.ratio.unwrap()
                && r.ratio.unwrap() <= r.ratio_ci_high.unwrap()
        );
        assert!(
            r.burst_bytes.unwrap() > 16_000,
            "{u}: burst {:?}",
            r.burst_bytes
        );
    }
    assert_eq!(
        url_row(&v, "https://twitter.com/").verdict,
        VerdictKind::Ok,
        "{table}"
    );
    // Each control here is the only one of its size in its class: it has
    // nothing like-for-like to be compared with, and says so.
    for r in v.iter().filter(|r| r.control) {
        assert_eq!(
            r.verdict,
            VerdictKind::Inconclusive,
            "control {}\n{table}",
            r.url
        );
        assert!(r.reason.contains("no other control"), "{}", r.reason);
    }
    // host rows aggregate the two twimg images
    let host = v
        .iter()
        .find(|r| r.scope == Scope::Host && r.host == "pbs.twimg.com")
        .unwrap();
    assert_eq!(host.verdict, VerdictKind::Throttled);
    assert_eq!(host.n, 60);
    // class rows and the sentence
    let class = |c: Class| {
        v.iter()
            .find(|r| r.scope == Scope::Class && r.class == Some(c))
            .unwrap()
    };
    assert_eq!(class(Class::Image).verdict, VerdictKind::Throttled);
    assert_eq!(class(Class::Video).verdict, VerdictKind::Throttled);
    assert_eq!(class(Class::Text).verdict, VerdictKind::Ok);
    let last = table.lines().last().unwrap();
    assert!(last.contains("image and video throttled to ~1"), "{last}");
    assert!(last.contains("text not throttled"), "{last}");
    assert!(last.contains("policer"), "{last}");

    // In-memory analysis agrees with the files.
    let mem = analyze_records(&recs, &[], &opts());
    let kinds = |v: &[Verdict]| {
        v.iter()
            .map(|r| (r.scope, r.url.clone(), r.verdict, r.mechanism))
            .collect::<Vec<_>>()
    };
    assert_eq!(kinds(&mem), kinds(&v));

    // verdicts.csv: readable, the documented columns, one row per verdict.
    let path = dir.path().join("verdicts.csv");
    write_verdicts_csv(&path, &v).unwrap();
    let mut rdr = csv::Reader::from_path(&path).unwrap();
    let h: Vec<String> = rdr.headers().unwrap().iter().map(String::from).collect();
    for col in [
        "vantage",
        "scope",
        "url",
        "host",
        "sni",
        "class",
        "n",
        "n_control",
        "median_bps",
        "control_median_bps",
        "ratio",
        "ratio_ci_low",
        "ratio_ci_high",
        "p_value",
        "verdict",
        "mechanism",
        "plateau_bps",
        "burst_bytes",
        "reason",
    ] {
        assert!(h.contains(&col.to_string()), "missing column {col}");
    }
    assert_eq!(rdr.records().count(), v.len());
    let json: serde_json::Value = serde_json::from_str(&render(&v, Format::Json)).unwrap();
    assert_eq!(json["verdicts"].as_array().unwrap().len(), v.len());
}

#[test]
fn shaper_freeze_reset() {
    use Class::*;
    use Group::*;
    let urls = vec![
        url(
            "https://shaped.example/a.jpg",
            Image,
            Target,
            2_000_000,
            Path_::Shaped(POLICE_BPS),
        ),
        url(
            "https://frozen.example/v.mp4",
            Video,
            Target,
            2_000_000,
            Path_::Freeze,
        ),
        url(
            "https://frozen2.example/v.mp4",
            Video,
            Target,
            2_000_000,
            Path_::FreezeTimeout,
        ),
        url(
            "https://reset.example/b.jpg",
            Image,
            Target,
            400_000,
            Path_::Reset,
        ),
        url(
            "https://ctl.example/c.jpg",
            Image,
            Control,
            400_000,
            Path_::Fast(50e6),
        ),
        url(
            "https://ctl.example/v.mp4",
            Video,
            Control,
            2_000_000,
            Path_::Fast(50e6),
        ),
    ];
    let recs = campaign(7, "lab", 8, &urls);
    let dir = tempfile::tempdir().unwrap();
    write_dir(dir.path(), &recs);
    let v = analyze_paths(&[dir.path().to_path_buf()], &opts()).unwrap();
    let table = dump(&v);
    let s = url_row(&v, "https://shaped.example/a.jpg");
    assert_eq!(s.verdict, VerdictKind::Throttled, "{table}");
    assert_eq!(s.mechanism, Some(Mechanism::Shaper), "{table}");
    assert!(
        (s.plateau_bps.unwrap() / POLICE_BPS - 1.0).abs() < 0.05,
        "{table}"
    );
    let f = url_row(&v, "https://frozen.example/v.mp4");
    assert_eq!(f.verdict, VerdictKind::Throttled, "{table}");
    assert_eq!(f.mechanism, Some(Mechanism::Freeze), "{table}");
    let kb = f.burst_bytes.unwrap();
    assert!((16_000..21_000).contains(&kb), "{kb}");
    let f2 = url_row(&v, "https://frozen2.example/v.mp4");
    // Timed out after some bytes: a censored observation (achieved rate),
    // not a blocking signal.
    assert_eq!(f2.verdict, VerdictKind::Throttled, "{table}");
    assert_eq!(f2.failure.as_deref(), Some("generic_timeout_error"));
    assert!(
        f2.n_censored > 0 && f2.reason.contains("censored"),
        "{table}"
    );
    assert_eq!(f2.mechanism, Some(Mechanism::Freeze), "{table}");
    let r = url_row(&v, "https://reset.example/b.jpg");
    assert_eq!(r.verdict, VerdictKind::Blocked, "{table}");
    assert_eq!(r.failure.as_deref(), Some("connection_reset"));
    assert_eq!(r.mechanism, Some(Mechanism::Reset));
    assert!(r.reason.contains("connection_reset"), "{}", r.reason);
}

#[test]
fn too_few_rounds_is_inconclusive() {
    for rounds in 1..5 {
        let recs = campaign(rounds as u64, "v", rounds, &twitter_urls());
        let v = analyze_records(&recs, &[], &opts());
        for r in &v {
            assert_ne!(
                r.verdict,
                VerdictKind::Throttled,
                "rounds {rounds}: {}",
                dump(&v)
            );
        }
        let r = url_row(&v, "https://pbs.twimg.com/media/a.jpg");
        assert_eq!(r.verdict, VerdictKind::Inconclusive);
        assert!(r.reason.contains("too few"), "{}", r.reason);
    }
}

#[test]
fn missing_control_class_is_inconclusive() {
    let urls: Vec<Url> = twitter_urls()
        .into_iter()
        .filter(|u| !(u.class == Class::Video && u.group == Group::Control))
        .collect();
    let v = analyze_records(&campaign(3, "v", 10, &urls), &[], &opts());
    let r = url_row(&v, "https://video.twimg.com/v/1.mp4");
    assert_eq!(r.verdict, VerdictKind::Inconclusive);
    assert!(
        r.reason.contains("no control of class video"),
        "{}",
        r.reason
    );
    assert_eq!(
        url_row(&v, "https://pbs.twimg.com/media/a.jpg").verdict,
        VerdictKind::Throttled
    );
}

#[test]
fn vantages_kept_apart() {
    let clean: Vec<Url> = twitter_urls()
        .into_iter()
        .map(|mut u| {
            u.path = Path_::Fast(40e6);
            u
        })
        .collect();
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    write_dir(a.path(), &campaign(1, "msk", 10, &twitter_urls()));
    write_dir(b.path(), &campaign(2, "ams", 10, &clean));
    let pa = a.path().to_path_buf();
    let pb = b.path().to_path_buf();
    let both = analyze_paths(&[pa.clone(), pb.clone()], &opts()).unwrap();
    let only_a = analyze_paths(&[pa.join("fetches.csv")], &opts()).unwrap();
    let only_b = analyze_paths(&[pb], &opts()).unwrap();
    let of = |v: &str| {
        both.iter()
            .filter(|r| r.vantage == v)
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(of("msk"), only_a);
    assert_eq!(of("ams"), only_b);
    assert!(only_a.iter().any(|r| r.verdict == VerdictKind::Throttled));
    assert!(!only_b.iter().any(|r| r.verdict == VerdictKind::Throttled));
    assert_eq!(both.len(), only_a.len() + only_b.len());
}

#[test]
fn clean_campaigns_never_throttled() {
    use Class::*;
    use Group::*;
    let mut urls = Vec::new();
    let names = [
        ("https://t1.example/a.jpg", Image),
        ("https://t2.example/b.jpg", Image),
        ("https://t3.example/v.mp4", Video),
        ("https://t4.example/", Text),
        ("https://t5.example/s.mp3", Audio),
    ];
    for (u, c) in names {
        urls.push(url(u, c, Target, 300_000, Path_::Fast(30e6)));
    }
    let ctl = [
        ("https://c1.example/a.jpg", Image),
        ("https://c2.example/v.mp4", Video),
        ("https://c3.example/", Text),
        ("https://c4.example/s.mp3", Audio),
    ];
    for (u, c) in ctl {
        urls.push(url(u, c, Control, 300_000, Path_::Fast(30e6)));
    }
    for seed in 0..20 {
        let v = analyze_records(&campaign(1000 + seed, "clean", 10, &urls), &[], &opts());
        let bad: Vec<_> = v
            .iter()
            .filter(|r| r.verdict == VerdictKind::Throttled)
            .collect();
        assert!(bad.is_empty(), "seed {seed}: {}", dump(&v));
    }
}

#[test]
fn text_is_judged_by_time() {
    use Class::*;
    use Group::*;
    let urls = vec![
        // Small and policed: the rate barely shows it, the total time does.
        url(
            "https://policed.example/",
            Text,
            Target,
            60_000,
            Path_::Policed(POLICE_BPS),
        ),
        // Small, slower path but not throttled: rate ratio ~0.25, times fine.
        url(
            "https://slowish.example/",
            Text,
            Target,
            20_000,
            Path_::Fast(10e6),
        ),
        // Handshake five times slower (Kazakhstan/Türkiye style).
        url(
            "https://slowtls.example/",
            Text,
            Target,
            20_000,
            Path_::SlowTls(5.0),
        ),
        url(
            "https://ctl.example/",
            Text,
            Control,
            20_000,
            Path_::Fast(40e6),
        ),
        // A larger control page, so that the 60 KB page has a like control
        // (within 2× of its size).
        url(
            "https://ctl2.example/",
            Text,
            Control,
            40_000,
            Path_::Fast(40e6),
        ),
    ];
    // 30 rounds: enough for the clean rows' evidenced `ok` (issue 22.2).
    let v = analyze_records(&campaign(11, "v", 30, &urls), &[], &opts());
    let table = dump(&v);
    println!("{table}");
    let p = url_row(&v, "https://policed.example/");
    assert_eq!(p.verdict, VerdictKind::Throttled, "{table}");
    assert_eq!(
        p.metric,
        Some(slowlane::analyze::Metric::TotalTime),
        "{table}"
    );
    let s = url_row(&v, "https://slowish.example/");
    assert_eq!(s.verdict, VerdictKind::Ok, "{table}");
    let t = url_row(&v, "https://slowtls.example/");
    assert_eq!(t.verdict, VerdictKind::Throttled, "{table}");
    assert_eq!(
        t.metric,
        Some(slowlane::analyze::Metric::TlsTime),
        "{table}"
    );
}

/// A small text page whose *rate* looks lower but noisy (not significant),
/// with the same total and TLS times as its controls, is `ok`: its rate is
/// reported, not judged, so it cannot make the row inconclusive either.
#[test]
fn small_text_rate_noise_does_not_decide() {
    use slowlane::types::{FetchRecord, Ms};
    let mk = |url: &str, group: Group, i: usize, bps: u64| FetchRecord {
        vantage: "v".into(),
        fetch_id: format!("{url}-{i}"),
        url: url.into(),
        host: url
            .trim_start_matches("https://")
            .trim_end_matches('/')
            .into(),
        class: Some(Class::Text),
        group: Some(group),
        status: Some(200),
        body_bytes: 30_000,
        goodput_bps: Some(bps),
        tls_ms: Some(Ms(15.0 + (i % 5) as f64)),
        ttfb_ms: Some(Ms(5.0)),
        transfer_ms: Some(Ms(3.0)),
        total_ms: Some(Ms(25.0 + (i % 5) as f64)),
        ..FetchRecord::default()
    };
    // 30 fetches a side: enough for an evidenced `ok` (issue 22.2).
    let mut recs = Vec::new();
    for i in 0..30 {
        let bps = [1e6, 1e6, 1e6, 100e6, 100e6][i % 5];
        recs.push(mk("https://page.example/", Group::Target, i, bps as u64));
    }
    for i in 0..30 {
        recs.push(mk("https://ctl.example/", Group::Control, i, 40_000_000));
    }
    let v = analyze_records(&recs, &[], &opts());
    let p = url_row(&v, "https://page.example/");
    assert_eq!(p.verdict, VerdictKind::Ok, "{}", p.reason);
    assert!(p.reason.contains("rate not judged"), "{}", p.reason);
}

/// Issue 19: `scope = ab` rows name their A/B test and variant in columns of
/// their own (`ab`, `variant`), in verdicts.csv and JSON alike; other rows
/// leave them empty.
#[test]
fn ab_rows_carry_ab_and_variant_columns() {
    let dir = tempfile::tempdir().unwrap();
    let mut recs = campaign(5, "ab-vp", 6, &twitter_urls());
    let sides = [
        ("pbs.twimg.com", "plain", Group::Target, 100_000u64),
        ("pbs.twimg.com", "split-hello", Group::Target, 20_000_000),
        ("example.com", "plain", Group::Control, 20_000_000),
        ("random.example", "plain", Group::Control, 21_000_000),
    ];
    for round in 1..=8u32 {
        for (i, (name, variant, group, bps)) in sides.iter().enumerate() {
            recs.push(slowlane::types::FetchRecord {
                campaign: "c".into(),
                vantage: "ab-vp".into(),
                run_id: "run".into(),
                round,
                fetch_id: format!("ab-{round}-{i}"),
                url: format!("https://lab.example/2097152?v={variant}"),
                host: (*name).into(),
                sni: (*name).into(),
                class: Some(Class::Image),
                group: Some(*group),
                body_bytes: 2_097_152,
                object_bytes: Some(2_097_152),
                steady_bps: Some(bps + u64::from(round) * 1000),
                total_ms: Some(slowlane::types::Ms(1000.0)),
                ab: "lab".into(),
                variant: (*variant).into(),
                ..Default::default()
            });
        }
    }
    write_dir(dir.path(), &recs);
    let v = analyze_paths(&[dir.path().to_path_buf()], &opts()).unwrap();
    let ab: Vec<&Verdict> = v.iter().filter(|r| r.scope == Scope::Ab).collect();
    assert_eq!(ab.len(), 4, "{}", dump(&v));
    let out = dir.path().join("verdicts.csv");
    write_verdicts_csv(&out, &v).unwrap();
    let mut rd = csv::Reader::from_path(&out).unwrap();
    let h = rd.headers().unwrap().clone();
    let col = |n: &str| {
        h.iter()
            .position(|x| x == n)
            .unwrap_or_else(|| panic!("no column {n}: {h:?}"))
    };
    let (scope, host, ab_c, variant) = (col("scope"), col("host"), col("ab"), col("variant"));
    let mut seen = Vec::new();
    for r in rd.records() {
        let r = r.unwrap();
        if &r[scope] == "ab" {
            assert_eq!(&r[ab_c], "lab", "{r:?}");
            seen.push(format!("{} {}", &r[host], &r[variant]));
        } else {
            assert!(r[ab_c].is_empty() && r[variant].is_empty(), "{r:?}");
        }
    }
    seen.sort();
    assert_eq!(
        seen,
        [
            "example.com plain",
            "pbs.twimg.com plain",
            "pbs.twimg.com split-hello",
            "random.example plain"
        ]
    );
    let json: serde_json::Value = serde_json::from_str(&render(&v, Format::Json)).unwrap();
    let rows = json["verdicts"].as_array().expect("verdicts array");
    let split = rows
        .iter()
        .find(|r| r["scope"] == "ab" && r["variant"] == "split-hello")
        .unwrap_or_else(|| panic!("no split-hello row in {json}"));
    assert_eq!(split["ab"], "lab");
    assert_eq!(split["host"], "pbs.twimg.com");
    assert_eq!(split["evasion_result"], "evades", "{split}");
}
