//! What a campaign will cost before it runs: fetches, bytes each way, time.
//!
//! The question it answers is a cheap VPS's: "how much of my monthly traffic
//! quota does this campaign take, and how long is a round at worst?". Bytes
//! are counted as the run counts them (`body_bytes` down, `upload_bytes` up
//! in fetches.csv), so a run's totals can be checked against the plan; the
//! TLS and HTTP overhead per fetch is estimated separately, never mixed in.
//!
//! A download's size is in the campaign file only for a reflector (its
//! `download`, served as `/bytes/N`). Otherwise it comes, in order of
//! preference, from `Content-Length` seen by a probe fetch (`plan --probe`),
//! from earlier runs in the output directory (their `object_bytes`, the
//! Content-Length, even of fetches a cap cut short; else the body size of
//! whole fetches), or else the URL's `max_bytes` cap stands in for it and the
//! figure is an upper bound (said so).

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use crate::config::Campaign;
use crate::plan::Until;
use crate::types::stats::median_of;
use crate::types::Direction;

/// Estimated bytes per fresh TCP+TLS connection and HTTP exchange that are
/// not body bytes: server certificate chain and handshake (~4–6 KB down),
/// ClientHello and request headers (~1 KB up). Rough by nature; reported
/// apart from the body bytes so the counted figures stay exact.
pub const OVERHEAD_DOWN: u64 = 6 * 1024;
pub const OVERHEAD_UP: u64 = 1024;

/// A `[[trigger]]` study's budget: what `slowlane trigger --dry-run` prints.
#[derive(Debug, Clone, Serialize)]
pub struct TriggerCost {
    pub trigger: String,
    pub name: String,
    pub reflector: String,
    /// The most trials (class probes and minimal-substring steps).
    pub max_trials: u64,
    /// The most fetches: every trial to `max_rounds`, and the baseline.
    pub max_fetches: u64,
    pub max_down_bytes: u64,
    pub max_rounds: u32,
    pub controls: usize,
}

/// The budgets of the campaign's studies.
fn trigger_costs(c: &Campaign) -> Vec<TriggerCost> {
    c.triggers
        .iter()
        .map(|s| {
            let cfg = crate::trigger::TriggerConfig::from(s);
            let (trials, fetches) = crate::trigger::budget_fetches(&cfg);
            TriggerCost {
                trigger: s.id.clone(),
                name: s.name.clone(),
                reflector: s.reflector.clone(),
                max_trials: trials as u64,
                max_fetches: fetches,
                max_down_bytes: fetches * s.size,
                max_rounds: s.max_rounds,
                controls: s.controls.len(),
            }
        })
        .collect()
}

/// The first round after which an adaptive campaign can be decided: the
/// analyzer's default `--min-n` (fetches on each side of a comparison),
/// one per round.
pub const FIRST_LOOK_ROUNDS: u64 = 5;

/// Where a URL's expected size came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SizeSource {
    /// The configured `upload` body size (exact).
    Upload,
    /// Stated by the campaign: a `[[reflector]]`'s `download` (exact).
    Campaign,
    /// `Content-Length` of a probe fetch (`plan --probe`).
    Probe,
    /// Median body size of earlier uncapped fetches in the output directory.
    Earlier,
    /// Unknown: the `max_bytes` cap is counted (an upper bound).
    Cap,
}

/// Known download sizes by URL (as written in the campaign).
pub type Sizes = HashMap<String, u64>;

/// One URL's share of a round.
#[derive(Debug, Clone, Serialize)]
pub struct UrlCost {
    pub url: String,
    pub label: String,
    pub direction: Direction,
    /// Body bytes received per fetch (response body; for an upload, its
    /// response, counted as 0 when unknown).
    pub down_bytes: u64,
    /// Body bytes sent per fetch.
    pub up_bytes: u64,
    pub size_source: SizeSource,
    pub max_time_ms: u64,
}

/// The whole plan.
#[derive(Debug, Clone, Serialize)]
pub struct Cost {
    pub campaign: String,
    pub urls: usize,
    pub concurrency: usize,
    /// Rounds the campaign will run; `None` when only `duration` is set and
    /// there is no `interval` (rounds then follow as fast as they end).
    pub rounds: Option<u64>,
    pub fetches_per_round: u64,
    pub down_bytes_per_round: u64,
    pub up_bytes_per_round: u64,
    pub overhead_down_per_round: u64,
    pub overhead_up_per_round: u64,
    /// Longest a round can take: every fetch running to its `max_time`,
    /// packed onto `concurrency` slots longest first.
    pub max_round_ms: u64,
    pub total_fetches: Option<u64>,
    pub total_down_bytes: Option<u64>,
    pub total_up_bytes: Option<u64>,
    /// Whether any download size is the `max_bytes` cap (totals are then
    /// upper bounds).
    pub upper_bound: bool,
    /// `until`: `budget` (every round runs) or `decided`.
    pub until: Until,
    /// The byte budget (`max_total_bytes`), if any.
    pub max_total_bytes: Option<u64>,
    /// `until = "decided"`: the cheap end of the range — every target row
    /// decided at the first look, after [`FIRST_LOOK_ROUNDS`] rounds (or
    /// the budget, if smaller). The `total_*` fields are the other end: the
    /// budget spent.
    pub first_look: Option<FirstLook>,
    pub per_url: Vec<UrlCost>,
    /// The `[[trigger]]` studies run after the rounds: each at most its
    /// budget, which the `total_*` and `first_look` figures include.
    pub triggers: Vec<TriggerCost>,
}

/// The cost of an adaptive campaign decided at its first look.
#[derive(Debug, Clone, Serialize)]
pub struct FirstLook {
    pub rounds: u64,
    pub fetches: u64,
    pub down_bytes: u64,
    pub up_bytes: u64,
}

/// Compute the plan of `c` with the download sizes known so far.
pub fn cost(c: &Campaign, probed: &Sizes, earlier: &Sizes) -> Cost {
    let per_url: Vec<UrlCost> = c
        .targets
        .iter()
        .map(|t| {
            let url = t.url.to_string();
            let (direction, down, up, source) = if t.upload > 0 {
                let resp = earlier.get(&url).copied().unwrap_or(0);
                (Direction::Up, resp, t.upload, SizeSource::Upload)
            } else if let Some(n) = t.size {
                (Direction::Down, n, 0, SizeSource::Campaign)
            } else if let Some(&n) = probed.get(&url) {
                (Direction::Down, n, 0, SizeSource::Probe)
            } else if let Some(&n) = earlier.get(&url) {
                (Direction::Down, n, 0, SizeSource::Earlier)
            } else {
                (Direction::Down, t.options.max_bytes, 0, SizeSource::Cap)
            };
            UrlCost {
                label: t.label.clone(),
                url,
                direction,
                // A body never exceeds the cap, whatever the server says.
                down_bytes: down.min(t.options.max_bytes),
                up_bytes: up,
                size_source: source,
                max_time_ms: t.options.max_time.as_millis() as u64,
            }
        })
        .collect();
    let n = per_url.len() as u64;
    let down: u64 = per_url.iter().map(|u| u.down_bytes).sum();
    let up: u64 = per_url.iter().map(|u| u.up_bytes).sum();
    let times: Vec<Duration> = c.targets.iter().map(|t| t.options.max_time).collect();
    let max_round = makespan(&times, c.concurrency.max(1));
    let mut rounds = planned_rounds(c);
    // The byte budget stops the run after the round that reaches it: with
    // exact sizes, that bounds the rounds too.
    let per_round = down + up;
    let by_bytes = c
        .schedule
        .max_total_bytes
        .filter(|_| per_round > 0 && !per_url.iter().any(|u| u.size_source == SizeSource::Cap))
        .map(|m| m.div_ceil(per_round).max(1));
    if let Some(b) = by_bytes {
        rounds = Some(rounds.map_or(b, |r| r.min(b)));
    }
    let until = c.schedule.until;
    let triggers = trigger_costs(c);
    let t_fetches: u64 = triggers.iter().map(|t| t.max_fetches).sum();
    let t_down: u64 = triggers.iter().map(|t| t.max_down_bytes).sum();
    let first_look = (until == Until::Decided).then(|| {
        let r = rounds.map_or(FIRST_LOOK_ROUNDS, |r| r.min(FIRST_LOOK_ROUNDS));
        FirstLook {
            rounds: r,
            fetches: r * n + t_fetches,
            down_bytes: r * down + t_down,
            up_bytes: r * up,
        }
    });
    Cost {
        campaign: c.name.clone(),
        urls: per_url.len(),
        concurrency: c.concurrency,
        rounds,
        fetches_per_round: n,
        down_bytes_per_round: down,
        up_bytes_per_round: up,
        overhead_down_per_round: n * OVERHEAD_DOWN,
        overhead_up_per_round: n * OVERHEAD_UP,
        max_round_ms: max_round.as_millis() as u64,
        total_fetches: rounds.map(|r| r * n + t_fetches),
        total_down_bytes: rounds.map(|r| r * down + t_down),
        total_up_bytes: rounds.map(|r| r * up),
        upper_bound: per_url.iter().any(|u| u.size_source == SizeSource::Cap),
        until,
        max_total_bytes: c.schedule.max_total_bytes,
        first_look,
        per_url,
        triggers,
    }
}

/// Rounds the schedule will start: `rounds`, or for a `duration` one round
/// per `interval` (a round never starts after `duration`); with neither set,
/// one. `None` when a duration has no interval: how many rounds fit then
/// depends on how fast the network is.
fn planned_rounds(c: &Campaign) -> Option<u64> {
    let s = &c.schedule;
    let rounds = s.rounds.map(u64::from);
    let Some(d) = s.duration else {
        return Some(rounds.unwrap_or(1));
    };
    if s.interval.is_zero() {
        return rounds; // bounded only by `rounds`, if set
    }
    let by_duration = d.as_nanos().div_ceil(s.interval.as_nanos()).max(1) as u64;
    Some(rounds.map_or(by_duration, |r| r.min(by_duration)))
}

/// Longest-processing-time packing of fetch caps onto `slots` parallel
/// slots: the runner starts a fetch whenever a slot frees, so this is how
/// long a round lasts if every fetch runs to its cap.
fn makespan(times: &[Duration], slots: usize) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    let mut load = vec![Duration::ZERO; slots.min(sorted.len()).max(1)];
    for t in sorted {
        let min = load.iter_mut().min().expect("at least one slot");
        *min += t;
    }
    load.into_iter().max().unwrap_or_default()
}

/// Size per URL of the downloads in an earlier `fetches.csv` (and the
/// response size of uploads), for sizing the plan from what the campaign
/// actually moved before. A download's size is the median `object_bytes`
/// (its Content-Length) where the server sent one — also of fetches a cap
/// cut short, which is how a throttled object's size is ever learnt — else
/// the median body size of its whole (uncapped, unfailed) fetches. Missing
/// file: no sizes.
pub fn earlier_sizes(fetches_csv: &Path) -> anyhow::Result<Sizes> {
    #[derive(serde::Deserialize)]
    struct Row {
        url: String,
        body_bytes: u64,
        capped: Option<String>,
        error: Option<String>,
        // Older files (and hand-made ones) may lack these columns.
        #[serde(default)]
        direction: Option<String>,
        #[serde(default)]
        object_bytes: Option<u64>,
    }
    let mut by_url: HashMap<String, Vec<u64>> = HashMap::new();
    let mut declared: HashMap<String, Vec<u64>> = HashMap::new();
    if !fetches_csv.exists() {
        return Ok(Sizes::new());
    }
    let mut r = csv::Reader::from_path(fetches_csv)
        .map_err(|e| anyhow::anyhow!("{}: {e}", fetches_csv.display()))?;
    for row in r.deserialize::<Row>() {
        // A torn or odd row says nothing about sizes: skip it, the plan is
        // an estimate and the analyzer reports such rows.
        let Ok(row) = row else { continue };
        let up = row.direction.as_deref() == Some("up");
        if let (false, Some(n)) = (up, row.object_bytes) {
            declared.entry(row.url.clone()).or_default().push(n);
        }
        if row.capped.is_some_and(|c| !c.is_empty()) || row.error.is_some_and(|e| !e.is_empty()) {
            continue;
        }
        by_url.entry(row.url).or_default().push(row.body_bytes);
    }
    // The crate's one median (the mean of the middle two for an even count,
    // as the analyzer reports it), rounded up to a whole byte: a plan of a
    // traffic quota should not round down. It used to be the upper middle
    // value, which for an even count overstated a URL by half the gap
    // between its two middle sizes and disagreed with the analyzer's
    // median of the same fetches.
    by_url.extend(declared);
    Ok(by_url
        .into_iter()
        .filter_map(|(u, v)| {
            let m = median_of(v.iter().map(|&b| b as f64))?;
            Some((u, m.ceil() as u64))
        })
        .collect())
}

impl Cost {
    /// The human summary `slowlane plan` prints.
    pub fn render(&self) -> String {
        use bytesize::ByteSize;
        let b = |n: u64| ByteSize::b(n).to_string();
        let bound = if self.upper_bound { "≤ " } else { "" };
        let mut s = format!(
            "campaign {}: {} URL{}, concurrency {}\n",
            self.campaign,
            self.urls,
            if self.urls == 1 { "" } else { "s" },
            self.concurrency
        );
        s += &format!(
            "per round: {} fetches, down {bound}{} + ≈{} TLS/HTTP, up {} + ≈{}, at most {}\n",
            self.fetches_per_round,
            b(self.down_bytes_per_round),
            b(self.overhead_down_per_round),
            b(self.up_bytes_per_round),
            b(self.overhead_up_per_round),
            humantime::format_duration(Duration::from_millis(self.max_round_ms)),
        );
        for t in &self.triggers {
            s += &format!(
                "trigger study {} (after the rounds): {} at {}, at most {} trials, {} fetches, \
                 down ≤ {} ({} rounds each of 1 + {} names)\n",
                t.trigger,
                t.name,
                t.reflector,
                t.max_trials,
                t.max_fetches,
                b(t.max_down_bytes),
                t.max_rounds,
                t.controls
            );
        }
        let studies = match self.triggers.len() {
            0 => String::new(),
            1 => " + 1 trigger study".to_string(),
            k => format!(" + {k} trigger studies"),
        };
        // A study's bytes are its most: the totals are then upper bounds.
        let bound = if self.triggers.is_empty() {
            bound
        } else {
            "≤ "
        };
        if let Some(f) = &self.first_look {
            let o = |x: u64| b(x * f.rounds);
            s += &format!(
                "until decided: the run costs between\n  \
                 every target row decided at the first look ({} round{}{studies}): \
                 {} fetches, down {bound}{} + ≈{}, up {} + ≈{}\n",
                f.rounds,
                if f.rounds == 1 { "" } else { "s" },
                f.fetches,
                b(f.down_bytes),
                o(self.overhead_down_per_round),
                b(f.up_bytes),
                o(self.overhead_up_per_round),
            );
        }
        let budget = if self.first_look.is_some() {
            "  and the budget spent"
        } else {
            "total"
        };
        match self.rounds {
            Some(r) => {
                let o = |x: u64| b(x * r);
                s += &format!(
                    "{budget} ({r} round{}{studies}): {} fetches, down {bound}{} + ≈{}, up {} + ≈{}\n",
                    if r == 1 { "" } else { "s" },
                    self.total_fetches.unwrap_or(0),
                    b(self.total_down_bytes.unwrap_or(0)),
                    o(self.overhead_down_per_round),
                    b(self.total_up_bytes.unwrap_or(0)),
                    o(self.overhead_up_per_round),
                );
            }
            None => {
                s += "total: unknown — `duration` without `interval` runs rounds back to back, \
                      as many as the network allows; set `interval` or `rounds` to bound it\n"
            }
        }
        if let Some(m) = self.max_total_bytes {
            let round = self.down_bytes_per_round + self.up_bytes_per_round;
            s += &format!(
                "max_total_bytes {}: no round starts once the run has moved that much; the round \
                 that reaches it ends whole (at most {bound}{} of bodies in all)\n",
                b(m),
                b(m.saturating_add(round)),
            );
        }
        let count = |src: SizeSource| self.per_url.iter().filter(|u| u.size_source == src).count();
        s += &format!(
            "sizes: {} upload, {} stated by the campaign, {} from Content-Length (--probe), {} from earlier runs, {} unknown (counted at max_bytes)\n",
            count(SizeSource::Upload),
            count(SizeSource::Campaign),
            count(SizeSource::Probe),
            count(SizeSource::Earlier),
            count(SizeSource::Cap),
        );
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn makespan_packs_longest_first() {
        let s = |x: u64| Duration::from_secs(x);
        assert_eq!(makespan(&[s(2), s(2), s(2), s(2)], 2), s(4));
        assert_eq!(makespan(&[s(5), s(1), s(1), s(1)], 2), s(5));
        assert_eq!(makespan(&[s(3)], 8), s(3));
        assert_eq!(makespan(&[], 4), Duration::ZERO);
    }

    #[test]
    fn earlier_sizes_take_the_median_of_uncapped_fetches() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("fetches.csv");
        std::fs::write(
            &csv,
            "url,body_bytes,capped,error\n\
             a,100,,\n\
             a,201,,\n\
             a,9999,time,\n\
             b,5,,\n\
             b,1,,\n\
             b,3,,\n\
             b,0,,reset\n",
        )
        .unwrap();
        let s = earlier_sizes(&csv).unwrap();
        // Even count: the mean of the middle two (150.5), rounded up.
        assert_eq!(s["a"], 151);
        assert_eq!(s["b"], 3);
        assert_eq!(s.len(), 2);
        assert!(earlier_sizes(&dir.path().join("none.csv"))
            .unwrap()
            .is_empty());
    }

    /// A throttled download is capped by `max_time` every time: its size
    /// is still known from its Content-Length (`object_bytes`), which wins
    /// over the body sizes of whole fetches. Uploads' object_bytes is the
    /// body sent, not the response: never taken as a download size.
    #[test]
    fn earlier_sizes_prefer_content_length_even_of_capped_fetches() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("fetches.csv");
        std::fs::write(
            &csv,
            "url,direction,body_bytes,object_bytes,capped,error\n\
             photo,down,31000,600000,time,\n\
             photo,down,30000,600000,time,\n\
             page,down,30000,30000,,\n\
             nolen,down,700,,,\n\
             up,up,50,200000,,\n",
        )
        .unwrap();
        let s = earlier_sizes(&csv).unwrap();
        assert_eq!(s["photo"], 600_000);
        assert_eq!(s["page"], 30_000);
        assert_eq!(s["nolen"], 700);
        assert_eq!(s["up"], 50);
    }
}
