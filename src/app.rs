//! Command dispatch and exit codes, kept out of `main.rs` so tests can call it.
//!
//! Exit codes: 0 the work ran (failed fetches are data), 1 output could not
//! be written, 2 bad usage or configuration, 130 interrupted by Ctrl-C.

use std::io::Write;

use crate::analyze::{self, AnalyzeOptions};
use crate::cli::{
    AnalyzeArgs, AnalyzeFormat, Cli, Command, DemoArgs, FetchArgs, FetchFormat, RunArgs,
    TestbedArgs,
};
use crate::config::{self, CliOverrides};
use crate::probe::spec::{FetchOptions, FetchSpec, Group, Method};
use crate::probe::{self, Prepared};
use crate::record::sink::write_csv;
use crate::run::{self, RunError, RunOptions};
use crate::testbed::{write_demo_campaign, Lab, Scenario};

pub const EXIT_OUTPUT: i32 = 1;
pub const EXIT_USAGE: i32 = 2;
pub const EXIT_INTERRUPTED: i32 = 130;

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
            eprintln!("slowlane: cannot start the runtime: {e}");
            return EXIT_OUTPUT;
        }
    };
    rt.block_on(async {
        match cli.command {
            Command::Fetch(a) => fetch_cmd(a).await,
            Command::Run(a) => run_cmd(a).await,
            Command::Analyze(a) => analyze_cmd(a),
            Command::Testbed(a) => testbed_cmd(a).await,
            Command::Demo(a) => demo_cmd(a).await,
        }
    })
}

async fn fetch_cmd(a: FetchArgs) -> i32 {
    let url = match a.url.parse::<http::Uri>() {
        Ok(u) if u.host().is_some() => u,
        _ => {
            eprintln!("slowlane: invalid URL {:?}", a.url);
            return EXIT_USAGE;
        }
    };
    let options = FetchOptions {
        max_time: a.max_time,
        max_bytes: a.max_bytes,
        connect_timeout: a.connect_timeout,
        tls_timeout: a.tls_timeout,
        ttfb_timeout: a.ttfb_timeout,
        window: a.window,
        alpn: if a.http1 {
            vec!["http/1.1".into()]
        } else {
            FetchOptions::default().alpn
        },
        cacert: a.net.cacert,
        insecure: a.net.insecure,
        resolve: a.net.resolve,
        connect_to: a.net.connect_to,
    };
    let spec = FetchSpec {
        url,
        class: a.class.map(Into::into),
        group: Group::Target,
        sni: a.sni,
        host: a.host,
        method: if a.upload.is_some() {
            Method::Post
        } else {
            Method::Get
        },
        upload: a.upload.unwrap_or(0),
        label: String::new(),
        options,
    };
    let prepared = match Prepared::new(spec) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("slowlane: {e:#}");
            return EXIT_USAGE;
        }
    };
    let mut rec = probe::fetch(&prepared).await;
    rec.fetch_id = "1".into();
    rec.vantage = config::hostname();
    for w in &mut rec.timeline {
        w.fetch_id = "1".into();
    }
    let mut out = std::io::stdout().lock();
    let res = match a.format {
        FetchFormat::Text => out
            .write_all(crate::report::fetch::render(&rec, a.timeline).as_bytes())
            .map_err(anyhow::Error::from),
        FetchFormat::Csv => write_csv(&mut out, std::slice::from_ref(&rec))
            .and_then(|_| {
                if a.timeline {
                    writeln!(out)?;
                    write_csv(&mut out, &rec.timeline)?;
                }
                Ok(())
            })
            .map_err(anyhow::Error::from),
        FetchFormat::Json => {
            let mut v = serde_json::to_value(&rec).expect("record serialises");
            if a.timeline {
                v["timeline"] = serde_json::to_value(&rec.timeline).expect("timeline serialises");
            }
            serde_json::to_writer_pretty(&mut out, &v)
                .map_err(anyhow::Error::from)
                .and_then(|_| writeln!(out).map_err(Into::into))
        }
    };
    match res {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("slowlane: cannot write output: {e}");
            EXIT_OUTPUT
        }
    }
}

async fn run_cmd(a: RunArgs) -> i32 {
    let mut campaign = match config::load_campaign(&a.campaign) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("slowlane: {e}");
            return EXIT_USAGE;
        }
    };
    campaign.apply(&CliOverrides {
        rounds: a.rounds,
        resolve: a.net.resolve,
        connect_to: a.net.connect_to,
        cacert: a.net.cacert,
        insecure: a.net.insecure,
        seed: a.seed,
        out: a.out,
    });
    run_and_report(campaign, RunOptions { quiet: a.quiet }).await
}

/// Run a loaded campaign and print the end-of-run report (shared with `demo`).
pub async fn run_and_report(campaign: config::Campaign, opts: RunOptions) -> i32 {
    match run::run_campaign(campaign, opts).await {
        Ok(o) => {
            println!(
                "{} fetches ({} failed) in {} rounds, seed {}, written to {}",
                o.fetches,
                o.errors,
                o.rounds,
                o.seed,
                o.out.display()
            );
            print!("{}", o.table.render());
            // Verdicts over everything in the output directory (all runs of
            // this campaign there), the same code as `slowlane analyze DIR`.
            if let Err(e) = verdicts_for(&o.out, &AnalyzeOptions::default()) {
                eprintln!("slowlane: analysis failed: {e:#}");
                return EXIT_OUTPUT;
            }
            if o.interrupted {
                EXIT_INTERRUPTED
            } else {
                0
            }
        }
        Err(e @ RunError::Config(_)) => {
            eprintln!("slowlane: {e}");
            EXIT_USAGE
        }
        Err(e @ RunError::Output(_)) => {
            eprintln!("slowlane: cannot write output: {e}");
            EXIT_OUTPUT
        }
    }
}

async fn testbed_cmd(a: TestbedArgs) -> i32 {
    let scenario = match Scenario::load(&a.scenario) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("slowlane: {e:#}");
            return EXIT_USAGE;
        }
    };
    let lab = match Lab::start(&scenario, a.listen, &a.dir).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("slowlane: cannot start the testbed: {e:#}");
            return EXIT_OUTPUT;
        }
    };
    print!("{}", lab.describe());
    println!("(Ctrl-C to stop)");
    let _ = std::io::stdout().flush();
    let _ = lab.run_until(tokio::signal::ctrl_c()).await;
    0
}

/// The lab on loopback plus a campaign through the real `run` path: the only
/// difference from a field run is the campaign file, which points the URLs at
/// the lab with `connect_to` and trusts the lab CA.
async fn demo_cmd(a: DemoArgs) -> i32 {
    let scenario = match Scenario::load(&a.scenario) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("slowlane: {e:#}");
            return EXIT_USAGE;
        }
    };
    let out = a.out.unwrap_or_else(|| {
        std::path::PathBuf::from(format!("slowlane-out/demo-{}", scenario.name))
    });
    let listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let lab = match Lab::start(&scenario, listen, &out).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("slowlane: cannot start the testbed: {e:#}");
            return EXIT_OUTPUT;
        }
    };
    let path = match write_demo_campaign(&scenario, &lab, &out, a.rounds) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("slowlane: {e:#}");
            return EXIT_OUTPUT;
        }
    };
    eprintln!(
        "slowlane demo: scenario {} — lab middlebox on {}, campaign {}",
        scenario.name,
        lab.middlebox_addr(),
        path.display()
    );
    let campaign = match config::load_campaign(&path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("slowlane: {e}");
            return EXIT_USAGE;
        }
    };
    let code = run_and_report(campaign, RunOptions { quiet: a.quiet }).await;
    drop(lab);
    code
}

/// Analyse `dir`, write its verdicts.csv, print the verdict table.
fn verdicts_for(dir: &std::path::Path, opts: &AnalyzeOptions) -> anyhow::Result<()> {
    let rows = analyze::analyze_paths(&[dir.to_path_buf()], opts)?;
    analyze::write_verdicts_csv(&analyze::verdicts_path(dir), &rows)?;
    println!();
    print!("{}", analyze::render(&rows, analyze::Format::Text));
    Ok(())
}

fn analyze_cmd(a: AnalyzeArgs) -> i32 {
    for bad in [("threshold", a.threshold), ("alpha", a.alpha)] {
        if !(bad.1 > 0.0 && bad.1 <= 1.0) {
            eprintln!("slowlane: --{} must be in (0, 1], got {}", bad.0, bad.1);
            return EXIT_USAGE;
        }
    }
    if a.min_n == 0 {
        eprintln!("slowlane: --min-n must be at least 1");
        return EXIT_USAGE;
    }
    let opts = AnalyzeOptions {
        threshold: a.threshold,
        alpha: a.alpha,
        min_n: a.min_n,
        seed: a.seed,
    };
    for p in &a.paths {
        if !p.exists() {
            eprintln!("slowlane: {}: no such file or directory", p.display());
            return EXIT_USAGE;
        }
    }
    let rows = match analyze::analyze_paths(&a.paths, &opts) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("slowlane: {e:#}");
            return EXIT_USAGE;
        }
    };
    let out = a.out.unwrap_or_else(|| {
        let first = &a.paths[0];
        if first.is_dir() {
            first.clone()
        } else {
            first
                .parent()
                .map(|p| p.to_path_buf())
                .unwrap_or_else(|| ".".into())
        }
    });
    if let Err(e) = std::fs::create_dir_all(&out)
        .map_err(anyhow::Error::from)
        .and_then(|_| analyze::write_verdicts_csv(&analyze::verdicts_path(&out), &rows))
    {
        eprintln!(
            "slowlane: cannot write verdicts to {}: {e:#}",
            out.display()
        );
        return EXIT_OUTPUT;
    }
    let format = match a.format {
        AnalyzeFormat::Text => analyze::Format::Text,
        AnalyzeFormat::Csv => analyze::Format::Csv,
        AnalyzeFormat::Json => analyze::Format::Json,
    };
    print!("{}", analyze::render(&rows, format));
    0
}
