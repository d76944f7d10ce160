//! Fetch rows folded into per-URL series, grouped by vantage.
//!
//! The CSV reader ([`super::fastcsv`]) knows nothing of this module's types:
//! it hands borrowed [`Row`]s to a [`RowSink`]. [`Dataset`] is the sink that
//! analysis uses. A row becomes one [`Obs`] of its series (key: vantage, url,
//! sni, host, class, group, direction) — a few floats, the round it belongs
//! to and the index of its `fetch_id` — or, when it failed with anything but
//! a timeout, a [`Failure`] count.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::badrows::{BadKind, BadRows};
use super::fastcsv::{self, RowSink};
pub use super::row::{direction_of, fetch_rate, RateSrc, Row, TIMEOUT};
use crate::analyze::stats::{median, sort};
use crate::types::{Class, Group, Transport};
use crate::types::{Direction, FetchRecord};

/// One failure string seen in a series, with the bytes those fetches got.
#[derive(Debug, Clone)]
pub struct Failure {
    pub error: String,
    pub phase: String,
    pub count: usize,
    pub body_bytes: Vec<u64>,
}

/// Merge failure counts (one owner of this merge: series, samples, rows).
pub fn merge_failures(into: &mut Vec<Failure>, from: &[Failure]) {
    for f in from {
        match into.iter_mut().find(|g| g.error == f.error) {
            Some(g) => {
                g.count += f.count;
                g.body_bytes.extend_from_slice(&f.body_bytes);
            }
            None => into.push(f.clone()),
        }
    }
}

/// One measured fetch of a series. NaN = unknown.
#[derive(Debug, Clone, Copy)]
pub struct Obs {
    /// bit/s in the series' direction.
    pub rate: f64,
    pub total_ms: f64,
    pub tls_ms: f64,
    /// Size the fetch set out to move (bytes).
    pub size: f64,
    /// Hash of (run_id, round): fetches with equal `pair` were made in the
    /// same round of the same run. 0: no round known.
    pub pair: u64,
    /// Index into the series' `fetch_id`s (targets), `u32::MAX` when none.
    pub id: u32,
    /// Cut by `max_time`/`max_bytes` or ended by a timeout: the rate is an
    /// upper bound and the times a lower bound.
    pub censored: bool,
    pub src: RateSrc,
}

/// All fetches of one URL as fetched one way (same SNI/Host/class/group/
/// direction) at one vantage.
#[derive(Debug, Clone)]
pub struct Series {
    pub vantage: String,
    pub url: String,
    pub host: String,
    pub sni: String,
    pub label: String,
    /// Explicit control labels (campaign `control = [...]`).
    pub controls: Vec<String>,
    pub class: Option<Class>,
    pub group: Group,
    pub direction: Direction,
    /// `tcp` or `quic`: one name over two transports is two series.
    pub transport: Transport,
    pub obs: Vec<Obs>,
    pub n_fetches: usize,
    /// Every error string seen, timeouts included (timeouts are also
    /// observations; see [`Series::n_blocking`]).
    pub failures: Vec<Failure>,
    /// Timeouts (`generic_timeout_error`); they are also observations.
    pub timeouts: usize,
    /// Timeouts before a single byte moved in the series' direction.
    pub silent_timeouts: usize,
    /// `fetch_id`s of this series (targets only), `\n`-separated, with the
    /// source each came from.
    pub ids: String,
    pub id_sources: Vec<u32>,
    /// The runs (indices into [`Dataset::runs`]) the series' fetches come
    /// from, in first-seen order.
    pub runs: Vec<u32>,
}

impl Series {
    /// Fetches that ended in an error (timeouts included).
    pub fn n_failed(&self) -> usize {
        self.failures.iter().map(|f| f.count).sum()
    }

    /// Fetches that failed with a blocking signal (any error but a timeout)
    /// or timed out before a single byte moved.
    pub fn n_blocking(&self) -> usize {
        self.n_failed() - self.timeouts + self.silent_timeouts
    }

    pub fn fetch_ids(&self) -> impl Iterator<Item = (u32, &str)> {
        self.id_sources
            .iter()
            .copied()
            .zip(self.ids.split_terminator('\n'))
    }

    /// Median size of the fetches that know it (NaN when none does).
    pub fn size(&self) -> f64 {
        let mut v: Vec<f64> = self
            .obs
            .iter()
            .map(|o| o.size)
            .filter(|s| s.is_finite())
            .collect();
        if v.is_empty() {
            return f64::NAN;
        }
        sort(&mut v);
        median(&v)
    }
}

/// Where the timeline of a source comes from.
#[derive(Debug, Clone)]
pub enum TimelineSrc {
    None,
    File(PathBuf),
    /// In-memory records: the windows are passed again when traces are collected.
    Memory,
}

/// One run a fetch came from: its `campaign` name and `run_id`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RunId {
    pub campaign: String,
    pub run_id: String,
}

/// Everything loaded: series in first-seen order.
#[derive(Debug, Default)]
pub struct Dataset {
    /// Boxed: at 10,000 vantages a part holds 200k series, and growing a
    /// vector of whole `Series` moved (and faulted in) hundreds of MB.
    pub series: Vec<Box<Series>>,
    /// `analyze --by-run`: each run is its own vantage, `vantage/run_id`.
    pub by_run: bool,
    /// Every (campaign, run_id) seen, in first-seen order.
    pub runs: Vec<RunId>,
    run_index: HashMap<Vec<u8>, u32, BuildHasherDefault<Fx>>,
    /// The run key of the previous row and its index: rows of one run come
    /// in long stretches, so most rows cost one comparison.
    pub(super) last_run: Option<(Vec<u8>, u32)>,
    run_key: Vec<u8>,
    vantage_buf: Vec<u8>,
    pub sources: Vec<TimelineSrc>,
    /// Unusable rows per source file.
    pub bad: Vec<(PathBuf, BadRows)>,
    /// Series key → index into `series` (the only copy of each key).
    index: HashMap<Vec<u8>, usize, BuildHasherDefault<Fx>>,
    key: Vec<u8>,
    /// Unusable rows of the file being read (moved to `bad` after it).
    pub(super) pending_bad: BadRows,
}

/// Above this many merged series a part's leftovers are freed in the background.
const BACKGROUND_FREE: usize = 10_000;

/// FxHash (as in rustc): a fast non-cryptographic hasher for the series keys.
#[derive(Default)]
pub struct Fx(u64);

impl Hasher for Fx {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            self.0 =
                (self.0.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(0x517c_c1b7_2722_0a95);
        }
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The host of a URL (`https://h:443/p` → `h`), for rows with an empty `host`.
pub fn url_host(url: &[u8]) -> &[u8] {
    let rest = match url.windows(3).position(|w| w == b"://") {
        Some(p) => &url[p + 3..],
        None => url,
    };
    let end = rest
        .iter()
        .position(|&c| c == b'/' || c == b':' || c == b'?' || c == b'#')
        .unwrap_or(rest.len());
    &rest[..end]
}

/// FNV-1a of (run_id, round): the pairing key of a round.
fn pair_key(run: &[u8], round: Option<u64>) -> u64 {
    let Some(round) = round else { return 0 };
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in run.iter().chain(&[0xff]).chain(&round.to_le_bytes()) {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h.max(1)
}

impl RowSink for Dataset {
    fn row(&mut self, source: u32, r: &Row) {
        self.add(source, r);
    }

    fn bad(&mut self, line: u64, kind: BadKind) {
        self.pending_bad.add(line, kind);
    }

    fn fresh(&self) -> Dataset {
        Dataset {
            by_run: self.by_run,
            ..Dataset::default()
        }
    }

    fn absorb(&mut self, other: Dataset, line_offset: u64) {
        self.pending_bad.absorb(&other.pending_bad, line_offset);
        if self.series.is_empty() && self.runs.is_empty() {
            // The first part of the first file: take it whole (the merge
            // below would rebuild the same series, index and runs one by one).
            self.series = other.series;
            self.index = other.index;
            self.runs = other.runs;
            self.run_index = other.run_index;
            self.last_run = None;
            return;
        }
        let remap: Vec<u32> = other
            .runs
            .iter()
            .map(|r| self.intern_run(r.campaign.as_bytes(), r.run_id.as_bytes()))
            .collect();
        // The other part's keys in its series order.
        let mut keys: Vec<Vec<u8>> = vec![Vec::new(); other.series.len()];
        for (k, i) in other.index {
            keys[i] = k;
        }
        // The part's copies of series already here are freed on a thread
        // of their own: at 10,000 vantages every part holds all 200,000
        // series, and freeing them here was a third of this serial merge.
        let mut done: Vec<(Vec<u8>, Box<Series>)> = Vec::with_capacity(other.series.len());
        let found = self.lookup(&keys);
        for ((key, mut s), found) in keys.into_iter().zip(other.series).zip(found) {
            for r in &mut s.runs {
                *r = remap[*r as usize];
            }
            match found {
                Some(i) => {
                    let t = &mut self.series[i];
                    for &r in &s.runs {
                        if !t.runs.contains(&r) {
                            t.runs.push(r);
                        }
                    }
                    let shift = t.id_sources.len() as u32;
                    t.obs.extend(s.obs.iter().map(|o| Obs {
                        id: if o.id == u32::MAX { o.id } else { o.id + shift },
                        ..*o
                    }));
                    t.n_fetches += s.n_fetches;
                    t.timeouts += s.timeouts;
                    t.silent_timeouts += s.silent_timeouts;
                    t.ids.push_str(&s.ids);
                    t.id_sources.extend_from_slice(&s.id_sources);
                    merge_failures(&mut t.failures, &s.failures);
                    done.push((key, s));
                }
                None => {
                    self.series.push(s);
                    self.index.insert(key, self.series.len() - 1);
                }
            }
        }
        if done.len() > BACKGROUND_FREE {
            std::thread::spawn(move || drop(done));
        }
    }
}

impl Dataset {
    /// Where each of a later part's series keys already is, looked up on
    /// all cores (the keys of one part are distinct, so nothing the merge
    /// adds could change an answer). At 10,000 vantages each part holds all
    /// 200,000 keys, and hashing them was half of the serial merge.
    fn lookup(&self, keys: &[Vec<u8>]) -> Vec<Option<usize>> {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
        if threads < 2 || keys.len() < BACKGROUND_FREE {
            return keys
                .iter()
                .map(|k| self.index.get(k.as_slice()).copied())
                .collect();
        }
        let per = keys.len().div_ceil(threads);
        std::thread::scope(|s| {
            let handles: Vec<_> = keys
                .chunks(per)
                .map(|part| {
                    s.spawn(move || {
                        part.iter()
                            .map(|k| self.index.get(k.as_slice()).copied())
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().expect("lookup thread"))
                .collect()
        })
    }

    /// The index of run (campaign, run_id) in [`Dataset::runs`], added when new.
    pub(super) fn intern_run(&mut self, campaign: &[u8], run_id: &[u8]) -> u32 {
        self.run_key.clear();
        self.run_key.extend_from_slice(campaign);
        self.run_key.push(0x1f);
        self.run_key.extend_from_slice(run_id);
        if let Some((k, i)) = &self.last_run {
            if *k == self.run_key {
                return *i;
            }
        }
        let i = match self.run_index.get(self.run_key.as_slice()) {
            Some(&i) => i,
            None => {
                self.runs.push(RunId {
                    campaign: lossy(campaign),
                    run_id: lossy(run_id),
                });
                let i = (self.runs.len() - 1) as u32;
                self.run_index.insert(self.run_key.clone(), i);
                i
            }
        };
        self.last_run = Some((self.run_key.clone(), i));
        i
    }

    pub fn add_source(&mut self, t: TimelineSrc) -> u32 {
        self.sources.push(t);
        (self.sources.len() - 1) as u32
    }

    /// Fold one fetch row into its series.
    pub fn add(&mut self, source: u32, r: &Row) {
        let host = if r.host.is_empty() {
            url_host(r.url)
        } else {
            r.host
        };
        let group = r.group.unwrap_or(Group::Target);
        let run = self.intern_run(r.campaign, r.run_id);
        // --by-run: the run is part of the vantage.
        let mut vbuf = std::mem::take(&mut self.vantage_buf);
        let vantage = if self.by_run {
            vbuf.clear();
            vbuf.extend_from_slice(r.vantage);
            vbuf.push(b'/');
            vbuf.extend_from_slice(r.run_id);
            vbuf.as_slice()
        } else {
            r.vantage
        };
        self.key.clear();
        for part in [vantage, r.url, r.sni, host] {
            self.key.extend_from_slice(part);
            self.key.push(0x1f);
        }
        self.key.push(r.class.map_or(0xff, |c| c as u8));
        self.key.push(group as u8);
        self.key.push(r.direction as u8);
        self.key.push(r.transport as u8);
        let idx = match self.index.get(self.key.as_slice()) {
            Some(&i) => i,
            None => {
                let controls = String::from_utf8_lossy(r.controls)
                    .split(';')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect();
                self.series.push(Box::new(Series {
                    vantage: lossy(vantage),
                    url: lossy(r.url),
                    host: lossy(host),
                    sni: lossy(r.sni),
                    label: lossy(r.label),
                    controls,
                    class: r.class,
                    group,
                    direction: r.direction,
                    transport: r.transport,
                    obs: Vec::new(),
                    n_fetches: 0,
                    failures: Vec::new(),
                    timeouts: 0,
                    silent_timeouts: 0,
                    ids: String::new(),
                    id_sources: Vec::new(),
                    runs: Vec::new(),
                }));
                let i = self.series.len() - 1;
                self.index.insert(self.key.clone(), i);
                i
            }
        };
        self.vantage_buf = vbuf;
        let s = &mut self.series[idx];
        if s.runs.last() != Some(&run) && !s.runs.contains(&run) {
            s.runs.push(run);
        }
        s.n_fetches += 1;
        let mut id = u32::MAX;
        if group == Group::Target && !r.fetch_id.is_empty() {
            id = s.id_sources.len() as u32;
            s.ids.push_str(&String::from_utf8_lossy(r.fetch_id));
            s.ids.push('\n');
            s.id_sources.push(source);
        }
        let moved = match r.direction {
            Direction::Down => r.body_bytes,
            Direction::Up => r.upload_bytes,
        };
        if r.error == TIMEOUT {
            s.timeouts += 1;
            if moved.unwrap_or(0) == 0 {
                s.silent_timeouts += 1;
            }
        }
        if !r.error.is_empty() {
            let f = Failure {
                error: lossy(r.error),
                phase: lossy(r.error_phase),
                count: 1,
                body_bytes: vec![r.body_bytes.unwrap_or(0)],
            };
            merge_failures(&mut s.failures, std::slice::from_ref(&f));
        }
        let Some((rate, src, censored)) = fetch_rate(r) else {
            return;
        };
        // Size: what the fetch set out to move; the bytes moved only count
        // when the fetch ended by itself.
        let size = r
            .object_bytes
            .or_else(|| moved.filter(|_| !censored))
            .map_or(f64::NAN, |b| b as f64);
        // A handshake that timed out took at least the time spent in it.
        // Over QUIC the one handshake (transport + TLS) stands in for it.
        let tls_ms = r.tls_ms.or(r.quic_ms).or_else(|| {
            (r.error_phase == b"tls")
                .then(|| Some(r.total_ms? - r.dns_ms.unwrap_or(0.0) - r.tcp_ms?))
                .flatten()
        });
        s.obs.push(Obs {
            rate,
            total_ms: r.total_ms.unwrap_or(f64::NAN),
            tls_ms: tls_ms.unwrap_or(f64::NAN),
            size,
            pair: pair_key(r.run_id, r.round),
            id,
            censored,
            src,
        });
    }

    /// Add in-memory records (one source, timeline from memory).
    pub fn add_records(&mut self, records: &[FetchRecord]) {
        let src = self.add_source(TimelineSrc::Memory);
        for rec in records {
            let error = rec.error.as_deref().unwrap_or("");
            let phase = rec.error_phase.map(|p| format!("{p:?}").to_lowercase());
            let round = Some(rec.round as u64);
            let row = Row {
                campaign: rec.campaign.as_bytes(),
                vantage: rec.vantage.as_bytes(),
                run_id: rec.run_id.as_bytes(),
                round,
                fetch_id: rec.fetch_id.as_bytes(),
                started_at: rec.started_at.as_bytes(),
                url: rec.url.as_bytes(),
                host: rec.host.as_bytes(),
                sni: rec.sni.as_bytes(),
                label: rec.label.as_bytes(),
                controls: rec.controls.as_bytes(),
                class: rec.class,
                group: rec.group,
                direction: direction_of(
                    (rec.direction == Direction::Up).then_some(Direction::Up),
                    rec.method.as_bytes(),
                    rec.upload_bytes,
                ),
                transport: rec.transport,
                error: error.as_bytes(),
                error_phase: phase.as_deref().unwrap_or("").as_bytes(),
                capped: rec.capped.is_some(),
                body_bytes: Some(rec.body_bytes),
                upload_bytes: Some(rec.upload_bytes),
                object_bytes: rec.object_bytes,
                steady_bps: rec.steady_bps.map(|v| v as f64),
                goodput_bps: rec.goodput_bps.map(|v| v as f64),
                upload_bps: rec.upload_bps.map(|v| v as f64),
                dns_ms: rec.dns_ms.map(|m| m.0),
                tcp_ms: rec.tcp_ms.map(|m| m.0),
                tls_ms: rec.tls_ms.map(|m| m.0),
                quic_ms: rec.quic_ms.map(|m| m.0),
                ttfb_ms: rec.ttfb_ms.map(|m| m.0),
                transfer_ms: rec.transfer_ms.map(|m| m.0),
                total_ms: rec.total_ms.map(|m| m.0),
            };
            self.add(src, &row);
        }
    }

    /// Add a `fetches.csv` file, or an output directory holding one.
    pub fn add_path(&mut self, path: &Path) -> Result<()> {
        let (fetches, tl) = resolve(path);
        let src = self.add_source(tl);
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
        self.read_fetches(src, &fetches, fastcsv::PARALLEL_MIN_BYTES, threads)
    }

    /// Read one fetches.csv into this dataset (see [`fastcsv::read`]).
    pub fn read_fetches(
        &mut self,
        src: u32,
        path: &Path,
        parallel_min: u64,
        threads: usize,
    ) -> Result<()> {
        self.pending_bad = BadRows::default();
        fastcsv::read(self, src, path, parallel_min, threads)
            .with_context(|| format!("reading {}", path.display()))?;
        let bad = std::mem::take(&mut self.pending_bad);
        self.bad.push((path.to_path_buf(), bad));
        Ok(())
    }
}

/// The `fetches.csv` a path given to `analyze` stands for (the file, or the
/// one in a run's folder) and where its timeline comes from.
pub fn resolve(path: &Path) -> (PathBuf, TimelineSrc) {
    let (fetches, timeline) = if path.is_dir() {
        (path.join("fetches.csv"), path.join("timeline.csv"))
    } else {
        let dir = path.parent().unwrap_or(Path::new("."));
        (path.to_path_buf(), dir.join("timeline.csv"))
    };
    let sibling_ok =
        path.is_dir() || fetches.file_name().and_then(|n| n.to_str()) == Some("fetches.csv");
    let tl = if sibling_ok && timeline.is_file() {
        TimelineSrc::File(timeline)
    } else {
        TimelineSrc::None
    };
    (fetches, tl)
}
