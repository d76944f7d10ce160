//! The parallel fetches.csv reader gives what the sequential one gives,
//! including with quoted fields holding commas, quotes and newlines.

mod support;

use slowlane::analyze::input::load::Dataset;
use support::analyze::*;

#[test]
fn parallel_split_matches_sequential() {
    let dir = tempfile::tempdir().unwrap();
    let mut recs = campaign(9, "v", 40, &twitter_urls());
    for (i, r) in recs.iter_mut().enumerate() {
        if i % 7 == 0 {
            r.error = Some(format!("unknown_failure: odd \"text\",\nwith newline {i}"));
            r.label = "a, \"quoted\"\nlabel".into();
        }
    }
    write_dir(dir.path(), &recs);
    let path = dir.path().join("fetches.csv");
    let summary = |threads: usize| {
        let mut d = Dataset::default();
        d.read_fetches(0, &path, 0, threads).unwrap();
        let mut out: Vec<String> = d
            .series
            .iter()
            .map(|s| {
                let mut fails: Vec<String> = s
                    .failures
                    .iter()
                    .map(|f| format!("{}={}", f.error, f.count))
                    .collect();
                fails.sort();
                let rates: Vec<f64> = s.obs.iter().map(|o| o.rate).collect();
                let pairs: Vec<u64> = s.obs.iter().map(|o| o.pair).collect();
                let ids: Vec<u32> = s.obs.iter().map(|o| o.id).collect();
                format!(
                    "{} {} n={} rates={:?} pairs={pairs:?} obs_ids={ids:?} ids={} fails={:?}",
                    s.vantage, s.url, s.n_fetches, rates, s.ids, fails
                )
            })
            .collect();
        out.sort();
        out
    };
    let one = summary(1);
    assert_eq!(
        one.iter()
            .map(|s| s.matches("n=40 ").count())
            .sum::<usize>(),
        8
    );
    for t in [2, 3, 7] {
        assert_eq!(summary(t), one, "threads {t}");
    }
}
