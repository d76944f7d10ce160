//! The lab origin: `slowlane serve`'s server with the lab's certificate.
//!
//! One implementation serves both the reflector a researcher deploys and the
//! origin behind the lab middlebox ([`crate::serve::Server`]): synthetic,
//! incompressible bodies in small frames over HTTPS (h2 and http/1.1 by
//! ALPN) or plain HTTP, uploads measured and answered by the server. The lab
//! keeps its own paths (`/text/{N}`, `/api/{N}`, `/image/{N}.jpg`,
//! `/video/{N}.mp4`, see [`route`]) alongside the reflector's, and runs
//! without a request log or per-client rate limit.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::ServerConfig;
use tokio::net::TcpListener;

use crate::serve::{Limits, Server};

pub use crate::serve::routes::lab_path as route;

/// Limits that keep a misbehaving client from exhausting the machine.
#[derive(Debug, Clone)]
pub struct OriginLimits {
    /// Largest body `/text/<n>` etc. will serve.
    pub max_body: u64,
    /// Largest upload `POST /upload` will read.
    pub max_upload: u64,
    /// Connections served at once; further ones are closed at accept.
    pub max_conns: usize,
    /// TLS handshake (and request head) deadline.
    pub handshake_timeout: Duration,
    /// Lifetime of one connection, however busy.
    pub max_conn_time: Duration,
}

impl Default for OriginLimits {
    fn default() -> Self {
        OriginLimits {
            max_body: 1 << 30,
            max_upload: 256 << 20,
            max_conns: 256,
            handshake_timeout: Duration::from_secs(10),
            max_conn_time: Duration::from_secs(600),
        }
    }
}

impl OriginLimits {
    /// The server's limits: one size limit for bodies and uploads (the
    /// larger of the two), no per-client rate limit.
    fn server(&self) -> Limits {
        Limits {
            max_conns: self.max_conns,
            max_bytes: self.max_body.max(self.max_upload),
            per_minute: 0,
            header_timeout: self.handshake_timeout,
            max_conn_time: self.max_conn_time,
            ..Limits::default()
        }
    }
}

/// A running origin listener; stops (with its connections) when dropped.
pub struct OriginServer {
    server: Server,
}

impl OriginServer {
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// Serves HTTPS on `listener` with `tls` (which should offer h2 and
    /// http/1.1 in ALPN).
    pub fn https(listener: TcpListener, tls: Arc<ServerConfig>, limits: OriginLimits) -> Self {
        Self::spawn(listener, Some(tls), limits)
    }

    /// Also answer HTTP/3 on the UDP port of the same number.
    pub fn add_h3(&mut self, tls: &ServerConfig) -> anyhow::Result<()> {
        self.server.add_h3(tls)
    }

    /// Serves plain HTTP/1.1 on `listener`.
    pub fn http(listener: TcpListener, limits: OriginLimits) -> Self {
        Self::spawn(listener, None, limits)
    }

    fn spawn(listener: TcpListener, tls: Option<Arc<ServerConfig>>, limits: OriginLimits) -> Self {
        let server = Server::spawn(listener, tls, limits.server(), None, None)
            .expect("a bound listener has an address");
        OriginServer { server }
    }
}

#[cfg(test)]
mod tests {
    use super::route;

    #[test]
    fn lab_paths() {
        assert_eq!(route("/image/600000.jpg"), Some(("image/jpeg", 600_000)));
        assert_eq!(route("/text/30000").map(|r| r.1), Some(30_000));
        assert_eq!(route("/video/8.mp3"), None);
        assert_eq!(route("/etc/passwd"), None);
    }
}
