//! The request body of an upload: random, incompressible bytes.
//!
//! Generated chunk by chunk (fast non-cryptographic RNG) so a large upload
//! never sits in memory; random so no middlebox or compressor can shrink it.
//! Records what was handed to the connection and when the last chunk was:
//! where the kernel cannot tell what the peer acknowledged, that is the best
//! the engine knows.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http::Request;
use http_body::{Body, Frame, SizeHint};
use rand::{rngs::SmallRng, RngCore, SeedableRng};

const CHUNK: usize = 64 * 1024;

pub struct RandomBody {
    remaining: u64,
    rng: SmallRng,
    progress: Arc<Mutex<UploadProgress>>,
}

/// What the connection has taken of the body so far.
#[derive(Debug, Default, Clone, Copy)]
pub struct UploadProgress {
    /// Bytes handed to the HTTP connection (not yet necessarily on the wire).
    pub sent: u64,
    /// When the last byte was handed over.
    pub done_at: Option<Instant>,
}

impl RandomBody {
    pub fn new(size: u64) -> (RandomBody, Arc<Mutex<UploadProgress>>) {
        let progress = Arc::new(Mutex::new(UploadProgress {
            sent: 0,
            done_at: (size == 0).then(Instant::now),
        }));
        let body = RandomBody {
            remaining: size,
            rng: SmallRng::from_entropy(),
            progress: progress.clone(),
        };
        (body, progress)
    }
}

impl Body for RandomBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if self.remaining == 0 {
            return Poll::Ready(None);
        }
        let n = (self.remaining as usize).min(CHUNK);
        let mut buf = vec![0u8; n];
        self.rng.fill_bytes(&mut buf);
        self.remaining -= n as u64;
        let mut p = self.progress.lock().unwrap();
        p.sent += n as u64;
        if self.remaining == 0 {
            p.done_at = Some(Instant::now());
        }
        drop(p);
        Poll::Ready(Some(Ok(Frame::data(Bytes::from(buf)))))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

/// The request head's size on the wire as HTTP/1.1 writes it (request line,
/// headers, the `content-length` hyper adds, blank line). Subtracted from the
/// acknowledged bytes so `upload_bytes` counts the body. For h2 the head is
/// HPACK-compressed but preceded by the connection preface and SETTINGS, so
/// this is an estimate to within ~100 bytes; TLS record overhead (~0.1%) is
/// not subtracted.
pub fn head_bytes(req: &Request<RandomBody>) -> u64 {
    let path = req.uri().path_and_query().map_or(1, |pq| pq.as_str().len());
    let line = req.method().as_str().len() + 1 + path + " HTTP/1.1\r\n".len();
    let headers: usize = req
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + 2 + v.len() + 2)
        .sum();
    let length = format!("content-length: {}\r\n", req.body().remaining).len();
    (line + headers + length + 2) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_bytes_matches_the_http1_head() {
        let (body, _) = RandomBody::new(600_000);
        let req = Request::post("/upload")
            .header("host", "a.example")
            .body(body)
            .unwrap();
        let text = "POST /upload HTTP/1.1\r\nhost: a.example\r\ncontent-length: 600000\r\n\r\n";
        assert_eq!(head_bytes(&req), text.len() as u64);
    }
}
