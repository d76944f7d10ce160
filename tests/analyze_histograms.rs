//! record::histograms: the interval log reads back, summary.csv is right.

mod support;

use std::time::{Duration, UNIX_EPOCH};

use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::Histogram;
use slowlane::record::histograms::Histograms;
use support::analyze::*;

fn exact_percentile(v: &mut [u64], q: f64) -> u64 {
    v.sort_unstable();
    // HdrHistogram: the smallest value with at least q of the count at or below it.
    let rank = ((q * v.len() as f64).ceil() as usize).max(1);
    v[rank - 1]
}

#[test]
fn hlog_and_summary() {
    let dir = tempfile::tempdir().unwrap();
    let recs = campaign(5, "msk", 3, &twitter_urls());
    let per_round = twitter_urls().len();
    let mut h = Histograms::new();
    let t0 = UNIX_EPOCH + Duration::from_secs(1_615_000_000);
    for (round, chunk) in recs.chunks(per_round).enumerate() {
        for r in chunk {
            h.record(r);
        }
        let start = t0 + Duration::from_secs(60 * round as u64);
        h.write_round(
            dir.path(),
            round as u32 + 1,
            start,
            start + Duration::from_secs(30),
        )
        .unwrap();
    }
    // A later run appending to the same directory keeps one header.
    let mut h2 = Histograms::new();
    h2.record(&recs[0]);
    let later = t0 + Duration::from_secs(600);
    h2.write_round(dir.path(), 1, later, later + Duration::from_secs(1))
        .unwrap();

    let log = std::fs::read(dir.path().join("histograms.hlog")).unwrap();
    let text = String::from_utf8_lossy(&log);
    assert_eq!(text.matches("#[BaseTime:").count(), 1, "{text}");
    let mut de = Deserializer::new();
    let mut intervals = 0;
    let mut tls_image_target_total = 0u64;
    let mut starts = Vec::new();
    let mut base = None;
    for e in IntervalLogIterator::new(&log) {
        match e.expect("log parses") {
            LogEntry::BaseTime(b) => base = Some(b),
            LogEntry::StartTime(_) => {}
            LogEntry::Interval(i) => {
                intervals += 1;
                let tag = i.tag().expect("tagged").as_str().to_string();
                assert_eq!(tag.split('.').count(), 5, "{tag}");
                let bytes = base64_decode(i.encoded_histogram());
                let hist: Histogram<u64> = de.deserialize(&mut bytes.as_slice()).unwrap();
                if tag == "image.target.down.tcp.tls_us" {
                    tls_image_target_total += hist.len();
                    starts.push(i.start_timestamp().as_secs());
                }
            }
        }
    }
    assert_eq!(base, Some(Duration::from_secs(1_615_000_000)));
    // 8 URLs over 4 class/group cells (text, image, video × target/control -> 6 cells)
    // × 7 metrics, 4 rounds: every round writes every tag seen so far in that run.
    assert!(intervals >= 6 * 7 * 3, "{intervals}");
    // image targets: 2 URLs × 3 rounds, then one more fetch in the later run
    assert_eq!(tls_image_target_total, 7);
    assert_eq!(starts, vec![0, 60, 120, 600]);

    // summary.csv of the first run was rewritten by the second: check the second,
    // then recompute the first from a fresh Histograms.
    let mut h3 = Histograms::new();
    for r in &recs {
        h3.record(r);
    }
    h3.write_round(dir.path(), 3, t0, t0).unwrap();
    let mut rdr = csv::Reader::from_path(dir.path().join("summary.csv")).unwrap();
    let hdr: Vec<String> = rdr.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        hdr,
        "vantage,class,group,direction,metric,n,min,p5,p10,p25,p50,p75,p90,p95,p99,max,mean,transport"
            .split(',')
            .collect::<Vec<_>>()
    );
    let mut checked = 0;
    for row in rdr.records() {
        let row = row.unwrap();
        let (class, group, direction, metric) = (&row[1], &row[2], &row[3], &row[4]);
        let mut vals: Vec<u64> = recs
            .iter()
            .filter(|r| slowlane::analyze::class_str(r.class) == class)
            .filter(|r| r.group.unwrap().as_str() == group)
            .filter(|r| r.direction.as_str() == direction)
            .filter_map(|r| match metric {
                "tls_us" => r.tls_ms.map(|m| (m.0 * 1000.0).round() as u64),
                "total_us" => r.total_ms.map(|m| (m.0 * 1000.0).round() as u64),
                "steady_bps" => r.steady_bps,
                _ => None,
            })
            .collect();
        if vals.is_empty() {
            continue;
        }
        assert_eq!(row[0].to_string(), "msk");
        assert_eq!(&row[17], "tcp");
        assert_eq!(row[5].parse::<usize>().unwrap(), vals.len());
        for (col, q) in [(7, 0.05), (10, 0.5), (12, 0.9), (14, 0.99)] {
            let want = exact_percentile(&mut vals, q) as f64;
            let got: f64 = row[col].parse().unwrap();
            assert!(
                (got / want - 1.0).abs() < 0.001,
                "{class}.{group}.{metric} q{q}: {got} vs {want}"
            );
        }
        let max = *vals.iter().max().unwrap() as f64;
        let got_max: f64 = row[15].parse().unwrap();
        assert!((got_max / max - 1.0).abs() < 0.001);
        checked += 1;
    }
    assert_eq!(checked, 6 * 3, "6 class/group cells × 3 checked metrics");
}

fn base64_decode(s: &str) -> Vec<u8> {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let mut buf = 0u32;
    let mut bits = 0;
    for c in s.bytes() {
        if c == b'=' {
            break;
        }
        let v = T.iter().position(|&t| t == c).expect("base64 char") as u32;
        buf = (buf << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
            buf &= (1 << bits) - 1;
        }
    }
    out
}
