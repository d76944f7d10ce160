//! The value parsers shared by campaign files and command-line flags.

use std::net::IpAddr;
use std::time::Duration;

use slowlane::config::{parse_connect_to, parse_duration, parse_resolve, parse_size, parse_url};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn resolve_curl_syntax() {
    let r = parse_resolve("pbs.twimg.com:443:127.0.0.1").unwrap();
    assert_eq!(
        (r.host.as_str(), r.port, r.addr),
        ("pbs.twimg.com", 443, ip("127.0.0.1"))
    );

    for v6 in ["x.example:8443:[::1]", "x.example:8443:::1"] {
        let r = parse_resolve(v6).unwrap();
        assert_eq!((r.port, r.addr), (8443, ip("::1")), "{v6}");
    }
    let r = parse_resolve("x.example:443:[2001:db8::10]").unwrap();
    assert_eq!(r.addr, ip("2001:db8::10"));
    // A bracketed IPv6 HOST is accepted too.
    let r = parse_resolve("[2001:db8::1]:443:127.0.0.1").unwrap();
    assert_eq!(r.host, "2001:db8::1");

    for bad in [
        "",
        "host",
        "host:443",
        ":443:127.0.0.1",
        "host:https:127.0.0.1",
        "host:70000:127.0.0.1",
        "host:443:not-an-ip",
        "host:443:127.0.0.1,127.0.0.2",
        "host:443:[::1",
    ] {
        let e = parse_resolve(bad).unwrap_err();
        assert!(e.contains("HOST:PORT:ADDR"), "{bad}: {e}");
    }
}

#[test]
fn connect_to_curl_syntax() {
    let c = parse_connect_to("pbs.twimg.com:443:198.18.0.2:443").unwrap();
    assert_eq!(c.from_host, "pbs.twimg.com");
    assert_eq!(c.from_port, Some(443));
    assert_eq!((c.to_host.as_str(), c.to_port), ("198.18.0.2", 443));

    // Empty H1 / P1 match anything.
    let c = parse_connect_to("::neutral.example:8443").unwrap();
    assert_eq!((c.from_host.as_str(), c.from_port), ("", None));
    assert_eq!((c.to_host.as_str(), c.to_port), ("neutral.example", 8443));
    let c = parse_connect_to("a.example::b.example:443").unwrap();
    assert_eq!(c.from_port, None);

    // IPv6 H2, bracketed or not; stored bare so it parses as an IpAddr.
    for s in ["a.example:443:[::1]:8443", "a.example:443:::1:8443"] {
        let c = parse_connect_to(s).unwrap();
        assert_eq!(c.to_host, "::1", "{s}");
        assert_eq!(c.to_host.parse::<IpAddr>().unwrap(), ip("::1"));
        assert_eq!(c.to_port, 8443);
    }
    let c = parse_connect_to("[2001:db8::1]:443:[2001:db8::2]:443").unwrap();
    assert_eq!(
        (c.from_host.as_str(), c.to_host.as_str()),
        ("2001:db8::1", "2001:db8::2")
    );

    for bad in [
        "",
        "a:443",
        "a:443:b",
        "a:443::443",
        "a:443:b:",
        "a:443:b:0",
        "a:x:b:443",
        "a:443:b:c:443",
    ] {
        let e = parse_connect_to(bad).unwrap_err();
        assert!(e.contains("H1:P1:H2:P2"), "{bad}: {e}");
    }
}

#[test]
fn sizes() {
    assert_eq!(parse_size("16MiB").unwrap(), 16 * 1024 * 1024);
    assert_eq!(parse_size("1MiB").unwrap(), 1 << 20);
    assert_eq!(parse_size("1mib").unwrap(), 1 << 20);
    assert_eq!(parse_size("2 KiB").unwrap(), 2048);
    assert_eq!(parse_size("1.5KiB").unwrap(), 1536);
    assert_eq!(parse_size("1MB").unwrap(), 1_000_000);
    assert_eq!(parse_size("4096").unwrap(), 4096);
    assert_eq!(parse_size(" 0 ").unwrap(), 0);
    for bad in ["", "MiB", "-1", "1 XiB", "ten", "1..5MB"] {
        assert!(parse_size(bad).is_err(), "{bad}");
    }
}

#[test]
fn durations() {
    assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
    assert_eq!(parse_duration("100ms").unwrap(), Duration::from_millis(100));
    assert_eq!(parse_duration("6h").unwrap(), Duration::from_secs(6 * 3600));
    assert_eq!(parse_duration("1h 30m").unwrap(), Duration::from_secs(5400));
    assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
    for bad in ["", "5", "five minutes", "-5s", "5 lightyears"] {
        assert!(parse_duration(bad).is_err(), "{bad}");
    }
}

#[test]
fn urls() {
    let u = parse_url("https://pbs.twimg.com/media/photo.jpg").unwrap();
    assert_eq!(u.host(), Some("pbs.twimg.com"));
    assert!(parse_url("http://[::1]:8080/x").is_ok());
    assert!(parse_url("wss://a.example/")
        .unwrap_err()
        .contains("scheme"));
    assert!(parse_url("/relative").is_err());
}
