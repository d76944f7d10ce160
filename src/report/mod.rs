//! What a person reads: the block for one `fetch`, the per-class table after
//! a `run`. Machine-readable output is the CSV written by `record`.

pub mod classes;
pub mod fetch;

/// Human-readable bit rate ("131 kbit/s"): one formatter for every table.
pub use crate::analyze::base::units::fmt_bps;
pub mod html;
