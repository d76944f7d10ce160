//! `until = "decided"`: after every round, judge the run so far and let
//! the decided targets drop out of the rounds that follow.
//!
//! The judging is the analyzer's own (`AnalyzeOptions::sequential`: the
//! anytime-valid decisions, since we look after every round), on a dataset
//! kept in memory and grown by each round's records — never a re-read of the
//! CSVs (a continued run reads them once, at its start). Only this run's
//! fetches count (the dataset is judged `by_run`): a new run into a folder
//! with older runs is not stopped by their data.
//!
//! A decision is final for the run: a target that dropped out is not
//! fetched again. Controls keep running while an undecided target may be
//! compared with them (same direction, transport and `[[reflector]]`; same
//! class, unless the target names its controls or its class has none).

use std::collections::HashMap;
use std::path::Path;

use crate::analyze::input::load::{Dataset, TimelineSrc};
use crate::analyze::{self, AnalyzeOptions, Scope, Verdict};
use crate::types::{Class, Direction, FetchRecord, FetchSpec, Group, Transport};

/// What a URL of the campaign is, for matching it with verdict rows.
#[derive(Debug, Clone)]
struct Url {
    target: bool,
    url: String,
    direction: Direction,
    transport: Transport,
    /// `[[reflector]]` id (empty for ordinary URLs).
    ab: String,
    class: Option<Class>,
    label: String,
    controls: Vec<String>,
}

impl Url {
    fn of(s: &FetchSpec) -> Url {
        Url {
            target: s.group == Group::Target,
            url: s.url.to_string(),
            direction: if s.upload > 0 {
                Direction::Up
            } else {
                Direction::Down
            },
            transport: s.options.transport,
            ab: s.ab.clone(),
            class: s.class,
            label: s.label.clone(),
            controls: s.controls.clone(),
        }
    }

    /// Whether control `c` may be among the controls of this target.
    fn may_use(&self, c: &Url, classes_with_controls: &[Option<Class>]) -> bool {
        if self.ab != c.ab || self.direction != c.direction || self.transport != c.transport {
            return false;
        }
        if !self.ab.is_empty() {
            return true;
        }
        if !self.controls.is_empty() {
            return self.controls.contains(&c.label);
        }
        match (self.class, c.class) {
            (Some(t), Some(k)) => t == k || !classes_with_controls.contains(&Some(t)),
            // A class from Content-Type is known only after the fetch.
            _ => true,
        }
    }
}

/// Target rows (one per target URL of the campaign, and transport)
/// decided / undecided after the latest look. A decision is final for the
/// run, so a row counts as decided from the look that decided it on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub decided: usize,
    pub undecided: usize,
}

/// The state of an adaptive run.
pub struct Decider {
    ds: Dataset,
    /// `[[reflector]]` fetches, judged by the A/B code (in memory).
    ab_records: Vec<FetchRecord>,
    opts: AnalyzeOptions,
    /// The vantage of this run's rows (`vantage/run_id`).
    vantage: String,
    urls: Vec<Url>,
    /// Per URL: a target decided at an earlier look.
    decided: Vec<bool>,
    classes_with_controls: Vec<Option<Class>>,
    pub tally: Tally,
}

impl Decider {
    /// A decider for `specs` (the campaign's URLs in run order). A continued
    /// run reads `out` once for the rounds already done.
    pub fn new(
        specs: &[FetchSpec],
        vantage: &str,
        run_id: &str,
        out: &Path,
        continued: bool,
    ) -> anyhow::Result<Decider> {
        let opts = AnalyzeOptions {
            by_run: true,
            sequential: true,
            ..AnalyzeOptions::default()
        };
        let mut ds = Dataset::default();
        ds.by_run = true;
        let urls: Vec<Url> = specs.iter().map(Url::of).collect();
        if continued && out.join("fetches.csv").is_file() {
            ds.add_path(out)?;
            // The decision needs no bytes-over-time: never read timeline.csv
            // again at each look.
            for s in &mut ds.sources {
                *s = TimelineSrc::None;
            }
        }
        let mut classes_with_controls: Vec<Option<Class>> = urls
            .iter()
            .filter(|u| !u.target && u.ab.is_empty())
            .map(|u| u.class)
            .collect();
        classes_with_controls.dedup();
        Ok(Decider {
            ds,
            // A continued run judges its `[[reflector]]` rows on this
            // invocation's fetches only (the A/B code reads files whole).
            ab_records: Vec::new(),
            opts,
            vantage: format!("{vantage}/{run_id}"),
            decided: vec![false; urls.len()],
            urls,
            classes_with_controls,
            tally: Tally::default(),
        })
    }

    /// Add a round's records.
    pub fn add(&mut self, mut records: Vec<FetchRecord>) {
        for r in &mut records {
            // Not needed to decide; a long run would keep them all.
            r.timeline = Vec::new();
        }
        self.ds.add_records(&records);
        self.ab_records
            .extend(records.into_iter().filter(|r| !r.ab.is_empty()));
    }

    /// Judge everything so far; mark the targets whose rows are all decided.
    pub fn look(&mut self) {
        let mut rows = analyze::analyze_dataset(&self.ds, &self.opts)
            .map(|(v, _)| v)
            .unwrap_or_default();
        if !self.ab_records.is_empty() {
            rows.extend(analyze::ab::from_records(&self.ab_records, &self.opts));
        }
        let rows: Vec<&Verdict> = rows
            .iter()
            .filter(|v| v.vantage == self.vantage && !v.control)
            .filter(|v| matches!(v.scope, Scope::Url | Scope::Ab))
            .collect();
        self.decide(&rows);
    }

    fn decide(&mut self, rows: &[&Verdict]) {
        // (url, direction, transport) → every row decided; A/B rows by their
        // reflector cell (ab id, direction, transport).
        let mut by_url: HashMap<(&str, Direction, Transport), bool> = HashMap::new();
        let mut by_ab: HashMap<(&str, Direction, Transport), bool> = HashMap::new();
        for v in rows {
            let map = if v.scope == Scope::Ab {
                &mut by_ab
            } else {
                &mut by_url
            };
            let key = if v.scope == Scope::Ab {
                (v.ab.as_str(), v.direction, v.transport)
            } else {
                (v.url.as_str(), v.direction, v.transport)
            };
            *map.entry(key).or_insert(true) &= v.is_decided();
        }
        for (i, u) in self.urls.iter().enumerate() {
            if !u.target || self.decided[i] {
                continue;
            }
            let found = if u.ab.is_empty() {
                by_url.get(&(u.url.as_str(), u.direction, u.transport))
            } else {
                by_ab.get(&(u.ab.as_str(), u.direction, u.transport))
            };
            // No row yet (nothing measured): undecided.
            if found == Some(&true) {
                self.decided[i] = true;
            }
        }
        let targets = self
            .urls
            .iter()
            .zip(&self.decided)
            .filter(|(u, _)| u.target);
        let decided = targets.clone().filter(|(_, &d)| d).count();
        self.tally = Tally {
            decided,
            undecided: targets.count() - decided,
        };
    }

    /// Whether every target is decided.
    pub fn all_decided(&self) -> bool {
        self.urls
            .iter()
            .zip(&self.decided)
            .all(|(u, &d)| !u.target || d)
    }

    /// Which URLs the next round fetches: undecided targets, and the
    /// controls any of them may be compared with.
    pub fn active(&self) -> Vec<bool> {
        let open: Vec<&Url> = self
            .urls
            .iter()
            .zip(&self.decided)
            .filter(|(u, &d)| u.target && !d)
            .map(|(u, _)| u)
            .collect();
        self.urls
            .iter()
            .zip(&self.decided)
            .map(|(u, &d)| {
                if u.target {
                    !d
                } else {
                    open.iter()
                        .any(|t| t.may_use(u, &self.classes_with_controls))
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::VerdictKind;

    fn spec(url: &str, group: Group, class: Class) -> FetchSpec {
        FetchSpec {
            url: url.parse().unwrap(),
            class: Some(class),
            group,
            sni: None,
            host: None,
            method: crate::types::Method::Get,
            upload: 0,
            label: String::new(),
            controls: Vec::new(),
            options: Default::default(),
            ab: String::new(),
            variant: String::new(),
            size: None,
        }
    }

    fn row(url: &str, kind: VerdictKind, needs: Option<u32>) -> Verdict {
        let mut v = analyze::base::verdict::empty_verdict();
        v.vantage = "v/r".into();
        v.scope = Scope::Url;
        v.url = url.into();
        v.verdict = kind;
        v.needs_rounds = needs;
        v
    }

    fn decider(specs: &[FetchSpec]) -> Decider {
        Decider::new(specs, "v", "r", Path::new("/nonexistent"), false).unwrap()
    }

    /// A decided target drops out; a control runs while a target of its
    /// class is open; an inconclusive row (or one with rounds still needed)
    /// keeps its target.
    #[test]
    fn decided_targets_drop_out_and_controls_follow_them() {
        let specs = [
            spec("https://a.test/img", Group::Target, Class::Image),
            spec("https://b.test/img", Group::Control, Class::Image),
            spec("https://a.test/txt", Group::Target, Class::Text),
            spec("https://b.test/txt", Group::Control, Class::Text),
        ];
        let mut d = decider(&specs);
        assert_eq!(d.active(), vec![true; 4]);
        let img = row("https://a.test/img", VerdictKind::Throttled, None);
        let txt = row("https://a.test/txt", VerdictKind::Inconclusive, Some(7));
        d.decide(&[&img, &txt]);
        assert_eq!(d.active(), vec![false, false, true, true]);
        assert!(!d.all_decided());
        assert_eq!(
            d.tally,
            Tally {
                decided: 1,
                undecided: 1
            }
        );
        // An `ok` that still needs rounds is not decided.
        let txt = row("https://a.test/txt", VerdictKind::Ok, Some(3));
        d.decide(&[&txt]);
        assert_eq!(d.active(), vec![false, false, true, true]);
        let txt = row("https://a.test/txt", VerdictKind::Ok, None);
        d.decide(&[&txt]);
        assert!(d.all_decided());
        assert_eq!(d.active(), vec![false; 4]);
    }

    /// A target without a row (nothing measured yet) stays undecided, and a
    /// class without controls of its own keeps every control running.
    #[test]
    fn missing_rows_and_classless_targets_stay_open() {
        let specs = [
            spec("https://a.test/v", Group::Target, Class::Video),
            spec("https://b.test/img", Group::Control, Class::Image),
        ];
        let mut d = decider(&specs);
        d.decide(&[]);
        assert_eq!(d.tally.undecided, 1);
        assert_eq!(d.active(), vec![true, true]);
    }
}
