//! Running a campaign: rounds of shuffled fetches, results to one sink.
//!
//! The scheduler (this file) decides *when* each fetch starts; `probe` does
//! the fetch; every record goes over a channel to a single writer thread
//! (`collect`) that appends it to the CSVs, feeds the histograms, the
//! per-class table and the progress bar. One writer means rows never
//! interleave and the files stay consistent whatever the concurrency.

mod collect;
mod progress;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use serde_json::json;
use tokio::sync::{mpsc, Notify, Semaphore};
use tokio::task::JoinSet;

use crate::config::Campaign;
use crate::plan::{self, Plan};
use crate::probe::{self, Prepared};
use crate::record::meta::{self, HostFacts};
use crate::record::sink::Sink;
use crate::record::FetchRecord;
use crate::report::classes::ClassTable;
pub use collect::Msg;

#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub quiet: bool,
}

/// How a run ended.
#[derive(Debug)]
pub struct RunOutcome {
    pub out: PathBuf,
    pub run_id: String,
    pub seed: u64,
    pub fetches: u64,
    pub errors: u64,
    pub rounds: u32,
    /// Stopped by Ctrl-C (exit code 130).
    pub interrupted: bool,
    pub table: ClassTable,
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

/// A stop request (Ctrl-C) that tasks can poll or wait on.
#[derive(Default)]
struct Stop {
    flag: AtomicBool,
    notify: Notify,
}

impl Stop {
    fn set(&self) {
        self.flag.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }
    fn is_set(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }
    async fn wait(&self) {
        let notified = self.notify.notified();
        if self.is_set() {
            return;
        }
        notified.await
    }
}

/// Run `c` to completion (or Ctrl-C).
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
    let seed = c.seed.unwrap_or_else(plan::random_seed);
    let started = SystemTime::now();
    let run_id = make_run_id(started);

    let sink = Sink::open(&c.out).map_err(|e| RunError::Output(e.into()))?;
    let description = json!({
        "run_id": run_id,
        "slowlane_version": env!("CARGO_PKG_VERSION"),
        "started_at": humantime::format_rfc3339_seconds(started).to_string(),
        "seed": seed,
        "host": HostFacts::gather(),
        "campaign": c,
    });
    meta::append_run(&c.out, description)
        .map_err(|e| RunError::Output(anyhow::anyhow!("{}: {e}", c.out.display())))?;

    let total = c.schedule.rounds.map(|r| r as u64 * prepared.len() as u64);
    let (tx, rx) = mpsc::unbounded_channel::<Msg>();
    let stop = Arc::new(Stop::default());
    let writer = {
        let stop = stop.clone();
        let progress = progress::Progress::new(opts.quiet, total, c.schedule.rounds);
        let out = c.out.clone();
        tokio::task::spawn_blocking(move || {
            let r = collect::collect(sink, rx, progress, &out);
            if r.is_err() {
                stop.set(); // output is broken: stop measuring
            }
            r
        })
    };
    let ctrl_c = {
        let stop = stop.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!(
                    "slowlane: stopping: finishing fetches in flight (Ctrl-C again to quit now)"
                );
                stop.set();
                if tokio::signal::ctrl_c().await.is_ok() {
                    std::process::exit(130);
                }
            }
        })
    };

    let plan = Plan::new(prepared.len(), seed);
    let sem = Arc::new(Semaphore::new(c.concurrency.max(1)));
    let t0 = Instant::now();
    let mut seq: u64 = 0;
    let mut rounds_done = 0;
    for round in 0u32.. {
        if stop.is_set() || !c.schedule.should_start(round, t0.elapsed()) {
            break;
        }
        let at = t0
            + c.schedule
                .round_start_offset(round, &mut plan.round_rng(round));
        tokio::select! {
            _ = tokio::time::sleep_until(at.into()) => {}
            _ = stop.wait() => break,
        }
        let round_started = SystemTime::now();
        let mut set = JoinSet::new();
        for idx in plan.order(round) {
            let permit = tokio::select! {
                p = sem.clone().acquire_owned() => p.expect("semaphore open"),
                _ = stop.wait() => break,
            };
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
            set.spawn(async move {
                let mut rec = probe::fetch(&p).await;
                ids.apply(&mut rec);
                let _ = tx.send(Msg::Fetch(Box::new(rec)));
                drop(permit);
            });
        }
        while let Some(done) = set.join_next().await {
            // A panic in one fetch is a bug, not data: say so, keep measuring.
            if let Err(e) = done {
                eprintln!("slowlane: internal error in a fetch (please report): {e}");
            }
        }
        let _ = tx.send(Msg::RoundEnd(round, round_started));
        rounds_done = round + 1;
    }
    drop(tx);
    ctrl_c.abort();
    let summary = writer
        .await
        .map_err(|e| RunError::Output(anyhow::anyhow!("writer thread failed: {e}")))?
        .map_err(RunError::Output)?;
    Ok(RunOutcome {
        out: c.out.clone(),
        run_id,
        seed,
        fetches: summary.fetches,
        errors: summary.errors,
        rounds: rounds_done,
        interrupted: stop.is_set(),
        table: summary.table,
    })
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

/// `20261127T223703Z-3fa2`: sortable by time, unique across runs into one dir.
fn make_run_id(t: SystemTime) -> String {
    let ts = humantime::format_rfc3339_seconds(t).to_string();
    let compact: String = ts.chars().filter(|c| *c != '-' && *c != ':').collect();
    format!("{compact}-{:04x}", rand::random::<u16>())
}
