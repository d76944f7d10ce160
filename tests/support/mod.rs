//! The one helper tree of the integration tests (`mod support;` in each).
//!
//! Certificates come from [`slowlane::testbed::Pki`] only: the lab and the
//! in-process test server present the same kind of chain the product does.
//!
//! - [`server`]: an in-process HTTPS server with fault modes (engine, CLI).
//! - [`client`]: a measured HTTP/1.1 client over TLS or TCP (testbed).
//! - [`lab`]: lab startup, scenarios, and the binary or engine pointed at a
//!   lab (`--cacert`/`--connect-to`).
//! - [`engine`]: one fetch spec, one in-process fetch.
//! - [`bin`]: the built binary and a runtime for servers of synchronous tests.
//! - [`unattended`]: a campaign on a test server and whole-file checks.
//! - [`analyze`]: synthetic campaigns for the analyzer.

// Every test binary compiles this whole tree but uses only part of it, so
// unused items are expected here: one allow for the tree, not one per item.
#![allow(dead_code)]

pub mod analyze;
pub mod bin;
pub mod client;
pub mod engine;
pub mod lab;
pub mod server;
pub mod unattended;
