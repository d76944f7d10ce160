//! Campaign keys for QUIC: `http = "tcp" | "h3" | "both"` and
//! `[[reflector]] transport = [...]`.

use slowlane::types::Transport;

fn load(body: &str) -> Result<slowlane::config::Campaign, String> {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("c.toml");
    std::fs::write(&p, format!("name = \"q\"\n{body}")).unwrap();
    slowlane::config::load_campaign(&p).map_err(|e| e.to_string())
}

#[test]
fn http_both_expands_into_one_spec_per_transport() {
    let c = load(
        "[defaults]\nhttp = \"h3\"\n\
         [[url]]\nurl = \"https://a.example/x\"\n\
         [[url]]\nurl = \"https://b.example/x\"\nhttp = \"both\"\n\
         [[url]]\nurl = \"https://c.example/x\"\nhttp = \"tcp\"\n",
    )
    .unwrap();
    let got: Vec<(String, Transport)> = c
        .targets
        .iter()
        .map(|s| (s.url.host().unwrap().to_string(), s.options.transport))
        .collect();
    assert_eq!(
        got,
        vec![
            ("a.example".into(), Transport::Quic),
            ("b.example".into(), Transport::Tcp),
            ("b.example".into(), Transport::Quic),
            ("c.example".into(), Transport::Tcp),
        ]
    );
    assert!(c.targets.iter().all(|s| !s.options.also_quic));
}

#[test]
fn a_bad_http_value_names_its_line() {
    let e = load("[[url]]\nurl = \"https://a.example/\"\nhttp = \"h2\"\n").unwrap_err();
    assert!(
        e.contains("c.toml:4:") && e.contains("tcp, h3, both"),
        "{e}"
    );
}

#[test]
fn reflector_transport_list_runs_the_ab_over_each() {
    let pin = format!("sha256:{}", "ab".repeat(32));
    let c = load(&format!(
        "[[reflector]]\nurl = \"https://192.0.2.1:443\"\npin = \"{pin}\"\n\
         names = [\"rr1.googlevideo.com\"]\ncontrols = [\"example.com\"]\n\
         upload = \"\"\nevasion = [\"split-hello\"]\ntransport = [\"tcp\", \"quic\"]\n"
    ))
    .unwrap();
    let n = |t: Transport| {
        c.targets
            .iter()
            .filter(|s| s.options.transport == t)
            .count()
    };
    // TCP: name and control, each plain and split-hello (a variant is also
    // fetched under the controls, issue 20.2); QUIC: name plain + control.
    assert_eq!((n(Transport::Tcp), n(Transport::Quic)), (4, 2));
    let e = load(&format!(
        "[[reflector]]\nurl = \"https://192.0.2.1:443\"\npin = \"{pin}\"\n\
         names = [\"a.example\"]\ncontrols = [\"b.example\"]\ntransport = [\"udp\"]\n"
    ))
    .unwrap_err();
    assert!(e.contains("transport") && e.contains("tcp, quic"), "{e}");
}

#[test]
fn http3_on_a_plain_http_url_is_refused_with_its_line() {
    let e = load("[[url]]\nurl = \"http://a.example/\"\nhttp = \"both\"\n").unwrap_err();
    assert!(
        e.contains("c.toml:3:") && e.contains("needs an https://"),
        "{e}"
    );
}
