//! Issue 21.2: reading, judging and writing a few vantages at a time gives
//! what loading everything gives — verdicts (fingerprints from timeline.csv
//! included), pooling warnings, unusable rows with their line numbers — on
//! files not sorted by vantage, with vantages split over files.

mod support;

use std::io::Write;
use std::path::PathBuf;

use slowlane::analyze::{analyze_paths_full, analyze_paths_streamed, AnalyzeOptions};
use support::analyze::*;

fn inputs(dir: &std::path::Path) -> Vec<PathBuf> {
    // File a: three vantages taking turns round by round (unsorted), with
    // quoted cells holding commas, quotes and newlines.
    let mut by_v: Vec<Vec<slowlane::types::FetchRecord>> = ["v1", "v3", "v2"]
        .iter()
        .enumerate()
        .map(|(i, v)| campaign(i as u64 + 1, v, 12, &twitter_urls()))
        .collect();
    for (i, r) in by_v[1].iter_mut().enumerate() {
        if i % 9 == 0 {
            r.error = Some(format!("unknown_failure: odd \"text\",\nwith newline {i}"));
        }
    }
    let per_round = twitter_urls().len();
    let mut mixed = Vec::new();
    for round in 0..12 {
        for v in &by_v {
            mixed.extend_from_slice(&v[round * per_round..(round + 1) * per_round]);
        }
    }
    let a = dir.join("a");
    write_dir(&a, &mixed);
    // Unusable rows in the middle and at the end of file a.
    let f = a.join("fetches.csv");
    let text = std::fs::read_to_string(&f).unwrap();
    let mut lines: Vec<&str> = text.split_inclusive('\n').collect();
    let header = lines[0].to_string();
    lines.insert(40, "torn,row\n");
    lines.insert(90, &header);
    let mut out = std::fs::File::create(&f).unwrap();
    out.write_all(lines.concat().as_bytes()).unwrap();
    out.write_all(b"x,\"unterminated\n").unwrap();
    // File b: more of vantage v2, from another campaign (a pooling warning).
    let mut more = campaign(9, "v2", 6, &twitter_urls());
    for r in &mut more {
        r.campaign = "other".into();
        r.run_id = "run-b".into();
    }
    let b = dir.join("b");
    write_dir(&b, &more);
    vec![a, b.join("fetches.csv")]
}

fn show(a: &slowlane::analyze::Analysis) -> String {
    let bad: Vec<String> = a
        .bad
        .iter()
        .map(|(p, b)| format!("{} {}", p.display(), b.describe()))
        .collect();
    format!(
        "{:#?}\n{:?}\n{bad:?}\nvantages={}",
        a.verdicts, a.warnings, a.vantages
    )
}

#[test]
fn streamed_analysis_equals_the_full_one() {
    let dir = tempfile::tempdir().unwrap();
    let paths = inputs(dir.path());
    for by_run in [false, true] {
        let opts = AnalyzeOptions {
            by_run,
            ..AnalyzeOptions::default()
        };
        let full = analyze_paths_full(&paths, &opts).unwrap();
        assert!(full.verdicts.len() > 20);
        assert_eq!(full.bad.len(), 1, "{:?}", full.bad);
        if !by_run {
            assert_eq!(full.vantages, 3);
            assert!(full.warnings.iter().any(|w| w.contains("\"v2\"")));
            assert!(full
                .verdicts
                .iter()
                .any(|v| v.verdict == slowlane::analyze::VerdictKind::Throttled));
        }
        let want = show(&full);
        // budget 1: every vantage its own batch; 10 kB: some together
        for budget in [1, 10_000, u64::MAX] {
            let got = analyze_paths_streamed(&paths, &opts, budget).unwrap();
            assert_eq!(show(&got), want, "by_run={by_run} budget={budget}");
        }
    }
}
