//! Bad campaign files: every error names the file, the line and the key.

use std::path::Path;

use slowlane::config::{parse_campaign, ConfigError};

const URL: &str = "[[url]]\nurl = \"https://example.org/\"\n";

fn err(text: &str) -> ConfigError {
    match parse_campaign(text, Path::new("campaign.toml")) {
        Ok(c) => panic!("expected an error, got {c:?}"),
        Err(e) => e,
    }
}

/// Assert the rendered message starts with `campaign.toml:LINE: ` and contains
/// every fragment, and that the error carries `key`.
#[track_caller]
fn check(text: &str, line: usize, key: &str, fragments: &[&str]) {
    let e = err(text);
    let s = e.to_string();
    assert!(s.starts_with(&format!("campaign.toml:{line}: ")), "{s}");
    assert_eq!(e.line(), Some(line), "{s}");
    assert_eq!(e.key(), Some(key), "{s}");
    for f in fragments {
        assert!(s.contains(f), "{s:?} lacks {f:?}");
    }
}

#[test]
fn unknown_key_top_level() {
    check(
        &format!("name = \"x\"\nrounds = 2\nfoo = 1\n{URL}"),
        3,
        "foo",
        &["unknown key `foo` at top level"],
    );
}

#[test]
fn unknown_key_in_defaults() {
    check(
        &format!("name = \"x\"\n\n[defaults]\nmax_time = \"5s\"\nmax_tme = \"5s\"\n{URL}"),
        5,
        "max_tme",
        &["unknown key `max_tme` in [defaults]"],
    );
}

#[test]
fn unknown_key_in_url_matches_issue_wording() {
    // Line 12, as in the example message of the brief.
    let text = "name = \"x\"\n\n\n\n\n\n\n\n\n[[url]]\nurl = \"https://a.example/\"\nfoo = 1\n";
    let e = err(text);
    assert!(
        e.to_string()
            .starts_with("campaign.toml:12: unknown key `foo` in [[url]]"),
        "{e}"
    );
}

#[test]
fn unknown_key_in_second_url_and_list() {
    check(
        &format!("name = \"x\"\n{URL}{URL}labels = \"y\"\n"),
        6,
        "labels",
        &["unknown key `labels` in [[url]]"],
    );
    check(
        "name = \"x\"\n[[list]]\npath = \"a.csv\"\ncategory = \"NEWS\"\n",
        4,
        "category",
        &["unknown key `category` in [[list]]"],
    );
}

#[test]
fn unknown_table() {
    let e = err(&format!(
        "name = \"x\"\n[default]\nmax_time = \"5s\"\n{URL}"
    ));
    assert_eq!(e.key(), Some("default"), "{e}");
    assert_eq!(e.line(), Some(2), "{e}");
    assert!(e.to_string().contains("unknown table `[default]`"), "{e}");
    let e = err(&format!(
        "name = \"x\"\n{URL}[[urls]]  # typo [x]\nurl = \"https://a/\"\n"
    ));
    assert_eq!(e.line(), Some(4), "{e}");
    assert!(e.to_string().contains("unknown table `[[urls]]` ("), "{e}");
}

#[test]
fn bad_durations() {
    check(
        &format!("name = \"x\"\n[defaults]\nmax_time = \"20 parsecs\"\n{URL}"),
        3,
        "max_time",
        &["`max_time` in [defaults]", "20 parsecs"],
    );
    check(
        &format!("name = \"x\"\ninterval = \"5\"\n{URL}"),
        2,
        "interval",
        &["`interval`"],
    );
    check(
        &format!("name = \"x\"\n{URL}window = \"0ms\"\n"),
        4,
        "window",
        &["`window` = \"0ms\"", "shorter than the minimum, 1ms"],
    );
    // A number where a duration string belongs: toml's type error, located.
    check(
        &format!("name = \"x\"\n[defaults]\nttfb_timeout = 10\n{URL}"),
        3,
        "ttfb_timeout",
        &["`ttfb_timeout` in [defaults]"],
    );
}

#[test]
fn bad_sizes() {
    check(
        &format!("name = \"x\"\n[defaults]\nmax_bytes = \"lots\"\n{URL}"),
        3,
        "max_bytes",
        &["invalid size \"lots\""],
    );
    check(
        &format!("name = \"x\"\n{URL}max_bytes = -5\n"),
        4,
        "max_bytes",
        &["negative"],
    );
    check(
        &format!("name = \"x\"\n{URL}method = \"POST\"\nupload = \"1 furlong\"\n"),
        5,
        "upload",
        &["`upload` in [[url]]"],
    );
}

#[test]
fn bad_urls() {
    check(
        "name = \"x\"\n[[url]]\nurl = \"ftp://example.org/f\"\n",
        3,
        "url",
        &["unsupported scheme \"ftp\""],
    );
    check(
        "name = \"x\"\n[[url]]\nurl = \"example.org/f\"\n",
        3,
        "url",
        &["not absolute"],
    );
    check(
        "name = \"x\"\n[[url]]\nurl = \"https://exa mple.org/\"\n",
        3,
        "url",
        &["invalid URL"],
    );
    check(
        "name = \"x\"\n\n[[url]]\nlabel = \"no url\"\n",
        3,
        "url",
        &["missing required key `url`"],
    );
}

#[test]
fn bad_schedule() {
    check(
        &format!("name = \"x\"\nrounds = 0\n{URL}"),
        2,
        "rounds",
        &["`rounds` must be between 1"],
    );
    check(
        &format!("name = \"x\"\nrounds = 3\nduration = \"1h\"\n{URL}"),
        3,
        "duration",
        &["either `rounds` or `duration`"],
    );
    check(
        &format!("name = \"x\"\nconcurrency = 0\n{URL}"),
        2,
        "concurrency",
        &["`concurrency` must be between 1 and 4096, not 0"],
    );
    check(
        &format!("name = \"x\"\nseed = -1\n{URL}"),
        2,
        "seed",
        &["negative"],
    );
    check(
        &format!("name = \"x\"\nrounds = \"ten\"\n{URL}"),
        2,
        "rounds",
        &["bad value for `rounds` at top level"],
    );
}

#[test]
fn bad_resolve_and_connect_to() {
    check(
        &format!("name = \"x\"\n[defaults]\nresolve = [\n  \"a:443:127.0.0.1\",\n  \"a:443:nope\",\n]\n{URL}"),
        5,
        "resolve",
        &["`resolve` in [defaults]", "not an IP address"],
    );
    check(
        &format!("name = \"x\"\n{URL}connect_to = [\"a:443:b\"]\n"),
        4,
        "connect_to",
        &["invalid connect-to", "H1:P1:H2:P2"],
    );
}

#[test]
fn unknown_class_group_method() {
    check(
        "name = \"x\"\n[[url]]\nurl = \"https://a.example/\"\nclass = \"picture\"\n",
        4,
        "class",
        &["unknown class \"picture\""],
    );
    check(
        "name = \"x\"\n[[url]]\nurl = \"https://a.example/\"\ngroup = \"reference\"\n",
        4,
        "group",
        &["unknown group \"reference\""],
    );
    check(
        "name = \"x\"\n[[url]]\nurl = \"https://a.example/\"\nmethod = \"PUT\"\n",
        4,
        "method",
        &["unknown method \"PUT\""],
    );
    check(
        "name = \"x\"\n[[list]]\npath = \"l.csv\"\nclass = \"pictures\"\n",
        4,
        "class",
        &["unknown class"],
    );
}

#[test]
fn upload_with_get() {
    check(
        "name = \"x\"\n[[url]]\nurl = \"https://a.example/\"\nmethod = \"GET\"\nupload = \"1MiB\"\n",
        5,
        "upload",
        &["`upload` needs method = \"POST\""],
    );
}

#[test]
fn missing_name_and_no_urls() {
    let e = err(URL);
    assert_eq!(
        e.to_string(),
        "campaign.toml:1: missing required key `name` at top level (e.g. name = \"twitter-media\")"
    );
    assert_eq!(e.key(), Some("name"));

    let e = err("name = \"x\"\nrounds = 2\n\n");
    assert!(e.to_string().starts_with("campaign.toml:2: no URLs"), "{e}");

    check(
        &format!("name = \"a/b\"\n{URL}"),
        1,
        "name",
        &["bad `name`"],
    );
}

#[test]
fn unknown_key_after_commented_header() {
    check(
        "name = \"x\"\n[[url]]   # note [x]\nurl = \"https://a.example/\"\nfoo = 1\n",
        4,
        "foo",
        &["unknown key `foo` in [[url]] ("],
    );
}

#[test]
fn duplicate_key() {
    check(
        "name = \"x\"\nname = \"y\"\n",
        2,
        "name",
        &["duplicate key `name`"],
    );
}

#[test]
fn toml_syntax_error_has_line() {
    let e = err("name = \"x\"\nrounds = \n");
    assert_eq!(e.line(), Some(2), "{e}");
    assert!(e.to_string().starts_with("campaign.toml:2: "), "{e}");
}

/// `until` takes "decided" or "budget"; `max_total_bytes` is a size.
#[test]
fn until_and_max_total_bytes_are_checked_with_their_line() {
    check(
        &format!("name = \"x\"\nuntil = \"done\"\n{URL}"),
        2,
        "until",
        &["`until`", "\"decided\""],
    );
    check(
        &format!("name = \"x\"\nrounds = 3\nmax_total_bytes = \"lots\"\n{URL}"),
        3,
        "max_total_bytes",
        &["`max_total_bytes`"],
    );
    check(
        &format!("name = \"x\"\nmax_total_bytes = 0\n{URL}"),
        2,
        "max_total_bytes",
        &["`max_total_bytes`"],
    );
}

/// An adaptive campaign without `rounds`/`duration` gets the adaptive
/// budget, not one round; with `rounds` that is its budget.
#[test]
fn until_decided_budgets() {
    use slowlane::plan::{Until, DEFAULT_DECIDED_ROUNDS};
    let p = Path::new("campaign.toml");
    let c = parse_campaign(
        &format!("name = \"x\"\nuntil = \"decided\"\nmax_total_bytes = \"20MB\"\n{URL}"),
        p,
    )
    .unwrap();
    assert_eq!(c.schedule.until, Until::Decided);
    assert_eq!(c.schedule.rounds, Some(DEFAULT_DECIDED_ROUNDS));
    assert_eq!(c.schedule.max_total_bytes, Some(20_000_000));
    let c = parse_campaign(
        &format!("name = \"x\"\nuntil = \"decided\"\nrounds = 7\n{URL}"),
        p,
    )
    .unwrap();
    assert_eq!(c.schedule.rounds, Some(7));
    // `run --until decided` on a file without rounds widens its one round.
    let mut c = parse_campaign(&format!("name = \"x\"\n{URL}"), p).unwrap();
    assert_eq!(c.schedule.rounds, Some(1));
    c.apply(&slowlane::config::CliOverrides {
        until: Some(Until::Decided),
        ..Default::default()
    });
    assert_eq!(c.schedule.rounds, Some(DEFAULT_DECIDED_ROUNDS));
}

#[test]
fn unknown_hello() {
    check(
        &format!("name = \"x\"\n[defaults]\nhello = \"kyber\"\n{URL}"),
        3,
        "hello",
        &[
            "`hello` in [defaults]",
            "unknown hello \"kyber\"",
            "classic, pq",
        ],
    );
    check(
        &format!("name = \"x\"\n{URL}hello = \"PQ2\"\n"),
        4,
        "hello",
        &["unknown hello"],
    );
}
