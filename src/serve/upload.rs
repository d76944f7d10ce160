//! `POST /upload`: read and discard the body, and say what the server saw.
//!
//! A client cannot see its upload arrive: it only sees acknowledgements,
//! which on some paths run well ahead of or behind the data (the probe reads
//! 0.4–0.5× of the true rate on loopback). The server counts the bytes as
//! they come, in windows like the engine's, and fits the same plateau
//! (`crate::plateau`) — on TCP-level bytes (TCP_INFO `tcpi_bytes_received`)
//! when it can, since decrypted body bytes only move a TLS record at a time.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body::Body;
use http_body_util::BodyExt;
use serde::Serialize;

use crate::plateau::{self, Sample};
use crate::probe::tcpinfo::TcpInfoSource;

/// Window of the server-side timeline.
const WINDOW: Duration = Duration::from_millis(100);

/// The JSON answer to an upload (what the probe's `server_*` columns read).
#[derive(Debug, Serialize)]
pub struct UploadReport {
    /// Always `"slowlane"`: tells the probe this is a reflector's answer.
    pub reflector: &'static str,
    /// Body bytes received.
    pub bytes: u64,
    /// First and last body byte, ms after the request head arrived.
    pub first_byte_ms: Option<f64>,
    pub last_byte_ms: Option<f64>,
    /// Plateau receive rate (bit/s), else bytes over first-to-last byte.
    pub bps: Option<u64>,
    /// Bytes over first-to-last byte (bit/s).
    pub goodput_bps: Option<u64>,
    /// Whether `bps` is the plateau fit (else the goodput).
    pub plateau: bool,
    /// The whole body was read (false: `for` ended the reading first).
    pub complete: bool,
    pub sni: Option<String>,
    pub host: String,
    pub alpn: String,
}

/// Why an upload was not measured.
pub enum UploadFail {
    /// More than the limit: (bytes read when it was stopped).
    TooLarge(u64),
    /// The client went away or broke the stream.
    Aborted(u64),
}

/// Read `body` to its end (at most `limit` bytes), timing its arrival.
pub async fn measure<B>(
    mut body: B,
    limit: u64,
    tcp: Option<&TcpInfoSource>,
    read_for: Option<Duration>,
) -> Result<(u64, Measured), UploadFail>
where
    B: Body<Data = Bytes> + Unpin + Send,
{
    let t0 = Instant::now();
    // `for`: stop reading then; a far-off deadline otherwise (the
    // connection's lifetime bounds the read anyway).
    let stop = tokio::time::sleep(read_for.unwrap_or(Duration::from_secs(86_400 * 365)));
    tokio::pin!(stop);
    let mut complete = true;
    let tcp0 = tcp.and_then(|t| t.sample()).and_then(|i| i.bytes_received);
    let mut total: u64 = 0;
    let (mut first, mut last) = (None, None);
    let mut samples: Vec<Sample> = Vec::new();
    let mut tick = tokio::time::interval_at((t0 + WINDOW).into(), WINDOW);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let sample = |samples: &mut Vec<Sample>, at: Instant, total: u64| {
        let tcp_bytes = match (
            tcp0,
            tcp.and_then(|t| t.sample()).and_then(|i| i.bytes_received),
        ) {
            (Some(a), Some(b)) => b.saturating_sub(a) as f64,
            _ => f64::NAN,
        };
        samples.push(Sample {
            t: at.duration_since(t0).as_secs_f64(),
            body: total as f64,
            tcp: tcp_bytes,
        });
    };
    loop {
        tokio::select! {
            _ = &mut stop => {
                complete = false;
                break;
            }
            // Stamped when taken: a late timer must not compress the
            // timeline (that would read as a higher rate).
            _ = tick.tick() => sample(&mut samples, Instant::now(), total),
            f = body.frame() => match f {
                None => break,
                Some(Err(_)) => return Err(UploadFail::Aborted(total)),
                Some(Ok(frame)) => {
                    if let Some(d) = frame.data_ref() {
                        let now = Instant::now();
                        first.get_or_insert(now);
                        last = Some(now);
                        total += d.len() as u64;
                        if total > limit {
                            return Err(UploadFail::TooLarge(total));
                        }
                    }
                }
            }
        }
    }
    sample(&mut samples, Instant::now(), total);
    Ok((
        total,
        Measured {
            complete,
            t0,
            first,
            last,
            samples,
        },
    ))
}

/// The arrival of an upload, ready to be reported.
pub struct Measured {
    /// The body was read to its end (else `for` stopped the reading).
    complete: bool,
    t0: Instant,
    first: Option<Instant>,
    last: Option<Instant>,
    samples: Vec<Sample>,
}

impl Measured {
    pub fn report(
        &self,
        bytes: u64,
        sni: Option<String>,
        host: String,
        alpn: String,
    ) -> UploadReport {
        let ms = |t: Option<Instant>| t.map(|t| t.duration_since(self.t0).as_secs_f64() * 1000.0);
        let goodput = match (self.first, self.last) {
            (Some(a), Some(b)) if b > a + Duration::from_millis(1) => {
                Some((bytes as f64 * 8.0 / (b - a).as_secs_f64()) as u64)
            }
            _ => None,
        };
        // TCP-level bytes when every window has them: they move with each
        // segment, while body bytes move a whole TLS record (16 KiB, a
        // second at 131 kbit/s) at a time — too coarse for a few seconds.
        let tcp_level = !self.samples.is_empty() && self.samples.iter().all(|s| s.tcp.is_finite());
        let fit = if tcp_level {
            let pts: Vec<Sample> = self
                .samples
                .iter()
                .map(|s| Sample {
                    t: s.t,
                    body: s.tcp,
                    tcp: f64::NAN,
                })
                .collect();
            plateau::estimate(&pts)
        } else {
            plateau::estimate(&self.samples)
        }
        .map(|p| p.bps as u64);
        UploadReport {
            reflector: "slowlane",
            bytes,
            first_byte_ms: ms(self.first),
            last_byte_ms: ms(self.last),
            bps: fit.or(goodput),
            goodput_bps: goodput,
            plateau: fit.is_some(),
            complete: self.complete,
            sni,
            host,
            alpn,
        }
    }
}
