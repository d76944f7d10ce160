//! The HTTP/3 exchange on an open QUIC connection: request (and upload
//! body) on one request stream, headers, counted body — the same meter,
//! windows and caps as the TCP path (`probe::http`). QUIC has no TCP_INFO:
//! the windows carry no `tcp_*` samples and an upload counts what was
//! handed to QUIC (bounded by a small send window, see `quic::transport`);
//! a reflector's `/upload` answer gives the server's count.

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes};
use http::{header, Request};
use http_body_util::BodyExt;
use tokio::time::sleep_until;

use super::fail;
use super::socket::Watch;
use crate::probe::failure::Failure;
use crate::probe::http::{server_answer, SNI_HEADER, USER_AGENT};
use crate::probe::meter::Meter;
use crate::probe::upload::{RandomBody, UploadProgress};
use crate::probe::{Cut, Prepared};
use crate::types::{Capped, FetchRecord, Method, Ms, Phase};

type H3Err = h3::error::StreamError;

pub(super) async fn exchange(
    p: &Prepared,
    rec: &mut FetchRecord,
    conn: &quinn::Connection,
    watch: &Watch,
    deadline: Instant,
    cut: &Cut,
) -> Result<(), Failure> {
    let spec = &p.spec;
    let is_post = spec.method == Method::Post;
    let fail = |e: Option<&H3Err>, phase| {
        let icmp = watch.seen.lock().unwrap().icmp;
        fail::classify(icmp, conn.close_reason().as_ref(), e, phase)
    };
    let (mut driver, mut send) =
        match h3::client::new(h3_quinn::Connection::new(conn.clone())).await {
            Ok(x) => x,
            Err(_) => return Err(fail(None, Phase::Request)),
        };
    // The connection driver (control streams, GOAWAY); aborted at the end so
    // a capped fetch stops reading at once.
    let driver = tokio::spawn(async move {
        let _ = std::future::poll_fn(|cx| driver.poll_close(cx)).await;
    });
    let upload = if is_post { spec.upload } else { 0 };
    let (body, progress) = RandomBody::new(upload);
    let req = build_request(p).map_err(|e| Failure::classify(&*e, Phase::Request))?;
    let t_req = Instant::now();
    let up = is_post.then(|| (progress.clone(), 0));
    let mut meter = Meter::new(t_req, spec.options.window, None, up);
    let mut min_rtt = conn.rtt();
    let r = request_and_body(
        p,
        rec,
        &mut send,
        req,
        body,
        &progress,
        &mut meter,
        conn,
        &mut min_rtt,
        t_req,
        deadline,
        cut,
        &fail,
    )
    .await;
    let end = Instant::now();
    meter.tick();
    rec.upload_bytes = meter.settle_upload();
    meter.finish(rec, t_req, end);
    rec.quic_min_rtt_ms = Some(Ms::from_duration(min_rtt.min(conn.rtt())));
    driver.abort();
    r
}

fn build_request(p: &Prepared) -> Result<Request<()>, Box<dyn std::error::Error + Send + Sync>> {
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
        .uri(format!("https://{}{path}", p.host_header()))
        .header(header::USER_AGENT, USER_AGENT)
        .header(header::ACCEPT, "*/*")
        .header(header::ACCEPT_ENCODING, "identity");
    if spec.method == Method::Post {
        b = b
            .header(header::CONTENT_TYPE, "application/octet-stream")
            .header(header::CONTENT_LENGTH, spec.upload);
    }
    Ok(b.body(())?)
}

type Sender = h3::client::SendRequest<h3_quinn::OpenStreams, Bytes>;

#[allow(clippy::too_many_arguments)]
async fn request_and_body(
    p: &Prepared,
    rec: &mut FetchRecord,
    send: &mut Sender,
    req: Request<()>,
    mut body: RandomBody,
    progress: &Mutex<UploadProgress>,
    meter: &mut Meter,
    conn: &quinn::Connection,
    min_rtt: &mut Duration,
    t_req: Instant,
    deadline: Instant,
    cut: &Cut,
    fail: &(dyn Fn(Option<&H3Err>, Phase) -> Failure + Sync),
) -> Result<(), Failure> {
    let opts = &p.spec.options;
    let is_post = p.spec.method == Method::Post;
    let cap = sleep_until(deadline.into());
    tokio::pin!(cap);
    let stop = cut.fired();
    tokio::pin!(stop);
    let tick = sleep_until(meter.next_tick.into());
    tokio::pin!(tick);

    // Open the request stream (HEADERS sent).
    let stream = tokio::select! {
        biased;
        _ = &mut cap => {
            rec.capped = Some(Capped::Time);
            return Err(Failure::timeout(Phase::Request));
        }
        _ = &mut stop => {
            rec.capped = Some(Capped::Stop);
            return Ok(());
        }
        r = send.send_request(req) => r.map_err(|e| fail(Some(&e), Phase::Request))?,
    };
    let (mut tx, mut rx) = stream.split();
    // The request body (empty for a GET), then FIN.
    let mut upload: Pin<Box<dyn Future<Output = Result<(), H3Err>> + Send>> =
        Box::pin(async move {
            while let Some(Ok(frame)) = body.frame().await {
                if let Ok(data) = frame.into_data() {
                    tx.send_data(data).await?;
                }
            }
            tx.finish().await
        });
    let mut uploading = true;

    let resp = loop {
        let done_at = progress.lock().unwrap().done_at;
        let ttfb_deadline = match done_at {
            Some(done) if meter.upload_acked() => done.max(t_req) + opts.ttfb_timeout,
            _ => deadline + Duration::from_secs(1),
        };
        tokio::select! {
            biased;
            _ = &mut cap => {
                rec.capped = Some(Capped::Time);
                if is_post && !meter.upload_acked() {
                    return Ok(());
                }
                return Err(Failure::timeout(Phase::Headers));
            }
            _ = &mut stop => {
                rec.capped = Some(Capped::Stop);
                return Ok(());
            }
            _ = &mut tick => {
                meter.tick();
                *min_rtt = (*min_rtt).min(conn.rtt());
                tick.as_mut().reset(meter.next_tick.into());
            }
            r = &mut upload, if uploading => {
                uploading = false;
                match r {
                    // RFC 9114 §4.1: a server that has read enough may stop
                    // our request stream and still answer in full; whether
                    // it answers is the response side's to say.
                    Err(e) if peer_stopped(&e) => {}
                    Err(e) => return Err(fail(Some(&e), Phase::Request)),
                    Ok(()) => {}
                }
            }
            _ = sleep_until(ttfb_deadline.into()) => {
                return Err(Failure::timeout(Phase::Headers));
            }
            r = rx.recv_response() => match r {
                Ok(r) => break r,
                Err(e) => return Err(fail(Some(&e), Phase::Headers)),
            },
        }
    };
    drop(upload);
    let t_headers = Instant::now();
    rec.ttfb_ms = Some(Ms::from_duration(t_headers - t_req));
    rec.status = Some(resp.status().as_u16());
    rec.http_version = Some("3".into());
    let hdr = |name| {
        resp.headers()
            .get(name)
            .and_then(|v: &http::HeaderValue| v.to_str().ok())
            .map(str::to_string)
    };
    rec.location = hdr(header::LOCATION);
    rec.content_type = hdr(header::CONTENT_TYPE);
    rec.server_sni = hdr(http::HeaderName::from_static(SNI_HEADER));
    let declared: Option<u64> = hdr(header::CONTENT_LENGTH).and_then(|v| v.trim().parse().ok());
    if !is_post {
        rec.object_bytes = declared;
    }
    meter.sample_upload(t_headers);

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
                *min_rtt = (*min_rtt).min(conn.rtt());
                tick.as_mut().reset(meter.next_tick.into());
            }
            d = rx.recv_data() => match d {
                Ok(None) => {
                    // HTTP/3 ends a body with the stream's FIN; fewer bytes
                    // than announced is a cut body, as over TCP.
                    if declared.is_some_and(|n| meter.down.total() < n) {
                        return Err(Failure::new("eof_error", Phase::Body));
                    }
                    if keep_answer {
                        server_answer(rec, &answer);
                    }
                    return Ok(());
                }
                Err(e) => return Err(fail(Some(&e), Phase::Body)),
                Ok(Some(mut chunk)) => {
                    let n = chunk.remaining();
                    meter.down.add(Instant::now(), n as u64);
                    if keep_answer && answer.len() < 8 * 1024 {
                        answer.extend_from_slice(&chunk.copy_to_bytes(n));
                    }
                    if meter.down.total() >= opts.max_bytes {
                        rec.capped = Some(Capped::Bytes);
                        return Ok(());
                    }
                }
            },
        }
    }
}

/// Whether the peer stopped our request stream (STOP_SENDING): "send no
/// more". h3 servers do it when they answer before our FIN arrived (with
/// H3_NO_ERROR, or quinn's default code 0); an abort shows as a reset of
/// the response, which is classified there.
fn peer_stopped(e: &H3Err) -> bool {
    matches!(e, h3::error::StreamError::RemoteTerminate { .. })
}
