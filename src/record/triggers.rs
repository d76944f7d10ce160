//! `triggers.csv`: the rows of a campaign's `[[trigger]]` studies, one per
//! trial, each carrying its study's conclusion (`rule`, `minimal`,
//! `sentence`: the same on every row of a study, as `summary` is in
//! verdicts.csv). A study's rows go to the kernel in one write when it
//! ends, so a study with rows for a run is finished: `--resume` and `--once`
//! skip it ([`finished`]); one cut by a signal or a crash has none.

use std::collections::BTreeSet;
use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::lines::LineFile;

pub const TRIGGERS_CSV: &str = "triggers.csv";

/// The columns of [`TriggerRow`], in order.
pub const HEADER: &str = "vantage,run_id,trigger,reflector,trial,checks,name,variant,verdict,\
rounds,rate_bps,control_bps,contaminated,rule,minimal,sentence\n";

/// One row (docs/csv.md, "triggers.csv").
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TriggerRow {
    pub vantage: String,
    pub run_id: String,
    /// The study's id (`[[trigger]] id`, default its name).
    pub trigger: String,
    /// The reflector's `host:port`.
    pub reflector: String,
    /// The trial's columns, as in `slowlane trigger`'s trials.csv; empty on
    /// the one row of a study that ran no trial (an internal error).
    pub trial: Option<usize>,
    pub checks: String,
    pub name: String,
    pub variant: String,
    pub verdict: String,
    pub rounds: Option<u32>,
    /// Medians, rounded to whole bit/s (every rate of every file is).
    pub rate_bps: Option<u64>,
    pub control_bps: Option<u64>,
    pub contaminated: Option<bool>,
    /// The study's conclusion, on each of its rows.
    pub rule: String,
    pub minimal: String,
    pub sentence: String,
}

/// Append a whole study's rows (with the header if the file is new). A
/// file with other columns is refused, not mixed.
pub fn append(dir: &Path, rows: &[TriggerRow]) -> io::Result<()> {
    let path = dir.join(TRIGGERS_CSV);
    let mut file = LineFile::open(&path, None)?;
    let mut buf = Vec::new();
    if file.is_empty() {
        buf.extend_from_slice(HEADER.as_bytes());
    } else {
        let mut head = String::new();
        io::BufRead::read_line(
            &mut io::BufReader::new(std::fs::File::open(&path)?),
            &mut head,
        )?;
        if head != HEADER {
            return Err(io::Error::other(format!(
                "{} has other columns than this version writes: move it away",
                path.display()
            )));
        }
    }
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(buf);
    for r in rows {
        w.serialize(r).map_err(io::Error::other)?;
    }
    let buf = w
        .into_inner()
        .map_err(|e| io::Error::other(e.to_string()))?;
    file.append(&buf)?;
    file.sync()
}

/// The ids of the studies of run `run_id` that have rows in `dir`.
pub fn finished(dir: &Path, run_id: &str) -> io::Result<BTreeSet<String>> {
    #[derive(Deserialize)]
    struct Key {
        run_id: String,
        trigger: String,
    }
    let path = dir.join(TRIGGERS_CSV);
    if !path.exists() {
        return Ok(BTreeSet::new());
    }
    let mut r = csv::Reader::from_path(&path).map_err(io::Error::other)?;
    let mut done = BTreeSet::new();
    for k in r.deserialize::<Key>() {
        let k = k.map_err(|e| io::Error::other(format!("{}: {e}", path.display())))?;
        if k.run_id == run_id {
            done.insert(k.trigger);
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_study_with_rows_is_finished_for_its_run_only() {
        let dir = tempfile::tempdir().unwrap();
        assert!(finished(dir.path(), "r1").unwrap().is_empty());
        let row = |run: &str, t: &str| TriggerRow {
            run_id: run.into(),
            trigger: t.into(),
            trial: Some(1),
            sentence: "a, \"quoted\" sentence".into(),
            ..Default::default()
        };
        append(dir.path(), &[row("r1", "t.co"), row("r1", "t.co")]).unwrap();
        append(dir.path(), &[row("r2", "x")]).unwrap();
        let text = std::fs::read_to_string(dir.path().join(TRIGGERS_CSV)).unwrap();
        assert!(text.starts_with(HEADER), "{text}");
        assert_eq!(text.matches("vantage,run_id,trigger").count(), 1, "{text}");
        // The header is the row type's own.
        let mut w = csv::Writer::from_writer(Vec::new());
        w.serialize(TriggerRow::default()).unwrap();
        let own = String::from_utf8(w.into_inner().unwrap()).unwrap();
        assert!(own.starts_with(HEADER), "{own}");
        assert_eq!(text.lines().count(), 4);
        let done = finished(dir.path(), "r1").unwrap();
        assert_eq!(done.into_iter().collect::<Vec<_>>(), ["t.co"]);
        let mut r = csv::Reader::from_path(dir.path().join(TRIGGERS_CSV)).unwrap();
        let back: TriggerRow = r.deserialize().next().unwrap().unwrap();
        assert_eq!(back, row("r1", "t.co"));
        // Other columns: refused, the file untouched.
        std::fs::write(dir.path().join(TRIGGERS_CSV), "a,b\n1,2\n").unwrap();
        assert!(append(dir.path(), &[row("r3", "y")]).is_err());
        let text = std::fs::read_to_string(dir.path().join(TRIGGERS_CSV)).unwrap();
        assert_eq!(text, "a,b\n1,2\n");
    }
}
