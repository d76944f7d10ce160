//! The throttling lab: an origin, a DPI-style throttling middlebox in front of
//! it, and named scenarios — used by tests, `slowlane testbed` and
//! `slowlane demo` to check that slowlane sees throttling where it is and
//! stays quiet where it is not. See `docs/testbed.md`.

pub mod clienthello;
mod demo;
pub mod inspect;
pub mod lab;
pub mod limiter;
pub mod middlebox;
pub mod origin;
mod policy;
mod pump;
mod relay;
pub mod rules;
pub mod scenario;
pub mod sniff;
pub mod tls;
pub mod udp;
pub mod units;

pub use clienthello::{parse_client_hello, ClientHello, HelloError};
pub use demo::{
    demo_campaign, demo_campaign_with, write_demo_campaign, write_demo_campaign_with, DemoRounds,
    DEMO_BUDGET_ROUNDS,
};
pub use inspect::Inspect;
pub use lab::Lab;
pub use middlebox::{ConnLog, Middlebox, MiddleboxConfig};
pub use origin::{OriginLimits, OriginServer};
pub use policy::Deck;
pub use relay::Counters;
pub use rules::{Action, Pattern, Rule, RuleSet, Share};
pub use scenario::Scenario;
pub use tls::Pki;
pub use units::{Rate, Size};

/// Accept connections on `listener` forever, at most `max_conns` served at
/// once (further ones wait in the kernel's accept queue), each handled by
/// `handle` in a task owned here — so aborting the task running this aborts
/// every connection too. Used by the origin and the middlebox alike.
pub(crate) async fn serve_bounded<F, Fut>(
    listener: tokio::net::TcpListener,
    max_conns: usize,
    handle: F,
) where
    F: Fn(tokio::net::TcpStream, std::net::SocketAddr) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let permits = std::sync::Arc::new(tokio::sync::Semaphore::new(max_conns.max(1)));
    let mut conns = tokio::task::JoinSet::new();
    loop {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        let Ok((tcp, peer)) = listener.accept().await else {
            // Out of fds and the like: back off instead of spinning.
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        };
        while conns.try_join_next().is_some() {}
        let conn = handle(tcp, peer);
        conns.spawn(async move {
            let _permit = permit;
            conn.await;
        });
    }
}

/// Aborts a background task when its owner is dropped, so a dropped lab
/// leaves no listener or connection behind.
pub(crate) struct AbortOnDrop(pub(crate) tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
