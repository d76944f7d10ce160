//! Path models and record builders for the issue-7 tests: a TCP-ish path
//! (slow start, congestion), partial policies, crowd-style rate files,
//! uploads.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use slowlane::types::{Capped, Direction, FetchRecord, Ms, Window};
use slowlane::types::{Class, Group};

use super::{fetch, url, Path_, POLICE_BPS};

pub fn lognormal(rng: &mut SmallRng, median: f64, sigma: f64) -> f64 {
    let u1: f64 = 1.0 - rng.gen::<f64>();
    let u2: f64 = rng.gen();
    median * (sigma * (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()).exp()
}

/// A path model with real TCP behaviour at the level the analyzer sees it:
/// 3 RTTs of handshake and request, slow start from 10 segments doubling per
/// RTT until the bottleneck rate, per-round congestion shared by every fetch
/// of the round (the path changes over the campaign), lognormal noise.
pub struct PathModel {
    pub bps: f64,
    pub rtt_ms: f64,
}

impl PathModel {
    /// (total_ms, transfer_ms, goodput bit/s) of one fetch of `size` bytes.
    pub fn fetch(&self, rng: &mut SmallRng, size: u64, congestion: f64) -> (f64, f64, f64) {
        let rtt = self.rtt_ms * congestion * lognormal(rng, 1.0, 0.1);
        let bps = self.bps / congestion * lognormal(rng, 1.0, 0.15);
        let mut cwnd: f64 = 10.0 * 1448.0;
        let mut left = size as f64;
        let mut t = 0.0;
        while left > 0.0 {
            let per_rtt = (bps / 8000.0 * rtt).max(1.0);
            let send = cwnd.min(per_rtt).min(left);
            t += if send < per_rtt && send == left {
                rtt / 2.0 + send * 8000.0 / bps
            } else {
                rtt
            };
            left -= send;
            cwnd *= 2.0;
        }
        let total = 3.0 * rtt + t;
        (total, t, size as f64 * 8000.0 / t.max(0.001))
    }
}

/// One URL of a model campaign: (url, class, group, size).
pub type Spec = (&'static str, Class, Group, u64);

/// Records of a campaign on `path`: every URL once per round, shuffled.
pub fn model_campaign(seed: u64, path: &PathModel, rounds: u32, urls: &[Spec]) -> Vec<FetchRecord> {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut out = Vec::new();
    for round in 0..rounds {
        let congestion = lognormal(&mut rng, 1.0, 0.4).max(0.5);
        for (i, &(url, class, group, size)) in urls.iter().enumerate() {
            let (total, transfer, goodput) = path.fetch(&mut rng, size, congestion);
            let host = url.split('/').nth(2).unwrap().to_string();
            out.push(FetchRecord {
                vantage: "vp".into(),
                run_id: "r1".into(),
                round,
                fetch_id: format!("r1-{round}-{i}"),
                url: url.into(),
                host: host.clone(),
                sni: host,
                class: Some(class),
                group: Some(group),
                method: "GET".into(),
                body_bytes: size,
                object_bytes: Some(size),
                tls_ms: Some(Ms(path.rtt_ms * congestion)),
                ttfb_ms: Some(Ms(path.rtt_ms * congestion)),
                transfer_ms: Some(Ms(transfer)),
                total_ms: Some(Ms(total)),
                goodput_bps: Some(goodput as u64),
                // Large transfers have a plateau: the model's steady rate.
                steady_bps: (transfer > 800.0).then_some(goodput as u64),
                ..Default::default()
            });
        }
    }
    out
}

pub fn mixed_sizes() -> Vec<Spec> {
    use Class::*;
    use Group::*;
    vec![
        ("https://t.example.com/text/4000", Text, Target, 4_000),
        ("https://t.example.com/text/30000", Text, Target, 30_000),
        ("https://t.example.com/img/600000", Image, Target, 600_000),
        (
            "https://t.example.com/img/2000000",
            Image,
            Target,
            2_000_000,
        ),
        (
            "https://t.example.com/vid/8000000",
            Video,
            Target,
            8_000_000,
        ),
        ("https://c.example.net/text/4000", Text, Control, 4_000),
        ("https://c.example.net/text/30000", Text, Control, 30_000),
        ("https://c.example.net/img/600000", Image, Control, 600_000),
        (
            "https://c.example.net/img/2000000",
            Image,
            Control,
            2_000_000,
        ),
        (
            "https://c.example.net/vid/8000000",
            Video,
            Control,
            8_000_000,
        ),
        // A target with no control of its size: must never be judged
        // against the 2–8 MB controls.
        ("https://t.example.com/img/250000", Image, Target, 250_000),
    ]
}

/// Policed fetches mixed into fast ones with an exact share (a deck).
pub fn partial_campaign(seed: u64, rounds: u32, share_of_10: u32) -> Vec<FetchRecord> {
    use Class::*;
    use Group::*;
    let target = url(
        "https://pbs.twimg.com/img/600000.jpg",
        Image,
        Target,
        600_000,
        Path_::Fast(40e6),
    );
    let policed = url(
        "https://pbs.twimg.com/img/600000.jpg",
        Image,
        Target,
        600_000,
        Path_::Policed(POLICE_BPS),
    );
    let c1 = url(
        "https://cdn.example.net/img/600000.jpg",
        Image,
        Control,
        600_000,
        Path_::Fast(40e6),
    );
    let c2 = url(
        "https://static.example.com/img/600000.jpg",
        Image,
        Control,
        600_000,
        Path_::Fast(40e6),
    );
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut deck: Vec<bool> = Vec::new();
    let mut out = Vec::new();
    for round in 0..rounds {
        if deck.is_empty() {
            deck = (0..10).map(|i| i < share_of_10).collect();
            for i in (1..deck.len()).rev() {
                deck.swap(i, rng.gen_range(0..=i));
            }
        }
        let hit = deck.pop().unwrap();
        for (i, u) in [if hit { &policed } else { &target }, &c1, &c2]
            .into_iter()
            .enumerate()
        {
            out.push(fetch(&mut rng, "msk", round, &format!("f{round}-{i}"), u));
        }
    }
    out
}

/// Crowd data: a rate per download, no timeline, no steady rate.
pub fn crowd_csv(dir: &std::path::Path, share: f64, seed: u64) {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut w = csv::Writer::from_path(dir.join("fetches.csv")).unwrap();
    w.write_record(["vantage", "round", "url", "class", "group", "goodput_bps"])
        .unwrap();
    for round in 0..60 {
        let slow = (round as f64 + 0.5) / 60.0 < share;
        let t = if slow {
            lognormal(&mut rng, 109_000.0, 0.1)
        } else {
            lognormal(&mut rng, 3.4e6, 0.5)
        };
        let c = lognormal(&mut rng, 3.4e6, 0.5);
        for (url, group, v) in [
            ("https://pbs.twimg.com/x.jpg", "target", t),
            ("https://ctl.example.org/x.jpg", "Control", c),
        ] {
            w.write_record([
                "AS12389",
                &round.to_string(),
                url,
                "Image",
                group,
                &format!("{v:.0}"),
            ])
            .unwrap();
        }
    }
    w.flush().unwrap();
}

/// Upload records: a POST whose acknowledged bytes were policed (capped by
/// max_time, no error) and a free one, beside downloads of the same class.
pub fn upload(rng: &mut SmallRng, url: &str, id: &str, round: u32, policed: bool) -> FetchRecord {
    let host = url.split('/').nth(2).unwrap().to_string();
    let (bytes, secs) = if policed {
        let plateau = POLICE_BPS * lognormal(rng, 1.0, 0.02);
        ((16_384.0 + plateau / 8.0 * 3.9) as u64, 4.0)
    } else {
        (600_000, 600_000.0 * 8.0 / lognormal(rng, 30e6, 0.2))
    };
    let mut timeline = Vec::new();
    let n = (secs * 10.0).ceil() as u64;
    for k in 1..=n {
        let t = k as f64 * 100.0;
        let cum = if policed {
            // bursts of 8 KiB every 0.5 s after a 16 KiB start
            (16_384 + (t as u64 / 500) * 8192).min(bytes)
        } else {
            (bytes as f64 * (t / (secs * 1000.0)).min(1.0)) as u64
        };
        timeline.push(Window {
            fetch_id: id.into(),
            direction: Direction::Up,
            t_ms: Ms(t),
            bytes: 0,
            cum_bytes: cum,
            tcp_rtt_ms: Some(Ms(30.0)),
            tcp_retrans: Some(0),
            tcp_cum_bytes: None,
        });
    }
    let mut prev = 0;
    for w in &mut timeline {
        w.bytes = w.cum_bytes - prev;
        prev = w.cum_bytes;
    }
    FetchRecord {
        vantage: "msk".into(),
        run_id: "run1".into(),
        round,
        fetch_id: id.into(),
        url: url.into(),
        host: host.clone(),
        sni: host,
        class: Some(Class::Image),
        group: Some(if url.contains("twimg") {
            Group::Target
        } else {
            Group::Control
        }),
        method: "POST".into(),
        direction: Direction::Up,
        upload_bytes: bytes,
        object_bytes: Some(600_000),
        body_bytes: 3,
        capped: policed.then_some(Capped::Time),
        total_ms: Some(Ms(secs * 1000.0 + 100.0)),
        ttfb_ms: (!policed).then_some(Ms(secs * 1000.0)),
        transfer_ms: (!policed).then_some(Ms(0.01)),
        upload_bps: Some(if policed {
            (POLICE_BPS * lognormal(rng, 1.0, 0.02)) as u64
        } else {
            (600_000.0 * 8.0 / secs) as u64
        }),
        timeline,
        ..Default::default()
    }
}
