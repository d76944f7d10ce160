//! The fuzz targets of `fuzz/` as proptests, so `cargo test` (stable, CI)
//! runs them: the seed corpus in `tests/fuzz-corpus/<target>/`, mutated
//! (bytes flipped, inserted, deleted, truncated, tokens spliced in) or
//! replaced by random bytes, fed to `slowlane::fuzzing`. Errors are fine; a
//! panic (or a broken promise the entry points assert) fails the test.
//! Each panic found is also kept as a seed file or a named regression test.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use proptest::sample::Index;
use slowlane::fuzzing;

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz-corpus")
        .join(target)
}

/// Every seed file of a target, in name order.
fn seeds(target: &str) -> Vec<Vec<u8>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(corpus_dir(target))
        .expect("seed corpus directory")
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    let v: Vec<Vec<u8>> = paths.iter().map(|p| std::fs::read(p).unwrap()).collect();
    assert!(!v.is_empty(), "no seeds for {target}");
    v
}

/// Fragments that sit at the edges of what the parsers accept.
const TOKENS: &[&[u8]] = &[
    b"300000000000y",
    b"9223372036854775807",
    b"18446744073709551616",
    b"-1",
    b"0",
    b"1ns",
    b"\"\"",
    b"\"",
    b",",
    b"\n",
    b"\r\n",
    b"=",
    b"\xff\xfe",
    b"\xe9",
    b"[[url]]\nurl = \"https://a.example/\"\n",
    b"[[list]]\npath = \"l.csv\"\n",
    b"[defaults]\n",
    b"url = \"http://127.0.0.1:99999/\"\n",
    b"sni = \"\"\n",
    b"host = \"[::1]:0\"\n",
    b"duration = \"1s\"\n",
    b"interval = \"30d\"\n",
    b"window = \"1ms\"\n",
    b"max_bytes = 1099511627776\n",
    b"upload = \"1TiB\"\n",
    b"concurrency = 4096\n",
    b"rounds = 1000000\n",
    b"NaN",
    b"inf",
    b"-1e308",
    b"1e309",
    b"up",
    b"control",
    b"target",
    b"image",
    b"capped",
];

#[derive(Debug, Clone)]
enum Mutation {
    Flip(Index, u8),
    Insert(Index, Index),
    Delete(Index, u8),
    Truncate(Index),
    DuplicateLine(Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<Index>(), any::<Index>()).prop_map(|(i, t)| Mutation::Insert(i, t)),
        (any::<Index>(), any::<u8>()).prop_map(|(i, n)| Mutation::Delete(i, n)),
        any::<Index>().prop_map(Mutation::Truncate),
        any::<Index>().prop_map(Mutation::DuplicateLine),
    ]
}

fn apply(mut data: Vec<u8>, muts: &[Mutation]) -> Vec<u8> {
    for m in muts {
        let at = |i: &Index, len: usize| if len == 0 { 0 } else { i.index(len + 1) };
        match m {
            Mutation::Flip(i, b) if !data.is_empty() => {
                let k = i.index(data.len());
                data[k] = *b;
            }
            Mutation::Flip(..) => {}
            Mutation::Insert(i, t) => {
                let k = at(i, data.len());
                let tok = TOKENS[t.index(TOKENS.len())];
                data.splice(k..k, tok.iter().copied());
            }
            Mutation::Delete(i, n) => {
                let k = at(i, data.len()).min(data.len());
                let end = (k + *n as usize).min(data.len());
                data.drain(k..end);
            }
            Mutation::Truncate(i) => {
                let k = at(i, data.len()).min(data.len());
                data.truncate(k);
            }
            Mutation::DuplicateLine(i) => {
                let lines: Vec<&[u8]> = data.split_inclusive(|&b| b == b'\n').collect();
                if !lines.is_empty() {
                    let line = lines[i.index(lines.len())].to_vec();
                    data.extend_from_slice(&line);
                }
            }
        }
    }
    data
}

/// A seed, mutated, or random bytes.
fn input(target: &'static str) -> impl Strategy<Value = Vec<u8>> {
    let seeds = seeds(target);
    let n = seeds.len();
    prop_oneof![
        4 => (0..n, prop::collection::vec(mutation(), 1..8))
            .prop_map(move |(s, m)| apply(seeds[s].clone(), &m)),
        1 => prop::collection::vec(any::<u8>(), 0..512),
    ]
}

/// `cases` per test; `SLOWLANE_FUZZ_SCALE=N` multiplies them for a longer
/// local session.
fn config(cases: u32) -> ProptestConfig {
    let scale = std::env::var("SLOWLANE_FUZZ_SCALE")
        .ok()
        .and_then(|s| s.parse::<u32>().ok())
        .unwrap_or(1);
    ProptestConfig {
        cases: cases.saturating_mul(scale.max(1)),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// The fetches.csv the timeline target analyses alongside its input.
fn timeline_fetches() -> Vec<u8> {
    std::fs::read(corpus_dir("fetches").join("demo-twitter-2021.csv")).unwrap()
}

#[test]
fn every_seed_as_is() {
    for s in seeds("config") {
        fuzzing::campaign(&s);
    }
    for s in seeds("list") {
        fuzzing::list(&s);
    }
    for s in seeds("fetches") {
        fuzzing::fetches(&s, None);
    }
    let f = timeline_fetches();
    for s in seeds("timeline") {
        fuzzing::fetches(&f, Some(&s));
    }
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn campaign_file_never_panics(data in input("config")) {
        fuzzing::campaign(&data);
    }

    #[test]
    fn list_csv_never_panics(data in input("list")) {
        fuzzing::list(&data);
    }
}

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn fetches_csv_never_panics(data in input("fetches")) {
        fuzzing::fetches(&data, None);
    }

    #[test]
    fn timeline_csv_never_panics(data in input("timeline")) {
        fuzzing::fetches(&timeline_fetches(), Some(&data));
    }
}
