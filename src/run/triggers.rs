//! A campaign's `[[trigger]]` studies: `slowlane trigger` runs
//! ([`crate::trigger::discover_with`]) made once the campaign's rounds are
//! over, one after another, each written to `triggers.csv` whole when it
//! ends ([`crate::record::triggers`]).
//!
//! After the rounds, not among them: a study fetches the trigger name over
//! and over, and a box with per-address state would then slow the rounds'
//! later fetches to the same address (the contamination the study itself
//! watches for). A study stopped by a signal writes nothing and runs again
//! whole on `--resume`; one with rows for the run is never run again.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::catch::catch;
use super::signals::Stop;
use super::RunError;
use crate::config::{Campaign, TriggerStudy};
use crate::record::rounds::StopReason;
use crate::record::triggers::{self, TriggerRow};
use crate::trigger::{budget, discover_with, Finding, Trial, TriggerConfig};

/// What a study ended with, for the end-of-run summary.
#[derive(Debug, Clone)]
pub struct StudyEnd {
    pub id: String,
    pub trials: usize,
    pub sentence: String,
    /// The study panicked (a bug: its one row says so, the run exits 1).
    pub internal_error: bool,
}

/// Whether the campaign's rounds are over after an invocation that stopped
/// after round `last` for `reason`: the budget spent, every target decided,
/// or (`--once`) the round just run was the schedule's last. A signal, or
/// a `--once` with rounds left, leaves the studies for a later invocation.
pub(super) fn rounds_over(
    c: &Campaign,
    last: u32,
    reason: Option<StopReason>,
    elapsed: Duration,
) -> bool {
    match reason {
        None | Some(StopReason::Signal) => false,
        Some(StopReason::Once) => !last
            .checked_add(1)
            .is_some_and(|next| c.schedule.should_start(next, elapsed)),
        Some(_) => true,
    }
}

/// Whether run `run_id` has a study left to run in `c.out`.
pub(super) fn unfinished(c: &Campaign, run_id: &str) -> std::io::Result<bool> {
    if c.triggers.is_empty() {
        return Ok(false);
    }
    let done = triggers::finished(&c.out, run_id)?;
    Ok(c.triggers.iter().any(|t| !done.contains(&t.id)))
}

/// Run the studies of `c` that have no rows for `run_id` yet, until `stop`.
pub(super) async fn run_studies(
    c: &Campaign,
    run_id: &str,
    quiet: bool,
    stop: &Stop,
) -> Result<Vec<StudyEnd>, RunError> {
    let out_err =
        |e: &dyn std::fmt::Display| RunError::Output(anyhow::anyhow!("{}: {e}", c.out.display()));
    let done = triggers::finished(&c.out, run_id).map_err(|e| out_err(&e))?;
    let todo: Vec<&TriggerStudy> = c
        .triggers
        .iter()
        .filter(|t| !done.contains(&t.id))
        .collect();
    let mut ends = Vec::new();
    for (i, study) in todo.iter().enumerate() {
        if stop.is_set() {
            break;
        }
        let cfg = TriggerConfig::from(*study);
        let (max_trials, bytes) = budget(&cfg);
        let say = |s: String| {
            if !quiet {
                crate::eprintln_quiet!(
                    "slowlane: trigger study {} ({}/{}): {s}",
                    study.id,
                    i + 1,
                    todo.len()
                );
            }
        };
        say(format!(
            "{} at {}, at most {max_trials} trials, {}",
            study.name,
            study.reflector,
            bytesize::ByteSize(bytes)
        ));
        let bar = trial_bar(quiet, max_trials);
        let lines = !quiet && bar.is_hidden();
        let mut on_trial = |t: &Trial| {
            bar.inc(1);
            bar.set_message(format!("{}: {} {}", study.id, t.checks, t.verdict));
            if lines {
                crate::eprintln_quiet!(
                    "slowlane: trigger study {}: trial {} ({} {}): {} in {} round{}",
                    study.id,
                    t.trial,
                    t.checks,
                    t.name,
                    t.verdict,
                    t.rounds,
                    if t.rounds == 1 { "" } else { "s" }
                );
            }
        };
        let found = tokio::select! {
            r = catch(discover_with(&cfg, &mut on_trial)) => r,
            _ = stop.wait() => {
                bar.finish_and_clear();
                // A warning, not progress: said even with --quiet.
                crate::eprintln_quiet!(
                    "slowlane: trigger study {} ({}/{}): stopped by a signal: nothing written; \
                     `--resume` runs it again",
                    study.id,
                    i + 1,
                    todo.len()
                );
                break;
            }
        };
        bar.finish_and_clear();
        let (rows, end) = rows_of(c, run_id, study, found);
        triggers::append(&c.out, &rows).map_err(|e| out_err(&e))?;
        let plural = if end.trials == 1 { "" } else { "s" };
        say(format!("{} trial{plural}: {}", end.trials, end.sentence));
        ends.push(end);
    }
    Ok(ends)
}

/// A bar of trials on a terminal (hidden otherwise, and when quiet).
fn trial_bar(quiet: bool, max_trials: usize) -> ProgressBar {
    let bar = ProgressBar::new(max_trials as u64);
    if !quiet && std::io::stderr().is_terminal() {
        bar.set_style(
            ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/≤{len} trials {msg}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.set_draw_target(ProgressDrawTarget::stderr());
    } else {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    bar
}

/// A study's rows: one per trial, or one saying why there is none.
fn rows_of(
    c: &Campaign,
    run_id: &str,
    study: &TriggerStudy,
    found: Result<anyhow::Result<Finding>, String>,
) -> (Vec<TriggerRow>, StudyEnd) {
    let base = TriggerRow {
        vantage: c.vantage.clone(),
        run_id: run_id.to_string(),
        trigger: study.id.clone(),
        reflector: study.reflector.clone(),
        ..Default::default()
    };
    let (f, internal_error) = match found {
        Ok(Ok(f)) => (f, false),
        Ok(Err(e)) => (failed(format!("the study could not run: {e:#}")), false),
        Err(panic) => (
            failed(format!("internal error (please report): {panic}")),
            true,
        ),
    };
    let mut rows: Vec<TriggerRow> = f
        .trials
        .iter()
        .map(|t| TriggerRow {
            trial: Some(t.trial),
            checks: t.checks.clone(),
            name: t.name.clone(),
            variant: t.variant.clone(),
            verdict: t.verdict.clone(),
            rounds: Some(t.rounds),
            rate_bps: t.rate_bps.map(|r| r.round() as u64),
            control_bps: t.control_bps.map(|r| r.round() as u64),
            contaminated: Some(t.contaminated),
            rule: f.rule.to_string(),
            minimal: f.minimal.clone().unwrap_or_default(),
            sentence: f.sentence.clone(),
            ..base.clone()
        })
        .collect();
    if rows.is_empty() {
        rows.push(TriggerRow {
            rule: f.rule.to_string(),
            sentence: f.sentence.clone(),
            ..base
        });
    }
    let end = StudyEnd {
        id: study.id.clone(),
        trials: f.trials.len(),
        sentence: f.sentence,
        internal_error,
    };
    (rows, end)
}

/// The finding of a study that ran no trial.
fn failed(sentence: String) -> Finding {
    Finding {
        trials: Vec::new(),
        baseline_bps: None,
        minimal: None,
        rule: "error",
        sentence,
    }
}
