//! Synthetic campaigns for the analyze tests: FetchRecords with timelines
//! shaped like what each throttle does to a transfer (100 ms windows).
//! [`paths`] has the path models of the issue-7 tests.

use std::path::Path;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use slowlane::types::{Capped, Direction, FetchRecord, Ms, Phase, Window};
use slowlane::types::{Class, Group};

pub const POLICE_BPS: f64 = 131_072.0;

pub mod paths;
pub mod sim;

/// What the path does to one URL's fetches.
#[derive(Debug, Clone, Copy)]
pub enum Path_ {
    /// Unthrottled at about this rate (bit/s), lognormal spread.
    Fast(f64),
    /// Token-bucket policer: one burst, then ~1 s of drops, then bursts.
    Policed(f64),
    /// Shaper: smooth at the rate, RTT inflated by queueing.
    Shaped(f64),
    /// Bytes stop after ~16 KB; the fetch runs to its time cap.
    Freeze,
    /// Bytes stop after ~16 KB; the fetch ends in generic_timeout_error.
    FreezeTimeout,
    /// Connection reset during the TLS handshake.
    Reset,
    /// Fast transfer (40 Mbit/s) but a TLS handshake this many times slower.
    SlowTls(f64),
}

pub struct Url {
    pub url: &'static str,
    pub class: Class,
    pub group: Group,
    pub size: u64,
    pub path: Path_,
}

pub fn url(url: &'static str, class: Class, group: Group, size: u64, path: Path_) -> Url {
    Url {
        url,
        class,
        group,
        size,
        path,
    }
}

fn host_of(u: &str) -> String {
    u.split("://")
        .nth(1)
        .unwrap_or(u)
        .split('/')
        .next()
        .unwrap_or("")
        .to_string()
}

fn lognormal(rng: &mut SmallRng, median: f64, sigma: f64) -> f64 {
    let u1: f64 = 1.0 - rng.gen::<f64>();
    let u2: f64 = rng.gen();
    let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
    median * (sigma * z).exp()
}

/// One synthetic fetch.
pub fn fetch(rng: &mut SmallRng, vantage: &str, round: u32, id: &str, u: &Url) -> FetchRecord {
    let host = host_of(u.url);
    let mut r = FetchRecord {
        campaign: "synthetic".into(),
        vantage: vantage.into(),
        run_id: "run1".into(),
        round,
        fetch_id: id.into(),
        started_at: "2021-03-10T12:00:00Z".into(),
        url: u.url.into(),
        host: host.clone(),
        sni: host,
        class: Some(u.class),
        group: Some(u.group),
        method: "GET".into(),
        ..Default::default()
    };
    let rtt = lognormal(rng, 40.0, 0.1);
    r.dns_ms = Some(Ms(lognormal(rng, 5.0, 0.3)));
    r.tcp_ms = Some(Ms(rtt));
    r.tls_ms = Some(Ms(2.0 * rtt * lognormal(rng, 1.0, 0.1)));
    if let Path_::SlowTls(f) = u.path {
        r.tls_ms = Some(Ms(r.tls_ms.unwrap().0 * f));
    }
    if let Path_::Reset = u.path {
        r.error = Some("connection_reset".into());
        r.error_phase = Some(Phase::Tls);
        r.tls_ms = None;
        return r;
    }
    r.status = Some(200);
    let ttfb = rtt * lognormal(rng, 1.5, 0.1);
    r.ttfb_ms = Some(Ms(ttfb));
    let cap_ms = 20_000.0;
    let mut windows: Vec<(f64, u64, f64, u32)> = Vec::new(); // t, cum, rtt, retrans
    let path = match u.path {
        Path_::SlowTls(_) => Path_::Fast(40e6),
        p => p,
    };
    let (cum, end_ms, steady) = match path {
        Path_::Fast(bps) => {
            let rate = lognormal(rng, bps, 0.25);
            let t = u.size as f64 * 8000.0 / rate;
            let mut k = 1;
            while (k as f64) * 100.0 < t {
                windows.push((k as f64 * 100.0, (rate * k as f64 / 80.0) as u64, rtt, 0));
                k += 1;
            }
            windows.push((k as f64 * 100.0, u.size, rtt, 0));
            (u.size, t, Some(rate))
        }
        Path_::Policed(bps) => {
            let bytes_per_ms = bps / 8000.0;
            let burst = 16_384 + 10 * 1448;
            let mut cum = burst.min(u.size);
            let mut next = lognormal(rng, 1000.0, 0.1);
            let mut last = 0.0;
            let mut retrans = 0;
            let mut k = 1;
            while cum < u.size && (k as f64) * 100.0 <= cap_ms {
                let t = k as f64 * 100.0;
                if t >= next {
                    cum = (cum + (bytes_per_ms * (next - last)) as u64).min(u.size);
                    last = next;
                    next += lognormal(rng, 900.0, 0.2);
                    retrans += 3;
                }
                windows.push((t, cum, lognormal(rng, rtt, 0.05), retrans));
                k += 1;
            }
            let end = windows.last().map_or(100.0, |w| w.0);
            (cum, end, Some(bps * lognormal(rng, 1.0, 0.03)))
        }
        Path_::Shaped(bps) => {
            let per_win = bps / 80.0;
            let mut cum = 0u64;
            let mut k = 1;
            while cum < u.size && (k as f64) * 100.0 <= cap_ms {
                let t = k as f64 * 100.0;
                cum = (cum + (per_win * lognormal(rng, 1.0, 0.05)) as u64).min(u.size);
                let queue = 400.0 * (t / 1000.0).min(1.0);
                windows.push((t, cum, rtt + queue * lognormal(rng, 1.0, 0.05), 0));
                k += 1;
            }
            let end = windows.last().map_or(100.0, |w| w.0);
            (cum, end, Some(bps * lognormal(rng, 1.0, 0.02)))
        }
        Path_::Freeze | Path_::FreezeTimeout => {
            let stop = 16_384 + rng.gen_range(0..4096);
            let end = if let Path_::Freeze = u.path {
                cap_ms
            } else {
                10_000.0
            };
            let mut k = 1;
            while (k as f64) * 100.0 <= end {
                let c = if k == 1 { stop / 2 } else { stop };
                windows.push((k as f64 * 100.0, c, rtt, 0));
                k += 1;
            }
            (stop, end, Some(0.0))
        }
        Path_::Reset | Path_::SlowTls(_) => unreachable!(),
    };
    r.body_bytes = cum;
    r.transfer_ms = Some(Ms(end_ms));
    r.total_ms = Some(Ms(r.dns_ms.unwrap().0
        + rtt
        + r.tls_ms.unwrap().0
        + ttfb
        + end_ms));
    r.steady_bps = steady.map(|s| s as u64);
    r.goodput_bps = Some((cum as f64 * 8000.0 / end_ms.max(1.0)) as u64);
    r.tcp_rtt_ms = Some(Ms(rtt));
    r.tcp_min_rtt_ms = Some(Ms(rtt * 0.95));
    match u.path {
        Path_::FreezeTimeout => {
            r.error = Some("generic_timeout_error".into());
            r.error_phase = Some(Phase::Body);
        }
        _ if cum < u.size => r.capped = Some(Capped::Time),
        _ => {}
    }
    let mut prev = 0;
    r.timeline = windows
        .into_iter()
        .map(|(t, c, rtt, re)| {
            let w = Window {
                fetch_id: id.into(),
                direction: Direction::Down,
                t_ms: Ms(t),
                bytes: c - prev,
                cum_bytes: c,
                tcp_rtt_ms: Some(Ms(rtt)),
                tcp_retrans: Some(re),
                // TCP level = body plus a fixed handshake/framing overhead.
                tcp_cum_bytes: Some(c + 4_000),
            };
            prev = c;
            w
        })
        .collect();
    r
}

/// A campaign: every URL once per round, rounds × urls records.
pub fn campaign(seed: u64, vantage: &str, rounds: u32, urls: &[Url]) -> Vec<FetchRecord> {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut out = Vec::new();
    for round in 1..=rounds {
        for (i, u) in urls.iter().enumerate() {
            let id = format!("{vantage}-r{round}-{i}");
            out.push(fetch(&mut rng, vantage, round, &id, u));
        }
    }
    out
}

/// Write fetches.csv and timeline.csv into `dir`, as the recorder does.
pub fn write_dir(dir: &Path, records: &[FetchRecord]) {
    std::fs::create_dir_all(dir).unwrap();
    let mut f = csv::Writer::from_path(dir.join("fetches.csv")).unwrap();
    let mut t = csv::Writer::from_path(dir.join("timeline.csv")).unwrap();
    for r in records {
        f.serialize(r).unwrap();
        for w in &r.timeline {
            t.serialize(w).unwrap();
        }
    }
    f.flush().unwrap();
    t.flush().unwrap();
}

/// The twitter-2021 story: twimg image/video policed, text and controls fast.
pub fn twitter_urls() -> Vec<Url> {
    use Class::*;
    use Group::*;
    vec![
        url(
            "https://pbs.twimg.com/media/a.jpg",
            Image,
            Target,
            400_000,
            Path_::Policed(POLICE_BPS),
        ),
        url(
            "https://pbs.twimg.com/media/b.jpg",
            Image,
            Target,
            2_000_000,
            Path_::Policed(POLICE_BPS),
        ),
        url(
            "https://video.twimg.com/v/1.mp4",
            Video,
            Target,
            4_000_000,
            Path_::Policed(POLICE_BPS),
        ),
        url(
            "https://twitter.com/",
            Text,
            Target,
            60_000,
            Path_::Fast(40e6),
        ),
        url(
            "https://img.example.org/c.jpg",
            Image,
            Control,
            400_000,
            Path_::Fast(60e6),
        ),
        url(
            "https://img.example.org/d.jpg",
            Image,
            Control,
            2_000_000,
            Path_::Fast(60e6),
        ),
        url(
            "https://media.example.org/2.mp4",
            Video,
            Control,
            4_000_000,
            Path_::Fast(60e6),
        ),
        url(
            "https://www.example.org/",
            Text,
            Control,
            60_000,
            Path_::Fast(40e6),
        ),
    ]
}

/// Issue 22.2: a clean row is `ok` when its fetches exclude a material
/// throttle, else `inconclusive` — never `throttled`, `partial` or
/// `blocked`. A lab campaign of 5–20 rounds cannot exclude a 10% slowed
/// share (that takes 29 clean fetches), and on a busy test machine a clean
/// row can also read "slower but not significant": both are honest.
pub fn clean_verdict(r: &slowlane::analyze::Verdict) -> bool {
    use slowlane::analyze::VerdictKind;
    matches!(r.verdict, VerdictKind::Ok | VerdictKind::Inconclusive)
}
