//! Progress of a long run: a bar on a terminal; a line per round when stderr
//! is a pipe or a log file (where a bar would be noise and nothing at all
//! leaves a multi-hour run silent); nothing with `--quiet`.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::record::rounds::StopReason;

/// `target rows decided 3/5` (and the undecided ones).
pub fn decided_text(t: super::Tally) -> String {
    format!(
        "target rows decided {}/{} ({} undecided)",
        t.decided,
        t.decided + t.undecided,
        t.undecided
    )
}

pub struct Progress {
    bar: ProgressBar,
    /// Print a line per round (stderr is not a terminal and not quiet).
    lines: bool,
    /// Rounds planned, when known.
    rounds: Option<u32>,
    /// `until = "decided"`: target rows decided at the latest look.
    tally: std::cell::Cell<Option<super::Tally>>,
}

impl Progress {
    /// `total`: fetches expected, and `rounds`: rounds planned, when known.
    pub fn new(quiet: bool, total: Option<u64>, rounds: Option<u32>) -> Progress {
        let terminal = std::io::stderr().is_terminal();
        let bar = match total {
            Some(n) => ProgressBar::new(n),
            None => ProgressBar::new_spinner(),
        };
        if !quiet && terminal {
            let style = match total {
                Some(_) => "{elapsed_precise} [{bar:30}] {pos}/{len} {msg}",
                None => "{elapsed_precise} {spinner} {pos} fetches {msg}",
            };
            bar.set_style(
                ProgressStyle::with_template(style)
                    .expect("valid template")
                    .progress_chars("=> "),
            );
            bar.set_draw_target(ProgressDrawTarget::stderr());
        } else {
            bar.set_draw_target(ProgressDrawTarget::hidden());
        }
        Progress {
            bar,
            lines: !quiet && !terminal,
            rounds,
            tally: Default::default(),
        }
    }

    /// Whether the bar is drawn (only then is its "slowest class" worth
    /// computing: a median over every rate so far).
    pub fn shows_bar(&self) -> bool {
        !self.bar.is_hidden()
    }

    pub fn update(&self, round: u32, errors: u64, slowest: Option<String>) {
        self.bar.inc(1);
        let slow = slowest
            .map(|s| format!(" | slowest {s}"))
            .unwrap_or_default();
        let rows = self
            .tally
            .get()
            .map(|t| format!(" | {}", decided_text(t)))
            .unwrap_or_default();
        self.bar.set_message(format!(
            "round {}{rows} | errors {errors}{slow}",
            u64::from(round) + 1
        ));
    }

    /// Round `round` (0-based) has all its fetches written; totals so far,
    /// the target rows decided (`until = "decided"`) and why the run stops
    /// here, if it does.
    pub fn round_end(
        &self,
        round: u32,
        fetches: u64,
        errors: u64,
        tally: Option<super::Tally>,
        stop: Option<StopReason>,
    ) {
        self.tally.set(tally);
        let rows = tally
            .map(|t| format!(", {}", decided_text(t)))
            .unwrap_or_default();
        if !self.lines {
            return;
        }
        let of = self.rounds.map(|n| format!("/{n}")).unwrap_or_default();
        let fetch_word = if fetches == 1 { "fetch" } else { "fetches" };
        let why = stop
            .map(|s| format!("; stopping: {}", s.as_str()))
            .unwrap_or_default();
        crate::eprintln_quiet!(
            "slowlane: round {}{of} done, {fetches} {fetch_word} so far ({errors} failed){rows}{why}",
            u64::from(round) + 1
        );
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
