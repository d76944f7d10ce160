//! `slowlane demo` end to end: the lab, the real `run` path, the CSV output.

use std::process::Command;

use slowlane::record::FetchRecord;

#[test]
fn demo_twitter_2021_writes_throttled_media_and_free_controls() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    let o = Command::new(env!("CARGO_BIN_EXE_slowlane"))
        .args(["demo", "--rounds", "2", "--quiet", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("image"), "{stdout}");
    assert!(out.join("testbed-ca.pem").exists());
    let rows: Vec<FetchRecord> = csv::Reader::from_path(out.join("fetches.csv"))
        .unwrap()
        .deserialize()
        .map(|r| r.unwrap())
        .collect();
    let n_urls = slowlane::testbed::Scenario::builtin("twitter-2021")
        .unwrap()
        .campaign
        .urls
        .len();
    assert_eq!(rows.len(), 2 * n_urls);
    for r in &rows {
        assert_eq!(r.error, None, "{} {:?}", r.url, r.error);
        let media = r.url.contains("twimg.com");
        if r.method == "POST" {
            // Uploads are judged by the bytes the peer acknowledged.
            let up = r.upload_bps.expect("an upload has an upload rate") as f64;
            if media {
                assert!((up / 131072.0 - 1.0).abs() < 0.10, "{} {up}", r.url);
            } else {
                assert_eq!(r.status, Some(200), "{}", r.url);
                assert!(up > 20.0 * 131072.0, "{} {up}", r.url);
            }
        } else if media {
            let steady = r.steady_bps.expect("policed media has a plateau") as f64;
            assert!((steady / 131072.0 - 1.0).abs() < 0.05, "{} {steady}", r.url);
        } else if r.body_bytes >= 600_000 {
            // Controls of the same size are at least 20x faster.
            assert!(r.goodput_bps.unwrap() as f64 > 20.0 * 131072.0, "{}", r.url);
        }
    }
}
