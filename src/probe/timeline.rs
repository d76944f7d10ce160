//! Bytes over time within one fetch, and the rates derived from them.
//!
//! Bytes are bucketed by *arrival time* into fixed windows counted from the
//! moment the request was sent, so a late timer tick never moves bytes into
//! the wrong window. TCP_INFO is sampled once per window by the fetch loop.

use std::time::{Duration, Instant};

use super::tcpinfo::TcpInfo;
use crate::plateau::{self, Sample};

/// Accumulates per-window byte counts for one direction of one fetch.
#[derive(Debug)]
pub struct Timeline {
    origin: Instant,
    window: Duration,
    bytes: Vec<u64>,
    tcp: Vec<Option<TcpInfo>>,
    first: Option<Instant>,
    last: Option<Instant>,
    total: u64,
}

/// One finished window: end time (since the request), bytes, cumulative bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowSample {
    pub t: Duration,
    pub bytes: u64,
    pub cum_bytes: u64,
    pub tcp: Option<TcpInfo>,
}

impl Timeline {
    pub fn new(origin: Instant, window: Duration) -> Timeline {
        Timeline {
            origin,
            window: window.max(Duration::from_millis(1)),
            bytes: Vec::new(),
            tcp: Vec::new(),
            first: None,
            last: None,
            total: 0,
        }
    }

    fn index(&self, at: Instant) -> usize {
        let since = at.saturating_duration_since(self.origin);
        (since.as_nanos() / self.window.as_nanos()) as usize
    }

    fn grow(&mut self, idx: usize) {
        if self.bytes.len() <= idx {
            self.bytes.resize(idx + 1, 0);
            self.tcp.resize(idx + 1, None);
        }
    }

    /// Count `n` bytes that arrived at `at`.
    pub fn add(&mut self, at: Instant, n: u64) {
        if n == 0 {
            return;
        }
        let idx = self.index(at);
        self.grow(idx);
        self.bytes[idx] += n;
        self.total += n;
        self.first.get_or_insert(at);
        self.last = Some(at);
    }

    /// Set the cumulative count seen at `at` (for acked upload bytes, which the
    /// kernel reports as a running total).
    pub fn set_total(&mut self, at: Instant, total: u64) {
        if total > self.total {
            self.add(at, total - self.total);
        }
    }

    /// Attach a TCP_INFO sample to the window containing `at`.
    pub fn sample_tcp(&mut self, at: Instant, info: Option<TcpInfo>) {
        let idx = self.index(at);
        self.grow(idx);
        self.tcp[idx] = info.or(self.tcp[idx]);
    }

    pub fn total(&self) -> u64 {
        self.total
    }

    pub fn first(&self) -> Option<Instant> {
        self.first
    }

    pub fn last(&self) -> Option<Instant> {
        self.last
    }

    /// The windows up to `end`; the last one ends at `end` and may be short.
    pub fn finish(&mut self, end: Instant) -> Vec<WindowSample> {
        let end_idx = self.index(end);
        self.grow(end_idx);
        let end_t = end.saturating_duration_since(self.origin);
        let mut cum = 0;
        (0..=end_idx)
            .map(|i| {
                cum += self.bytes[i];
                let full = self.window * (i as u32 + 1);
                WindowSample {
                    t: full.min(end_t),
                    bytes: self.bytes[i],
                    cum_bytes: cum,
                    tcp: self.tcp[i],
                }
            })
            .collect()
    }

    pub fn window(&self) -> Duration {
        self.window
    }
}

/// Shortest first-to-last-byte interval a goodput is computed over. Below it
/// the interval is scheduler noise (two reads microseconds apart would give
/// "70 Gbit/s" for a 30 KB page), so the rate is reported as unknown.
pub const MIN_GOODPUT_INTERVAL: Duration = Duration::from_millis(1);

/// Body bits over the time from first to last body byte.
///
/// Undefined (None) when the body arrived within [`MIN_GOODPUT_INTERVAL`]
/// (e.g. in one read): there is no meaningful interval to divide by.
pub fn goodput_bps(total: u64, first: Option<Instant>, last: Option<Instant>) -> Option<u64> {
    let (first, last) = (first?, last?);
    let span = last.saturating_duration_since(first);
    (span >= MIN_GOODPUT_INTERVAL && total > 0)
        .then(|| (total as f64 * 8.0 / span.as_secs_f64()).round() as u64)
}

/// The plateau rate (bit/s): [`crate::plateau::estimate`] over the windows
/// up to the last byte — the rate between the feet of the steps when bytes
/// arrive in steps, Theil–Sen when smooth, after the initial burst. TCP-level
/// bytes (`bytes_received`) are used when every window has them and they
/// match the body's growth (so not for an upload's acked-byte windows, whose
/// `cum_bytes` are already TCP-level).
///
/// None when the later half of the transfer (from halfway between the first
/// and last byte) has fewer than 4 windows: too short to have a plateau.
pub fn steady_bps(windows: &[WindowSample], first: Duration, last: Duration) -> Option<u64> {
    if last <= first {
        return None;
    }
    let mid = first + (last - first) / 2;
    let later = windows
        .iter()
        .filter(|w| w.t >= mid && w.t <= last + Duration::from_micros(1))
        .count();
    if later < 4 {
        return None;
    }
    let samples: Vec<Sample> = windows
        .iter()
        .map(|w| Sample {
            t: w.t.as_secs_f64(),
            body: w.cum_bytes as f64,
            tcp: w
                .tcp
                .and_then(|i| i.bytes_received)
                .map_or(f64::NAN, |b| b as f64),
        })
        .collect();
    plateau::estimate(&samples).map(|p| p.bps.round() as u64)
}

/// The fastest full window, in bit/s; `None` for a transfer with fewer than
/// two full windows. A shorter transfer has no window that is all transfer
/// (its one window also holds the wait for the first byte, its last one is
/// cut short), so a "peak" from it would read below the mean goodput — a
/// peak below the mean says nothing. With two full windows or more, the
/// fastest of them is at least the mean over the windows the body spans.
pub fn peak_window_bps(windows: &[WindowSample], window: Duration) -> Option<u64> {
    if windows.iter().all(|w| w.bytes == 0) {
        return None;
    }
    let mut prev = Duration::ZERO;
    let mut best: Option<f64> = None;
    let mut full = 0;
    for w in windows {
        let len = w.t.saturating_sub(prev);
        prev = w.t;
        if len.is_zero() || len < window {
            continue;
        }
        full += 1;
        let rate = w.bytes as f64 * 8.0 / len.as_secs_f64();
        best = Some(best.map_or(rate, |b: f64| b.max(rate)));
    }
    best.filter(|_| full >= 2).map(|r| r.round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn synthetic(
        rate_bytes_per_s: f64,
        secs: f64,
        window_ms: u64,
    ) -> (Vec<WindowSample>, Duration) {
        let origin = Instant::now();
        let mut tl = Timeline::new(origin, Duration::from_millis(window_ms));
        let step = Duration::from_millis(10);
        let mut t = Duration::from_millis(5);
        while t.as_secs_f64() < secs {
            tl.add(origin + t, (rate_bytes_per_s * step.as_secs_f64()) as u64);
            t += step;
        }
        let last = tl.last().unwrap();
        (tl.finish(last), last - origin)
    }

    #[test]
    fn steady_rate_of_constant_stream_is_exact() {
        let (w, last) = synthetic(125_000.0, 4.0, 100);
        let bps = steady_bps(&w, Duration::from_millis(5), last).unwrap();
        assert!((bps as f64 - 1_000_000.0).abs() < 10_000.0, "{bps}");
    }

    #[test]
    fn steady_ignores_initial_burst() {
        let origin = Instant::now();
        let mut tl = Timeline::new(origin, Duration::from_millis(100));
        tl.add(origin + Duration::from_millis(10), 500_000);
        for i in 1..=40 {
            tl.add(origin + Duration::from_millis(100 * i + 50), 2_000);
        }
        let last = tl.last().unwrap();
        let w = tl.finish(last);
        let bps = steady_bps(&w, Duration::from_millis(10), last - origin).unwrap();
        // 2000 B per 100 ms = 160 kbit/s.
        assert!((bps as f64 - 160_000.0).abs() < 8_000.0, "{bps}");
        let gp = goodput_bps(tl.total(), tl.first(), tl.last()).unwrap();
        assert!(gp > 1_000_000);
    }

    #[test]
    fn too_short_transfers_have_no_steady_rate() {
        let (w, last) = synthetic(1e6, 0.2, 100);
        assert_eq!(steady_bps(&w, Duration::ZERO, last), None);
        assert_eq!(goodput_bps(10, None, None), None);
    }

    #[test]
    fn peak_prefers_full_windows() {
        let (w, _) = synthetic(125_000.0, 1.0, 100);
        let p = peak_window_bps(&w, Duration::from_millis(100)).unwrap();
        assert!((p as f64 - 1_000_000.0).abs() < 120_000.0, "{p}");
    }

    #[test]
    fn no_peak_for_transfers_shorter_than_two_windows() {
        // 43 ms of body: one partial window; a peak from it would read
        // below the goodput.
        let origin = Instant::now();
        let mut tl = Timeline::new(origin, Duration::from_millis(100));
        tl.add(origin + Duration::from_millis(30), 20_000);
        tl.add(origin + Duration::from_millis(73), 20_000);
        let last = tl.last().unwrap();
        let w = tl.finish(last);
        assert_eq!(peak_window_bps(&w, Duration::from_millis(100)), None);
        // 150 ms: one full window only — still none.
        let (w, _) = synthetic(125_000.0, 0.15, 100);
        assert_eq!(peak_window_bps(&w, Duration::from_millis(100)), None);
    }

    #[test]
    fn peak_is_at_least_the_goodput() {
        for secs in [0.25, 0.5, 1.0, 3.0] {
            let (w, _) = synthetic(125_000.0, secs, 100);
            let origin = Instant::now();
            let mut tl = Timeline::new(origin, Duration::from_millis(100));
            let step = Duration::from_millis(10);
            let mut t = Duration::from_millis(5);
            while t.as_secs_f64() < secs {
                tl.add(origin + t, 1250);
                t += step;
            }
            let gp = goodput_bps(tl.total(), tl.first(), tl.last()).unwrap();
            let p = peak_window_bps(&w, Duration::from_millis(100)).unwrap();
            // Goodput counts the first read's bytes over no time (a
            // fencepost of one read in 25 here): within that, peak ≥ mean.
            assert!(
                p as f64 >= gp as f64 * 0.95,
                "{secs} s: peak {p} < goodput {gp}"
            );
        }
    }

    #[test]
    fn windows_are_cumulative_and_end_at_finish() {
        let origin = Instant::now();
        let mut tl = Timeline::new(origin, Duration::from_millis(100));
        tl.add(origin + Duration::from_millis(50), 10);
        tl.add(origin + Duration::from_millis(250), 5);
        let w = tl.finish(origin + Duration::from_millis(260));
        assert_eq!(w.len(), 3);
        assert_eq!(w[0].cum_bytes, 10);
        assert_eq!(w[1].bytes, 0);
        assert_eq!(w[2].cum_bytes, 15);
        assert_eq!(w[2].t, Duration::from_millis(260));
    }
}
