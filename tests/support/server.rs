//! An in-process HTTPS test server for the engine tests (loopback only).
//!
//! Serves `/bytes/<n>?rate=<bytes per s>&delay=<ms>` with hyper over h2 or
//! HTTP/1.1 (by ALPN), and has raw modes for faults hyper would not produce:
//! a reset after N body bytes and a stall before headers. It records what
//! each connection presented (SNI, Host/:authority, handshake kind) so tests
//! can check the client sent what it was told to. Its certificate chain is
//! a [`Pki`], the lab's.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use slowlane::testbed::Pki;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// What the server does with each connection after the TLS handshake.
#[derive(Clone, Copy, Debug)]
pub enum Mode {
    /// hyper, routes as documented above.
    Normal,
    /// HTTP/1.1 headers with a large Content-Length, then N body bytes, then RST.
    ResetAfter(usize),
    /// Never send response headers (the connection is held open).
    StallHeaders,
    /// Raw h2: response headers with `content-length: 10000000`, N body
    /// bytes, then a clean close: TLS close_notify + FIN (`close_notify`)
    /// or a bare TCP FIN without close_notify.
    H2CutBody { n: usize, close_notify: bool },
    /// Raw h2 as [`Mode::H2CutBody`], but after the N bytes the server
    /// aborts with an INTERNAL_ERROR frame: RST_STREAM on the response's
    /// stream, or GOAWAY (`goaway`) naming no stream as processed; the
    /// connection stays open.
    H2AbortBody { n: usize, goaway: bool },
}

/// How [`h2_cut_body`] ends the response.
#[derive(Clone, Copy)]
enum H2End {
    Close { close_notify: bool },
    Reset,
    GoAway,
}

/// What one connection presented.
#[derive(Clone, Debug, Default)]
pub struct Seen {
    pub sni: Option<String>,
    pub host: Option<String>,
    pub resumed: bool,
    pub alpn: Option<String>,
}

pub struct TestServer {
    pub addr: SocketAddr,
    pub ca_pem: PathBuf,
    pub pki: Pki,
    /// The names it was started for, in order.
    pub names: Vec<String>,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    _dir: tempfile::TempDir,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestServer {
    /// Start on 127.0.0.1 with a certificate for `names` (and, as every
    /// [`Pki`] leaf, `localhost`), ALPN `alpn`.
    pub async fn start(mode: Mode, names: &[&str], alpn: &[&str]) -> TestServer {
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let pki = Pki::generate(&names).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let ca_path = dir.path().join("ca.pem");
        pki.write_ca(&ca_path).unwrap();
        let mut cfg = (*pki.server_config().unwrap()).clone();
        // Full-size TLS records: the lab's small ones are for its policers.
        cfg.max_fragment_size = None;
        // The server *offers* resumption, so a client that resumed would show.
        cfg.ticketer = rustls::crypto::ring::Ticketer::new().unwrap();
        cfg.alpn_protocols = alpn.iter().map(|a| a.as_bytes().to_vec()).collect();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let seen2 = seen.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let acceptor = acceptor.clone();
                let seen = seen2.clone();
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let (_, conn) = tls.get_ref();
                    let idx = {
                        let mut s = seen.lock().unwrap();
                        s.push(Seen {
                            sni: conn.server_name().map(str::to_string),
                            host: None,
                            resumed: conn.handshake_kind() == Some(rustls::HandshakeKind::Resumed),
                            alpn: conn
                                .alpn_protocol()
                                .map(|a| String::from_utf8_lossy(a).into_owned()),
                        });
                        s.len() - 1
                    };
                    match mode {
                        Mode::Normal => serve_hyper(tls, seen, idx).await,
                        Mode::ResetAfter(n) => raw_reset(tls, n).await,
                        Mode::H2CutBody { n, close_notify } => {
                            h2_cut_body(tls, n, H2End::Close { close_notify }).await
                        }
                        Mode::H2AbortBody { n, goaway } => {
                            let end = if goaway { H2End::GoAway } else { H2End::Reset };
                            h2_cut_body(tls, n, end).await
                        }
                        Mode::StallHeaders => {
                            let mut tls = tls;
                            let mut buf = [0u8; 4096];
                            let _ = tls.read(&mut buf).await;
                            tokio::time::sleep(Duration::from_secs(30)).await;
                        }
                    }
                });
            }
        });
        TestServer {
            addr,
            ca_pem: ca_path,
            pki,
            names,
            seen,
            _dir: dir,
            task,
        }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// A campaign's `[defaults]` table: `max_time`, this server's CA, and
    /// each of its names resolved to it.
    pub fn campaign_defaults(&self, max_time: &str) -> String {
        let (ip, port) = (self.addr.ip(), self.addr.port());
        let resolve: Vec<String> = self
            .names
            .iter()
            .map(|n| format!("\"{n}:{port}:{ip}\""))
            .collect();
        format!(
            "[defaults]\nmax_time = \"{max_time}\"\ncacert = [\"{}\"]\nresolve = [{}]\n",
            self.ca_pem.display(),
            resolve.join(", ")
        )
    }
}

type Tls = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;

async fn serve_hyper(tls: Tls, seen: Arc<Mutex<Vec<Seen>>>, idx: usize) {
    let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
        let host = req
            .headers()
            .get(hyper::header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_string)
            .or_else(|| req.uri().authority().map(|a| a.to_string()));
        seen.lock().unwrap()[idx].host = host;
        async move { Ok::<_, Infallible>(route(req).await) }
    });
    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
        .serve_connection(TokioIo::new(tls), svc)
        .await;
}

type BoxBody = http_body_util::combinators::BoxBody<Bytes, Infallible>;

async fn route(req: Request<Incoming>) -> Response<BoxBody> {
    let path = req.uri().path().to_string();
    let q: Vec<(String, String)> = req
        .uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter_map(|kv| kv.split_once('=').map(|(k, v)| (k.into(), v.into())))
        .collect();
    let param = |k: &str| {
        q.iter()
            .find(|(kk, _)| kk == k)
            .and_then(|(_, v)| v.parse::<u64>().ok())
    };
    if req.method() == hyper::Method::POST {
        let mut n = 0usize;
        let mut body = req.into_body();
        while let Some(Ok(f)) = body.frame().await {
            n += f.data_ref().map_or(0, |d| d.len());
        }
        return Response::new(http_body_util::Full::new(Bytes::from(n.to_string())).boxed());
    }
    if path == "/redirect" {
        return Response::builder()
            .status(302)
            .header("location", "https://example.org/elsewhere")
            .body(http_body_util::Empty::new().boxed())
            .unwrap();
    }
    let Some(n) = path
        .strip_prefix("/bytes/")
        .and_then(|s| s.parse::<usize>().ok())
    else {
        return Response::builder()
            .status(404)
            .body(http_body_util::Empty::new().boxed())
            .unwrap();
    };
    if let Some(ms) = param("delay") {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    let rate = param("rate");
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(4);
    tokio::spawn(async move {
        let chunk = Bytes::from(vec![b'x'; 16 * 1024]);
        let start = Instant::now();
        let mut sent = 0usize;
        while sent < n {
            let k = (n - sent).min(chunk.len());
            if let Some(rate) = rate {
                // Absolute schedule: byte `sent` is due at sent/rate seconds.
                let due = start + Duration::from_secs_f64(sent as f64 / rate as f64);
                tokio::time::sleep_until(due.into()).await;
            }
            if tx.send(chunk.slice(..k)).await.is_err() {
                return;
            }
            sent += k;
        }
    });
    let body = ChannelBody(rx);
    Response::builder()
        .header("content-type", "application/octet-stream")
        .header("content-length", n.to_string())
        .body(body.boxed())
        .unwrap()
}

/// A response body fed by a channel (the pacing task sends the chunks).
struct ChannelBody(tokio::sync::mpsc::Receiver<Bytes>);

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;
    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0.poll_recv(cx).map(|o| o.map(|b| Ok(Frame::data(b))))
    }
}

async fn raw_reset(mut tls: Tls, n: usize) {
    let mut buf = [0u8; 4096];
    let _ = tls.read(&mut buf).await;
    let head = "HTTP/1.1 200 OK\r\ncontent-type: image/jpeg\r\ncontent-length: 10000000\r\n\r\n";
    let _ = tls.write_all(head.as_bytes()).await;
    let _ = tls.write_all(&vec![b'y'; n]).await;
    let _ = tls.flush().await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (tcp, _) = tls.get_ref();
    // Linger 0: close sends RST; with a zero timeout it never blocks.
    #[allow(deprecated)]
    let _ = tcp.set_linger(Some(Duration::ZERO));
    drop(tls);
}

/// One h2 frame: 9-byte header (length, type, flags, stream id) + payload.
fn h2_frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut f = len.to_be_bytes()[1..].to_vec();
    f.extend_from_slice(&[kind, flags]);
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// Wait for the client's request on stream 1, answer with headers promising
/// 10 MB and `n` bytes of DATA (n ≤ 16384, one frame), then end as `end`
/// says: a clean close, or an RST_STREAM / GOAWAY with INTERNAL_ERROR.
async fn h2_cut_body(mut tls: Tls, n: usize, end: H2End) {
    const PREFACE: usize = 24;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    // Read frames until a HEADERS frame (type 1) arrives.
    'read: loop {
        let Ok(k) = tls.read(&mut chunk).await else {
            return;
        };
        if k == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..k]);
        let mut at = PREFACE;
        while buf.len() >= at + 9 {
            let len = u32::from_be_bytes([0, buf[at], buf[at + 1], buf[at + 2]]) as usize;
            if buf[at + 3] == 1 {
                break 'read;
            }
            at += 9 + len;
        }
    }
    // HPACK: :status 200 (static index 8), then content-length (static
    // index 28) as a literal without indexing.
    let length = b"10000000";
    let mut block = vec![0x88, 0x0f, 0x0d, length.len() as u8];
    block.extend_from_slice(length);
    let mut out = h2_frame(4, 0, 0, &[]); // SETTINGS
    out.extend(h2_frame(4, 1, 0, &[])); // SETTINGS ACK
    out.extend(h2_frame(1, 4, 1, &block)); // HEADERS, END_HEADERS
    out.extend(h2_frame(0, 0, 1, &vec![b'z'; n])); // DATA, not END_STREAM
    let _ = tls.write_all(&out).await;
    let _ = tls.flush().await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    const INTERNAL_ERROR: [u8; 4] = [0, 0, 0, 2];
    match end {
        // close_notify, then FIN
        H2End::Close { close_notify: true } => drop(tls.shutdown().await),
        // FIN only
        H2End::Close {
            close_notify: false,
        } => drop(tls.get_mut().0.shutdown().await),
        H2End::Reset => {
            let _ = tls.write_all(&h2_frame(3, 0, 1, &INTERNAL_ERROR)).await;
            let _ = tls.flush().await;
        }
        H2End::GoAway => {
            // Last stream id 0: the request on stream 1 was not processed.
            let mut payload = 0u32.to_be_bytes().to_vec();
            payload.extend_from_slice(&INTERNAL_ERROR);
            let _ = tls.write_all(&h2_frame(7, 0, 0, &payload)).await;
            let _ = tls.flush().await;
        }
    }
    // Keep reading until the client closes: unread data at close is a RST.
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while let Ok(k) = tls.get_mut().0.read(&mut chunk).await {
            if k == 0 {
                break;
            }
        }
    })
    .await;
}
