//! `slowlane serve` on the open internet: limits refuse with a clear status,
//! slow clients are dropped, memory stays flat over many requests, SIGTERM
//! stops it gracefully. Loopback only; every loop is bounded.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use slowlane::probe::tls::client_config;
use slowlane::serve::{Limits, Reflector, ServeConfig};
use slowlane::types::FetchOptions;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn reflector(dir: &std::path::Path, limits: Limits, token: Option<&str>) -> Reflector {
    Reflector::start(ServeConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        state: dir.to_path_buf(),
        cert_key: None,
        token: token.map(str::to_string),
        limits,
        log: None,
    })
    .await
    .unwrap()
}

/// A TLS connection to the reflector, verified by its pin.
async fn tls(r: &Reflector) -> tokio_rustls::client::TlsStream<TcpStream> {
    let opts = FetchOptions {
        pin: Some(r.pin()),
        alpn: vec!["http/1.1".into()],
        ..FetchOptions::default()
    };
    let cfg = client_config(&opts, true).unwrap();
    let tcp = TcpStream::connect(r.local_addr()).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("reflector.test").unwrap();
    tokio_rustls::TlsConnector::from(cfg)
        .connect(name, tcp)
        .await
        .unwrap()
}

/// An HTTP/1.1 keep-alive connection.
async fn h1(r: &Reflector) -> SendRequest<Full<Bytes>> {
    let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls(r).await))
        .await
        .unwrap();
    tokio::spawn(conn);
    send
}

/// Status, headers and body text of one request.
async fn call(
    s: &mut SendRequest<Full<Bytes>>,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> (u16, http::HeaderMap, String) {
    let mut b = http::Request::builder()
        .method(method)
        .uri(path)
        .header("host", "pbs.twimg.com");
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let resp = s
        .send_request(b.body(Full::new(body.into())).unwrap())
        .await
        .unwrap();
    let (parts, body) = resp.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    (
        parts.status.as_u16(),
        parts.headers,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

#[tokio::test]
async fn over_limit_requests_are_refused_with_a_clear_status() {
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits {
        max_bytes: 1 << 20,
        per_minute: 5,
        ..Limits::default()
    };
    let r = reflector(dir.path(), limits, Some("s3cret")).await;
    let auth = [("authorization", "Bearer s3cret")];
    let mut s = h1(&r).await;
    let (st, _, text) = call(&mut s, "GET", "/bytes/1000", &[], vec![]).await;
    assert_eq!(st, 401, "{text}");
    let (st, _, text) = call(&mut s, "GET", "/bytes/2000000", &auth, vec![]).await;
    assert_eq!(st, 413);
    assert!(
        text.contains("over this reflector's limit of 1048576 bytes"),
        "{text}"
    );
    let (st, _, text) = call(&mut s, "POST", "/upload", &auth, vec![7; 1_100_000]).await;
    assert_eq!(st, 413);
    assert!(text.contains("limit of 1048576 bytes"), "{text}");
    // The refused body was not read, so that connection is closed.
    let mut s = h1(&r).await;
    let (st, h, _) = call(&mut s, "GET", "/bytes/1000", &auth, vec![]).await;
    assert_eq!((st, h["content-length"].to_str().unwrap()), (200, "1000"));
    assert_eq!(h["x-slowlane-sni"], "reflector.test");
    let (st, _, text) = call(&mut s, "GET", "/../../etc/passwd", &auth, vec![]).await;
    assert_eq!(st, 404, "{text}");
    // Five requests per minute were allowed; the sixth is refused.
    let (st, h, text) = call(&mut s, "GET", "/echo", &auth, vec![]).await;
    assert_eq!(st, 429, "{text}");
    assert!(text.contains("more than 5 requests per minute"), "{text}");
    assert!(h["retry-after"].to_str().unwrap().parse::<u64>().unwrap() >= 1);
    drop(s);
    r.shutdown().await;
    let log = std::fs::read_to_string(dir.path().join("requests.csv")).unwrap();
    assert_eq!(log.lines().count(), 7, "{log}");
    assert!(log.lines().nth(2).unwrap().contains(",413,"), "{log}");
}

#[tokio::test]
async fn slowloris_clients_are_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits {
        header_timeout: Duration::from_millis(800),
        ..Limits::default()
    };
    let r = reflector(dir.path(), limits, None).await;
    // A TLS record header, then nothing: dropped when the hello deadline passes.
    let mut raw = TcpStream::connect(r.local_addr()).await.unwrap();
    raw.write_all(&[22, 3, 1]).await.unwrap();
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(5), raw.read(&mut buf))
        .await
        .expect("dropped within the deadline");
    assert!(matches!(n, Ok(0) | Err(_)), "{n:?}");
    // TLS done, then a request head one byte every 200 ms: dropped too.
    let mut t = tls(&r).await;
    let head =
        b"GET /echo HTTP/1.1\r\nHost: pbs.twimg.com\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    let trickle = async {
        for b in head {
            if t.write_all(&[*b]).await.is_err() || t.flush().await.is_err() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        false
    };
    // The server either resets the writes or closes: bounded at 6 s,
    // while the whole head would take 15 s.
    let cut = tokio::time::timeout(Duration::from_secs(6), trickle).await;
    let dropped = match cut {
        Ok(write_failed) => write_failed,
        Err(_) => {
            let mut rest = Vec::new();
            let read = tokio::time::timeout(Duration::from_secs(2), t.read_to_end(&mut rest)).await;
            matches!(read, Ok(Ok(_)) | Ok(Err(_)))
        }
    };
    assert!(dropped, "a trickling request head was not dropped");
    r.shutdown().await;
    let log = std::fs::read_to_string(dir.path().join("requests.csv")).unwrap();
    assert!(
        log.contains("dropped: no complete TLS hello in time"),
        "{log}"
    );
}

/// Resident memory of this process (bytes), from /proc/self/statm.
fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_requests_leave_memory_flat() {
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits {
        per_minute: 0,
        max_conns: 16,
        ..Limits::default()
    };
    let r = Arc::new(reflector(dir.path(), limits, None).await);
    async fn batch(r: &Arc<Reflector>, conns: usize, per_conn: usize) {
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..conns {
            let r = r.clone();
            set.spawn(async move {
                let mut s = h1(&r).await;
                for i in 0..per_conn {
                    let path = format!("/bytes/{}?type=image", 1000 + i % 7);
                    let (st, _, _) = call(&mut s, "GET", &path, &[], vec![]).await;
                    assert_eq!(st, 200);
                }
            });
        }
        while let Some(j) = set.join_next().await {
            j.unwrap();
        }
    }
    batch(&r, 10, 100).await; // warm-up: allocator pools, the random block
    let before = rss();
    batch(&r, 10, 1000).await;
    let grown = rss().saturating_sub(before);
    // A leak of ~2 KB per request would show as 20 MB; the bound is generous.
    assert!(
        grown < 16 << 20,
        "RSS grew {grown} bytes over 10,000 requests"
    );
    let log = std::fs::read_to_string(dir.path().join("requests.csv")).unwrap();
    assert_eq!(log.lines().count(), 1 + 11_000);
}

#[tokio::test]
async fn shutdown_lets_a_request_in_flight_finish() {
    let dir = tempfile::tempdir().unwrap();
    let r = reflector(dir.path(), Limits::default(), None).await;
    let addr: SocketAddr = r.local_addr();
    let mut s = h1(&r).await;
    let req = http::Request::get("/bytes/30000000")
        .header("host", "x")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let resp = s.send_request(req).await.unwrap();
    let mut body = resp.into_body();
    let mut got = body
        .frame()
        .await
        .unwrap()
        .unwrap()
        .into_data()
        .unwrap()
        .len();
    let stop = tokio::spawn(r.shutdown());
    while let Some(f) = body.frame().await {
        got += f.unwrap().into_data().map_or(0, |d| d.len());
    }
    assert_eq!(got, 30_000_000);
    tokio::time::timeout(Duration::from_secs(15), stop)
        .await
        .unwrap()
        .unwrap();
    assert!(TcpStream::connect(addr).await.is_err(), "still accepting");
}

#[test]
fn sigterm_stops_the_binary_with_exit_0() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_slowlane"))
        .args(["serve", "--listen", "127.0.0.1:0", "--state"])
        .arg(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    for _ in 0..10 {
        let mut l = String::new();
        if out.read_line(&mut l).unwrap() == 0 {
            break;
        }
        let last = l.contains("to stop)");
        lines.push(l);
        if last {
            break;
        }
    }
    let text = lines.concat();
    assert!(text.contains("pin         sha256:"), "{text}");
    assert!(text.contains("(generated now, self-signed)"), "{text}");
    // SAFETY: signalling our own child by its pid.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(err.contains("stopping"), "{err}");
}
