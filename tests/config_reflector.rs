//! `[[reflector]]` tables: what they expand into, and their errors.

use std::path::Path;

use slowlane::config::{parse_campaign, ConfigError};
use slowlane::types::{Group, Method};

const PIN: &str = "sha256:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

fn table(extra: &str) -> String {
    format!(
        "name = \"ab\"\n[defaults]\nmax_time = \"5s\"\n[[reflector]]\n\
         url = \"https://203.0.113.7:8443\"\npin = \"{PIN}\"\n{extra}"
    )
}

fn err(text: &str) -> ConfigError {
    match parse_campaign(text, Path::new("campaign.toml")) {
        Ok(c) => panic!("expected an error, got {c:?}"),
        Err(e) => e,
    }
}

#[test]
fn expands_names_directions_and_evasions() {
    let text = table(
        "names = [\"pbs.twimg.com\", \"t.co\"]\ncontrols = [\"example.com\", \"random\"]\n\
         download = \"2MiB\"\nupload = \"1MiB\"\nclass = \"video\"\n\
         evasion = [\"split-hello\", \"trailing-dot\", \"upper-case\", \"no-sni\"]\n",
    );
    let c = parse_campaign(&text, Path::new("c.toml")).unwrap();
    // (2 names + 2 controls) x 5 variants, in each of 2 directions: every
    // variant is also fetched under the control names.
    assert_eq!(c.targets.len(), 40);
    let find = |host: &str, m: Method| {
        c.targets
            .iter()
            .find(|t| t.host.as_deref() == Some(host) && t.method == m)
            .unwrap_or_else(|| panic!("{host} {m}"))
    };
    let plain = find("pbs.twimg.com", Method::Get);
    assert_eq!(
        plain.url.to_string(),
        "https://203.0.113.7:8443/bytes/2097152?type=video"
    );
    assert_eq!(plain.sni.as_deref(), Some("pbs.twimg.com"));
    assert_eq!(
        (plain.ab.as_str(), plain.variant.as_str()),
        ("203.0.113.7:8443", "plain")
    );
    assert_eq!(plain.options.pin.unwrap().to_string(), PIN);
    assert!(!plain.options.split_hello);
    let up = find("PBS.TWIMG.COM", Method::Post);
    assert_eq!(up.sni.as_deref(), Some("PBS.TWIMG.COM"));
    assert_eq!(up.upload, 1 << 20);
    // The reflector answers a second before the probe's 5 s cap.
    assert!(
        up.url
            .to_string()
            .ends_with("/upload?for=4000ms&v=upper-case"),
        "{}",
        up.url
    );
    assert_eq!(find("t.co.", Method::Get).variant, "trailing-dot");
    let split = c
        .targets
        .iter()
        .find(|t| t.variant == "split-hello")
        .unwrap();
    assert_eq!(split.options.wire, slowlane::types::Wire::SplitHello);
    let nosni = c.targets.iter().find(|t| t.variant == "no-sni").unwrap();
    assert_eq!(nosni.sni.as_deref(), Some(""));
    // Controls: every variant too, the random name the same in both
    // directions.
    let all: Vec<_> = c
        .targets
        .iter()
        .filter(|t| t.group == Group::Control)
        .collect();
    assert_eq!(all.len(), 20);
    assert!(all.iter().any(|t| t.variant == "split-hello"));
    let controls: Vec<_> = all.iter().filter(|t| t.variant == "plain").collect();
    assert_eq!(controls.len(), 4);
    let random: Vec<_> = controls
        .iter()
        .filter_map(|t| t.host.clone())
        .filter(|h| h != "example.com")
        .collect();
    assert_eq!(random.len(), 2);
    assert_eq!(random[0], random[1]);
    assert!(random[0].ends_with(".net") && !random[0].contains("t.co"));
}

#[test]
fn an_empty_size_skips_the_direction() {
    let text = table("names = [\"t.co\"]\ncontrols = [\"example.com\"]\nupload = \"\"\n");
    let c = parse_campaign(&text, Path::new("c.toml")).unwrap();
    assert_eq!(c.targets.len(), 2);
    assert!(c.targets.iter().all(|t| t.method == Method::Get));
}

#[test]
fn bad_tables_name_the_key() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "controls = [\"example.com\"]\n",
            "names",
            "missing required key `names`",
        ),
        (
            "names = [\"t.co\"]\n",
            "controls",
            "missing required key `controls`",
        ),
        (
            "names = [\"t.co\"]\ncontrols = [\"a.org\"]\nevasion = [\"rot13\"]\n",
            "evasion",
            "unknown evasion \"rot13\"",
        ),
        (
            "names = [\"t.co\"]\ncontrols = [\"a.org\"]\nevasion = [\"split:0\"]\n",
            "evasion",
            "split:N takes N from 1 to 1024",
        ),
        (
            "names = [\"t.co.\"]\ncontrols = [\"a.org\"]\n",
            "names",
            "without a trailing dot",
        ),
        (
            "names = [\"t.co\"]\ncontrols = [\"a.org\"]\ndownload = \"\"\nupload = \"\"\n",
            "download",
            "nothing to fetch",
        ),
    ];
    for (extra, key, msg) in cases {
        let e = err(&table(extra));
        assert_eq!(e.key(), Some(*key), "{e}");
        assert!(e.to_string().contains(msg), "{e}");
    }
    let e = err("name = \"ab\"\n[[reflector]]\nurl = \"https://192.0.2.1\"\nnames = [\"t.co\"]\ncontrols = [\"a.org\"]\n");
    assert_eq!(e.key(), Some("pin"), "{e}");
    let e = err(&table("names = [\"t.co\"]\ncontrols = [\"a.org\"]\n").replace(PIN, "sha256:12"));
    assert!(e.to_string().contains("bad pin"), "{e}");
    let e = err(&table("names = [\"t.co\"]\ncontrols = [\"a.org\"]\n")
        .replace("https://203.0.113.7:8443", "https://203.0.113.7/x"));
    assert!(e.to_string().contains("with no path"), "{e}");
}
