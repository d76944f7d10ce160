//! Reading: `fetches.csv` parsed ([`fastcsv`] → [`row`]) and folded into
//! per-URL series ([`load`]), unusable rows counted ([`badrows`]), and the
//! runs and vantages a dataset pools ([`pooling`]); where each vantage's
//! rows are in the files, for reading a few vantages at a time ([`vindex`]);
//! the paths given on the
//! command line, a results tree walked for its `fetches.csv` files ([`paths`]).

pub mod badrows;
pub mod fastcsv;
pub mod load;
pub mod partial;
pub mod paths;
pub mod pooling;
pub mod row;
pub mod vindex;
