//! A standalone lab origin serving plain HTTP on one or more addresses, for
//! `scripts/netns-lab` (which runs it inside a network namespace).
//!
//! Usage: `origin ADDR [ADDR…]`, e.g. `origin 198.18.0.2:8080 198.18.0.2:8081`.
//! Runs until killed; prints "listening ADDR" per address once ready.

use slowlane::testbed::{OriginLimits, OriginServer};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let addrs: Vec<std::net::SocketAddr> = std::env::args()
        .skip(1)
        .map(|a| a.parse())
        .collect::<Result<_, _>>()?;
    anyhow::ensure!(!addrs.is_empty(), "usage: origin ADDR [ADDR...]");
    let mut servers = Vec::new();
    for a in addrs {
        let l = tokio::net::TcpListener::bind(a).await?;
        let s = OriginServer::http(l, OriginLimits::default());
        println!("listening {}", s.local_addr());
        servers.push(s);
    }
    tokio::signal::ctrl_c().await?;
    drop(servers);
    Ok(())
}
