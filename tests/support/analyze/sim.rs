//! The path model of the evidence studies (issue 22): TCP Reno-like
//! transfers with slow start, random loss (a loss in slow start halves the
//! window and leaves slow start; a loss in the last packets of a flight
//! waits for a retransmission timeout), per-round congestion shared by the
//! round's fetches, lognormal noise with occasional heavy-tailed stalls,
//! and mixed object sizes with two like-size controls each.
//!
//! On an 80 ms, 0.5%-loss path clean fetches of one 600 KB object vary
//! about 3× from fetch to fetch, as measured in the issue.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use slowlane::types::{Class, FetchRecord, Group, Ms};

use super::paths::lognormal;

/// One path of a campaign.
#[derive(Debug, Clone, Copy)]
pub struct LossyPath {
    pub bps: f64,
    pub rtt_ms: f64,
    pub loss: f64,
}

const MSS: f64 = 1448.0;

impl LossyPath {
    /// A random path: RTT 20–150 ms, loss 0–1% (one in four at 0.5%),
    /// bottleneck 5–200 Mbit/s.
    pub fn random(rng: &mut SmallRng) -> LossyPath {
        let loss = match rng.gen_range(0..4) {
            0 => 0.0,
            1 => 0.001,
            2 => 0.005,
            _ => 0.01,
        };
        LossyPath {
            bps: 5e6 * 40f64.powf(rng.gen::<f64>()),
            rtt_ms: rng.gen_range(20.0..150.0),
            loss,
        }
    }

    /// (total_ms, transfer_ms) of one fetch of `size` bytes in a round of
    /// `congestion` (≥ 0.5, 1 = none).
    pub fn fetch(&self, rng: &mut SmallRng, size: u64, congestion: f64) -> (f64, f64) {
        let rtt = self.rtt_ms * congestion.max(1.0).sqrt() * lognormal(rng, 1.0, 0.08);
        let bps = self.bps / congestion * lognormal(rng, 1.0, 0.15);
        let cap = (bps / 8000.0 * rtt / MSS).max(2.0);
        let mut left = (size as f64 / MSS).ceil();
        let (mut cwnd, mut ssthresh) = (10.0f64, f64::INFINITY);
        let mut t = 0.0;
        while left > 0.0 {
            let flight = cwnd.min(cap).min(left).max(1.0).floor();
            let lost = (0..flight as usize).position(|_| rng.gen::<f64>() < self.loss);
            t += rtt;
            match lost {
                Some(i) => {
                    left -= i as f64;
                    cwnd = (cwnd / 2.0).max(2.0);
                    ssthresh = cwnd;
                    // Too few packets after the loss for three duplicate
                    // ACKs: a retransmission timeout (Linux: ≥ 200 ms).
                    if flight as usize - i <= 3 {
                        t += (200.0f64).max(2.0 * rtt) * lognormal(rng, 1.0, 0.3);
                    }
                }
                None => {
                    left -= flight;
                    cwnd = if cwnd < ssthresh {
                        cwnd * 2.0
                    } else {
                        cwnd + 1.0
                    };
                }
            }
        }
        // Heavy tail: now and then a fetch stalls (a scheduler hiccup, a
        // Wi-Fi scan) for up to a few RTTs more.
        if rng.gen::<f64>() < 0.02 {
            t += rtt * rng.gen_range(1.0..6.0);
        }
        (3.0 * rtt + t, t)
    }
}

/// One URL of a study campaign: (url, class, group, size, policed share).
pub type SimUrl = (String, Class, Group, u64, f64);

/// The mixed-size URL set: per size a target and two like-size controls.
/// `policed`: (index of the target, share of its fetches policed).
pub fn mixed(policed: Option<(usize, f64)>) -> Vec<SimUrl> {
    let sizes: [(Class, u64); 6] = [
        (Class::Text, 4_000),
        (Class::Text, 30_000),
        (Class::Image, 300_000),
        (Class::Image, 600_000),
        (Class::Image, 2_000_000),
        (Class::Video, 8_000_000),
    ];
    let mut out = Vec::new();
    for (i, &(class, size)) in sizes.iter().enumerate() {
        let share = policed.filter(|p| p.0 == i).map_or(0.0, |p| p.1);
        out.push((
            format!("https://t.example.com/{size}"),
            class,
            Group::Target,
            size,
            share,
        ));
        for c in ["c1.example.net", "c2.example.org"] {
            out.push((
                format!("https://{c}/{size}"),
                class,
                Group::Control,
                size,
                0.0,
            ));
        }
    }
    out
}

/// Records of round `round` of a campaign: every URL once, shuffled, one
/// congestion level for the round. A policed fetch runs at 131 kbit/s
/// (capped at 4 s, like the lab's `max_time`).
pub fn round(
    rng: &mut SmallRng,
    vantage: &str,
    path: &LossyPath,
    round: u32,
    urls: &[SimUrl],
) -> Vec<FetchRecord> {
    let congestion = lognormal(rng, 1.0, 0.3).max(0.5);
    let mut out = Vec::new();
    let mut order: Vec<usize> = (0..urls.len()).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.gen_range(0..=i));
    }
    for i in order {
        let (url, class, group, size, share) = &urls[i];
        let (mut total, mut transfer) = path.fetch(rng, *size, congestion);
        let mut body = *size;
        if *share > 0.0 && rng.gen::<f64>() < *share {
            transfer = (*size as f64 * 8000.0 / 131_072.0).min(4_000.0);
            body = (transfer * 131_072.0 / 8000.0) as u64;
            total = 3.0 * path.rtt_ms + transfer;
        }
        let host = url.split('/').nth(2).unwrap().to_string();
        out.push(FetchRecord {
            vantage: vantage.into(),
            run_id: "r1".into(),
            round,
            fetch_id: format!("{vantage}-{round}-{i}"),
            url: url.clone(),
            host: host.clone(),
            sni: host,
            class: Some(*class),
            group: Some(*group),
            method: "GET".into(),
            status: Some(200),
            body_bytes: body,
            object_bytes: Some(*size),
            tls_ms: Some(Ms(path.rtt_ms * lognormal(rng, 1.0, 0.1))),
            ttfb_ms: Some(Ms(path.rtt_ms)),
            transfer_ms: Some(Ms(transfer)),
            total_ms: Some(Ms(total)),
            goodput_bps: Some((body as f64 * 8000.0 / transfer.max(0.001)) as u64),
            ..Default::default()
        });
    }
    out
}

/// A whole fixed-round campaign.
pub fn campaign(
    seed: u64,
    vantage: &str,
    path: &LossyPath,
    rounds: u32,
    urls: &[SimUrl],
) -> Vec<FetchRecord> {
    let mut rng = SmallRng::seed_from_u64(seed);
    (1..=rounds)
        .flat_map(|r| round(&mut rng, vantage, path, r, urls))
        .collect()
}
