//! `--split-hello` on the wire: the ClientHello arrives in two parts, cut
//! inside the server name, the second part after the pause. Loopback only.

mod support;

use std::time::{Duration, Instant};

use slowlane::testbed::{parse_client_hello, HelloError};
use slowlane::types::FetchOptions;
use support::engine::{fetch_one, spec};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

#[tokio::test]
async fn the_hello_leaves_in_two_parts_cut_inside_the_name() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.unwrap();
        let mut first = vec![0u8; 4096];
        let n = tcp.read(&mut first).await.unwrap();
        first.truncate(n);
        let t_first = Instant::now();
        let mut all = first.clone();
        let deadline = Instant::now() + Duration::from_secs(5);
        while parse_client_hello(&all, true).is_err() && Instant::now() < deadline {
            let mut buf = vec![0u8; 4096];
            let n = tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut buf))
                .await
                .unwrap()
                .unwrap();
            assert!(n > 0, "closed before the whole hello");
            all.extend_from_slice(&buf[..n]);
        }
        (first, all, t_first.elapsed())
    });
    let options = FetchOptions {
        split_hello: true,
        tls_timeout: Duration::from_secs(3),
        max_time: Duration::from_secs(4),
        // Any pin: the handshake is never finished by this server.
        pin: Some(format!("sha256:{}", "00".repeat(32)).parse().unwrap()),
        ..FetchOptions::default()
    };
    let mut spec = spec(&format!("https://{addr}/bytes/10"), 0, options);
    spec.sni = Some("pbs.twimg.com".into());
    let client = tokio::spawn(fetch_one(spec));
    let (first, all, gap) = server.await.unwrap();
    client.abort();
    // The first part alone is not a hello: a box reading one segment sees no name.
    assert_eq!(
        parse_client_hello(&first, false),
        Err(HelloError::Incomplete)
    );
    let name = b"pbs.twimg.com";
    let at = all.windows(name.len()).position(|w| w == name).unwrap();
    assert!(
        first.len() > at && first.len() < at + name.len(),
        "cut at {} outside the name at {at}..{}",
        first.len(),
        at + name.len()
    );
    let hello = parse_client_hello(&all, true).unwrap();
    assert_eq!(hello.sni.as_deref(), Some("pbs.twimg.com"));
    assert!(
        gap >= Duration::from_millis(10),
        "second part after {gap:?}"
    );
}
