//! Reading the kernel's TCP_INFO for a socket (Linux).
//!
//! RTT, retransmissions and acknowledged bytes tell a policer (drops, no RTT
//! inflation) from a shaper (queueing, RTT inflated) and let us time uploads
//! by what the peer acknowledged. No crate exposes this portably, so it is a
//! single `getsockopt` here, on a `dup` of the socket so sampling never races
//! with the connection being closed elsewhere.

use std::os::fd::{AsRawFd, OwnedFd};

/// The TCP_INFO fields slowlane records. Fields the running kernel does not
/// provide (older kernels return a shorter struct) are `None`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TcpInfo {
    /// Smoothed RTT, microseconds.
    pub rtt_us: Option<u32>,
    pub min_rtt_us: Option<u32>,
    pub rcv_rtt_us: Option<u32>,
    pub total_retrans: Option<u32>,
    pub rcv_ooopack: Option<u32>,
    pub bytes_received: Option<u64>,
    pub bytes_acked: Option<u64>,
}

/// A handle that can sample TCP_INFO for one connection.
#[derive(Debug)]
pub struct TcpInfoSource {
    fd: OwnedFd,
}

impl TcpInfoSource {
    pub fn new(stream: &tokio::net::TcpStream) -> Option<TcpInfoSource> {
        use std::os::fd::AsFd;
        stream
            .as_fd()
            .try_clone_to_owned()
            .ok()
            .map(|fd| TcpInfoSource { fd })
    }

    #[cfg(target_os = "linux")]
    pub fn sample(&self) -> Option<TcpInfo> {
        use std::mem::{offset_of, size_of};
        let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
        let mut len = size_of::<libc::tcp_info>() as libc::socklen_t;
        // SAFETY: `info` is a valid, writable tcp_info and `len` its size; the
        // kernel writes at most `len` bytes and reports how many it wrote.
        let rc = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::IPPROTO_TCP,
                libc::TCP_INFO,
                &mut info as *mut _ as *mut libc::c_void,
                &mut len,
            )
        };
        if rc != 0 {
            return None;
        }
        let len = len as usize;
        let has = |off: usize, sz: usize| off + sz <= len;
        macro_rules! field {
            ($f:ident, $t:ty) => {
                has(offset_of!(libc::tcp_info, $f), size_of::<$t>()).then_some(info.$f)
            };
        }
        Some(TcpInfo {
            rtt_us: field!(tcpi_rtt, u32),
            min_rtt_us: field!(tcpi_min_rtt, u32),
            rcv_rtt_us: field!(tcpi_rcv_rtt, u32),
            total_retrans: field!(tcpi_total_retrans, u32),
            rcv_ooopack: field!(tcpi_rcv_ooopack, u32),
            bytes_received: field!(tcpi_bytes_received, u64),
            bytes_acked: field!(tcpi_bytes_acked, u64),
        })
    }

    #[cfg(not(target_os = "linux"))]
    pub fn sample(&self) -> Option<TcpInfo> {
        let _ = self.fd.as_raw_fd();
        None
    }

    /// Bytes written to the socket and not yet acknowledged by the peer
    /// (SIOCOUTQ: unsent plus unacknowledged). 0 means everything written
    /// has arrived: an upload is over from the sender's side.
    #[cfg(target_os = "linux")]
    pub fn send_queue(&self) -> Option<u64> {
        let mut queued: libc::c_int = 0;
        // SAFETY: TIOCOUTQ (SIOCOUTQ) writes one int for a valid socket fd.
        let rc = unsafe { libc::ioctl(self.fd.as_raw_fd(), libc::TIOCOUTQ, &mut queued) };
        (rc == 0 && queued >= 0).then_some(queued as u64)
    }

    #[cfg(not(target_os = "linux"))]
    pub fn send_queue(&self) -> Option<u64> {
        let _ = self.fd.as_raw_fd();
        None
    }
}
