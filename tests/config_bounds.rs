//! Bounds on durations, sizes and counts, and the fuzzed campaign files of
//! issue 10 that used to panic or measure the wrong thing: each is now an
//! error naming the file and the line.

use std::path::Path;
use std::process::Command;

use slowlane::config::{parse_campaign, parse_campaign_bytes, ConfigError};

const URL: &str = "[[url]]\nurl = \"https://example.org/\"\n";

fn err(text: &str) -> ConfigError {
    match parse_campaign(text, Path::new("campaign.toml")) {
        Ok(c) => panic!("expected an error, got {c:?}"),
        Err(e) => e,
    }
}

/// The message starts with `campaign.toml:LINE: ` and has every fragment.
#[track_caller]
fn check(text: &str, line: usize, key: Option<&str>, fragments: &[&str]) {
    let e = err(text);
    let s = e.to_string();
    assert!(s.starts_with(&format!("campaign.toml:{line}: ")), "{s}");
    assert_eq!(e.key(), key, "{s}");
    for f in fragments {
        assert!(s.contains(f), "{s:?} lacks {f:?}");
    }
}

#[test]
fn fuzz_panic_max_time_300000000000y() {
    check(
        &format!("name = \"x\"\n[defaults]\nmax_time = \"300000000000y\"\n{URL}"),
        3,
        Some("max_time"),
        &[
            "`max_time` = \"300000000000y\" in [defaults]",
            "longer than the maximum, 1h",
        ],
    );
    // Per URL too, and every phase timeout has the same bound.
    for key in ["max_time", "connect_timeout", "tls_timeout", "ttfb_timeout"] {
        check(
            &format!("name = \"x\"\n{URL}{key} = \"61m\"\n"),
            4,
            Some(key),
            &["longer than the maximum, 1h"],
        );
    }
    assert!(parse_campaign(
        &format!("name = \"x\"\n{URL}max_time = \"1h\"\n"),
        Path::new("c.toml")
    )
    .is_ok());
}

#[test]
fn fuzz_panic_huge_interval_and_jitter() {
    check(
        &format!("name = \"x\"\nrounds = 3\ninterval = \"300000000000y\"\n{URL}"),
        3,
        Some("interval"),
        &[
            "`interval` = \"300000000000y\"",
            "longer than the maximum, 30d",
        ],
    );
    check(
        &format!("name = \"x\"\njitter = \"31 days\"\n{URL}"),
        2,
        Some("jitter"),
        &["maximum, 30d"],
    );
}

#[test]
fn fuzz_panic_concurrency_i64_max() {
    check(
        &format!("name = \"x\"\nconcurrency = 9223372036854775807\n{URL}"),
        2,
        Some("concurrency"),
        &["`concurrency` must be between 1 and 4096, not 9223372036854775807"],
    );
    let ok = parse_campaign(
        &format!("name = \"x\"\nconcurrency = 4096\n{URL}"),
        Path::new("c.toml"),
    )
    .unwrap();
    assert_eq!(ok.concurrency, 4096);
}

#[test]
fn rounds_bound() {
    check(
        &format!("name = \"x\"\nrounds = 1000001\n{URL}"),
        2,
        Some("rounds"),
        &["between 1 and 1000000"],
    );
}

#[test]
fn duration_shorter_than_one_round() {
    // "1ns" used to run 0 rounds and exit 0.
    check(
        &format!("name = \"x\"\nduration = \"1ns\"\n{URL}"),
        2,
        Some("duration"),
        &["`duration` = \"1ns\"", "shorter than one round", "1s"],
    );
    check(
        &format!("name = \"x\"\ninterval = \"5m\"\nduration = \"1m\"\n{URL}"),
        3,
        Some("duration"),
        &["shorter than one round", "the `interval` (5m)"],
    );
    check(
        &format!("name = \"x\"\nduration = \"367d\"\n{URL}"),
        2,
        Some("duration"),
        &["longer than the maximum, 366d"],
    );
    let c = parse_campaign(
        &format!("name = \"x\"\ninterval = \"5m\"\nduration = \"5m\"\n{URL}"),
        Path::new("c.toml"),
    )
    .unwrap();
    assert_eq!(
        c.schedule.duration,
        Some(std::time::Duration::from_secs(300))
    );
}

#[test]
fn window_under_one_millisecond_is_refused() {
    // It used to become 1 ms silently.
    check(
        &format!("name = \"x\"\n[defaults]\nwindow = \"500us\"\n{URL}"),
        3,
        Some("window"),
        &["shorter than the minimum, 1ms"],
    );
    check(
        &format!("name = \"x\"\n{URL}window = \"2h\"\n"),
        4,
        Some("window"),
        &["longer than the maximum, 1h"],
    );
}

#[test]
fn size_bounds() {
    check(
        &format!("name = \"x\"\n[defaults]\nmax_bytes = \"2TiB\"\n{URL}"),
        3,
        Some("max_bytes"),
        &["`max_bytes` = \"2TiB\" in [defaults]", "maximum, 1TiB"],
    );
    check(
        &format!("name = \"x\"\n{URL}upload = 9223372036854775807\n"),
        4,
        Some("upload"),
        &["maximum, 1TiB"],
    );
}

#[test]
fn out_of_range_port_names_the_line() {
    // `http://127.0.0.1:99999/` used to be fetched on port 80.
    check(
        "name = \"x\"\n\n[[url]]\nurl = \"http://127.0.0.1:99999/\"\n",
        4,
        Some("url"),
        &["port 99999 is out of range (1-65535)"],
    );
    check(
        "name = \"x\"\n[[url]]\nurl = \"https://[::1]:0/\"\n",
        3,
        Some("url"),
        &["port 0 is out of range"],
    );
}

#[test]
fn invalid_sni_and_host_name_the_line() {
    check(
        &format!("name = \"x\"\n{URL}sni = \"bad name!\"\n"),
        4,
        Some("sni"),
        &["bad `sni`", "not a valid TLS server name"],
    );
    check(
        &format!("name = \"x\"\n{URL}host = \"a b\"\n"),
        4,
        Some("host"),
        &["bad `host`"],
    );
    // `sni = ""` (send none) stays valid.
    let c = parse_campaign(
        &format!("name = \"x\"\n{URL}sni = \"\"\n"),
        Path::new("c.toml"),
    )
    .unwrap();
    assert_eq!(c.targets[0].sni.as_deref(), Some(""));
}

#[test]
fn list_rows_out_of_range_port_name_the_list_line() {
    let text = "name = \"x\"\n[[list]]\npath = \"l.csv\"\n";
    let list = b"url,category_code\nhttps://a.example/,NEWS\nhttp://b.example:123456/,NEWS\n";
    let e =
        slowlane::config::parse_campaign_with(
            text,
            Path::new("dir/c.toml"),
            &|_| Ok(list.to_vec()),
        )
        .unwrap_err();
    assert_eq!(e.line(), Some(3), "{e}");
    assert!(e.to_string().starts_with("dir/l.csv:3: "), "{e}");
}

#[test]
fn non_utf8_file_names_byte_and_line() {
    let mut bytes = b"name = \"x\"\n# caf".to_vec();
    bytes.push(0xE9); // Latin-1 é
    bytes.extend_from_slice(b"\n[[url]]\nurl = \"https://a.example/\"\n");
    let e =
        parse_campaign_bytes(&bytes, Path::new("campaign.toml"), &|_| unreachable!()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "campaign.toml:2: not UTF-8 at byte 16 (campaign files are UTF-8 text)"
    );
}

#[test]
fn missing_name_names_the_top() {
    check(URL, 1, Some("name"), &["missing required key `name`"]);
}

fn slowlane(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_slowlane"))
        .args(args)
        .output()
        .expect("run slowlane")
}

#[test]
fn fetch_flags_are_bounded_exit_2_not_panic() {
    // The URL is never fetched: flags are refused first (port 9 on loopback).
    for (flag, value, msg) in [
        ("--max-time", "300000000000y", "longer than the maximum, 1h"),
        ("--connect-timeout", "2h", "longer than the maximum, 1h"),
        ("--window", "10us", "shorter than the minimum, 1ms"),
        ("--max-bytes", "5TiB", "maximum, 1TiB"),
    ] {
        let o = slowlane(&["fetch", "http://127.0.0.1:9/", flag, value]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{flag} {value}: {err}");
        assert!(err.contains(msg), "{flag} {value}: {err}");
    }
    let o = slowlane(&["fetch", "http://127.0.0.1:99999/"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("port 99999 is out of range"));
}

#[test]
fn run_with_bad_campaign_exits_2_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(
        &path,
        format!("name = \"x\"\nconcurrency = 9223372036854775807\n{URL}"),
    )
    .unwrap();
    let o = slowlane(&["run", "--quiet", path.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains(&format!("{}:2: ", path.display())), "{err}");
    let o = slowlane(&[
        "run",
        "--quiet",
        "--rounds",
        "2000000",
        path.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn url_host_must_be_a_name_or_ip_for_http_too() {
    // Found by cargo-fuzz: accepted at load time, then the run refused to start.
    check(
        "name = \"x\"\n[[url]]\nurl = \"http://063.0.1A9V9=9/\"\n",
        3,
        Some("url"),
        &["not a valid host name or IP address"],
    );
    for ok in [
        "http://[::1]:8080/",
        "http://127.0.0.1/",
        "https://a-b.example/",
    ] {
        let text = format!("name = \"x\"\n[[url]]\nurl = \"{ok}\"\n");
        assert!(parse_campaign(&text, Path::new("c.toml")).is_ok(), "{ok}");
    }
}
