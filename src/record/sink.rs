//! Appending fetch rows to `fetches.csv` and `timeline.csv`.
//!
//! Files are only ever appended to, with the header written once, so a month
//! of runs into one directory is one table. Each fetch is written as soon as
//! it ends — its timeline rows first, in one write, then its fetch row, in
//! one write — so a crash loses at most the fetch in flight and never leaves
//! a fetch row whose timeline is missing. When the fetch row cannot be
//! written (disk full) the timeline rows just written are taken back too.
//! Torn tails left by a crash are cut on open ([`super::lines`]). An
//! existing file with a different header is refused rather than silently
//! mixed.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::lines::{Fault, LineFile};
use crate::types::{FetchRecord, Window};

pub const FETCHES_CSV: &str = "fetches.csv";
pub const TIMELINE_CSV: &str = "timeline.csv";

/// Errors writing output: exit code 1.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    // The cause is part of the message and deliberately not a `source`:
    // printed with its chain (`{:#}`), it would be said twice ("No such
    // file or directory (os error 2): No such file or directory (os error 2)").
    #[error("{path}: {error}")]
    Io { path: PathBuf, error: io::Error },
    #[error("{path}: {error}")]
    Csv { path: PathBuf, error: csv::Error },
    #[error("{path}: existing header differs from this slowlane's columns; write to a new --out directory\n  existing: {existing}\n  expected: {expected}")]
    Header {
        path: PathBuf,
        existing: String,
        expected: String,
    },
}

/// One CSV file opened for appending.
struct Table {
    file: LineFile,
    /// Rows are serialised here, then written in one piece (kept to reuse
    /// its allocation).
    scratch: Vec<u8>,
}

impl Table {
    fn open<T: Serialize + Default>(
        path: PathBuf,
        fault: Option<Fault>,
    ) -> Result<Table, SinkError> {
        let io_err = |source| SinkError::Io {
            path: path.clone(),
            error: source,
        };
        // Opening repairs a torn tail, so the header is read afterwards.
        let file = LineFile::open(&path, fault).map_err(io_err)?;
        let expected = header_of::<T>();
        let mut existing = String::new();
        BufReader::new(File::open(&path).map_err(io_err)?)
            .read_line(&mut existing)
            .map_err(io_err)?;
        let existing = existing.trim_end();
        let mut t = Table {
            file,
            scratch: Vec::new(),
        };
        if existing.is_empty() {
            t.file
                .append(format!("{expected}\n").as_bytes())
                .map_err(io_err)?;
        } else if existing != expected {
            return Err(SinkError::Header {
                path,
                existing: existing.to_string(),
                expected,
            });
        }
        Ok(t)
    }

    /// Append `rows` in one write (nothing for no rows).
    fn append<'a, T: Serialize + 'a>(
        &mut self,
        rows: impl IntoIterator<Item = &'a T>,
    ) -> Result<(), SinkError> {
        let mut w = csv::WriterBuilder::new()
            .has_headers(false)
            .from_writer(std::mem::take(&mut self.scratch));
        for row in rows {
            w.serialize(row).map_err(|error| SinkError::Csv {
                path: self.file.path().to_path_buf(),
                error,
            })?;
        }
        self.scratch = w
            .into_inner()
            .map_err(|e| self.io_err(io::Error::other(e.to_string())))?;
        let r = self.file.append(&self.scratch);
        self.scratch.clear();
        r.map_err(|error| self.io_err(error))
    }

    fn io_err(&self, error: io::Error) -> SinkError {
        SinkError::Io {
            path: self.file.path().to_path_buf(),
            error,
        }
    }

    fn sync(&self) -> Result<(), SinkError> {
        self.file.sync().map_err(|e| self.io_err(e))
    }
}

/// The header line serde would write for `T`.
pub fn header_of<T: Serialize + Default>() -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.serialize(T::default())
        .expect("serialising a default row");
    let bytes = w.into_inner().expect("in-memory writer");
    let text = String::from_utf8(bytes).expect("utf-8 header");
    text.lines().next().unwrap_or_default().to_string()
}

/// The writer for one output directory.
pub struct Sink {
    fetches: Table,
    timeline: Table,
}

impl Sink {
    pub fn open(dir: &Path) -> Result<Sink, SinkError> {
        std::fs::create_dir_all(dir).map_err(|source| SinkError::Io {
            path: dir.to_path_buf(),
            error: source,
        })?;
        let fault = Fault::from_env();
        Ok(Sink {
            fetches: Table::open::<FetchRecord>(dir.join(FETCHES_CSV), fault.clone())?,
            timeline: Table::open::<Window>(dir.join(TIMELINE_CSV), fault)?,
        })
    }

    /// Append one fetch: its timeline rows in one write, then its row in one
    /// write. If the row cannot be written, its timeline rows are removed
    /// again, so both files still end on the same complete fetch.
    pub fn write(&mut self, rec: &FetchRecord) -> Result<(), SinkError> {
        let tl_len = self.timeline.file.len();
        self.timeline.append(&rec.timeline)?;
        if let Err(e) = self.fetches.append([rec]) {
            let _ = self.timeline.file.truncate(tl_len);
            return Err(e);
        }
        Ok(())
    }

    /// `fdatasync` both files (after each round and at the end of a run).
    pub fn sync(&self) -> Result<(), SinkError> {
        self.timeline.sync()?;
        self.fetches.sync()
    }
}

impl Default for Window {
    fn default() -> Self {
        Window {
            fetch_id: String::new(),
            direction: crate::types::Direction::Down,
            t_ms: crate::types::Ms(0.0),
            bytes: 0,
            cum_bytes: 0,
            tcp_rtt_ms: None,
            tcp_retrans: None,
            tcp_cum_bytes: None,
        }
    }
}

/// Write rows to any writer with a header (used by `fetch --format csv`).
pub fn write_csv<T: Serialize, W: Write>(out: W, rows: &[T]) -> csv::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    for r in rows {
        w.serialize(r)?;
    }
    w.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_error_is_said_once() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, "x").unwrap();
        let Err(e) = Sink::open(&file.join("out")) else {
            panic!("a directory under a file cannot be created");
        };
        let text = format!("{:#}", anyhow::Error::from(e));
        assert_eq!(text.matches("os error").count(), 1, "{text}");
    }

    #[test]
    fn header_written_once_across_reopens() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..3 {
            let mut s = Sink::open(dir.path()).unwrap();
            let rec = FetchRecord {
                fetch_id: format!("f{i}"),
                timeline: vec![Window {
                    fetch_id: format!("f{i}"),
                    ..Window::default()
                }],
                ..FetchRecord::default()
            };
            s.write(&rec).unwrap();
        }
        let text = std::fs::read_to_string(dir.path().join(FETCHES_CSV)).unwrap();
        assert_eq!(text.lines().count(), 4);
        assert_eq!(text.matches("campaign,vantage").count(), 1);
        let tl = std::fs::read_to_string(dir.path().join(TIMELINE_CSV)).unwrap();
        assert_eq!(tl.lines().count(), 4);
    }

    #[test]
    fn foreign_header_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FETCHES_CSV), "a,b,c\n1,2,3\n").unwrap();
        let err = Sink::open(dir.path()).err().unwrap();
        assert!(err.to_string().contains("existing header differs"), "{err}");
    }
}
