//! The DPI middlebox: a TCP proxy that classifies each connection by the
//! name in its first bytes and throttles it according to the rules.
//!
//! It sits where a real throttler sits — between client and origin, seeing
//! only the TCP byte stream — and decides once per connection, as the 2021
//! box did (state is per connection; later bytes are not inspected).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use socket2::SockRef;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

use super::inspect::{Inspect, REASSEMBLE_SEGMENTS};
use super::policy::Policy;
use super::relay::{relay, Counters};
use super::rules::{Action, RuleSet};
use super::sniff::Sniff;
use super::AbortOnDrop;

/// Most client bytes read before deciding (only with `reassemble`).
const MAX_SNIFF: usize = 16 * 1024;
/// How long the box waits for a next segment it would inspect (a split
/// hello's parts are [`crate::probe::split::SPLIT_PAUSE`] apart); after it,
/// the decision is made on what came.
const NEXT_SEGMENT_WAIT: Duration = Duration::from_millis(500);
/// Connections remembered by [`Middlebox::connections`].
const LOG_LEN: usize = 1024;

/// How a middlebox is wired and what it enforces.
#[derive(Debug, Clone)]
pub struct MiddleboxConfig {
    pub rules: RuleSet,
    /// Join a ClientHello split across reads/records before classifying.
    /// Off by default, like the real box: a split hello goes unthrottled.
    /// On: `inspect` with its segments and records joined.
    pub reassemble: bool,
    /// What the box inspects before deciding (`testbed::inspect`).
    pub inspect: Inspect,
    /// Where TLS connections go (the origin's HTTPS port).
    pub upstream_tls: SocketAddr,
    /// Where everything else goes (the origin's plain HTTP port).
    pub upstream_plain: SocketAddr,
    pub max_conns: usize,
    /// How long to wait for the first client bytes.
    pub hello_timeout: Duration,
    /// Lifetime of one relayed connection (frozen ones included).
    pub max_conn_time: Duration,
    /// SO_SNDBUF on the client leg of a throttled download, so the kernel
    /// cannot absorb a burst and release it smoothly. (Uploads are bounded
    /// by the receive window instead: see [`LISTEN_RCVBUF`].)
    pub throttled_sockbuf: usize,
}

impl MiddleboxConfig {
    pub fn new(rules: RuleSet, upstream_tls: SocketAddr, upstream_plain: SocketAddr) -> Self {
        MiddleboxConfig {
            rules,
            reassemble: false,
            inspect: Inspect::default(),
            upstream_tls,
            upstream_plain,
            max_conns: 256,
            hello_timeout: Duration::from_secs(10),
            max_conn_time: Duration::from_secs(300),
            throttled_sockbuf: 16 * 1024,
        }
    }
}

/// What the middlebox decided for one connection, and its byte counts.
#[derive(Debug, Clone)]
pub struct ConnLog {
    pub peer: SocketAddr,
    /// SNI or Host seen, if any.
    pub name: Option<String>,
    pub tls: bool,
    /// Index of the rule applied (`None`: no rule, passed untouched).
    pub rule: Option<usize>,
    /// The rule came from per-address state (`sticky`), not the name.
    pub sticky: bool,
    /// Rules whose patterns matched but whose `share` left this connection
    /// to the next matching rule, in order. A partial rule applied to this
    /// connection when `rule` is its index, declined it when it is here.
    pub declined: Vec<usize>,
    pub down: Action,
    pub up: Action,
    /// One-way delay added per direction.
    pub down_delay: Duration,
    pub up_delay: Duration,
    /// Bytes forwarded so far, per direction.
    pub counters: Arc<Counters>,
}

/// A running middlebox; stops (with its connections) when dropped.
pub struct Middlebox {
    addr: SocketAddr,
    log: Arc<Mutex<VecDeque<ConnLog>>>,
    _task: AbortOnDrop,
}

impl Middlebox {
    pub fn start(listener: TcpListener, cfg: MiddleboxConfig) -> Middlebox {
        let addr = listener
            .local_addr()
            .expect("bound listener has an address");
        let log = Arc::new(Mutex::new(VecDeque::new()));
        let policy = Arc::new(Policy::new(cfg.rules.clone()));
        let task = tokio::spawn(accept_loop(listener, Arc::new(cfg), policy, log.clone()));
        Middlebox {
            addr,
            log,
            _task: AbortOnDrop(task),
        }
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The most recent connections (up to 1024), oldest first.
    pub fn connections(&self) -> Vec<ConnLog> {
        self.log
            .lock()
            .map(|l| l.iter().cloned().collect())
            .unwrap_or_default()
    }
}

async fn accept_loop(
    listener: TcpListener,
    cfg: Arc<MiddleboxConfig>,
    policy: Arc<Policy>,
    log: Arc<Mutex<VecDeque<ConnLog>>>,
) {
    let max_conns = cfg.max_conns;
    super::serve_bounded(listener, max_conns, move |client, peer| {
        let (cfg, policy, log) = (cfg.clone(), policy.clone(), log.clone());
        async move { handle(client, peer, &cfg, &policy, &log).await }
    })
    .await
}

async fn handle(
    mut client: TcpStream,
    peer: SocketAddr,
    cfg: &MiddleboxConfig,
    policy: &Policy,
    log: &Mutex<VecDeque<ConnLog>>,
) {
    let _ = client.set_nodelay(true);
    let Some((first, sniffed)) = read_first(&mut client, cfg).await else {
        return;
    };
    let name = sniffed.name().map(str::to_string);
    let server = client.local_addr().unwrap_or(peer);
    let decision = policy.decide_to(name.as_deref(), server);
    let (down, up) = (decision.down.action, decision.up.action);
    if down.is_throttle() {
        let _ = SockRef::from(&client).set_send_buffer_size(cfg.throttled_sockbuf);
    }
    // Every connection starts with the small receive window the listener
    // set (see `listen`); only unthrottled uploads get a normal one back.
    if !up.is_throttle() {
        let _ = SockRef::from(&client).set_recv_buffer_size(1 << 20);
    }
    let counters = Arc::new(Counters::default());
    if let Ok(mut l) = log.lock() {
        if l.len() >= LOG_LEN {
            l.pop_front();
        }
        l.push_back(ConnLog {
            peer,
            name,
            tls: sniffed.is_tls(),
            rule: decision.rule,
            sticky: decision.sticky,
            declined: decision.declined.clone(),
            down,
            up,
            down_delay: decision.down.delay,
            up_delay: decision.up.delay,
            counters: counters.clone(),
        });
    }
    let upstream = if sniffed.is_tls() {
        cfg.upstream_tls
    } else {
        cfg.upstream_plain
    };
    let Ok(Ok(origin)) =
        tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(upstream)).await
    else {
        return;
    };
    let _ = origin.set_nodelay(true);
    relay(
        client,
        origin,
        first,
        &decision.down,
        &decision.up,
        &counters,
        cfg.max_conn_time,
    )
    .await;
}

/// Reads the first client bytes and classifies them as `cfg.inspect`
/// says. A "segment" is one read of at most [`CLIENT_MSS`] bytes — the
/// userspace stand-in for a TCP segment (the client's hello parts are sent
/// [`NEXT_SEGMENT_WAIT`] apart at most). Returns every byte read (to
/// forward; an urgent byte never is: the kernel keeps it out of the
/// stream). `None` when the client sent nothing in time.
async fn read_first(client: &mut TcpStream, cfg: &MiddleboxConfig) -> Option<(Vec<u8>, Sniff)> {
    let insp = if cfg.reassemble {
        Inspect {
            segments: cfg.inspect.segments.max(REASSEMBLE_SEGMENTS),
            join_records: true,
            ..cfg.inspect
        }
    } else {
        cfg.inspect
    };
    let deadline = Instant::now() + cfg.hello_timeout;
    let mut buf = Vec::with_capacity(4096);
    let mut segs: Vec<usize> = Vec::new();
    let mut urgent = None;
    loop {
        let until = if segs.is_empty() {
            deadline
        } else {
            deadline.min(Instant::now() + NEXT_SEGMENT_WAIT)
        };
        if insp.urgent_inline && segs.is_empty() {
            // The kernel drops the urgent byte once a read passes it: take
            // it before the first read, once stream data has come (peek
            // waits for that; `readable` can wake before the urgent mark).
            let mut one = [0u8; 1];
            let _ = tokio::time::timeout_at(until, client.peek(&mut one)).await;
            urgent = urgent_byte(client);
        }
        let before = buf.len();
        buf.resize(before + CLIENT_MSS as usize, 0);
        let read = tokio::time::timeout_at(until, client.read(&mut buf[before..])).await;
        let n = match read {
            Ok(Ok(n)) => n,
            _ => 0,
        };
        buf.truncate(before + n);
        if n > 0 {
            segs.push(n);
        }
        if buf.is_empty() {
            return None;
        }
        let s = insp.classify(&buf, &segs, urgent);
        let retry = matches!(s, Sniff::Incomplete { .. })
            && n > 0
            && segs.len() < insp.segment_limit(&buf, &segs, urgent)
            && buf.len() < MAX_SNIFF;
        if !retry {
            // Still incomplete: the box decides on no name.
            return Some((buf, s));
        }
    }
}

/// The connection's pending urgent byte, if any (non-blocking).
fn urgent_byte(client: &TcpStream) -> Option<u8> {
    let mut b = [std::mem::MaybeUninit::<u8>::uninit(); 1];
    match SockRef::from(client).recv_out_of_band(&mut b) {
        // SAFETY: recv wrote the one byte it reports.
        Ok(1) => Some(unsafe { b[0].assume_init() }),
        _ => None,
    }
}

/// MSS the middlebox announces to clients: an Ethernet-sized segment
/// instead of loopback's 64 KiB. With 64 KiB segments the kernel only reopens
/// a slowly drained receive window in 64 KiB steps (receiver-side silly
/// window avoidance), turning a throttled upload into long zero-window
/// stalls; with 1460 it reopens every few KB, as on a real path.
pub const CLIENT_MSS: u32 = 1460;

/// SO_RCVBUF every client connection starts with (the kernel doubles it).
/// Small enough that the window a throttled upload sees reopens as the
/// relay forwards, a few KB at a time: with 16 KiB the client's acked bytes
/// came in ~30 KB steps with zero-window stalls of 1-2 s (upload rate read
/// at ~50 kbit/s for a 131 kbit/s policer); with 4 KiB they follow the
/// policer's steps (docs/testbed.md).
pub const LISTEN_RCVBUF: usize = 4 * 1024;

/// Binds the middlebox's client-facing listener, announcing [`CLIENT_MSS`].
pub fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let sock = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    sock.set_reuseaddr(true)?;
    let raw = SockRef::from(&sock);
    raw.set_tcp_mss(CLIENT_MSS)?;
    // A small receive window from the SYN on: a throttled upload must not
    // have more in flight than the relay's socket can hold, or the kernel
    // drops what it offered window for and the client backs off for
    // seconds. Raised again per connection for unthrottled uploads.
    raw.set_recv_buffer_size(LISTEN_RCVBUF)?;
    sock.bind(addr)?;
    sock.listen(1024)
}
