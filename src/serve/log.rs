//! One CSV line per request (`requests.csv` in `--state`, or `--log`).
//!
//! A line is written when the request is over — its response body sent,
//! cut, or refused — so it can carry the bytes that actually moved. Lines
//! are written whole and flushed, so the file can be tailed.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::net::IpAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use anyhow::{Context, Result};

/// The columns of the request log.
pub const HEADER: &str =
    "time,client,sni,host,alpn,transport,method,path,status,bytes_in,bytes_out,duration_ms,note";

/// The shared log file.
pub struct RequestLog {
    out: Mutex<BufWriter<File>>,
}

impl RequestLog {
    /// Open (append) `path`, writing the header when the file is new.
    pub fn open(path: &Path) -> Result<Arc<RequestLog>> {
        let f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("opening the request log {}", path.display()))?;
        let new = f.metadata().map(|m| m.len() == 0).unwrap_or(true);
        let mut out = BufWriter::new(f);
        if new {
            writeln!(out, "{HEADER}")?;
            out.flush()?;
        }
        Ok(Arc::new(RequestLog {
            out: Mutex::new(out),
        }))
    }

    fn write(&self, e: &Entry) {
        let mut w = csv::WriterBuilder::new()
            .has_headers(false)
            .from_writer(Vec::with_capacity(160));
        let ms = format!("{:.3}", e.started.elapsed().as_secs_f64() * 1000.0);
        let _ = w.write_record([
            humantime::format_rfc3339_millis(e.time)
                .to_string()
                .as_str(),
            &e.client.to_string(),
            &e.sni,
            &e.host,
            &e.alpn,
            e.transport.as_str(),
            &e.method,
            &e.path,
            &e.status.to_string(),
            &e.bytes_in.to_string(),
            &e.bytes_out.to_string(),
            &ms,
            &e.note,
        ]);
        let Ok(line) = w.into_inner() else { return };
        if let Ok(mut out) = self.out.lock() {
            // A full disk must not take the reflector down: the line is lost.
            let _ = out.write_all(&line).and_then(|_| out.flush());
        }
    }
}

/// One request's line, written when this is dropped.
pub struct Entry {
    /// `None`: a server without a request log (the lab origin).
    log: Option<Arc<RequestLog>>,
    time: SystemTime,
    started: Instant,
    pub client: IpAddr,
    pub sni: String,
    pub host: String,
    pub alpn: String,
    /// `tcp` or `quic` (HTTP/3).
    pub transport: crate::types::Transport,
    pub method: String,
    pub path: String,
    pub status: u16,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub note: String,
}

impl Entry {
    pub fn new(log: Option<Arc<RequestLog>>, client: IpAddr) -> Entry {
        Entry {
            log,
            time: SystemTime::now(),
            started: Instant::now(),
            client,
            sni: String::new(),
            host: String::new(),
            alpn: String::new(),
            transport: crate::types::Transport::Tcp,
            method: String::new(),
            path: String::new(),
            status: 0,
            bytes_in: 0,
            bytes_out: 0,
            note: String::new(),
        }
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        if let Some(log) = &self.log {
            log.write(self);
        }
    }
}
