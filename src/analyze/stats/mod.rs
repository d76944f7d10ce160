//! Pure math of the verdicts, knowing nothing of rows: rank tests
//! ([`ranks`]), the bootstrap ([`bootstrap`]), FDR, intervals and the
//! signed-rank and Fisher tests ([`inference`]), exact decimal formatting
//! ([`decimal`]). [`percentile`]/[`median`] on sorted slices (linear
//! interpolation, the "type 7" definition R, NumPy and DuckDB's
//! `quantile_cont` use) are the crate's one definition, from
//! [`crate::types::stats`], re-exported here.

pub mod bootstrap;
pub mod decimal;
pub mod inference;
pub mod ranks;

pub use crate::types::stats::{median, percentile, sort};
pub use bootstrap::*;
pub use ranks::*;
