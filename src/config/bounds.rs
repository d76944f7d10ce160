//! Upper and lower bounds on every duration, size and count a campaign file
//! or a flag can set, checked when the value is read.
//!
//! Why bounds at all: a value far outside anything a measurement needs is a
//! typo (`"300000000000y"`), and unchecked it either panics deep in the runtime
//! (an `Instant` overflow, a semaphore over its permit limit) or quietly measures
//! something else (a 1 ns `duration` runs no round). Each limit is generous for
//! real use and documented in docs/campaign.md; keep the two in step.

use std::time::Duration;

use super::parse::{parse_duration, parse_size};

const SECOND: Duration = Duration::from_secs(1);
const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(24 * 3600);

/// `max_time`, `connect_timeout`, `tls_timeout`, `ttfb_timeout`: 1 hour.
pub const MAX_FETCH_TIME: Duration = HOUR;
/// `window`: at least 1 ms (finer windows are timer noise) and at most 1 hour.
pub const MIN_WINDOW: Duration = Duration::from_millis(1);
pub const MAX_WINDOW: Duration = HOUR;
/// `interval` and `jitter`: 30 days.
pub const MAX_INTERVAL: Duration = Duration::from_secs(30 * 24 * 3600);
/// `duration`: at least one round (1 s, and not less than `interval`), at
/// most 366 days.
pub const MIN_DURATION: Duration = SECOND;
pub const MAX_DURATION: Duration = Duration::from_secs(366 * 24 * 3600);
/// `rounds`: 1 to 1,000,000.
pub const MAX_ROUNDS: u32 = 1_000_000;
/// `concurrency`: 1 to 4096.
pub const MAX_CONCURRENCY: usize = 4096;
/// `max_bytes` and `upload`: 1 TiB.
pub const MAX_SIZE: u64 = 1 << 40;

/// A per-fetch time limit (`max_time` and the phase timeouts): more than 0,
/// at most [`MAX_FETCH_TIME`].
pub fn check_fetch_time(d: Duration) -> Result<Duration, String> {
    if d.is_zero() {
        return Err("must be more than 0".into());
    }
    at_most(d, MAX_FETCH_TIME)
}

/// A timeline window width: [`MIN_WINDOW`]..=[`MAX_WINDOW`].
pub fn check_window(d: Duration) -> Result<Duration, String> {
    if d < MIN_WINDOW {
        return Err("is shorter than the minimum, 1ms".into());
    }
    at_most(d, MAX_WINDOW)
}

/// `interval` or `jitter`: 0..=[`MAX_INTERVAL`].
pub fn check_interval(d: Duration) -> Result<Duration, String> {
    at_most(d, MAX_INTERVAL)
}

/// `duration`: at least one round — [`MIN_DURATION`] and at least `interval`
/// (a shorter one would start no round, or cut the schedule's only round
/// period short) — and at most [`MAX_DURATION`].
pub fn check_duration(d: Duration, interval: Duration) -> Result<Duration, String> {
    let min = MIN_DURATION.max(interval);
    if d < min {
        let why = if interval > MIN_DURATION {
            format!("the `interval` ({})", fmt_duration(interval))
        } else {
            "1s".to_string()
        };
        return Err(format!("is shorter than one round: the minimum is {why}"));
    }
    at_most(d, MAX_DURATION)
}

/// `rounds`: 1..=[`MAX_ROUNDS`].
pub fn check_rounds(n: i64) -> Result<u32, String> {
    match u32::try_from(n) {
        Ok(r) if (1..=MAX_ROUNDS).contains(&r) => Ok(r),
        _ => Err(format!("must be between 1 and {MAX_ROUNDS}")),
    }
}

/// `concurrency`: 1..=[`MAX_CONCURRENCY`].
pub fn check_concurrency(n: i64) -> Result<usize, String> {
    match usize::try_from(n) {
        Ok(c) if (1..=MAX_CONCURRENCY).contains(&c) => Ok(c),
        _ => Err(format!("must be between 1 and {MAX_CONCURRENCY}")),
    }
}

/// `max_bytes` / `upload`: at most [`MAX_SIZE`] (1 TiB).
pub fn check_size(n: u64) -> Result<u64, String> {
    if n > MAX_SIZE {
        return Err("is more than the maximum, 1TiB".into());
    }
    Ok(n)
}

fn at_most(d: Duration, max: Duration) -> Result<Duration, String> {
    if d > max {
        return Err(format!("is longer than the maximum, {}", fmt_duration(max)));
    }
    Ok(d)
}

fn fmt_duration(d: Duration) -> String {
    if d >= DAY && d.as_secs().is_multiple_of(DAY.as_secs()) && d.subsec_nanos() == 0 {
        return format!("{}d", d.as_secs() / DAY.as_secs());
    }
    humantime::format_duration(d).to_string()
}

// Flag parsers (clap `value_parser`s) with the same bounds as the file keys.

/// `--max-time`, `--connect-timeout`, `--tls-timeout`, `--ttfb-timeout`.
pub fn parse_fetch_time(s: &str) -> Result<Duration, String> {
    parse_duration(s).and_then(|d| named(s, check_fetch_time(d)))
}

/// `--window`.
pub fn parse_window(s: &str) -> Result<Duration, String> {
    parse_duration(s).and_then(|d| named(s, check_window(d)))
}

/// `--max-bytes` (more than 0).
pub fn parse_max_bytes(s: &str) -> Result<u64, String> {
    match parse_size(s).and_then(|n| named(s, check_size(n)))? {
        0 => named(s, Err("must be more than 0".into())),
        n => Ok(n),
    }
}

/// `--upload`.
pub fn parse_upload(s: &str) -> Result<u64, String> {
    parse_size(s).and_then(|n| named(s, check_size(n)))
}

/// `--rounds`.
pub fn parse_rounds(s: &str) -> Result<u32, String> {
    let n: i64 = s
        .trim()
        .parse()
        .map_err(|_| format!("invalid number {s:?}"))?;
    named(s, check_rounds(n))
}

/// Put the value as typed in front of a bound's message.
fn named<T>(s: &str, r: Result<T, String>) -> Result<T, String> {
    r.map_err(|e| format!("{} {e}", s.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_hold_at_the_edges() {
        assert!(check_fetch_time(HOUR).is_ok());
        assert!(check_fetch_time(HOUR + Duration::from_nanos(1)).is_err());
        assert!(check_fetch_time(Duration::ZERO).is_err());
        assert!(check_window(Duration::from_micros(999)).is_err());
        assert!(check_window(MIN_WINDOW).is_ok());
        assert!(check_interval(MAX_INTERVAL).is_ok());
        assert!(check_interval(MAX_INTERVAL + SECOND).is_err());
        assert!(check_duration(Duration::from_nanos(1), Duration::ZERO).is_err());
        assert!(check_duration(SECOND, Duration::ZERO).is_ok());
        assert!(check_duration(Duration::from_secs(60), Duration::from_secs(300)).is_err());
        assert!(check_duration(MAX_DURATION + SECOND, Duration::ZERO).is_err());
        assert_eq!(check_rounds(MAX_ROUNDS as i64), Ok(MAX_ROUNDS));
        assert!(check_rounds(0).is_err() && check_rounds(i64::MAX).is_err());
        assert_eq!(check_concurrency(4096), Ok(4096));
        assert!(check_concurrency(4097).is_err() && check_concurrency(-1).is_err());
        assert!(check_size(MAX_SIZE).is_ok() && check_size(MAX_SIZE + 1).is_err());
    }

    #[test]
    fn flag_parsers_refuse_absurd_values() {
        let e = parse_fetch_time("300000000000y").unwrap_err();
        assert_eq!(e, "300000000000y is longer than the maximum, 1h");
        assert!(parse_window("500us").is_err());
        assert!(parse_max_bytes("0").is_err());
        assert!(parse_upload("2TiB").is_err());
        assert_eq!(parse_rounds("3"), Ok(3));
        assert!(parse_rounds("99999999999").is_err());
    }
}
