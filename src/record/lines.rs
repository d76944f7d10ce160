//! An append-only file of whole lines that survives kills and full disks.
//!
//! Every output CSV of a run goes through [`LineFile`]:
//!
//! - **Tail repair on open.** A kill during a write can leave an unterminated
//!   last line; appending to it would glue the next row onto the torn one
//!   (70-odd fields, a corrupt `fetch_id`, an unterminated quote that makes
//!   every later read fail). On open the torn tail is cut off and kept in
//!   `<file>.torn`, with a warning naming the byte count.
//! - **Whole-line writes.** A row (or a fetch's block of timeline rows) is
//!   built in memory and handed to the kernel in one `write_all`.
//! - **Undo on error.** When a write fails (ENOSPC, EIO) the file is truncated
//!   back to its length before the write, so it still ends on a complete row.
//! - **`sync`** (`fdatasync`) is called by the runner after each round and at
//!   the end, so a power cut loses at most the round in progress.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Test hook: `SLOWLANE_FAULT=enospc@N` makes writes fail with ENOSPC once
/// N bytes have been written by this process (the failing write lands a
/// partial prefix first, as a real full disk does); `abort@N` writes the
/// prefix and aborts the process (a kill -9 timed to a row write). Read once
/// per process; unset in normal use.
#[derive(Debug, Clone)]
pub struct Fault {
    kind: FaultKind,
    limit: u64,
    written: Arc<AtomicU64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FaultKind {
    Enospc,
    Abort,
}

impl Fault {
    pub fn from_env() -> Option<Fault> {
        let v = std::env::var("SLOWLANE_FAULT").ok()?;
        let (kind, n) = v.split_once('@')?;
        let kind = match kind {
            "enospc" => FaultKind::Enospc,
            "abort" => FaultKind::Abort,
            _ => return None,
        };
        Some(Fault {
            kind,
            limit: n.trim().parse().ok()?,
            written: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Write `buf` to `f`, failing as configured.
    fn write(&self, f: &mut File, buf: &[u8]) -> io::Result<()> {
        let before = self.written.fetch_add(buf.len() as u64, Ordering::SeqCst);
        let room = self.limit.saturating_sub(before);
        if room >= buf.len() as u64 {
            return f.write_all(buf);
        }
        f.write_all(&buf[..room as usize])?;
        match self.kind {
            FaultKind::Enospc => Err(io::Error::from_raw_os_error(libc::ENOSPC)),
            FaultKind::Abort => {
                let _ = f.sync_data();
                std::process::abort()
            }
        }
    }
}

/// One append-only line file.
pub struct LineFile {
    path: PathBuf,
    file: File,
    /// Length of the file = end of the last complete line we know of.
    len: u64,
    fault: Option<Fault>,
}

impl LineFile {
    /// Open (creating) `path` for appending, cutting a torn last line first.
    pub fn open(path: &Path, fault: Option<Fault>) -> io::Result<LineFile> {
        let mut file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(path)?;
        let len = repair_tail(path, &mut file)?;
        Ok(LineFile {
            path: path.to_path_buf(),
            file,
            len,
            fault,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Length in bytes (always at a line boundary).
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Append `buf` (one or more whole lines) in one write; on failure the
    /// file is cut back to where it was and the error returned.
    pub fn append(&mut self, buf: &[u8]) -> io::Result<()> {
        debug_assert!(buf.is_empty() || buf.ends_with(b"\n"));
        if buf.is_empty() {
            return Ok(());
        }
        let r = match &self.fault {
            Some(f) => f.write(&mut self.file, buf),
            None => self.file.write_all(buf),
        };
        match r {
            Ok(()) => {
                self.len += buf.len() as u64;
                Ok(())
            }
            Err(e) => {
                // Best effort: with the disk full, truncating still works
                // (it frees space); if it does not, the next open repairs.
                let _ = self.file.set_len(self.len);
                Err(e)
            }
        }
    }

    /// Cut the file back to `len` bytes (a line boundary the caller knows).
    pub fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.file.set_len(len)?;
        self.len = len;
        Ok(())
    }

    /// `fdatasync`: the rows written so far survive a power cut.
    pub fn sync(&self) -> io::Result<()> {
        self.file.sync_data()
    }
}

/// The path of the side file that keeps bytes cut from `path`.
pub fn side_path(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".");
    s.push(suffix);
    PathBuf::from(s)
}

/// Move `path[from..]` to the end of `side` and truncate `path` at `from`.
/// The side file is written (and synced) before the cut, so a crash in
/// between duplicates bytes rather than losing them.
pub fn move_tail(file: &mut File, from: u64, side: &Path) -> io::Result<u64> {
    let end = file.seek(SeekFrom::End(0))?;
    if from >= end {
        return Ok(0);
    }
    file.seek(SeekFrom::Start(from))?;
    let mut tail = Vec::with_capacity((end - from) as usize);
    file.read_to_end(&mut tail)?;
    let mut s = OpenOptions::new().create(true).append(true).open(side)?;
    s.write_all(&tail)?;
    if !tail.ends_with(b"\n") {
        s.write_all(b"\n")?;
    }
    s.sync_data()?;
    file.set_len(from)?;
    file.sync_data()?;
    Ok(end - from)
}

/// Cut an unterminated last line off `file` into `<path>.torn`; return the
/// resulting length.
fn repair_tail(path: &Path, file: &mut File) -> io::Result<u64> {
    let end = file.seek(SeekFrom::End(0))?;
    if end == 0 {
        return Ok(0);
    }
    // Read back in chunks until the last newline is found.
    let mut pos = end;
    let mut last = [0u8; 1];
    file.seek(SeekFrom::Start(end - 1))?;
    file.read_exact(&mut last)?;
    if last[0] == b'\n' {
        return Ok(end);
    }
    let mut cut_at = 0;
    let mut buf = vec![0u8; 64 * 1024];
    while pos > 0 {
        let start = pos.saturating_sub(buf.len() as u64);
        let n = (pos - start) as usize;
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut buf[..n])?;
        if let Some(i) = memchr::memrchr(b'\n', &buf[..n]) {
            cut_at = start + i as u64 + 1;
            break;
        }
        pos = start;
    }
    let side = side_path(path, "torn");
    let cut = move_tail(file, cut_at, &side)?;
    crate::eprintln_quiet!(
        "slowlane: warning: {}: cut {cut} bytes of an unterminated last line (a write \
         interrupted by a crash or a full disk); kept in {}",
        path.display(),
        side.display()
    );
    Ok(cut_at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn torn_tail_is_cut_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.csv");
        std::fs::write(&p, "a,b\n1,2\n3,\"x").unwrap();
        let mut f = LineFile::open(&p, None).unwrap();
        assert_eq!(f.len(), 8);
        f.append(b"5,6\n").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "a,b\n1,2\n5,6\n");
        assert_eq!(
            std::fs::read_to_string(side_path(&p, "torn")).unwrap(),
            "3,\"x\n"
        );
    }

    #[test]
    fn whole_file_without_newline_is_cut_entirely() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.csv");
        std::fs::write(&p, "a,b,c").unwrap();
        let f = LineFile::open(&p, None).unwrap();
        assert!(f.is_empty());
        assert_eq!(std::fs::read(&p).unwrap(), b"");
    }

    #[test]
    fn failed_write_leaves_the_file_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.csv");
        let fault = Fault {
            kind: FaultKind::Enospc,
            limit: 10,
            written: Arc::new(AtomicU64::new(0)),
        };
        let mut f = LineFile::open(&p, Some(fault)).unwrap();
        f.append(b"1234\n").unwrap();
        let e = f.append(b"abcdefghij\n").unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOSPC));
        assert_eq!(std::fs::read(&p).unwrap(), b"1234\n");
        assert_eq!(f.len(), 5);
    }
}
