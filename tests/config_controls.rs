//! Campaign `control = [...]` and the upload/method rule, wherever a body
//! can be given.

use std::path::Path;

use slowlane::config::{parse_campaign, Campaign, ConfigError};
use slowlane::types::{Class, Group, Method};

fn parse(text: &str) -> Result<Campaign, ConfigError> {
    parse_campaign(text, Path::new("/tmp/c/campaign.toml"))
}

#[track_caller]
fn err_at(text: &str, line: usize, key: &str, fragments: &[&str]) {
    let e = match parse(text) {
        Ok(c) => panic!("expected an error, got {c:?}"),
        Err(e) => e,
    };
    let s = e.to_string();
    assert!(
        s.starts_with(&format!("/tmp/c/campaign.toml:{line}: ")),
        "{s}"
    );
    assert_eq!(e.key(), Some(key), "{s}");
    for f in fragments {
        assert!(s.contains(f), "{s:?} lacks {f:?}");
    }
}

const CONTROLS: &str = r#"
[[url]]
url = "https://cdn.example.net/a.jpg"
group = "control"
label = "cdn"

[[url]]
url = "https://static.example.org/b.jpg"
group = "CONTROL"
label = "static"
"#;

#[test]
fn control_labels_become_the_targets_controls() {
    // The target comes first: a label may name a control defined below it.
    let c = parse(&format!(
        "name = \"x\"\n[[url]]\nurl = \"https://pbs.twimg.com/a.jpg\"\nclass = \"Image\"\n\
         control = [\"cdn\", \"static\"]\n{CONTROLS}"
    ))
    .unwrap();
    assert_eq!(c.targets[0].controls, vec!["cdn", "static"]);
    assert_eq!(c.targets[0].class, Some(Class::Image));
    assert!(c.targets[1].controls.is_empty());
    assert_eq!(c.targets[2].group, Group::Control);
}

#[test]
fn unknown_control_label_names_file_line_and_known_labels() {
    err_at(
        &format!(
            "name = \"x\"\n[[url]]\nurl = \"https://pbs.twimg.com/a.jpg\"\ncontrol = [\n  \"cdn\",\n  \"cnd\",\n]\n{CONTROLS}"
        ),
        6,
        "control",
        &[
            "`control` names \"cnd\"",
            "no URL with group = \"control\" has label = \"cnd\"",
            "control labels: cdn, static",
        ],
    );
    // A label of a *target* URL is not a control.
    err_at(
        "name = \"x\"\n[[url]]\nurl = \"https://a.example/\"\nlabel = \"t\"\n\
         [[url]]\nurl = \"https://b.example/\"\ncontrol = [\"t\"]\n",
        7,
        "control",
        &["names \"t\"", "the campaign has no labelled control URLs"],
    );
}

#[test]
fn control_only_on_targets_and_never_empty() {
    err_at(
        &format!(
            "name = \"x\"\n[[url]]\nurl = \"https://a.example/\"\ngroup = \"control\"\n\
             control = [\"cdn\"]\n{CONTROLS}"
        ),
        5,
        "control",
        &["only allowed on target URLs", "group = \"control\""],
    );
    err_at(
        &format!("name = \"x\"\n[[url]]\nurl = \"https://a.example/\"\ncontrol = []\n{CONTROLS}"),
        4,
        "control",
        &["`control` is empty"],
    );
    err_at(
        "name = \"x\"\n[[url]]\nurl = \"https://a.example/\"\ncontrol = \"cdn\"\n",
        4,
        "control",
        &["control"],
    );
}

#[test]
fn control_is_not_a_defaults_or_list_key() {
    err_at(
        "name = \"x\"\n[defaults]\ncontrol = [\"cdn\"]\n[[url]]\nurl = \"https://a.example/\"\n",
        3,
        "control",
        &["unknown key `control` in [defaults]"],
    );
    err_at(
        "name = \"x\"\n[[list]]\npath = \"l.csv\"\ncontrol = [\"cdn\"]\n",
        4,
        "control",
        &["unknown key `control` in [[list]]"],
    );
}

#[test]
fn upload_makes_post_unless_stated_and_get_with_upload_is_an_error() {
    let c = parse(
        "name = \"x\"\n\
         [[url]]\nurl = \"https://a.example/1\"\nupload = \"600KB\"\n\
         [[url]]\nurl = \"https://a.example/2\"\nmethod = \"post\"\nupload = 1000\n\
         [[url]]\nurl = \"https://a.example/3\"\nmethod = \"Post\"\n\
         [[url]]\nurl = \"https://a.example/4\"\nmethod = \"get\"\n\
         [[url]]\nurl = \"https://a.example/5\"\n",
    )
    .unwrap();
    let got: Vec<(Method, u64)> = c.targets.iter().map(|t| (t.method, t.upload)).collect();
    assert_eq!(
        got,
        vec![
            (Method::Post, 600_000),
            (Method::Post, 1000),
            (Method::Post, 0),
            (Method::Get, 0),
            (Method::Get, 0),
        ]
    );
    // Explicit GET with an upload, in either order and any case.
    for text in [
        "name = \"x\"\n[[url]]\nurl = \"https://a.example/\"\nmethod = \"get\"\nupload = 10\n",
        "name = \"x\"\n[[url]]\nurl = \"https://a.example/\"\nupload = 10\nmethod = \"GET\"\n",
    ] {
        let e = parse(text).unwrap_err();
        assert_eq!(e.key(), Some("upload"), "{e}");
        assert!(
            e.to_string().contains("`upload` needs method = \"POST\""),
            "{e}"
        );
        assert!(e.line().is_some(), "{e}");
    }
}

#[test]
fn upload_cannot_be_given_where_it_would_escape_the_rule() {
    // Only a [[url]] carries a body: [defaults] and [[list]] refuse the key
    // by name instead of silently turning every URL into a POST.
    err_at(
        "name = \"x\"\n[defaults]\nupload = \"1MiB\"\n[[url]]\nurl = \"https://a.example/\"\n",
        3,
        "upload",
        &["unknown key `upload` in [defaults]"],
    );
    err_at(
        "name = \"x\"\n[[list]]\npath = \"l.csv\"\nupload = \"1MiB\"\n",
        4,
        "upload",
        &["unknown key `upload` in [[list]]"],
    );
    err_at(
        "name = \"x\"\n[[list]]\npath = \"l.csv\"\nmethod = \"POST\"\n",
        4,
        "method",
        &["unknown key `method` in [[list]]"],
    );
}

#[test]
fn names_are_case_insensitive_and_errors_list_valid_values() {
    let c = parse(
        "name = \"x\"\n[[url]]\nurl = \"https://a.example/\"\nclass = \"IMAGE\"\ngroup = \"Target\"\n",
    )
    .unwrap();
    assert_eq!(
        (c.targets[0].class, c.targets[0].group),
        (Some(Class::Image), Group::Target)
    );
    err_at(
        "name = \"x\"\n[[url]]\nurl = \"https://a.example/\"\nclass = \"picture\"\n",
        4,
        "class",
        &["valid: text, image, video, audio, other"],
    );
    err_at(
        "name = \"x\"\n[[url]]\nurl = \"https://a.example/\"\nmethod = \"PUT\"\n",
        4,
        "method",
        &["valid: GET, POST"],
    );
}

#[test]
fn example_campaign_loads_with_its_controls_and_upload() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/campaign.toml");
    let c = slowlane::config::load_campaign(&path).unwrap();
    let real = c.targets.iter().find(|t| t.label == "real SNI").unwrap();
    assert_eq!(real.controls, vec!["wikimedia photo"]);
    let up = c.targets.iter().find(|t| t.upload > 0).unwrap();
    assert_eq!((up.method, up.upload), (Method::Post, 600_000));
    assert_eq!(up.controls, vec!["upload, own SNI"]);
}
