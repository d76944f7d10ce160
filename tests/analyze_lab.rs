//! Issue-4 acceptance on the lab: real campaigns through the middlebox, the
//! real runner, then `analyze`. Not timed; asserts verdicts only.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use slowlane::analyze::{analyze_paths, AnalyzeOptions, Mechanism, Scope, Verdict, VerdictKind};
use slowlane::testbed::Scenario;
use slowlane::types::Class;
use support::lab::run_lab_campaign;

/// The lab tests take turns: each measures rates and times on a 2-core
/// machine, and three at once would measure each other's CPU load.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Run `scenario`'s campaign against a fresh lab into `out`; analyse `out`.
async fn lab_run(
    scenario: &Scenario,
    out: &Path,
    rounds: u32,
    seed: u64,
    vantage: &str,
) -> Vec<Verdict> {
    let o = run_lab_campaign(scenario, out, Some(rounds), seed, vantage).await;
    assert_eq!(o.rounds, rounds);
    analyze_paths(&[out.to_path_buf()], &AnalyzeOptions::default()).unwrap()
}

fn urls(v: &[Verdict]) -> impl Iterator<Item = &Verdict> {
    v.iter().filter(|r| r.scope == Scope::Url)
}

/// A scenario with its campaign trimmed for speed: smaller objects, a
/// shorter cap, one fetch in flight per URL.
fn trimmed(name: &str, max_time: Duration) -> Scenario {
    let mut s = Scenario::builtin(name).unwrap();
    for u in &mut s.campaign.urls {
        u.url = u
            .url
            .replace("8000000", "1000000")
            .replace("2000000", "500000");
    }
    s.campaign.max_time = max_time;
    s.campaign.concurrency = s.campaign.urls.len() as u32;
    s
}

/// Five fixed rounds of the seed case (about 35 s). Short variant in the plain suite: `campaign_adaptive::twitter_2021_until_decided_stops_decided_within_budget`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long lab study: cargo test -- --include-ignored"]
async fn twitter_2021_media_throttled_text_and_controls_ok() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("a");
    let v = lab_run(
        &Scenario::builtin("twitter-2021").unwrap(),
        &out,
        5,
        11,
        "lab-a",
    )
    .await;
    // Downloads here; uploads in analyze_lab_outside.rs.
    for r in urls(&v).filter(|r| r.direction == slowlane::types::Direction::Down) {
        let media =
            r.url.contains("twimg.com") && matches!(r.class, Some(Class::Image | Class::Video));
        if media {
            assert_eq!(r.verdict, VerdictKind::Throttled, "{}: {}", r.url, r.reason);
            assert_eq!(
                r.mechanism,
                Some(Mechanism::Policer),
                "{}: {}",
                r.url,
                r.reason
            );
            let p = r.plateau_bps.expect("plateau");
            assert!((p / 131072.0 - 1.0).abs() <= 0.05, "{}: plateau {p}", r.url);
        } else if r.url.contains("microsoft.com") {
            assert_eq!(
                r.verdict,
                VerdictKind::Throttled,
                "collateral: {}",
                r.reason
            );
        } else {
            // twitter.com text and every control: not throttled, and at five
            // rounds not yet evidenced `ok` either (issue 22.2).
            assert!(
                support::analyze::clean_verdict(r),
                "{}: {}",
                r.url,
                r.reason
            );
        }
    }
    let summary = slowlane::analyze::selective_summary(&v);
    let (vantage, sentence) = &summary[0];
    assert_eq!(vantage, "lab-a");
    // "image, video and image upload throttled to ~131 kbit/s (…)": the
    // classes before the first "throttled" are the throttled ones.
    let throttled = sentence.split(" throttled").next().unwrap_or("");
    assert!(throttled.contains("video"), "{sentence}");
    assert!(throttled.contains("image"), "{sentence}");
    // Five rounds of text cannot exclude a partial throttle: "text
    // inconclusive" (an adaptive campaign fetches until "not throttled").
    assert!(
        sentence.contains("text not throttled") || sentence.contains("text inconclusive"),
        "{sentence}"
    );
    let class_rows: Vec<_> = v.iter().filter(|r| r.scope == Scope::Class).collect();
    for (class, want) in [
        (Class::Image, VerdictKind::Throttled),
        (Class::Video, VerdictKind::Throttled),
        (Class::Text, VerdictKind::Inconclusive),
    ] {
        let row = class_rows
            .iter()
            .find(|r| r.class == Some(class) && r.direction == slowlane::types::Direction::Down)
            .expect("class row");
        assert_eq!(row.verdict, want, "{class:?}: {}", row.reason);
    }

    // Too few rounds: the same data cut to 3 rounds is never `throttled`.
    let few = dir.path().join("few");
    copy_rows(&out, &few, |round, _| round < 3, |v| v.to_string());
    let v3 = analyze_paths(&[few], &AnalyzeOptions::default()).unwrap();
    assert!(urls(&v3)
        .filter(|r| r.url.contains("twimg"))
        .all(|r| r.verdict == VerdictKind::Inconclusive));
    assert!(v3.iter().all(|r| r.verdict != VerdictKind::Throttled));

    // Two vantages analysed together stay apart and match each alone.
    let b = dir.path().join("b");
    copy_rows(&out, &b, |_, _| true, |_| "lab-b".to_string());
    let both = analyze_paths(&[out.clone(), b.clone()], &AnalyzeOptions::default()).unwrap();
    let alone_b = analyze_paths(&[b], &AnalyzeOptions::default()).unwrap();
    let of = |rows: &[Verdict], vantage: &str| -> Vec<Verdict> {
        rows.iter()
            .filter(|r| r.vantage == vantage)
            .cloned()
            .collect()
    };
    assert_eq!(of(&both, "lab-a"), v);
    assert_eq!(of(&both, "lab-b"), alone_b);
    assert_eq!(both.len(), v.len() + alone_b.len());
}

/// Copy fetches.csv and timeline.csv, keeping rows whose (round, fetch_id)
/// pass `keep` and rewriting the vantage column.
fn copy_rows(
    from: &Path,
    to: &Path,
    keep: impl Fn(u32, &str) -> bool,
    vantage: impl Fn(&str) -> String,
) {
    std::fs::create_dir_all(to).unwrap();
    let mut r = csv::Reader::from_path(from.join("fetches.csv")).unwrap();
    let headers = r.headers().unwrap().clone();
    let col = |n: &str| headers.iter().position(|h| h == n).unwrap();
    let (ri, vi, fi) = (col("round"), col("vantage"), col("fetch_id"));
    let mut w = csv::Writer::from_path(to.join("fetches.csv")).unwrap();
    w.write_record(&headers).unwrap();
    let mut kept = std::collections::HashSet::new();
    for rec in r.records() {
        let rec = rec.unwrap();
        if !keep(rec[ri].parse().unwrap(), &rec[fi]) {
            continue;
        }
        kept.insert(rec[fi].to_string());
        let row: Vec<String> = rec
            .iter()
            .enumerate()
            .map(|(i, f)| if i == vi { vantage(f) } else { f.to_string() })
            .collect();
        w.write_record(&row).unwrap();
    }
    w.flush().unwrap();
    let mut r = csv::Reader::from_path(from.join("timeline.csv")).unwrap();
    let mut w = csv::Writer::from_path(to.join("timeline.csv")).unwrap();
    w.write_record(r.headers().unwrap()).unwrap();
    for rec in r.records() {
        let rec = rec.unwrap();
        if kept.contains(&rec[0]) {
            w.write_record(&rec).unwrap();
        }
    }
    w.flush().unwrap();
}

/// The clean scenario is never called throttled: two seeds here, the
/// other eighteen of the twenty-seed study are a long lab study.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clean_scenario_two_seeds_never_throttled() {
    clean_seeds(0..2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long lab study: cargo test -- --include-ignored"]
async fn clean_scenario_twenty_seeds_never_throttled() {
    clean_seeds(2..20).await;
}

async fn clean_seeds(seeds: std::ops::Range<u64>) {
    let _turn = ONE_AT_A_TIME.lock().await;
    let s = trimmed("clean", Duration::from_secs(4));
    let dir = tempfile::tempdir().unwrap();
    let mut throttled = Vec::new();
    for seed in seeds {
        let out: PathBuf = dir.path().join(format!("clean-{seed}"));
        let v = lab_run(&s, &out, 5, seed, "lab").await;
        assert!(!v.is_empty());
        throttled.extend(
            v.into_iter()
                .filter(|r| r.verdict == VerdictKind::Throttled)
                .map(|r| format!("seed {seed}: {} {}", r.url, r.reason)),
        );
    }
    assert!(throttled.is_empty(), "false positives: {throttled:#?}");
}

/// Three labs of eight rounds (about 26 s). Short variant in the plain suite: `analyze_verdicts::shaper_freeze_reset`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long lab study: cargo test -- --include-ignored"]
async fn shaper_freeze_and_reset_fingerprints() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let (s, f, r) = (
        trimmed("shaper", Duration::from_secs(3)),
        trimmed("freeze", Duration::from_secs(3)),
        trimmed("reset", Duration::from_secs(3)),
    );
    let (ds, df, dr) = (
        dir.path().join("s"),
        dir.path().join("f"),
        dir.path().join("r"),
    );
    // Eight rounds: these scenarios have one control per size, so each
    // target is 8 fetches against 8 — enough for q < 0.01 over all the
    // tests of the vantage (5 against 5 gives at best p = 1/252).
    let (shaper, freeze, reset) = tokio::join!(
        lab_run(&s, &ds, 8, 1, "lab"),
        lab_run(&f, &df, 8, 2, "lab"),
        lab_run(&r, &dr, 8, 3, "lab"),
    );
    let media = |v: &[Verdict]| -> Vec<Verdict> {
        urls(v)
            .filter(|r| r.url.contains("twimg.com"))
            .cloned()
            .collect()
    };
    for r in media(&shaper) {
        assert_eq!(r.verdict, VerdictKind::Throttled, "{}: {}", r.url, r.reason);
        assert_eq!(
            r.mechanism,
            Some(Mechanism::Shaper),
            "{}: {}",
            r.url,
            r.reason
        );
    }
    for r in media(&freeze) {
        assert_eq!(
            r.mechanism,
            Some(Mechanism::Freeze),
            "{}: {}",
            r.url,
            r.reason
        );
    }
    freeze_sentence_agrees_with_the_docs(&freeze);
    for r in media(&reset) {
        assert_eq!(r.verdict, VerdictKind::Blocked, "{}: {}", r.url, r.reason);
        assert_eq!(r.failure.as_deref(), Some("connection_reset"), "{}", r.url);
    }
    for v in [&shaper, &freeze, &reset] {
        assert!(!media(v).is_empty());
        // The free names are never called throttled or blocked. (Three labs
        // share two cores here, so a fast control may come out
        // inconclusive against another; the strict "ok" check on controls is
        // in the twitter-2021 test, which runs alone.)
        for r in urls(v).filter(|r| !r.url.contains("twimg.com") && !r.url.contains("microsoft")) {
            assert!(
                !matches!(r.verdict, VerdictKind::Throttled | VerdictKind::Blocked),
                "{}: {} {}",
                r.url,
                r.verdict,
                r.reason
            );
        }
    }
}

/// Issue 23, item 9: the freeze summary's "stops after ~N KiB" is the
/// figure docs/testbed.md gives for the freeze scenario's body, and the one
/// docs/method.md quotes (it said 16 KB while the lab's sentence said ~12).
fn freeze_sentence_agrees_with_the_docs(v: &[Verdict]) {
    let summary = slowlane::analyze::selective_summary(v);
    let sentence = &summary[0].1;
    let n_after = |text: &str, key: &str| -> Option<f64> {
        let rest = &text[text.find(key)? + key.len()..];
        let num: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
        rest[num.len()..]
            .starts_with(" KiB")
            .then(|| num.parse().ok())?
    };
    let said = n_after(sentence, "stops after ~").unwrap_or_else(|| panic!("{sentence}"));
    let root = env!("CARGO_MANIFEST_DIR");
    let testbed = std::fs::read_to_string(format!("{root}/docs/testbed.md")).unwrap();
    let row = testbed
        .lines()
        .find(|l| l.starts_with("| `freeze` |"))
        .expect("freeze row in docs/testbed.md");
    let documented = n_after(row, "body stops at ~").unwrap_or_else(|| panic!("{row}"));
    assert!((said - documented).abs() <= 2.0, "{sentence} vs {row}");
    let method = std::fs::read_to_string(format!("{root}/docs/method.md")).unwrap();
    assert!(
        method.contains(&format!("stops after ~{documented} KiB")),
        "docs/method.md quotes another figure than {documented} KiB"
    );
}
