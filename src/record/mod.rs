//! Where the result of a fetch is written: `fetches.csv` and `timeline.csv`
//! (one writer thread, [`sink`]), `rounds.csv`, `histograms.csv`,
//! `triggers.csv` and `campaign.json`.
//!
//! The row types themselves ([`crate::types::FetchRecord`],
//! [`crate::types::Window`]) live in the bottom layer, so this module
//! depends on nothing but `types`: not on `probe` (which fills them) nor on
//! `config`.

pub mod histograms;
pub mod lines;
pub mod meta;
pub mod repair;
pub mod rounds;
pub mod sink;
pub mod triggers;
