//! Reading: `fetches.csv` parsed ([`fastcsv`] → [`row`]) and folded into
//! per-URL series ([`load`]), unusable rows counted ([`badrows`]), and the
//! runs and vantages a dataset pools ([`pooling`]).

pub mod badrows;
pub mod fastcsv;
pub mod load;
pub mod pooling;
pub mod row;
