//! The throttling lab: an origin, a DPI-style throttling middlebox in front of
//! it, and named scenarios — used by tests, `slowlane testbed` and
//! `slowlane demo` to check that slowlane sees throttling where it is and
//! stays quiet where it is not. See `docs/testbed.md`.

pub mod clienthello;
mod demo;
pub mod lab;
pub mod limiter;
pub mod middlebox;
pub mod origin;
mod relay;
pub mod rules;
pub mod scenario;
pub mod sniff;
pub mod tls;
pub mod units;

pub use clienthello::{parse_client_hello, ClientHello, HelloError};
pub use demo::{demo_campaign, write_demo_campaign};
pub use lab::Lab;
pub use middlebox::{ConnLog, Middlebox, MiddleboxConfig};
pub use origin::{OriginLimits, OriginServer};
pub use relay::Counters;
pub use rules::{Action, Pattern, Rule, RuleSet};
pub use scenario::Scenario;
pub use tls::Pki;
pub use units::{Rate, Size};

/// Aborts a background task when its owner is dropped, so a dropped lab
/// leaves no listener or connection behind.
pub(crate) struct AbortOnDrop(pub(crate) tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
