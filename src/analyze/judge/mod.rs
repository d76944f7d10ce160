//! Judging, per vantage: controls matched ([`matching`]), control pools
//! prepared ([`ctlpool`]), comparisons ([`kind`], [`compare`], the deep-slowdown test [`deep`]), rows built
//! ([`rows`]), q-values and decisions ([`decide`]; `ok` needs evidence of absence:
//! [`absence`]; anytime-valid decisions for campaigns that stop when
//! decided: [`sequential`]), all vantages on all cores
//! ([`vantages`]).

pub mod absence;
pub mod compare;
pub mod ctlpool;
pub mod decide;
pub mod deep;
pub mod kind;
pub mod matching;
pub mod rows;
pub mod sequential;
pub mod vantages;
