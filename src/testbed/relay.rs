//! Moving bytes between the client and origin legs under a per-direction
//! [`Action`].

use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::limiter::Limiter;
use super::rules::Action;

/// Read size for unthrottled directions.
const PASS_BUF: usize = 64 * 1024;

/// How one direction ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
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

/// Byte counters a relay updates, per direction, as bytes are forwarded.
#[derive(Debug, Default)]
pub struct Counters {
    pub down: AtomicU64,
    pub up: AtomicU64,
}

/// Relays until both directions are done, a rule resets, or `lifetime` ends.
/// `first` holds client bytes already read for classification.
pub(crate) async fn relay(
    mut client: TcpStream,
    mut origin: TcpStream,
    first: Vec<u8>,
    down: Action,
    up: Action,
    counters: &Counters,
    lifetime: Duration,
) {
    let reset = {
        let (mut cr, mut cw) = client.split();
        let (mut or, mut ow) = origin.split();
        let up_fut = pump(&mut cr, &mut ow, first, up, &counters.up);
        let down_fut = pump(&mut or, &mut cw, Vec::new(), down, &counters.down);
        tokio::pin!(up_fut, down_fut);
        let (mut up_end, mut down_end) = (None, None);
        let deadline = tokio::time::sleep(lifetime);
        tokio::pin!(deadline);
        // A client that closed its side of a blackholed or frozen connection
        // has given up: nothing more can happen, so stop.
        let held = |d: Option<Outcome>| {
            d == Some(Outcome::Hold) || up == Action::Blackhole || down == Action::Blackhole
        };
        loop {
            tokio::select! {
                o = &mut up_fut, if up_end.is_none() => up_end = Some(o),
                o = &mut down_fut, if down_end.is_none() => down_end = Some(o),
                _ = &mut deadline => break false,
            }
            match (up_end, down_end) {
                (Some(Outcome::Reset), _) | (_, Some(Outcome::Reset)) => break true,
                (Some(Outcome::Error), _) | (_, Some(Outcome::Error)) => break false,
                (Some(Outcome::Eof), Some(_)) | (Some(_), Some(Outcome::Eof)) => break false,
                (Some(Outcome::Eof), d) if held(d) => break false,
                _ => {}
            }
        }
    };
    if reset {
        wait_sent(&client).await;
        abort_with_rst(&client);
    }
    drop(origin);
}

/// Waits (bounded) until the kernel has sent and had acknowledged what was
/// written, so the bytes before a reset reach the client: SO_LINGER 0 would
/// discard them otherwise.
async fn wait_sent(s: &TcpStream) {
    for _ in 0..2000 {
        let mut queued: libc::c_int = 0;
        // SAFETY: TIOCOUTQ (SIOCOUTQ) writes one int for a valid socket fd.
        let rc = unsafe { libc::ioctl(s.as_raw_fd(), libc::TIOCOUTQ, &mut queued) };
        if rc != 0 || queued == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// SO_LINGER {on, 0}: the close that follows sends a RST instead of a FIN,
/// which is what an injected reset looks like to the client.
fn abort_with_rst(s: &TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid fd owned by `s`, a correctly sized option value.
    unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            &linger as *const libc::linger as *const libc::c_void,
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
}

async fn pump<R, W>(
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
    let mut limiter = match action {
        Action::Police { rate, burst } => Some(Limiter::police(rate, burst)),
        Action::Shape { rate, .. } => Some(Limiter::shape(rate)),
        _ => None,
    };
    // Read-ahead: what the relay may hold beyond what it has forwarded. For a
    // shaper that is its queue; for a policer its bucket.
    let bufsize = match action {
        Action::Shape { queue, .. } => (queue.0 as usize).clamp(1500, 1 << 20),
        Action::Police { burst, .. } => (burst.0 as usize).clamp(1500, 1 << 20),
        _ => PASS_BUF,
    };
    let limit = match action {
        Action::FreezeAfter { bytes } | Action::ResetAfter { bytes } => Some(bytes.0),
        Action::Blackhole => Some(0),
        _ => None,
    };
    let mut passed: u64 = 0;
    let mut buf = first;
    let mut len = buf.len();
    buf.resize(len.max(bufsize), 0);
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
