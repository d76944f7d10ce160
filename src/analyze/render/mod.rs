//! Writing: `verdicts.csv` and JSON ([`output`]), the text table ([`table`]).

pub mod output;
pub mod table;
