//! The fetch engine: one measured fetch over a fresh TCP+TLS connection.

pub mod spec;
