//! `slowlane serve`: the reflector for same-server SNI A/B tests.
//!
//! A researcher runs it on a machine outside the censored network; the
//! probe fetches the *same bytes from the same server* under different TLS
//! names (`[[reflector]]` campaigns), so only the name differs between a
//! throttled and an unthrottled fetch. It answers any SNI with one
//! self-signed certificate that the probe pins (`tls`), serves synthetic
//! data only (`routes`, `body`), measures uploads from its side (`upload`),
//! logs one CSV line per request (`log`) and keeps itself safe to expose
//! (`limits`, and the timeouts here). See `docs/reflector.md`.

mod body;
pub mod h3;
pub mod hello;
pub mod limits;
pub mod log;
pub mod routes;
pub mod tls;
mod upload;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

pub use limits::{Limits, RateLimiter};
use log::RequestLog;
use routes::ConnInfo;

use crate::probe::tcpinfo::TcpInfoSource;
use crate::types::{Pin, Transport};

/// How to run a reflector (the `serve` flags).
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub listen: SocketAddr,
    /// Certificate, key and request log live here.
    pub state: PathBuf,
    /// An existing certificate and key (PEM) instead of the generated one.
    pub cert_key: Option<(PathBuf, PathBuf)>,
    /// Require `Authorization: Bearer <token>`.
    pub token: Option<String>,
    pub limits: Limits,
    /// Request log; default `state/requests.csv`.
    pub log: Option<PathBuf>,
}

/// What every connection shares.
pub struct Shared {
    pub limits: Limits,
    pub token: Option<String>,
    pub rate: RateLimiter,
    /// `None`: no request log (the lab origin).
    pub log: Option<Arc<RequestLog>>,
}

/// A running server on one listener: HTTPS (h2 and http/1.1 by ALPN) with
/// a TLS config, else plain HTTP/1.1. The reflector is one; the lab origin
/// (`testbed::origin`) is another, with the lab's certificate and no log.
/// Dropping it stops it at once; [`Server::shutdown`] is graceful.
pub struct Server {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
    shared: Arc<Shared>,
    /// HTTP/3 on the UDP port of the same number ([`Server::add_h3`]).
    h3: Option<(quinn::Endpoint, tokio::task::JoinHandle<()>)>,
}

impl Server {
    /// Serve on `listener` (must be called inside a tokio runtime).
    pub fn spawn(
        listener: TcpListener,
        tls: Option<Arc<rustls::ServerConfig>>,
        limits: Limits,
        token: Option<String>,
        log: Option<Arc<RequestLog>>,
    ) -> Result<Server> {
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            rate: RateLimiter::new(limits.per_minute),
            limits,
            token: token.filter(|t| !t.is_empty()),
            log,
        });
        let (stop, stop_rx) = watch::channel(false);
        let acceptor = tls.map(TlsAcceptor::from);
        let task = tokio::spawn(accept_loop(listener, acceptor, shared.clone(), stop_rx));
        Ok(Server {
            addr,
            stop,
            task: Some(task),
            shared,
            h3: None,
        })
    }

    /// Also answer HTTP/3 on UDP, same address and port number, with the
    /// same certificate, limits and log.
    pub fn add_h3(&mut self, tls: &rustls::ServerConfig) -> Result<()> {
        let (ep, task) = h3::spawn(self.addr, tls, self.shared.clone(), self.stop.subscribe())?;
        self.h3 = Some((ep, task));
        Ok(())
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stop accepting, let requests in flight finish within the grace
    /// period (`Limits::grace`), then stop everything.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
        if let Some((_, t)) = self.h3.take() {
            let _ = t.await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
        if let Some((ep, t)) = self.h3.take() {
            t.abort();
            ep.close(0u32.into(), b"");
        }
    }
}

/// A running reflector: a [`Server`] with its identity and request log.
pub struct Reflector {
    server: Server,
    pin: Pin,
    cert: PathBuf,
    generated: bool,
    log_path: PathBuf,
}

impl Reflector {
    /// Load or make the certificate, open the log, bind and start serving.
    pub async fn start(cfg: ServeConfig) -> Result<Reflector> {
        let cert_key = cfg
            .cert_key
            .as_ref()
            .map(|(c, k)| (c.as_path(), k.as_path()));
        let id = tls::Identity::load_or_create(&cfg.state, cert_key)?;
        std::fs::create_dir_all(&cfg.state)
            .with_context(|| format!("creating --state {}", cfg.state.display()))?;
        let log_path = cfg
            .log
            .clone()
            .unwrap_or_else(|| cfg.state.join("requests.csv"));
        let log = RequestLog::open(&log_path)?;
        let listener = TcpListener::bind(cfg.listen)
            .await
            .with_context(|| format!("binding {}", cfg.listen))?;
        let tls = id.server_config()?;
        let mut server = Server::spawn(
            listener,
            Some(tls.clone()),
            cfg.limits.clone(),
            cfg.token.clone(),
            Some(log),
        )?;
        server.add_h3(&tls)?;
        Ok(Reflector {
            server,
            pin: id.pin(),
            cert: id.source.clone(),
            generated: id.generated,
            log_path,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// The certificate pin campaigns put in `pin = "…"`.
    pub fn pin(&self) -> Pin {
        self.pin
    }

    /// The start-up message: where it listens, the pin, the files.
    pub fn describe(&self) -> String {
        format!(
            "slowlane serve: listening on {} (TLS, h2 and http/1.1, any SNI; HTTP/3 on UDP)\n  \
             pin         {}\n  certificate {}{}\n  request log {}\n",
            self.local_addr(),
            self.pin,
            self.cert.display(),
            if self.generated {
                " (generated now, self-signed)"
            } else {
                ""
            },
            self.log_path.display()
        )
    }

    /// Stop accepting, let requests in flight finish within the grace
    /// period (`Limits::grace`), then stop everything.
    pub async fn shutdown(self) {
        self.server.shutdown().await
    }
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: Option<TlsAcceptor>,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(shared.limits.max_conns.max(1)));
    let mut conns = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.changed() => break,
        };
        let Ok((tcp, peer)) = accepted else {
            // Out of fds and the like: back off instead of spinning.
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        };
        while conns.try_join_next().is_some() {}
        // Over the connection limit: closed at once rather than queued,
        // so a flood cannot hold the accept queue.
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            let mut e = log::Entry::new(shared.log.clone(), peer.ip());
            e.note = "refused: too many connections".into();
            continue;
        };
        let (acceptor, shared, stop) = (acceptor.clone(), shared.clone(), stop.clone());
        conns.spawn(async move {
            let _permit = permit;
            let life = shared.limits.max_conn_time;
            let _ = tokio::time::timeout(life, serve_conn(tcp, peer, acceptor, shared, stop)).await;
        });
    }
    drop(listener);
    let grace = shared.limits.grace;
    let _ = tokio::time::timeout(grace, async { while conns.join_next().await.is_some() {} }).await;
    // Whatever is left is aborted with the set.
}

/// Resolves once a shutdown was asked for (never if the sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    loop {
        if *stop.borrow_and_update() {
            return;
        }
        if stop.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Serve a hyper connection; on shutdown ask it to finish gracefully.
macro_rules! drive {
    ($conn:expr, $stop:expr) => {{
        let conn = $conn;
        tokio::pin!(conn);
        tokio::select! {
            _ = conn.as_mut() => {}
            _ = stopped(&mut $stop) => {
                conn.as_mut().graceful_shutdown();
                let _ = conn.await;
            }
        }
    }};
}

async fn serve_conn(
    mut tcp: TcpStream,
    peer: SocketAddr,
    acceptor: Option<TlsAcceptor>,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    let _ = tcp.set_nodelay(true);
    let Some(acceptor) = acceptor else {
        // Plain HTTP/1.1 (the lab origin's second port).
        let conn = Arc::new(ConnInfo {
            peer,
            sni: None,
            alpn: String::new(),
            tcp: TcpInfoSource::new(&tcp),
            transport: Transport::Tcp,
        });
        let sh = shared.clone();
        let svc = service_fn(move |req| routes::handle(req, conn.clone(), sh.clone()));
        let mut b = hyper::server::conn::http1::Builder::new();
        b.timer(TokioTimer::new())
            .header_read_timeout(shared.limits.header_timeout)
            .max_buf_size(64 * 1024);
        drive!(b.serve_connection(TokioIo::new(tcp), svc), stop);
        return;
    };
    // Hello and handshake share one deadline: a client trickling its
    // ClientHello (slowloris) is dropped when it passes.
    let deadline = Instant::now() + shared.limits.header_timeout;
    let hello = match hello::read_hello(&mut tcp, deadline).await {
        Ok(h) => h,
        Err(f) => {
            if matches!(f, hello::HelloFail::Timeout) {
                let mut e = log::Entry::new(shared.log.clone(), peer.ip());
                e.note = "dropped: no complete TLS hello in time".into();
            }
            return;
        }
    };
    let info = TcpInfoSource::new(&tcp);
    let io = hello::Prefixed::new(hello.bytes, tcp);
    let Ok(Ok(tls)) = tokio::time::timeout_at(deadline, acceptor.accept(io)).await else {
        return;
    };
    let alpn = tls
        .get_ref()
        .1
        .alpn_protocol()
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .unwrap_or_default();
    let h2 = alpn == "h2";
    let conn = Arc::new(ConnInfo {
        peer,
        sni: hello.sni,
        alpn,
        tcp: info,
        transport: Transport::Tcp,
    });
    let sh = shared.clone();
    let svc = service_fn(move |req| routes::handle(req, conn.clone(), sh.clone()));
    let io = TokioIo::new(tls);
    if h2 {
        let mut b = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
        b.timer(TokioTimer::new())
            .max_concurrent_streams(16)
            .max_header_list_size(16 * 1024)
            .adaptive_window(true);
        drive!(b.serve_connection(io, svc), stop);
    } else {
        let mut b = hyper::server::conn::http1::Builder::new();
        b.timer(TokioTimer::new())
            .header_read_timeout(shared.limits.header_timeout)
            .max_buf_size(64 * 1024);
        drive!(b.serve_connection(io, svc), stop);
    }
}
