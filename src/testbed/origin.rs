//! The lab origin: synthetic, incompressible content over HTTPS (h2 and
//! http/1.1 by ALPN) and plain HTTP.
//!
//! Bodies are slices of one precomputed random block, streamed in chunks, so
//! serving costs a memcpy-free `Bytes::slice` per chunk and the origin never
//! becomes the bottleneck the lab is supposed to measure. Random data defeats
//! any compression on the path.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{header, Method, Request, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use http_body_util::{BodyExt, Either, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rand::{RngCore, SeedableRng};
use rustls::ServerConfig;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use super::AbortOnDrop;

/// Size of the shared random block bodies are cut from.
const BLOCK: usize = 1 << 20;
/// Bytes per body frame. Small for the same reason TLS records are (see
/// `tls::RECORD_SIZE`): h2 hands a DATA frame to the client only when all of
/// it has arrived, so frame size is the granularity a throttled client sees.
const CHUNK: usize = 4 * 1024;

/// Limits that keep a misbehaving client from exhausting the machine.
#[derive(Debug, Clone)]
pub struct OriginLimits {
    /// Largest body `/text/<n>` etc. will serve.
    pub max_body: u64,
    /// Largest upload `POST /upload` will read.
    pub max_upload: u64,
    /// Connections served at once; further ones wait in the accept queue.
    pub max_conns: usize,
    /// TLS handshake deadline.
    pub handshake_timeout: Duration,
    /// Lifetime of one connection, however busy.
    pub max_conn_time: Duration,
}

impl Default for OriginLimits {
    fn default() -> Self {
        OriginLimits {
            max_body: 1 << 30,
            max_upload: 256 << 20,
            max_conns: 256,
            handshake_timeout: Duration::from_secs(10),
            max_conn_time: Duration::from_secs(600),
        }
    }
}

/// A running origin listener; stops (with its connections) when dropped.
pub struct OriginServer {
    addr: SocketAddr,
    _task: AbortOnDrop,
}

impl OriginServer {
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves HTTPS on `listener` with `tls` (which should offer h2 and
    /// http/1.1 in ALPN).
    pub fn https(listener: TcpListener, tls: Arc<ServerConfig>, limits: OriginLimits) -> Self {
        Self::spawn(listener, Some(TlsAcceptor::from(tls)), limits)
    }

    /// Serves plain HTTP/1.1 on `listener`.
    pub fn http(listener: TcpListener, limits: OriginLimits) -> Self {
        Self::spawn(listener, None, limits)
    }

    fn spawn(listener: TcpListener, tls: Option<TlsAcceptor>, limits: OriginLimits) -> Self {
        let addr = listener
            .local_addr()
            .expect("bound listener has an address");
        let task = tokio::spawn(accept_loop(listener, tls, Arc::new(limits)));
        OriginServer {
            addr,
            _task: AbortOnDrop(task),
        }
    }
}

async fn accept_loop(listener: TcpListener, tls: Option<TlsAcceptor>, limits: Arc<OriginLimits>) {
    let max_conns = limits.max_conns;
    super::serve_bounded(listener, max_conns, move |tcp, _| {
        let (tls, limits) = (tls.clone(), limits.clone());
        async move {
            let deadline = limits.max_conn_time;
            let _ = tokio::time::timeout(deadline, serve_conn(tcp, tls, limits)).await;
        }
    })
    .await
}

async fn serve_conn(tcp: TcpStream, tls: Option<TlsAcceptor>, limits: Arc<OriginLimits>) {
    let _ = tcp.set_nodelay(true);
    let lim = limits.clone();
    let svc = service_fn(move |req| handle(req, lim.clone()));
    let Some(acceptor) = tls else {
        let _ = hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(tcp), svc)
            .await;
        return;
    };
    let Ok(Ok(stream)) = tokio::time::timeout(limits.handshake_timeout, acceptor.accept(tcp)).await
    else {
        return;
    };
    let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
    let io = TokioIo::new(stream);
    if h2 {
        let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
            .adaptive_window(true)
            .serve_connection(io, svc)
            .await;
    } else {
        let _ = hyper::server::conn::http1::Builder::new()
            .serve_connection(io, svc)
            .await;
    }
}

type OriginBody = Either<Full<Bytes>, Synthetic>;

async fn handle(
    req: Request<Incoming>,
    limits: Arc<OriginLimits>,
) -> Result<Response<OriginBody>, Infallible> {
    let path = req.uri().path().to_string();
    if req.method() == Method::POST && path == "/upload" {
        return Ok(upload(req, &limits).await);
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return Ok(plain(
            StatusCode::METHOD_NOT_ALLOWED,
            "GET, HEAD or POST /upload\n",
        ));
    }
    let Some((ctype, size)) = route(&path) else {
        return Ok(plain(
            StatusCode::NOT_FOUND,
            "try /text/<bytes>, /api/<bytes>, /image/<bytes>.jpg, /video/<bytes>.mp4, POST /upload\n",
        ));
    };
    if size > limits.max_body {
        return Ok(plain(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body larger than max_body\n",
        ));
    }
    let body = if req.method() == Method::HEAD {
        Either::Left(Full::new(Bytes::new()))
    } else {
        Either::Right(Synthetic::new(size))
    };
    let resp = Response::builder()
        .header(header::CONTENT_TYPE, ctype)
        .header(header::CONTENT_LENGTH, size)
        .header(header::CACHE_CONTROL, "no-store")
        .body(body)
        .expect("static headers are valid");
    Ok(resp)
}

/// Maps a path to (Content-Type, size). Sizes are plain byte counts.
pub fn route(path: &str) -> Option<(&'static str, u64)> {
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

async fn upload(req: Request<Incoming>, limits: &OriginLimits) -> Response<OriginBody> {
    let mut body = req.into_body();
    let mut total: u64 = 0;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return plain(StatusCode::BAD_REQUEST, "upload aborted\n");
        };
        if let Some(d) = frame.data_ref() {
            total += d.len() as u64;
        }
        if total > limits.max_upload {
            return plain(
                StatusCode::PAYLOAD_TOO_LARGE,
                "upload larger than max_upload\n",
            );
        }
    }
    plain(StatusCode::OK, &format!("{total}\n"))
}

fn plain(status: StatusCode, text: &str) -> Response<OriginBody> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Either::Left(Full::new(Bytes::from(text.to_string()))))
        .expect("static headers are valid")
}

fn random_block() -> &'static Bytes {
    static BLOCK_DATA: OnceLock<Bytes> = OnceLock::new();
    BLOCK_DATA.get_or_init(|| {
        let mut v = vec![0u8; BLOCK];
        rand::rngs::SmallRng::from_entropy().fill_bytes(&mut v);
        Bytes::from(v)
    })
}

/// A body of `remaining` random bytes, streamed as slices of the shared block.
pub struct Synthetic {
    block: Bytes,
    pos: usize,
    remaining: u64,
}

impl Synthetic {
    pub fn new(size: u64) -> Synthetic {
        Synthetic {
            block: random_block().clone(),
            pos: 0,
            remaining: size,
        }
    }
}

impl Body for Synthetic {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.remaining == 0 {
            return Poll::Ready(None);
        }
        let n = (self.remaining.min(CHUNK as u64) as usize).min(self.block.len() - self.pos);
        let chunk = self.block.slice(self.pos..self.pos + n);
        self.pos = (self.pos + n) % self.block.len();
        self.remaining -= n as u64;
        Poll::Ready(Some(Ok(Frame::data(chunk))))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}
