//! Token-bucket limiters for one direction of a relayed connection.
//!
//! A real policer drops packets over the rate and TCP reacts with loss
//! recovery: from the receiver's side that is a burst, a stall, a burst. A
//! userspace relay cannot drop bytes (its TCP legs are reliable), so the
//! policer here *models* the drops as stalls: it releases the whole bucket at
//! once, and when the bucket is empty it holds the flow until the bucket is
//! full again. The long-run rate is exactly the token rate (no token is lost
//! while data waits), the short-run shape is a staircase of `burst`-sized
//! steps every `burst / rate` seconds — with 16 KiB at 131072 bit/s that is the
//! "16 KB then ~900 ms of nothing" seen in 2021. Unlike a real policer there
//! are no retransmissions and no cwnd collapse, so goodput does not fall
//! *below* the rate and the RTT a client measures stays flat.
//!
//! The shaper paces small quanta on a virtual clock, so the byte count grows
//! along a straight line (what a queueing shaper delivers), with no stalls.

use std::time::Duration;

use tokio::time::Instant;

use super::units::{Rate, Size};

/// Granularity of the shaper: about this much time's worth of bytes per write.
const SHAPE_TICK: Duration = Duration::from_millis(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Police,
    Shape,
}

/// A rate limiter for one direction; see the module docs for the semantics.
#[derive(Debug)]
pub struct Limiter {
    mode: Mode,
    /// Bytes per second.
    rate: f64,
    /// Bucket depth in bytes.
    cap: f64,
    /// Largest single grant (shaper quantum, or the whole bucket).
    quantum: usize,
    tokens: f64,
    last: Instant,
    /// Police only: the bucket ran dry and must refill completely first.
    stalled: bool,
}

impl Limiter {
    /// A policer with a full bucket of `burst` bytes (at least 1500).
    pub fn police(rate: Rate, burst: Size) -> Limiter {
        let cap = burst.0.max(1500) as f64;
        Limiter {
            mode: Mode::Police,
            rate: rate.bytes_per_sec(),
            cap,
            quantum: cap as usize,
            tokens: cap,
            last: Instant::now(),
            stalled: false,
        }
    }

    /// A shaper starting with an empty bucket, so pacing starts at once.
    pub fn shape(rate: Rate) -> Limiter {
        let r = rate.bytes_per_sec();
        let quantum = (r * SHAPE_TICK.as_secs_f64()).clamp(512.0, 65536.0) as usize;
        Limiter {
            mode: Mode::Shape,
            rate: r,
            // Room for a few quanta, so a late timer wake-up is made up for
            // on the next grant instead of being lost from the rate.
            cap: quantum as f64 * 4.0,
            quantum,
            tokens: 0.0,
            last: Instant::now(),
            stalled: false,
        }
    }

    /// The largest number of bytes one grant can return: the pump's read size.
    pub fn max_grant(&self) -> usize {
        self.quantum
    }

    fn refill(&mut self, now: Instant, cap: bool) {
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens += dt * self.rate;
        if cap {
            self.tokens = self.tokens.min(self.cap);
        }
    }

    /// Waits until bytes may pass and returns how many (1..=`want`).
    pub async fn grant(&mut self, want: usize) -> usize {
        let want = want.max(1);
        self.refill(Instant::now(), !self.stalled);
        let need = match self.mode {
            // After running dry, wait for a full bucket: that wait is the
            // "stall" a policer's drops cause.
            Mode::Police if self.stalled => self.cap,
            Mode::Police => 1.0,
            Mode::Shape => want.min(self.quantum) as f64,
        };
        if self.tokens < need {
            let wait = (need - self.tokens) / self.rate;
            tokio::time::sleep(Duration::from_secs_f64(wait)).await;
            // Not capped: oversleeping must not cost tokens, or the
            // long-run rate would drift below the configured one.
            self.refill(Instant::now(), false);
        }
        self.stalled = false;
        let n = (self.tokens.floor() as usize)
            .min(want)
            .min(self.quantum)
            .max(1);
        self.tokens -= n as f64;
        if self.mode == Mode::Police && self.tokens < 1.0 {
            self.stalled = true;
        }
        n
    }
}

/// One FIFO queue shared by every connection a `shape { shared = true }`
/// rule applies to, per direction: a kernel htb class with a long pfifo.
///
/// Modelled on a virtual clock: `tail` is when the last admitted byte
/// leaves. A chunk admitted at `now` leaves at `max(tail, now) + len / rate`,
/// so chunks of all connections leave one after another at exactly `rate`,
/// in admission order, and the backlog is `(tail - now) * rate` bytes. A
/// chunk is admitted only when it fits in `queue`; a full queue pushes back
/// on the sender (TCP flow control) instead of dropping. Waiting for room
/// is first come, first served (a fair async mutex), so backlogged
/// connections take turns chunk by chunk and a new connection's first bytes
/// — its TLS handshake — wait about `queue / rate` behind everyone's.
#[derive(Debug)]
pub struct SharedShaper {
    rate: f64,
    cap: f64,
    quantum: usize,
    tail: tokio::sync::Mutex<Instant>,
}

impl SharedShaper {
    pub fn new(rate: Rate, queue: Size) -> SharedShaper {
        let r = rate.bytes_per_sec();
        let cap = (queue.0 as f64).max(1500.0);
        let quantum = (r * SHAPE_TICK.as_secs_f64())
            .clamp(512.0, 65536.0)
            .min(cap) as usize;
        SharedShaper {
            rate: r,
            cap,
            quantum,
            tail: tokio::sync::Mutex::new(Instant::now()),
        }
    }

    /// Largest chunk one admission takes: the pump's read size.
    pub fn max_grant(&self) -> usize {
        self.quantum
    }

    /// Waits for room for `len` bytes (≤ [`Self::max_grant`]) and returns
    /// when they leave the queue.
    pub async fn admit(&self, len: usize) -> Instant {
        let len = len.clamp(1, self.quantum) as f64;
        let mut tail = self.tail.lock().await;
        loop {
            let now = Instant::now();
            let start = (*tail).max(now);
            let backlog = start.duration_since(now).as_secs_f64() * self.rate;
            if backlog + len <= self.cap {
                *tail = start + Duration::from_secs_f64(len / self.rate);
                return *tail;
            }
            let wait = (backlog + len - self.cap) / self.rate;
            tokio::time::sleep(Duration::from_secs_f64(wait)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn police_releases_bucket_then_stalls() {
        // 16 KiB bucket refilled at 160 KiB/s: a 100 ms stall.
        let mut l = Limiter::police(Rate(16384 * 8 * 10), Size(16384));
        let t0 = Instant::now();
        assert_eq!(l.grant(100_000).await, 16384);
        assert!(t0.elapsed() < Duration::from_millis(20));
        assert_eq!(l.grant(100_000).await, 16384);
        let waited = t0.elapsed().as_secs_f64();
        assert!((0.099..0.15).contains(&waited), "{waited}");
    }

    #[tokio::test]
    async fn shaper_long_run_rate_is_exact() {
        let mut l = Limiter::shape(Rate(1_000_000));
        let t0 = Instant::now();
        let mut sent = 0usize;
        while sent < 50_000 {
            sent += l.grant(65536).await;
        }
        let rate = sent as f64 * 8.0 / t0.elapsed().as_secs_f64();
        assert!((rate / 1e6 - 1.0).abs() < 0.03, "{rate}");
    }

    #[tokio::test]
    async fn shared_queue_is_fifo_and_bounded() {
        // 100 kB/s, 50 kB queue, 1 kB quanta (10 ms each).
        let q = SharedShaper::new(Rate(800_000), Size(50_000));
        assert_eq!(q.max_grant(), 1000);
        let t0 = Instant::now();
        // Fill the queue: 50 chunks admitted at once, leaving 10 ms apart.
        let first = q.admit(1000).await;
        let mut last = first;
        for _ in 1..50 {
            let leaves = q.admit(1000).await;
            assert_eq!(leaves - last, Duration::from_millis(10));
            last = leaves;
        }
        assert!(t0.elapsed() < Duration::from_millis(40), "room: no wait");
        // The next chunk waits for room, then leaves behind the whole queue.
        let leaves = q.admit(1000).await;
        assert!(
            t0.elapsed() >= Duration::from_millis(9),
            "{:?}",
            t0.elapsed()
        );
        assert_eq!(leaves - last, Duration::from_millis(10));
    }
}
