//! A tiny measured HTTP/1.1 client over TLS or TCP for the testbed tests,
//! with the same steady-rate estimator the engine uses, and the rustls
//! client configs of the in-process clients.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use rustls::pki_types::ServerName;
use rustls::RootCertStore;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

/// A client config trusting only `roots`, offering `alpn`; with rustls's
/// default session resumption when `resume`, else none.
pub fn client_config(
    roots: RootCertStore,
    alpn: &[&str],
    resume: bool,
) -> Arc<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    cfg.alpn_protocols = alpn.iter().map(|a| a.as_bytes().to_vec()).collect();
    if !resume {
        cfg.resumption = rustls::client::Resumption::disabled();
    }
    Arc::new(cfg)
}

pub async fn tcp(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).await.unwrap();
    s.set_nodelay(true).unwrap();
    s
}

/// TLS over `io` with the given SNI: http/1.1, no resumption.
pub async fn tls<S>(io: S, sni: &str, roots: RootCertStore) -> io::Result<TlsStream<S>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let name = ServerName::try_from(sni.to_string()).unwrap();
    TlsConnector::from(client_config(roots, &["http/1.1"], false))
        .connect(name, io)
        .await
}

/// What one measured request saw.
#[derive(Debug, Default)]
pub struct Transfer {
    pub status: Option<u16>,
    pub body: u64,
    /// (seconds since the request was sent, cumulative body bytes) per read.
    pub samples: Vec<(f64, u64)>,
    pub error: Option<io::ErrorKind>,
    /// Stopped by `max_time`.
    pub capped: bool,
    /// Seconds from request to end (cap, EOF or error).
    pub elapsed: f64,
}

impl Transfer {
    /// The engine's plateau estimator ([`slowlane::plateau::estimate`]) on
    /// cumulative body bytes sampled in 100 ms windows.
    pub fn steady_bps(&self) -> Option<f64> {
        let mut windows = Vec::new();
        let mut t = 0.1;
        while t <= self.elapsed + 0.1 {
            let cum = self
                .samples
                .iter()
                .take_while(|s| s.0 <= t)
                .last()
                .map_or(0, |s| s.1);
            windows.push(slowlane::plateau::Sample {
                t,
                body: cum as f64,
                tcp: f64::NAN,
            });
            t += 0.1;
        }
        slowlane::plateau::estimate(&windows).map(|p| p.bps)
    }

    /// Body bits per second over the whole transfer.
    pub fn mean_bps(&self) -> f64 {
        self.body as f64 * 8.0 / self.elapsed
    }
}

/// Sends `GET path` (or a POST of `upload` bytes) and reads the response,
/// giving up after `max_time` (which is data, not an error).
pub async fn request<S>(
    s: &mut S,
    host: &str,
    path: &str,
    upload: u64,
    max_time: Duration,
) -> Transfer
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    request_with(s, host, path, upload, None, max_time).await
}

/// [`request`], measuring an upload as the engine does: TCP_INFO
/// `tcpi_bytes_acked` of socket `acked_fd`, sampled every 100 ms.
pub async fn request_with<S>(
    s: &mut S,
    host: &str,
    path: &str,
    upload: u64,
    acked_fd: Option<std::os::fd::RawFd>,
    max_time: Duration,
) -> Transfer
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut t = Transfer::default();
    let start = Instant::now();
    let deadline = start + max_time;
    let head = if upload > 0 {
        format!("POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {upload}\r\nConnection: close\r\n\r\n")
    } else {
        format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
    };
    if let Err(e) = s.write_all(head.as_bytes()).await {
        t.error = Some(e.kind());
        return t;
    }
    if upload > 0 {
        upload_body(s, upload, acked_fd, start, deadline, &mut t).await;
        return t;
    }
    let mut buf = vec![0u8; 16384];
    let mut header = Vec::new();
    let mut in_body = false;
    loop {
        let n = match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Err(_) => {
                t.capped = true;
                break;
            }
            Ok(Err(e)) => {
                t.error = Some(e.kind());
                break;
            }
            Ok(Ok(0)) => break,
            Ok(Ok(n)) => n,
        };
        let mut data = &buf[..n];
        if !in_body {
            header.extend_from_slice(data);
            let Some(end) = header.windows(4).position(|w| w == b"\r\n\r\n") else {
                continue;
            };
            let text = String::from_utf8_lossy(&header[..end]).to_string();
            t.status = text.split(' ').nth(1).and_then(|c| c.parse().ok());
            let body_start = header.len() - (end + 4);
            t.body = body_start as u64;
            data = &[];
            in_body = true;
        }
        t.body += data.len() as u64;
        if t.body > 0 {
            t.samples.push((start.elapsed().as_secs_f64(), t.body));
        }
    }
    t.elapsed = start.elapsed().as_secs_f64();
    t
}

async fn upload_body<S: AsyncWrite + Unpin>(
    s: &mut S,
    upload: u64,
    acked_fd: Option<std::os::fd::RawFd>,
    start: Instant,
    deadline: Instant,
    t: &mut Transfer,
) {
    let fd = acked_fd.expect("uploads are measured by bytes acked");
    let base = bytes_acked(fd);
    let writer = async {
        let chunk = vec![0x5au8; 16384];
        let mut sent = 0u64;
        while sent < upload {
            let n = chunk.len().min((upload - sent) as usize);
            s.write_all(&chunk[..n]).await?;
            sent += n as u64;
        }
        s.flush().await
    };
    tokio::pin!(writer);
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let mut written = false;
    loop {
        tokio::select! {
            r = &mut writer, if !written => {
                if let Err(e) = r { t.error = Some(e.kind()); break; }
                written = true;
            }
            _ = tick.tick() => {
                let acked = bytes_acked(fd) - base;
                if acked > t.body {
                    t.body = acked;
                    t.samples.push((start.elapsed().as_secs_f64(), acked));
                }
                // Written is not sent: the kernel may hold megabytes.
                if written && acked >= upload {
                    break;
                }
            }
            _ = tokio::time::sleep_until(deadline) => { t.capped = true; break; }
        }
    }
    t.elapsed = start.elapsed().as_secs_f64();
}

/// TCP_INFO `tcpi_bytes_acked` of a socket.
pub fn bytes_acked(fd: std::os::fd::RawFd) -> u64 {
    // SAFETY: a zeroed tcp_info is valid; the kernel writes at most `len`.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            &mut info as *mut _ as *mut libc::c_void,
            &mut len,
        )
    };
    assert_eq!(rc, 0);
    info.tcpi_bytes_acked
}

/// Writes the first `split` bytes, waits `delay`, then the rest: a
/// ClientHello split across two TCP segments.
pub struct SplitFirstWrite<S> {
    pub inner: S,
    split: usize,
    delay: Duration,
    state: u8,
    sleep: Option<Pin<Box<Sleep>>>,
}

impl<S> SplitFirstWrite<S> {
    pub fn new(inner: S, split: usize, delay: Duration) -> Self {
        SplitFirstWrite {
            inner,
            split,
            delay,
            state: 0,
            sleep: None,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for SplitFirstWrite<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for SplitFirstWrite<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.state == 0 && buf.len() > this.split {
            let n =
                std::task::ready!(Pin::new(&mut this.inner).poll_write(cx, &buf[..this.split]))?;
            this.state = 1;
            this.sleep = Some(Box::pin(tokio::time::sleep(this.delay)));
            return Poll::Ready(Ok(n));
        }
        if this.state == 1 {
            if let Some(s) = this.sleep.as_mut() {
                std::task::ready!(s.as_mut().poll(cx));
            }
            this.sleep = None;
            this.state = 2;
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

use std::future::Future as _;

/// Sets SO_SNDBUF on a client socket, so an upload's progress as seen by
/// the writer is not hidden behind megabytes of kernel buffer.
pub fn small_sndbuf(s: &TcpStream, bytes: i32) {
    use std::os::fd::AsRawFd;
    // SAFETY: a valid socket fd and an int-sized option value.
    unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_SNDBUF,
            &bytes as *const i32 as *const libc::c_void,
            std::mem::size_of::<i32>() as libc::socklen_t,
        );
    }
}
