//! The knobs every stage of `slowlane analyze` reads.

/// Knobs of `slowlane analyze`.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalyzeOptions {
    /// Throttled needs median target/control ≤ this (Wehe's 0.5).
    pub threshold: f64,
    /// … and a one-sided Mann–Whitney p below this (Wehe's 0.01).
    pub alpha: f64,
    /// … and at least this many measured fetches on each side.
    pub min_n: usize,
    /// Seed of the bootstrap resampling.
    pub seed: u64,
    /// Judge every run alone: the vantage of a row becomes `vantage/run_id`.
    pub by_run: bool,
    /// Decide with anytime-valid inference, because the caller looks after
    /// every round and stops when decided (`until = "decided"`).
    pub sequential: bool,
}

impl Default for AnalyzeOptions {
    fn default() -> Self {
        AnalyzeOptions {
            threshold: 0.5,
            alpha: 0.01,
            min_n: 5,
            seed: 1,
            by_run: false,
            sequential: false,
        }
    }
}
