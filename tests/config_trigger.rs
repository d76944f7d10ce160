//! `[[trigger]]` tables: what they hold, what they inherit, their errors.

use std::path::Path;
use std::time::Duration;

use clap::Parser;
use slowlane::cli::{Cli, Command};
use slowlane::config::{parse_campaign, trigger, ConfigError};

const PIN: &str = "sha256:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

fn url_and(extra: &str) -> String {
    format!("name = \"c\"\n[[url]]\nurl = \"https://a.example/\"\n{extra}")
}

fn err(text: &str) -> ConfigError {
    match parse_campaign(text, Path::new("campaign.toml")) {
        Ok(c) => panic!("expected an error, got {c:?}"),
        Err(e) => e,
    }
}

#[test]
fn a_full_table_holds_the_command_knobs() {
    let text = url_and(&format!(
        "[[trigger]]\nid = \"tco\"\nname = \"T.co.\"\nreflector = \"https://203.0.113.7:8443\"\n\
         pin = \"{PIN}\"\ntoken = \"s3cret\"\ncontrols = [\"example.net\"]\nsize = \"64KiB\"\n\
         max_time = \"2s\"\nmax_rounds = 6\ngap = \"250ms\"\n"
    ));
    let c = parse_campaign(&text, Path::new("c.toml")).unwrap();
    assert_eq!(c.triggers.len(), 1);
    let s = &c.triggers[0];
    assert_eq!((s.id.as_str(), s.name.as_str()), ("tco", "t.co"));
    assert_eq!(s.reflector, "203.0.113.7:8443");
    assert_eq!(s.pin.to_string(), PIN);
    assert_eq!(s.controls, ["example.net"]);
    assert_eq!(s.size, 64 << 10);
    assert_eq!(s.max_time, Duration::from_secs(2));
    assert_eq!(s.max_rounds, 6);
    assert_eq!(s.gap, Duration::from_millis(250));
    // The token goes on the wire, never into campaign.json.
    let json = serde_json::to_string(&c).unwrap();
    assert!(
        json.contains("\"triggers\"") && !json.contains("s3cret"),
        "{json}"
    );
    assert!(!s.options.headers.is_empty());
}

#[test]
fn defaults_are_the_commands_and_a_single_reflector_is_inherited() {
    let text = format!(
        "name = \"c\"\n[[reflector]]\nurl = \"https://192.0.2.1:443\"\npin = \"{PIN}\"\n\
         names = [\"t.co\"]\ncontrols = [\"example.com\"]\n[[trigger]]\nname = \"t.co\"\n"
    );
    let c = parse_campaign(&text, Path::new("c.toml")).unwrap();
    let s = &c.triggers[0];
    assert_eq!(s.reflector, "192.0.2.1:443");
    assert_eq!(s.pin.to_string(), PIN);
    assert_eq!(s.id, "t.co");
    // The same defaults as `slowlane trigger NAME --reflector … --pin …`.
    let cli = Cli::try_parse_from([
        "slowlane",
        "trigger",
        "t.co",
        "--reflector",
        "https://192.0.2.1:443",
        "--pin",
        PIN,
    ])
    .unwrap();
    let Command::Trigger(a) = cli.command else {
        panic!("not the trigger command")
    };
    assert_eq!(
        (s.size, s.max_time, s.max_rounds, s.gap),
        (a.size, a.max_time, a.max_rounds, a.gap)
    );
    assert!(a.controls.is_empty());
    assert_eq!(s.controls, trigger::DEFAULT_CONTROLS);
    // A campaign without [[trigger]] does not write the key (its hash and
    // campaign.json are what they were).
    let c = parse_campaign(&url_and(""), Path::new("c.toml")).unwrap();
    assert!(!serde_json::to_string(&c).unwrap().contains("triggers"));
}

#[test]
fn unknown_keys_missing_keys_and_bad_values_name_the_line() {
    let base = format!(
        "[[trigger]]\nname = \"t.co\"\nreflector = \"https://192.0.2.1\"\npin = \"{PIN}\"\n"
    );
    let e = err(&url_and(&format!("{base}max_trails = 3\n")));
    assert_eq!((e.line(), e.key()), (Some(8), Some("max_trails")));
    assert!(
        e.to_string()
            .starts_with("campaign.toml:8: unknown key `max_trails` in [[trigger]]"),
        "{e}"
    );
    let e = err(&url_and(&format!(
        "[[trigger]]\nreflector = \"https://192.0.2.1\"\npin = \"{PIN}\"\n"
    )));
    assert_eq!((e.line(), e.key()), (Some(4), Some("name")));
    assert!(
        e.to_string()
            .contains("missing required key `name` in [[trigger]]"),
        "{e}"
    );
    // No reflector and no single [[reflector]] to take it from.
    let e = err(&url_and("[[trigger]]\nname = \"t.co\"\n"));
    assert_eq!((e.line(), e.key()), (Some(4), Some("reflector")));
    let e = err(&url_and(
        "[[trigger]]\nname = \"t.co\"\nreflector = \"https://192.0.2.1\"\n",
    ));
    assert_eq!(e.key(), Some("pin"));
    for (line, bad, key) in [
        ("max_rounds = 4", "between 5 and 100", "max_rounds"),
        ("size = 0", "more than 0", "size"),
        ("max_time = \"0s\"", "more than 0", "max_time"),
        ("gap = \"soon\"", "invalid duration", "gap"),
        ("controls = []", "is empty", "controls"),
        ("controls = [\"not a name\"]", "not a DNS name", "controls"),
        ("pin = \"sha256:zz\"", "", "pin"),
    ] {
        let text =
            url_and(&format!("{base}{line}\n")).replace(&format!("pin = \"{PIN}\"\npin"), "pin");
        let e = err(&text);
        assert_eq!(e.key(), Some(key), "{line}: {e}");
        assert!(e.line().is_some_and(|l| l >= 5), "{line}: {e}");
        assert!(e.to_string().contains(bad), "{line}: {e}");
    }
    let e = err(&url_and(&format!(
        "{base}[[trigger]]\nname = \"t.co\"\nreflector = \"https://192.0.2.2\"\npin = \"{PIN}\"\n"
    )));
    assert_eq!((e.line(), e.key()), (Some(8), Some("id")));
    let e = err(&url_and(&format!(
        "[[trigger]]\nname = \"t.co\"\nreflector = \"https://192.0.2.1/x\"\npin = \"{PIN}\"\n"
    )));
    assert_eq!((e.line(), e.key()), (Some(6), Some("reflector")));
    // Studies need rounds to follow.
    let e = err(&format!(
        "name = \"c\"\n[[trigger]]\nname = \"t.co\"\nreflector = \"https://192.0.2.1\"\npin = \"{PIN}\"\n"
    ));
    assert!(e.to_string().contains("no URLs"), "{e}");
    assert!(e.to_string().contains("`slowlane trigger t.co`"), "{e}");
}
