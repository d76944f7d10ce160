//! One row of `fetches.csv` as analysis sees it: the borrowed fields it
//! uses, and the rules that turn them into an observation — the rate in the
//! row's direction, where that rate came from, whether it is censored, and
//! the direction itself for files that do not say it.

use crate::types::{Class, Direction, Group, Transport};

/// Which column a fetch's rate came from (the row's `metric` names the one
/// most of its fetches used).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RateSrc {
    #[default]
    None,
    /// `steady_bps`: the engine's plateau.
    Steady,
    /// `goodput_bps`: first to last body byte.
    Goodput,
    /// `upload_bps`: acknowledged upload bytes over time.
    Upload,
    /// Bytes ÷ elapsed time: rows without a rate column, and every timed-out
    /// fetch (an upper bound of its true rate; 0 when nothing arrived).
    Achieved,
}

/// A borrowed view of the fields of one fetch row that analysis uses.
#[derive(Debug, Default, Clone, Copy)]
pub struct Row<'a> {
    pub campaign: &'a [u8],
    pub vantage: &'a [u8],
    pub run_id: &'a [u8],
    pub round: Option<u64>,
    pub fetch_id: &'a [u8],
    /// RFC 3339 UTC wall-clock start (the report's per-hour view).
    pub started_at: &'a [u8],
    pub url: &'a [u8],
    pub host: &'a [u8],
    pub sni: &'a [u8],
    pub label: &'a [u8],
    pub controls: &'a [u8],
    pub class: Option<Class>,
    pub group: Option<Group>,
    pub direction: Direction,
    /// `tcp` or `quic`; rows of files without the column are `tcp`.
    pub transport: Transport,
    pub error: &'a [u8],
    pub error_phase: &'a [u8],
    pub capped: bool,
    pub body_bytes: Option<u64>,
    pub upload_bytes: Option<u64>,
    pub object_bytes: Option<u64>,
    pub steady_bps: Option<f64>,
    pub goodput_bps: Option<f64>,
    pub upload_bps: Option<f64>,
    pub dns_ms: Option<f64>,
    pub tcp_ms: Option<f64>,
    pub tls_ms: Option<f64>,
    /// QUIC handshake time (in place of `tcp_ms` + `tls_ms`).
    pub quic_ms: Option<f64>,
    pub ttfb_ms: Option<f64>,
    pub transfer_ms: Option<f64>,
    pub total_ms: Option<f64>,
}

pub const TIMEOUT: &[u8] = b"generic_timeout_error";

/// The per-fetch rate in the row's direction, where it came from, and
/// whether it is censored. `None` for fetches that failed with anything but a
/// timeout (those are failures, not observations).
pub fn fetch_rate(r: &Row) -> Option<(f64, RateSrc, bool)> {
    let timeout = r.error == TIMEOUT;
    if !r.error.is_empty() && !timeout {
        return None;
    }
    let censored = timeout || r.capped;
    let (bytes, col) = match r.direction {
        Direction::Down => (r.body_bytes, [r.steady_bps, r.goodput_bps]),
        Direction::Up => (r.upload_bytes, [r.upload_bps, None]),
    };
    let achieved = |elapsed: Option<f64>| -> Option<f64> {
        let t = elapsed?;
        let b = bytes.unwrap_or(0) as f64;
        if b == 0.0 {
            return Some(0.0);
        }
        (t > 0.0).then(|| b * 8000.0 / t)
    };
    if timeout {
        let v = achieved(r.total_ms).unwrap_or(f64::NAN);
        return Some((v, RateSrc::Achieved, censored));
    }
    let (v, src) = match (r.direction, col) {
        (Direction::Down, [Some(s), _]) => (s, RateSrc::Steady),
        (Direction::Down, [None, Some(g)]) => (g, RateSrc::Goodput),
        (Direction::Up, [Some(u), _]) => (u, RateSrc::Upload),
        // The last resort counts from the request, not from the headers: a
        // small body arriving in one read has a transfer time of µs, and
        // dividing by that gives "20 Gbit/s" for a 30 KB page. An upload's
        // ttfb covers sending the body.
        (Direction::Down, _) => {
            let t = r
                .transfer_ms
                .map(|x| x + r.ttfb_ms.unwrap_or(0.0))
                .or(r.total_ms);
            (achieved(t).unwrap_or(f64::NAN), RateSrc::Achieved)
        }
        (Direction::Up, _) => (
            achieved(r.ttfb_ms.or(r.total_ms)).unwrap_or(f64::NAN),
            RateSrc::Achieved,
        ),
    };
    Some((v, src, censored))
}

/// The direction of a fetch: the `direction` cell when there is one, else
/// `up` for a POST or a row with upload bytes (files of earlier versions).
pub fn direction_of(cell: Option<Direction>, method: &[u8], upload_bytes: u64) -> Direction {
    match cell {
        Some(d) => d,
        None if method.eq_ignore_ascii_case(b"POST") || upload_bytes > 0 => Direction::Up,
        None => Direction::Down,
    }
}
