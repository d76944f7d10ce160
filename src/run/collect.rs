//! The one consumer of fetch records during a run.
//!
//! Runs on a blocking thread: CSV appends, histogram updates and the
//! progress bar never stall the async fetches, and a slow disk shows up as a
//! growing channel rather than as inflated measurement times.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use tokio::sync::mpsc::UnboundedReceiver;

use super::progress::Progress;
use crate::record::histograms::Histograms;
use crate::record::rounds::{RoundEnd, RoundLog, RoundRow, StopReason};
use crate::record::sink::Sink;
use crate::report::classes::ClassTable;
use crate::types::FetchRecord;

/// What the scheduler sends the writer.
#[derive(Debug)]
pub enum Msg {
    Fetch(Box<FetchRecord>),
    /// All fetches of this round are sent.
    RoundEnd {
        round: u32,
        started: SystemTime,
        /// When its last fetch finished, stamped by the scheduler before the
        /// next round can start (the writer may get here later).
        ended: SystemTime,
        /// The highest `fetch_id` sequence number used so far.
        last_seq: u64,
        end: RoundEnd,
        /// Set when the run stops after this round.
        stop_reason: Option<StopReason>,
        /// `until = "decided"`: target rows decided / undecided.
        tally: Option<super::Tally>,
    },
}

pub struct Summary {
    pub fetches: u64,
    pub errors: u64,
    pub failures: super::diagnose::Failures,
    pub table: ClassTable,
}

/// Write every record; at each round end write its histograms, `fdatasync`
/// the CSVs and then log the round in `rounds.csv` (so a logged round's
/// rows are on disk).
pub fn collect(
    mut sink: Sink,
    mut log: RoundLog,
    run_id: &str,
    mut rx: UnboundedReceiver<Msg>,
    progress: Progress,
    out: &Path,
) -> anyhow::Result<Summary> {
    let mut in_round = 0;
    let mut slowest = None;
    let mut last_slowest = None;
    let mut hist = Histograms::new();
    let mut s = Summary {
        fetches: 0,
        errors: 0,
        failures: Default::default(),
        table: ClassTable::default(),
    };
    while let Some(msg) = rx.blocking_recv() {
        match msg {
            Msg::Fetch(rec) => {
                sink.write(&rec)?;
                in_round += 1;
                hist.record(&rec);
                s.fetches += 1;
                s.errors += rec.error.is_some() as u64;
                s.failures.add(&rec);
                s.table.add(&rec);
                // The slowest class is a median over all rates so far:
                // computed per fetch it made a long run quadratic, and the
                // writer fell behind. Once a second, and only for a bar.
                let due =
                    last_slowest.is_none_or(|t: Instant| t.elapsed() >= Duration::from_secs(1));
                if progress.shows_bar() && due {
                    slowest = s.table.slowest();
                    last_slowest = Some(Instant::now());
                }
                progress.update(rec.round, s.errors, slowest.clone());
            }
            Msg::RoundEnd {
                round,
                started,
                ended,
                last_seq,
                end,
                stop_reason,
                tally,
            } => {
                hist.write_round(out, round, started, ended)
                    .with_context(|| format!("{}: writing histograms", out.display()))?;
                sink.sync()?;
                let stamp = |t| humantime::format_rfc3339_micros(t).to_string();
                log.append(&RoundRow {
                    run_id: run_id.to_string(),
                    round,
                    started_at: stamp(started),
                    ended_at: stamp(ended),
                    fetches: in_round,
                    last_seq,
                    end,
                    stop_reason,
                })
                .with_context(|| format!("{}: writing rounds.csv", out.display()))?;
                in_round = 0;
                progress.round_end(round, s.fetches, s.errors, tally, stop_reason);
            }
        }
    }
    sink.sync()?;
    progress.finish();
    Ok(s)
}
