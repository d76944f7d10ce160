//! The UDP socket of one QUIC fetch, watched.
//!
//! quinn drops the errors a UDP socket reports for ICMP messages (port or
//! host unreachable) and would wait for its idle timeout; a measurement must
//! tell "refused" from "no answer". So each fetch gets its own socket,
//! *connected* to the server (Linux reports ICMP errors only to a connected
//! UDP socket), and this wrapper notes any such error before handing quinn a
//! harmless `ConnectionReset` it skips. It also counts the client's Initial
//! packets and reads the ClientHello's size from them (`initial`).

use std::fmt;
use std::io::{self, IoSliceMut};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use quinn::udp::{RecvMeta, Transmit};
use quinn::{AsyncUdpSocket, Runtime, TokioRuntime, UdpPoller};
use tokio::sync::Notify;

use super::initial::{is_initial, HelloAssembler};

/// What the wrapper saw, shared with the fetch.
#[derive(Debug, Default)]
pub struct Seen {
    /// An ICMP-reported error (`ConnectionRefused`, `HostUnreachable`, …).
    pub icmp: Option<io::ErrorKind>,
    /// The client's Initials: count and the hello read from them.
    pub hello: HelloAssembler,
}

/// Shared state plus a wake-up for the fetch waiting on an ICMP error.
#[derive(Debug, Default)]
pub struct Watch {
    pub seen: Mutex<Seen>,
    pub icmp: Notify,
}

impl Watch {
    /// Resolves once an ICMP error was reported on the socket.
    pub async fn icmp_error(&self) -> io::ErrorKind {
        loop {
            let n = self.icmp.notified();
            if let Some(k) = self.seen.lock().unwrap().icmp {
                return k;
            }
            n.await;
        }
    }
}

pub struct Watched {
    inner: Arc<dyn AsyncUdpSocket>,
    watch: Arc<Watch>,
    /// A duplicate of the socket, to read its pending error (`SO_ERROR`):
    /// quinn-udp swallows send errors, and a send may be what reports it.
    fd: std::os::fd::OwnedFd,
    /// Has any datagram come back? Until then every send and receive first
    /// asks the socket for a pending ICMP error.
    answered: std::sync::atomic::AtomicBool,
}

impl fmt::Debug for Watched {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Watched").finish_non_exhaustive()
    }
}

/// A fresh UDP socket connected to `peer`, wrapped for quinn.
pub fn open(peer: SocketAddr) -> io::Result<(Arc<Watched>, Arc<Watch>)> {
    let local: SocketAddr = if peer.is_ipv4() {
        "0.0.0.0:0".parse().unwrap()
    } else {
        "[::]:0".parse().unwrap()
    };
    let sock = std::net::UdpSocket::bind(local)?;
    sock.connect(peer)?;
    let fd = std::os::fd::OwnedFd::from(sock.try_clone()?);
    let inner = TokioRuntime.wrap_udp_socket(sock)?;
    let watch = Arc::new(Watch::default());
    Ok((
        Arc::new(Watched {
            inner,
            watch: watch.clone(),
            fd,
            answered: false.into(),
        }),
        watch,
    ))
}

fn is_icmp(kind: io::ErrorKind) -> bool {
    use io::ErrorKind::*;
    matches!(
        kind,
        ConnectionRefused | HostUnreachable | NetworkUnreachable
    )
}

impl Watched {
    /// Take the socket's pending error, if it is an ICMP one, before any
    /// answer came.
    fn check_pending(&self) {
        use std::sync::atomic::Ordering;
        if self.answered.load(Ordering::Relaxed) {
            return;
        }
        if let Ok(Some(e)) = socket2::SockRef::from(&self.fd).take_error() {
            if is_icmp(e.kind()) {
                self.note_icmp(e.kind());
            }
        }
    }

    fn note_icmp(&self, kind: io::ErrorKind) {
        self.watch.seen.lock().unwrap().icmp.get_or_insert(kind);
        self.watch.icmp.notify_waiters();
    }
}

impl AsyncUdpSocket for Watched {
    fn create_io_poller(self: Arc<Self>) -> Pin<Box<dyn UdpPoller>> {
        self.inner.clone().create_io_poller()
    }

    fn try_send(&self, t: &Transmit) -> io::Result<()> {
        // Only Initials are looked at, and only until the hello is whole.
        let seg = t.segment_size.unwrap_or(t.contents.len()).max(1);
        for d in t.contents.chunks(seg) {
            if is_initial(d) {
                let mut s = self.watch.seen.lock().unwrap();
                if s.hello.hello().is_none() {
                    s.hello.push(d);
                } else {
                    s.hello.packets += 1;
                }
            }
        }
        self.check_pending();
        match self.inner.try_send(t) {
            Err(e) if is_icmp(e.kind()) => {
                self.note_icmp(e.kind());
                Ok(()) // the datagram is lost, as the network said
            }
            r => r,
        }
    }

    fn poll_recv(
        &self,
        cx: &mut Context,
        bufs: &mut [IoSliceMut<'_>],
        meta: &mut [RecvMeta],
    ) -> Poll<io::Result<usize>> {
        self.check_pending();
        match self.inner.poll_recv(cx, bufs, meta) {
            Poll::Ready(Ok(n)) => {
                self.answered
                    .store(true, std::sync::atomic::Ordering::Relaxed);
                Poll::Ready(Ok(n))
            }
            Poll::Ready(Err(e)) if is_icmp(e.kind()) => {
                self.note_icmp(e.kind());
                // quinn skips this kind and reads on.
                Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()))
            }
            r => r,
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    fn max_transmit_segments(&self) -> usize {
        self.inner.max_transmit_segments()
    }

    fn max_receive_segments(&self) -> usize {
        self.inner.max_receive_segments()
    }

    fn may_fragment(&self) -> bool {
        self.inner.may_fragment()
    }
}
