//! slowlane: a network-throttling measurement probe.
//!
//! The modules follow the pipeline a measurement goes through:
//! `config → plan → probe → record → analyze → report`, with `run` driving a
//! campaign through it and `testbed` providing the throttling lab used by tests
//! and `slowlane demo`. One result type, [`types::FetchRecord`], flows one way:
//! the probe produces it, the recorder writes it, analysis reads it back.
//! [`types`] is the bottom layer every stage may use (names, the fetch spec
//! and record, the one median); it uses none of them.

pub mod analyze;
pub mod app;
pub mod cli;
pub mod config;
pub mod fetch_exit;
#[doc(hidden)]
pub mod fuzzing;
pub mod plan;
pub mod plateau;
pub mod probe;
pub mod record;
pub mod report;
pub mod run;
pub mod serve;
pub mod stdout;
pub mod testbed;
pub mod trigger;
pub mod types;
