//! Issue 23, item 2: the probe can use its own reflector's token, and
//! campaigns can send their own headers (a realistic User-Agent) — and no
//! header value or token is ever written to a file or a message.
//! Loopback only: a `slowlane serve` reflector in-process and a one-shot
//! plain-HTTP server that records the request head it got.

mod support;

use std::path::Path;
use std::time::Duration;

use slowlane::serve::{Limits, Reflector, ServeConfig};
use support::bin::{in_background, slowlane, text, Background};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const TOKEN: &str = "tok-S3CRET-0123";
const UA: &str = "UA-S3CRET-4567";
const HDR: &str = "HDR-S3CRET-89ab";

fn reflector(state: &Path) -> Background<Reflector> {
    let state = state.to_path_buf();
    in_background(async move {
        Reflector::start(ServeConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            state,
            cert_key: None,
            token: Some(TOKEN.into()),
            limits: Limits::default(),
            log: None,
        })
        .await
        .unwrap()
    })
}

/// A plain-HTTP server on loopback answering up to `n` requests with a
/// 2-byte body; the request heads it read come back through the channel.
fn head_catcher(n: usize) -> (std::net::SocketAddr, std::sync::mpsc::Receiver<String>) {
    let (tx, rx) = std::sync::mpsc::channel();
    let std_l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = std_l.local_addr().unwrap();
    std_l.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let l = TcpListener::from_std(std_l).unwrap();
            for _ in 0..n {
                let Ok(Ok((mut s, _))) =
                    tokio::time::timeout(Duration::from_secs(30), l.accept()).await
                else {
                    return;
                };
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 65536 {
                    match tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await {
                        Ok(Ok(k)) if k > 0 => head.extend_from_slice(&buf[..k]),
                        _ => break,
                    }
                }
                let _ = s
                    .write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                    )
                    .await;
                let _ = tx.send(String::from_utf8_lossy(&head).into_owned());
            }
        });
    });
    (addr, rx)
}

/// Every file under `dir`, as text.
fn all_text(dir: &Path) -> String {
    let mut s = String::new();
    for e in walk(dir) {
        s += &String::from_utf8_lossy(&std::fs::read(&e).unwrap());
    }
    s
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn assert_no_secret(what: &str, s: &str) {
    for secret in [TOKEN, UA, HDR] {
        assert!(!s.contains(secret), "{what} contains {secret}:\n{s}");
    }
}

#[test]
fn fetch_sends_token_and_headers_and_never_prints_them() {
    let dir = tempfile::tempdir().unwrap();
    let r = reflector(&dir.path().join("state"));
    let url = format!("https://127.0.0.1:{}/bytes/1000", r.local_addr().port());
    let pin = r.pin().to_string();
    let fetch = |extra: &[&str]| {
        let o = slowlane()
            .args(["fetch", &url, "--pin", &pin, "--format", "json"])
            .args(extra)
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}{}", text(&o.stdout), text(&o.stderr)));
        assert_no_secret("fetch output", &(text(&o.stdout) + &text(&o.stderr)));
        v
    };
    // Without the token the reflector refuses: what issue 23 found.
    assert_eq!(fetch(&[])["status"], 401);
    let ok = fetch(&["--token", TOKEN, "-4"]);
    assert_eq!(ok["status"], 200, "{ok}");
    assert_eq!(ok["body_bytes"], 1000, "{ok}");
    assert_eq!(ok["ip_family"], "ipv4", "{ok}");
    // Text output too.
    let o = slowlane()
        .args(["fetch", &url, "--pin", &pin, "--token", TOKEN])
        .args(["-H", &format!("X-Extra: {HDR}")])
        .output()
        .unwrap();
    assert_no_secret("fetch text", &(text(&o.stdout) + &text(&o.stderr)));
    // The reflector's own request log holds neither.
    assert_no_secret("reflector state", &all_text(&dir.path().join("state")));

    // The headers reach the wire, a User-Agent replacing slowlane's own.
    let (addr, heads) = head_catcher(1);
    let o = slowlane()
        .args(["fetch", &format!("http://{addr}/x"), "--format", "csv"])
        .args(["-H", &format!("User-Agent: {UA}"), "--header"])
        .arg(format!("X-Extra:{HDR}"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_no_secret("fetch csv", &(text(&o.stdout) + &text(&o.stderr)));
    let head = heads.recv_timeout(Duration::from_secs(30)).unwrap();
    let lower = head.to_ascii_lowercase();
    assert!(
        lower.contains(&format!("user-agent: {}", UA.to_ascii_lowercase())),
        "{head}"
    );
    assert_eq!(lower.matches("user-agent:").count(), 1, "{head}");
    assert!(
        lower.contains(&format!("x-extra: {}", HDR.to_ascii_lowercase())),
        "{head}"
    );
    assert!(lower.contains("accept-encoding: identity"), "{head}");

    // Headers slowlane owns are refused, naming the header, not the value.
    let o = slowlane()
        .args(["fetch", &url, "-H", &format!("Accept-Encoding: {HDR}")])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("accept-encoding"),
        "{}",
        text(&o.stderr)
    );
    assert_no_secret("usage error", &text(&o.stderr));
}

#[test]
fn campaign_token_and_headers_reach_the_servers_and_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let r = reflector(&dir.path().join("state"));
    let (addr, heads) = head_catcher(1);
    let campaign = dir.path().join("c.toml");
    let out = dir.path().join("out");
    std::fs::write(
        &campaign,
        format!(
            r#"
name = "headers"
rounds = 1
concurrency = 2
out = "out"
[defaults]
max_time = "10s"
headers = {{ "X-Extra" = "{HDR}" }}

[[url]]
url = "http://{addr}/page"
class = "text"
headers = {{ "User-Agent" = "{UA}" }}
ip_family = "ipv4"

[[reflector]]
url = "https://127.0.0.1:{port}"
pin = "{pin}"
token = "{TOKEN}"
names = ["pbs.twimg.com"]
controls = ["example.com"]
download = "20KiB"
upload = "20KiB"
"#,
            port = r.local_addr().port(),
            pin = r.pin(),
        ),
    )
    .unwrap();
    let o = slowlane()
        .arg("run")
        .arg(&campaign)
        .arg("--quiet")
        .output()
        .unwrap();
    let said = text(&o.stdout) + &text(&o.stderr);
    assert_no_secret("run output", &said);
    assert_eq!(o.status.code(), Some(0), "{said}");

    // Every reflector fetch was let in (token sent), the URL got its UA.
    let mut rd = csv::Reader::from_path(out.join("fetches.csv")).unwrap();
    let h = rd.headers().unwrap().clone();
    let col = |n: &str| h.iter().position(|c| c == n).unwrap();
    let (url, status, fam) = (col("url"), col("status"), col("ip_family"));
    let rows: Vec<csv::StringRecord> = rd.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 5, "2 names × 2 directions + 1 URL");
    for row in &rows {
        assert_eq!(&row[status], "200", "{row:?}");
        assert_eq!(&row[fam], "ipv4", "{row:?}");
    }
    assert!(rows.iter().any(|r| r[url].starts_with("http://")));
    let head = heads.recv_timeout(Duration::from_secs(30)).unwrap();
    let lower = head.to_ascii_lowercase();
    assert!(lower.contains(&UA.to_ascii_lowercase()), "{head}");
    // A [[url]]'s `headers` replaces [defaults]' table whole.
    assert!(!lower.contains("x-extra"), "{head}");

    // No value in any file the run wrote; campaign.json names the headers.
    let files = all_text(&out);
    assert_no_secret("output files", &files);
    let meta = std::fs::read_to_string(out.join("campaign.json")).unwrap();
    assert!(
        meta.contains("authorization") && meta.contains("user-agent"),
        "{meta}"
    );
    assert_no_secret("reflector state", &all_text(&dir.path().join("state")));
}
