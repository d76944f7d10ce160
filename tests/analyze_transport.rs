//! The `transport` column in analysis: files without it load as TCP; one
//! URL over two transports is two series, each judged against controls of
//! its own transport.

use slowlane::analyze::{analyze_paths, AnalyzeOptions, Scope, VerdictKind};
use slowlane::types::Transport;

fn rows(with_transport: bool) -> String {
    let mut s =
        String::from("vantage,round,url,class,group,direction,body_bytes,steady_bps,total_ms");
    if with_transport {
        s += ",transport";
    }
    s.push('\n');
    let transports: &[&str] = if with_transport {
        &["tcp", "quic"]
    } else {
        &["tcp"]
    };
    for round in 0..8 {
        for t in transports {
            // Over QUIC the target is policed to 512 kbit/s, over TCP to 128.
            let target = if *t == "quic" { 512_000 } else { 128_000 };
            let jitter = 1000 * round;
            for (url, group, bps) in [
                (
                    "https://rr1.googlevideo.com/v.mp4",
                    "target",
                    target + jitter,
                ),
                (
                    "https://cdn.example.net/v.mp4",
                    "control",
                    40_000_000 + 7 * jitter,
                ),
                (
                    "https://static.example.com/v.mp4",
                    "control",
                    41_000_000 + 5 * jitter,
                ),
            ] {
                s += &format!("v,{round},{url},video,{group},down,2000000,{bps},4000");
                if with_transport {
                    s += &format!(",{t}");
                }
                s.push('\n');
            }
        }
    }
    s
}

#[test]
fn files_without_the_column_are_tcp_and_transports_are_judged_apart() {
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("old.csv");
    std::fs::write(&old, rows(false)).unwrap();
    let v = analyze_paths(&[old], &AnalyzeOptions::default()).unwrap();
    assert!(!v.is_empty());
    assert!(v.iter().all(|r| r.transport == Transport::Tcp));

    let new = dir.path().join("new.csv");
    std::fs::write(&new, rows(true)).unwrap();
    let v = analyze_paths(&[new], &AnalyzeOptions::default()).unwrap();
    for (t, want) in [(Transport::Tcp, 128_000.0), (Transport::Quic, 512_000.0)] {
        let r = v
            .iter()
            .find(|r| r.scope == Scope::Url && !r.control && r.transport == t)
            .unwrap_or_else(|| panic!("no {t} row: {v:#?}"));
        assert_eq!(r.verdict, VerdictKind::Throttled, "{r:#?}");
        let m = r.median_bps.unwrap();
        assert!((m / want - 1.0).abs() < 0.05, "{t}: {m}");
        // Compared with the two controls of its own transport only.
        assert_eq!(r.n_control, 16, "{r:#?}");
    }
    let summary = &v.iter().find(|r| r.scope == Scope::Class).unwrap().summary;
    assert!(
        summary.contains("over TCP") && summary.contains("over QUIC"),
        "{summary}"
    );
}
