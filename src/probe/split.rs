//! Shaping the ClientHello on the wire: the A/B variants ([`Wire`]).
//!
//! A DPI box that classifies on the first client segment and does not
//! reassemble TCP misses a name cut in two (the 2021 Russian throttler did).
//! [`HelloIo`] sits between rustls and the socket: it takes the first write
//! (the ClientHello record), edits it as the variant says (a dot after the
//! name, padding, two TLS records; `pq` is rustls's own hello with a real
//! post-quantum share, `probe::pq`), and
//! sends it as a list of parts: each part is written and flushed, then
//! [`SPLIT_PAUSE`] passes before the next, so two parts cannot leave in one
//! segment (TCP_NODELAY is on, so each write is sent at once). `disorder`
//! sends its first part with a TTL of [`DISORDER_TTL`]; `oob` sends one
//! urgent byte first. Every later byte passes straight through.

use std::future::Future;
use std::io;
use std::os::fd::AsFd;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use socket2::SockRef;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

use super::hello::{add_trailing_dot, sni_span};
use super::hello_edit as edit;
use crate::types::Wire;

/// Pause between two parts of a split hello. Long enough that a
/// middlebox (or the lab's, on a busy machine) has read the first part
/// alone; it adds this much to `tls_ms` of split fetches.
pub const SPLIT_PAUSE: Duration = Duration::from_millis(100);

/// TTL (IPv6 hop limit) of `disorder`'s first part: it dies at the first
/// router, so a box further on sees the second part first and the first
/// only when TCP retransmits it (with the normal TTL). On loopback nothing
/// decrements the TTL: the lab sees `disorder` as a split.
pub const DISORDER_TTL: u32 = 1;

/// The byte `oob` sends as urgent data (a receiver without SO_OOBINLINE,
/// such as the server's kernel, keeps it out of the stream).
pub const OOB_BYTE: u8 = b'!';

/// What to do to the ClientHello.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HelloShape {
    pub wire: Wire,
    pub trailing_dot: bool,
}

impl HelloShape {
    /// The edited hello and where it is cut into parts (offsets, ascending).
    fn plan(&self, hello: &[u8]) -> (Vec<u8>, Vec<usize>, Option<u64>) {
        let mut out = hello.to_vec();
        if self.trailing_dot {
            add_trailing_dot(&mut out);
        }
        if self.wire == Wire::Pad {
            edit::add_padding(&mut out);
        }
        // Read after the edits: the length on the wire.
        let hello_bytes = (out.len() >= 9 && out[0] == 22 && out[5] == 1)
            .then(|| 4 + u32::from_be_bytes([0, out[6], out[7], out[8]]) as u64);
        let span = sni_span(&out).filter(|s| s.len > 0);
        let mid = span.map(|s| s.name + s.len / 2);
        let cuts = match self.wire {
            Wire::SplitHello | Wire::Disorder => mid.into_iter().collect(),
            Wire::SplitSni => span.map(|s| s.name).into_iter().collect(),
            Wire::SplitAt(n) if (n as usize) < out.len() => vec![n as usize],
            Wire::TlsRecords => {
                if let Some(two) = mid.and_then(|m| edit::two_records(&out, m)) {
                    out = two;
                }
                Vec::new()
            }
            Wire::CcsFirst => {
                out.splice(0..0, edit::CCS);
                Vec::new()
            }
            Wire::JunkFirst => {
                out.splice(0..0, edit::junk());
                vec![edit::JUNK_LEN]
            }
            _ => Vec::new(),
        };
        (out, cuts, hello_bytes)
    }
}

enum State {
    /// Waiting for the first write.
    Start,
    /// Sending the (edited) hello: bytes, sent so far, where to pause.
    Sending {
        out: Vec<u8>,
        pos: usize,
        cuts: Vec<usize>,
        pause: Option<Pin<Box<Sleep>>>,
        /// The TTL to restore after a `disorder` first part.
        restore_ttl: Option<u32>,
    },
    Done,
}

/// A stream that shapes the first write as [`HelloShape`] says.
pub struct HelloIo<S> {
    inner: S,
    shape: HelloShape,
    state: State,
    /// What the hello took on the wire, shared with the fetch so a
    /// handshake that fails or times out still reports it.
    sent: HelloSent,
}

/// The hello's size and segments as [`HelloIo`] wrote it; a handle that
/// outlives the stream (the TLS connect future owns the stream).
#[derive(Debug, Clone, Default)]
pub struct HelloSent(Arc<Sent>);

#[derive(Debug, Default)]
struct Sent {
    /// The ClientHello message's size (`hello_bytes`); 0 until written.
    bytes: AtomicU64,
    /// TCP segments the hello left in (`hello_segments`): each write
    /// counted as ⌈bytes / MSS⌉ (TCP_NODELAY is on).
    segments: AtomicU32,
}

impl HelloSent {
    /// The hello's size (handshake message: 4-byte header + body) and the
    /// number of TCP segments it took; `None` before it was written or
    /// when the first write was not a ClientHello record.
    pub fn get(&self) -> Option<(u64, u32)> {
        let b = self.0.bytes.load(Ordering::Relaxed);
        (b > 0).then(|| (b, self.0.segments.load(Ordering::Relaxed)))
    }

    fn add_segments(&self, n: u32) {
        self.0.segments.fetch_add(n, Ordering::Relaxed);
    }
}

impl<S> HelloIo<S> {
    pub fn new(inner: S, shape: HelloShape) -> HelloIo<S> {
        // Always watch the first write: even an unshaped hello is measured.
        HelloIo {
            inner,
            shape,
            state: State::Start,
            sent: HelloSent::default(),
        }
    }

    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// See [`HelloSent::get`].
    pub fn hello(&self) -> Option<(u64, u32)> {
        self.sent.get()
    }

    /// A handle on the hello's size and segments that outlives `self`.
    pub fn sent(&self) -> HelloSent {
        self.sent.clone()
    }
}

/// The socket's TTL (or hop limit), set to `ttl`; returns the old one.
fn swap_ttl<S: AsFd>(s: &S, ttl: u32) -> io::Result<u32> {
    let sock = SockRef::from(s);
    let v6 = sock.local_addr()?.is_ipv6();
    if v6 {
        let old = sock.unicast_hops_v6()?;
        sock.set_unicast_hops_v6(ttl)?;
        Ok(old)
    } else {
        let old = sock.ttl_v4()?;
        sock.set_ttl_v4(ttl)?;
        Ok(old)
    }
}

impl<S: AsyncWrite + AsFd + Unpin> HelloIo<S> {
    /// Push out the pending hello; Ready once it has all been written.
    fn drive(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let State::Sending {
            out,
            pos,
            cuts,
            pause,
            restore_ttl,
        } = &mut self.state
        else {
            return Poll::Ready(Ok(()));
        };
        let mss = SockRef::from(&self.inner).tcp_mss().unwrap_or(1460).max(1) as usize;
        while *pos < out.len() {
            // At a cut: first the pause, then the next part.
            if cuts.first() == Some(pos) {
                let sleep = pause.get_or_insert_with(|| Box::pin(tokio::time::sleep(SPLIT_PAUSE)));
                ready!(sleep.as_mut().poll(cx));
                *pause = None;
                cuts.remove(0);
                if let Some(ttl) = restore_ttl.take() {
                    swap_ttl(&self.inner, ttl)?;
                }
            }
            // Once: a write that returned Pending comes back here at 0.
            let first_part = *pos == 0 && restore_ttl.is_none();
            if first_part && self.shape.wire == Wire::Disorder && !cuts.is_empty() {
                *restore_ttl = Some(swap_ttl(&self.inner, DISORDER_TTL)?);
            }
            let end = cuts.first().copied().unwrap_or(out.len()).min(out.len());
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &out[*pos..end]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *pos += n;
            self.sent.add_segments(n.div_ceil(mss) as u32);
            if cuts.first() == Some(pos) {
                ready!(Pin::new(&mut self.inner).poll_flush(cx))?;
            }
        }
        if let Some(ttl) = restore_ttl.take() {
            swap_ttl(&self.inner, ttl)?;
        }
        self.state = State::Done;
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + AsyncWrite + AsFd + Unpin> AsyncRead for HelloIo<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        // No answer can come before the whole hello has left.
        ready!(self.drive(cx))?;
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + AsFd + Unpin> AsyncWrite for HelloIo<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if matches!(self.state, State::Start) {
            let (out, cuts, hello_bytes) = self.shape.plan(buf);
            self.sent
                .0
                .bytes
                .store(hello_bytes.unwrap_or(0), Ordering::Relaxed);
            if self.shape.wire == Wire::Oob {
                // One urgent byte before the hello, in its own segment.
                SockRef::from(&self.inner).send_out_of_band(&[OOB_BYTE])?;
                self.sent.add_segments(1);
            }
            self.state = State::Sending {
                out,
                pos: 0,
                cuts,
                pause: None,
                restore_ttl: None,
            };
            // The caller's bytes are taken; they leave in `drive`.
            return Poll::Ready(Ok(buf.len()));
        }
        ready!(self.drive(cx))?;
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.drive(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.drive(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn hello() -> Vec<u8> {
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let cfg = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth();
        let sn = rustls::pki_types::ServerName::try_from("pbs.twimg.com").unwrap();
        let mut c = rustls::ClientConnection::new(std::sync::Arc::new(cfg), sn).unwrap();
        let mut out = Vec::new();
        c.write_tls(&mut out).unwrap();
        out
    }

    #[tokio::test]
    async fn disorder_restores_the_ttl_after_the_first_part() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let tcp = tokio::net::TcpStream::connect(l.local_addr().unwrap())
            .await
            .unwrap();
        let (mut srv, _) = l.accept().await.unwrap();
        let before = SockRef::from(&tcp).ttl_v4().unwrap();
        assert_ne!(before, DISORDER_TTL);
        let shape = HelloShape {
            wire: Wire::Disorder,
            trailing_dot: false,
        };
        let mut io = HelloIo::new(tcp, shape);
        let h = hello();
        io.write_all(&h).await.unwrap();
        io.flush().await.unwrap();
        assert_eq!(SockRef::from(io.get_ref()).ttl_v4().unwrap(), before);
        assert_eq!(io.hello().map(|x| x.1), Some(2));
        let mut got = vec![0u8; h.len()];
        srv.read_exact(&mut got).await.unwrap();
        assert_eq!(got, h);
    }
}
