//! Pure math of the verdicts, knowing nothing of rows: rank tests and the
//! bootstrap ([`ranks`]), FDR, intervals and the signed-rank and Fisher tests
//! ([`inference`]), exact decimal formatting ([`decimal`]).

pub mod decimal;
pub mod inference;
pub mod ranks;

pub use ranks::*;
