//! Loading campaign files: the issue's example, defaults, overrides, paths.

use std::path::{Path, PathBuf};
use std::time::Duration;

use slowlane::config::{self, load_campaign, parse_campaign, CliOverrides};
use slowlane::types::{Class, Group, Method};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/config")
        .join(name)
}

fn parse(text: &str) -> config::Campaign {
    parse_campaign(text, Path::new("campaign.toml")).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn issue_example_parses() {
    let path = fixture("issue-example.toml");
    let c = load_campaign(&path).unwrap_or_else(|e| panic!("{e}"));
    let dir = path.parent().unwrap();
    assert_eq!(c.name, "twitter-media");
    assert_eq!(c.vantage, "msk-vps-1");
    assert_eq!(c.schedule.rounds, Some(10));
    assert_eq!(c.schedule.duration, None);
    assert_eq!(c.schedule.interval, Duration::from_secs(300));
    assert_eq!(c.schedule.jitter, Duration::from_secs(30));
    assert_eq!(c.concurrency, 1);
    assert_eq!(c.seed, Some(42));
    assert_eq!(c.out, dir.join("results/twitter-media"));
    assert_eq!(c.source, path);
    // One [[url]] plus the four rows of lists/ru.csv.
    assert_eq!(c.targets.len(), 5);

    let t = &c.targets[0];
    assert_eq!(t.url.to_string(), "https://pbs.twimg.com/media/photo.jpg");
    assert_eq!(t.class, Some(Class::Image));
    assert_eq!(t.group, Group::Target);
    assert_eq!(t.sni.as_deref(), Some("pbs.twimg.com"));
    assert_eq!(t.host.as_deref(), Some("pbs.twimg.com"));
    assert_eq!(t.method, Method::Post);
    assert_eq!(t.upload, 1 << 20);
    assert_eq!(t.label, "photo via real SNI");
    let o = &t.options;
    assert_eq!(o.max_time, Duration::from_secs(20));
    assert_eq!(o.max_bytes, 16 << 20);
    assert_eq!(o.connect_timeout, Duration::from_secs(10));
    assert_eq!(o.window, Duration::from_millis(100));
    assert_eq!(o.alpn, vec!["h2", "http/1.1"]);
    assert_eq!(o.cacert, vec![dir.join("testbed-ca.pem")]);
    assert!(!o.insecure);
    assert_eq!(o.resolve.len(), 1);
    assert_eq!(o.resolve[0].host, "pbs.twimg.com");
    assert_eq!(o.resolve[0].addr.to_string(), "127.0.0.1");
    assert_eq!(o.connect_to[0].to_host, "198.18.0.2");
    assert_eq!(o.connect_to[0].from_port, Some(443));

    let l = &c.targets[2];
    assert_eq!(l.url.to_string(), "http://www.hrw.org/");
    assert_eq!(l.class, Some(Class::Text));
    assert_eq!(l.label, "HUMR");
    assert_eq!(l.method, Method::Get);
    // List rows inherit [defaults].
    assert_eq!(l.options.resolve, o.resolve);

    // It goes into campaign.json.
    let j = serde_json::to_value(&c).unwrap();
    assert_eq!(j["schedule"]["interval"], "5m");
    assert_eq!(j["targets"][0]["options"]["max_time"], "20s");
}

#[test]
fn issue_example_verbatim_get_with_upload_is_rejected() {
    // The issue's example pairs method = "GET" with upload = "1MiB".
    let path = fixture("issue-example.toml");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace(r#"method = "POST""#, r#"method = "GET""#);
    let e = parse_campaign(&text, &path).unwrap_err();
    assert_eq!(e.key(), Some("upload"));
    assert_eq!(e.line(), Some(33));
    assert!(
        e.to_string()
            .contains("issue-example.toml:33: `upload` needs"),
        "{e}"
    );
}

#[test]
fn minimal_campaign_defaults() {
    let c = parse("name = \"m\"\n[[url]]\nurl = \"https://example.org/\"\n");
    assert_eq!(c.schedule, config::Schedule::default());
    assert_eq!(c.schedule.rounds, Some(1));
    assert_eq!(c.concurrency, 1);
    assert_eq!(c.seed, None);
    assert_eq!(c.out, PathBuf::from("slowlane-out/m"));
    assert_eq!(c.vantage, config::hostname());
    assert!(!c.vantage.is_empty());
    let t = &c.targets[0];
    assert_eq!(t.class, None);
    assert_eq!(t.group, Group::Target);
    assert_eq!(t.method, Method::Get);
    assert_eq!((t.sni.clone(), t.host.clone(), t.upload), (None, None, 0));
    assert_eq!(t.options.max_time, Duration::from_secs(20));
    assert_eq!(t.options.max_bytes, 16 << 20);
}

#[test]
fn per_url_overrides_replace_defaults() {
    let c = parse(
        r#"name = "o"
[defaults]
max_time = "5s"
resolve = ["a.example:443:127.0.0.1"]
insecure = true

[[url]]
url = "https://a.example/big"
max_time = "60s"
max_bytes = 1048576
resolve = ["a.example:443:[::1]"]
sni = ""
upload = "64KiB"
group = "control"
class = "VIDEO"

[[url]]
url = "https://a.example/small"
"#,
    );
    let (a, b) = (&c.targets[0], &c.targets[1]);
    assert_eq!(a.options.max_time, Duration::from_secs(60));
    assert_eq!(a.options.max_bytes, 1 << 20);
    assert_eq!(a.options.resolve.len(), 1);
    assert_eq!(a.options.resolve[0].addr.to_string(), "::1");
    assert!(a.options.insecure);
    assert_eq!(a.sni.as_deref(), Some(""));
    assert_eq!(a.method, Method::Post, "upload implies POST");
    assert_eq!(a.upload, 64 * 1024);
    assert_eq!(a.group, Group::Control);
    assert_eq!(a.class, Some(Class::Video));
    assert_eq!(b.options.max_time, Duration::from_secs(5));
    assert_eq!(b.options.resolve[0].addr.to_string(), "127.0.0.1");
}

#[test]
fn duration_schedule() {
    let c = parse(
        "name = \"d\"\nduration = \"6h\"\ninterval = \"5m\"\n[[url]]\nurl = \"https://e.org/\"\n",
    );
    assert_eq!(c.schedule.rounds, None);
    assert_eq!(c.schedule.duration, Some(Duration::from_secs(6 * 3600)));
    assert!(c.schedule.should_start(71, Duration::from_secs(71 * 300)));
    assert!(!c.schedule.should_start(72, Duration::from_secs(6 * 3600)));
}

#[test]
fn relative_paths_resolve_against_campaign_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("camp");
    std::fs::create_dir_all(dir.join("lists")).unwrap();
    std::fs::copy(fixture("lists/ru.csv"), dir.join("lists/global.csv")).unwrap();
    let file = dir.join("c.toml");
    std::fs::write(
        &file,
        r#"name = "rel"
out = "out/here"
[defaults]
cacert = ["certs/ca.pem", "/etc/abs.pem"]
[[list]]
path = "lists/global.csv"
group = "control"
max_time = "3s"
"#,
    )
    .unwrap();
    let c = load_campaign(&file).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.out, dir.join("out/here"));
    assert_eq!(c.targets.len(), 4);
    let o = &c.targets[0].options;
    assert_eq!(
        o.cacert,
        vec![dir.join("certs/ca.pem"), PathBuf::from("/etc/abs.pem")]
    );
    assert_eq!(o.max_time, Duration::from_secs(3));
    assert!(c.targets.iter().all(|t| t.group == Group::Control));
    assert!(c.targets.iter().all(|t| t.class.is_none()));
    assert_eq!(c.targets[0].label, "NEWS");
}

#[test]
fn missing_list_file_points_at_campaign_line() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("c.toml");
    std::fs::write(&file, "name = \"x\"\n\n[[list]]\npath = \"nope.csv\"\n").unwrap();
    let e = load_campaign(&file).unwrap_err();
    assert_eq!((e.line(), e.key()), (Some(4), Some("path")));
    assert!(e.to_string().contains("cannot read list"), "{e}");
}

#[test]
fn bad_list_row_names_list_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("c.toml");
    std::fs::write(&file, "name = \"x\"\n[[list]]\npath = \"l.csv\"\n").unwrap();
    std::fs::write(
        tmp.path().join("l.csv"),
        "url,category_code,category_description,date_added,source,notes\n\
         https://ok.example/,NEWS,News,2020-01-01,,\n\
         not a url,NEWS,News,2020-01-01,,\n",
    )
    .unwrap();
    let e = load_campaign(&file).unwrap_err();
    assert_eq!(e.file(), tmp.path().join("l.csv"));
    assert_eq!(e.line(), Some(3));
    assert!(e.to_string().contains("l.csv:3: "), "{e}");
}

#[test]
fn missing_campaign_file() {
    let e = load_campaign(Path::new("/nonexistent/slowlane/c.toml")).unwrap_err();
    assert!(e
        .to_string()
        .starts_with("/nonexistent/slowlane/c.toml: cannot read"));
}

#[test]
fn cli_overrides_apply_to_every_url() {
    let mut c = parse(
        r#"name = "cli"
duration = "1h"
seed = 1
[defaults]
resolve = ["a.example:443:127.0.0.1", "b.example:443:127.0.0.2"]
cacert = ["/x/ca.pem"]
[[url]]
url = "https://a.example/"
[[url]]
url = "https://b.example/"
insecure = false
"#,
    );
    let o = CliOverrides {
        rounds: Some(3),
        resolve: vec![config::parse_resolve("a.example:443:10.0.0.1").unwrap()],
        connect_to: vec![config::parse_connect_to("::127.0.0.1:8443").unwrap()],
        cacert: vec![PathBuf::from("extra.pem")],
        insecure: true,
        seed: Some(7),
        out: Some(PathBuf::from("elsewhere")),
        vantage: Some("ru-mobile-1".into()),
        until: Some(slowlane::plan::Until::Decided),
        max_total_bytes: Some(1000),
    };
    c.apply(&o);
    assert_eq!(c.schedule.until, slowlane::plan::Until::Decided);
    assert_eq!(c.schedule.max_total_bytes, Some(1000));
    assert_eq!(c.vantage, "ru-mobile-1");
    assert_eq!(c.schedule.rounds, Some(3));
    assert_eq!(c.schedule.duration, None);
    assert_eq!(c.seed, Some(7));
    assert_eq!(c.out, PathBuf::from("elsewhere"));
    for t in &c.targets {
        let r: Vec<String> = t
            .options
            .resolve
            .iter()
            .map(|r| r.addr.to_string())
            .collect();
        assert_eq!(r, vec!["10.0.0.1", "127.0.0.2"]);
        assert_eq!(t.options.connect_to.len(), 1);
        assert_eq!(
            t.options.cacert,
            vec![PathBuf::from("/x/ca.pem"), PathBuf::from("extra.pem")]
        );
        assert!(t.options.insecure);
    }
}

#[test]
fn hello_is_a_per_url_key_with_a_default_in_defaults() {
    use slowlane::types::Hello;
    let c = parse(
        r#"name = "h"
[defaults]
hello = "pq"

[[url]]
url = "https://a.example/pq"

[[url]]
url = "https://a.example/classic"
hello = "classic"
"#,
    );
    assert_eq!(c.targets[0].options.hello, Hello::Pq);
    assert_eq!(c.targets[1].options.hello, Hello::Classic);
    let plain = parse("name = \"h\"\n[[url]]\nurl = \"https://a.example/\"\n");
    assert_eq!(plain.targets[0].options.hello, Hello::Classic);
}
