//! Each vantage's class rows, written into the slots the judging left for
//! them, with the vantage's run count and one-sentence summary.

use super::summary::{class_rows, selective_summary};
use crate::analyze::base::verdict::Verdict;
use crate::analyze::judge::vantages::{row_key, Span};

/// Fill the class rows of every vantage (`runs`: its run count, in the
/// order of `spans`).
pub fn fill_class_rows(out: &mut [Verdict], spans: Vec<Span>, runs: Vec<usize>) {
    for (span, runs) in spans.into_iter().zip(runs) {
        // Class rows come last in a vantage (Scope::Class sorts last).
        let rows = span.start..span.start + span.rows;
        let mut classes = class_rows(&out[rows.clone()]);
        assert_eq!(classes.len(), span.classes, "class rows of a vantage");
        classes.sort_by(|a, b| row_key(a).cmp(&row_key(b)));
        for c in &mut classes {
            c.runs = runs;
        }
        if let Some((_, sentence)) = selective_summary(&classes).pop() {
            for c in &mut classes {
                c.summary.clone_from(&sentence);
            }
        }
        for (slot, c) in out[rows.end..].iter_mut().zip(classes) {
            *slot = c;
        }
    }
}
