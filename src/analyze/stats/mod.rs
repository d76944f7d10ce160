//! Pure math of the verdicts, knowing nothing of rows: rank tests
//! ([`ranks`]), the bootstrap ([`bootstrap`]), FDR, intervals and the
//! signed-rank and Fisher tests ([`inference`]), exact decimal formatting
//! ([`decimal`]), the effect-size and absence bounds ([`evidence`]), and
//! anytime-valid e-values for campaigns that stop when decided ([`sequential`]). [`percentile`]/[`median`] on sorted slices (linear
//! interpolation, the "type 7" definition R, NumPy and DuckDB's
//! `quantile_cont` use) are the crate's one definition, from
//! [`crate::types::stats`], re-exported here.

pub mod bootstrap;
pub mod decimal;
pub mod evidence;
pub mod inference;
pub mod ranks;
pub mod sequential;

pub use crate::types::stats::{median, percentile, sort};
pub use bootstrap::*;
pub use ranks::*;
