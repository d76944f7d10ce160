//! The reflector's endpoints. Synthetic data only: no file is ever read, no
//! request is ever forwarded.
//!
//! - `GET /bytes/{N}[?type=image|video|text]`: N seeded random bytes.
//! - `POST /upload[?for=DURATION]`: read and discard the body, answer JSON
//!   with what the server measured; with `for`, stop reading after that long
//!   and answer with what came so far (so a throttled upload is measured
//!   before the probe's `max_time` cuts it).
//! - `GET /echo`: the SNI, Host and ALPN the server saw, as JSON.
//! - The lab origin's paths, for the testbed's scenarios:
//!   `/text/{N}`, `/api/{N}`, `/image/{N}.jpg`, `/video/{N}.mp4` ([`lab_path`]).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{header, Method, Request, Response, StatusCode};
use http_body::Body;
use serde_json::json;

use super::body::ServeBody;
use super::log::Entry;
use super::upload::{self, UploadFail};
use super::Shared;
use crate::probe::tcpinfo::TcpInfoSource;

/// What the connection knows about its client.
pub struct ConnInfo {
    pub peer: SocketAddr,
    /// The SNI as it arrived (case and trailing dot kept).
    pub sni: Option<String>,
    pub alpn: String,
    pub tcp: Option<TcpInfoSource>,
    pub transport: crate::types::Transport,
}

/// Handle one request; never fails (every problem is a status).
pub async fn handle<B>(
    req: Request<B>,
    conn: Arc<ConnInfo>,
    shared: Arc<Shared>,
) -> Result<Response<ServeBody>, std::convert::Infallible>
where
    B: Body<Data = Bytes> + Unpin + Send,
{
    let mut e = Entry::new(shared.log.clone(), conn.peer.ip());
    e.sni = conn.sni.clone().unwrap_or_default();
    e.alpn.clone_from(&conn.alpn);
    e.transport = conn.transport;
    e.method = req.method().to_string();
    e.path = req
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .chars()
        .take(200)
        .collect();
    e.host = host_of(&req);
    // Counted before the token check: guessing tokens costs requests too.
    if let Err(wait) = shared.rate.check(conn.peer.ip(), Instant::now()) {
        let msg = format!(
            "more than {} requests per minute from your address; retry in {wait} s\n",
            shared.limits.per_minute
        );
        let mut r = text(StatusCode::TOO_MANY_REQUESTS, &msg, e);
        r.headers_mut().insert(
            header::RETRY_AFTER,
            wait.to_string().parse().expect("digits"),
        );
        return Ok(r);
    }
    if let Some(token) = &shared.token {
        let ok = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|t| t.trim() == token);
        if !ok {
            let mut r = text(StatusCode::UNAUTHORIZED, "a bearer token is required\n", e);
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, "Bearer".parse().expect("valid"));
            return Ok(r);
        }
    }
    let path = req.uri().path().to_string();
    let mut resp = match (req.method(), path.as_str()) {
        (&Method::POST, "/upload") => upload(req, &conn, &shared, e).await,
        (&Method::GET, "/echo") => {
            let v = json!({
                "reflector": "slowlane",
                "sni": conn.sni,
                "host": e.host,
                "alpn": conn.alpn,
                "http_version": format!("{:?}", req.version()),
                "client": conn.peer.to_string(),
            });
            json_resp(StatusCode::OK, &v, e)
        }
        (&Method::GET | &Method::HEAD, p) if p.starts_with("/bytes/") => {
            let ctype = match query(&req, "type") {
                Some("image") => "image/jpeg",
                Some("video") => "video/mp4",
                Some("text") => "text/html; charset=utf-8",
                Some("audio") => "audio/mpeg",
                _ => "application/octet-stream",
            };
            let n = p["/bytes/".len()..].parse::<u64>().ok();
            bytes(&req, n, ctype, shared.limits.max_bytes, e)
        }
        (&Method::GET | &Method::HEAD, p) if lab_path(p).is_some() => {
            let (ctype, n) = lab_path(p).expect("just matched");
            bytes(&req, Some(n), ctype, shared.limits.max_bytes, e)
        }
        (&Method::GET, "/") => text(
            StatusCode::OK,
            "slowlane reflector: GET /bytes/{N}, POST /upload, GET /echo\n",
            e,
        ),
        (_, "/upload" | "/echo" | "/") => text(StatusCode::METHOD_NOT_ALLOWED, "wrong method\n", e),
        (_, p) if p.starts_with("/bytes/") => text(
            StatusCode::METHOD_NOT_ALLOWED,
            "GET or HEAD /bytes/{N}\n",
            e,
        ),
        _ => text(
            StatusCode::NOT_FOUND,
            "GET /bytes/{N}, POST /upload, GET /echo\n",
            e,
        ),
    };
    if let Some(sni) = conn.sni.as_deref().and_then(|s| s.parse().ok()) {
        resp.headers_mut()
            .insert(http::HeaderName::from_static(crate::probe::SNI_HEADER), sni);
    }
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, "no-store".parse().expect("valid"));
    Ok(resp)
}

/// The Host header, else the h2 `:authority`.
fn host_of<B>(req: &Request<B>) -> String {
    req.headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| req.uri().authority().map(|a| a.to_string()))
        .unwrap_or_default()
        .chars()
        .take(255)
        .collect()
}

/// The lab origin's paths: (Content-Type, size). Sizes are byte counts.
pub fn lab_path(path: &str) -> Option<(&'static str, u64)> {
    let (kind, arg) = path.trim_start_matches('/').split_once('/')?;
    let (ctype, num) = match kind {
        "text" => ("text/html; charset=utf-8", arg),
        "api" => ("application/json", arg),
        "image" => ("image/jpeg", arg.strip_suffix(".jpg")?),
        "video" => ("video/mp4", arg.strip_suffix(".mp4")?),
        _ => return None,
    };
    Some((ctype, num.parse().ok()?))
}

fn bytes<B>(
    req: &Request<B>,
    n: Option<u64>,
    ctype: &str,
    max: u64,
    e: Entry,
) -> Response<ServeBody> {
    let Some(n) = n else {
        return text(
            StatusCode::BAD_REQUEST,
            "N in /bytes/{N} must be a byte count\n",
            e,
        );
    };
    if n > max {
        let msg = format!("{n} bytes is over this reflector's limit of {max} bytes per request\n");
        return text(StatusCode::PAYLOAD_TOO_LARGE, &msg, e);
    }
    let head = req.method() == Method::HEAD;
    let mut e = e;
    e.status = 200;
    let body = if head {
        ServeBody::full("", e)
    } else {
        ServeBody::random(n, e)
    };
    Response::builder()
        .header(header::CONTENT_TYPE, ctype)
        .header(header::CONTENT_LENGTH, n)
        .body(body)
        .expect("static headers are valid")
}

async fn upload<B>(
    req: Request<B>,
    conn: &ConnInfo,
    shared: &Shared,
    mut e: Entry,
) -> Response<ServeBody>
where
    B: Body<Data = Bytes> + Unpin + Send,
{
    let max = shared.limits.max_bytes;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(n) = declared.filter(|&n| n > max) {
        let msg = format!("an upload of {n} bytes is over this reflector's limit of {max} bytes\n");
        return text(StatusCode::PAYLOAD_TOO_LARGE, &msg, e);
    }
    let read_for = match query(&req, "for").map(humantime::parse_duration) {
        None => None,
        Some(Ok(d)) if d > Duration::ZERO => Some(d.min(shared.limits.max_conn_time)),
        Some(_) => return text(StatusCode::BAD_REQUEST, "bad `for` duration\n", e),
    };
    let host = e.host.clone();
    let body = req.into_body();
    let measured = upload::measure(body, max, conn.tcp.as_ref(), read_for).await;
    match measured {
        Ok((n, m)) => {
            e.bytes_in = n;
            let r = m.report(n, conn.sni.clone(), host, conn.alpn.clone());
            json_resp(
                StatusCode::OK,
                &serde_json::to_value(r).expect("serialises"),
                e,
            )
        }
        Err(UploadFail::TooLarge(n)) => {
            e.bytes_in = n;
            let msg = format!(
                "upload stopped at {n} bytes: over this reflector's limit of {max} bytes\n"
            );
            text(StatusCode::PAYLOAD_TOO_LARGE, &msg, e)
        }
        Err(UploadFail::Aborted(n)) => {
            e.bytes_in = n;
            text(StatusCode::BAD_REQUEST, "upload aborted\n", e)
        }
    }
}

/// A query parameter's value (no decoding: the values used are plain).
fn query<'a, B>(req: &'a Request<B>, key: &str) -> Option<&'a str> {
    req.uri()
        .query()?
        .split('&')
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
}

fn text(status: StatusCode, msg: &str, mut e: Entry) -> Response<ServeBody> {
    e.status = status.as_u16();
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .header(header::CONTENT_LENGTH, msg.len())
        .body(ServeBody::full(msg.to_string(), e))
        .expect("static headers are valid")
}

fn json_resp(status: StatusCode, v: &serde_json::Value, mut e: Entry) -> Response<ServeBody> {
    e.status = status.as_u16();
    let mut s = v.to_string();
    s.push('\n');
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_LENGTH, s.len())
        .body(ServeBody::full(s, e))
        .expect("static headers are valid")
}
