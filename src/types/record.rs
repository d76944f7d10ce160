//! The result of one fetch: a row of `fetches.csv` and the windows of
//! `timeline.csv`.
//!
//! [`FetchRecord`] is the one result type of the pipeline: `probe` fills it,
//! `record::sink` appends it to `fetches.csv`/`timeline.csv`, `analyze` reads
//! those files back. Field order here *is* the CSV column order; every column is
//! documented in `docs/csv.md`.

use serde::{Deserialize, Serialize};

use super::{Class, Direction, Group, Transport};

/// A duration in milliseconds, written with microsecond precision (`12.345`).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default, Deserialize)]
#[serde(transparent)]
pub struct Ms(pub f64);

impl Ms {
    pub fn from_duration(d: std::time::Duration) -> Ms {
        Ms(d.as_secs_f64() * 1000.0)
    }
}

impl Serialize for Ms {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Rounded to the microsecond: finer digits would be clock noise. A
        // number (not a string) so JSON output stays numeric; the shortest
        // representation is written, e.g. `12.345`, `0.5`, `0.0`.
        s.serialize_f64((self.0 * 1000.0).round() / 1000.0)
    }
}

/// Which limit ended a fetch that did not end by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Capped {
    Time,
    Bytes,
    /// Cut by a stop request (SIGTERM, SIGHUP, Ctrl-C) after the grace
    /// period: what was measured until then is kept, like a time cap.
    Stop,
}

/// The phase a failure happened in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Dns,
    Tcp,
    Tls,
    /// The QUIC handshake (Initial sent → handshake complete), in place of
    /// `tcp` and `tls` for a fetch over QUIC.
    Quic,
    Request,
    Headers,
    Body,
}

/// One row of `fetches.csv`. `None` is an empty cell: "unknown", never 0.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FetchRecord {
    pub campaign: String,
    pub vantage: String,
    pub run_id: String,
    pub round: u32,
    pub fetch_id: String,
    pub started_at: String,
    pub url: String,
    pub host: String,
    pub sni: String,
    pub addr: Option<String>,
    pub addrs: String,
    /// The family of `addr`: `ipv4` or `ipv6`; empty when no address was
    /// chosen (DNS failed).
    pub ip_family: Option<String>,
    pub dns_override: Option<String>,
    pub class: Option<Class>,
    pub group: Option<Group>,
    pub label: String,
    /// Labels of the control URLs this URL is to be compared with
    /// (campaign `control = [...]`), `;`-separated; empty: automatic choice.
    pub controls: String,
    pub method: String,
    /// `down` (GET: judged by body bytes) or `up` (POST: judged by the
    /// acknowledged upload bytes).
    pub direction: Direction,
    pub status: Option<u16>,
    pub location: Option<String>,
    pub content_type: Option<String>,
    pub error: Option<String>,
    pub error_phase: Option<Phase>,
    pub http_version: Option<String>,
    pub tls_version: Option<String>,
    pub alpn: Option<String>,
    pub cipher: Option<String>,
    /// TCP: the key-exchange group the handshake used (`X25519`,
    /// `X25519MLKEM768`): whether a `pq` hello was taken.
    pub kx_group: Option<String>,
    pub body_bytes: u64,
    pub upload_bytes: u64,
    /// The size the fetch set out to move: response `Content-Length` for a
    /// download (empty when none was sent), the configured body size for an
    /// upload. Lets the analyzer match targets with controls of similar size
    /// even when a fetch was cut short.
    pub object_bytes: Option<u64>,
    pub capped: Option<Capped>,
    pub dns_ms: Option<Ms>,
    pub tcp_ms: Option<Ms>,
    pub tls_ms: Option<Ms>,
    pub ttfb_ms: Option<Ms>,
    pub transfer_ms: Option<Ms>,
    pub total_ms: Option<Ms>,
    pub goodput_bps: Option<u64>,
    pub steady_bps: Option<u64>,
    pub peak_window_bps: Option<u64>,
    pub upload_bps: Option<u64>,
    pub tcp_rtt_ms: Option<Ms>,
    pub tcp_min_rtt_ms: Option<Ms>,
    pub tcp_rcv_rtt_ms: Option<Ms>,
    pub tcp_retrans: Option<u32>,
    pub tcp_ooo: Option<u32>,
    pub tcp_bytes_received: Option<u64>,
    pub tcp_bytes_acked: Option<u64>,
    /// The `[[reflector]]` A/B test this fetch belongs to (its id); empty
    /// for ordinary URLs.
    pub ab: String,
    /// The A/B variant: `plain`, `split-hello`, `trailing-dot`,
    /// `upper-case`, `no-sni`; empty for ordinary URLs.
    pub variant: String,
    /// Upload body bytes the *server* received, from a reflector's
    /// `/upload` answer.
    pub server_upload_bytes: Option<u64>,
    /// The server's plateau rate of the upload (the truth for uploads).
    pub server_upload_bps: Option<u64>,
    /// The SNI the server saw, as it arrived.
    pub server_sni: Option<String>,
    /// `tcp` or `quic`. Files written before QUIC existed have no such
    /// column: their rows load as `tcp`.
    #[serde(default)]
    pub transport: Transport,
    /// QUIC handshake time: first Initial sent → handshake complete (the
    /// counterpart of `tcp_ms` + `tls_ms`, which stay empty over QUIC).
    pub quic_ms: Option<Ms>,
    /// Size of the ClientHello the client sent (bytes of the TLS handshake
    /// message, over TCP or in the QUIC Initial's CRYPTO frames).
    pub hello_bytes: Option<u64>,
    /// TCP: segments (socket writes with TCP_NODELAY) the hello was sent in.
    pub hello_segments: Option<u32>,
    /// QUIC: Initial packets the client sent (hello and any retransmission).
    pub initial_packets: Option<u32>,
    /// quinn's path statistics at the end of a QUIC fetch: smoothed and
    /// minimum RTT, packets declared lost, congestion window (bytes).
    pub quic_rtt_ms: Option<Ms>,
    pub quic_min_rtt_ms: Option<Ms>,
    pub quic_lost_packets: Option<u64>,
    pub quic_cwnd: Option<u64>,
    /// Per-window samples; written to `timeline.csv`, not to `fetches.csv`.
    #[serde(skip)]
    pub timeline: Vec<Window>,
}

/// One row of `timeline.csv`: what happened in one fixed window of a fetch.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Window {
    pub fetch_id: String,
    pub direction: Direction,
    /// End of the window, ms since the request was sent.
    pub t_ms: Ms,
    pub bytes: u64,
    pub cum_bytes: u64,
    pub tcp_rtt_ms: Option<Ms>,
    pub tcp_retrans: Option<u32>,
    /// TCP-level cumulative bytes at the end of the window (TCP_INFO
    /// `tcpi_bytes_received` for down, `tcpi_bytes_acked` for up). Unlike
    /// `cum_bytes`, not quantised by TLS records: at 130 kbit/s a 16 KB
    /// record takes a second, so only this shows a shaper's smooth arrival.
    pub tcp_cum_bytes: Option<u64>,
}
