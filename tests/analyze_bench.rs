//! Timing harness for `scripts/bench-analyze` (ignored in normal test runs):
//! `SLOWLANE_BENCH_FETCHES=/path/fetches.csv cargo test --release --test
//! analyze_bench -- --ignored --nocapture` prints `analyze_seconds=…`.

use std::path::PathBuf;
use std::time::Instant;

use slowlane::analyze::{analyze_paths, AnalyzeOptions, VerdictKind};

#[test]
#[ignore = "benchmark: run by scripts/bench-analyze"]
fn bench_analyze() {
    let Ok(path) = std::env::var("SLOWLANE_BENCH_FETCHES") else {
        eprintln!("SLOWLANE_BENCH_FETCHES not set: nothing to time");
        return;
    };
    let runs: usize = std::env::var("SLOWLANE_BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let mut times = Vec::new();
    let mut rows = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        rows = analyze_paths(&[PathBuf::from(&path)], &AnalyzeOptions::default()).unwrap();
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(|a, b| a.total_cmp(b));
    let throttled = rows
        .iter()
        .filter(|r| r.verdict == VerdictKind::Throttled)
        .count();
    println!("verdict_rows={} throttled={throttled}", rows.len());
    println!(
        "analyze_seconds={:.3} (best of {runs}; all: {times:?})",
        times[0]
    );
}
