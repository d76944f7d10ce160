//! Every vantage judged alone (its own controls, its own test families), on
//! all cores, its rows moved straight into their final slots: finished
//! verdicts, and the rows still waiting for a fingerprint.

use super::decide;
use super::rows::{self as verdict, needs_fingerprint, Row};
use crate::analyze::base::verdict::{class_str, empty_verdict, Scope, Verdict};
use crate::analyze::base::AnalyzeOptions;
use crate::analyze::input::load;
use crate::types::Direction;

/// The order of rows within a vantage.
#[allow(clippy::type_complexity)]
pub fn row_key(
    v: &Verdict,
) -> (
    Scope,
    bool,
    &str,
    Direction,
    crate::types::Transport,
    &str,
    &str,
    &str,
) {
    (
        v.scope,
        v.control,
        class_str(v.class),
        v.direction,
        v.transport,
        v.host.as_str(),
        v.url.as_str(),
        v.sni.as_str(),
    )
}

/// Where one vantage's rows are in the output: `rows` verdicts from `start`,
/// then `classes` class rows.
#[derive(Debug, Clone, Copy)]
pub struct Span {
    pub start: usize,
    pub rows: usize,
    pub classes: usize,
}

/// The (class, direction) pairs that get a class row: one per pair among
/// the target URL rows (see [`crate::analyze::aggregate::summary::class_rows`]).
fn class_keys<'a>(rows: impl Iterator<Item = &'a Verdict>) -> usize {
    rows.filter(|v| v.scope == Scope::Url && !v.control)
        .map(|v| (v.class, v.direction, v.transport))
        .collect::<std::collections::BTreeSet<_>>()
        .len()
}

/// How many rows a vantage will have: a URL row per series, a host row per
/// (host, SNI, class, direction) of targets, a class row per (class,
/// direction) of targets. Only a capacity hint.
fn rows_hint(ds: &load::Dataset, members: &[usize]) -> usize {
    let mut hosts = std::collections::BTreeSet::new();
    let mut classes = std::collections::BTreeSet::new();
    for &i in members {
        let s = &ds.series[i];
        if s.group != crate::types::Group::Control {
            hosts.insert((&s.host, &s.sni, s.class, s.direction, s.transport));
            classes.insert((s.class, s.direction, s.transport));
        }
    }
    members.len() + hosts.len() + classes.len()
}

/// Evaluate and decide one vantage, appending its rows, sorted, to `out`:
/// finished verdicts, placeholders for the rows waiting for a fingerprint
/// (returned with their index in `out`) and for its class rows.
fn decide_vantage(
    ds: &load::Dataset,
    members: &[usize],
    opts: &AnalyzeOptions,
    out: &mut Vec<Verdict>,
) -> (Span, Vec<(usize, verdict::Row)>) {
    let mut rows = verdict::evaluate(ds, members, opts);
    decide::fill_q(&mut rows, opts);
    if opts.sequential {
        super::sequential::fill_e(&mut rows, opts);
    }
    decide::decide(&mut rows, opts);
    // Sorted through an index: a row is a few hundred bytes, and moving
    // whole rows in the sort was a visible cost at 10,000 vantages.
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by(|&a, &b| row_key(&rows[a].verdict).cmp(&row_key(&rows[b].verdict)));
    let classes = class_keys(rows.iter().map(|r| &r.verdict));
    let start = out.len();
    let n = rows.len();
    let mut pending = Vec::new();
    let mut rows: Vec<Option<verdict::Row>> = rows.into_iter().map(Some).collect();
    for i in order {
        let mut r = rows[i].take().expect("each row once");
        if needs_fingerprint(&r) {
            r.cmps = Vec::new();
            pending.push((out.len(), r));
            out.push(empty_verdict());
        } else {
            out.push(r.verdict);
        }
    }
    out.extend((0..classes).map(|_| empty_verdict()));
    let span = Span {
        start,
        rows: n,
        classes,
    };
    (span, pending)
}

/// Rows of every vantage: `out` in output order (placeholders where a row
/// waits for its fingerprint or a class row), where each vantage's rows are,
/// and the waiting rows with their slot in `out`.
pub struct Judged {
    pub out: Vec<Verdict>,
    pub spans: Vec<Span>,
    pub slots: Vec<usize>,
    pub pending: Vec<Row>,
}

impl Judged {
    /// The verdicts with the (now fingerprinted) waiting rows in their slots.
    pub fn into_rows(self) -> (Vec<Verdict>, Vec<Span>) {
        let mut out = self.out;
        for (i, r) in self.slots.into_iter().zip(self.pending) {
            out[i] = r.verdict;
        }
        (out, self.spans)
    }
}

/// Judge every vantage of `groups` (series indexes by vantage).
pub fn judge(ds: &load::Dataset, groups: &[(&str, Vec<usize>)], opts: &AnalyzeOptions) -> Judged {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get().min(8))
        .min(groups.len())
        .max(1);
    let per = groups.len().div_ceil(threads).max(1);
    // Every vantage's row count is known before it is decided (a URL row
    // per series, a host row per target host, a class row per target
    // class), so each thread moves its rows straight into their final slots
    // of one vector: no second copy of 400,000 rows at 10,000 vantages
    // (concatenating per-thread vectors was a serial tenth of the run).
    let counts: Vec<usize> = groups.iter().map(|(_, m)| rows_hint(ds, m)).collect();
    let total: usize = counts.iter().sum();
    let mut out: Vec<Verdict> = Vec::with_capacity(total);
    type Pending = Vec<(Span, Vec<(usize, verdict::Row)>)>;
    let decided: Vec<Pending> = {
        let mut free = &mut out.spare_capacity_mut()[..total];
        let mut parts = Vec::new();
        let mut start = 0;
        for (chunk, cs) in groups.chunks(per).zip(counts.chunks(per)) {
            let n: usize = cs.iter().sum();
            let (slots, rest) = free.split_at_mut(n);
            free = rest;
            parts.push((chunk, cs, slots, start));
            start += n;
        }
        std::thread::scope(|s| {
            let handles: Vec<_> = parts
                .into_iter()
                .map(|(chunk, cs, slots, start)| {
                    s.spawn(move || {
                        let mut buf = Vec::new();
                        let mut at = 0;
                        let mut spans = Vec::with_capacity(chunk.len());
                        for ((_, members), &n) in chunk.iter().zip(cs) {
                            buf.clear();
                            let (span, rows) = decide_vantage(ds, members, opts, &mut buf);
                            assert_eq!(buf.len(), n, "rows of a vantage");
                            let shift = start + at;
                            for (slot, v) in slots[at..at + n].iter_mut().zip(buf.drain(..)) {
                                slot.write(v);
                            }
                            at += n;
                            let span = Span {
                                start: span.start + shift,
                                ..span
                            };
                            let rows = rows.into_iter().map(|(i, r)| (i + shift, r)).collect();
                            spans.push((span, rows));
                        }
                        spans
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("analysis thread"))
                .collect()
        })
    };
    // SAFETY: the threads above wrote every one of the first `total` slots
    // (each its disjoint run of them, one row per slot, the count of every
    // vantage asserted); a thread that panicked made the join panic before
    // this line, leaking the rows written so far but never exposing a slot
    // that was not written.
    unsafe { out.set_len(total) };
    let mut spans: Vec<Span> = Vec::with_capacity(groups.len());
    let mut slots: Vec<usize> = Vec::new();
    let mut pending: Vec<verdict::Row> = Vec::new();
    for part in decided {
        for (span, rows) in part {
            spans.push(span);
            for (i, r) in rows {
                slots.push(i);
                pending.push(r);
            }
        }
    }
    Judged {
        out,
        spans,
        slots,
        pending,
    }
}
