//! Aggregation over decided rows: the per-class rows and selective summary
//! ([`summary`], told in [`words`], placed by [`classes`]) and `--group-by` tables ([`groups`]).

pub mod classes;
pub mod groups;
pub mod summary;
pub mod words;
