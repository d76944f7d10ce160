//! What keeps a reflector on the open internet from being abused: the
//! limits, and the per-client request counter.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The reflector's limits (`slowlane serve` flags).
#[derive(Debug, Clone)]
pub struct Limits {
    /// Connections served at once; further ones are closed at accept.
    pub max_conns: usize,
    /// Largest `/bytes/{N}` and largest upload, per request.
    pub max_bytes: u64,
    /// Requests per client address per minute (0: no limit).
    pub per_minute: u32,
    /// Deadline for the TLS hello and handshake, and for each HTTP/1.1
    /// request head: a client trickling bytes (slowloris) is dropped.
    pub header_timeout: Duration,
    /// Lifetime of one connection, however busy.
    pub max_conn_time: Duration,
    /// How long a shutdown waits for requests in flight.
    pub grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_conns: 256,
            max_bytes: 64 << 20,
            per_minute: 600,
            header_timeout: Duration::from_secs(10),
            max_conn_time: Duration::from_secs(600),
            grace: Duration::from_secs(10),
        }
    }
}

/// Entries kept before old minutes are swept.
const SWEEP_AT: usize = 4096;
/// Hard bound on tracked addresses: past it (more distinct clients within a
/// minute than this) the counts are forgotten — failing open beats memory
/// growing with an attacker's address count.
const MAX_TRACKED: usize = 65_536;

/// Requests per client address in the current minute (a fixed window:
/// simple, and memory is one entry per recent address).
#[derive(Debug, Default)]
pub struct RateLimiter {
    per_minute: u32,
    map: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl RateLimiter {
    pub fn new(per_minute: u32) -> RateLimiter {
        RateLimiter {
            per_minute,
            map: Mutex::default(),
        }
    }

    /// Count a request from `ip`; `Err(seconds to wait)` when over the limit.
    pub fn check(&self, ip: IpAddr, now: Instant) -> Result<(), u64> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let minute = Duration::from_secs(60);
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= SWEEP_AT {
            map.retain(|_, (start, _)| now.duration_since(*start) < minute);
            if map.len() >= MAX_TRACKED {
                map.clear();
            }
        }
        let e = map.entry(ip).or_insert((now, 0));
        if now.duration_since(e.0) >= minute {
            *e = (now, 0);
        }
        if e.1 >= self.per_minute {
            let left = minute.saturating_sub(now.duration_since(e.0));
            return Err(left.as_secs().max(1));
        }
        e.1 += 1;
        Ok(())
    }

    /// Addresses tracked now (for tests of the sweep).
    pub fn tracked(&self) -> usize {
        self.map.lock().map(|m| m.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_minute_and_sweeps() {
        let r = RateLimiter::new(2);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let t = Instant::now();
        assert!(r.check(ip, t).is_ok());
        assert!(r.check(ip, t).is_ok());
        let wait = r.check(ip, t + Duration::from_secs(20)).unwrap_err();
        assert_eq!(wait, 40);
        assert!(r.check(ip, t + Duration::from_secs(61)).is_ok());
        for i in 0..(SWEEP_AT as u32 + 10) {
            let ip = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            let _ = r.check(ip, t);
        }
        // All within the minute: nothing to sweep yet.
        assert_eq!(r.tracked(), SWEEP_AT + 11);
        let later = t + Duration::from_secs(120);
        let _ = r.check("192.0.2.9".parse().unwrap(), later);
        assert!(r.tracked() < 10, "old minutes swept: {}", r.tracked());
        assert!(RateLimiter::new(0).check(ip, t).is_ok());
    }
}
