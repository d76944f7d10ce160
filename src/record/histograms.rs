//! Per-class HdrHistograms kept during a run, in fixed memory.
//!
//! For every vantage × class × group × direction × transport and each metric
//! — `dns_us`, `tcp_us`, `tls_us`, `quic_us` (the QUIC handshake), `ttfb_us`,
//! `total_us` (µs) and the rates (bit/s):
//! `goodput_bps`, `steady_bps` for downloads, `upload_bps` for uploads (an
//! upload's response body is a few bytes; its rate would say nothing and
//! must never mix into a download distribution) — two histograms: the current round's (written to
//! `histograms.hlog` and reset by [`Histograms::write_round`]) and the whole
//! run's (written to `summary.csv`, rewritten every round). Memory depends on
//! the number of classes, never on the campaign length: 3 significant digits
//! over 1 µs … 1 h and 1 bit/s … 1 Tbit/s is ~200 KB per histogram.
//!
//! `histograms.hlog` is an HdrHistogram interval log (V2 + DEFLATE, as the
//! Java `HistogramLogProcessor` and `HistogramLogAnalyzer` read it): one
//! `#[StartTime]`/`#[BaseTime]` header when the file is created, then per round
//! one tagged interval histogram per class/group/direction/transport/metric,
//! tags like `image.target.down.tcp.tls_us` or `image.target.up.quic.upload_bps`
//! (prefixed by the vantage when a run holds several).

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, Context, Result};
use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::Histogram;

use crate::types::{Class, Direction, FetchRecord, Group, Transport};

/// Metric names, in output order; the first [`TIME_METRICS`] are µs, the
/// rest bit/s.
pub const METRICS: [&str; 9] = [
    "dns_us",
    "tcp_us",
    "tls_us",
    "quic_us",
    "ttfb_us",
    "total_us",
    "goodput_bps",
    "steady_bps",
    "upload_bps",
];
/// How many of [`METRICS`] are times (µs).
const TIME_METRICS: usize = 6;
/// The class name of a fetch whose class is unknown.
const UNKNOWN_CLASS: &str = "unknown";
/// `summary.csv` header.
pub const SUMMARY_COLUMNS: [&str; 18] = [
    "vantage",
    "class",
    "group",
    "direction",
    "metric",
    "n",
    "min",
    "p5",
    "p10",
    "p25",
    "p50",
    "p75",
    "p90",
    "p95",
    "p99",
    "max",
    "mean",
    "transport",
];
const QUANTILES: [f64; 8] = [0.05, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95, 0.99];

fn class_name(c: Option<Class>) -> &'static str {
    c.map_or(UNKNOWN_CLASS, |c| c.as_str())
}

fn new_hist(metric: usize) -> Histogram<u64> {
    let high = if metric < TIME_METRICS {
        3_600_000_000 // 1 h in µs
    } else {
        1_000_000_000_000 // 1 Tbit/s
    };
    Histogram::new_with_bounds(1, high, 3).expect("valid histogram bounds")
}

struct Pair {
    round: Histogram<u64>,
    run: Histogram<u64>,
}

/// (class, group, direction, transport, metric index).
type Key = (Option<Class>, Group, Direction, Transport, usize);

/// The histograms of a run.
#[derive(Default)]
pub struct Histograms {
    by_vantage: HashMap<String, BTreeMap<Key, Pair>>,
}

fn us(ms: Option<crate::types::Ms>) -> Option<u64> {
    ms.filter(|m| m.0.is_finite() && m.0 >= 0.0)
        .map(|m| (m.0 * 1000.0).round() as u64)
}

impl Histograms {
    pub fn new() -> Histograms {
        Histograms::default()
    }

    /// Add one fetch: every metric it has a value for. A download's rates
    /// are its body rates, an upload's only its acknowledged upload rate.
    pub fn record(&mut self, r: &FetchRecord) {
        let down = r.direction == Direction::Down;
        let values: [Option<u64>; 9] = [
            us(r.dns_ms),
            us(r.tcp_ms),
            us(r.tls_ms),
            us(r.quic_ms),
            us(r.ttfb_ms),
            us(r.total_ms),
            r.goodput_bps.filter(|_| down),
            r.steady_bps.filter(|_| down),
            r.upload_bps.filter(|_| !down),
        ];
        let (c, g, d, t) = (
            r.class,
            r.group.unwrap_or(Group::Target),
            r.direction,
            r.transport,
        );
        if !self.by_vantage.contains_key(r.vantage.as_str()) {
            self.by_vantage.insert(r.vantage.clone(), BTreeMap::new());
        }
        let map = self
            .by_vantage
            .get_mut(r.vantage.as_str())
            .expect("inserted");
        for (m, v) in values.iter().enumerate() {
            if let Some(v) = *v {
                let p = map.entry((c, g, d, t, m)).or_insert_with(|| Pair {
                    round: new_hist(m),
                    run: new_hist(m),
                });
                p.round.saturating_record(v);
                p.run.saturating_record(v);
            }
        }
    }

    /// The tag of a histogram in the interval log.
    fn tag(&self, vantage: &str, (c, g, d, t, m): Key) -> String {
        let base = format!("{}.{g}.{d}.{t}.{}", class_name(c), METRICS[m]);
        if self.by_vantage.len() > 1 {
            let v: String = vantage
                .chars()
                .map(|ch| {
                    if ch.is_ascii_alphanumeric() || ch == '-' || ch == '_' {
                        ch
                    } else {
                        '_'
                    }
                })
                .collect();
            format!("{v}.{base}")
        } else {
            base
        }
    }

    /// End of a round: append this round's histograms to `histograms.hlog`,
    /// reset them, and rewrite `summary.csv` from the whole run's.
    pub fn write_round(
        &mut self,
        out_dir: &Path,
        round: u32,
        start: SystemTime,
        end: SystemTime,
    ) -> Result<()> {
        let path = out_dir.join("histograms.hlog");
        let base = match existing_base_time(&path)? {
            Some(b) => b,
            None => {
                let f =
                    File::create(&path).with_context(|| format!("creating {}", path.display()))?;
                let mut w = BufWriter::new(f);
                let mut ser = V2DeflateSerializer::new();
                IntervalLogWriterBuilder::new()
                    .add_comment(
                        "slowlane interval histograms: one per class.group.direction.transport.metric per round",
                    )
                    .add_comment("metrics *_us in microseconds, *_bps in bit/s")
                    .add_comment("[Histogram log format version 1.3]")
                    .with_start_time(start)
                    .with_base_time(start)
                    .begin_log_with(&mut w, &mut ser)?;
                w.flush()?;
                start.duration_since(UNIX_EPOCH).unwrap_or_default()
            }
        };
        // The round goes out in one write after a torn tail (a crash in an
        // earlier write) is cut off, like the CSVs (`record::lines`).
        let mut w: Vec<u8> = Vec::new();
        let mut ser = V2DeflateSerializer::new();
        let since_epoch = start.duration_since(UNIX_EPOCH).unwrap_or_default();
        let offset = since_epoch.saturating_sub(base);
        let length = end.duration_since(start).unwrap_or(Duration::ZERO);
        let mut vantages: Vec<&String> = self.by_vantage.keys().collect();
        vantages.sort();
        let mut tags = Vec::new();
        for v in &vantages {
            for key in self.by_vantage[v.as_str()].keys() {
                tags.push(((*v).clone(), *key, self.tag(v, *key)));
            }
        }
        {
            let mut log = IntervalLogWriterBuilder::new().begin_log_with(&mut w, &mut ser)?;
            log.write_comment(&format!(" round {round}"))?;
            for (v, key, tag) in &tags {
                let h = &self.by_vantage[v.as_str()][key].round;
                let tag = Tag::new(tag).ok_or_else(|| anyhow!("bad histogram tag {tag}"))?;
                log.write_histogram(h, offset, length, Some(tag))
                    .map_err(|e| anyhow!("writing {}: {e}", path.display()))?;
            }
        }
        super::lines::LineFile::open(&path, None)
            .and_then(|mut f| f.append(&w))
            .with_context(|| format!("appending to {}", path.display()))?;
        for map in self.by_vantage.values_mut() {
            for p in map.values_mut() {
                p.round.reset();
            }
        }
        self.write_summary(&out_dir.join("summary.csv"))
    }

    /// One row per vantage/class/group/direction/metric of the whole run so far.
    pub fn summary_rows(&self) -> Vec<Vec<String>> {
        let mut vantages: Vec<&String> = self.by_vantage.keys().collect();
        vantages.sort();
        let mut rows = Vec::new();
        for v in vantages {
            for (&(c, g, d, t, m), p) in &self.by_vantage[v.as_str()] {
                let h = &p.run;
                if h.is_empty() {
                    continue;
                }
                let mut row = vec![
                    v.clone(),
                    class_name(c).to_string(),
                    g.as_str().to_string(),
                    d.as_str().to_string(),
                    METRICS[m].to_string(),
                    h.len().to_string(),
                    h.min().to_string(),
                ];
                row.extend(
                    QUANTILES
                        .iter()
                        .map(|&q| h.value_at_quantile(q).to_string()),
                );
                row.push(h.max().to_string());
                row.push(format!("{:.1}", h.mean()));
                row.push(t.as_str().to_string());
                rows.push(row);
            }
        }
        rows
    }

    fn write_summary(&self, path: &Path) -> Result<()> {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(SUMMARY_COLUMNS)?;
        for row in self.summary_rows() {
            w.write_record(&row)?;
        }
        let bytes = w.into_inner().map_err(|e| anyhow!("{e}"))?;
        // Whole or not at all, and no temporary file left on error.
        super::meta::write_atomic(path, &bytes)
            .with_context(|| format!("writing {}", path.display()))
    }
}

/// The `#[BaseTime: …]` of an existing, non-empty log (`None`: create it).
fn existing_base_time(path: &Path) -> Result<Option<Duration>> {
    let mut head = String::new();
    match File::open(path) {
        Ok(f) => {
            f.take(4096).read_to_string(&mut head)?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    }
    if head.is_empty() {
        return Ok(None);
    }
    let base = head
        .lines()
        .find_map(|l| l.strip_prefix("#[BaseTime: "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|s| s.parse::<f64>().ok())
        .map(Duration::from_secs_f64)
        .unwrap_or(Duration::ZERO);
    Ok(Some(base))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(direction: Direction, goodput: u64, upload: Option<u64>) -> FetchRecord {
        FetchRecord {
            vantage: "v".into(),
            class: Some(Class::Image),
            group: Some(Group::Target),
            direction,
            ttfb_ms: Some(crate::types::Ms(5.0)),
            goodput_bps: Some(goodput),
            upload_bps: upload,
            ..FetchRecord::default()
        }
    }

    #[test]
    fn uploads_have_their_own_rows_and_only_the_upload_rate() {
        let mut h = Histograms::new();
        h.record(&rec(Direction::Down, 5_000_000, None));
        // An upload's goodput is its 3-byte response: never a rate sample.
        h.record(&rec(Direction::Up, 24, Some(131_072)));
        let rows = h.summary_rows();
        let cells: Vec<(&str, &str)> = rows.iter().map(|r| (&*r[3], &*r[4])).collect();
        assert!(cells.contains(&("down", "goodput_bps")), "{cells:?}");
        assert!(cells.contains(&("up", "upload_bps")), "{cells:?}");
        assert!(cells.contains(&("up", "ttfb_us")), "{cells:?}");
        assert!(!cells.contains(&("up", "goodput_bps")), "{cells:?}");
        assert!(!cells.contains(&("down", "upload_bps")), "{cells:?}");
        let down = rows
            .iter()
            .find(|r| r[3] == "down" && r[4] == "goodput_bps");
        assert_eq!(
            down.unwrap()[5],
            "1",
            "the upload is not in the download's n"
        );
        assert_eq!(
            h.tag(
                "v",
                (
                    Some(Class::Image),
                    Group::Target,
                    Direction::Up,
                    Transport::Quic,
                    8
                )
            ),
            "image.target.up.quic.upload_bps"
        );
        assert_eq!(
            h.tag(
                "v",
                (None, Group::Control, Direction::Down, Transport::Tcp, 0)
            ),
            "unknown.control.down.tcp.dns_us"
        );
    }
}
