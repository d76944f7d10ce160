//! Issue 23, item 1: plain `cargo test` is a newcomer's few minutes; the
//! long lab studies sit behind ONE documented switch that CI always uses.
//! This checks the wiring (times are measured, in README, not asserted):
//! every `#[ignore]` says why and how to run it, the long studies carry the
//! one reason README names, each has a short variant in the plain suite,
//! and `.ci/run` runs both halves.

use std::path::Path;

const LONG: &str = "#[ignore = \"long lab study: cargo test -- --include-ignored\"]";

fn read(rel: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)).unwrap()
}

/// The name of the `fn` declared after line `i`.
fn fn_after(lines: &[&str], i: usize) -> String {
    lines[i..]
        .iter()
        .find_map(|l| {
            let l = l.trim_start();
            let rest = l
                .strip_prefix("async fn ")
                .or_else(|| l.strip_prefix("fn "))?;
            Some(rest.split('(').next().unwrap().to_string())
        })
        .expect("an fn after the attribute")
}

#[test]
fn long_studies_are_ignored_with_one_reason_and_run_by_ci() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let mut long = Vec::new();
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_none_or(|x| x != "rs") || p.ends_with("suite_layout.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&p).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (i, l) in lines.iter().enumerate() {
            let l = l.trim();
            if !l.starts_with("#[ignore") {
                continue;
            }
            // `--include-ignored` runs every ignored test: each says why.
            assert!(
                l.starts_with("#[ignore = \""),
                "{}:{}: {l}",
                p.display(),
                i + 1
            );
            if l == LONG {
                let name = fn_after(&lines, i);
                // A long study keeps a short variant in the plain suite:
                // either its body calls a `…_seeds(range)` helper that
                // another test calls with fewer seeds, or its doc names the
                // plain test that covers the same path in less time.
                let doc = lines[..i]
                    .iter()
                    .rev()
                    .take_while(|x| {
                        x.trim_start().starts_with("///") || x.trim_start().starts_with("#[")
                    })
                    .find_map(|x| x.split("Short variant in the plain suite: `").nth(1));
                if let Some(named) = doc {
                    let named = named.split('`').next().unwrap();
                    let (file, f) = named.split_once("::").unwrap();
                    let other = read(&format!("tests/{file}.rs"));
                    let at = other
                        .find(&format!("fn {f}("))
                        .unwrap_or_else(|| panic!("{name}: no {file}::{f}"));
                    let before: Vec<&str> = other[..at].lines().rev().take(3).collect();
                    assert!(
                        !before.iter().any(|x| x.contains("#[ignore")),
                        "{name}: its short variant {f} is ignored too"
                    );
                } else {
                    let call = lines[i..]
                        .iter()
                        .find(|x| x.contains("_seeds(") && !x.contains("fn "))
                        .unwrap_or_else(|| panic!("{}: {name}: no short variant", p.display()));
                    let helper = call.trim().split('(').next().unwrap().to_string();
                    let calls = lines
                        .iter()
                        .filter(|x| x.trim().starts_with(&format!("{helper}(")))
                        .count();
                    assert!(
                        calls >= 2,
                        "{}: {name} has no short variant in the plain suite",
                        p.display()
                    );
                }
                long.push(name);
            }
        }
    }
    assert!(long.len() >= 3, "long lab studies: {long:?}");
    let ci = read(".ci/run");
    assert!(
        ci.lines().any(|l| l.trim() == "cargo test"),
        ".ci/run: cargo test"
    );
    assert!(
        ci.lines().any(|l| l.trim() == "cargo test -- --ignored"),
        ".ci/run must run the long lab studies"
    );
    let readme = read("README.md");
    assert!(readme.contains("cargo test -- --include-ignored"));
}
