//! Response bodies: short texts, and `/bytes/{N}`'s seeded random bytes.
//!
//! The random bytes are the endless repetition of one 1 MiB block drawn
//! from rand's `StdRng` (ChaCha12) seeded with [`SEED`], so any client with
//! rand 0.8 can regenerate and check what it received, and a compressor on
//! the path finds nothing to shrink. Every body carries its request's log
//! [`Entry`], written when the body is done or dropped.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use rand::{rngs::StdRng, RngCore, SeedableRng};

use super::log::Entry;

/// `StdRng::seed_from_u64(SEED)` draws the block ("slowlane" in ASCII).
pub const SEED: u64 = 0x736c_6f77_6c61_6e65;
/// Size of the repeated block.
pub const BLOCK: usize = 1 << 20;
/// Bytes per frame: small, for the same reason as TLS records
/// (`tls::RECORD_SIZE`): a throttled client sees progress per frame.
const CHUNK: usize = 4 * 1024;

/// The shared random block.
pub fn block() -> &'static Bytes {
    static DATA: OnceLock<Bytes> = OnceLock::new();
    DATA.get_or_init(|| {
        let mut v = vec![0u8; BLOCK];
        StdRng::seed_from_u64(SEED).fill_bytes(&mut v);
        Bytes::from(v)
    })
}

/// A response body that logs its request when it is over.
pub struct ServeBody {
    kind: Kind,
    entry: Option<Entry>,
}

enum Kind {
    Full(Option<Bytes>),
    Random { pos: usize, remaining: u64 },
}

impl ServeBody {
    pub fn full(data: impl Into<Bytes>, entry: Entry) -> ServeBody {
        ServeBody {
            kind: Kind::Full(Some(data.into())),
            entry: Some(entry),
        }
    }

    pub fn random(size: u64, entry: Entry) -> ServeBody {
        ServeBody {
            kind: Kind::Random {
                pos: 0,
                remaining: size,
            },
            entry: Some(entry),
        }
    }

    fn sent(&mut self, n: usize) {
        if let Some(e) = self.entry.as_mut() {
            e.bytes_out += n as u64;
        }
    }
}

impl Body for ServeBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let chunk = match &mut self.kind {
            Kind::Full(data) => data.take(),
            Kind::Random { pos, remaining } => (*remaining > 0).then(|| {
                let b = block();
                let n = (*remaining).min(CHUNK as u64) as usize;
                let n = n.min(b.len() - *pos);
                let c = b.slice(*pos..*pos + n);
                *pos = (*pos + n) % b.len();
                *remaining -= n as u64;
                c
            }),
        };
        match chunk {
            Some(c) => {
                self.sent(c.len());
                Poll::Ready(Some(Ok(Frame::data(c))))
            }
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Full(d) => d.is_none(),
            Kind::Random { remaining, .. } => *remaining == 0,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Full(d) => SizeHint::with_exact(d.as_ref().map_or(0, |d| d.len() as u64)),
            Kind::Random { remaining, .. } => SizeHint::with_exact(*remaining),
        }
    }
}

impl Drop for ServeBody {
    fn drop(&mut self) {
        let ended = self.is_end_stream();
        if let (Some(e), false) = (self.entry.as_mut(), ended) {
            e.note = "client left before the end of the body".into();
        }
    }
}
