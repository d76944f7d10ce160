//! The one consumer of fetch records during a run.
//!
//! Runs on a blocking thread: CSV appends, histogram updates and the
//! progress bar never stall the async fetches, and a slow disk shows up as a
//! growing channel rather than as inflated measurement times.

use std::path::Path;

use tokio::sync::mpsc::UnboundedReceiver;

use super::progress::Progress;
use crate::record::sink::{Sink, SinkError};
use crate::record::FetchRecord;
use crate::report::classes::ClassTable;

/// What the scheduler sends the writer.
#[derive(Debug)]
pub enum Msg {
    Fetch(Box<FetchRecord>),
    /// All fetches of this round have been sent.
    RoundEnd(u32),
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
    _out: &Path,
) -> Result<Summary, SinkError> {
    let mut s = Summary {
        fetches: 0,
        errors: 0,
        table: ClassTable::default(),
    };
    while let Some(msg) = rx.blocking_recv() {
        match msg {
            Msg::Fetch(rec) => {
                sink.write(&rec)?;
                s.fetches += 1;
                s.errors += rec.error.is_some() as u64;
                s.table.add(&rec);
                progress.update(rec.round, s.errors, s.table.slowest());
            }
            Msg::RoundEnd(_round) => {}
        }
    }
    progress.finish();
    Ok(s)
}
