//! HTTP/3 on the UDP port of the same number: the same routes, certificate
//! (so the same pin), limits and request log as the TCP listener, with
//! `transport = quic` in the log.
//!
//! quinn accepts, h3 parses; each request becomes an `http::Request` whose
//! body streams the request stream's DATA, handed to `routes::handle`
//! unchanged, and the answer's body is written frame by frame. The QUIC
//! server keeps no state across connections (no tickets, no 0-RTT, no
//! address-validation tokens that would resume anything).

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use anyhow::{Context as _, Result};
use bytes::{Buf, Bytes};
use http::Request;
use http_body::{Body, Frame};
use http_body_util::BodyExt;
use quinn::crypto::rustls::QuicServerConfig;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use super::routes::{self, ConnInfo};
use super::Shared;
use crate::types::Transport;

type RecvHalf = h3::server::RequestStream<h3_quinn::RecvStream, Bytes>;

/// A request body read from an HTTP/3 request stream.
/// The request body; `.1` is true once it has been read to its end.
struct H3Body(RecvHalf, bool);

impl Drop for H3Body {
    /// A route that answers without reading the whole request (a GET whose
    /// FIN has not arrived yet) stops the stream with H3_NO_ERROR, as RFC 9114
    /// §4.1 says; quinn's own drop would send code 0, which a client cannot
    /// tell from an abort.
    fn drop(&mut self) {
        if !self.1 {
            self.0.stop_sending(h3::error::Code::H3_NO_ERROR);
        }
    }
}

impl Body for H3Body {
    type Data = Bytes;
    type Error = h3::error::StreamError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match self.0.poll_recv_data(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(None)) => {
                self.1 = true;
                Poll::Ready(None)
            }
            Poll::Ready(Ok(Some(mut b))) => {
                let n = b.remaining();
                Poll::Ready(Some(Ok(Frame::data(b.copy_to_bytes(n)))))
            }
            Poll::Ready(Err(e)) => {
                self.1 = true;
                Poll::Ready(Some(Err(e)))
            }
        }
    }
}

/// The QUIC server config of a TLS server config: same certificate, ALPN
/// `h3`, no early data.
pub fn quic_config(tls: &rustls::ServerConfig) -> Result<quinn::ServerConfig> {
    let mut tls = tls.clone();
    tls.alpn_protocols = vec![b"h3".to_vec()];
    tls.max_early_data_size = 0;
    // Records are a TCP notion; QUIC frames the handshake itself.
    tls.max_fragment_size = None;
    let crypto = QuicServerConfig::try_from(Arc::new(tls)).context("TLS config for QUIC")?;
    let mut cfg = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    let mut t = quinn::TransportConfig::default();
    t.max_concurrent_bidi_streams(16u32.into());
    t.stream_receive_window(quinn::VarInt::from_u32(16 << 20));
    t.receive_window(quinn::VarInt::from_u32(32 << 20));
    t.send_window(32 << 20);
    cfg.transport_config(Arc::new(t));
    Ok(cfg)
}

/// Bind the UDP socket and start answering HTTP/3 on it.
pub fn spawn(
    addr: SocketAddr,
    tls: &rustls::ServerConfig,
    shared: Arc<Shared>,
    stop: watch::Receiver<bool>,
) -> Result<(quinn::Endpoint, tokio::task::JoinHandle<()>)> {
    let cfg = quic_config(tls)?;
    let sock = std::net::UdpSocket::bind(addr).with_context(|| format!("binding UDP {addr}"))?;
    let endpoint = quinn::Endpoint::new(
        quinn::EndpointConfig::default(),
        Some(cfg),
        sock,
        Arc::new(quinn::TokioRuntime),
    )?;
    let task = tokio::spawn(accept_loop(endpoint.clone(), shared, stop));
    Ok((endpoint, task))
}

async fn accept_loop(
    endpoint: quinn::Endpoint,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(shared.limits.max_conns.max(1)));
    let mut conns = JoinSet::new();
    loop {
        let incoming = tokio::select! {
            i = endpoint.accept() => i,
            _ = stop.changed() => break,
        };
        let Some(incoming) = incoming else { break };
        while conns.try_join_next().is_some() {}
        let peer = incoming.remote_address();
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            let mut e = super::log::Entry::new(shared.log.clone(), peer.ip());
            e.transport = Transport::Quic;
            e.note = "refused: too many connections".into();
            incoming.refuse();
            continue;
        };
        let shared = shared.clone();
        conns.spawn(async move {
            let _permit = permit;
            let life = shared.limits.max_conn_time;
            let _ = tokio::time::timeout(life, serve_conn(incoming, peer, shared)).await;
        });
    }
    let grace = shared.limits.grace;
    let _ = tokio::time::timeout(grace, async { while conns.join_next().await.is_some() {} }).await;
    endpoint.close(0u32.into(), b"");
}

async fn serve_conn(incoming: quinn::Incoming, peer: SocketAddr, shared: Arc<Shared>) {
    let hs = tokio::time::timeout(shared.limits.header_timeout, async {
        incoming.accept().ok()?.await.ok()
    });
    let Ok(Some(conn)) = hs.await else { return };
    let sni = conn
        .handshake_data()
        .and_then(|d| d.downcast::<quinn::crypto::rustls::HandshakeData>().ok())
        .and_then(|d| d.server_name);
    let info = Arc::new(ConnInfo {
        peer,
        sni,
        alpn: "h3".into(),
        tcp: None,
        transport: Transport::Quic,
    });
    let Ok(mut h3c) =
        h3::server::Connection::<_, Bytes>::new(h3_quinn::Connection::new(conn)).await
    else {
        return;
    };
    let mut reqs = JoinSet::new();
    while let Ok(Some(resolver)) = h3c.accept().await {
        let (info, shared) = (info.clone(), shared.clone());
        reqs.spawn(async move {
            let Ok((req, stream)) = resolver.resolve_request().await else {
                return;
            };
            let _ = answer(req, stream, info, shared).await;
        });
        while reqs.try_join_next().is_some() {}
    }
    while reqs.join_next().await.is_some() {}
}

async fn answer(
    req: Request<()>,
    stream: h3::server::RequestStream<h3_quinn::BidiStream<Bytes>, Bytes>,
    info: Arc<ConnInfo>,
    shared: Arc<Shared>,
) -> Result<(), h3::error::StreamError> {
    let (mut tx, rx) = stream.split();
    let (parts, ()) = req.into_parts();
    let req = Request::from_parts(parts, H3Body(rx, false));
    let resp = routes::handle(req, info, shared)
        .await
        .unwrap_or_else(|e| match e {});
    let (parts, mut body) = resp.into_parts();
    tx.send_response(http::Response::from_parts(parts, ()))
        .await?;
    while let Some(Ok(frame)) = body.frame().await {
        if let Ok(data) = frame.into_data() {
            tx.send_data(data).await?;
        }
    }
    tx.finish().await
}
