//! Fast reading of `fetches.csv`: column indices by header name, files split
//! at record boundaries and parsed on all cores, unquoted lines split on
//! commas directly, quoted records handed to the csv crate.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use anyhow::{bail, Result};

use super::load::{num, parse_class, parse_group, Dataset, Row};

impl Dataset {
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
        ttfb_ms: fnum(f(c.ttfb_ms)),
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
    ttfb_ms: Option<usize>,
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
            ttfb_ms: col("ttfb_ms"),
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
