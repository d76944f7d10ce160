//! The middlebox for QUIC: a UDP relay that reads the SNI from the client's
//! Initial and polices or drops the flow by the same rules as TCP.
//!
//! As Russia's TSPU does since 2023: the Initial's keys derive from its
//! destination connection ID and a public salt (RFC 9001 §5.2), so the relay
//! removes the header protection, decrypts the payload and reads the
//! ClientHello from the CRYPTO frames (`probe::quic::initial`), then decides
//! once per flow (client address). Unlike the TCP relay, this one can drop.
//! `police` and `shape` are a link at `rate` behind a FIFO of `burst`
//! (`queue`) bytes that drops at its head, like Linux's `pfifo_head_drop`:
//! a datagram that does not fit pushes the oldest waiting ones out, so
//! QUIC's own loss recovery and congestion control react to real losses,
//! and at once (see [`Fifo`] for why not drop-tail). (A bare token bucket
//! that drops everything over the rate, with no buffer, drives quinn into
//! repeated timeouts at a fraction of the rate — no real policer sits on a
//! path without some buffer before it.) `blackhole` drops every datagram of
//! the flow (the QUIC block that OONI reports as a handshake timeout);
//! `freeze_after`/`reset_after` forward that many bytes then drop the rest
//! (UDP has no RST). Delays are not applied to UDP.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::task::JoinHandle;

use super::clienthello::parse_client_hello;
use super::rules::{Action, RuleSet};
use crate::probe::quic::initial::HelloAssembler;
use crate::types::Transport;

/// Flows a relay keeps at once; the oldest is forgotten beyond this.
const MAX_FLOWS: usize = 1024;

/// What one direction of a flow may still send.
#[derive(Debug)]
enum Gate {
    Pass,
    Drop,
    /// A rate limit behind a FIFO that drops at its head (see [`Fifo`]).
    Fifo(Arc<Fifo>),
    /// Bytes still allowed through, then nothing.
    Budget(u64),
}

/// What a gate does with one datagram.
enum Admit {
    Now,
    /// Taken by the gate's FIFO; its own task sends it.
    Queued,
    Dropped,
}

impl Gate {
    /// The gate for action `a`; a rate limit's FIFO sends to `sink`.
    fn of(a: Action, sink: Sink) -> Gate {
        let fifo = |rate: f64, depth: u64| Gate::Fifo(Fifo::start(rate, depth, sink));
        match a {
            Action::Pass => Gate::Pass,
            Action::Blackhole => Gate::Drop,
            Action::Police { rate, burst } => fifo(rate.bytes_per_sec(), burst.0),
            Action::Shape { rate, queue, .. } => fifo(rate.bytes_per_sec(), queue.0),
            Action::FreezeAfter { bytes } | Action::ResetAfter { bytes } => Gate::Budget(bytes.0),
        }
    }

    fn admit(&mut self, d: &[u8]) -> Admit {
        match self {
            Gate::Pass => Admit::Now,
            Gate::Drop => Admit::Dropped,
            Gate::Budget(left) => {
                let ok = *left >= d.len() as u64;
                *left = left.saturating_sub(d.len() as u64);
                if ok {
                    Admit::Now
                } else {
                    Admit::Dropped
                }
            }
            Gate::Fifo(f) => {
                f.push(d);
                Admit::Queued
            }
        }
    }
}

/// Where a gate's datagrams go.
#[derive(Debug, Clone)]
enum Sink {
    /// To the client, from the relay's front socket.
    Client(Arc<UdpSocket>, SocketAddr),
    /// To the origin, on the flow's own upstream socket.
    Origin(Arc<UdpSocket>),
}

impl Sink {
    async fn send(&self, b: &[u8]) {
        let _ = match self {
            Sink::Client(s, to) => s.send_to(b, *to).await,
            Sink::Origin(s) => s.send(b).await,
        };
    }
}

/// A link of `rate` bytes/s behind a FIFO of `cap` bytes that drops at its
/// head: a datagram that does not fit pushes the *oldest* waiting ones out.
///
/// Why not drop-tail: quinn's slow start exits only on a loss, and over a
/// drop-tail FIFO of 32 KiB at 512 kbit/s (0.5 s of queue on a path with no
/// other delay) the loss shows only a queue later, when the datagrams sent
/// after it arrive. Slow start kept doubling for that half second, ~40
/// datagrams were dropped over the next 2 s, and every recovery round held
/// the stream's in-order delivery (head-of-line) for a queue delay while
/// later datagrams waited in quinn: the 4 s lab fetch's body arrived as a
/// staircase of three steps and its plateau read 434–568 kbit/s. Dropped
/// at the head, the gap is seen by the very next datagram: 2–6 drops per
/// fetch, one or two stalls, plateaus within 2% of each other.
#[derive(Debug)]
struct Fifo {
    rate: f64,
    cap: usize,
    q: Mutex<FifoQueue>,
    wake: Arc<tokio::sync::Notify>,
    task: Mutex<Option<JoinHandle<()>>>,
}

#[derive(Debug, Default)]
struct FifoQueue {
    /// Datagrams waiting for the link (not the one on it), and their bytes.
    waiting: std::collections::VecDeque<Vec<u8>>,
    bytes: usize,
    dropped: u64,
}

impl Drop for Fifo {
    fn drop(&mut self) {
        if let Some(t) = self.task.lock().unwrap().take() {
            t.abort();
        }
    }
}

impl Fifo {
    fn start(rate: f64, depth: u64, sink: Sink) -> Arc<Fifo> {
        let f = Arc::new(Fifo {
            rate,
            // At least two full-size datagrams, or nothing would ever pass.
            cap: (depth as usize).max(2 * 1500),
            q: Mutex::new(FifoQueue::default()),
            wake: Arc::new(tokio::sync::Notify::new()),
            task: Mutex::new(None),
        });
        // The task holds only a weak reference: the flow's end (dropping
        // its gate) ends the task.
        let task = tokio::spawn(Fifo::transmit(Arc::downgrade(&f), f.wake.clone(), sink));
        *f.task.lock().unwrap() = Some(task);
        f
    }

    #[cfg(test)]
    fn dropped(&self) -> u64 {
        self.q.lock().unwrap().dropped
    }

    fn push(&self, d: &[u8]) {
        let mut q = self.q.lock().unwrap();
        while q.bytes + d.len() > self.cap {
            let Some(old) = q.waiting.pop_front() else {
                break;
            };
            q.bytes -= old.len();
            q.dropped += 1;
        }
        if q.bytes + d.len() <= self.cap {
            q.bytes += d.len();
            q.waiting.push_back(d.to_vec());
        } else {
            q.dropped += 1;
        }
        drop(q);
        self.wake.notify_one();
    }

    /// The link: takes the head datagram, holds it for its transmission
    /// time (`len / rate` after the previous one finished, on a virtual
    /// clock so a late timer is made up for), then sends it.
    async fn transmit(f: std::sync::Weak<Fifo>, wake: Arc<tokio::sync::Notify>, sink: Sink) {
        let mut free = Instant::now();
        loop {
            let Some(fifo) = f.upgrade() else { return };
            let next = {
                let mut q = fifo.q.lock().unwrap();
                let d = q.waiting.pop_front();
                if let Some(d) = &d {
                    q.bytes -= d.len();
                }
                d
            };
            let Some(d) = next else {
                drop(fifo);
                wake.notified().await;
                // Idle until now: the link's clock restarts.
                free = free.max(Instant::now());
                continue;
            };
            let rate = fifo.rate;
            drop(fifo);
            free += Duration::from_secs_f64(d.len() as f64 / rate);
            tokio::time::sleep_until(free.into()).await;
            sink.send(&d).await;
        }
    }
}

/// One client's flow through the relay.
struct Flow {
    upstream: Arc<UdpSocket>,
    hello: HelloAssembler,
    /// Client → origin; set once the SNI was read (or seen to be absent).
    up: Option<Gate>,
    /// Origin → client, shared with the flow's downstream task (passes
    /// until the decision: the server speaks only after the hello anyway).
    down: Arc<Mutex<Gate>>,
    task: JoinHandle<()>,
}

impl Drop for Flow {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What the relay decided per flow, for tests and the lab's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpLog {
    pub client: SocketAddr,
    pub sni: Option<String>,
    pub rule: Option<usize>,
}

/// A running UDP relay; stops when dropped.
pub struct UdpRelay {
    addr: SocketAddr,
    task: JoinHandle<()>,
    log: Arc<Mutex<Vec<UdpLog>>>,
}

impl Drop for UdpRelay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl UdpRelay {
    /// Relay datagrams arriving on `listen` to `upstream` by `rules`.
    pub async fn start(
        listen: SocketAddr,
        upstream: SocketAddr,
        rules: RuleSet,
    ) -> std::io::Result<UdpRelay> {
        let front = Arc::new(UdpSocket::bind(listen).await?);
        let addr = front.local_addr()?;
        let log = Arc::new(Mutex::new(Vec::new()));
        let task = tokio::spawn(run(front, upstream, rules, log.clone()));
        Ok(UdpRelay { addr, task, log })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The flows decided so far (most recent [`MAX_FLOWS`]).
    pub fn flows(&self) -> Vec<UdpLog> {
        self.log.lock().unwrap().clone()
    }
}

async fn run(
    front: Arc<UdpSocket>,
    upstream: SocketAddr,
    rules: RuleSet,
    log: Arc<Mutex<Vec<UdpLog>>>,
) {
    let mut flows: HashMap<SocketAddr, Flow> = HashMap::new();
    let mut order: Vec<SocketAddr> = Vec::new();
    let mut buf = vec![0u8; 65536];
    loop {
        let Ok((n, client)) = front.recv_from(&mut buf).await else {
            continue; // an ICMP error from a client that left
        };
        let d = &buf[..n];
        if !flows.contains_key(&client) {
            let Ok(up) = open_upstream(upstream).await else {
                continue;
            };
            if order.len() >= MAX_FLOWS {
                flows.remove(&order.remove(0));
            }
            order.push(client);
            let down = Arc::new(Mutex::new(Gate::Pass));
            let task = tokio::spawn(downstream(up.clone(), front.clone(), client, down.clone()));
            flows.insert(
                client,
                Flow {
                    upstream: up,
                    hello: HelloAssembler::default(),
                    up: None,
                    down,
                    task,
                },
            );
        }
        let flow = flows.get_mut(&client).expect("present");
        if flow.up.is_none() {
            flow.hello.push(d);
            let record = flow.hello.hello_record();
            // Decide on the whole hello; a flow whose first datagram is no
            // Initial at all (not QUIC v1) is decided by "no name".
            if record.is_some() || flow.hello.packets == 0 {
                let sni = record
                    .and_then(|r| parse_client_hello(&r, true).ok())
                    .and_then(|h| h.sni);
                let rule = rules.find_over(sni.as_deref(), Transport::Quic);
                let (down, up) = rules.actions_over(sni.as_deref(), Transport::Quic);
                *flow.down.lock().unwrap() = Gate::of(down, Sink::Client(front.clone(), client));
                flow.up = Some(Gate::of(up, Sink::Origin(flow.upstream.clone())));
                let mut l = log.lock().unwrap();
                if l.len() >= MAX_FLOWS {
                    l.remove(0);
                }
                l.push(UdpLog { client, sni, rule });
            }
        }
        let now = match flow.up.as_mut() {
            Some(up) => matches!(up.admit(d), Admit::Now),
            // Still reading a hello that spans Initials: let it through.
            None => true,
        };
        if now {
            let _ = flow.upstream.send(d).await;
        }
    }
}

async fn open_upstream(upstream: SocketAddr) -> std::io::Result<Arc<UdpSocket>> {
    let local: SocketAddr = if upstream.is_ipv4() {
        "0.0.0.0:0".parse().expect("valid")
    } else {
        "[::]:0".parse().expect("valid")
    };
    let s = UdpSocket::bind(local).await?;
    s.connect(upstream).await?;
    Ok(Arc::new(s))
}

/// Origin → client for one flow, through its down gate.
async fn downstream(
    up: Arc<UdpSocket>,
    front: Arc<UdpSocket>,
    client: SocketAddr,
    gate: Arc<Mutex<Gate>>,
) {
    let mut buf = vec![0u8; 65536];
    loop {
        let Ok(n) = up.recv(&mut buf).await else {
            continue;
        };
        let now = matches!(gate.lock().unwrap().admit(&buf[..n]), Admit::Now);
        if now {
            let _ = front.send_to(&buf[..n], client).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_fifo_drops_its_oldest_datagrams_and_keeps_order() {
        let rx = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        tx.connect(rx.local_addr().unwrap()).await.unwrap();
        // 100 kB/s behind 3000 bytes: three 1000-byte datagrams fit.
        let f = Fifo::start(100_000.0, 3000, Sink::Origin(Arc::new(tx)));
        // Five at once (the link's task has not run yet on this
        // single-threaded runtime): the two oldest are pushed out.
        for tag in 0u8..5 {
            f.push(&[tag; 1000]);
        }
        assert_eq!(f.dropped(), 2);
        let mut got = Vec::new();
        let mut buf = [0u8; 2000];
        for _ in 0..3 {
            let n = tokio::time::timeout(Duration::from_secs(5), rx.recv(&mut buf))
                .await
                .expect("the link sends what it kept")
                .unwrap();
            assert_eq!(n, 1000);
            got.push(buf[0]);
        }
        assert_eq!(got, [2, 3, 4]);
        // Room again once the link has sent them: nothing more is dropped.
        f.push(&[5; 1000]);
        let n = rx.recv(&mut buf).await.unwrap();
        assert_eq!((n, buf[0], f.dropped()), (1000, 5, 2));
    }
}
