//! Appending fetch rows to `fetches.csv` and `timeline.csv`.
//!
//! Files are only ever appended to, with the header written once, so a month
//! of runs into one directory is one table. Each fetch is flushed as soon as
//! it is written — timeline rows first, then the fetch row — so a crash loses
//! at most the fetch in flight and never leaves a fetch row whose timeline is
//! missing. An existing file with a different header is refused rather than
//! silently mixed.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{FetchRecord, Window};

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
    path: PathBuf,
    w: csv::Writer<File>,
}

impl Table {
    fn open<T: Serialize + Default>(path: PathBuf) -> Result<Table, SinkError> {
        let io_err = |source| SinkError::Io {
            path: path.clone(),
            error: source,
        };
        let expected = header_of::<T>();
        let existing = match File::open(&path) {
            Ok(f) => {
                let mut line = String::new();
                BufReader::new(f).read_line(&mut line).map_err(io_err)?;
                Some(line.trim_end().to_string())
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(io_err(e)),
        };
        let needs_header = match existing {
            None => true,
            Some(h) if h.is_empty() => true,
            Some(h) if h == expected => false,
            Some(h) => {
                return Err(SinkError::Header {
                    path,
                    existing: h,
                    expected,
                })
            }
        };
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io_err)?;
        let mut w = csv::WriterBuilder::new()
            .has_headers(false)
            .from_writer(file);
        if needs_header {
            w.write_record(expected.split(','))
                .and_then(|_| w.flush().map_err(Into::into))
                .map_err(|source| SinkError::Csv {
                    path: path.clone(),
                    error: source,
                })?;
        }
        Ok(Table { path, w })
    }

    fn write<T: Serialize>(&mut self, row: &T) -> Result<(), SinkError> {
        self.w.serialize(row).map_err(|source| SinkError::Csv {
            path: self.path.clone(),
            error: source,
        })
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        self.w.flush().map_err(|source| SinkError::Io {
            path: self.path.clone(),
            error: source,
        })
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
        Ok(Sink {
            fetches: Table::open::<FetchRecord>(dir.join(FETCHES_CSV))?,
            timeline: Table::open::<Window>(dir.join(TIMELINE_CSV))?,
        })
    }

    /// Append one fetch (its timeline first) and flush both files.
    pub fn write(&mut self, rec: &FetchRecord) -> Result<(), SinkError> {
        for w in &rec.timeline {
            self.timeline.write(w)?;
        }
        self.timeline.flush()?;
        self.fetches.write(rec)?;
        self.fetches.flush()
    }
}

impl Default for Window {
    fn default() -> Self {
        Window {
            fetch_id: String::new(),
            direction: super::Direction::Down,
            t_ms: super::Ms(0.0),
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
