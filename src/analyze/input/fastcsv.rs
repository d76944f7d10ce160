//! Fast reading of `fetches.csv`: column indices by header name, files split
//! at record boundaries and parsed on all cores, unquoted lines split on
//! commas directly, quoted records handed to the csv crate. Rows go to a
//! [`RowSink`]; this module knows nothing of what the sink builds.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use anyhow::{bail, Result};

use super::badrows::BadKind;
use super::row::{direction_of, Row};
use crate::types::{Class, Direction, Group, Transport};

/// Where parsed rows go. Parts of a file are parsed into separate sinks on
/// separate threads and absorbed in file order.
pub trait RowSink: Default + Send {
    fn row(&mut self, source: u32, row: &Row);
    /// An unusable row at `line` (1-based, relative to the part's start).
    fn bad(&mut self, line: u64, kind: BadKind);
    /// Take over a later part; its line numbers are shifted by `line_offset`.
    fn absorb(&mut self, other: Self, line_offset: u64);
    /// An empty sink for one part, with this sink's settings.
    fn fresh(&self) -> Self {
        Self::default()
    }
}

/// Read a fetches.csv into `sink`; files of at least `parallel_min` bytes are
/// split at record boundaries and parsed on `threads` threads, then absorbed
/// in order.
pub fn read<S: RowSink>(
    sink: &mut S,
    src: u32,
    path: &Path,
    parallel_min: u64,
    threads: usize,
) -> Result<()> {
    let len = std::fs::metadata(path)?.len();
    let mut rdr = csv::ReaderBuilder::new().flexible(true).from_path(path)?;
    let headers = rdr.byte_headers()?.clone();
    let start = rdr.position().byte();
    let header_lines = rdr.position().line().saturating_sub(1);
    drop(rdr);
    let cols = Cols::new(&headers)?;
    if threads < 2 || len.saturating_sub(start) < parallel_min {
        let mut part = sink.fresh();
        read_range(&mut part, src, path, &cols, start, len)?;
        sink.absorb(part, header_lines);
        return Ok(());
    }
    let parts = split_points(path, start, len, threads)?;
    let sinks: Vec<S> = parts.iter().map(|_| sink.fresh()).collect();
    let parts: Vec<Result<(S, u64)>> = std::thread::scope(|s| {
        let handles: Vec<_> = parts
            .iter()
            .zip(sinks)
            .map(|(&(a, b), mut d)| {
                let cols = &cols;
                s.spawn(move || read_range(&mut d, src, path, cols, a, b).map(|lines| (d, lines)))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("parser thread"))
            .collect()
    });
    let mut offset = header_lines;
    for part in parts {
        let (d, lines) = part?;
        sink.absorb(d, offset);
        offset += lines;
    }
    Ok(())
}

/// The column indices of a fetches.csv, where its first record starts, and
/// how many lines its header takes.
pub fn header(path: &Path) -> Result<(Cols, u64, u64)> {
    let mut rdr = csv::ReaderBuilder::new().flexible(true).from_path(path)?;
    let headers = rdr.byte_headers()?.clone();
    let start = rdr.position().byte();
    let header_lines = rdr.position().line().saturating_sub(1);
    Ok((Cols::new(&headers)?, start, header_lines))
}

/// Parse the records of bytes `[start, end)` (record boundaries) into
/// `sink`, line numbers relative to `start`; returns the lines read.
pub fn read_part<S: RowSink>(
    sink: &mut S,
    src: u32,
    path: &Path,
    c: &Cols,
    start: u64,
    end: u64,
) -> Result<u64> {
    read_range(sink, src, path, c, start, end)
}

/// Parse the records in bytes `[start, end)` (which begin and end at record
/// boundaries); returns the number of lines read. Lines without `"` are
/// split on commas directly (memchr); a line with quotes is handed, with its
/// continuation lines if a quoted field spans them, to the csv crate.
fn read_range<S: RowSink>(
    sink: &mut S,
    src: u32,
    path: &Path,
    c: &Cols,
    start: u64,
    end: u64,
) -> Result<u64> {
    let mut file = File::open(path)?;
    file.seek(SeekFrom::Start(start))?;
    let mut input = file.take(end - start);
    // A small range (one vantage's stretch of a file) needs no 4 MiB buffer.
    let mut buf = vec![0u8; ((end - start) as usize + 1).clamp(4 << 10, 4 << 20)];
    let mut filled = 0;
    let mut eof = false;
    let mut fields: Vec<(usize, usize)> = Vec::with_capacity(64);
    let mut rec = csv::ByteRecord::new();
    let mut line_no: u64 = 0;
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
            let raw = &rest[..nl];
            let here = line_no + 1;
            line_no += memchr::memchr_iter(b'\n', raw).count() as u64;
            if !raw.ends_with(b"\n") {
                line_no += 1; // a last line without newline
            }
            let line = raw.strip_suffix(b"\n").unwrap_or(raw);
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if !line.is_empty() {
                let parsed = if !has_quote {
                    fields.clear();
                    let mut from = 0;
                    for comma in memchr::memchr_iter(b',', line) {
                        fields.push((from, comma));
                        from = comma + 1;
                    }
                    fields.push((from, line.len()));
                    row_from(c, fields.len(), |i| {
                        i.and_then(|i| fields.get(i))
                            .map_or(&b""[..], |&(a, b)| &line[a..b])
                    })
                } else {
                    let mut rdr = csv::ReaderBuilder::new()
                        .has_headers(false)
                        .flexible(true)
                        .from_reader(line);
                    if !rdr.read_byte_record(&mut rec).unwrap_or(false) {
                        rec.clear();
                    }
                    row_from(c, rec.len(), |i| i.and_then(|i| rec.get(i)).unwrap_or(b""))
                };
                match parsed {
                    Ok(row) => sink.row(src, &row),
                    Err(kind) => sink.bad(here, kind),
                }
            }
            pos += nl;
        }
        buf.copy_within(pos..filled, 0);
        filled -= pos;
        if eof && (filled == 0 || pos == 0) {
            if filled > 0 {
                // An unterminated quoted field at the end: a torn last row.
                sink.bad(line_no + 1, BadKind::ColumnCount);
            }
            return Ok(line_no);
        }
        if filled == buf.len() {
            buf.resize(buf.len() * 2, 0); // a record longer than the buffer
        }
    }
}

/// Length of the first record in `b` including its `\n` (a newline inside
/// quotes does not end it) and whether it holds a `"`; `None` if it is not
/// complete yet. At end of input, a final record without newline is complete.
pub(super) fn record_end(b: &[u8], eof: bool) -> Option<(usize, bool)> {
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

/// A class/group/direction cell: empty is unknown; otherwise one of the
/// names of `T` (case-insensitive, `crate::types`), else an unusable row.
fn named<T: std::str::FromStr>(b: &[u8], bad: BadKind) -> Result<Option<T>, BadKind> {
    if b.trim_ascii().is_empty() {
        return Ok(None);
    }
    std::str::from_utf8(b)
        .ok()
        .and_then(|s| s.parse().ok())
        .map(Some)
        .ok_or(bad)
}

/// A numeric cell: empty is unknown; anything else must be a finite number >= 0.
fn cell(b: &[u8]) -> Result<Option<f64>, BadKind> {
    if b.is_empty() {
        return Ok(None);
    }
    match fnum(b) {
        Some(v) if v.is_finite() && v >= 0.0 => Ok(Some(v)),
        _ => Err(BadKind::BadNumber),
    }
}

/// The fields analysis uses, by column index, from any field accessor;
/// `n_fields` is checked against the header.
fn row_from<'a>(
    c: &Cols,
    n_fields: usize,
    f: impl Fn(Option<usize>) -> &'a [u8],
) -> Result<Row<'a>, BadKind> {
    if n_fields != c.n {
        return Err(BadKind::ColumnCount);
    }
    let url = f(Some(c.url));
    if url == b"url" {
        return Err(BadKind::RepeatedHeader);
    }
    if url.is_empty() {
        return Err(BadKind::NoUrl);
    }
    let int = |i: Option<usize>| cell(f(i)).map(|v| v.map(|x| x as u64));
    let upload_bytes = int(c.upload_bytes)?;
    let method = f(c.method);
    Ok(Row {
        campaign: f(c.campaign),
        vantage: f(c.vantage),
        run_id: f(c.run_id),
        round: int(c.round)?,
        fetch_id: f(c.fetch_id),
        started_at: f(c.started_at),
        url,
        host: f(c.host),
        sni: f(c.sni),
        label: f(c.label),
        controls: f(c.controls),
        class: named::<Class>(f(c.class), BadKind::UnknownClass)?,
        group: named::<Group>(f(c.group), BadKind::UnknownGroup)?,
        direction: direction_of(
            named::<Direction>(f(c.direction), BadKind::UnknownDirection)?,
            method,
            upload_bytes.unwrap_or(0),
        ),
        transport: named::<Transport>(f(c.transport), BadKind::UnknownTransport)?
            .unwrap_or_default(),
        error: f(c.error),
        error_phase: f(c.error_phase),
        capped: !f(c.capped).is_empty(),
        body_bytes: int(c.body_bytes)?,
        upload_bytes,
        object_bytes: int(c.object_bytes)?,
        steady_bps: cell(f(c.steady_bps))?,
        goodput_bps: cell(f(c.goodput_bps))?,
        upload_bps: cell(f(c.upload_bps))?,
        dns_ms: cell(f(c.dns_ms))?,
        tcp_ms: cell(f(c.tcp_ms))?,
        tls_ms: cell(f(c.tls_ms))?,
        quic_ms: cell(f(c.quic_ms))?,
        ttfb_ms: cell(f(c.ttfb_ms))?,
        transfer_ms: cell(f(c.transfer_ms))?,
        total_ms: cell(f(c.total_ms))?,
    })
}

/// Files smaller than this are parsed on one thread.
pub const PARALLEL_MIN_BYTES: u64 = 8 << 20;

/// Column indices of the fields analysis reads, by header name. A column
/// missing from the header (files of earlier versions, converted data) reads
/// as empty cells.
pub struct Cols {
    /// Number of header fields: every row must have as many.
    n: usize,
    url: usize,
    campaign: Option<usize>,
    vantage: Option<usize>,
    run_id: Option<usize>,
    round: Option<usize>,
    fetch_id: Option<usize>,
    started_at: Option<usize>,
    host: Option<usize>,
    sni: Option<usize>,
    label: Option<usize>,
    controls: Option<usize>,
    class: Option<usize>,
    group: Option<usize>,
    direction: Option<usize>,
    method: Option<usize>,
    error: Option<usize>,
    error_phase: Option<usize>,
    capped: Option<usize>,
    body_bytes: Option<usize>,
    upload_bytes: Option<usize>,
    object_bytes: Option<usize>,
    steady_bps: Option<usize>,
    goodput_bps: Option<usize>,
    upload_bps: Option<usize>,
    dns_ms: Option<usize>,
    tcp_ms: Option<usize>,
    tls_ms: Option<usize>,
    quic_ms: Option<usize>,
    transport: Option<usize>,
    ttfb_ms: Option<usize>,
    transfer_ms: Option<usize>,
    total_ms: Option<usize>,
}

impl Cols {
    /// The columns that say which vantage and run a row belongs to:
    /// (vantage, campaign, run_id).
    pub fn keys(&self) -> [Option<usize>; 3] {
        [self.vantage, self.campaign, self.run_id]
    }

    fn new(h: &csv::ByteRecord) -> Result<Cols> {
        let col = |name: &str| {
            h.iter()
                .position(|x| x.trim_ascii().eq_ignore_ascii_case(name.as_bytes()))
        };
        let Some(url) = col("url") else {
            bail!("no `url` column: not a slowlane fetches.csv")
        };
        Ok(Cols {
            n: h.len(),
            url,
            campaign: col("campaign"),
            vantage: col("vantage"),
            run_id: col("run_id"),
            round: col("round"),
            fetch_id: col("fetch_id"),
            started_at: col("started_at"),
            host: col("host"),
            sni: col("sni"),
            label: col("label"),
            controls: col("controls"),
            class: col("class"),
            group: col("group"),
            direction: col("direction"),
            method: col("method"),
            error: col("error"),
            error_phase: col("error_phase"),
            capped: col("capped"),
            body_bytes: col("body_bytes"),
            upload_bytes: col("upload_bytes"),
            object_bytes: col("object_bytes"),
            steady_bps: col("steady_bps"),
            goodput_bps: col("goodput_bps"),
            upload_bps: col("upload_bps"),
            dns_ms: col("dns_ms"),
            tcp_ms: col("tcp_ms"),
            tls_ms: col("tls_ms"),
            quic_ms: col("quic_ms"),
            transport: col("transport"),
            ttfb_ms: col("ttfb_ms"),
            transfer_ms: col("transfer_ms"),
            total_ms: col("total_ms"),
        })
    }
}

/// Split `[start, end)` of a CSV file into about `k` ranges that begin at
/// record boundaries: a newline outside quotes (RFC 4180 quoting: inside a
/// quoted field iff an odd number of `"` precede, since `""` adds two).
pub(super) fn split_points(path: &Path, start: u64, end: u64, k: usize) -> Result<Vec<(u64, u64)>> {
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
pub(in crate::analyze) fn fnum(b: &[u8]) -> Option<f64> {
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
    std::str::from_utf8(b).ok()?.trim().parse().ok()
}
