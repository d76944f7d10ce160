//! Entry points for fuzzing the parsers: one function per input format,
//! shared by the cargo-fuzz targets (`fuzz/`, nightly) and the proptest
//! versions that run in `cargo test` (`tests/fuzz_props.rs`).
//!
//! Each takes arbitrary bytes and must not panic: a parse error is a fine
//! outcome. Beyond "no panic" they check what an accepted input promises —
//! a campaign that loads can be prepared and scheduled without overflow — so
//! a bad value is caught at load time (with its line), not mid-run.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::analyze::{self, AnalyzeOptions};
use crate::config::{parse_campaign_bytes, parse_list};
use crate::probe::Prepared;

/// The `[[list]]` file every fuzzed campaign reads, whatever its `path`
/// (fuzzed paths must not reach the disk: `/dev/zero` would never end).
const LIST: &[u8] = b"url,category_code,category_description,date_added,source,notes\n\
https://a.example/,NEWS,News Media,2017-04-12,citizenlab,\n\
http://b.example:8080/x,POLR,Political Criticism,2014-04-15,,\"a, note\"\n";

/// A campaign file: load it, or get an error naming a line; if it loads,
/// every target must prepare (TLS config and name) and every round's start
/// must be a representable instant.
pub fn campaign(data: &[u8]) {
    let path = Path::new("fuzz/campaign.toml");
    let c = match parse_campaign_bytes(data, path, &|_| Ok(LIST.to_vec())) {
        Ok(c) => c,
        Err(e) => {
            // Every complaint about the content points at a line.
            assert!(e.line().is_some(), "error without a line: {e}");
            return;
        }
    };
    // What the runner writes to campaign.json.
    serde_json::to_string(&c).expect("a loaded campaign serialises");
    let now = Instant::now();
    for t in &c.targets {
        assert!(now.checked_add(t.options.max_time).is_some());
        // cacert files would be read from disk: only prepare without them.
        if t.options.cacert.is_empty() {
            if let Err(e) = Prepared::new(t.clone()) {
                panic!("loaded but cannot be prepared: {} ({e:#})", t.url);
            }
        }
    }
    let last = c
        .schedule
        .rounds
        .unwrap_or(crate::config::bounds::MAX_ROUNDS);
    let plan = crate::plan::Plan::new(c.targets.len(), 1);
    for round in [0, last.saturating_sub(1), last] {
        let at = c
            .schedule
            .round_start_offset(round, &mut plan.round_rng(round));
        assert!(now.checked_add(at).is_some(), "round {round} at {at:?}");
        let _ = c.schedule.should_start(round, Duration::from_secs(1));
    }
}

/// A Citizen Lab `[[list]]` CSV: parsed, or an error naming a line.
pub fn list(data: &[u8]) {
    if let Err(e) = parse_list(Path::new("fuzz/list.csv"), data) {
        assert!(e.line().is_some(), "error without a line: {e}");
    }
}

/// A `fetches.csv`, alone (`timeline = None`) or with a `timeline.csv`:
/// loaded as `analyze DIR` loads it (verdicts rendered in every format), and
/// loaded again split into parts the way large files are read in parallel.
pub fn fetches(fetches: &[u8], timeline: Option<&[u8]>) {
    let dir = TempDir::new();
    let f = dir.0.join("fetches.csv");
    std::fs::write(&f, fetches).expect("write fuzz fetches.csv");
    if let Some(t) = timeline {
        std::fs::write(dir.0.join("timeline.csv"), t).expect("write fuzz timeline.csv");
    }
    if let Ok(a) = analyze::analyze_paths_full(std::slice::from_ref(&dir.0), &quick()) {
        for format in [
            analyze::Format::Text,
            analyze::Format::Csv,
            analyze::Format::Json,
        ] {
            let _ = analyze::render(&a.verdicts, format);
        }
        let _ = analyze::write_verdicts_csv(&dir.0.join("verdicts.csv"), &a.verdicts);
    }
    let mut ds = analyze::input::load::Dataset::default();
    let src = ds.add_source(analyze::input::load::TimelineSrc::None);
    let _ = ds.read_fetches(src, &f, 1, 3);
}

/// A low `min_n`, so a few fuzzed rows already reach the verdict tests.
fn quick() -> AnalyzeOptions {
    AnalyzeOptions {
        min_n: 2,
        ..AnalyzeOptions::default()
    }
}

/// A private scratch directory, removed on drop (no dev-dependency here:
/// the fuzz crate links this module too).
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("slowlane-fuzz-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("create fuzz scratch dir");
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
