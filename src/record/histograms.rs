//! (stub) Per-class HdrHistograms kept during a run.
