//! The whole lab in one handle: origin (HTTPS + HTTP) behind the middlebox,
//! on ephemeral ports, with the CA written where clients can find it.

use std::fmt::Write as _;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use tokio::net::TcpListener;

use super::middlebox::{ConnLog, Middlebox, MiddleboxConfig};
use super::origin::{OriginLimits, OriginServer};
use super::scenario::Scenario;
use super::tls::Pki;
use crate::types::ConnectTo;

/// File name of the CA certificate inside the lab directory.
pub const CA_FILE: &str = "testbed-ca.pem";

/// A running lab. Dropping it stops every server and connection.
pub struct Lab {
    scenario: String,
    pki: Pki,
    ca_path: PathBuf,
    origin_https: OriginServer,
    origin_http: OriginServer,
    middlebox: Middlebox,
    /// The QUIC side of the middlebox, on the UDP port of the same number.
    udp: super::udp::UdpRelay,
}

impl Lab {
    /// Starts origin and middlebox for `scenario`. The middlebox listens on
    /// `listen` (port 0: ephemeral); the origin on ephemeral ports of the same
    /// IP. The CA PEM is written to `dir/testbed-ca.pem` (`dir` is created).
    pub async fn start(scenario: &Scenario, listen: SocketAddr, dir: &Path) -> Result<Lab> {
        let pki = Pki::generate(&scenario.cert_names())?;
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let ca_path = dir.join(CA_FILE);
        pki.write_ca(&ca_path)?;
        let ca_path = ca_path.canonicalize().unwrap_or(ca_path);

        let ip = listen.ip();
        let bind = |port| async move {
            TcpListener::bind(SocketAddr::new(ip, port))
                .await
                .with_context(|| format!("binding {}", SocketAddr::new(ip, port)))
        };
        let limits = OriginLimits::default();
        let tls = pki.server_config()?;
        let mut origin_https = OriginServer::https(bind(0).await?, tls.clone(), limits.clone());
        origin_https.add_h3(&tls)?;
        let origin_http = OriginServer::http(bind(0).await?, limits);
        let mut cfg = MiddleboxConfig::new(
            scenario.rules.clone(),
            origin_https.local_addr(),
            origin_http.local_addr(),
        );
        cfg.reassemble = scenario.reassemble;
        cfg.inspect = scenario.inspect;
        let mb_listener = super::middlebox::listen(SocketAddr::new(ip, listen.port()))
            .with_context(|| format!("binding the middlebox on {listen}"))?;
        let middlebox = Middlebox::start(mb_listener, cfg);
        let udp = super::udp::UdpRelay::start(
            middlebox.local_addr(),
            origin_https.local_addr(),
            scenario.rules.clone(),
        )
        .await
        .with_context(|| format!("binding the UDP relay on {}", middlebox.local_addr()))?;
        Ok(Lab {
            udp,
            scenario: scenario.name.clone(),
            pki,
            ca_path,
            origin_https,
            origin_http,
            middlebox,
        })
    }

    /// Where clients connect: every name, HTTPS or HTTP, goes here.
    pub fn middlebox_addr(&self) -> SocketAddr {
        self.middlebox.local_addr()
    }

    /// The origin's HTTPS port, bypassing the middlebox (a clean path).
    pub fn origin_https_addr(&self) -> SocketAddr {
        self.origin_https.local_addr()
    }

    /// The origin's plain HTTP port, bypassing the middlebox.
    pub fn origin_http_addr(&self) -> SocketAddr {
        self.origin_http.local_addr()
    }

    pub fn ca_path(&self) -> &Path {
        &self.ca_path
    }

    pub fn pki(&self) -> &Pki {
        &self.pki
    }

    /// What the UDP relay decided per QUIC flow (most recent 1024).
    pub fn quic_flows(&self) -> Vec<super::udp::UdpLog> {
        self.udp.flows()
    }

    /// What the middlebox decided per connection (most recent 1024).
    pub fn connections(&self) -> Vec<ConnLog> {
        self.middlebox.connections()
    }

    /// curl-syntax `--connect-to` values sending port 443 and 80 of any host
    /// to the middlebox.
    pub fn connect_to(&self) -> Vec<String> {
        let a = self.middlebox_addr();
        let host = match a.ip() {
            IpAddr::V6(v6) => format!("[{v6}]"),
            IpAddr::V4(v4) => v4.to_string(),
        };
        vec![
            format!(":443:{host}:{}", a.port()),
            format!(":80:{host}:{}", a.port()),
        ]
    }

    /// The same overrides as engine option values.
    pub fn connect_to_specs(&self) -> Vec<ConnectTo> {
        let a = self.middlebox_addr();
        [443, 80]
            .into_iter()
            .map(|p| ConnectTo {
                from_host: String::new(),
                from_port: Some(p),
                to_host: a.ip().to_string(),
                to_port: a.port(),
            })
            .collect()
    }

    /// A human-readable summary: ports, CA, and how to point clients here.
    pub fn describe(&self) -> String {
        let mb = self.middlebox_addr();
        let ct = self.connect_to();
        let mut s = String::new();
        let _ = writeln!(s, "slowlane testbed: scenario {}", self.scenario);
        let _ = writeln!(
            s,
            "  middlebox     {mb}  (TLS by SNI, HTTP by Host; every name)"
        );
        let _ = writeln!(
            s,
            "  udp relay     {mb}  (QUIC by the SNI in the decrypted Initial; --http3)"
        );
        let _ = writeln!(
            s,
            "  origin https  {}  (unthrottled, bypasses the middlebox)",
            self.origin_https_addr()
        );
        let _ = writeln!(s, "  origin http   {}", self.origin_http_addr());
        let _ = writeln!(s, "  CA            {}", self.ca_path.display());
        let _ = writeln!(s, "slowlane flags:");
        let _ = writeln!(
            s,
            "  --cacert {} --connect-to {} --connect-to {}",
            self.ca_path.display(),
            ct[0],
            ct[1]
        );
        let _ = writeln!(s, "campaign [defaults]:");
        let _ = writeln!(
            s,
            "  cacert = [{}]",
            toml_str(&self.ca_path.display().to_string())
        );
        let _ = writeln!(
            s,
            "  connect_to = [{}, {}]",
            toml_str(&ct[0]),
            toml_str(&ct[1])
        );
        let _ = writeln!(
            s,
            "curl (the port is the middlebox's, so --resolve needs the URL port):"
        );
        let host = if mb.is_ipv6() {
            format!("[{}]", mb.ip())
        } else {
            mb.ip().to_string()
        };
        let _ = writeln!(
            s,
            "  curl --cacert {} --connect-to ::{host}:{} https://pbs.twimg.com/image/600000.jpg -o /dev/null",
            self.ca_path.display(),
            mb.port()
        );
        let _ = writeln!(
            s,
            "  curl --cacert {} --resolve pbs.twimg.com:{}:{} https://pbs.twimg.com:{}/image/600000.jpg -o /dev/null",
            self.ca_path.display(),
            mb.port(),
            mb.ip(),
            mb.port()
        );
        s
    }

    /// Serves until `shutdown` resolves, then stops everything.
    pub async fn run_until<F: Future>(self, shutdown: F) -> F::Output {
        let out = shutdown.await;
        drop(self);
        out
    }
}

/// A TOML basic string literal.
pub(crate) fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}
