//! Judging, per vantage: controls matched ([`matching`]), control pools
//! prepared ([`ctlpool`]), comparisons ([`kind`], [`compare`]), rows built
//! ([`rows`]), q-values and decisions ([`decide`]), all vantages on all cores
//! ([`vantages`]).

pub mod compare;
pub mod ctlpool;
pub mod decide;
pub mod kind;
pub mod matching;
pub mod rows;
pub mod vantages;
