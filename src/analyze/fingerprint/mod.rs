//! Fingerprints of throttled, partial and blocked rows: timeline windows
//! read ([`timeline`]), one fetch's plateau, burst and mechanism
//! ([`print`]), a row's from its fetches' ([`mechanism`]).

pub mod mechanism;
pub mod print;
pub mod timeline;
