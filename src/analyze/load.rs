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
use std::hash::{BuildHasherDefault, Hasher};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::probe::spec::{Class, Group};
use crate::record::FetchRecord;

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
    pub ttfb_ms: Option<f64>,
    pub transfer_ms: Option<f64>,
    pub total_ms: Option<f64>,
    pub tls_ms: Option<f64>,
}

/// The per-fetch rate: `steady_bps`, else `goodput_bps`, else
/// `body_bytes·8 / (ttfb + transfer)`; `None` when none is known.
///
/// The last resort counts from the request, not from the headers: a small
/// body that arrives in one read has a transfer time of microseconds, and
/// dividing by that gives "20 Gbit/s" for a 30 KB page.
pub fn fetch_rate(r: &Row) -> Option<f64> {
    r.steady_bps.or(r.goodput_bps).or_else(|| {
        let t = r.ttfb_ms.unwrap_or(0.0) + r.transfer_ms?;
        let b = r.body_bytes?;
        (t > 0.0).then(|| b as f64 * 8000.0 / t)
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
    pub(super) index: HashMap<Vec<u8>, usize, BuildHasherDefault<Fx>>,
    /// The key of each series, parallel to `series`.
    pub(super) keys: Vec<Vec<u8>>,
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

pub(super) fn parse_group(b: &[u8]) -> Option<Group> {
    match b {
        b"target" => Some(Group::Target),
        b"control" => Some(Group::Control),
        _ => None,
    }
}

pub(super) fn num<T: std::str::FromStr>(b: &[u8]) -> Option<T> {
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
                ttfb_ms: rec.ttfb_ms.map(|m| m.0),
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
        self.read_fetches(src, &fetches, super::fastcsv::PARALLEL_MIN_BYTES, threads)
            .with_context(|| format!("reading {}", fetches.display()))
    }
}
