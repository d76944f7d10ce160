//! One direction of a relayed connection: read from one leg, apply the
//! action, write to the other.
//!
//! Two shapes of pump. The direct one reads, waits for its limiter and
//! writes, one chunk at a time, so TCP backpressure reaches the sender at
//! once; every action without a delay or a shared queue uses it, and the
//! lab's policer and shaper calibrations rest on it. The line pump splits
//! reading from writing: the reader stamps each chunk with the time it may
//! leave (after the shared queue, plus the one-way delay) and the writer
//! sends it then, so the bytes of one delay or one queue's worth are in
//! flight at once, as on a real link.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use super::limiter::Limiter;
use super::policy::Leg;
use super::rules::Action;

/// Read size for unthrottled directions.
const PASS_BUF: usize = 64 * 1024;
/// Bytes a delay line holds beyond a shared queue: a 30 ms line then
/// carries up to ~500 Mbit/s, far above any rate the lab models.
const LINE_BYTES: usize = 2 << 20;

/// How one direction ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The source closed; the FIN was passed on.
    Eof,
    /// The source may still send, but nothing more is forwarded (freeze,
    /// blackhole): the connection hangs until the client gives up.
    Hold,
    /// The rule asks for a RST to the client.
    Reset,
    /// An I/O error on either leg.
    Error,
}

/// Moves bytes from `src` to `dst` under `leg` until the direction ends.
/// `first` holds bytes already read from `src`.
pub(crate) async fn pump<R, W>(
    src: &mut R,
    dst: &mut W,
    first: Vec<u8>,
    leg: &Leg,
    count: &AtomicU64,
) -> Outcome
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    if leg.delay.is_zero() && leg.shared.is_none() {
        direct(src, dst, first, leg.action, count).await
    } else {
        line(src, dst, first, leg, count).await
    }
}

/// Bytes forwarded before the action stops the flow, if it does.
fn byte_limit(action: Action) -> Option<u64> {
    match action {
        Action::FreezeAfter { bytes } | Action::ResetAfter { bytes } => Some(bytes.0),
        Action::Blackhole => Some(0),
        _ => None,
    }
}

/// The private limiter of a police or (unshared) shape action.
fn limiter(action: Action) -> Option<Limiter> {
    match action {
        Action::Police { rate, burst } => Some(Limiter::police(rate, burst)),
        Action::Shape {
            rate,
            shared: false,
            ..
        } => Some(Limiter::shape(rate)),
        _ => None,
    }
}

/// Read-ahead: what the relay may hold beyond what it has forwarded. For a
/// shaper that is its queue; for a policer its bucket.
fn read_size(leg: &Leg) -> usize {
    if let Some(q) = &leg.shared {
        return q.max_grant();
    }
    match leg.action {
        Action::Shape { queue, .. } => (queue.0 as usize).clamp(1500, 1 << 20),
        Action::Police { burst, .. } => (burst.0 as usize).clamp(1500, 1 << 20),
        _ => PASS_BUF,
    }
}

async fn direct<R, W>(
    src: &mut R,
    dst: &mut W,
    first: Vec<u8>,
    action: Action,
    count: &AtomicU64,
) -> Outcome
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut limiter = limiter(action);
    let limit = byte_limit(action);
    let mut passed: u64 = 0;
    let mut buf = first;
    let mut len = buf.len();
    buf.resize(
        len.max(read_size(&Leg {
            action,
            ..Leg::default()
        })),
        0,
    );
    loop {
        if len == 0 {
            match src.read(&mut buf).await {
                Ok(0) => {
                    let _ = dst.shutdown().await;
                    return Outcome::Eof;
                }
                Ok(n) => len = n,
                Err(_) => return Outcome::Error,
            }
        }
        let mut data = &buf[..len];
        if let Some(limit) = limit {
            let room = limit.saturating_sub(passed) as usize;
            if room < data.len() {
                if room > 0 && dst.write_all(&data[..room]).await.is_err() {
                    return Outcome::Error;
                }
                count.fetch_add(room as u64, Ordering::Relaxed);
                return match action {
                    Action::ResetAfter { .. } => {
                        let _ = dst.flush().await;
                        Outcome::Reset
                    }
                    Action::Blackhole => drain(src).await,
                    _ => Outcome::Hold,
                };
            }
        }
        while !data.is_empty() {
            let n = match limiter.as_mut() {
                Some(l) => l.grant(data.len()).await,
                None => data.len(),
            };
            if dst.write_all(&data[..n]).await.is_err() {
                return Outcome::Error;
            }
            passed += n as u64;
            count.fetch_add(n as u64, Ordering::Relaxed);
            data = &data[n..];
        }
        len = 0;
    }
}

/// What the reader hands the writer of a line pump, in order.
enum Item {
    /// Write these bytes at `at`; the permit bounds the line's bytes.
    Data {
        at: Instant,
        bytes: Vec<u8>,
        _permit: OwnedSemaphorePermit,
    },
    /// The direction ends at `at`; `shutdown` passes a FIN on.
    End {
        at: Instant,
        outcome: Outcome,
        shutdown: bool,
    },
}

async fn line<R, W>(
    src: &mut R,
    dst: &mut W,
    first: Vec<u8>,
    leg: &Leg,
    count: &AtomicU64,
) -> Outcome
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let (tx, mut rx) = mpsc::unbounded_channel();
    let reader = read_line(src, first, leg, tx);
    let writer = async {
        while let Some(item) = rx.recv().await {
            match item {
                Item::Data { at, bytes, .. } => {
                    tokio::time::sleep_until(at).await;
                    if dst.write_all(&bytes).await.is_err() {
                        return Outcome::Error;
                    }
                    count.fetch_add(bytes.len() as u64, Ordering::Relaxed);
                }
                Item::End {
                    at,
                    outcome,
                    shutdown,
                } => {
                    tokio::time::sleep_until(at).await;
                    if shutdown {
                        let _ = dst.shutdown().await;
                    } else {
                        let _ = dst.flush().await;
                    }
                    return outcome;
                }
            }
        }
        Outcome::Error
    };
    tokio::pin!(reader, writer);
    let mut reading = true;
    loop {
        tokio::select! {
            _ = &mut reader, if reading => reading = false,
            o = &mut writer => return o,
        }
    }
}

/// The reader half of a line pump: admission (limiter or shared queue),
/// then the delay, then onto the line.
async fn read_line<R: AsyncRead + Unpin>(
    src: &mut R,
    first: Vec<u8>,
    leg: &Leg,
    tx: mpsc::UnboundedSender<Item>,
) {
    // Bytes between reader and writer: a connection's in-flight data.
    let in_flight = match leg.action {
        Action::Shape {
            shared: true,
            window: Some(w),
            ..
        } => (w.0 as usize).max(1500),
        Action::Shape { queue, .. } => LINE_BYTES + queue.0 as usize,
        _ => LINE_BYTES,
    };
    let room = Arc::new(Semaphore::new(in_flight));
    let mut limiter = limiter(leg.action);
    let limit = byte_limit(leg.action);
    let end = |outcome, shutdown| Item::End {
        at: Instant::now() + leg.delay,
        outcome,
        shutdown,
    };
    let mut passed: u64 = 0;
    let mut buf = first;
    let mut len = buf.len();
    buf.resize(len.max(read_size(leg)), 0);
    loop {
        if len == 0 {
            match src.read(&mut buf).await {
                Ok(0) => {
                    let _ = tx.send(end(Outcome::Eof, true));
                    return;
                }
                Ok(n) => len = n,
                Err(_) => {
                    let _ = tx.send(end(Outcome::Error, false));
                    return;
                }
            }
        }
        let mut data = &buf[..len];
        let mut stop = None;
        if let Some(limit) = limit {
            let room = limit.saturating_sub(passed) as usize;
            if room < data.len() {
                data = &data[..room];
                stop = Some(match leg.action {
                    Action::ResetAfter { .. } => Outcome::Reset,
                    Action::Blackhole => Outcome::Eof,
                    _ => Outcome::Hold,
                });
            }
        }
        while !data.is_empty() {
            let n = match (&leg.shared, limiter.as_mut()) {
                (Some(q), _) => data.len().min(q.max_grant()).min(in_flight),
                (None, Some(l)) => l.grant(data.len()).await,
                (None, None) => data.len(),
            };
            let Ok(permit) = room.clone().acquire_many_owned(n as u32).await else {
                return;
            };
            let leaves = match &leg.shared {
                Some(q) => q.admit(n).await,
                None => Instant::now(),
            };
            let item = Item::Data {
                at: leaves + leg.delay,
                bytes: data[..n].to_vec(),
                _permit: permit,
            };
            if tx.send(item).is_err() {
                return;
            }
            passed += n as u64;
            data = &data[n..];
        }
        match stop {
            Some(Outcome::Eof) => {
                // Blackhole: swallow the rest, pass no FIN on.
                let o = drain(src).await;
                let _ = tx.send(end(o, false));
                return;
            }
            Some(o) => {
                let _ = tx.send(end(o, false));
                return;
            }
            None => len = 0,
        }
    }
}

/// Blackhole: swallow whatever arrives (no window stall, no RST) until EOF.
async fn drain<R: AsyncRead + Unpin>(src: &mut R) -> Outcome {
    let mut sink = vec![0u8; 16 * 1024];
    loop {
        match src.read(&mut sink).await {
            Ok(0) => return Outcome::Eof,
            Ok(_) => {}
            Err(_) => return Outcome::Error,
        }
    }
}
