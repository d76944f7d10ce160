//! The short per-class table printed at the end of a run.
//!
//! Kept from per-fetch values of this run only (two numbers per fetch), so
//! it is exact; long-term distributions live in the HdrHistograms. Uploads
//! are rows of their own, rated by their acknowledged upload rate: an
//! upload's response body says nothing about the path.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::fmt_bps;
use crate::analyze::stats;
use crate::types::{Class, Direction, FetchRecord, Group};

#[derive(Debug, Default, Clone)]
struct ClassStats {
    n: usize,
    errors: usize,
    ttfb_ms: Vec<f64>,
    /// Goodput (down) or upload rate (up), bit/s.
    goodput: Vec<f64>,
}

type Key = (Option<Class>, Option<Group>, Direction);

/// Fewer values than this make no median or p10 (the analyzer's default
/// `--min-n`): a "median" of 1 of 5 fetches is one fetch.
pub const MIN_N: usize = 5;

/// Accumulates fetches by (class, group, direction).
#[derive(Debug, Default, Clone)]
pub struct ClassTable {
    rows: BTreeMap<Key, ClassStats>,
}

impl ClassTable {
    pub fn add(&mut self, r: &FetchRecord) {
        let s = self
            .rows
            .entry((r.class, r.group, r.direction))
            .or_default();
        s.n += 1;
        if r.error.is_some() {
            s.errors += 1;
        }
        if let Some(t) = r.ttfb_ms {
            s.ttfb_ms.push(t.0);
        }
        let rate = match r.direction {
            Direction::Down => r.goodput_bps.or(r.steady_bps),
            Direction::Up => r.upload_bps,
        };
        if let Some(g) = rate {
            s.goodput.push(g as f64);
        }
    }

    /// The class with the lowest median goodput so far (for the progress bar).
    pub fn slowest(&self) -> Option<String> {
        self.rows
            .iter()
            .filter_map(|((c, g, d), s)| {
                let med = quantile(&s.goodput, 0.5)?;
                let up = if *d == Direction::Up { " up" } else { "" };
                Some((
                    med,
                    format!("{}/{}{up} {}", name(c), gname(g), fmt_bps(med)),
                ))
            })
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .map(|x| x.1)
    }

    /// One line per class, group and direction. A median says how many
    /// fetches it is drawn from (`n=`: failed fetches have no rate), and
    /// below [`MIN_N`] of them says so (`too few: n=3`); the p10 is `-`
    /// then. The rate columns are goodput (burst included), not the plateau
    /// the verdicts judge by, so a note under the table says which is which.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{:<8} {:<8} {:<4} {:>6} {:>7} {:>18} {:>20} {:>14}",
            "class", "group", "dir", "n", "errors", "median ttfb", "median goodput", "p10 goodput"
        );
        for ((c, g, d), st) in &self.rows {
            let of = |v: &[f64], show: &dyn Fn(f64) -> String| {
                if v.is_empty() {
                    "-".into()
                } else if v.len() < MIN_N {
                    format!("too few: n={}", v.len())
                } else {
                    quantile(v, 0.5).map_or("-".into(), |m| format!("{} n={}", show(m), v.len()))
                }
            };
            let ttfb = of(&st.ttfb_ms, &|v| format!("{v:.1} ms"));
            let median = of(&st.goodput, &fmt_bps);
            let p10 = if st.goodput.len() < MIN_N {
                "-".into()
            } else {
                quantile(&st.goodput, 0.1).map_or("-".into(), fmt_bps)
            };
            let _ = writeln!(
                s,
                "{:<8} {:<8} {:<4} {:>6} {:>7} {:>18} {:>20} {:>14}",
                name(c),
                gname(g),
                d.as_str(),
                st.n,
                st.errors,
                ttfb,
                median,
                p10
            );
        }
        s.push_str(GOODPUT_NOTE);
        s
    }
}

/// What the table's rates are, and why they differ from the verdicts'.
pub const GOODPUT_NOTE: &str = "goodput: body bits over first-to-last body byte, a policer's first \
burst included (up: acknowledged upload rate); none when the body came within 1 ms.\n\
The verdicts below judge by the metric their reason names: `steady` is the plateau after the burst.\n";

fn name(c: &Option<Class>) -> &'static str {
    c.map_or("?", |c| c.as_str())
}

fn gname(g: &Option<Group>) -> &'static str {
    g.map_or("?", |g| g.as_str())
}

/// Quantile by linear interpolation between closest ranks (the analyzer's
/// percentile, on a sorted copy); None when empty.
pub fn quantile(values: &[f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    stats::sort(&mut v);
    Some(stats::percentile(&v, q))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate() {
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0, 5.0], 0.5), Some(3.0));
        assert_eq!(quantile(&[10.0, 20.0], 0.1), Some(11.0));
        assert_eq!(quantile(&[], 0.5), None);
    }

    #[test]
    fn table_counts_errors_per_class() {
        let mut t = ClassTable::default();
        for i in 0..4 {
            t.add(&FetchRecord {
                class: Some(Class::Image),
                group: Some(Group::Target),
                error: (i == 0).then(|| "connection_reset".into()),
                goodput_bps: Some(100_000 * (i + 1)),
                ..FetchRecord::default()
            });
        }
        // An upload of the same class: its own row, rated by upload_bps
        // (its 24 bit/s response goodput is not a rate sample).
        t.add(&FetchRecord {
            class: Some(Class::Image),
            group: Some(Group::Target),
            direction: Direction::Up,
            goodput_bps: Some(24),
            upload_bps: Some(131_072),
            ..FetchRecord::default()
        });
        let out = t.render();
        assert!(
            out.contains("image    target   down      4       1"),
            "{out}"
        );
        assert!(
            out.contains("image    target   up        1       0"),
            "{out}"
        );
        // One upload: no median from one value, but it says why.
        let up = out.lines().find(|l| l.contains(" up ")).unwrap();
        assert!(up.contains("too few: n=1") && !up.contains("bit/s"), "{up}");
        let down = out.lines().find(|l| l.contains(" down ")).unwrap();
        assert!(
            down.contains("too few: n=4"),
            "4 rates, below min-n: {down}"
        );
        // Issue 23.8: no "- n=" cell (a dash beside a count read as a
        // value), and the rate columns say they are goodput, with a note.
        assert!(!out.contains("- n="), "{out}");
        assert!(
            out.lines().next().unwrap().contains("median goodput"),
            "{out}"
        );
        assert!(out.contains("`steady` is the plateau"), "{out}");
        for i in 0..5 {
            t.add(&FetchRecord {
                class: Some(Class::Image),
                group: Some(Group::Target),
                direction: Direction::Up,
                upload_bps: Some(131_072 + i),
                ..FetchRecord::default()
            });
        }
        let out = t.render();
        let up = out.lines().find(|l| l.contains(" up ")).unwrap();
        assert!(
            up.contains("131 kbit/s n=6") && !up.contains(" bit/s"),
            "{up}"
        );
        assert!(
            t.slowest().unwrap().starts_with("image/target up"),
            "{:?}",
            t.slowest()
        );
    }
}
