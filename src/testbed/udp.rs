//! The middlebox for QUIC: a UDP relay that reads the SNI from the client's
//! Initial and polices or drops the flow by the same rules as TCP.
//!
//! As Russia's TSPU does since 2023: the Initial's keys derive from its
//! destination connection ID and a public salt (RFC 9001 §5.2), so the relay
//! removes the header protection, decrypts the payload and reads the
//! ClientHello from the CRYPTO frames (`probe::quic::initial`), then decides
//! once per flow (client address). Unlike the TCP relay, this one can drop.
//! `police` and `shape` are a rate limit at `rate` with a FIFO of `burst`
//! (`queue`) bytes: a datagram leaves when the bytes ahead of it have, and
//! one that would overflow the FIFO is dropped, so QUIC's own loss recovery
//! and congestion control react to real losses. (A bare token bucket that
//! drops everything over the rate, with no buffer, drives quinn into
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
    /// Rate `rate` (bytes/s) behind a FIFO of `cap` bytes; `tail`: when
    /// the last admitted byte leaves (a virtual clock).
    Fifo {
        rate: f64,
        cap: f64,
        tail: Instant,
    },
    /// Bytes still allowed through, then nothing.
    Budget(u64),
}

impl Gate {
    fn of(a: Action) -> Gate {
        let bucket = |rate: f64, depth: u64| Gate::Fifo {
            rate,
            // At least two full-size datagrams, or nothing would ever pass.
            cap: (depth as f64).max(2.0 * 1500.0),
            tail: Instant::now(),
        };
        match a {
            Action::Pass => Gate::Pass,
            Action::Blackhole => Gate::Drop,
            Action::Police { rate, burst } => bucket(rate.bytes_per_sec(), burst.0),
            Action::Shape { rate, queue, .. } => bucket(rate.bytes_per_sec(), queue.0),
            Action::FreezeAfter { bytes } | Action::ResetAfter { bytes } => Gate::Budget(bytes.0),
        }
    }

    /// When a datagram of `len` bytes may leave: `None` to drop it.
    fn admit(&mut self, len: usize) -> Option<Instant> {
        let now = Instant::now();
        match self {
            Gate::Pass => Some(now),
            Gate::Drop => None,
            Gate::Budget(left) => {
                let ok = *left >= len as u64;
                *left = left.saturating_sub(len as u64);
                ok.then_some(now)
            }
            Gate::Fifo { rate, cap, tail } => {
                let start = (*tail).max(now);
                let queued = start.duration_since(now).as_secs_f64() * *rate;
                if queued + len as f64 > *cap {
                    return None;
                }
                *tail = start + Duration::from_secs_f64(len as f64 / *rate);
                Some(*tail)
            }
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
                *flow.down.lock().unwrap() = Gate::of(down);
                flow.up = Some(Gate::of(up));
                let mut l = log.lock().unwrap();
                if l.len() >= MAX_FLOWS {
                    l.remove(0);
                }
                l.push(UdpLog { client, sni, rule });
            }
        }
        let at = match flow.up.as_mut() {
            Some(up) => up.admit(d.len()),
            // Still reading a hello that spans Initials: let it through.
            None => Some(Instant::now()),
        };
        if let Some(at) = at {
            let up = flow.upstream.clone();
            send_at(at, d.to_vec(), move |b| async move {
                let _ = up.send(&b).await;
            })
            .await;
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
        let at = gate.lock().unwrap().admit(n);
        if let Some(at) = at {
            let front = front.clone();
            send_at(at, buf[..n].to_vec(), move |b| async move {
                let _ = front.send_to(&b, client).await;
            })
            .await;
        }
    }
}

/// Send now when `at` is now, else from a task that waits until `at`
/// (datagrams of one FIFO leave in order: their times only grow).
async fn send_at<F, Fut>(at: Instant, bytes: Vec<u8>, send: F)
where
    F: FnOnce(Vec<u8>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    if at <= Instant::now() {
        send(bytes).await;
    } else {
        tokio::spawn(async move {
            tokio::time::sleep_until(at.into()).await;
            send(bytes).await;
        });
    }
}
