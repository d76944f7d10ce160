//! Loading part of the input: the rows of some vantages, read from the byte
//! ranges [`super::vindex`] found, into a [`Dataset`] that holds what a
//! full load would hold for those vantages (issue 21).

use std::path::Path;

use anyhow::{Context, Result};

use super::badrows::BadRows;
use super::fastcsv::{self, RowSink};
use super::load::Dataset;

/// A thread's share of the ranges: its rows, and its ranges' unusable rows
/// with the lines before each.
type Part = (Dataset, Vec<(u64, BadRows)>);

impl Dataset {
    /// Intern runs (campaign, run_id) ahead of the rows, so that a load of
    /// some vantages numbers its runs in the order a full load would.
    pub fn intern_runs(&mut self, runs: &[(Vec<u8>, Vec<u8>)]) {
        for (c, r) in runs {
            self.intern_run(c, r);
        }
        self.last_run = None;
    }

    /// Read the records of `ranges` (ascending, of one file whose columns
    /// are `cols`) on up to `threads` threads, as reading the whole file
    /// would for the rows in them. Returns each range's unusable rows (when
    /// it has any) with the count of lines before it, for the caller to
    /// absorb in file order.
    pub fn read_ranges(
        &mut self,
        src: u32,
        path: &Path,
        cols: &fastcsv::Cols,
        ranges: &[(u64, u64, u64)],
        threads: usize,
    ) -> Result<Vec<(u64, BadRows)>> {
        let total: u64 = ranges.iter().map(|r| r.1 - r.0).sum();
        let threads = if total < fastcsv::PARALLEL_MIN_BYTES {
            1
        } else {
            threads.max(1)
        };
        // Contiguous chunks of ranges of about equal bytes, one per thread.
        let mut chunks: Vec<&[(u64, u64, u64)]> = Vec::new();
        let (mut from, mut acc) = (0, 0);
        for (i, r) in ranges.iter().enumerate() {
            acc += r.1 - r.0;
            if acc * threads as u64 >= total * (chunks.len() as u64 + 1) || i + 1 == ranges.len() {
                chunks.push(&ranges[from..=i]);
                from = i + 1;
            }
        }
        let parts: Vec<Result<Part>> = std::thread::scope(|s| {
            let hs: Vec<_> = chunks
                .iter()
                .map(|chunk| {
                    let mut d = self.fresh();
                    s.spawn(move || {
                        let mut bad = Vec::new();
                        for &(a, b, before) in chunk.iter() {
                            fastcsv::read_part(&mut d, src, path, cols, a, b)?;
                            let pb = std::mem::take(&mut d.pending_bad);
                            if pb.total() > 0 {
                                bad.push((before, pb));
                            }
                        }
                        Ok((d, bad))
                    })
                })
                .collect();
            hs.into_iter()
                .map(|h| h.join().expect("parser thread"))
                .collect()
        });
        let mut bad = Vec::new();
        for part in parts {
            let (d, b) = part.with_context(|| format!("reading {}", path.display()))?;
            self.absorb(d, 0);
            bad.extend(b);
        }
        Ok(bad)
    }
}
