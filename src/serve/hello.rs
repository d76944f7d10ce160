//! Reading the ClientHello before the TLS stack does.
//!
//! The reflector reports the SNI *as it arrived* (case and trailing dot
//! kept; rustls lowercases it), and undoes the probe's wire edits
//! (`trailing-dot`, and `pad`, `ccs-first`, `junk-first` from
//! `probe::hello_edit`) so the handshake transcript matches the client's
//! (a `pq` hello is no edit: its X25519MLKEM768 share is real).
//! So the first bytes are read here, whole even when they came in several
//! segments or records (a split hello), and handed to rustls through
//! [`Prefixed`].

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::probe::hello::strip_trailing_dot;
use crate::probe::hello_edit::{preamble_len, strip_padding};
use crate::testbed::clienthello::{parse_client_hello, HelloError};

/// Largest hello read (a real one is under 2 KiB).
const MAX_HELLO: usize = 16 * 1024;

/// The first client bytes and what they said.
pub struct Hello {
    /// The bytes read, with a trailing dot removed from the SNI.
    pub bytes: Vec<u8>,
    /// The SNI as sent; `None`: no server_name extension.
    pub sni: Option<String>,
}

/// Why a connection is dropped before TLS.
#[derive(Debug)]
pub enum HelloFail {
    /// Nothing (or not all of the hello) within the deadline: slowloris.
    Timeout,
    /// Not TLS, or a broken hello.
    NotTls,
    Io(io::Error),
}

/// Read until a whole ClientHello is in, by `deadline`.
pub async fn read_hello(tcp: &mut TcpStream, deadline: Instant) -> Result<Hello, HelloFail> {
    let mut buf = Vec::with_capacity(2048);
    loop {
        match tokio::time::timeout_at(deadline, tcp.read_buf(&mut buf)).await {
            Err(_) => return Err(HelloFail::Timeout),
            Ok(Err(e)) => return Err(HelloFail::Io(e)),
            Ok(Ok(0)) => return Err(HelloFail::Io(io::ErrorKind::UnexpectedEof.into())),
            Ok(Ok(_)) => {}
        }
        // The probe's junk packet or ChangeCipherSpec record go first.
        let Some(skip) = preamble_len(&buf) else {
            continue;
        };
        match parse_client_hello(&buf[skip..], true) {
            Ok(h) => {
                buf.drain(..skip);
                strip_trailing_dot(&mut buf);
                strip_padding(&mut buf);
                return Ok(Hello {
                    bytes: buf,
                    sni: h.sni,
                });
            }
            Err(HelloError::Incomplete) if buf.len() < MAX_HELLO => {}
            Err(_) => return Err(HelloFail::NotTls),
        }
    }
}

/// A stream that first yields `prefix`, then the inner stream's bytes.
pub struct Prefixed<S> {
    prefix: Vec<u8>,
    pos: usize,
    inner: S,
}

impl<S> Prefixed<S> {
    pub fn new(prefix: Vec<u8>, inner: S) -> Prefixed<S> {
        Prefixed {
            prefix,
            pos: 0,
            inner,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Prefixed<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.pos < self.prefix.len() {
            let n = (self.prefix.len() - self.pos).min(buf.remaining());
            let start = self.pos;
            buf.put_slice(&self.prefix[start..start + n]);
            self.pos += n;
            if self.pos == self.prefix.len() {
                self.prefix = Vec::new();
                self.pos = 0;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Prefixed<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
