//! Where each vantage's rows are in the input files (issue 21): one pass
//! that reads only the `vantage`, `campaign` and `run_id` cells of each
//! record and notes the byte ranges of every stretch of one vantage's
//! records. `analyze` then reads, judges and writes a few vantages at a time
//! (`crate::analyze::analyze_paths_full`) instead of holding every fetch.
//!
//! Every byte after the header belongs to exactly one range: a record whose
//! vantage cell cannot be found (too few fields, a blank line) stays in the
//! range before it, so the second pass still reads it — and counts it as
//! unusable — exactly once. Files need not be sorted by vantage: an
//! interleaved file (vantages taking turns by round, as `collect.yml`'s
//! concatenations and the synthetic generator write them) gives many ranges
//! per vantage, read in file order.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::fastcsv::{self, record_end, Cols};

/// One stretch of records of one vantage: bytes `[start, end)`, after
/// `lines_before` lines of the file (header included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub vantage: u32,
    pub start: u64,
    pub end: u64,
    pub lines_before: u64,
}

/// One input file's ranges, in file order.
pub struct FileIndex {
    /// The `fetches.csv` read.
    pub path: PathBuf,
    pub cols: Cols,
    pub ranges: Vec<Range>,
}

/// The ranges of every input file, and what the second pass needs to load
/// a subset of vantages as a full load would.
#[derive(Default)]
pub struct Index {
    /// Vantage names (the `vantage` cell as written), by id.
    pub names: Vec<Vec<u8>>,
    /// Bytes of input per vantage id.
    pub bytes: Vec<u64>,
    pub files: Vec<FileIndex>,
    /// Every (campaign, run_id) in first-seen order over all files: a
    /// partial load interns them first, so that runs keep the order a full
    /// load gives them.
    pub runs: Vec<(Vec<u8>, Vec<u8>)>,
    ids: HashMap<Vec<u8>, u32>,
    run_ids: std::collections::HashSet<(Vec<u8>, Vec<u8>)>,
}

/// What a scan of one part of a file found (ids local to the part).
#[derive(Default)]
struct Part {
    names: Vec<Vec<u8>>,
    ids: HashMap<Vec<u8>, u32>,
    /// Ranges with `lines_before` relative to the part's start.
    ranges: Vec<Range>,
    runs: Vec<(Vec<u8>, Vec<u8>)>,
    lines: u64,
}

impl Part {
    fn id(&mut self, name: &[u8]) -> u32 {
        if let Some(&i) = self.ids.get(name) {
            return i;
        }
        self.names.push(name.to_vec());
        let i = (self.names.len() - 1) as u32;
        self.ids.insert(name.to_vec(), i);
        i
    }
}

impl Index {
    /// Index `fetches` files (in order; each a `fetches.csv`). Errors name
    /// the file as a full load's do.
    pub fn build(fetches: &[PathBuf], threads: usize) -> Result<Index> {
        let mut ix = Index::default();
        for path in fetches {
            ix.add(path, threads)
                .with_context(|| format!("reading {}", path.display()))?;
        }
        Ok(ix)
    }

    fn add(&mut self, path: &Path, threads: usize) -> Result<()> {
        let (cols, start, header_lines) = fastcsv::header(path)?;
        let len = std::fs::metadata(path)?.len();
        let keys = cols.keys();
        let bounds = if threads < 2 || len.saturating_sub(start) < fastcsv::PARALLEL_MIN_BYTES {
            vec![(start, len)]
        } else {
            fastcsv::split_points(path, start, len, threads)?
        };
        let parts: Vec<Result<Part>> = std::thread::scope(|s| {
            let hs: Vec<_> = bounds
                .iter()
                .map(|&(a, b)| s.spawn(move || scan(path, keys, a, b)))
                .collect();
            hs.into_iter()
                .map(|h| h.join().expect("index thread"))
                .collect()
        });
        let mut ranges: Vec<Range> = Vec::new();
        let mut lines = header_lines;
        for part in parts {
            let part = part?;
            let map: Vec<u32> = part.names.iter().map(|n| self.id(n)).collect();
            for (c, r) in part.runs {
                if self.run_ids.insert((c.clone(), r.clone())) {
                    self.runs.push((c, r));
                }
            }
            for r in part.ranges {
                let v = map[r.vantage as usize];
                self.bytes[v as usize] += r.end - r.start;
                match ranges.last_mut() {
                    Some(last) if last.vantage == v && last.end == r.start => last.end = r.end,
                    _ => ranges.push(Range {
                        vantage: v,
                        lines_before: r.lines_before + lines,
                        ..r
                    }),
                }
            }
            lines += part.lines;
        }
        self.files.push(FileIndex {
            path: path.to_path_buf(),
            cols,
            ranges,
        });
        Ok(())
    }

    fn id(&mut self, name: &[u8]) -> u32 {
        if let Some(&i) = self.ids.get(name) {
            return i;
        }
        self.names.push(name.to_vec());
        self.bytes.push(0);
        let i = (self.names.len() - 1) as u32;
        self.ids.insert(name.to_vec(), i);
        i
    }

    /// Vantage ids in name order, cut into batches of about `budget` bytes
    /// of input (a vantage larger than that is a batch of its own).
    pub fn batches(&self, budget: u64) -> Vec<Vec<u32>> {
        let mut order: Vec<u32> = (0..self.names.len() as u32).collect();
        order.sort_by(|&a, &b| self.names[a as usize].cmp(&self.names[b as usize]));
        let mut out: Vec<Vec<u32>> = Vec::new();
        let mut size = 0;
        for v in order {
            let b = self.bytes[v as usize];
            match out.last_mut() {
                Some(cur) if size + b <= budget => cur.push(v),
                _ => {
                    out.push(vec![v]);
                    size = 0;
                }
            }
            size += b;
        }
        out
    }

    /// Total bytes of input after the headers.
    pub fn total_bytes(&self) -> u64 {
        self.bytes.iter().sum()
    }
}

/// The cells `keys` (vantage, campaign, run_id) of one record.
fn cells<'a>(
    line: &'a [u8],
    quoted: bool,
    keys: [Option<usize>; 3],
    rec: &'a mut csv::ByteRecord,
) -> [Option<&'a [u8]>; 3] {
    if quoted {
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(line);
        if !rdr.read_byte_record(rec).unwrap_or(false) {
            rec.clear();
        }
        let rec: &'a csv::ByteRecord = rec;
        return keys.map(|k| k.and_then(|i| rec.get(i)));
    }
    let want = keys.iter().flatten().copied().max().unwrap_or(0);
    let mut found: [Option<&[u8]>; 3] = [None; 3];
    let mut from = 0;
    let mut field = 0;
    let put = |field: usize, cell: &'a [u8], found: &mut [Option<&'a [u8]>; 3]| {
        for (slot, k) in found.iter_mut().zip(keys) {
            if k == Some(field) {
                *slot = Some(cell);
            }
        }
    };
    for comma in memchr::memchr_iter(b',', line) {
        put(field, &line[from..comma], &mut found);
        if field >= want {
            return found;
        }
        from = comma + 1;
        field += 1;
    }
    put(field, &line[from..], &mut found);
    found
}

/// Scan bytes `[start, end)` (record boundaries) of `path`.
fn scan(path: &Path, keys: [Option<usize>; 3], start: u64, end: u64) -> Result<Part> {
    let mut file = File::open(path)?;
    file.seek(SeekFrom::Start(start))?;
    let mut input = file.take(end - start);
    let mut buf = vec![0u8; ((end - start) as usize + 1).clamp(4 << 10, 4 << 20)];
    let (mut filled, mut eof, mut at) = (0usize, false, start);
    let mut part = Part::default();
    let mut rec = csv::ByteRecord::new();
    let mut last_run: Option<(Vec<u8>, Vec<u8>)> = None;
    let mut seen_runs: std::collections::HashSet<(Vec<u8>, Vec<u8>)> = Default::default();
    loop {
        while !eof && filled < buf.len() {
            let n = input.read(&mut buf[filled..])?;
            if n == 0 {
                eof = true;
            } else {
                filled += n;
            }
        }
        let mut pos = 0;
        while pos < filled {
            let rest = &buf[pos..filled];
            let Some((nl, has_quote)) = record_end(rest, eof) else {
                break;
            };
            let raw = &rest[..nl];
            let line = raw.strip_suffix(b"\n").unwrap_or(raw);
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let [vantage, campaign, run_id] = if line.is_empty() {
                [None; 3]
            } else {
                cells(line, has_quote, keys, &mut rec)
            };
            // With no vantage column every row is vantage "" (as loaded).
            let vantage = vantage.or(keys[0].is_none().then_some(&b""[..]));
            let run = (campaign.unwrap_or(b""), run_id.unwrap_or(b""));
            if !line.is_empty()
                && last_run
                    .as_ref()
                    .is_none_or(|l| (&l.0[..], &l.1[..]) != run)
            {
                let owned = (run.0.to_vec(), run.1.to_vec());
                if seen_runs.insert(owned.clone()) {
                    part.runs.push(owned.clone());
                }
                last_run = Some(owned);
            }
            let here = at + pos as u64;
            let v = match vantage {
                Some(name) => Some(part.id(name)),
                None => part.ranges.last().map(|r| r.vantage),
            };
            let v = v.unwrap_or_else(|| part.id(b""));
            match part.ranges.last_mut() {
                Some(r) if r.vantage == v => r.end = here + nl as u64,
                _ => part.ranges.push(Range {
                    vantage: v,
                    start: here,
                    end: here + nl as u64,
                    lines_before: part.lines,
                }),
            }
            part.lines += memchr::memchr_iter(b'\n', raw).count() as u64;
            if !raw.ends_with(b"\n") {
                part.lines += 1;
            }
            pos += nl;
        }
        buf.copy_within(pos..filled, 0);
        filled -= pos;
        at += pos as u64;
        if eof && (filled == 0 || pos == 0) {
            if filled > 0 {
                // A torn last record (an unterminated quote): it belongs to
                // the range before it; the second pass reports it.
                let v = match part.ranges.last() {
                    Some(r) => r.vantage,
                    None => part.id(b""),
                };
                match part.ranges.last_mut() {
                    Some(r) if r.vantage == v => r.end = at + filled as u64,
                    _ => part.ranges.push(Range {
                        vantage: v,
                        start: at,
                        end: at + filled as u64,
                        lines_before: part.lines,
                    }),
                }
            }
            return Ok(part);
        }
        if filled == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
    }
}
