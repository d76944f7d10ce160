//! The bottom layer of `analyze`: what every stage shares and that has no
//! logic of its own.

pub mod options;
pub mod serial;
pub mod units;
pub mod verdict;

pub use options::AnalyzeOptions;
