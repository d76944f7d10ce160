//! Command dispatch and exit codes, kept out of `main.rs` so tests can call it.
//!
//! Exit codes: 0 the work ran (failed fetches are data), 1 output could not
//! be written or a fetch hit an internal error (a bug, written as an
//! `unknown_failure: internal: …` row), 2 bad usage or configuration, 3 a
//! run or demo whose fetches all failed (nothing measured), 128 +
//! signal number when stopped by a signal (130 SIGINT, 143 SIGTERM, 129
//! SIGHUP); `fetch` adds curl's codes per failure family (`crate::fetch_exit`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::analyze::{self, AnalyzeOptions};
use crate::cli::{
    AnalyzeArgs, AnalyzeFormat, Cli, Command, DemoArgs, PlanArgs, PlanFormat, ReportArgs, RunArgs,
    ServeArgs, TestbedArgs,
};
use crate::config::{self, CliOverrides};
use crate::probe::{self, Prepared};
use crate::report;
use crate::run::{self, RunError, RunOptions};
use crate::testbed::{write_demo_campaign_with, DemoRounds, Lab, Scenario, DEMO_BUDGET_ROUNDS};

mod fetch;
mod trigger;

pub const EXIT_OUTPUT: i32 = 1;
pub const EXIT_USAGE: i32 = 2;
/// `run`/`demo`: fetches ran but none measured anything (every one failed
/// or got an HTTP error status); the message says what and why.
pub const EXIT_NOTHING_MEASURED: i32 = 3;

/// Why a command stopped: the exit code and the message for stderr.
struct Fail(i32, String);

/// Bad usage or configuration (exit 2).
fn usage(e: impl std::fmt::Display) -> Fail {
    Fail(EXIT_USAGE, e.to_string())
}

/// Output that cannot be written, or the lab that cannot start (exit 1).
fn output(e: impl std::fmt::Display) -> Fail {
    Fail(EXIT_OUTPUT, e.to_string())
}

type Outcome = Result<i32, Fail>;

/// Print to stdout: a closed pipe ends printing quietly (the command keeps
/// its own exit code), any other write error is exit 1 ([`crate::stdout`]).
fn print(text: &str) -> Result<(), Fail> {
    crate::stdout::print(text).map_err(|e| output(format!("cannot write to stdout: {e}")))
}

pub fn main(cli: Cli) -> i32 {
    // One fetch gains nothing from a thread pool: on one thread the connection
    // task and the counting loop hand data over without cross-thread wake-ups
    // (measurably less CPU per byte). Campaigns with concurrency use the pool.
    let mut builder = match cli.command {
        Command::Fetch(_) => tokio::runtime::Builder::new_current_thread(),
        _ => tokio::runtime::Builder::new_multi_thread(),
    };
    let rt = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            crate::stdout::eprintln(&format!("slowlane: cannot start the runtime: {e}"));
            return EXIT_OUTPUT;
        }
    };
    let outcome = rt.block_on(async {
        match cli.command {
            Command::Fetch(a) => fetch::fetch_cmd(a).await,
            Command::Run(a) => run_cmd(a).await,
            Command::Plan(a) => plan_cmd(a).await,
            Command::Analyze(a) => analyze_cmd(a),
            Command::Report(a) => report_cmd(a),
            Command::Testbed(a) => testbed_cmd(a).await,
            Command::Demo(a) => demo_cmd(a).await,
            Command::Serve(a) => serve_cmd(a).await,
            Command::Trigger(a) => trigger::trigger_cmd(a).await,
        }
    });
    // Do not wait for an analysis abandoned at a stop signal.
    rt.shutdown_background();
    match outcome {
        Ok(code) => code,
        Err(Fail(code, msg)) => {
            crate::stdout::eprintln(&format!("slowlane: {msg}"));
            code
        }
    }
}

async fn run_cmd(a: RunArgs) -> Outcome {
    let mut campaign = config::load_campaign(&a.campaign).map_err(usage)?;
    campaign.apply(&CliOverrides {
        rounds: a.rounds,
        seed: a.seed,
        out: a.out,
        vantage: a.vantage,
        until: a.until,
        max_total_bytes: a.max_total_bytes,
        ..a.net.overrides()
    });
    let mode = match (a.resume, a.once) {
        (true, _) => run::Mode::Resume,
        (_, true) => run::Mode::Once,
        _ => run::Mode::New,
    };
    let opts = RunOptions {
        quiet: a.quiet,
        mode,
        grace: a.grace,
    };
    run_and_report(campaign, opts).await
}

/// `slowlane plan`: sizes from `--probe` or earlier runs, then the cost.
async fn plan_cmd(a: PlanArgs) -> Outcome {
    use crate::plan::cost;
    let mut campaign = config::load_campaign(&a.campaign).map_err(usage)?;
    campaign.apply(&CliOverrides {
        rounds: a.rounds,
        out: a.out,
        until: a.until,
        max_total_bytes: a.max_total_bytes,
        ..a.net.overrides()
    });
    let earlier = cost::earlier_sizes(&campaign.out.join("fetches.csv"))
        .map_err(|e| output(format!("{e:#}")))?;
    let mut probed = cost::Sizes::new();
    if a.probe {
        for t in campaign.targets.iter().filter(|t| t.upload == 0) {
            let mut spec = t.clone();
            spec.options.max_bytes = 1;
            let p = Prepared::new(spec).map_err(|e| usage(format!("{}: {e:#}", t.url)))?;
            let rec = probe::fetch(&p).await;
            match rec.object_bytes {
                Some(n) => {
                    probed.insert(t.url.to_string(), n);
                }
                None => crate::stdout::eprintln(&format!(
                    "slowlane: {}: no Content-Length{}; counted at max_bytes",
                    t.url,
                    rec.error.map(|e| format!(" ({e})")).unwrap_or_default()
                )),
            }
        }
    }
    let c = cost::cost(&campaign, &probed, &earlier);
    match a.format {
        PlanFormat::Text => print(&c.render())?,
        PlanFormat::Json => print(&format!(
            "{}\n",
            serde_json::to_string_pretty(&c).map_err(|e| output(e.to_string()))?
        ))?,
    }
    Ok(0)
}

/// Run a loaded campaign and print the end-of-run report (shared with `demo`).
async fn run_and_report(campaign: config::Campaign, opts: RunOptions) -> Outcome {
    // An adaptive run's verdicts are the anytime-valid ones it stopped on.
    let sequential = campaign.schedule.until == crate::plan::Until::Decided;
    let name = campaign.name.clone();
    let o = run::run_campaign(campaign, opts)
        .await
        .map_err(|e| match e {
            RunError::Config(_) => usage(e),
            RunError::Output(_) => output(format!("cannot write output: {e}")),
        })?;
    let studies = study_lines(&o);
    if o.already_decided {
        print(&studies)?;
        crate::stdout::eprintln(&format!(
            "slowlane: campaign {name}: run {} is decided (every target row decided by round {}); \
             nothing fetched{}. `slowlane analyze {}` shows its verdicts; run without --once for a new run",
            o.run_id,
            o.first_round,
            if o.studies.is_empty() {
                ""
            } else {
                " but its unwritten [[trigger]] studies"
            },
            o.out.display()
        ));
        return Ok(0);
    }
    // A continued run (--resume, --once) says which rounds these were.
    let continued = if o.first_round > 0 {
        format!(" (from round {} of run {})", o.first_round, o.run_id)
    } else {
        String::new()
    };
    let stopped = match (o.stop_reason, o.tally) {
        (Some(r), Some(t)) => format!("; stopped: {} ({})", stop_words(r), run::decided_text(t)),
        _ => String::new(),
    };
    let summary = format!(
        "{} fetch{} ({} failed) in {} round{}{continued}, seed {}, written to {}{stopped}\n{}{studies}",
        o.fetches,
        if o.fetches == 1 { "" } else { "es" },
        o.errors,
        o.rounds,
        if o.rounds == 1 { "" } else { "s" },
        o.seed,
        o.out.display(),
        o.table.render()
    );
    print(&summary)?;
    // Verdicts over everything in the output directory (all runs of this
    // campaign there): the same code as `slowlane analyze DIR`. A large
    // directory takes a while; a stop signal meanwhile ends the run at once
    // (every row is already on disk; the verdicts can be made later).
    let dir = o.out.clone();
    let job = tokio::task::spawn_blocking(move || {
        let opts = AnalyzeOptions {
            sequential,
            ..AnalyzeOptions::default()
        };
        analyze::analyze_paths_full(std::slice::from_ref(&dir), &opts)
    });
    let analysis = tokio::select! {
        r = job => r
            .map_err(|e| output(format!("analysis failed: {e}")))?
            .map_err(|e| output(format!("analysis failed: {e:#}")))?,
        code = run::stop_signal() => {
            crate::stdout::eprintln(&format!(
                "slowlane: stopped during the final analysis; verdicts not written \
                 (`slowlane analyze {}` makes them)",
                o.out.display()
            ));
            return Ok(code);
        }
    };
    for w in &analysis.warnings {
        crate::stdout::eprintln(&format!("warning: {w}"));
    }
    let rows = analysis.verdicts;
    analyze::write_verdicts_csv(&analyze::verdicts_path(&o.out), &rows)
        .map_err(|e| output(format!("{e:#}")))?;
    print(&format!(
        "\n{}",
        crate::stdout::for_terminal(analyze::render(&rows, analyze::Format::Text))
    ))?;
    // The page of pictures; the run's data is written whatever happens here.
    let report_dir = o.out.join("report");
    let opts = report::html::ReportOptions::default();
    match report::html::write_from_analysis(
        &rows,
        analysis.warnings,
        std::slice::from_ref(&o.out),
        &report_dir,
        &opts,
    ) {
        Ok(index) => print(&format!("report: {}\n", index.display()))?,
        Err(e) => crate::stdout::eprintln(&format!("slowlane: report not written: {e:#}")),
    }
    if o.internal_errors > 0 {
        return Err(output(format!(
            "{} fetch{} hit an internal error (rows written as unknown_failure: internal: …); \
             please report",
            o.internal_errors,
            if o.internal_errors == 1 { "" } else { "es" }
        )));
    }
    // Every row is written and analysed; but a run that measured nothing
    // (a stopped lab, a missing token) says why and does not pass for one
    // that worked. A stopped run keeps its signal's code.
    if let (None, Some(msg)) = (o.signal_exit, o.failures.nothing_measured(o.fetches)) {
        return Err(Fail(EXIT_NOTHING_MEASURED, msg));
    }
    Ok(o.signal_exit.unwrap_or(0))
}

/// The `[[trigger]]` studies an invocation ran: one line each.
fn study_lines(o: &run::RunOutcome) -> String {
    o.studies
        .iter()
        .map(|s| {
            format!(
                "trigger study {} ({} trial{}, {}): {}\n",
                s.id,
                s.trials,
                if s.trials == 1 { "" } else { "s" },
                crate::record::triggers::TRIGGERS_CSV,
                s.sentence
            )
        })
        .collect()
}

/// Why an adaptive run stopped, in words.
fn stop_words(r: crate::record::rounds::StopReason) -> &'static str {
    use crate::record::rounds::StopReason as S;
    match r {
        S::Decided => "every target row decided",
        S::Rounds => "rounds budget spent",
        S::Duration => "duration spent",
        S::MaxTotalBytes => "max_total_bytes spent",
        S::Signal => "stop signal",
        S::Once => "--once",
    }
}

/// A scenario by built-in name or TOML path.
fn load_scenario(name: &str) -> Result<Scenario, Fail> {
    Scenario::load(name).map_err(|e| usage(format!("{e:#}")))
}

async fn start_lab(scenario: &Scenario, listen: SocketAddr, dir: &Path) -> Result<Lab, Fail> {
    Lab::start(scenario, listen, dir)
        .await
        .map_err(|e| output(format!("cannot start the testbed: {e:#}")))
}

async fn testbed_cmd(a: TestbedArgs) -> Outcome {
    let lab = start_lab(&load_scenario(&a.scenario)?, a.listen, &a.dir).await?;
    print(&format!("{}(Ctrl-C to stop)\n", lab.describe()))?;
    let _ = lab.run_until(tokio::signal::ctrl_c()).await;
    Ok(0)
}

/// The reflector until SIGTERM or Ctrl-C, then a graceful stop.
async fn serve_cmd(a: ServeArgs) -> Outcome {
    let cfg = crate::serve::ServeConfig {
        listen: a.listen,
        state: a.state,
        cert_key: a.cert.zip(a.key),
        token: a.token,
        limits: crate::serve::Limits {
            max_conns: a.max_conns as usize,
            max_bytes: a.max_bytes,
            per_minute: a.per_minute,
            header_timeout: a.header_timeout,
            max_conn_time: a.max_conn_time,
            ..Default::default()
        },
        log: a.log,
    };
    let r = crate::serve::Reflector::start(cfg)
        .await
        .map_err(|e| output(format!("cannot start the reflector: {e:#}")))?;
    // Watched before the banner: whoever reads it may signal at once.
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| output(format!("cannot watch SIGTERM: {e}")))?;
    // A server's banner is a courtesy: a closed stdout must not stop it.
    let _ = crate::stdout::print(&format!("{}(SIGTERM or Ctrl-C to stop)\n", r.describe()));
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    crate::stdout::eprintln("slowlane serve: stopping (requests in flight get 10 s to finish)");
    r.shutdown().await;
    Ok(0)
}

/// The lab on loopback plus a campaign through the real `run` path: the only
/// difference from a field run is the campaign file, which points the URLs at
/// the lab with `connect_to` and trusts the lab CA.
async fn demo_cmd(a: DemoArgs) -> Outcome {
    let scenario = load_scenario(&a.scenario)?;
    let out = a
        .out
        .unwrap_or_else(|| PathBuf::from(format!("slowlane-out/demo-{}", scenario.name)));
    // The campaign file lives inside `out`, and a campaign's relative `out`
    // is resolved against the file's folder: write it absolute, or the run
    // would land in `out/out`. The run itself uses `out` as given, so the
    // printed path is the one the user typed.
    let abs_out =
        std::path::absolute(&out).map_err(|e| usage(format!("{}: {e}", out.display())))?;
    let listen = SocketAddr::from(([127, 0, 0, 1], 0));
    let lab = start_lab(&scenario, listen, &abs_out).await?;
    // Adaptive unless --rounds asks for a fixed number.
    let rounds = match a.rounds {
        Some(n) => DemoRounds::Fixed(Some(n)),
        None => DemoRounds::UntilDecided(DEMO_BUDGET_ROUNDS),
    };
    let path = write_demo_campaign_with(&scenario, &lab, &abs_out, rounds)
        .map_err(|e| output(format!("{e:#}")))?;
    crate::stdout::eprintln(&format!(
        "slowlane demo: scenario {} — lab middlebox on {}, campaign {}",
        scenario.name,
        lab.middlebox_addr(),
        path.display()
    ));
    let mut campaign = config::load_campaign(&path).map_err(usage)?;
    campaign.out = out;
    if a.seed.is_some() {
        campaign.seed = a.seed;
    }
    if let Some(note) = earlier_runs_note(&campaign.out) {
        crate::stdout::eprintln(&note);
    }
    let opts = RunOptions {
        quiet: a.quiet,
        ..RunOptions::default()
    };
    let code = run_and_report(campaign, opts).await;
    drop(lab);
    code
}

/// A demo into a folder that holds earlier runs pools them all (every run
/// of a campaign in one folder is one data set): said before the run, with
/// how to start fresh, so a rerun's verdicts are not mistaken for its own.
fn earlier_runs_note(out: &Path) -> Option<String> {
    let rounds = crate::record::rounds::read(out).ok()?;
    let mut runs: Vec<&str> = rounds.iter().map(|r| r.run_id.as_str()).collect();
    runs.sort_unstable();
    runs.dedup();
    // Rows beyond the header line (a run cut before its first round ended
    // has rows but no rounds.csv line).
    let has_rows = std::fs::read(out.join("fetches.csv"))
        .is_ok_and(|b| b.iter().filter(|&&c| c == b'\n').count() > 1);
    if runs.is_empty() && !has_rows {
        return None;
    }
    let n = runs.len().max(1);
    Some(format!(
        "slowlane demo: {} already holds {n} earlier run{}: the verdicts and the report \
         below pool {} with this one. For a fresh demo, remove the folder or pass --out NEW.",
        out.display(),
        if n == 1 { "" } else { "s" },
        if n == 1 { "it" } else { "them" },
    ))
}

fn analyze_cmd(a: AnalyzeArgs) -> Outcome {
    for (flag, v) in [("threshold", a.threshold), ("alpha", a.alpha)] {
        if !(v > 0.0 && v <= 1.0) {
            return Err(usage(format!("--{flag} must be in (0, 1], got {v}")));
        }
    }
    if a.min_n == 0 {
        return Err(usage("--min-n must be at least 1"));
    }
    if let Some(p) = a.paths.iter().find(|p| !p.exists()) {
        return Err(usage(format!("{}: no such file or directory", p.display())));
    }
    let opts = AnalyzeOptions {
        threshold: a.threshold,
        alpha: a.alpha,
        min_n: a.min_n,
        seed: a.seed,
        by_run: a.by_run,
        ..AnalyzeOptions::default()
    };
    let (rows, bad, warnings) = if a.merge_verdicts {
        let rows = analyze::merge::merge(&a.paths).map_err(|e| usage(format!("{e:#}")))?;
        (rows, Vec::new(), Vec::new())
    } else {
        analyze_inputs(&a.paths, &opts)?
    };
    for (file, b) in &bad {
        crate::stdout::eprintln(&format!("warning: {}: {}", file.display(), b.describe()));
    }
    for w in &warnings {
        crate::stdout::eprintln(&format!("warning: {w}"));
    }
    if a.strict && !bad.is_empty() {
        return Err(usage("unusable rows in the input (--strict)"));
    }
    let out = a.out.unwrap_or_else(|| {
        let first = &a.paths[0];
        if first.is_dir() {
            first.clone()
        } else {
            first.parent().map_or_else(|| ".".into(), Path::to_path_buf)
        }
    });
    std::fs::create_dir_all(&out)
        .map_err(anyhow::Error::from)
        .and_then(|_| analyze::write_verdicts_csv(&analyze::verdicts_path(&out), &rows))
        .map_err(|e| output(format!("cannot write verdicts to {}: {e:#}", out.display())))?;
    let format = match a.format {
        AnalyzeFormat::Text => analyze::Format::Text,
        AnalyzeFormat::Csv => analyze::Format::Csv,
        AnalyzeFormat::Json => analyze::Format::Json,
    };
    let text = analyze::render_only(&rows, format, &a.only.unwrap_or_default());
    print(&if format == analyze::Format::Text {
        crate::stdout::for_terminal(text)
    } else {
        text
    })?;
    if let Some(by) = &a.group_by {
        group_table(&rows, by, a.vantages.as_deref(), &a.paths[0], &out, format)?;
    }
    // The process ends here: freeing 400,000 rows one by one (10,000
    // vantages) only delays the exit.
    std::mem::forget(rows);
    Ok(0)
}

/// Rows, unusable rows and pooling warnings of `analyze PATH…`: a
/// directory without fetches.csv (results/ after collect.yml) is walked.
type Analyzed = (
    Vec<analyze::Verdict>,
    Vec<analyze::FileBadRows>,
    Vec<String>,
);

fn analyze_inputs(paths: &[PathBuf], opts: &AnalyzeOptions) -> Result<Analyzed, Fail> {
    let inputs = analyze::input::paths::expand(paths).map_err(|e| usage(format!("{e:#}")))?;
    let a =
        analyze::analyze_paths_full(&inputs.paths, opts).map_err(|e| usage(format!("{e:#}")))?;
    if inputs.walked {
        crate::stdout::eprintln(&analyze::input::paths::describe(
            inputs.paths.len(),
            a.vantages,
        ));
    }
    Ok((a.verdicts, a.bad, a.warnings))
}

fn report_cmd(a: ReportArgs) -> Outcome {
    let out = match a.out {
        Some(o) => o,
        None => report::html::default_out(&a.paths).map_err(|e| usage(format!("{e:#}")))?,
    };
    let opts = report::html::ReportOptions {
        title: a.title.unwrap_or_default(),
        max_vantages: a.max_vantages,
    };
    let r = report::html::build(&a.paths, &opts).map_err(|e| usage(format!("{e:#}")))?;
    let index = report::html::page::write(&r, &out).map_err(|e| {
        output(format!(
            "cannot write the report to {}: {e:#}",
            out.display()
        ))
    })?;
    print(&format!("{}\n", index.display()))?;
    Ok(0)
}

/// `analyze --group-by`: groups.csv beside verdicts.csv, and the table on
/// stdout after the verdicts (text format only: csv/json stdout stays one
/// document).
fn group_table(
    rows: &[analyze::Verdict],
    by: &analyze::aggregate::groups::GroupBy,
    vantages: Option<&Path>,
    first: &Path,
    out: &Path,
    format: analyze::Format,
) -> Result<(), Fail> {
    use analyze::aggregate::groups::{self, GroupBy, VantageMap};
    let file = match vantages {
        Some(p) => Some(p.to_path_buf()),
        None if matches!(by, GroupBy::Column(_)) => VantageMap::find(first),
        None => None,
    };
    let map = file
        .as_deref()
        .map(VantageMap::load)
        .transpose()
        .map_err(|e| usage(format!("{e:#}")))?;
    let (table, unmapped) =
        groups::group_rows(rows, by, map.as_ref()).map_err(|e| usage(format!("{e:#}")))?;
    if !unmapped.is_empty() {
        crate::stdout::eprintln(&format!(
            "warning: {} vantage(s) not in {}, grouped as {}: {}",
            unmapped.len(),
            file.as_deref()
                .map_or("vantages.csv".into(), |f| f.display().to_string()),
            groups::UNMAPPED,
            unmapped.join(", ")
        ));
    }
    let path = out.join("groups.csv");
    groups::write_groups_csv(&path, &table)
        .map_err(|e| output(format!("cannot write {}: {e:#}", path.display())))?;
    if format == analyze::Format::Text {
        print(&groups::render_text(&table))?;
    }
    Ok(())
}
