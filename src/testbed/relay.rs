//! Moving bytes between the client and origin legs under a per-direction
//! [`Action`] (see `pump` for one direction).

use std::os::fd::AsRawFd;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use tokio::net::TcpStream;

use super::policy::Leg;
use super::pump::{pump, Outcome};
use super::rules::Action;

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
    down: &Leg,
    up: &Leg,
    counters: &Counters,
    lifetime: Duration,
) {
    let reset = {
        let (mut cr, mut cw) = client.split();
        let (mut or, mut ow) = origin.split();
        let up_fut = pump(&mut cr, &mut ow, first, up, &counters.up);
        let down_fut = pump(&mut or, &mut cw, Vec::new(), down, &counters.down);
        let blackhole = up.action == Action::Blackhole || down.action == Action::Blackhole;
        tokio::pin!(up_fut, down_fut);
        let (mut up_end, mut down_end) = (None, None);
        let deadline = tokio::time::sleep(lifetime);
        tokio::pin!(deadline);
        // A client that closed its side of a blackholed or frozen connection
        // has given up: nothing more can happen, so stop.
        let held = |d: Option<Outcome>| d == Some(Outcome::Hold) || blackhole;
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
    let _ = socket2::SockRef::from(s).set_linger(Some(Duration::ZERO));
}
