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

/// Why a run stopped after a round (`stop_reason`, on the last round an
/// invocation ran; empty on the rounds before it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// `until = "decided"`: every target row was decided.
    Decided,
    /// The `rounds` budget was spent.
    Rounds,
    /// `duration` had passed when the round ended.
    Duration,
    /// The run had moved `max_total_bytes`.
    MaxTotalBytes,
    /// A stop signal (the round's `end` is `stopped`).
    Signal,
    /// `--once`: one round, as asked (the target rows are not all decided).
    Once,
}

impl StopReason {
    pub fn as_str(&self) -> &'static str {
        match self {
            StopReason::Decided => "decided",
            StopReason::Rounds => "rounds",
            StopReason::Duration => "duration",
            StopReason::MaxTotalBytes => "max_total_bytes",
            StopReason::Signal => "signal",
            StopReason::Once => "once",
        }
    }
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
    /// Set on the round after which the run stopped: why. Missing in files
    /// written before the column existed.
    #[serde(default)]
    pub stop_reason: Option<StopReason>,
}

const HEADER: &str = "run_id,round,started_at,ended_at,fetches,last_seq,end,stop_reason\n";
/// The header before `stop_reason`: a file that has it keeps its seven
/// columns (a longer line would make it unreadable to `--resume`).
const HEADER_V1: &str = "run_id,round,started_at,ended_at,fetches,last_seq,end\n";

/// The round log of one output directory, open for appending.
pub struct RoundLog {
    file: LineFile,
    /// The file has the seven-column header of older versions.
    v1: bool,
}

impl RoundLog {
    pub fn open(dir: &Path) -> io::Result<RoundLog> {
        let path = dir.join(ROUNDS_CSV);
        let mut file = LineFile::open(&path, None)?;
        let mut v1 = false;
        if file.is_empty() {
            file.append(HEADER.as_bytes())?;
        } else {
            let mut head = vec![0; HEADER_V1.len()];
            use std::io::Read;
            let n = std::fs::File::open(&path)?.read(&mut head)?;
            v1 = head[..n] == *HEADER_V1.as_bytes();
        }
        Ok(RoundLog { file, v1 })
    }

    /// Append one line and `fdatasync` it.
    pub fn append(&mut self, row: &RoundRow) -> io::Result<()> {
        let mut w = csv::WriterBuilder::new()
            .has_headers(false)
            .from_writer(Vec::new());
        if self.v1 {
            let r = row;
            let t = (
                &r.run_id,
                r.round,
                &r.started_at,
                &r.ended_at,
                r.fetches,
                r.last_seq,
                r.end,
            );
            w.serialize(t).map_err(io::Error::other)?;
        } else {
            w.serialize(row).map_err(io::Error::other)?;
        }
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
            stop_reason: Some(StopReason::Signal),
        };
        RoundLog::open(dir.path()).unwrap().append(&row).unwrap();
        let text = std::fs::read_to_string(dir.path().join(ROUNDS_CSV)).unwrap();
        assert!(text.ends_with(",stopped,signal\n"), "{text}");
        let p = dir.path().join(ROUNDS_CSV);
        let mut text = std::fs::read_to_string(&p).unwrap();
        text.push_str("r1,4,2026");
        std::fs::write(&p, text).unwrap();
        assert_eq!(read(dir.path()).unwrap(), vec![row]);
    }

    /// A rounds.csv of an older version (no `stop_reason`) stays readable:
    /// its new lines keep seven columns.
    #[test]
    fn an_older_file_keeps_its_columns() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(ROUNDS_CSV);
        std::fs::write(&p, format!("{HEADER_V1}r1,0,a,b,3,3,complete\n")).unwrap();
        let row = RoundRow {
            run_id: "r1".into(),
            round: 1,
            started_at: "c".into(),
            ended_at: "d".into(),
            fetches: 3,
            last_seq: 6,
            end: RoundEnd::Complete,
            stop_reason: Some(StopReason::Rounds),
        };
        RoundLog::open(dir.path()).unwrap().append(&row).unwrap();
        let rows = read(dir.path()).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].last_seq, 6);
        assert_eq!(rows[1].stop_reason, None);
        assert!(std::fs::read_to_string(&p)
            .unwrap()
            .ends_with("r1,1,c,d,3,6,complete\n"));
    }
}
