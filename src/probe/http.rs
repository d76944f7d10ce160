//! The HTTP exchange on an open connection: request, headers, counted body.
//!
//! HTTP/2 or HTTP/1.1 is chosen by the ALPN result. The body is streamed and
//! counted, never stored. Bytes are bucketed into windows by arrival time and
//! TCP_INFO is sampled once per window; for uploads the windows count what
//! the peer acknowledged.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::{header, Request, Response, Version};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::sleep_until;

use super::failure::Failure;
use super::spec::Method;
use super::tcpinfo::{TcpInfo, TcpInfoSource};
use super::timeline::{self, Timeline, WindowSample};
use super::upload::{RandomBody, UploadProgress};
use super::Prepared;
use crate::record::{Capped, Direction, FetchRecord, Ms, Phase, Window};

const USER_AGENT: &str = concat!("slowlane/", env!("CARGO_PKG_VERSION"));

enum Sender {
    H1(hyper::client::conn::http1::SendRequest<RandomBody>),
    H2(hyper::client::conn::http2::SendRequest<RandomBody>),
}

/// Everything sampled while a request is in flight.
struct Meter {
    info: Option<TcpInfoSource>,
    down: Timeline,
    up: Option<Timeline>,
    acked0: u64,
    next_tick: Instant,
    last_info: Option<TcpInfo>,
}

impl Meter {
    fn sample(&mut self) -> Option<TcpInfo> {
        let s = self.info.as_ref().and_then(TcpInfoSource::sample);
        if s.is_some() {
            self.last_info = s;
        }
        s
    }

    /// One window tick: sample TCP_INFO into the windows, count acked upload.
    fn tick(&mut self) {
        let now = Instant::now();
        // Attribute the sample to the window that ends at the scheduled tick
        // (the timer may fire a little late; the state is that of the end of
        // that window, not of the next one).
        let at = self
            .next_tick
            .min(now)
            .checked_sub(Duration::from_micros(1))
            .unwrap_or(now);
        let s = self.sample();
        self.down.sample_tcp(at, s);
        if let Some(up) = self.up.as_mut() {
            up.sample_tcp(at, s);
            if let Some(acked) = s.and_then(|i| i.bytes_acked) {
                up.set_total(now, acked.saturating_sub(self.acked0));
            }
        }
        let w = self.down.window();
        while self.next_tick <= now {
            self.next_tick += w;
        }
    }
}

pub async fn exchange<IO>(
    p: &Prepared,
    rec: &mut FetchRecord,
    io: IO,
    info: Option<TcpInfoSource>,
    deadline: Instant,
) -> Result<(), Failure>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let spec = &p.spec;
    let opts = &spec.options;
    let h2 = rec.alpn.as_deref() == Some("h2");
    let io = TokioIo::new(io);
    // The connection task is aborted when the exchange ends, so a capped
    // fetch stops reading at once instead of draining in the background.
    let (mut sender, conn_task) = if h2 {
        let (s, conn) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
            .handshake(io)
            .await
            .map_err(|e| Failure::classify(&e, Phase::Request))?;
        (Sender::H2(s), tokio::spawn(conn))
    } else {
        let (s, conn) = hyper::client::conn::http1::handshake(io)
            .await
            .map_err(|e| Failure::classify(&e, Phase::Request))?;
        (Sender::H1(s), tokio::spawn(conn))
    };

    let upload = if spec.method == Method::Post {
        spec.upload
    } else {
        0
    };
    let (body, progress) = RandomBody::new(upload);
    let req = build_request(p, h2, body).map_err(|e| Failure::classify(&*e, Phase::Request))?;

    let t_req = Instant::now();
    let mut meter = Meter {
        acked0: 0,
        down: Timeline::new(t_req, opts.window),
        up: (spec.method == Method::Post).then(|| Timeline::new(t_req, opts.window)),
        next_tick: t_req + opts.window,
        last_info: None,
        info,
    };
    meter.acked0 = meter.sample().and_then(|i| i.bytes_acked).unwrap_or(0);

    let result = request_and_body(
        p,
        rec,
        &mut sender,
        req,
        &mut meter,
        &progress,
        t_req,
        deadline,
    )
    .await;

    // Final state of the connection, read before it is dropped.
    let end = Instant::now();
    meter.tick();
    rec.upload_bytes = progress.lock().unwrap().sent;
    finish(rec, &mut meter, t_req, end);
    drop(sender);
    conn_task.abort();
    result
}

fn build_request(
    p: &Prepared,
    h2: bool,
    body: RandomBody,
) -> Result<Request<RandomBody>, Box<dyn std::error::Error + Send + Sync>> {
    let spec = &p.spec;
    let method = match spec.method {
        Method::Get => http::Method::GET,
        Method::Post => http::Method::POST,
    };
    let path = spec
        .url
        .path_and_query()
        .map(|pq| pq.as_str())
        .unwrap_or("/");
    let mut b = Request::builder()
        .method(method)
        .header(header::USER_AGENT, USER_AGENT)
        .header(header::ACCEPT, "*/*")
        // Counted bytes must be the bytes on the wire: never compressed.
        .header(header::ACCEPT_ENCODING, "identity");
    if h2 {
        let scheme = spec.url.scheme_str().unwrap_or("https");
        b = b
            .version(Version::HTTP_2)
            .uri(format!("{scheme}://{}{path}", p.host_header()));
    } else {
        b = b.uri(path).header(header::HOST, p.host_header());
    }
    if spec.method == Method::Post {
        b = b.header(header::CONTENT_TYPE, "application/octet-stream");
    }
    Ok(b.body(body)?)
}

#[allow(clippy::too_many_arguments)]
async fn request_and_body(
    p: &Prepared,
    rec: &mut FetchRecord,
    sender: &mut Sender,
    req: Request<RandomBody>,
    meter: &mut Meter,
    progress: &Arc<Mutex<UploadProgress>>,
    t_req: Instant,
    deadline: Instant,
) -> Result<(), Failure> {
    let opts = &p.spec.options;
    let is_post = p.spec.method == Method::Post;
    let resp_fut = async {
        match sender {
            Sender::H1(s) => s.send_request(req).await,
            Sender::H2(s) => s.send_request(req).await,
        }
    };
    tokio::pin!(resp_fut);
    let tick = sleep_until(meter.next_tick.into());
    tokio::pin!(tick);
    let cap = sleep_until(deadline.into());
    tokio::pin!(cap);

    // Headers. For an upload the response deadline starts when the body has
    // been handed over: a throttled upload legitimately takes long.
    let resp: Response<Incoming> = loop {
        let up = *progress.lock().unwrap();
        let ttfb_deadline = up
            .done_at
            .map(|t| t.max(t_req) + opts.ttfb_timeout)
            .unwrap_or(deadline + Duration::from_secs(1));
        tokio::select! {
            biased;
            _ = &mut cap => {
                rec.capped = Some(Capped::Time);
                if is_post && up.done_at.is_none() {
                    // Upload cut by max_time: the acked bytes are the data.
                    return Ok(());
                }
                return Err(Failure::timeout(Phase::Headers));
            }
            _ = &mut tick => {
                meter.tick();
                tick.as_mut().reset(meter.next_tick.into());
            }
            _ = sleep_until(ttfb_deadline.into()) => {
                return Err(Failure::timeout(Phase::Headers));
            }
            r = &mut resp_fut => match r {
                Ok(r) => break r,
                Err(e) => {
                    let phase = if up.done_at.is_none() { Phase::Request } else { Phase::Headers };
                    return Err(Failure::classify(&e, phase));
                }
            },
        }
    };
    let t_headers = Instant::now();
    rec.ttfb_ms = Some(Ms::from_duration(t_headers - t_req));
    rec.status = Some(resp.status().as_u16());
    rec.http_version = Some(
        match resp.version() {
            Version::HTTP_2 => "2",
            Version::HTTP_11 => "1.1",
            Version::HTTP_10 => "1.0",
            _ => "other",
        }
        .to_string(),
    );
    let hdr = |name| {
        resp.headers()
            .get(name)
            .and_then(|v: &http::HeaderValue| v.to_str().ok())
            .map(str::to_string)
    };
    rec.location = hdr(header::LOCATION);
    rec.content_type = hdr(header::CONTENT_TYPE);
    // The upload is over once the response is here.
    if let Some(up) = meter.up.as_mut() {
        let s = meter.info.as_ref().and_then(TcpInfoSource::sample);
        if let Some(acked) = s.and_then(|i| i.bytes_acked) {
            up.set_total(t_headers, acked.saturating_sub(meter.acked0));
        }
    }

    let mut body = resp.into_body();
    loop {
        tokio::select! {
            biased;
            _ = &mut cap => {
                rec.capped = Some(Capped::Time);
                return Ok(());
            }
            _ = &mut tick => {
                meter.tick();
                tick.as_mut().reset(meter.next_tick.into());
            }
            f = body.frame() => match f {
                None => return Ok(()),
                Some(Err(e)) => return Err(Failure::classify(&e, Phase::Body)),
                Some(Ok(frame)) => {
                    if let Some(d) = frame.data_ref() {
                        meter.down.add(Instant::now(), d.len() as u64);
                        if meter.down.total() >= opts.max_bytes {
                            rec.capped = Some(Capped::Bytes);
                            return Ok(());
                        }
                    }
                }
            },
        }
    }
}

/// Turn the meters into the record's byte counts, rates and timeline rows.
fn finish(rec: &mut FetchRecord, m: &mut Meter, t_req: Instant, end: Instant) {
    let windows = m.down.finish(end);
    rec.body_bytes = m.down.total();
    rec.goodput_bps = timeline::goodput_bps(m.down.total(), m.down.first(), m.down.last());
    if let (Some(first), Some(last)) = (m.down.first(), m.down.last()) {
        rec.steady_bps = timeline::steady_bps(&windows, first - t_req, last - t_req);
    }
    rec.peak_window_bps = timeline::peak_window_bps(&windows, m.down.window());
    rec.transfer_ms = rec
        .ttfb_ms
        .map(|ttfb| Ms(Ms::from_duration(end - t_req).0 - ttfb.0));
    let mut rows = to_rows(&windows, Direction::Down);
    if let Some(up) = m.up.as_mut() {
        let up_windows = up.finish(up.last().unwrap_or(end));
        if let (Some(first), Some(last)) = (up.first(), up.last()) {
            rec.upload_bps = timeline::steady_bps(&up_windows, first - t_req, last - t_req)
                .or_else(|| timeline::goodput_bps(up.total(), Some(t_req), Some(last)));
        }
        rows.extend(to_rows(&up_windows, Direction::Up));
    }
    rec.timeline = rows;
    if let Some(i) = m.last_info {
        let ms = |us: Option<u32>| us.map(|u| Ms(u as f64 / 1000.0));
        rec.tcp_rtt_ms = ms(i.rtt_us);
        rec.tcp_min_rtt_ms = ms(i.min_rtt_us);
        rec.tcp_rcv_rtt_ms = ms(i.rcv_rtt_us).filter(|m| m.0 > 0.0);
        rec.tcp_retrans = i.total_retrans;
        rec.tcp_ooo = i.rcv_ooopack;
        rec.tcp_bytes_received = i.bytes_received;
        rec.tcp_bytes_acked = i.bytes_acked;
    }
}

fn to_rows(windows: &[WindowSample], direction: Direction) -> Vec<Window> {
    windows
        .iter()
        .map(|w| Window {
            fetch_id: String::new(),
            direction,
            t_ms: Ms::from_duration(w.t),
            bytes: w.bytes,
            cum_bytes: w.cum_bytes,
            tcp_rtt_ms: w.tcp.and_then(|i| i.rtt_us).map(|u| Ms(u as f64 / 1000.0)),
            tcp_retrans: w.tcp.and_then(|i| i.total_retrans),
            tcp_cum_bytes: w.tcp.and_then(|i| match direction {
                Direction::Down => i.bytes_received,
                Direction::Up => i.bytes_acked,
            }),
        })
        .collect()
}
