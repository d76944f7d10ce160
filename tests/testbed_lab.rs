//! The lab as a whole: the generated campaign, the description, and both
//! HTTP versions through the middlebox.

mod support;

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use slowlane::testbed::{demo_campaign, write_demo_campaign, Scenario};
use support::client::*;
use support::lab::*;

#[tokio::test]
async fn demo_campaign_points_at_the_lab() {
    let s = Scenario::builtin("twitter-2021").unwrap();
    let (lab, dir) = lab(&s).await;
    assert!(lab.ca_path().exists());
    assert!(std::fs::read_to_string(lab.ca_path())
        .unwrap()
        .contains("BEGIN CERTIFICATE"));

    let out = dir.path().join("out");
    let text = demo_campaign(&s, &lab, &out, Some(2));
    let v: toml::Value = toml::from_str(&text).unwrap();
    assert_eq!(v["name"].as_str(), Some("demo-twitter-2021"));
    assert_eq!(v["rounds"].as_integer(), Some(2));
    assert_eq!(v["out"].as_str(), Some(out.to_str().unwrap()));
    let d = &v["defaults"];
    assert_eq!(d["max_time"].as_str(), Some("4s"));
    assert_eq!(
        d["cacert"][0].as_str(),
        Some(lab.ca_path().to_str().unwrap())
    );
    let port = lab.middlebox_addr().port();
    assert_eq!(
        d["connect_to"][0].as_str().unwrap(),
        format!(":443:127.0.0.1:{port}")
    );
    let urls = v["url"].as_array().unwrap();
    assert_eq!(urls.len(), s.campaign.urls.len());
    for key in ["url", "class", "group", "label"] {
        assert!(urls.iter().all(|u| u.get(key).is_some()), "{key}");
    }
    assert!(urls.iter().any(|u| u["group"].as_str() == Some("control")));

    let path = write_demo_campaign(&s, &lab, &out, None).unwrap();
    let v: toml::Value = toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(v["rounds"].as_integer(), Some(5));

    let desc = lab.describe();
    assert!(
        desc.contains(&port.to_string()) && desc.contains("--connect-to"),
        "{desc}"
    );
    assert!(desc.contains(lab.ca_path().to_str().unwrap()));
}

#[tokio::test]
async fn h2_and_plain_http_pass_through_the_middlebox() {
    let (lab, _dir) = lab(&Scenario::builtin("clean").unwrap()).await;
    // h2 by ALPN, through the middlebox, with a name from the scenario.
    let cfg = client_config(lab.pki().root_store(), &["h2", "http/1.1"], true);
    let name = rustls::pki_types::ServerName::try_from("video.twimg.com").unwrap();
    let tls = tokio_rustls::TlsConnector::from(cfg)
        .connect(name, tcp(lab.middlebox_addr()).await)
        .await
        .unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut send, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
            .await
            .unwrap();
    tokio::spawn(conn);
    let req = http::Request::get("https://video.twimg.com/video/1000000.mp4")
        .body(Empty::<Bytes>::new())
        .unwrap();
    let resp = send.send_request(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "video/mp4");
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body.len(), 1_000_000);

    // Plain HTTP/1.1 by Host, same middlebox port.
    let mut s = tcp(lab.middlebox_addr()).await;
    let t = request(
        &mut s,
        "example.org",
        "/api/12345",
        0,
        Duration::from_secs(5),
    )
    .await;
    assert_eq!((t.status, t.body), (Some(200), 12345));

    // Upload echo and unknown paths.
    let mut s = tcp(lab.origin_http_addr()).await;
    let t = request(&mut s, "example.org", "/nope", 0, Duration::from_secs(5)).await;
    assert_eq!(t.status, Some(404));
}
