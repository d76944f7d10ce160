//! Taking the rows of a round cut by a crash out of the CSVs before that
//! round is run again (`--resume`, `--once`), so a round number never holds
//! two attempts and no `fetch_id` is written twice. The rows are moved, not
//! deleted: `<file>.cut` keeps them for whoever wants to look.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

use super::lines::{move_tail, side_path, LineFile};

/// Is `fetch_id` one of run `run_id`'s with a sequence number above `seq`?
pub fn after_seq(fetch_id: &str, run_id: &str, seq: u64) -> bool {
    fetch_id
        .strip_prefix(run_id)
        .and_then(|r| r.strip_prefix('-'))
        .and_then(|n| n.parse::<u64>().ok())
        .is_some_and(|n| n > seq)
}

/// Move every row from the first one whose `column` satisfies `pred` to the
/// end of the file into `<path>.cut`; return the bytes moved. Rows of an
/// interrupted round are always the file's tail (one writer per directory,
/// rounds run one after the other), so the common "nothing to cut" case is
/// decided from the last line alone.
pub fn cut_tail_rows(path: &Path, column: &str, pred: impl Fn(&str) -> bool) -> io::Result<u64> {
    if !path.exists() {
        return Ok(0);
    }
    // Opening repairs a torn last line first.
    drop(LineFile::open(path, None)?);
    let mut file = File::options().read(true).write(true).open(path)?;
    let mut r = csv::Reader::from_reader(io::BufReader::new(file.try_clone()?));
    let Some(col) = r
        .headers()
        .map_err(io::Error::other)?
        .iter()
        .position(|h| h == column)
    else {
        return Ok(0);
    };
    if let Some(last) = last_line(&mut file)? {
        let mut lr = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(last.as_slice());
        let mut rec = csv::StringRecord::new();
        if lr.read_record(&mut rec).is_ok() && rec.len() > col && !pred(&rec[col]) {
            return Ok(0);
        }
    }
    let mut rec = csv::StringRecord::new();
    loop {
        let pos = r.position().byte();
        match r.read_record(&mut rec) {
            Ok(false) => return Ok(0),
            Ok(true) if rec.get(col).is_some_and(&pred) => {
                return move_tail(&mut file, pos, &side_path(path, "cut"));
            }
            Ok(true) => {}
            // A malformed row in the middle is analysis' business, not ours.
            Err(_) => {}
        }
    }
}

/// The last line of `file` (without its newline), when it has one.
fn last_line(file: &mut File) -> io::Result<Option<Vec<u8>>> {
    let end = file.seek(SeekFrom::End(0))?;
    if end < 2 {
        return Ok(None);
    }
    let take = end.min(256 * 1024);
    file.seek(SeekFrom::Start(end - take))?;
    let mut buf = vec![0; take as usize];
    file.read_exact(&mut buf)?;
    buf.pop(); // the final newline
    Ok(memchr::memrchr(b'\n', &buf).map(|i| buf[i + 1..].to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_rows_of_the_run_after_seq_are_moved() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("fetches.csv");
        std::fs::write(&p, "x,fetch_id\n1,r-1\n2,r-2\n3,r-4\n4,r-3\n").unwrap();
        let n = cut_tail_rows(&p, "fetch_id", |f| after_seq(f, "r", 2)).unwrap();
        assert_eq!(n, 12);
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            "x,fetch_id\n1,r-1\n2,r-2\n"
        );
        assert_eq!(
            std::fs::read_to_string(side_path(&p, "cut")).unwrap(),
            "3,r-4\n4,r-3\n"
        );
        // Nothing more to cut: the file is left alone.
        assert_eq!(
            cut_tail_rows(&p, "fetch_id", |f| after_seq(f, "r", 2)).unwrap(),
            0
        );
    }

    #[test]
    fn other_runs_ids_do_not_match() {
        assert!(!after_seq("r2-5", "r", 1));
        assert!(!after_seq("r-1", "r", 1));
        assert!(after_seq("r-10", "r", 9));
    }
}
