//! `rounds.csv`: one line per round that ended, written after its rows are
//! on disk. It is what `--resume` and `--once` continue from: a round with a
//! line here is done (or was stopped by a signal, its rows kept); a round
//! without one was cut by a crash and is run again whole.

use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::lines::LineFile;

pub const ROUNDS_CSV: &str = "rounds.csv";

/// How a round ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RoundEnd {
    /// Every fetch of the round ran.
    Complete,
    /// A stop request ended it: fetches in flight were cut (`capped =
    /// stop`), the rest never started.
    Stopped,
}

/// One line of `rounds.csv`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoundRow {
    pub run_id: String,
    pub round: u32,
    pub started_at: String,
    pub ended_at: String,
    /// Fetch rows written in this round.
    pub fetches: u64,
    /// The highest fetch sequence number used so far in the run
    /// (`fetch_id` = `<run_id>-<seq>`); a resumed run continues after it.
    pub last_seq: u64,
    pub end: RoundEnd,
}

const HEADER: &str = "run_id,round,started_at,ended_at,fetches,last_seq,end\n";

/// The round log of one output directory, open for appending.
pub struct RoundLog {
    file: LineFile,
}

impl RoundLog {
    pub fn open(dir: &Path) -> io::Result<RoundLog> {
        let mut file = LineFile::open(&dir.join(ROUNDS_CSV), None)?;
        if file.is_empty() {
            file.append(HEADER.as_bytes())?;
        }
        Ok(RoundLog { file })
    }

    /// Append one line and `fdatasync` it.
    pub fn append(&mut self, row: &RoundRow) -> io::Result<()> {
        let mut w = csv::WriterBuilder::new()
            .has_headers(false)
            .from_writer(Vec::new());
        w.serialize(row).map_err(io::Error::other)?;
        let buf = w
            .into_inner()
            .map_err(|e| io::Error::other(e.to_string()))?;
        self.file.append(&buf)?;
        self.file.sync()
    }
}

/// Every readable line of `dir/rounds.csv` (none when the file is missing).
/// A torn last line (crash mid-write) is skipped: its round counts as cut.
pub fn read(dir: &Path) -> io::Result<Vec<RoundRow>> {
    let path = dir.join(ROUNDS_CSV);
    let mut r = match csv::Reader::from_path(&path) {
        Ok(r) => r,
        Err(e) => match e.kind() {
            csv::ErrorKind::Io(io) if io.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            _ => return Err(io::Error::other(format!("{}: {e}", path.display()))),
        },
    };
    Ok(r.deserialize().filter_map(Result::ok).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_round_trip_and_torn_lines_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let row = RoundRow {
            run_id: "r1".into(),
            round: 3,
            started_at: "2026-01-01T00:00:00Z".into(),
            ended_at: "2026-01-01T00:01:00Z".into(),
            fetches: 10,
            last_seq: 40,
            end: RoundEnd::Stopped,
        };
        RoundLog::open(dir.path()).unwrap().append(&row).unwrap();
        let p = dir.path().join(ROUNDS_CSV);
        let mut text = std::fs::read_to_string(&p).unwrap();
        text.push_str("r1,4,2026");
        std::fs::write(&p, text).unwrap();
        assert_eq!(read(dir.path()).unwrap(), vec![row]);
    }
}
