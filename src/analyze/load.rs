//! Reading `fetches.csv` / `timeline.csv` (or in-memory records) into
//! per-URL series, grouped by vantage.
//!
//! Fetch rows are streamed with `csv::ByteRecord` and column indices looked up
//! once by header name; a row is folded into its series (key: vantage, url,
//! sni, host, class, group) without allocating. Only what the statistics need
//! is kept per row: the rate, total and TLS times as `f64`, and for target rows
//! the `fetch_id` in one arena string (to find timeline windows later).
//! Timeline rows are read afterwards, and only for the fetches a fingerprint
//! needs.

use std::collections::HashMap;
use std::fs::File;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::probe::spec::{Class, Group};
use crate::record::{Direction, FetchRecord, Window};

/// One failure string seen in a series, with the bytes those fetches got.
#[derive(Debug, Clone)]
pub struct Failure {
    pub error: String,
    pub phase: String,
    pub count: usize,
    pub body_bytes: Vec<u64>,
}

/// All fetches of one URL as fetched one way (same SNI/Host/class/group) at one vantage.
#[derive(Debug, Clone)]
pub struct Series {
    pub vantage: String,
    pub url: String,
    pub host: String,
    pub sni: String,
    pub class: Option<Class>,
    pub group: Group,
    /// Per-fetch rate in bit/s of fetches without error (see [`fetch_rate`]).
    pub rate: Vec<f64>,
    pub total_ms: Vec<f64>,
    pub tls_ms: Vec<f64>,
    pub n_fetches: usize,
    pub n_capped: usize,
    /// Sum of `body_bytes` over fetches without error, and their count.
    pub body_sum: f64,
    pub body_n: usize,
    pub failures: Vec<Failure>,
    /// `fetch_id`s of this series (targets only), `\n`-separated, with the
    /// source each came from.
    pub ids: String,
    pub id_sources: Vec<u32>,
}

impl Series {
    pub fn n_failed(&self) -> usize {
        self.failures.iter().map(|f| f.count).sum()
    }

    pub fn fetch_ids(&self) -> impl Iterator<Item = (u32, &str)> {
        self.id_sources
            .iter()
            .copied()
            .zip(self.ids.split_terminator('\n'))
    }
}

/// A borrowed view of the fields of one fetch row that analysis uses.
#[derive(Debug, Default, Clone, Copy)]
pub struct Row<'a> {
    pub vantage: &'a [u8],
    pub fetch_id: &'a [u8],
    pub url: &'a [u8],
    pub host: &'a [u8],
    pub sni: &'a [u8],
    pub class: Option<Class>,
    pub group: Option<Group>,
    pub error: &'a [u8],
    pub error_phase: &'a [u8],
    pub capped: bool,
    pub body_bytes: Option<u64>,
    pub steady_bps: Option<f64>,
    pub goodput_bps: Option<f64>,
    pub transfer_ms: Option<f64>,
    pub total_ms: Option<f64>,
    pub tls_ms: Option<f64>,
}

/// The per-fetch rate: `steady_bps`, else `goodput_bps`, else
/// `body_bytes·8 / transfer time`; `None` when none is known.
pub fn fetch_rate(r: &Row) -> Option<f64> {
    r.steady_bps
        .or(r.goodput_bps)
        .or_else(|| match (r.body_bytes, r.transfer_ms) {
            (Some(b), Some(t)) if t > 0.0 => Some(b as f64 * 8000.0 / t),
            _ => None,
        })
}

/// Where the timeline of a source comes from.
#[derive(Debug, Clone)]
pub enum TimelineSrc {
    None,
    File(PathBuf),
    /// In-memory records: the windows are passed again when traces are collected.
    Memory,
}

/// Everything loaded: series in first-seen order.
#[derive(Debug, Default)]
pub struct Dataset {
    pub series: Vec<Series>,
    pub sources: Vec<TimelineSrc>,
    index: HashMap<Vec<u8>, usize, BuildHasherDefault<Fx>>,
    /// The key of each series, parallel to `series`.
    keys: Vec<Vec<u8>>,
    key: Vec<u8>,
}

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

pub fn parse_class(b: &[u8]) -> Option<Class> {
    match b {
        b"text" => Some(Class::Text),
        b"image" => Some(Class::Image),
        b"video" => Some(Class::Video),
        b"audio" => Some(Class::Audio),
        b"other" => Some(Class::Other),
        _ => None,
    }
}

fn parse_group(b: &[u8]) -> Option<Group> {
    match b {
        b"target" => Some(Group::Target),
        b"control" => Some(Group::Control),
        _ => None,
    }
}

fn num<T: std::str::FromStr>(b: &[u8]) -> Option<T> {
    if b.is_empty() {
        return None;
    }
    std::str::from_utf8(b).ok()?.trim().parse().ok()
}

impl Dataset {
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
        self.key.clear();
        for part in [r.vantage, r.url, r.sni, host] {
            self.key.extend_from_slice(part);
            self.key.push(0x1f);
        }
        self.key.push(r.class.map_or(0xff, |c| c as u8));
        self.key.push(group as u8);
        let idx = match self.index.get(self.key.as_slice()) {
            Some(&i) => i,
            None => {
                self.series.push(Series {
                    vantage: lossy(r.vantage),
                    url: lossy(r.url),
                    host: lossy(host),
                    sni: lossy(r.sni),
                    class: r.class,
                    group,
                    rate: Vec::new(),
                    total_ms: Vec::new(),
                    tls_ms: Vec::new(),
                    n_fetches: 0,
                    n_capped: 0,
                    body_sum: 0.0,
                    body_n: 0,
                    failures: Vec::new(),
                    ids: String::new(),
                    id_sources: Vec::new(),
                });
                let i = self.series.len() - 1;
                self.index.insert(self.key.clone(), i);
                self.keys.push(self.key.clone());
                i
            }
        };
        let s = &mut self.series[idx];
        s.n_fetches += 1;
        if r.capped {
            s.n_capped += 1;
        }
        if group == Group::Target && !r.fetch_id.is_empty() {
            s.ids.push_str(&String::from_utf8_lossy(r.fetch_id));
            s.ids.push('\n');
            s.id_sources.push(source);
        }
        if !r.error.is_empty() {
            let bytes = r.body_bytes.unwrap_or(0);
            match s
                .failures
                .iter_mut()
                .find(|f| f.error.as_bytes() == r.error)
            {
                Some(f) => {
                    f.count += 1;
                    f.body_bytes.push(bytes);
                }
                None => s.failures.push(Failure {
                    error: lossy(r.error),
                    phase: lossy(r.error_phase),
                    count: 1,
                    body_bytes: vec![bytes],
                }),
            }
            return;
        }
        if let Some(b) = r.body_bytes {
            s.body_sum += b as f64;
            s.body_n += 1;
        }
        if let Some(v) = fetch_rate(r) {
            s.rate.push(v);
        }
        if let Some(v) = r.total_ms {
            s.total_ms.push(v);
        }
        if let Some(v) = r.tls_ms {
            s.tls_ms.push(v);
        }
    }

    /// Add in-memory records (one source, timeline from memory).
    pub fn add_records(&mut self, records: &[FetchRecord]) {
        let src = self.add_source(TimelineSrc::Memory);
        for rec in records {
            let error = rec.error.as_deref().unwrap_or("");
            let phase = rec.error_phase.map(|p| format!("{p:?}").to_lowercase());
            let row = Row {
                vantage: rec.vantage.as_bytes(),
                fetch_id: rec.fetch_id.as_bytes(),
                url: rec.url.as_bytes(),
                host: rec.host.as_bytes(),
                sni: rec.sni.as_bytes(),
                class: rec.class,
                group: rec.group,
                error: error.as_bytes(),
                error_phase: phase.as_deref().unwrap_or("").as_bytes(),
                capped: rec.capped.is_some(),
                body_bytes: Some(rec.body_bytes),
                steady_bps: rec.steady_bps.map(|v| v as f64),
                goodput_bps: rec.goodput_bps.map(|v| v as f64),
                transfer_ms: rec.transfer_ms.map(|m| m.0),
                total_ms: rec.total_ms.map(|m| m.0),
                tls_ms: rec.tls_ms.map(|m| m.0),
            };
            self.add(src, &row);
        }
    }

    /// Add a `fetches.csv` file, or an output directory holding one.
    pub fn add_path(&mut self, path: &Path) -> Result<()> {
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
        let src = self.add_source(tl);
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
        self.read_fetches(src, &fetches, PARALLEL_MIN_BYTES, threads)
            .with_context(|| format!("reading {}", fetches.display()))
    }

    /// Read a fetches.csv; files of at least `parallel_min` bytes are split at
    /// record boundaries and parsed on `threads` threads, then merged in order.
    pub fn read_fetches(
        &mut self,
        src: u32,
        path: &Path,
        parallel_min: u64,
        threads: usize,
    ) -> Result<()> {
        let len = std::fs::metadata(path)?.len();
        let mut rdr = csv::ReaderBuilder::new().flexible(true).from_path(path)?;
        let headers = rdr.byte_headers()?.clone();
        let start = rdr.position().byte();
        drop(rdr);
        let cols = Cols::new(&headers)?;
        if threads < 2 || len.saturating_sub(start) < parallel_min {
            return self.read_range(src, path, &cols, start, len);
        }
        let parts = split_points(path, start, len, threads)?;
        let parts: Vec<Result<Dataset>> = std::thread::scope(|s| {
            let handles: Vec<_> = parts
                .iter()
                .map(|&(a, b)| {
                    let cols = &cols;
                    s.spawn(move || {
                        let mut d = Dataset::default();
                        d.read_range(src, path, cols, a, b).map(|_| d)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("parser thread"))
                .collect()
        });
        for d in parts {
            self.merge(d?);
        }
        Ok(())
    }

    /// Append another dataset's series (same sources numbering).
    fn merge(&mut self, other: Dataset) {
        for (key, s) in other.keys.into_iter().zip(other.series) {
            match self.index.get(key.as_slice()) {
                Some(&i) => {
                    let t = &mut self.series[i];
                    t.rate.extend_from_slice(&s.rate);
                    t.total_ms.extend_from_slice(&s.total_ms);
                    t.tls_ms.extend_from_slice(&s.tls_ms);
                    t.n_fetches += s.n_fetches;
                    t.n_capped += s.n_capped;
                    t.body_sum += s.body_sum;
                    t.body_n += s.body_n;
                    t.ids.push_str(&s.ids);
                    t.id_sources.extend_from_slice(&s.id_sources);
                    for f in s.failures {
                        match t.failures.iter_mut().find(|g| g.error == f.error) {
                            Some(g) => {
                                g.count += f.count;
                                g.body_bytes.extend_from_slice(&f.body_bytes);
                            }
                            None => t.failures.push(f),
                        }
                    }
                }
                None => {
                    self.series.push(s);
                    self.index.insert(key.clone(), self.series.len() - 1);
                    self.keys.push(key);
                }
            }
        }
    }

    /// Parse the records in bytes `[start, end)` (which begin and end at
    /// record boundaries). Lines without `"` are split on commas directly
    /// (memchr); a line with quotes is handed, with its continuation lines if a
    /// quoted field spans them, to the csv crate.
    fn read_range(&mut self, src: u32, path: &Path, c: &Cols, start: u64, end: u64) -> Result<()> {
        let mut file = File::open(path)?;
        file.seek(SeekFrom::Start(start))?;
        let mut input = file.take(end - start);
        let mut buf = vec![0u8; 4 << 20];
        let mut filled = 0;
        let mut eof = false;
        let mut fields: Vec<(usize, usize)> = Vec::with_capacity(64);
        let mut rec = csv::ByteRecord::new();
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
                    break; // incomplete record: read more
                };
                let line = &rest[..nl];
                let line = line.strip_suffix(b"\n").unwrap_or(line);
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                if !line.is_empty() {
                    if !has_quote {
                        fields.clear();
                        let mut from = 0;
                        for comma in memchr::memchr_iter(b',', line) {
                            fields.push((from, comma));
                            from = comma + 1;
                        }
                        fields.push((from, line.len()));
                        let row = row_from(c, |i| {
                            i.and_then(|i| fields.get(i))
                                .map_or(&b""[..], |&(a, b)| &line[a..b])
                        });
                        self.add(src, &row);
                    } else {
                        let mut rdr = csv::ReaderBuilder::new()
                            .has_headers(false)
                            .flexible(true)
                            .from_reader(line);
                        if rdr.read_byte_record(&mut rec)? {
                            let row = row_from(c, |i| i.and_then(|i| rec.get(i)).unwrap_or(b""));
                            self.add(src, &row);
                        }
                    }
                }
                pos += nl;
            }
            buf.copy_within(pos..filled, 0);
            filled -= pos;
            if eof && (filled == 0 || pos == 0) {
                if filled > 0 {
                    bail!("unterminated quoted field at the end of the file");
                }
                return Ok(());
            }
            if filled == buf.len() {
                buf.resize(buf.len() * 2, 0); // a record longer than the buffer
            }
        }
    }
}

/// Length of the first record in `b` including its `\n` (a newline inside
/// quotes does not end it) and whether it holds a `"`; `None` if it is not
/// complete yet. At end of input, a final record without newline is complete.
fn record_end(b: &[u8], eof: bool) -> Option<(usize, bool)> {
    let mut quoted = false;
    let mut seen = false;
    let mut from = 0;
    loop {
        match memchr::memchr2(b'"', b'\n', &b[from..]) {
            Some(i) => {
                let at = from + i;
                if b[at] == b'"' {
                    quoted = !quoted;
                    seen = true;
                } else if !quoted {
                    return Some((at + 1, seen));
                }
                from = at + 1;
            }
            None => return (eof && !quoted && !b.is_empty()).then_some((b.len(), seen)),
        }
    }
}

/// The fields analysis uses, by column index, from any field accessor.
fn row_from<'a>(c: &Cols, f: impl Fn(Option<usize>) -> &'a [u8]) -> Row<'a> {
    Row {
        vantage: f(c.vantage),
        fetch_id: f(c.fetch_id),
        url: f(Some(c.url)),
        host: f(c.host),
        sni: f(c.sni),
        class: parse_class(f(c.class)),
        group: parse_group(f(c.group)),
        error: f(c.error),
        error_phase: f(c.error_phase),
        capped: !f(c.capped).is_empty(),
        body_bytes: fnum(f(c.body_bytes)).map(|v| v as u64),
        steady_bps: fnum(f(c.steady_bps)),
        goodput_bps: fnum(f(c.goodput_bps)),
        transfer_ms: fnum(f(c.transfer_ms)),
        total_ms: fnum(f(c.total_ms)),
        tls_ms: fnum(f(c.tls_ms)),
    }
}

/// Files smaller than this are parsed on one thread.
pub const PARALLEL_MIN_BYTES: u64 = 8 << 20;

/// Column indices of the fields analysis reads, by header name.
struct Cols {
    url: usize,
    vantage: Option<usize>,
    fetch_id: Option<usize>,
    host: Option<usize>,
    sni: Option<usize>,
    class: Option<usize>,
    group: Option<usize>,
    error: Option<usize>,
    error_phase: Option<usize>,
    capped: Option<usize>,
    body_bytes: Option<usize>,
    steady_bps: Option<usize>,
    goodput_bps: Option<usize>,
    transfer_ms: Option<usize>,
    total_ms: Option<usize>,
    tls_ms: Option<usize>,
}

impl Cols {
    fn new(h: &csv::ByteRecord) -> Result<Cols> {
        let col = |name: &str| h.iter().position(|x| x == name.as_bytes());
        let Some(url) = col("url") else {
            bail!("no `url` column: not a slowlane fetches.csv")
        };
        Ok(Cols {
            url,
            vantage: col("vantage"),
            fetch_id: col("fetch_id"),
            host: col("host"),
            sni: col("sni"),
            class: col("class"),
            group: col("group"),
            error: col("error"),
            error_phase: col("error_phase"),
            capped: col("capped"),
            body_bytes: col("body_bytes"),
            steady_bps: col("steady_bps"),
            goodput_bps: col("goodput_bps"),
            transfer_ms: col("transfer_ms"),
            total_ms: col("total_ms"),
            tls_ms: col("tls_ms"),
        })
    }
}

/// Split `[start, end)` of a CSV file into about `k` ranges that begin at
/// record boundaries: a newline outside quotes (RFC 4180 quoting: inside a
/// quoted field iff an odd number of `"` precede, since `""` adds two).
fn split_points(path: &Path, start: u64, end: u64, k: usize) -> Result<Vec<(u64, u64)>> {
    let mut f = File::open(path)?;
    f.seek(SeekFrom::Start(start))?;
    let targets: Vec<u64> = (1..k as u64)
        .map(|j| start + (end - start) * j / k as u64)
        .collect();
    let mut bounds = vec![start];
    let mut buf = vec![0u8; 1 << 20];
    let (mut pos, mut quoted, mut ti) = (start, false, 0);
    'read: while ti < targets.len() && pos < end {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        let chunk = &buf[..n];
        for i in memchr::memchr2_iter(b'"', b'\n', chunk) {
            if chunk[i] == b'"' {
                quoted = !quoted;
            } else if !quoted && pos + i as u64 >= targets[ti] {
                bounds.push(pos + i as u64 + 1);
                ti += 1;
                if ti == targets.len() {
                    break 'read;
                }
            }
        }
        pos += n as u64;
    }
    bounds.push(end);
    Ok(bounds
        .windows(2)
        .filter(|w| w[1] > w[0] && w[0] < end)
        .map(|w| (w[0], w[1].min(end)))
        .collect())
}

/// Fast decimal parse for the `12.345` / `131072` cells of the contract,
/// falling back to `str::parse` for anything else (exponents, signs, spaces).
fn fnum(b: &[u8]) -> Option<f64> {
    const POW10: [f64; 19] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
        1e17, 1e18,
    ];
    if b.is_empty() {
        return None;
    }
    let (mut int, mut frac, mut nd, mut fd, mut i) = (0u64, 0u64, 0usize, 0usize, 0usize);
    while i < b.len() && b[i].is_ascii_digit() {
        int = int.wrapping_mul(10).wrapping_add((b[i] - b'0') as u64);
        nd += 1;
        i += 1;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            frac = frac.wrapping_mul(10).wrapping_add((b[i] - b'0') as u64);
            fd += 1;
            i += 1;
        }
    }
    if i == b.len() && nd + fd > 0 && nd + fd <= 18 {
        return Some(int as f64 + frac as f64 / POW10[fd]);
    }
    num(b)
}

/// One timeline sample; missing values are NaN.
#[derive(Debug, Clone, Copy)]
pub struct Pt {
    pub t_ms: f64,
    pub bytes: f64,
    pub cum: f64,
    pub rtt_ms: f64,
    pub retrans: f64,
}

/// The windows of one fetch, split by direction.
#[derive(Debug, Clone, Default)]
pub struct Trace {
    pub down: Vec<Pt>,
    pub up: Vec<Pt>,
}

impl Trace {
    /// The direction that carried the transfer (down unless only up has bytes),
    /// sorted by time.
    pub fn main(&self) -> Vec<Pt> {
        let total = |v: &[Pt]| v.iter().map(|p| p.bytes).sum::<f64>();
        let mut v = if total(&self.down) == 0.0 && total(&self.up) > 0.0 {
            self.up.clone()
        } else {
            self.down.clone()
        };
        v.sort_by(|a, b| a.t_ms.total_cmp(&b.t_ms));
        v
    }
}

/// Collects the timeline windows of selected fetches: `wanted` maps
/// (source, fetch_id) to (series index, slot).
pub struct TraceCollector {
    /// Per source: fetch_id -> (series, slot).
    wanted: Vec<HashMap<Vec<u8>, (usize, usize)>>,
    /// Per series: its traces (one slot per wanted fetch).
    pub traces: HashMap<usize, Vec<Trace>>,
}

impl TraceCollector {
    /// Prepare to collect the traces of every target fetch of `series_idx`.
    pub fn new(ds: &Dataset, series_idx: &[usize]) -> TraceCollector {
        let mut wanted = vec![HashMap::new(); ds.sources.len()];
        let mut traces = HashMap::new();
        for &i in series_idx {
            let mut n = 0;
            for (src, id) in ds.series[i].fetch_ids() {
                wanted[src as usize].insert(id.as_bytes().to_vec(), (i, n));
                n += 1;
            }
            traces.insert(i, vec![Trace::default(); n]);
        }
        TraceCollector { wanted, traces }
    }

    fn push(&mut self, src: u32, fetch_id: &[u8], dir: Direction, p: Pt) {
        let Some(map) = self.wanted.get(src as usize) else {
            return;
        };
        if let Some(&(s, slot)) = map.get(fetch_id) {
            if let Some(t) = self.traces.get_mut(&s).and_then(|v| v.get_mut(slot)) {
                match dir {
                    Direction::Down => t.down.push(p),
                    Direction::Up => t.up.push(p),
                }
            }
        }
    }

    fn wants_source(&self, src: u32) -> bool {
        self.wanted.get(src as usize).is_some_and(|m| !m.is_empty())
    }

    /// Stream every source's timeline; `memory` supplies in-memory windows.
    pub fn collect(&mut self, ds: &Dataset, memory: &[&Window]) -> Result<()> {
        for (src, tl) in ds.sources.iter().enumerate() {
            let src = src as u32;
            if !self.wants_source(src) {
                continue;
            }
            match tl {
                TimelineSrc::None => {}
                TimelineSrc::Memory => {
                    for w in memory {
                        let p = Pt {
                            t_ms: w.t_ms.0,
                            bytes: w.bytes as f64,
                            cum: w.cum_bytes as f64,
                            rtt_ms: w.tcp_rtt_ms.map_or(f64::NAN, |m| m.0),
                            retrans: w.tcp_retrans.map_or(f64::NAN, |r| r as f64),
                        };
                        self.push(src, w.fetch_id.as_bytes(), w.direction, p);
                    }
                }
                TimelineSrc::File(path) => self
                    .read_file(src, path)
                    .with_context(|| format!("reading {}", path.display()))?,
            }
        }
        Ok(())
    }

    fn read_file(&mut self, src: u32, path: &Path) -> Result<()> {
        let mut rdr = csv::ReaderBuilder::new()
            .buffer_capacity(1 << 20)
            .flexible(true)
            .from_path(path)?;
        let headers = rdr.byte_headers()?.clone();
        let col = |name: &str| headers.iter().position(|h| h == name.as_bytes());
        let (Some(id), Some(t), Some(cum)) = (col("fetch_id"), col("t_ms"), col("cum_bytes"))
        else {
            bail!("timeline.csv lacks fetch_id, t_ms or cum_bytes");
        };
        let (dir, bytes, rtt, re) = (
            col("direction"),
            col("bytes"),
            col("tcp_rtt_ms"),
            col("tcp_retrans"),
        );
        let mut rec = csv::ByteRecord::new();
        let nan = |v: Option<f64>| v.unwrap_or(f64::NAN);
        while rdr.read_byte_record(&mut rec)? {
            let f = |i: Option<usize>| i.and_then(|i| rec.get(i)).unwrap_or(b"");
            let d = if f(dir) == b"up" {
                Direction::Up
            } else {
                Direction::Down
            };
            let p = Pt {
                t_ms: nan(num(f(Some(t)))),
                bytes: nan(num(f(bytes))),
                cum: nan(num(f(Some(cum)))),
                rtt_ms: nan(num(f(rtt))),
                retrans: nan(num(f(re))),
            };
            if p.t_ms.is_nan() || p.cum.is_nan() {
                continue;
            }
            self.push(src, f(Some(id)), d, p);
        }
        Ok(())
    }
}
