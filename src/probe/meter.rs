//! What is sampled while a request is in flight, and how it becomes the
//! record's byte counts, rates and timeline rows.
//!
//! Downloads count body bytes as they are read. Uploads count what the peer
//! *acknowledged* (TCP_INFO `tcpi_bytes_acked`): the body is handed to the
//! socket buffer long before it is on the wire — a 600 KB body fits in a
//! loopback send buffer at once and then trickles out at the policed rate —
//! so "handed over" says nothing about how fast the path carried it.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::tcpinfo::{TcpInfo, TcpInfoSource};
use super::timeline::{self, Timeline, WindowSample};
use super::upload::UploadProgress;
use crate::types::{Direction, FetchRecord, Ms, Window};

/// The acknowledgement side of an upload.
struct UpMeter {
    /// Cumulative bytes = acknowledged upload payload.
    timeline: Timeline,
    /// What was handed to the connection: acknowledged payload never
    /// counts beyond it (TLS record overhead is acknowledged too).
    progress: Arc<Mutex<UploadProgress>>,
    /// Estimated request head bytes on the wire, not payload.
    head: u64,
    /// `tcpi_bytes_acked` when the request started; `None` when the kernel
    /// does not report it (then only "handed over" is known).
    acked0: Option<u64>,
    /// Acknowledged payload so far (uncapped), when known.
    acked: Option<u64>,
    /// When the acknowledged count last grew (the request start before).
    grew_at: Instant,
}

/// Everything sampled while a request is in flight.
pub(super) struct Meter {
    info: Option<TcpInfoSource>,
    pub down: Timeline,
    up: Option<UpMeter>,
    pub next_tick: Instant,
    last_info: Option<TcpInfo>,
}

impl Meter {
    /// `upload`: the body's progress and the estimated request head bytes
    /// of a POST.
    pub fn new(
        t_req: Instant,
        window: Duration,
        info: Option<TcpInfoSource>,
        upload: Option<(Arc<Mutex<UploadProgress>>, u64)>,
    ) -> Meter {
        let mut m = Meter {
            down: Timeline::new(t_req, window),
            up: None,
            next_tick: t_req + window,
            last_info: None,
            info,
        };
        let acked0 = m.sample().and_then(|i| i.bytes_acked);
        m.up = upload.map(|(progress, head)| UpMeter {
            timeline: Timeline::new(t_req, window),
            progress,
            head,
            acked0,
            acked: acked0.map(|_| 0),
            grew_at: t_req,
        });
        m
    }

    fn sample(&mut self) -> Option<TcpInfo> {
        let s = self.info.as_ref().and_then(TcpInfoSource::sample);
        if s.is_some() {
            self.last_info = s;
        }
        s
    }

    /// Count what the peer has acknowledged of the upload by `at`.
    fn count_acked(&mut self, at: Instant, s: Option<TcpInfo>) {
        let Some(up) = self.up.as_mut() else { return };
        let (Some(base), Some(now)) = (up.acked0, s.and_then(|i| i.bytes_acked)) else {
            return;
        };
        let payload = now.saturating_sub(base).saturating_sub(up.head);
        if payload > up.acked.unwrap_or(0) {
            up.grew_at = at;
            up.acked = Some(payload);
        }
        let sent = up.progress.lock().unwrap().sent;
        up.timeline.set_total(at, payload.min(sent));
    }

    /// One window tick: sample TCP_INFO into the windows, count acked upload.
    pub fn tick(&mut self) {
        let now = Instant::now();
        // Attribute the sample to the window that ends at the scheduled tick
        // (the timer may fire a little late; the state is that of the end of
        // that window, not of the next one).
        let at = self
            .next_tick
            .min(now)
            .checked_sub(Duration::from_micros(1))
            .unwrap_or(now);
        let s = self.sample();
        self.down.sample_tcp(at, s);
        if let Some(up) = self.up.as_mut() {
            up.timeline.sample_tcp(at, s);
        }
        self.count_acked(now, s);
        let w = self.down.window();
        while self.next_tick <= now {
            self.next_tick += w;
        }
    }

    /// Sample the acknowledged upload now (at a cap, the response, the end).
    pub fn sample_upload(&mut self, now: Instant) {
        if self.up.is_some() {
            let s = self.sample();
            self.count_acked(now, s);
        }
    }

    /// When the upload's acknowledgements last progressed; `None` when not
    /// an upload or the kernel does not report acknowledged bytes.
    pub fn ack_progress_at(&self) -> Option<Instant> {
        self.up
            .as_ref()
            .filter(|u| u.acked.is_some())
            .map(|u| u.grew_at)
    }

    /// Has the peer acknowledged the whole body (always true for a GET)?
    /// Never before the last body byte was handed to the connection; then
    /// exact where the socket's send queue can be read (empty = everything
    /// written was acknowledged), else from the acknowledged count, else
    /// (no TCP_INFO) the hand-over itself.
    pub fn upload_acked(&self) -> bool {
        let Some(up) = &self.up else { return true };
        let p = *up.progress.lock().unwrap();
        if p.done_at.is_none() {
            return false;
        }
        if let Some(q) = self.info.as_ref().and_then(TcpInfoSource::send_queue) {
            return q == 0;
        }
        up.acked.is_none_or(|a| a >= p.sent)
    }

    /// End of the upload: the bytes of the body the peer acknowledged,
    /// capped at what was handed over; all of it once everything written
    /// was acknowledged (the head estimate may be off by a few bytes); what
    /// was handed over where acknowledgements are not reported. The `up`
    /// timeline ends at the same count. 0 for a GET.
    pub fn settle_upload(&mut self) -> u64 {
        let all_acked = self.upload_acked();
        let Some(up) = self.up.as_mut() else { return 0 };
        let sent = up.progress.lock().unwrap().sent;
        match up.acked {
            None => sent,
            Some(_) if all_acked => {
                // The last few bytes (head estimate) belong to the last
                // acknowledgement seen, not to the end of the response.
                up.timeline.set_total(up.grew_at, sent);
                sent
            }
            Some(a) => a.min(sent),
        }
    }

    /// Turn the meters into the record's byte counts, rates and timeline rows.
    pub fn finish(&mut self, rec: &mut FetchRecord, t_req: Instant, end: Instant) {
        let windows = self.down.finish(end);
        rec.body_bytes = self.down.total();
        rec.goodput_bps =
            timeline::goodput_bps(self.down.total(), self.down.first(), self.down.last());
        if let (Some(first), Some(last)) = (self.down.first(), self.down.last()) {
            rec.steady_bps = timeline::steady_bps(&windows, first - t_req, last - t_req);
        }
        rec.peak_window_bps = timeline::peak_window_bps(&windows, self.down.window());
        rec.transfer_ms = rec
            .ttfb_ms
            .map(|ttfb| Ms(Ms::from_duration(end - t_req).0 - ttfb.0));
        let mut rows = to_rows(&windows, Direction::Down);
        if let Some(up) = self.up.as_mut() {
            let tl = &mut up.timeline;
            let up_windows = tl.finish(tl.last().unwrap_or(end));
            if let (Some(first), Some(last)) = (tl.first(), tl.last()) {
                // The one plateau estimator (crate::plateau), which reads
                // an acknowledgement staircase by its corners.
                rec.upload_bps = timeline::steady_bps(&up_windows, first - t_req, last - t_req)
                    .or_else(|| timeline::goodput_bps(tl.total(), Some(t_req), Some(last)));
            }
            rows.extend(to_rows(&up_windows, Direction::Up));
        }
        rec.timeline = rows;
        if let Some(i) = self.last_info {
            let ms = |us: Option<u32>| us.map(|u| Ms(u as f64 / 1000.0));
            rec.tcp_rtt_ms = ms(i.rtt_us);
            rec.tcp_min_rtt_ms = ms(i.min_rtt_us);
            rec.tcp_rcv_rtt_ms = ms(i.rcv_rtt_us).filter(|m| m.0 > 0.0);
            rec.tcp_retrans = i.total_retrans;
            rec.tcp_ooo = i.rcv_ooopack;
            rec.tcp_bytes_received = i.bytes_received;
            rec.tcp_bytes_acked = i.bytes_acked;
        }
    }
}

fn to_rows(windows: &[WindowSample], direction: Direction) -> Vec<Window> {
    windows
        .iter()
        .map(|w| Window {
            fetch_id: String::new(),
            direction,
            t_ms: Ms::from_duration(w.t),
            bytes: w.bytes,
            cum_bytes: w.cum_bytes,
            tcp_rtt_ms: w.tcp.and_then(|i| i.rtt_us).map(|u| Ms(u as f64 / 1000.0)),
            tcp_retrans: w.tcp.and_then(|i| i.total_retrans),
            tcp_cum_bytes: w.tcp.and_then(|i| match direction {
                Direction::Down => i.bytes_received,
                Direction::Up => i.bytes_acked,
            }),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Windows of `w` ms; bytes arrive as `step` bytes every `every` windows
    /// after an initial burst of `burst`, for `n` windows.
    fn stairs(burst: u64, step: u64, every: usize, n: usize, w: u64) -> Vec<WindowSample> {
        let mut cum = 0;
        (0..n)
            .map(|i| {
                let bytes = match i {
                    1 => burst,
                    i if i > 1 && i % every == 0 => step,
                    _ => 0,
                };
                cum += bytes;
                WindowSample {
                    t: Duration::from_millis(w * (i as u64 + 1)),
                    bytes,
                    cum_bytes: cum,
                    tcp: None,
                }
            })
            .collect()
    }

    #[test]
    fn upload_staircase_rate_comes_from_the_one_plateau_estimator() {
        // 30 KB every 1.8 s after a 31 KB burst: 133,333 bit/s, whether the
        // fetch is cut early or late in a step.
        for n in [60usize, 66, 70, 75] {
            let w = stairs(31_000, 30_000, 18, n, 100);
            let first = w[1].t;
            let last = w.iter().rev().find(|x| x.bytes > 0).unwrap().t;
            let bps = timeline::steady_bps(&w, first, last).unwrap() as f64;
            assert!((bps / 133_333.0 - 1.0).abs() < 0.05, "n={n}: {bps}");
        }
    }
}
