//! `slowlane fetch` exit codes (curl's numbers per failure family) and
//! `--timeline=FILE`, through the binary, against loopback servers only.

mod support;

use std::process::Output;

use support::bin::slowlane;
use support::server::{Mode, TestServer};

const NAMES: &[&str] = &["localhost"];

/// Run the binary off the async runtime (the test server lives on it).
async fn fetch(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || slowlane().arg("fetch").args(&args).output().unwrap())
        .await
        .unwrap()
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exited, not killed")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// `--resolve localhost:PORT:127.0.0.1` and the URL for `path` on `srv`.
fn to_server(srv: &TestServer, path: &str) -> Vec<String> {
    let port = srv.addr.port();
    args(&[
        &format!("https://localhost:{port}{path}"),
        "--resolve",
        &format!("localhost:{port}:127.0.0.1"),
        "--format",
        "csv",
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_connection_exits_7_and_fail_ok_exits_0() {
    // A port that was just free: nothing listens on it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("https://127.0.0.1:{port}/");
    let o = fetch(args(&[&url, "--format", "csv"])).await;
    assert_eq!(code(&o), 7, "{}", stdout(&o));
    assert!(
        stdout(&o).contains(",connection_refused,tcp,"),
        "{}",
        stdout(&o)
    );
    let ok = fetch(args(&[&url, "--format", "csv", "--fail-ok"])).await;
    assert_eq!(code(&ok), 0);
    assert!(
        stdout(&ok).contains(",connection_refused,tcp,"),
        "{}",
        stdout(&ok)
    );
}

/// A name with a 64-byte label: glibc's resolver rejects it before sending
/// any query (checked with strace: no socket but netlink and nscd's), so
/// this is a DNS failure without network traffic. `--sni` keeps the TLS
/// name valid so the fetch gets as far as DNS. (`nonexistent.invalid`
/// would send a query to the configured nameserver.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_failure_exits_6() {
    let url = format!("https://{}.example/", "a".repeat(64));
    let o = fetch(args(&[&url, "--sni", "localhost", "--format", "csv"])).await;
    assert_eq!(code(&o), 6, "{}", stdout(&o));
    assert!(stdout(&o).contains(",dns,"), "{}", stdout(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untrusted_certificate_exits_60() {
    let srv = TestServer::start(Mode::Normal, NAMES, &["h2"]).await;
    let o = fetch(to_server(&srv, "/bytes/1000")).await; // no --cacert
    assert_eq!(code(&o), 60, "{}", stdout(&o));
    assert!(
        stdout(&o).contains(",ssl_unknown_authority,tls,"),
        "{}",
        stdout(&o)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_server_exits_28() {
    // The kernel accepts the connection into the backlog; nobody ever answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("https://127.0.0.1:{}/", silent.local_addr().unwrap().port());
    let o = fetch(args(&[&url, "--tls-timeout", "300ms", "--format", "csv"])).await;
    assert_eq!(code(&o), 28, "{}", stdout(&o));
    assert!(
        stdout(&o).contains(",generic_timeout_error,tls,"),
        "{}",
        stdout(&o)
    );
    drop(silent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn success_capped_and_http_errors() {
    let srv = TestServer::start(Mode::Normal, NAMES, &["h2"]).await;
    let ca = srv.ca_pem.to_str().unwrap().to_string();
    let with_ca = |path: &str, extra: &[&str]| {
        let mut a = to_server(&srv, path);
        a.extend(args(&["--cacert", &ca]));
        a.extend(args(extra));
        a
    };
    let o = fetch(with_ca("/bytes/100000", &[])).await;
    assert_eq!(code(&o), 0, "{}", stdout(&o));
    // Capped by bytes is data, not a failure.
    let o = fetch(with_ca("/bytes/1000000", &["--max-bytes", "10000"])).await;
    assert_eq!(code(&o), 0, "{}", stdout(&o));
    assert!(stdout(&o).contains(",bytes,"), "{}", stdout(&o));
    // A 404 is a response: exit 0, unless --fail asks for curl's 22.
    let o = fetch(with_ca("/missing", &[])).await;
    assert_eq!(code(&o), 0, "{}", stdout(&o));
    assert!(stdout(&o).contains(",404,"), "{}", stdout(&o));
    let o = fetch(with_ca("/missing", &["--fail"])).await;
    assert_eq!(code(&o), 22, "{}", stdout(&o));
    let o = fetch(with_ca("/missing", &["--fail", "--fail-ok"])).await;
    assert_eq!(code(&o), 2, "--fail and --fail-ok conflict");
}

/// `--timeline=FILE`: one table per stream (the row on stdout, the timeline
/// in FILE); bare `--timeline` keeps both on stdout, separated by a blank line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeline_goes_to_its_own_file() {
    let srv = TestServer::start(Mode::Normal, NAMES, &["h2"]).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tl.csv");
    let mut a = to_server(&srv, "/bytes/300000?rate=1000000");
    a.extend(args(&["--cacert", srv.ca_pem.to_str().unwrap()]));
    let mut to_file = a.clone();
    to_file.push(format!("--timeline={}", file.display()));
    let o = fetch(to_file).await;
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        stdout(&o).lines().count(),
        2,
        "header and one row: {}",
        stdout(&o)
    );
    let mut tl = csv::Reader::from_path(&file).unwrap();
    assert!(tl.headers().unwrap().iter().any(|h| h == "fetch_id"));
    assert!(tl.records().count() >= 2, "a 0.3 s transfer spans windows");

    a.push("--timeline".into());
    let o = fetch(a).await;
    assert_eq!(code(&o), 0);
    let out = stdout(&o);
    let (row, timeline) = out.split_once("\n\n").expect("blank line between tables");
    assert_eq!(row.lines().count(), 2);
    assert!(timeline.lines().count() >= 3, "{timeline}");
}
