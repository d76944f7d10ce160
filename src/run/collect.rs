//! The one consumer of fetch records during a run.
//!
//! Runs on a blocking thread: CSV appends, histogram updates and the
//! progress bar never stall the async fetches, and a slow disk shows up as a
//! growing channel rather than as inflated measurement times.

use std::path::Path;
use std::time::SystemTime;

use anyhow::Context;
use tokio::sync::mpsc::UnboundedReceiver;

use super::progress::Progress;
use crate::record::histograms::Histograms;
use crate::record::sink::Sink;
use crate::record::FetchRecord;
use crate::report::classes::ClassTable;

/// What the scheduler sends the writer.
#[derive(Debug)]
pub enum Msg {
    Fetch(Box<FetchRecord>),
    /// All fetches of this round (which started at the given time) are sent.
    RoundEnd(u32, SystemTime),
}

pub struct Summary {
    pub fetches: u64,
    pub errors: u64,
    pub table: ClassTable,
}

pub fn collect(
    mut sink: Sink,
    mut rx: UnboundedReceiver<Msg>,
    progress: Progress,
    out: &Path,
) -> anyhow::Result<Summary> {
    let mut hist = Histograms::new();
    let mut s = Summary {
        fetches: 0,
        errors: 0,
        table: ClassTable::default(),
    };
    while let Some(msg) = rx.blocking_recv() {
        match msg {
            Msg::Fetch(rec) => {
                sink.write(&rec)?;
                hist.record(&rec);
                s.fetches += 1;
                s.errors += rec.error.is_some() as u64;
                s.table.add(&rec);
                progress.update(rec.round, s.errors, s.table.slowest());
            }
            Msg::RoundEnd(round, started) => {
                hist.write_round(out, round, started, SystemTime::now())
                    .with_context(|| format!("{}: writing histograms", out.display()))?;
                progress.round_end(round, s.fetches, s.errors);
            }
        }
    }
    progress.finish();
    Ok(s)
}
