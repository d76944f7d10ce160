//! Rule matching, units and scenario loading.

use slowlane::testbed::{Action, Pattern, Rate, RuleSet, Scenario, Size};

#[test]
fn t_co_rule_has_its_collateral() {
    let p = Pattern::new("*t.co*");
    assert!(p.matches("t.co"));
    assert!(p.matches("microsoft.com"));
    assert!(p.matches("reddit.com"));
    assert!(!p.matches("example.org"));
}

#[test]
fn suffix_rule_is_anchored() {
    let p = Pattern::new("*.twimg.com");
    assert!(p.matches("pbs.twimg.com"));
    assert!(p.matches("PBS.TWIMG.COM"));
    assert!(!p.matches("twimg.com.evil.org"));
    assert!(!p.matches("twimg.com"));
    // The trailing-dot escape of 2021 still escapes.
    assert!(!p.matches("pbs.twimg.com."));
}

#[test]
fn first_match_wins_and_unnamed_connections_pass() {
    let s = Scenario::parse(
        r#"
name = "t"
description = "x"
[[rule]]
match = "pbs.twimg.com"
down = { action = "freeze_after", bytes = "16KiB" }
[[rule]]
match = ["*.twimg.com", "*t.co*"]
down = { action = "police", rate = "128Kibit", burst = 8192 }
up = { action = "shape", rate = "1Mbit", queue = "64KiB" }
[campaign]
rounds = 1
concurrency = 1
max_time = "1s"
[[campaign.url]]
url = "https://pbs.twimg.com/image/1.jpg"
class = "image"
group = "target"
label = "x"
"#,
    )
    .unwrap();
    let r: &RuleSet = &s.rules;
    assert_eq!(r.find(Some("pbs.twimg.com")), Some(0));
    assert_eq!(
        r.actions(Some("pbs.twimg.com")).0,
        Action::FreezeAfter { bytes: Size(16384) }
    );
    assert_eq!(r.find(Some("video.twimg.com")), Some(1));
    let (down, up) = r.actions(Some("microsoft.com"));
    assert_eq!(
        down,
        Action::Police {
            rate: Rate(131072),
            burst: Size(8192)
        }
    );
    assert_eq!(
        up,
        Action::Shape {
            rate: Rate(1_000_000),
            queue: Size(65536),
            shared: false,
            window: None,
        }
    );
    assert_eq!(r.actions(Some("example.org")), (Action::Pass, Action::Pass));
    assert_eq!(r.actions(None), (Action::Pass, Action::Pass));
}

#[test]
fn unknown_keys_and_bad_rates_are_rejected() {
    let base = "name='t'\ndescription='x'\n[campaign]\nrounds=1\nconcurrency=1\nmax_time='1s'\n[[campaign.url]]\nurl='https://a.b/text/1'\nclass='text'\ngroup='target'\nlabel='x'\n";
    let bad_action =
        format!("{base}[[rule]]\nmatch='a'\ndown={{action='police', rate=0, burst=1}}\n");
    assert!(Scenario::parse(&bad_action).is_err());
    let typo = format!("{base}[[rule]]\nmatch='a'\ndown={{action='police', rat=1, burst=1}}\n");
    assert!(Scenario::parse(&typo).is_err());
    assert!(Scenario::parse(&format!("{base}extra = 1\n")).is_err());
    // share, share_seed and delay are checked too.
    let rule = |extra: &str| format!("{base}[[rule]]\nmatch='a'\n{extra}\n");
    for bad in [
        "share = 0.0",
        "share = 1.5",
        "share_seed = 3",
        "down = { action = 'pass', delay = 'soon' }",
        "down = { action = 'pass', delay = 30 }",
        "down = { action = 'police', rate = 1, burst = 1, dela = '1ms' }",
        "down = { action = 'pass', shared = true }",
        "down = { action = 'shape', rate = 1000, queue = 3000, window = 1500 }",
    ] {
        let e = Scenario::parse(&rule(bad));
        assert!(e.is_err(), "{bad}");
    }
    let ok = Scenario::parse(&rule(
        "share = 0.25\nshare_seed = 3\nup = { action = 'shape', rate = 1000, queue = 3000, shared = true, delay = '7ms' }",
    ))
    .unwrap();
    let r = &ok.rules.rules[0];
    assert_eq!((r.share.unwrap().take, r.share.unwrap().of), (1, 4));
    assert_eq!(r.share.unwrap().seed, Some(3));
    assert_eq!(r.up_delay, std::time::Duration::from_millis(7));
    assert_eq!(r.down_delay, std::time::Duration::ZERO);
    assert!(matches!(r.up, Action::Shape { shared: true, .. }));
    assert_eq!(r.down, Action::Pass);
}

#[test]
fn builtin_scenarios_load_and_say_what_they_claim() {
    for name in Scenario::builtin_names() {
        let s = Scenario::load(name).unwrap();
        assert_eq!(s.name, name);
        let urls = &s.campaign.urls;
        assert!(urls
            .iter()
            .any(|u| u.group == slowlane::types::Group::Control));
        assert!(
            s.campaign.max_time.as_secs() <= 5,
            "{name}: demo must stay short"
        );
    }
    let tw = Scenario::builtin("twitter-2021").unwrap();
    let police = |burst| Action::Police {
        rate: Rate(131072),
        burst: Size(burst),
    };
    for host in ["pbs.twimg.com", "video.twimg.com", "t.co", "microsoft.com"] {
        assert_eq!(
            tw.rules.actions(Some(host)),
            (police(8192), police(4096)),
            "{host}"
        );
    }
    // Free names only meet the scenario's access link: 100 Mbit/s each way.
    let link = Action::Shape {
        rate: Rate(100_000_000),
        queue: Size(256 * 1024),
        shared: false,
        window: None,
    };
    for host in ["twitter.com", "example.org", "cdn.example.net"] {
        assert_eq!(tw.rules.actions(Some(host)), (link, link), "{host}");
    }
    assert!(!tw.reassemble);
    let clean = Scenario::builtin("clean").unwrap();
    assert_eq!(clean.rules.rules.len(), 1, "clean has only the access link");
    assert_eq!(clean.rules.actions(Some("pbs.twimg.com")), (link, link));
    let names = tw.cert_names();
    assert!(names.contains(&"*.twimg.com".to_string()));
    assert!(names.contains(&"microsoft.com".to_string()));
    assert!(Scenario::load("no-such-scenario").is_err());
}

#[test]
fn scenario_loads_from_a_path() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("s.toml");
    std::fs::write(&p, include_str!("../data/scenarios/freeze.toml")).unwrap();
    let s = Scenario::load(p.to_str().unwrap()).unwrap();
    assert_eq!(s.name, "freeze");
}
