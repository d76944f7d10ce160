//! When rounds start and when a campaign stops.

use std::time::Duration;

use rand::Rng;
use serde::Serialize;

/// Round timing of a campaign.
///
/// Exactly one of `rounds` / `duration` is normally set: a fixed number of
/// rounds, or "whole rounds until `duration` has passed" (a round is never cut
/// short, so every round fetches every URL once and rounds stay comparable).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Schedule {
    pub rounds: Option<u32>,
    #[serde(serialize_with = "ser_opt_duration")]
    pub duration: Option<Duration>,
    /// Between round *starts* (not from the end of one round to the next).
    #[serde(serialize_with = "ser_duration")]
    pub interval: Duration,
    /// Maximum random extra delay added to each round start.
    #[serde(serialize_with = "ser_duration")]
    pub jitter: Duration,
    /// When the campaign stops: at the end of its budget, or as soon as
    /// every target row is decided. Left out of `campaign.json` (and so of
    /// the campaign hash) at its default, so older runs still `--resume`.
    #[serde(skip_serializing_if = "Until::is_budget")]
    pub until: Until,
    /// Budget in body bytes (down + up) of the run: no round starts once
    /// the run has moved this many.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_total_bytes: Option<u64>,
    /// `rounds` is the default (the file set neither `rounds` nor
    /// `duration`): `run --until decided` then widens it to the adaptive
    /// budget.
    #[serde(skip)]
    pub rounds_implicit: bool,
}

/// The campaign key `until` (and `run --until`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Until {
    /// Run every round of the budget (`rounds`, `duration`).
    #[default]
    Budget,
    /// Stop when every target row is decided, or when the budget is spent.
    Decided,
}

impl Until {
    pub fn is_budget(&self) -> bool {
        *self == Until::Budget
    }

    pub fn parse(s: &str) -> Result<Until, String> {
        match s.to_ascii_lowercase().as_str() {
            "decided" => Ok(Until::Decided),
            "budget" => Ok(Until::Budget),
            _ => Err(format!(
                "unknown value {s:?}: expected \"decided\" or \"budget\""
            )),
        }
    }
}

/// The budget of an adaptive campaign that sets neither `rounds` nor
/// `duration`: enough for an `ok` with evidence of absence on a fast
/// path, bounded so a row that never settles cannot run for ever.
pub const DEFAULT_DECIDED_ROUNDS: u32 = 40;

impl Default for Schedule {
    fn default() -> Self {
        Schedule {
            rounds: Some(1),
            duration: None,
            interval: Duration::ZERO,
            jitter: Duration::ZERO,
            until: Until::Budget,
            max_total_bytes: None,
            rounds_implicit: true,
        }
    }
}

impl Schedule {
    /// When round `round` (0-based) should start, measured from campaign start:
    /// `round × interval` plus a uniform random jitter in `[0, jitter]`.
    ///
    /// Offsets are anchored to the campaign start rather than to the end of the
    /// previous round so slow rounds do not drift the schedule; a runner whose
    /// round overran simply starts the next one at once. Jitter keeps rounds
    /// from phase-locking with periodic events on the path (cron jobs, hourly
    /// traffic patterns, a policer's refill period).
    pub fn round_start_offset<R: Rng + ?Sized>(&self, round: u32, rng: &mut R) -> Duration {
        let base = self.interval.checked_mul(round).unwrap_or(Duration::MAX);
        let max = u64::try_from(self.jitter.as_nanos()).unwrap_or(u64::MAX);
        let extra = if max == 0 {
            Duration::ZERO
        } else {
            Duration::from_nanos(rng.gen_range(0..=max))
        };
        base.saturating_add(extra)
    }

    /// Whether round `round` (0-based) should start, `elapsed` after campaign
    /// start. With `rounds`, the first `rounds` rounds start; with `duration`,
    /// a round starts only while `elapsed < duration` (and then runs to the
    /// end). If both are set, both limits apply; if neither, one round runs.
    pub fn should_start(&self, round: u32, elapsed: Duration) -> bool {
        let by_rounds = self.rounds.is_none_or(|n| round < n);
        let by_time = self.duration.is_none_or(|d| elapsed < d);
        let some_limit = self.rounds.is_some() || self.duration.is_some();
        by_rounds && by_time && (some_limit || round == 0)
    }

    /// The number of rounds if known in advance (for progress display).
    pub fn total_rounds(&self) -> Option<u32> {
        match (self.rounds, self.duration) {
            (Some(n), _) => Some(n),
            (None, Some(_)) => None,
            (None, None) => Some(1),
        }
    }
}

fn ser_duration<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&humantime::format_duration(*d).to_string())
}

fn ser_opt_duration<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => ser_duration(d, s),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn offsets_within_jitter() {
        let s = Schedule {
            interval: Duration::from_secs(300),
            jitter: Duration::from_secs(30),
            ..Schedule::default()
        };
        let mut rng = StdRng::seed_from_u64(1);
        for r in 0..100 {
            let o = s.round_start_offset(r, &mut rng);
            let base = Duration::from_secs(300) * r;
            assert!(o >= base && o <= base + Duration::from_secs(30));
        }
        let s0 = Schedule::default();
        assert_eq!(s0.round_start_offset(5, &mut rng), Duration::ZERO);
    }

    #[test]
    fn rounds_and_duration() {
        let s = Schedule {
            rounds: Some(3),
            ..Schedule::default()
        };
        assert!(s.should_start(2, Duration::from_secs(1_000_000)));
        assert!(!s.should_start(3, Duration::ZERO));

        let s = Schedule {
            rounds: None,
            duration: Some(Duration::from_secs(60)),
            ..Schedule::default()
        };
        assert!(s.should_start(0, Duration::ZERO));
        assert!(s.should_start(500, Duration::from_secs(59)));
        assert!(!s.should_start(1, Duration::from_secs(60)));
        assert_eq!(s.total_rounds(), None);

        let none = Schedule {
            rounds: None,
            ..Schedule::default()
        };
        assert!(none.should_start(0, Duration::ZERO));
        assert!(!none.should_start(1, Duration::ZERO));
    }
}
