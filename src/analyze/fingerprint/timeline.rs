//! Timeline windows of selected fetches, from `timeline.csv` or memory.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::analyze::input::fastcsv::fnum;
use crate::analyze::input::load::{Dataset, TimelineSrc};
use crate::types::{Direction, Window};

/// One timeline sample; missing values are NaN.
#[derive(Debug, Clone, Copy)]
pub struct Pt {
    pub t_ms: f64,
    pub bytes: f64,
    pub cum: f64,
    pub rtt_ms: f64,
    pub retrans: f64,
    /// TCP-level cumulative bytes (`tcp_cum_bytes`), NaN when not recorded.
    pub tcp_cum: f64,
}

/// The windows of one fetch, split by direction.
#[derive(Debug, Clone, Default)]
pub struct Trace {
    pub down: Vec<Pt>,
    pub up: Vec<Pt>,
}

impl Trace {
    /// The windows of one direction, sorted by time. A row judges one
    /// direction: an upload by its acknowledged bytes, never by the few
    /// bytes of its response.
    pub fn of(&self, d: Direction) -> Vec<Pt> {
        let mut v = match d {
            Direction::Down => self.down.clone(),
            Direction::Up => self.up.clone(),
        };
        v.sort_by(|a, b| a.t_ms.total_cmp(&b.t_ms));
        v
    }

    /// Whether direction `d` has any window (without copying them).
    pub fn has(&self, d: Direction) -> bool {
        match d {
            Direction::Down => !self.down.is_empty(),
            Direction::Up => !self.up.is_empty(),
        }
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
                            tcp_cum: w.tcp_cum_bytes.map_or(f64::NAN, |b| b as f64),
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
        let (dir, bytes, rtt, re, tcp_cum) = (
            col("direction"),
            col("bytes"),
            col("tcp_rtt_ms"),
            col("tcp_retrans"),
            col("tcp_cum_bytes"),
        );
        let mut rec = csv::ByteRecord::new();
        let nan = |v: Option<f64>| v.unwrap_or(f64::NAN);
        let num = fnum;
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
                tcp_cum: nan(num(f(tcp_cum))),
            };
            if p.t_ms.is_nan() || p.cum.is_nan() {
                continue;
            }
            self.push(src, f(Some(id)), d, p);
        }
        Ok(())
    }
}
