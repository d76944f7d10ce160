//! One pass over `fetches.csv` that keeps what the report's pictures need and
//! nothing per fetch beyond a few floats: per vantage × class × direction ×
//! group the rates and phase times (turned into quantiles before plotting),
//! the rate of each round, and per URL series a handful of fetch ids whose
//! timelines the bytes-over-time panels draw.
//!
//! It is a [`RowSink`] of the analyzer's CSV reader, so the report parses
//! rows exactly as `analyze` does (same columns, same rate rule).

use std::collections::HashMap;
use std::hash::BuildHasherDefault;

use crate::analyze::input::fastcsv::RowSink;
use crate::analyze::input::load::{fetch_rate, url_host, Fx, Row};
use crate::analyze::BadKind;
use crate::types::{Class, Direction, Group};

/// Fetches kept per series for the timeline panels.
const PICKS: usize = 3;

/// Values of one vantage × class × direction × group.
#[derive(Debug, Clone)]
pub struct Cell {
    pub vantage: String,
    pub class: Option<Class>,
    pub direction: Direction,
    pub group: Group,
    /// bit/s in the cell's direction (the analyzer's per-fetch rate).
    pub rates: Vec<f32>,
    pub tcp_ms: Vec<f32>,
    pub tls_ms: Vec<f32>,
    pub ttfb_ms: Vec<f32>,
    /// (round, rate) of every fetch with a rate and a round.
    pub rounds: Vec<(u32, f32)>,
    /// (hour since the Unix epoch, rate) of every fetch with a rate and a
    /// readable `started_at`.
    pub hours: Vec<(u32, f32)>,
    /// Sources (input files) the cell's rows came from.
    pub sources: Vec<u32>,
}

/// One fetch kept for a timeline panel.
#[derive(Debug, Clone, PartialEq)]
pub struct Pick {
    pub rate: f32,
    pub source: u32,
    pub fetch_id: String,
}

/// One URL series (the analyzer's series key) with the fetches kept for it.
#[derive(Debug, Clone)]
pub struct SeriesPicks {
    pub vantage: String,
    pub url: String,
    pub sni: String,
    pub host: String,
    pub class: Option<Class>,
    pub direction: Direction,
    pub group: Group,
    /// Largest size a fetch set out to move (bytes; 0 unknown).
    pub size: u64,
    /// The slowest fetches (a partial row's slowed fetches are among them).
    pub slowest: Vec<Pick>,
    /// The first fetches (typical ones, for controls).
    pub first: Vec<Pick>,
}

/// Key bytes → position (FxHash: the keys are short and not adversarial).
type Index = HashMap<Vec<u8>, usize, BuildHasherDefault<Fx>>;

/// The aggregate of every row read.
#[derive(Debug, Default)]
pub struct Agg {
    pub cells: Vec<Cell>,
    cell_index: Index,
    pub series: Vec<SeriesPicks>,
    series_index: Index,
    /// Rows the reader could not use.
    pub bad_rows: u64,
    key: Vec<u8>,
    hours: HourCache,
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn push_f(v: &mut Vec<f32>, x: Option<f64>) {
    if let Some(x) = x.filter(|x| x.is_finite()) {
        v.push(x as f32);
    }
}

/// Keep the `PICKS` slowest of `v` (sorted ascending by rate).
fn keep_slowest(v: &mut Vec<Pick>, p: Pick) {
    if v.len() == PICKS && v.last().is_some_and(|l| l.rate <= p.rate) {
        return;
    }
    let at = v.partition_point(|x| x.rate <= p.rate);
    v.insert(at, p);
    v.truncate(PICKS);
}

impl Agg {
    fn cell(&mut self, vantage: &[u8], r: &Row, group: Group) -> usize {
        self.key.clear();
        self.key.extend_from_slice(vantage);
        self.key.push(0x1f);
        self.key
            .extend_from_slice(&[r.class.map_or(0xff, |c| c as u8), group as u8]);
        self.key.push(r.direction as u8);
        if let Some(&i) = self.cell_index.get(self.key.as_slice()) {
            return i;
        }
        self.cells.push(Cell {
            vantage: lossy(vantage),
            class: r.class,
            direction: r.direction,
            group,
            rates: Vec::new(),
            tcp_ms: Vec::new(),
            tls_ms: Vec::new(),
            ttfb_ms: Vec::new(),
            rounds: Vec::new(),
            hours: Vec::new(),
            sources: Vec::new(),
        });
        self.cell_index
            .insert(self.key.clone(), self.cells.len() - 1);
        self.cells.len() - 1
    }

    fn series_of(&mut self, r: &Row, host: &[u8], group: Group) -> usize {
        self.key.clear();
        for part in [r.vantage, r.url, r.sni, host] {
            self.key.extend_from_slice(part);
            self.key.push(0x1f);
        }
        self.key
            .extend_from_slice(&[r.class.map_or(0xff, |c| c as u8), group as u8]);
        self.key.push(r.direction as u8);
        if let Some(&i) = self.series_index.get(self.key.as_slice()) {
            return i;
        }
        self.series.push(SeriesPicks {
            vantage: lossy(r.vantage),
            url: lossy(r.url),
            sni: lossy(r.sni),
            host: lossy(host),
            class: r.class,
            direction: r.direction,
            group,
            size: 0,
            slowest: Vec::new(),
            first: Vec::new(),
        });
        self.series_index
            .insert(self.key.clone(), self.series.len() - 1);
        self.series.len() - 1
    }

    /// Fold one row.
    pub fn add(&mut self, source: u32, r: &Row) {
        let group = r.group.unwrap_or(Group::Target);
        let rate = fetch_rate(r).map(|x| x.0).filter(|x| x.is_finite());
        let c = self.cell(r.vantage, r, group);
        let cell = &mut self.cells[c];
        if cell.sources.last() != Some(&source) && !cell.sources.contains(&source) {
            cell.sources.push(source);
        }
        push_f(&mut cell.rates, rate);
        push_f(&mut cell.tcp_ms, r.tcp_ms);
        push_f(&mut cell.tls_ms, r.tls_ms);
        push_f(&mut cell.ttfb_ms, r.ttfb_ms);
        if let (Some(round), Some(rate)) = (r.round, rate) {
            cell.rounds
                .push((round.min(u32::MAX as u64) as u32, rate as f32));
        }
        if let (Some(hour), Some(rate)) =
            (rate.and_then(|_| self.hours.hour_of(r.started_at)), rate)
        {
            cell.hours.push((hour, rate as f32));
        }
        let (Some(rate), false) = (rate, r.fetch_id.is_empty()) else {
            return;
        };
        let host = if r.host.is_empty() {
            url_host(r.url)
        } else {
            r.host
        };
        let s = self.series_of(r, host, group);
        let s = &mut self.series[s];
        let moved = match r.direction {
            Direction::Down => r.body_bytes,
            Direction::Up => r.upload_bytes,
        };
        s.size = s.size.max(r.object_bytes.or(moved).unwrap_or(0));
        let rate = rate as f32;
        let early = s.first.len() < PICKS;
        let slow = s.slowest.len() < PICKS || s.slowest.last().is_some_and(|l| rate < l.rate);
        if !early && !slow {
            return;
        }
        let pick = Pick {
            rate,
            source,
            fetch_id: lossy(r.fetch_id),
        };
        if early {
            s.first.push(pick.clone());
        }
        keep_slowest(&mut s.slowest, pick);
    }
}

impl RowSink for Agg {
    fn row(&mut self, source: u32, row: &Row) {
        self.add(source, row);
    }

    fn bad(&mut self, _line: u64, _kind: BadKind) {
        self.bad_rows += 1;
    }

    fn absorb(&mut self, other: Agg, _line_offset: u64) {
        self.bad_rows += other.bad_rows;
        for (key, i) in other.cell_index {
            let c = &other.cells[i];
            match self.cell_index.get(&key) {
                Some(&j) => {
                    let t = &mut self.cells[j];
                    t.rates.extend_from_slice(&c.rates);
                    t.tcp_ms.extend_from_slice(&c.tcp_ms);
                    t.tls_ms.extend_from_slice(&c.tls_ms);
                    t.ttfb_ms.extend_from_slice(&c.ttfb_ms);
                    t.rounds.extend_from_slice(&c.rounds);
                    t.hours.extend_from_slice(&c.hours);
                    for s in &c.sources {
                        if !t.sources.contains(s) {
                            t.sources.push(*s);
                        }
                    }
                }
                None => {
                    self.cells.push(c.clone());
                    self.cell_index.insert(key, self.cells.len() - 1);
                }
            }
        }
        for (key, i) in other.series_index {
            let s = &other.series[i];
            match self.series_index.get(&key) {
                Some(&j) => {
                    let t = &mut self.series[j];
                    t.size = t.size.max(s.size);
                    for p in &s.first {
                        if t.first.len() < PICKS {
                            t.first.push(p.clone());
                        }
                    }
                    for p in &s.slowest {
                        keep_slowest(&mut t.slowest, p.clone());
                    }
                }
                None => {
                    self.series.push(s.clone());
                    self.series_index.insert(key, self.series.len() - 1);
                }
            }
        }
    }
}

/// Evenly spaced quantiles (`n` ≥ 2 points from min to max) of `v`, sorted
/// in place: what a CDF or a box needs, whatever the number of fetches.
pub fn quantiles(v: &mut [f32], n: usize) -> Vec<f64> {
    if v.is_empty() {
        return Vec::new();
    }
    v.sort_unstable_by(|a, b| a.total_cmp(b));
    let last = (v.len() - 1) as f64;
    (0..n)
        .map(|i| {
            let pos = last * i as f64 / (n - 1).max(1) as f64;
            let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
            let f = pos - lo as f64;
            v[lo] as f64 * (1.0 - f) + v[hi] as f64 * f
        })
        .collect()
}

/// Whole hours since the Unix epoch of an RFC 3339 UTC time (`started_at`
/// as the probe writes it); None for an empty or unreadable cell.
pub fn hour_of(started_at: &[u8]) -> Option<u32> {
    let t = humantime::parse_rfc3339(std::str::from_utf8(started_at).ok()?).ok()?;
    let secs = t.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
    u32::try_from(secs / 3600).ok()
}

/// [`hour_of`] for rows in the probe's own format
/// (`YYYY-MM-DDTHH:MM:SS.ffffffZ`, or without the fraction), without a full parse per row: rows come
/// in long stretches of one hour, and the hour is in the first 13 bytes. A
/// row of that shape whose first 13 bytes are those of the last row a full
/// parse accepted has that row's hour, once its minutes, seconds and
/// fraction are checked as the parser checks them; anything else is parsed.
/// (A full parse per row was most of the per-hour panel's cost.)
#[derive(Debug, Default)]
struct HourCache {
    prefix: [u8; 13],
    hour: Option<u32>,
}

impl HourCache {
    fn hour_of(&mut self, s: &[u8]) -> Option<u32> {
        // `…:SS.ffffffZ` (the probe's) or `…:SSZ`.
        let end_ok = match s.len() {
            27 => s[19] == b'.' && s[26] == b'Z' && s[20..26].iter().all(u8::is_ascii_digit),
            20 => s[19] == b'Z',
            _ => false,
        };
        let probe_shape = end_ok
            && s[13] == b':'
            && s[16] == b':'
            && [14, 15, 17, 18].iter().all(|&i| s[i].is_ascii_digit())
            && (s[14] - b'0') * 10 + (s[15] - b'0') <= 59
            && (s[17] - b'0') * 10 + (s[18] - b'0') <= 60;
        if !probe_shape {
            return hour_of(s);
        }
        if self.hour.is_some() && s[..13] == self.prefix {
            return self.hour;
        }
        let hour = hour_of(s);
        if hour.is_some() {
            self.prefix.copy_from_slice(&s[..13]);
            self.hour = hour;
        }
        hour
    }
}

/// Median of each key (a round or an hour), keys ascending (sorts `v`).
pub fn medians_by_key(v: &mut [(u32, f32)]) -> Vec<(u32, f64)> {
    v.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
    v.chunk_by(|a, b| a.0 == b.0)
        .map(|chunk| {
            let m = chunk.len() / 2;
            let med = if chunk.len() % 2 == 1 {
                chunk[m].1 as f64
            } else {
                (chunk[m - 1].1 as f64 + chunk[m].1 as f64) / 2.0
            };
            (chunk[0].0, med)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_span_min_to_max() {
        let mut v = vec![5.0, 1.0, 3.0, 2.0, 4.0];
        assert_eq!(quantiles(&mut v, 3), vec![1.0, 3.0, 5.0]);
        assert!(quantiles(&mut [], 3).is_empty());
    }

    #[test]
    fn round_medians_per_round() {
        let mut v = vec![(2, 10.0), (1, 3.0), (1, 1.0), (2, 30.0), (2, 20.0)];
        assert_eq!(medians_by_key(&mut v), vec![(1, 2.0), (2, 20.0)]);
    }

    #[test]
    fn hour_of_started_at() {
        // 2021-03-10T12:00:00Z is 1615377600 s after the epoch.
        assert_eq!(hour_of(b"2021-03-10T12:59:59.5Z"), Some(1615377600 / 3600));
        assert_eq!(
            hour_of(b"2021-03-10T13:00:00Z"),
            Some(1615377600 / 3600 + 1)
        );
        assert_eq!(hour_of(b""), None);
        assert_eq!(hour_of(b"yesterday"), None);
    }

    #[test]
    fn cached_hours_are_the_parsed_ones() {
        let mut c = HourCache::default();
        let cases: [&[u8]; 15] = [
            b"2021-03-10T12:00:00.000001Z",
            b"2021-03-10T12:30:00Z",
            b"2021-03-10T12:30:00+",
            b"2021-03-10T12:61:00Z",
            b"2021-03-10T12:59:60.999999Z",
            b"2021-03-10T12:60:00.000000Z",
            b"2021-03-10T12:00:61.000000Z",
            b"2021-03-10T12:0a:00.000000Z",
            b"2021-03-10T12:00:00.00000aZ",
            b"2021-03-10T12:00:00.000000+",
            b"2021-03-10T12:00:00Z",
            b"2021-03-10T13:00:00.000000Z",
            b"2021-02-30T13:00:00.000000Z",
            b"2021-02-28T13:00:00.000000Z",
            b"2021-02-28T13:5",
        ];
        // Twice over, so every case also meets a warm cache of another hour.
        for s in cases.iter().chain(cases.iter()) {
            assert_eq!(c.hour_of(s), hour_of(s), "{}", String::from_utf8_lossy(s));
        }
    }

    #[test]
    fn slowest_keeps_lowest_rates() {
        let mut v = Vec::new();
        for (i, r) in [9.0, 1.0, 5.0, 3.0, 7.0].into_iter().enumerate() {
            keep_slowest(
                &mut v,
                Pick {
                    rate: r,
                    source: 0,
                    fetch_id: i.to_string(),
                },
            );
        }
        let rates: Vec<f32> = v.iter().map(|p| p.rate).collect();
        assert_eq!(rates, vec![1.0, 3.0, 5.0]);
    }
}
