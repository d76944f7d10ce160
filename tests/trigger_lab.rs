//! `slowlane trigger` against the lab middlebox in front of `slowlane
//! serve`: the rule class, the minimal substring of a `*t.co*` rule within
//! the printed budget, and `contaminated` under per-address state.
//! Loopback only; the trials are long lab studies.

// One lab at a time (`support::lab::one_lab`): each test has its own
// runtime, so holding the guard across awaits blocks only its own thread.
#![allow(clippy::await_holding_lock)]

mod support;

use std::path::Path;
use std::time::Duration;

use slowlane::analyze::AnalyzeOptions;
use slowlane::serve::Reflector;
use slowlane::testbed::middlebox::Middlebox;
use slowlane::trigger::{budget, discover, TriggerConfig};
use slowlane::types::FetchOptions;
use support::lab::{one_lab, reflector_behind};

/// A name rule (policed to 131072 bit/s down) and a 20 Mbit/s access link.
async fn lab(dir: &Path, rule: &str) -> (Reflector, Middlebox) {
    reflector_behind(
        dir,
        &format!(
            "[[rule]]\n{rule}\ndown = {{ action = \"police\", rate = 131072, burst = \"8KiB\" }}\n\
             [[rule]]\nmatch = \"*\"\n\
             down = {{ action = \"shape\", rate = \"20Mbit\", queue = \"256KiB\" }}\n"
        ),
    )
    .await
}

fn config(name: &str, refl: &Reflector, mb: &Middlebox) -> TriggerConfig {
    TriggerConfig {
        name: name.into(),
        reflector: mb.local_addr().to_string(),
        pin: refl.pin(),
        controls: vec!["example.com".into(), "example.org".into()],
        size: 256 * 1024,
        max_time: Duration::from_secs(2),
        max_rounds: 8,
        gap: Duration::from_millis(100),
        analyze: AnalyzeOptions {
            sequential: true,
            ..Default::default()
        },
        options: FetchOptions::default(),
    }
}

/// A `*t.co*` rule: the minimal substring within the printed budget.
/// Short variant in the plain suite: `trigger_lab::the_budget_is_printed_before_any_trial`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long lab study: cargo test -- --include-ignored"]
async fn finds_the_substring_t_co_in_microsoft_com() {
    let _lab = one_lab();
    let dir = tempfile::tempdir().unwrap();
    let (refl, mb) = lab(dir.path(), "match = \"*t.co*\"").await;
    let cfg = config("microsoft.com", &refl, &mb);
    let (max_trials, _) = budget(&cfg);
    let f = discover(&cfg).await.unwrap();
    eprintln!("{:#?}\n{}", f.trials, f.sentence);
    assert!(
        f.trials.len() <= max_trials,
        "{} > {max_trials}",
        f.trials.len()
    );
    assert_eq!(f.minimal.as_deref(), Some("t.co"), "{}", f.sentence);
    assert!(
        f.sentence.contains("the string `t.co` anywhere"),
        "{}",
        f.sentence
    );
    assert!(f.sentence.contains("case folded"), "{}", f.sentence);
    let tld = f.trials.iter().find(|t| t.checks == "tld-swap").unwrap();
    // Not throttled; `ok` needs evidence of absence (~30 clean rounds),
    // more than the 8 a trial takes: `inconclusive`, never `throttled`.
    assert_eq!(
        (tld.name.as_str(), tld.verdict.as_str()),
        ("microsoft.net", "inconclusive")
    );
    assert!(f.trials.iter().all(|t| !t.contaminated), "{:#?}", f.trials);
}

/// A parent-domain rule, then the same rule with per-address state.
/// Short variant in the plain suite: `evasion_matrix::sticky_state_catches_later_connections_to_the_address`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long lab study: cargo test -- --include-ignored"]
async fn finds_the_parent_domain_and_sees_per_address_state() {
    let _lab = one_lab();
    let dir = tempfile::tempdir().unwrap();
    let (refl, mb) = lab(dir.path(), "match = \"domain:twimg.com\"").await;
    let f = discover(&config("pbs.twimg.com", &refl, &mb))
        .await
        .unwrap();
    eprintln!("{:#?}\n{}", f.trials, f.sentence);
    let hit = |c: &str| {
        f.trials
            .iter()
            .find(|t| t.checks == c)
            .map(|t| t.verdict.as_str())
    };
    assert_eq!(hit("exact"), Some("throttled"));
    assert_eq!(hit("subdomains"), Some("throttled"));
    // Any prefix to the first label stays under twimg.com.
    assert_eq!(hit("prefix"), Some("throttled"));
    // Not throttled (8 rounds cannot evidence an `ok`).
    assert_eq!(hit("substring"), Some("inconclusive"));
    assert_eq!(hit("parent"), Some("throttled"));
    assert!(f.minimal.is_none());
    assert!(
        f.sentence.starts_with(
            "pbs.twimg.com matches through its parent domain: any name under twimg.com"
        ) && !f.sentence.contains("contaminated"),
        "{}",
        f.sentence
    );
    drop(mb);
    // The same rule with per-address state: the controls slow down after
    // the first trigger, and the trials say so.
    let (refl, mb) = lab(dir.path(), "match = \"domain:twimg.com\"\nsticky = \"60s\"").await;
    let mut cfg = config("pbs.twimg.com", &refl, &mb);
    cfg.max_rounds = 5;
    let f = discover(&cfg).await.unwrap();
    eprintln!("{:#?}\n{}", f.trials, f.sentence);
    assert!(f.trials.iter().any(|t| t.contaminated), "{:#?}", f.trials);
    assert!(f.sentence.contains("contaminated"), "{}", f.sentence);
}

#[test]
fn the_budget_is_printed_before_any_trial() {
    let out = support::bin::slowlane()
        .args([
            "trigger",
            "microsoft.com",
            "--reflector",
            "https://127.0.0.1:9",
            "--pin",
            &format!("sha256:{}", "00".repeat(32)),
            "--size",
            "256KiB",
            "--dry-run",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    // 7 class probes (no parent: two labels) + 2 × 4 trimming steps.
    assert!(
        text.starts_with("slowlane trigger microsoft.com: at most 15 trials, "),
        "{text}"
    );
    let bad = support::bin::slowlane()
        .args([
            "trigger",
            "t.co",
            "--reflector",
            "http://x/",
            "--pin",
            &format!("sha256:{}", "00".repeat(32)),
        ])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2), "{bad:?}");
}
