//! The plateau estimator has one owner: the engine's `steady_bps` and the
//! analyzer's fingerprint give the same rate for the same windows, and both
//! survive staircase arrival (issue 7, point 9).

use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use slowlane::analyze::fingerprint::print::fetch_print;
use slowlane::analyze::fingerprint::timeline::Pt;
use slowlane::plateau::{estimate, Sample};
use slowlane::probe::tcpinfo::TcpInfo;
use slowlane::probe::timeline::{steady_bps, Timeline, WindowSample};

const WIN: Duration = Duration::from_millis(100);

/// A fetch whose TCP-level bytes arrive as `arrivals` (s, bytes) and whose
/// body arrives in whole records of `record` bytes, capped at `end` s; TCP_INFO
/// sampled at the end of every window as the engine does.
struct Fetch {
    windows: Vec<WindowSample>,
    first: Duration,
    last: Duration,
}

fn fetch(arrivals: &[(f64, u64)], record: u64, end: f64) -> Fetch {
    let origin = Instant::now();
    let at = |s: f64| origin + Duration::from_secs_f64(s);
    let mut tl = Timeline::new(origin, WIN);
    let (mut tcp, mut body) = (0u64, 0u64);
    let mut i = 0;
    let mut tick = WIN.as_secs_f64();
    while tick <= end + 1e-9 {
        while i < arrivals.len() && arrivals[i].0 < tick {
            tcp += arrivals[i].1;
            let whole = tcp / record * record;
            if whole > body {
                tl.add(at(arrivals[i].0), whole - body);
                body = whole;
            }
            i += 1;
        }
        let info = TcpInfo {
            bytes_received: Some(tcp + 200),
            ..Default::default()
        };
        tl.sample_tcp(at(tick) - Duration::from_micros(1), Some(info));
        tick += WIN.as_secs_f64();
    }
    let (first, last) = (tl.first().unwrap(), tl.last().unwrap());
    Fetch {
        windows: tl.finish(at(end)),
        first: first - origin,
        last: last - origin,
    }
}

fn to_pts(w: &[WindowSample]) -> Vec<Pt> {
    w.iter()
        .map(|w| Pt {
            t_ms: w.t.as_secs_f64() * 1000.0,
            bytes: w.bytes as f64,
            cum: w.cum_bytes as f64,
            rtt_ms: f64::NAN,
            retrans: f64::NAN,
            tcp_cum: w
                .tcp
                .and_then(|i| i.bytes_received)
                .map_or(f64::NAN, |b| b as f64),
        })
        .collect()
}

/// Steps of `size` bytes every `period` s from `start`, each over 50 ms.
fn staircase(start: f64, end: f64, size: u64, period: f64) -> Vec<(f64, u64)> {
    let mut v = Vec::new();
    let mut t = start;
    while t < end {
        let segs = size.div_ceil(1448);
        for k in 0..segs {
            v.push((t + 0.05 * k as f64 / segs as f64, 1448.min(size - k * 1448)));
        }
        t += period;
    }
    v
}

#[test]
fn engine_and_analyzer_agree_on_staircases() {
    let mut rng = SmallRng::seed_from_u64(70);
    for case in 0..60 {
        let size = rng.gen_range(16_000..=64_000);
        let period = rng.gen_range(1.0..=2.5);
        let ttfb = rng.gen_range(0.05..0.5);
        let f = fetch(&staircase(ttfb, 20.0, size, period), 1, 20.0);
        let truth = size as f64 * 8.0 / period;
        let engine = steady_bps(&f.windows, f.first, f.last).unwrap() as f64;
        let fp = fetch_print(&to_pts(&f.windows)).unwrap();
        let analyzer = fp.plateau_bps.unwrap();
        assert!(
            (engine - analyzer).abs() <= 1.0,
            "case {case}: engine {engine}, analyzer {analyzer}"
        );
        assert!(
            (engine / truth - 1.0).abs() <= 0.05,
            "case {case}: {size} B every {period:.2} s: {engine} vs {truth}"
        );
        assert_eq!(fp.plateau_note, None, "case {case}");
    }
}

/// 16 KiB TLS records of a smooth 131 kbit/s flow: a 1 s staircase in the
/// body, smooth at TCP level. Both paths use the TCP-level count.
#[test]
fn records_are_measured_on_tcp_level_bytes() {
    let rate = 131_072.0 / 8.0;
    let mut arr = Vec::new();
    let mut t = 0.3;
    while t < 20.0 {
        arr.push((t, 1448));
        t += 1448.0 / rate;
    }
    let f = fetch(&arr, 16_384, 20.0);
    let samples: Vec<Sample> = to_pts(&f.windows)
        .iter()
        .map(|p| Sample {
            t: p.t_ms / 1000.0,
            body: p.cum,
            tcp: p.tcp_cum,
        })
        .collect();
    let p = estimate(&samples).unwrap();
    assert!(p.tcp_level, "{p:?}");
    let engine = steady_bps(&f.windows, f.first, f.last).unwrap() as f64;
    assert!((engine / 131_072.0 - 1.0).abs() < 0.02, "{engine}");
    let fp = fetch_print(&to_pts(&f.windows)).unwrap();
    assert!((fp.plateau_bps.unwrap() - engine).abs() <= 1.0);
}

/// A 60 KB page through a 16 KiB-bucket policer: the analyzer says the
/// plateau is too short, with the steps and span it had.
#[test]
fn short_fetch_print_carries_a_note() {
    let f = fetch(&staircase(0.2, 3.3, 16_384, 1.0), 1, 3.3);
    let fp = fetch_print(&to_pts(&f.windows)).unwrap();
    let note = fp.plateau_note.expect("a note for a 3 s staircase");
    assert!(note.contains("too short for ±5%"), "{note}");
    assert!(note.contains("step"), "{note}");
}

/// An initial burst (a policer's bucket) then 8 KiB every 0.5 s: the burst
/// is found and excluded by both paths.
#[test]
fn burst_then_sawtooth() {
    let mut arr: Vec<(f64, u64)> = (0..200).map(|k| (0.1 + k as f64 * 0.001, 1448)).collect();
    arr.extend(staircase(0.6, 20.0, 8_192, 0.5));
    let f = fetch(&arr, 1, 20.0);
    let engine = steady_bps(&f.windows, f.first, f.last).unwrap() as f64;
    assert!((engine / 131_072.0 - 1.0).abs() < 0.02, "{engine}");
    let fp = fetch_print(&to_pts(&f.windows)).unwrap();
    let burst = fp.burst_bytes.unwrap();
    assert!(
        (289_600.0..=289_600.0 + 2.0 * 8_192.0).contains(&burst),
        "burst {burst}"
    );
}
