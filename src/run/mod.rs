//! Running a campaign: rounds of shuffled fetches, results to one sink.
//!
//! The scheduler (this file) decides *when* each fetch starts; `probe` does
//! the fetch; every record goes over a channel to a single writer thread
//! (`collect`) that appends it to the CSVs, feeds the histograms, the
//! per-class table and the progress bar. One writer means rows never
//! interleave and the files stay consistent whatever the concurrency.

mod adaptive;
mod catch;
mod collect;
pub mod diagnose;
mod progress;
pub mod resume;
mod signals;
mod triggers;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde_json::json;
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;

use crate::config::Campaign;
use crate::plan::{Plan, Until};
use crate::probe::{self, Prepared};
use crate::record::meta::{self, DirLock, HostFacts};
use crate::record::rounds::{RoundEnd, RoundLog, StopReason};
use crate::record::sink::Sink;
use crate::report::classes::ClassTable;
use crate::types::FetchRecord;
use adaptive::Decider;
pub use adaptive::Tally;
pub use collect::Msg;
pub use progress::decided_text;
pub use resume::Mode;
pub use signals::stop_signal;
use signals::Stop;
pub use triggers::StudyEnd;

/// The default time fetches in flight get to finish after a stop signal.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub quiet: bool,
    /// New run, `--resume` or `--once`.
    pub mode: Mode,
    /// After a stop signal, how long fetches in flight may still run.
    pub grace: Duration,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            quiet: false,
            mode: Mode::New,
            grace: DEFAULT_GRACE,
        }
    }
}

/// How a run ended.
#[derive(Debug)]
pub struct RunOutcome {
    pub out: PathBuf,
    pub run_id: String,
    pub seed: u64,
    pub fetches: u64,
    pub errors: u64,
    /// Rounds run by this invocation.
    pub rounds: u32,
    /// The first round number this invocation ran (0 for a new run).
    pub first_round: u32,
    /// Stopped by a signal.
    pub interrupted: bool,
    /// The exit code for the stopping signal (130 SIGINT, 143 SIGTERM,
    /// 129 SIGHUP).
    pub signal_exit: Option<i32>,
    /// Fetches that panicked (each written as an `unknown_failure:
    /// internal: …` row): a bug, exit 1.
    pub internal_errors: u64,
    /// What failed, for the message when nothing was measured.
    pub failures: diagnose::Failures,
    pub table: ClassTable,
    /// Why the run stopped after this invocation's last round (`None` when
    /// it ran no round).
    pub stop_reason: Option<StopReason>,
    /// `until = "decided"`: target rows decided / undecided at the end.
    pub tally: Option<Tally>,
    /// `--once`/`--resume` of an adaptive run whose target rows were all
    /// decided already: nothing was fetched.
    pub already_decided: bool,
    /// The `[[trigger]]` studies this invocation ran (after the rounds).
    pub studies: Vec<StudyEnd>,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The campaign cannot be run as written: exit 2.
    #[error("{0:#}")]
    Config(anyhow::Error),
    /// Output cannot be written: exit 1.
    #[error("{0:#}")]
    Output(anyhow::Error),
}

/// Run `c` to completion (or a stop signal).
pub async fn run_campaign(c: Campaign, opts: RunOptions) -> Result<RunOutcome, RunError> {
    let prepared: Vec<Arc<Prepared>> = c
        .targets
        .iter()
        .map(|s| {
            Prepared::new(s.clone())
                .map(Arc::new)
                .map_err(|e| e.context(format!("{}: URL {}", c.source.display(), s.url)))
        })
        .collect::<Result<_, _>>()
        .map_err(RunError::Config)?;
    if prepared.is_empty() {
        return Err(RunError::Config(anyhow::anyhow!("campaign has no URLs")));
    }
    let out_err =
        |e: &dyn std::fmt::Display| RunError::Output(anyhow::anyhow!("{}: {e}", c.out.display()));
    std::fs::create_dir_all(&c.out).map_err(|e| out_err(&e))?;
    let _lock = DirLock::acquire(&c.out).map_err(|e| out_err(&e))?;
    let hash = meta::campaign_hash(&c);
    let start = resume::plan_start(&c, &hash, opts.mode)?;
    let (run_id, seed) = (start.run_id.clone(), start.seed);
    let adaptive = c.schedule.until == Until::Decided;
    let mut decider = if adaptive {
        let mut d = Decider::new(&c.targets, &c.vantage, &run_id, &c.out, start.continued)
            .map_err(|e| out_err(&format!("{e:#}")))?;
        if start.continued {
            d.look();
        }
        Some(d)
    } else {
        None
    };
    // A continued adaptive run with nothing left to decide fetches nothing
    // but the studies it has not written yet; so does a `--resume` of a run
    // whose rounds are over.
    let decided = start.already_decided
        || (start.continued && decider.as_ref().is_some_and(|d| d.all_decided()));
    if decided || start.studies_only {
        let stop = Arc::new(Stop::new());
        let listener = signals::listen(stop.clone(), opts.grace).map_err(|e| {
            RunError::Output(anyhow::anyhow!("cannot install signal handlers: {e}"))
        })?;
        let studies = triggers::run_studies(&c, &run_id, opts.quiet, &stop).await;
        listener.abort();
        let studies = studies?;
        return Ok(RunOutcome {
            out: c.out.clone(),
            run_id,
            seed,
            fetches: 0,
            errors: 0,
            rounds: 0,
            first_round: start.first_round,
            interrupted: stop.is_set(),
            signal_exit: stop.exit_code(),
            internal_errors: studies.iter().filter(|s| s.internal_error).count() as u64,
            failures: Default::default(),
            table: ClassTable::default(),
            stop_reason: None,
            tally: decider.map(|d| d.tally),
            already_decided: decided,
            studies,
        });
    }
    let mut active = decider.as_ref().map(Decider::active);
    // Body bytes of the run so far (the `max_total_bytes` budget).
    let bytes = Arc::new(AtomicU64::new(match c.schedule.max_total_bytes {
        Some(_) if start.continued => {
            resume::run_bytes(&c.out, &run_id).map_err(|e| out_err(&e))?
        }
        _ => 0,
    }));
    let got: Option<Arc<Mutex<Vec<FetchRecord>>>> = adaptive.then(Default::default);

    let sink = Sink::open(&c.out).map_err(|e| RunError::Output(e.into()))?;
    let log = RoundLog::open(&c.out).map_err(|e| out_err(&e))?;
    if start.continued {
        resume::note_resume(&c.out, &start).map_err(|e| out_err(&e))?;
    } else {
        let description = json!({
            "run_id": run_id,
            "slowlane_version": env!("CARGO_PKG_VERSION"),
            "started_at": humantime::format_rfc3339_seconds(start.started).to_string(),
            "seed": seed,
            "campaign_sha256": hash,
            "host": HostFacts::gather(),
            "campaign": c,
        });
        meta::append_run(&c.out, description).map_err(|e| out_err(&e))?;
    }

    let once = opts.mode == Mode::Once;
    let planned_rounds = if once {
        Some(1)
    } else {
        c.schedule
            .rounds
            .map(|r| r.saturating_sub(start.first_round))
    };
    // An adaptive run's fetches are not known in advance.
    let total = planned_rounds
        .filter(|_| !adaptive)
        .map(|r| r as u64 * prepared.len() as u64);
    let (tx, rx) = mpsc::unbounded_channel::<Msg>();
    let stop = Arc::new(Stop::new());
    let writer = {
        let stop = stop.clone();
        // Round numbers continue across --resume/--once, so "round 58/100"
        // stays right; --once ignores the campaign's rounds.
        let of = if once { None } else { c.schedule.rounds };
        let progress = progress::Progress::new(opts.quiet, total, of);
        let out = c.out.clone();
        let run_id = run_id.clone();
        tokio::task::spawn_blocking(move || {
            let r = collect::collect(sink, log, &run_id, rx, progress, &out);
            if r.is_err() {
                // Output is broken: stop measuring, end what is in flight.
                stop.cut_now();
            }
            r
        })
    };
    let listener = signals::listen(stop.clone(), opts.grace)
        .map_err(|e| RunError::Output(anyhow::anyhow!("cannot install signal handlers: {e}")))?;

    let plan = Plan::new(prepared.len(), seed);
    let sem = Arc::new(Semaphore::new(
        c.concurrency.clamp(1, Semaphore::MAX_PERMITS),
    ));
    // Round offsets continue from where the run is (a resumed round R starts
    // now, R+1 one interval later); `duration` counts from the run's first
    // start, wall clock, downtime included.
    let now = Instant::now();
    let already = SystemTime::now()
        .duration_since(start.started)
        .unwrap_or(Duration::ZERO);
    let t_dur = now.checked_sub(already).unwrap_or(now);
    let t_rounds = c
        .schedule
        .interval
        .checked_mul(start.first_round)
        .and_then(|d| now.checked_sub(d))
        .unwrap_or(now);
    let cut = stop.cut();
    let internal = Arc::new(AtomicU64::new(0));
    let mut seq: u64 = start.last_seq;
    let mut rounds_done = 0;
    let mut stop_reason = None;
    let mut last_round = None;
    // Bounded: `first_round..` would overflow computing the round after
    // u32::MAX (resume starts a new run after that one; see resume.rs).
    for round in start.first_round..=u32::MAX {
        if stop.is_set() {
            break;
        }
        if once {
            if round > start.first_round {
                break;
            }
        } else {
            if !c.schedule.should_start(round, t_dur.elapsed()) {
                break;
            }
            let offset = c
                .schedule
                .round_start_offset(round, &mut plan.round_rng(round));
            let at = t_rounds
                .checked_add(offset)
                .unwrap_or_else(|| Instant::now() + Duration::from_secs(1 << 30));
            tokio::select! {
                _ = tokio::time::sleep_until(at.into()) => {}
                _ = stop.wait() => break,
            }
        }
        let round_started = SystemTime::now();
        let mut set = JoinSet::new();
        for idx in plan.order(round) {
            if active.as_ref().is_some_and(|a| !a[idx]) {
                continue;
            }
            let permit = tokio::select! {
                p = sem.clone().acquire_owned() => p.expect("semaphore open"),
                _ = stop.wait() => break,
            };
            // A finished task keeps its memory (the size of the fetch's
            // future) until joined: joined as they end, a round holds about
            // `concurrency` of them, not one per URL.
            while let Some(done) = set.try_join_next() {
                task_ended(done, &internal);
            }
            if stop.is_set() {
                break;
            }
            seq += 1;
            let p = prepared[idx].clone();
            let tx = tx.clone();
            let ids = Ids {
                campaign: c.name.clone(),
                vantage: c.vantage.clone(),
                run_id: run_id.clone(),
                round,
                fetch_id: format!("{run_id}-{seq}"),
            };
            let cut = cut.clone();
            let internal = internal.clone();
            let (got, bytes) = (got.clone(), bytes.clone());
            set.spawn(async move {
                let mut rec = match catch::catch(probe::fetch_until(&p, &cut)).await {
                    Ok(rec) => rec,
                    Err(msg) => {
                        internal.fetch_add(1, Ordering::SeqCst);
                        crate::eprintln_quiet!(
                            "slowlane: internal error in a fetch of {} (please report): {msg}",
                            p.spec.url
                        );
                        let mut rec = probe::blank_record(&p);
                        rec.error = Some(format!("unknown_failure: internal: {msg}"));
                        rec
                    }
                };
                ids.apply(&mut rec);
                bytes.fetch_add(rec.body_bytes + rec.upload_bytes, Ordering::SeqCst);
                if let Some(got) = got {
                    // The decider needs no timeline: not copied.
                    let timeline = std::mem::take(&mut rec.timeline);
                    let copy = rec.clone();
                    rec.timeline = timeline;
                    got.lock().expect("records lock").push(copy);
                }
                let _ = tx.send(Msg::Fetch(Box::new(rec)));
                drop(permit);
            });
        }
        while let Some(done) = set.join_next().await {
            task_ended(done, &internal);
        }
        let ended = SystemTime::now();
        let end = if stop.is_set() {
            RoundEnd::Stopped
        } else {
            RoundEnd::Complete
        };
        if let (Some(d), Some(got)) = (decider.as_mut(), &got) {
            d.add(std::mem::take(&mut *got.lock().expect("records lock")));
            if end == RoundEnd::Complete {
                d.look();
                active = Some(d.active());
            }
        }
        stop_reason = after_round(
            &c,
            round,
            end,
            once,
            decider.as_ref(),
            bytes.load(Ordering::SeqCst),
            t_dur.elapsed(),
        );
        let _ = tx.send(Msg::RoundEnd {
            round,
            started: round_started,
            ended,
            last_seq: seq,
            end,
            stop_reason,
            tally: decider.as_ref().map(|d| d.tally),
        });
        rounds_done += 1;
        last_round = Some(round);
        if stop_reason.is_some() {
            break;
        }
    }
    drop(tx);
    let summary = writer
        .await
        .map_err(|e| RunError::Output(anyhow::anyhow!("writer thread failed: {e}")))?
        .map_err(RunError::Output);
    // The `[[trigger]]` studies, once the rounds are over (module docs).
    let over =
        last_round.is_some_and(|r| triggers::rounds_over(&c, r, stop_reason, t_dur.elapsed()));
    let studies = match (&summary, over && !stop.is_set()) {
        (Ok(_), true) => triggers::run_studies(&c, &run_id, opts.quiet, &stop).await,
        _ => Ok(Vec::new()),
    };
    listener.abort();
    let (summary, studies) = (summary?, studies?);
    let study_bugs = studies.iter().filter(|s| s.internal_error).count() as u64;
    Ok(RunOutcome {
        out: c.out.clone(),
        run_id,
        seed,
        fetches: summary.fetches,
        errors: summary.errors,
        rounds: rounds_done,
        first_round: start.first_round,
        interrupted: stop.is_set(),
        signal_exit: stop.exit_code(),
        internal_errors: internal.load(Ordering::SeqCst) + study_bugs,
        failures: summary.failures,
        table: summary.table,
        stop_reason,
        tally: decider.map(|d| d.tally),
        already_decided: false,
        studies,
    })
}

/// Whether the run stops after `round`, and why: a signal; every target
/// decided (`until = "decided"`); one round of `--once`; the byte budget;
/// the rounds or the duration spent.
fn after_round(
    c: &Campaign,
    round: u32,
    end: RoundEnd,
    once: bool,
    decider: Option<&Decider>,
    bytes: u64,
    elapsed: Duration,
) -> Option<StopReason> {
    let s = &c.schedule;
    if end == RoundEnd::Stopped {
        return Some(StopReason::Signal);
    }
    if decider.is_some_and(Decider::all_decided) {
        return Some(StopReason::Decided);
    }
    if once {
        return Some(StopReason::Once);
    }
    if s.max_total_bytes.is_some_and(|m| bytes >= m) {
        return Some(StopReason::MaxTotalBytes);
    }
    match round.checked_add(1) {
        Some(next) if s.should_start(next, elapsed) => None,
        Some(next) if s.rounds.is_none_or(|n| next < n) && s.duration.is_some() => {
            Some(StopReason::Duration)
        }
        _ => Some(StopReason::Rounds),
    }
}

/// Only a panic outside the caught fetch (a bug in the few lines that spawn
/// it) makes a task end in an error.
fn task_ended(done: Result<(), tokio::task::JoinError>, internal: &AtomicU64) {
    if let Err(e) = done {
        internal.fetch_add(1, Ordering::SeqCst);
        crate::eprintln_quiet!("slowlane: internal error in a fetch task (please report): {e}");
    }
}

/// The identifiers the runner stamps on each record.
struct Ids {
    campaign: String,
    vantage: String,
    run_id: String,
    round: u32,
    fetch_id: String,
}

impl Ids {
    fn apply(self, rec: &mut FetchRecord) {
        for w in &mut rec.timeline {
            w.fetch_id.clone_from(&self.fetch_id);
        }
        rec.campaign = self.campaign;
        rec.vantage = self.vantage;
        rec.run_id = self.run_id;
        rec.round = self.round;
        rec.fetch_id = self.fetch_id;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn campaign(schedule: &str) -> Campaign {
        let text = format!("name = \"x\"\n{schedule}\n[[url]]\nurl = \"https://a.example/\"\n");
        crate::config::parse_campaign(&text, std::path::Path::new("c.toml")).unwrap()
    }

    /// Why a run stops after a round: signal first, then decided, --once,
    /// the byte budget, and the rounds or the duration.
    #[test]
    fn stop_reasons_in_order() {
        let s = Duration::from_secs;
        let c = campaign("rounds = 3\nmax_total_bytes = 100");
        let stop = |round, end, once, bytes| after_round(&c, round, end, once, None, bytes, s(0));
        assert_eq!(stop(0, RoundEnd::Complete, false, 0), None);
        assert_eq!(stop(1, RoundEnd::Complete, false, 99), None);
        assert_eq!(
            stop(1, RoundEnd::Complete, false, 100),
            Some(StopReason::MaxTotalBytes)
        );
        assert_eq!(
            stop(2, RoundEnd::Complete, false, 0),
            Some(StopReason::Rounds)
        );
        assert_eq!(stop(0, RoundEnd::Complete, true, 0), Some(StopReason::Once));
        assert_eq!(
            stop(0, RoundEnd::Stopped, true, 1000),
            Some(StopReason::Signal)
        );
        assert_eq!(
            after_round(&c, u32::MAX, RoundEnd::Complete, false, None, 0, s(0)),
            Some(StopReason::Rounds)
        );
        let c = campaign("duration = \"1m\"");
        let stop = |elapsed| after_round(&c, 7, RoundEnd::Complete, false, None, 0, elapsed);
        assert_eq!(stop(s(59)), None);
        assert_eq!(stop(s(60)), Some(StopReason::Duration));
        // A decider with every target decided stops the run first.
        let c = campaign("until = \"decided\"\nrounds = 9");
        let mut d =
            Decider::new(&c.targets, "v", "r", std::path::Path::new("/none"), false).unwrap();
        assert_eq!(
            after_round(&c, 0, RoundEnd::Complete, false, Some(&d), 0, s(0)),
            None
        );
        d.look();
        assert!(!d.all_decided(), "nothing measured: undecided");
    }
}
