//! Where a run starts: a new run, or the continuation of the latest one in
//! the output directory (`--resume`, `--once`).
//!
//! A continued run keeps its `run_id` and seed (so the per-round shuffles are
//! the ones a single uninterrupted run would have made), its round numbers
//! and its `fetch_id` sequence continue, and `campaign.json` notes each
//! resume. What was done is read from `rounds.csv`: the first round without
//! a line there is the one to run; its rows, if a crash left some, are moved
//! to `fetches.csv.cut` / `timeline.csv.cut` first, and it runs again whole.

use std::path::Path;
use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::config::Campaign;
use crate::plan;
use crate::record::meta;
use crate::record::repair::{after_seq, cut_tail_rows};
use crate::record::rounds::{self, StopReason};
use crate::record::sink::{FETCHES_CSV, TIMELINE_CSV};
use crate::run::RunError;

/// How to start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// A new run (round 0).
    #[default]
    New,
    /// Continue the latest run if its campaign is unchanged and it has
    /// rounds (or duration) left; refuse if the campaign changed.
    Resume,
    /// Run one round: the next of the latest run of this campaign, ignoring
    /// its rounds/duration/interval (the caller, e.g. cron, schedules).
    Once,
}

/// The run to make.
#[derive(Debug, Clone)]
pub struct Start {
    pub run_id: String,
    pub seed: u64,
    pub first_round: u32,
    /// The last `fetch_id` sequence number already used.
    pub last_seq: u64,
    /// Wall-clock start of the run (the first invocation's, when continued).
    pub started: SystemTime,
    /// Continuing an earlier invocation's run.
    pub continued: bool,
    /// `--once` on a run that stopped because every target row was decided:
    /// nothing to fetch.
    pub already_decided: bool,
    /// `--resume` of a run whose rounds are over but whose `[[trigger]]`
    /// studies are not all written: run those, fetch nothing else.
    pub studies_only: bool,
}

impl Start {
    pub fn new_run(c: &Campaign) -> Start {
        let started = SystemTime::now();
        Start {
            run_id: make_run_id(started),
            seed: c.seed.unwrap_or_else(plan::random_seed),
            first_round: 0,
            last_seq: 0,
            started,
            continued: false,
            already_decided: false,
            studies_only: false,
        }
    }
}

/// Decide where to start: a refused `--resume` is a usage error (exit 2),
/// a directory that cannot be read or repaired an output error (exit 1).
pub fn plan_start(c: &Campaign, hash: &str, mode: Mode) -> Result<Start, RunError> {
    plan(c, hash, mode).map_err(|e| match e {
        Plan::Refused(m) => RunError::Config(anyhow::anyhow!(m)),
        Plan::Io(e) => RunError::Output(e),
    })
}

enum Plan {
    Refused(String),
    Io(anyhow::Error),
}

impl<E: Into<anyhow::Error>> From<E> for Plan {
    fn from(e: E) -> Plan {
        Plan::Io(e.into())
    }
}

fn plan(c: &Campaign, hash: &str, mode: Mode) -> Result<Start, Plan> {
    if mode == Mode::New {
        return Ok(Start::new_run(c));
    }
    let out = &c.out;
    let fresh = |why: String| {
        crate::eprintln_quiet!(
            "slowlane: nothing to resume in {}: {why}; starting a new run",
            out.display()
        );
        Ok(Start::new_run(c))
    };
    let runs = meta::read_runs(out).map_err(|e| anyhow::anyhow!("{}: {e}", out.display()))?;
    let Some(latest) = runs.last() else {
        return fresh("no earlier run".into());
    };
    let run_id = latest["run_id"].as_str().unwrap_or_default().to_string();
    let (Some(seed), Some(started)) = (
        latest["seed"].as_u64(),
        latest["started_at"]
            .as_str()
            .and_then(|s| humantime::parse_rfc3339(s).ok()),
    ) else {
        return fresh(format!(
            "run {run_id} in campaign.json lacks its seed or start time"
        ));
    };
    if latest["campaign_sha256"].as_str() != Some(hash) {
        let why = format!(
            "the latest run there ({run_id}) was made from a different campaign \
             (URLs, options, schedule or seed changed{})",
            if latest.get("campaign_sha256").is_none() {
                ", or an older slowlane without a campaign hash"
            } else {
                ""
            }
        );
        if mode == Mode::Resume {
            return Err(Plan::Refused(format!(
                "--resume refused: {why}. Run without --resume to start a new run \
                 in the same directory, or use another --out"
            )));
        }
        return fresh(why);
    }
    let done: Vec<_> = rounds::read(out)?
        .into_iter()
        .filter(|r| r.run_id == run_id)
        .collect();
    let Some(first_round) = done
        .iter()
        .map(|r| r.round)
        .max()
        .map_or(Some(0), next_round)
    else {
        return fresh(format!(
            "run {run_id} has used every round number (0 to {})",
            u32::MAX
        ));
    };
    let last_seq = done.iter().map(|r| r.last_seq).max().unwrap_or(0);
    let last_stop = done
        .iter()
        .max_by_key(|r| r.round)
        .and_then(|r| r.stop_reason);
    let decided = last_stop == Some(StopReason::Decided);
    if mode == Mode::Once && decided {
        return Ok(Start {
            run_id,
            seed,
            first_round,
            last_seq,
            started,
            continued: true,
            already_decided: true,
            studies_only: false,
        });
    }
    let studies_left = || super::triggers::unfinished(c, &run_id);
    let studies_only = || {
        crate::eprintln_quiet!(
            "slowlane: run {run_id}'s rounds are over; running its unfinished [[trigger]] studies"
        );
        Ok(Start {
            run_id: run_id.clone(),
            seed,
            first_round,
            last_seq,
            started,
            continued: true,
            already_decided: false,
            studies_only: true,
        })
    };
    if mode == Mode::Resume && (decided || last_stop == Some(StopReason::MaxTotalBytes)) {
        if studies_left()? {
            return studies_only();
        }
        return fresh(format!(
            "run {run_id} is finished (it stopped at round {}: {})",
            first_round - 1,
            if decided {
                "every target row decided"
            } else {
                "max_total_bytes spent"
            }
        ));
    }
    if mode == Mode::Resume {
        let elapsed = SystemTime::now()
            .duration_since(started)
            .unwrap_or(Duration::ZERO);
        if !c.schedule.should_start(first_round, elapsed) {
            if studies_left()? {
                return studies_only();
            }
            return fresh(format!(
                "run {run_id} is finished ({first_round} round{} done{})",
                if first_round == 1 { "" } else { "s" },
                if c.schedule.duration.is_some() {
                    ", or its duration has passed"
                } else {
                    ""
                }
            ));
        }
    }
    cut_interrupted_round(out, &run_id, first_round, last_seq)?;
    crate::eprintln_quiet!(
        "slowlane: continuing run {run_id} at round {first_round} ({} round{} done)",
        done.len(),
        if done.len() == 1 { "" } else { "s" }
    );
    Ok(Start {
        run_id,
        seed,
        first_round,
        last_seq,
        started,
        continued: true,
        already_decided: false,
        studies_only: false,
    })
}

/// Body bytes (down + up) the fetches of run `run_id` in `out` moved: the
/// `max_total_bytes` budget spent before a `--resume`. Read once.
pub fn run_bytes(out: &Path, run_id: &str) -> anyhow::Result<u64> {
    #[derive(serde::Deserialize)]
    struct Row {
        run_id: String,
        #[serde(default)]
        body_bytes: Option<u64>,
        #[serde(default)]
        upload_bytes: Option<u64>,
    }
    let path = out.join(FETCHES_CSV);
    if !path.exists() {
        return Ok(0);
    }
    let mut r =
        csv::Reader::from_path(&path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(r.deserialize::<Row>()
        .filter_map(Result::ok)
        .filter(|row| row.run_id == run_id)
        .map(|row| row.body_bytes.unwrap_or(0) + row.upload_bytes.unwrap_or(0))
        .sum())
}

/// The round after `last`, none after u32::MAX (rounds never wrap to 0 in
/// the same run: its rows would read as duplicates of round 0).
fn next_round(last: u32) -> Option<u32> {
    last.checked_add(1)
}

/// Move the rows of a round cut by a crash out of the CSVs.
fn cut_interrupted_round(
    out: &Path,
    run_id: &str,
    round: u32,
    last_seq: u64,
) -> anyhow::Result<()> {
    let pred = |id: &str| after_seq(id, run_id, last_seq);
    for name in [FETCHES_CSV, TIMELINE_CSV] {
        let path = out.join(name);
        let n = cut_tail_rows(&path, "fetch_id", pred)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        if n > 0 {
            crate::eprintln_quiet!(
                "slowlane: warning: {}: round {round} of run {run_id} was cut by a crash; \
                 its rows ({n} bytes) moved to {name}.cut, the round runs again whole",
                path.display()
            );
        }
    }
    Ok(())
}

/// Note in `campaign.json` that run `run_id` was continued.
pub fn note_resume(out: &Path, s: &Start) -> std::io::Result<()> {
    let at = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    meta::update_run(out, &s.run_id, |r| {
        let entry = serde_json::json!({ "at": at, "round": s.first_round });
        match r.get_mut("resumed").and_then(Value::as_array_mut) {
            Some(a) => a.push(entry),
            None => r["resumed"] = Value::Array(vec![entry]),
        }
    })
}

/// `20261127T223703Z-3fa2`: sortable by time, unique across runs into one dir.
fn make_run_id(t: SystemTime) -> String {
    let ts = humantime::format_rfc3339_seconds(t).to_string();
    let compact: String = ts.chars().filter(|c| *c != '-' && *c != ':').collect();
    format!("{compact}-{:04x}", rand::random::<u16>())
}
