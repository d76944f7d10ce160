//! The request body of an upload: random, incompressible bytes.
//!
//! Generated chunk by chunk (fast non-cryptographic RNG) so a large upload
//! never sits in memory; random so no middlebox or compressor can shrink it.
//! Records when the last chunk was handed to the connection, because the
//! response deadline of an upload starts there, not at request start.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
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
