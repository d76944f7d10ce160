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
use super::meter::Meter;
use super::tcpinfo::TcpInfoSource;
use super::upload::{head_bytes, RandomBody, UploadProgress};
use super::Prepared;
use crate::types::{Capped, FetchRecord, Method, Ms, Phase};

/// Response header in which a `slowlane serve` reflector echoes the SNI.
pub const SNI_HEADER: &str = "x-slowlane-sni";

pub(super) const USER_AGENT: &str = concat!("slowlane/", env!("CARGO_PKG_VERSION"));

enum Sender {
    H1(hyper::client::conn::http1::SendRequest<RandomBody>),
    H2(hyper::client::conn::http2::SendRequest<RandomBody>),
}

pub async fn exchange<IO>(
    p: &Prepared,
    rec: &mut FetchRecord,
    io: IO,
    info: Option<TcpInfoSource>,
    deadline: Instant,
    cut: &super::Cut,
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
    let handshake = async {
        if h2 {
            let (s, conn) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
                .handshake(io)
                .await
                .map_err(|e| Failure::classify(&e, Phase::Request))?;
            Ok((Sender::H2(s), tokio::spawn(conn)))
        } else {
            let (s, conn) = hyper::client::conn::http1::handshake(io)
                .await
                .map_err(|e| Failure::classify(&e, Phase::Request))?;
            Ok((Sender::H1(s), tokio::spawn(conn)))
        }
    };
    let (mut sender, conn_task) = tokio::select! {
        biased;
        r = handshake => r?,
        _ = cut.fired() => {
            rec.capped = Some(Capped::Stop);
            return Ok(());
        }
    };

    let upload = if spec.method == Method::Post {
        spec.upload
    } else {
        0
    };
    let (body, progress) = RandomBody::new(upload);
    let req = build_request(p, h2, body).map_err(|e| Failure::classify(&*e, Phase::Request))?;

    let up = (spec.method == Method::Post).then(|| (progress.clone(), head_bytes(&req)));

    let t_req = Instant::now();
    let mut meter = Meter::new(t_req, opts.window, info, up);

    let result = request_and_body(
        p,
        rec,
        &mut sender,
        req,
        &mut meter,
        &progress,
        t_req,
        deadline,
        cut,
    )
    .await;

    // Final state of the connection, read before it is dropped.
    let end = Instant::now();
    meter.tick();
    rec.upload_bytes = meter.settle_upload();
    meter.finish(rec, t_req, end);
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
    // The campaign's own headers (a realistic User-Agent, a reflector's
    // token) replace the defaults of the same name.
    if let Some(h) = b.headers_mut() {
        for (name, _) in spec.options.headers.iter() {
            h.remove(name);
        }
        for (name, value) in spec.options.headers.iter() {
            h.append(name.clone(), value.clone());
        }
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
    cut: &super::Cut,
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
    // A stop cut ends the fetch like a time cap: what was measured stays.
    let stop = cut.fired();
    tokio::pin!(stop);

    // Headers. For an upload the response deadline starts when the peer has
    // acknowledged the whole body, not when it was handed to the socket: a
    // policed upload sits in the send buffer for as long as the policer
    // wants, and while it is still being acknowledged it is being sent, not
    // waited on (only `max_time` ends it then).
    let resp: Response<Incoming> = loop {
        let up = *progress.lock().unwrap();
        let ttfb_deadline = match up.done_at {
            Some(done) if meter.upload_acked() => {
                let acked = meter.ack_progress_at().unwrap_or(t_req);
                done.max(t_req).max(acked) + opts.ttfb_timeout
            }
            _ => deadline + Duration::from_secs(1),
        };
        tokio::select! {
            biased;
            _ = &mut cap => {
                rec.capped = Some(Capped::Time);
                meter.sample_upload(Instant::now());
                if is_post && !meter.upload_acked() {
                    // Upload cut by max_time while still being acknowledged:
                    // the acked bytes are the data, not an error.
                    return Ok(());
                }
                return Err(Failure::timeout(Phase::Headers));
            }
            _ = &mut stop => {
                rec.capped = Some(Capped::Stop);
                meter.sample_upload(Instant::now());
                return Ok(());
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
                    meter.sample_upload(Instant::now());
                    let phase = if meter.upload_acked() {
                        Phase::Headers
                    } else {
                        Phase::Request
                    };
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
    // A reflector says which SNI it saw (checks the name arrived unmodified).
    rec.server_sni = hdr(http::HeaderName::from_static(SNI_HEADER));
    if !is_post {
        // What the server said it is sending; the upload size is set by `fetch`.
        rec.object_bytes = hdr(header::CONTENT_LENGTH).and_then(|v| v.trim().parse().ok());
    }
    // The upload is over once the response is here.
    meter.sample_upload(t_headers);

    let mut body = resp.into_body();
    // A reflector answers an upload with what it measured (small JSON).
    let mut answer = Vec::new();
    let keep_answer = is_post
        && rec
            .content_type
            .as_deref()
            .is_some_and(|t| t.starts_with("application/json"));
    loop {
        tokio::select! {
            biased;
            _ = &mut cap => {
                rec.capped = Some(Capped::Time);
                return Ok(());
            }
            _ = &mut stop => {
                rec.capped = Some(Capped::Stop);
                return Ok(());
            }
            _ = &mut tick => {
                meter.tick();
                tick.as_mut().reset(meter.next_tick.into());
            }
            f = body.frame() => match f {
                None => {
                    if keep_answer {
                        server_answer(rec, &answer);
                    }
                    return Ok(());
                }
                Some(Err(e)) => return Err(Failure::classify(&e, Phase::Body)),
                Some(Ok(frame)) => {
                    if let Some(d) = frame.data_ref() {
                        meter.down.add(Instant::now(), d.len() as u64);
                        if keep_answer && answer.len() < MAX_ANSWER {
                            answer.extend_from_slice(d);
                        }
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

/// Most bytes of a reflector's upload answer kept for parsing.
const MAX_ANSWER: usize = 8 * 1024;

/// Fill the `server_*` columns from a reflector's `/upload` answer (see
/// `serve::upload`); anything else (another server's JSON) leaves them empty.
pub(super) fn server_answer(rec: &mut FetchRecord, body: &[u8]) {
    #[derive(serde::Deserialize)]
    struct Answer {
        reflector: String,
        bytes: u64,
        bps: Option<u64>,
        sni: Option<String>,
    }
    let Ok(a) = serde_json::from_slice::<Answer>(body) else {
        return;
    };
    if a.reflector != "slowlane" {
        return;
    }
    rec.server_upload_bytes = Some(a.bytes);
    rec.server_upload_bps = a.bps;
    rec.server_sni = a.sni;
}
