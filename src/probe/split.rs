//! Shaping the ClientHello on the wire: `split-hello` and `trailing-dot`.
//!
//! A DPI box that classifies on the first client segment and does not
//! reassemble TCP misses a name cut in two (the 2021 Russian throttler did).
//! [`HelloIo`] sits between rustls and the socket: it takes the first write
//! (the ClientHello record), optionally adds a dot to the name, sends the
//! bytes up to the middle of the name, waits [`SPLIT_PAUSE`] so the two parts
//! cannot leave in one segment (TCP_NODELAY is on, so each write is sent at
//! once), then sends the rest. Every later byte passes straight through.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

use super::hello::{add_trailing_dot, sni_span};

/// Pause between the two parts of a split hello. Long enough that a
/// middlebox (or the lab's, on a busy machine) has read the first part
/// alone; it adds this much to `tls_ms` of `split-hello` fetches.
pub const SPLIT_PAUSE: Duration = Duration::from_millis(100);

/// What to do to the ClientHello.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HelloShape {
    pub split: bool,
    pub trailing_dot: bool,
}

enum State {
    /// Waiting for the first write.
    Start,
    /// Sending the (edited) hello: bytes, sent so far, where to pause.
    Sending {
        out: Vec<u8>,
        pos: usize,
        cut: usize,
        pause: Option<Pin<Box<Sleep>>>,
    },
    Done,
}

/// A stream that shapes the first write as [`HelloShape`] says.
pub struct HelloIo<S> {
    inner: S,
    shape: HelloShape,
    state: State,
    /// The ClientHello message's size (`hello_bytes`), once written.
    hello_bytes: Option<u64>,
    /// Socket writes the hello left in (`hello_segments`; TCP_NODELAY is
    /// on, so each is its own segment at hello sizes).
    hello_writes: u32,
}

impl<S> HelloIo<S> {
    pub fn new(inner: S, shape: HelloShape) -> HelloIo<S> {
        // Always watch the first write: even an unshaped hello is measured.
        HelloIo {
            inner,
            shape,
            state: State::Start,
            hello_bytes: None,
            hello_writes: 0,
        }
    }

    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The hello's size (handshake message: 4-byte header + body) and the
    /// number of socket writes it took; `None` before it was written or
    /// when the first write was not a ClientHello record.
    pub fn hello(&self) -> Option<(u64, u32)> {
        self.hello_bytes.map(|b| (b, self.hello_writes))
    }
}

impl<S: AsyncWrite + Unpin> HelloIo<S> {
    /// Push out the pending hello; Ready once it has all been written.
    fn drive(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let State::Sending {
            out,
            pos,
            cut,
            pause,
        } = &mut self.state
        else {
            return Poll::Ready(Ok(()));
        };
        while *pos < out.len() {
            if *pos == *cut {
                let sleep = pause.get_or_insert_with(|| Box::pin(tokio::time::sleep(SPLIT_PAUSE)));
                ready!(sleep.as_mut().poll(cx));
                *cut = usize::MAX;
            }
            let end = if *cut > *pos {
                (*cut).min(out.len())
            } else {
                out.len()
            };
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &out[*pos..end]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *pos += n;
            self.hello_writes += 1;
            if *pos == *cut {
                ready!(Pin::new(&mut self.inner).poll_flush(cx))?;
            }
        }
        self.state = State::Done;
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for HelloIo<S> {
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

impl<S: AsyncWrite + Unpin> AsyncWrite for HelloIo<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if matches!(self.state, State::Start) {
            let mut out = buf.to_vec();
            let span = if self.shape.trailing_dot {
                add_trailing_dot(&mut out)
            } else {
                sni_span(&out)
            };
            // Read after the edit: the length on the wire.
            if out.len() >= 9 && out[0] == 22 && out[5] == 1 {
                let len = u32::from_be_bytes([0, out[6], out[7], out[8]]);
                self.hello_bytes = Some(4 + len as u64);
            }
            // Cut in the middle of the name; no name (or not a whole hello
            // in this write): send as is.
            let cut = match (self.shape.split, span) {
                (true, Some(s)) if s.len > 0 => s.name + s.len / 2,
                _ => usize::MAX,
            };
            self.state = State::Sending {
                out,
                pos: 0,
                cut,
                pause: None,
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
