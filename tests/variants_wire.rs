//! The A/B variants on the wire (`docs/reflector.md`): what the first
//! client bytes look like for each, and that each completes a fetch against
//! `slowlane serve` with the name arriving as sent. Loopback only.

mod support;

use std::time::Duration;

use slowlane::probe::hello_edit::{CCS, JUNK_LEN, JUNK_MAGIC};
use slowlane::probe::pq::GROUP as PQ_GROUP;
use slowlane::testbed::{parse_client_hello, HelloError};
use slowlane::types::{FetchOptions, Wire};
use support::engine::{fetch_one, spec};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

fn options(wire: Wire, pin: slowlane::types::Pin) -> FetchOptions {
    FetchOptions {
        wire,
        tls_timeout: Duration::from_secs(3),
        max_time: Duration::from_secs(5),
        pin: Some(pin),
        ..FetchOptions::default()
    }
}

/// The first read (after `settle`) and all bytes up to a whole hello, as a
/// bare TCP server sees them; `oob_inline` keeps urgent bytes in the stream.
async fn first_bytes(wire: Wire, oob_inline: bool) -> (Vec<u8>, Vec<u8>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.unwrap();
        if oob_inline {
            socket2::SockRef::from(&tcp)
                .set_out_of_band_inline(true)
                .unwrap();
        }
        // Let a one-write hello arrive whole; a split one leaves its second
        // part 100 ms later.
        tokio::time::sleep(Duration::from_millis(40)).await;
        let mut first = vec![0u8; 8192];
        let n = tcp.read(&mut first).await.unwrap();
        first.truncate(n);
        let mut all = first.clone();
        for _ in 0..20 {
            let skip = slowlane::probe::hello_edit::preamble_len(&all).unwrap_or(0);
            let at = all.iter().position(|&b| b == 22).unwrap_or(skip).max(skip);
            if parse_client_hello(&all[at..], true).is_ok() {
                break;
            }
            let mut buf = vec![0u8; 8192];
            let n = tokio::time::timeout(Duration::from_secs(3), tcp.read(&mut buf))
                .await
                .unwrap()
                .unwrap();
            assert!(n > 0, "closed before the whole hello");
            all.extend_from_slice(&buf[..n]);
        }
        (first, all)
    });
    let pin = format!("sha256:{}", "00".repeat(32)).parse().unwrap();
    let mut s = spec(&format!("https://{addr}/bytes/10"), 0, options(wire, pin));
    s.sni = Some("pbs.twimg.com".into());
    let client = tokio::spawn(fetch_one(s));
    let got = server.await.unwrap();
    client.abort();
    got
}

fn name_at(b: &[u8]) -> usize {
    let name = b"pbs.twimg.com";
    b.windows(name.len()).position(|w| w == name).unwrap()
}

#[tokio::test]
async fn each_variant_sends_what_the_docs_say() {
    // split:2 and split:sni: the first segment ends at byte 2 / at the name.
    let (first, all) = first_bytes(Wire::SplitAt(2), false).await;
    assert_eq!(first.len(), 2, "{first:?}");
    assert_eq!(
        parse_client_hello(&all, false).unwrap().sni.as_deref(),
        Some("pbs.twimg.com")
    );
    let (first, all) = first_bytes(Wire::SplitSni, false).await;
    assert_eq!(first.len(), name_at(&all));
    // disorder cuts in the name like split-hello (on loopback the low-TTL
    // part arrives: nothing decrements it).
    let (first, all) = first_bytes(Wire::Disorder, false).await;
    let at = name_at(&all);
    assert!(
        first.len() > at && first.len() < at + 13,
        "{} vs {at}",
        first.len()
    );
    // tls-records: two records in one segment, the cut inside the name.
    let (first, _) = first_bytes(Wire::TlsRecords, false).await;
    assert_eq!(
        parse_client_hello(&first, false),
        Err(HelloError::Incomplete)
    );
    let h = parse_client_hello(&first, true).unwrap();
    assert_eq!((h.sni.as_deref(), h.records), (Some("pbs.twimg.com"), 2));
    // ccs-first: a ChangeCipherSpec record, then the hello.
    let (first, _) = first_bytes(Wire::CcsFirst, false).await;
    assert!(first.starts_with(&CCS));
    assert!(parse_client_hello(&first[CCS.len()..], false).is_ok());
    // junk-first: 128 bytes of junk alone in the first segment.
    let (first, all) = first_bytes(Wire::JunkFirst, false).await;
    assert_eq!(first.len(), JUNK_LEN);
    assert!(first.starts_with(JUNK_MAGIC) && first.len() >= 101);
    assert!(parse_client_hello(&all[JUNK_LEN..], false).is_ok());
    // pad: the hello past one 1,500-byte packet; pq: past one segment of
    // MSS 1460 (rustls's hello with a real X25519MLKEM768 share of 1,216
    // bytes, 0x04C0, and the X25519 one of 32, 0x0020).
    let (first, _) = first_bytes(Wire::Pad, false).await;
    assert!(first.len() > 1500, "{}", first.len());
    let (first, _) = first_bytes(Wire::Pq, false).await;
    assert!(first.len() > 1460, "{}", first.len());
    let group = PQ_GROUP.to_be_bytes();
    assert!(first
        .windows(4)
        .any(|w| w == [group[0], group[1], 0x04, 0xC0]));
    assert!(first.windows(4).any(|w| w == [0x00, 0x1D, 0x00, 0x20]));
    // oob: the urgent byte is out of the stream unless the receiver keeps
    // it inline.
    let (first, _) = first_bytes(Wire::Oob, false).await;
    assert_eq!(first[0], 22, "{:?}", &first[..4]);
    let (first, _) = first_bytes(Wire::Oob, true).await;
    assert_eq!(
        first[0],
        slowlane::probe::split::OOB_BYTE,
        "{:?}",
        &first[..4]
    );
}

#[tokio::test]
async fn every_variant_completes_against_the_reflector() {
    let dir = tempfile::tempdir().unwrap();
    let refl = support::lab::reflector(dir.path()).await;
    for v in [
        "plain",
        "split-hello",
        "split:1",
        "split:2",
        "split:sni",
        "tls-records",
        "disorder",
        "oob",
        "trailing-dot",
        "upper-case",
        "no-sni",
        "pad",
        "ccs-first",
        "junk-first",
        "pq",
    ] {
        let wire: Wire = v.parse().unwrap();
        let (sni, host) = wire.names("pbs.twimg.com");
        let mut s = spec(
            &format!("https://{}/bytes/5000", refl.local_addr()),
            0,
            options(wire, refl.pin()),
        );
        s.sni = Some(sni.clone());
        s.host = Some(host);
        s.variant = v.into();
        let rec = fetch_one(s).await;
        assert_eq!(rec.error, None, "{v}: {rec:?}");
        assert_eq!(rec.body_bytes, 5000, "{v}");
        assert_eq!(rec.variant, v);
        let want = (!sni.is_empty()).then_some(sni);
        assert_eq!(rec.server_sni, want, "{v}");
        let segs = rec.hello_segments.unwrap();
        let two = wire.is_split() || wire == Wire::Oob;
        assert_eq!(segs >= 2, two, "{v}: {segs} segments");
        // pq: a real hybrid share the reflector's TLS stack takes.
        let kx = if wire == Wire::Pq {
            "X25519MLKEM768"
        } else {
            "X25519"
        };
        assert_eq!(rec.kx_group.as_deref(), Some(kx), "{v}");
        let big = matches!(wire, Wire::Pad | Wire::Pq);
        // The record (5 + message) does not fit one 1460-byte segment.
        assert_eq!(
            rec.hello_bytes.unwrap() + 5 > 1460,
            big,
            "{v}: {:?}",
            rec.hello_bytes
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_variant_records_the_variant_and_the_name_as_sent() {
    let dir = tempfile::tempdir().unwrap();
    let refl = support::lab::reflector(dir.path()).await;
    let (addr, pin) = (refl.local_addr(), refl.pin().to_string());
    let run = |variant: &'static str| {
        let pin = pin.clone();
        tokio::task::spawn_blocking(move || {
            support::bin::slowlane()
                .args([
                    "fetch",
                    "--format",
                    "csv",
                    "--max-time",
                    "5s",
                    "--pin",
                    &pin,
                ])
                .args(["--sni", "pbs.twimg.com", "--variant", variant])
                .arg(format!("https://{addr}/bytes/2000"))
                .output()
                .unwrap()
        })
    };
    let out = run("upper-case").await.unwrap();
    assert!(out.status.success(), "{out:?}");
    let mut r = csv::Reader::from_reader(&out.stdout[..]);
    let h = r.headers().unwrap().clone();
    let rec = r.records().next().unwrap().unwrap();
    let col = |n: &str| &rec[h.iter().position(|x| x == n).unwrap()];
    assert_eq!(col("variant"), "upper-case");
    assert_eq!(col("server_sni"), "PBS.TWIMG.COM");
    assert_eq!(col("body_bytes"), "2000");
    let bad = run("split:0").await.unwrap();
    assert_eq!(bad.status.code(), Some(2), "{bad:?}");
    assert!(support::bin::text(&bad.stderr).contains("split:N takes N from 1 to 1024"));
}
