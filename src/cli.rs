//! Command-line definitions (clap derive). Parsing only: `main` dispatches.

use std::path::PathBuf;
use std::time::Duration;

use crate::analyze;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::bounds::{
    parse_fetch_time, parse_max_bytes, parse_rounds, parse_upload, parse_window,
};
use crate::config::{parse_connect_to, parse_duration, parse_resolve, parse_size};
use crate::plan::Until;
use crate::types::{Class, ConnectTo, Resolve};

#[derive(Debug, Parser)]
#[command(name = "slowlane", version, about = "Measure selective network throttling", long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// One measured fetch over a fresh TCP+TLS connection.
    Fetch(FetchArgs),
    /// Run a campaign of repeated fetches and append the results to CSV.
    Run(RunArgs),
    /// What a campaign will cost before it runs: fetches, bytes, time.
    Plan(PlanArgs),
    /// Verdicts from one or more output directories or fetches.csv files.
    Analyze(AnalyzeArgs),
    /// One self-contained HTML page (and Markdown, SVGs) of verdicts and plots.
    Report(ReportArgs),
    /// Run the throttling lab (origin + DPI-style middlebox) until Ctrl-C.
    Testbed(TestbedArgs),
    /// Start the lab on loopback, run a scenario's campaign through it, report.
    Demo(DemoArgs),
    /// Run a reflector for same-server SNI A/B tests (docs/reflector.md).
    Serve(ServeArgs),
    /// Find what a DPI rule matches: trials of changed names against a reflector.
    Trigger(TriggerArgs),
}

#[derive(Debug, Args)]
pub struct TriggerArgs {
    /// The name that triggers the throttle (e.g. pbs.twimg.com).
    pub name: String,
    /// The reflector: https://HOST:PORT of `slowlane serve`.
    #[arg(long, value_name = "URL")]
    pub reflector: String,
    /// The reflector's certificate pin (sha256:…).
    #[arg(long, value_name = "PIN")]
    pub pin: crate::types::Pin,
    /// Innocuous control names (repeatable; default example.com, example.org).
    #[arg(long = "control", value_name = "NAME")]
    pub controls: Vec<String>,
    /// Download size per fetch.
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = "512KiB")]
    pub size: u64,
    /// Per-fetch cap.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "3s")]
    pub max_time: Duration,
    /// Rounds a trial takes at most (it stops earlier once decided).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(5..=100))]
    pub max_rounds: u32,
    /// Idle time between fetches (lets per-address state show).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "1s")]
    pub gap: Duration,
    /// Send `Authorization: Bearer TOKEN` (a `serve --token` reflector).
    #[arg(long, value_name = "TOKEN")]
    pub token: Option<String>,
    /// Write trials.csv here.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Print the number of trials and bytes at most, and stop.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "0.0.0.0:443")]
    pub listen: std::net::SocketAddr,
    /// Directory for the certificate, key and request log.
    #[arg(long, default_value = "slowlane-serve")]
    pub state: PathBuf,
    /// Certificate chain (PEM) to present instead of the generated one.
    #[arg(long, requires = "key", value_name = "PEM")]
    pub cert: Option<PathBuf>,
    /// Private key (PEM) of --cert.
    #[arg(long, requires = "cert", value_name = "PEM")]
    pub key: Option<PathBuf>,
    /// Require `Authorization: Bearer TOKEN` on every request.
    #[arg(long, value_name = "TOKEN")]
    pub token: Option<String>,
    /// Connections served at once; more are closed at accept.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_conns: u32,
    /// Largest download or upload per request.
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = "64MiB")]
    pub max_bytes: u64,
    /// Requests per client address per minute (0 = no limit).
    #[arg(long, default_value_t = 600)]
    pub per_minute: u32,
    /// Deadline for the TLS hello + handshake and for each request head.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "10s")]
    pub header_timeout: Duration,
    /// Longest life of one connection.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "10m")]
    pub max_conn_time: Duration,
    /// Request log (CSV); default STATE/requests.csv.
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct TestbedArgs {
    /// Scenario name (twitter-2021, clean, shaper, freeze, reset, clean-fast,
    /// congested, partial, deep-queue, youtube-2024, quic-block, tspu-2025) or a
    /// TOML path.
    #[arg(long, default_value = "twitter-2021")]
    pub scenario: String,
    /// Address to listen on (port 0 = ephemeral ports).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: std::net::SocketAddr,
    /// Directory to write the lab CA certificate to.
    #[arg(long, default_value = "slowlane-testbed")]
    pub dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Scenario name (twitter-2021, clean, shaper, freeze, reset, clean-fast,
    /// congested, partial, deep-queue, youtube-2024, quic-block, tspu-2025) or a
    /// TOML path.
    #[arg(long, default_value = "twitter-2021")]
    pub scenario: String,
    /// Output directory (default ./slowlane-out/demo-<scenario>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Rounds (default: the scenario's).
    #[arg(long, value_parser = parse_rounds)]
    pub rounds: Option<u32>,
    /// Shuffle seed (default random; always recorded): the same seed gives
    /// the same fetch order.
    #[arg(long)]
    pub seed: Option<u64>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// Overrides shared by `fetch` and `run`.
#[derive(Debug, Args, Default, Clone)]
pub struct NetArgs {
    /// Use ADDR for HOST:PORT instead of DNS (curl syntax HOST:PORT:ADDR).
    #[arg(long, value_name = "HOST:PORT:ADDR", value_parser = parse_resolve)]
    pub resolve: Vec<Resolve>,
    /// Connect to H2:P2 for requests to H1:P1 (curl syntax; empty H1/P1 = any).
    #[arg(long = "connect-to", value_name = "H1:P1:H2:P2", value_parser = parse_connect_to)]
    pub connect_to: Vec<ConnectTo>,
    /// Extra trusted CA certificates (PEM).
    #[arg(long, value_name = "FILE")]
    pub cacert: Vec<PathBuf>,
    /// Do not verify the server certificate.
    #[arg(long)]
    pub insecure: bool,
}

impl NetArgs {
    /// The campaign overrides these flags make (`run` and `plan` share them);
    /// the caller fills in its own (`rounds`, `out`, …).
    pub fn overrides(self) -> crate::config::CliOverrides {
        crate::config::CliOverrides {
            resolve: self.resolve,
            connect_to: self.connect_to,
            cacert: self.cacert,
            insecure: self.insecure,
            ..Default::default()
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum FetchFormat {
    Text,
    Csv,
    Json,
}

/// `fetch` exit codes (curl's numbers): see [`crate::fetch_exit`].
#[derive(Debug, Args)]
#[command(
    after_help = "Exit codes: 0 fetched (or only capped by --max-time/--max-bytes), \
6 DNS failure, 7 TCP connect failed (refused, unreachable), 28 timeout, \
35 TLS handshake failed, 60 server certificate not accepted, \
96 QUIC handshake failed (--http3; an unanswered one is 28, an ICMP-refused one 7), \
56 connection failed after the handshake, 22 HTTP status >= 400 with --fail; \
1 output not written, 2 bad usage. --fail-ok: 0 for any fetch outcome."
)]
pub struct FetchArgs {
    /// The URL to fetch (https:// or http://).
    pub url: String,
    #[command(flatten)]
    pub net: NetArgs,
    /// TLS SNI to send instead of the URL host ("" sends none).
    #[arg(long)]
    pub sni: Option<String>,
    /// Host header / :authority override.
    #[arg(long)]
    pub host: Option<String>,
    /// Cap on the whole fetch; reaching it is data (capped=time), not an error.
    #[arg(long, value_name = "DURATION", value_parser = parse_fetch_time, default_value = "20s")]
    pub max_time: Duration,
    /// Cap on body bytes; reaching it is data (capped=bytes).
    #[arg(long, value_name = "SIZE", value_parser = parse_max_bytes, default_value = "16MiB")]
    pub max_bytes: u64,
    /// Give up on the DNS lookup, and separately on the TCP connect, after
    /// this long (error generic_timeout_error, exit 28).
    #[arg(long, value_name = "DURATION", value_parser = parse_fetch_time, default_value = "10s")]
    pub connect_timeout: Duration,
    /// Give up on the TLS handshake after this long (exit 28).
    #[arg(long, value_name = "DURATION", value_parser = parse_fetch_time, default_value = "10s")]
    pub tls_timeout: Duration,
    /// Give up waiting for the response headers after this long (exit 28).
    #[arg(long, value_name = "DURATION", value_parser = parse_fetch_time, default_value = "10s")]
    pub ttfb_timeout: Duration,
    /// Offer only HTTP/1.1 in ALPN.
    #[arg(long, conflicts_with = "http3")]
    pub http1: bool,
    /// HTTP/3 over QUIC (UDP) instead of TCP. QUIC only: a QUIC failure is
    /// reported as such, never retried over TCP.
    #[arg(long)]
    pub http3: bool,
    /// Accept exactly the server certificate with this pin
    /// (`sha256:<hex>`, as `slowlane serve` prints it) instead of checking
    /// CAs and names.
    #[arg(long, value_name = "PIN")]
    pub pin: Option<crate::types::Pin>,
    /// Send the ClientHello in two TCP segments split inside the SNI.
    #[arg(long, conflicts_with = "variant")]
    pub split_hello: bool,
    /// Send the ClientHello as this A/B variant (docs/reflector.md):
    /// split-hello, split:N, split:sni, tls-records, disorder, oob,
    /// trailing-dot, upper-case, no-sni, pq, and against `slowlane serve`
    /// only pad, ccs-first, junk-first. Recorded in `variant`.
    #[arg(long, value_name = "V", value_parser = parse_wire)]
    pub variant: Option<crate::types::Wire>,
    /// Key shares the ClientHello offers: classic (X25519) or pq (a real
    /// X25519MLKEM768 share first, as browsers send since 2024: the hello
    /// no longer fits one segment). See `hello_bytes`, `hello_segments`.
    #[arg(long, value_name = "HELLO", value_parser = parse_hello, default_value = "classic")]
    pub hello: crate::types::Hello,
    /// Extra request header `Name: value` (repeatable); replaces slowlane's
    /// own of the same name (User-Agent, Accept). The value is never printed.
    // Checked in `app`, not by clap: clap's error would quote the value.
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// Send `Authorization: Bearer TOKEN` (a `slowlane serve --token`
    /// reflector). Never printed.
    #[arg(long, value_name = "TOKEN")]
    pub token: Option<String>,
    /// Connect over IPv4 only (the first IPv4 address; none: dns_no_answer).
    #[arg(short = '4', long = "ipv4", conflicts_with = "ipv6")]
    pub ipv4: bool,
    /// Connect over IPv6 only.
    #[arg(short = '6', long = "ipv6")]
    pub ipv6: bool,
    /// POST this many random bytes instead of GET.
    #[arg(long, value_name = "SIZE", value_parser = parse_upload)]
    pub upload: Option<u64>,
    /// Width of the bytes-over-time windows.
    #[arg(long, value_name = "DURATION", value_parser = parse_window, default_value = "100ms")]
    pub window: Duration,
    /// Content class to record (default: from Content-Type, else extension).
    #[arg(long, value_enum)]
    pub class: Option<ClassArg>,
    /// Output: a readable block, the fetches.csv row with header, or JSON.
    #[arg(long, value_enum, default_value = "text")]
    pub format: FetchFormat,
    /// Also output the per-window timeline (timeline.csv columns). Bare
    /// `--timeline` or `--timeline=-`: to stdout (text: in the block; csv:
    /// after a blank line; json: a "timeline" array). `--timeline=FILE`:
    /// written to FILE as CSV, stdout keeps the fetch alone.
    #[arg(long, value_name = "FILE", num_args = 0..=1, require_equals = true, default_missing_value = "-")]
    pub timeline: Option<PathBuf>,
    /// Exit 22 when the response status is 400 or more (like curl --fail).
    #[arg(long)]
    pub fail: bool,
    /// Exit 0 whatever happened to the fetch (failures stay in the output).
    #[arg(long, conflicts_with = "fail")]
    pub fail_ok: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ClassArg {
    Text,
    Image,
    Video,
    Audio,
    Other,
}

impl From<ClassArg> for Class {
    fn from(c: ClassArg) -> Class {
        match c {
            ClassArg::Text => Class::Text,
            ClassArg::Image => Class::Image,
            ClassArg::Video => Class::Video,
            ClassArg::Audio => Class::Audio,
            ClassArg::Other => Class::Other,
        }
    }
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The campaign file (TOML).
    pub campaign: PathBuf,
    /// Output directory (default: the campaign's `out`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Vantage-point name written to every row (default: the campaign's
    /// `vantage`, else the host name).
    #[arg(long, value_parser = parse_vantage)]
    pub vantage: Option<String>,
    /// Number of rounds (replaces the campaign's rounds/duration).
    #[arg(long, value_parser = parse_rounds)]
    pub rounds: Option<u32>,
    /// Stop when every target row is decided (`decided`; the budget is
    /// then rounds/duration/--max-total-bytes), or run the whole budget
    /// (`budget`). Replaces the campaign's `until`.
    #[arg(long, value_name = "decided|budget", value_parser = parse_until)]
    pub until: Option<Until>,
    /// Byte budget of the run (body bytes down + up): no round starts once
    /// it is reached. Replaces the campaign's `max_total_bytes`.
    #[arg(long, value_name = "SIZE", value_parser = parse_max_bytes)]
    pub max_total_bytes: Option<u64>,
    #[command(flatten)]
    pub net: NetArgs,
    /// Shuffle seed (default: the campaign's, else random; always recorded).
    #[arg(long)]
    pub seed: Option<u64>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// Continue the latest run in the output directory (same run_id, seed
    /// and round numbering; a round cut by a crash runs again whole) if the
    /// campaign is unchanged; refused if it changed; a new run if there is
    /// nothing left to resume. For restarts after a crash or a reboot.
    #[arg(long, conflicts_with = "once")]
    pub resume: bool,
    /// Run exactly one round and exit (for cron or a systemd timer): the
    /// next round of the latest run of this campaign in the output
    /// directory, or round 0 of a new run. rounds/duration/interval are
    /// ignored: the caller schedules.
    #[arg(long, conflicts_with = "rounds")]
    pub once: bool,
    /// After SIGTERM/SIGHUP/Ctrl-C, how long fetches in flight may still run
    /// before they are cut (and written with capped=stop).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "5s")]
    pub grace: Duration,
}

fn parse_until(s: &str) -> Result<Until, String> {
    Until::parse(s)
}

/// A `--vantage` value: non-empty, no control characters (it is written to
/// every CSV row and used as a directory name by fleet tooling).
fn parse_vantage(s: &str) -> Result<String, String> {
    if s.trim().is_empty() {
        return Err("a vantage name cannot be empty".into());
    }
    if s.chars().any(char::is_control) {
        return Err("a vantage name cannot contain control characters".into());
    }
    Ok(s.to_string())
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The campaign file (TOML).
    pub campaign: PathBuf,
    /// Output directory whose earlier runs size the downloads (default: the
    /// campaign's `out`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Number of rounds (replaces the campaign's rounds/duration).
    #[arg(long, value_parser = parse_rounds)]
    pub rounds: Option<u32>,
    /// Stop when every target row is decided (`decided`; the budget is
    /// then rounds/duration/--max-total-bytes), or run the whole budget
    /// (`budget`). Replaces the campaign's `until`.
    #[arg(long, value_name = "decided|budget", value_parser = parse_until)]
    pub until: Option<Until>,
    /// Byte budget of the run (body bytes down + up): no round starts once
    /// it is reached. Replaces the campaign's `max_total_bytes`.
    #[arg(long, value_name = "SIZE", value_parser = parse_max_bytes)]
    pub max_total_bytes: Option<u64>,
    /// Learn each download's size from one short fetch (response
    /// `Content-Length`, body capped at 1 byte). Sends traffic; uploads are
    /// never probed.
    #[arg(long)]
    pub probe: bool,
    #[command(flatten)]
    pub net: NetArgs,
    /// Output: a readable summary, or JSON with one entry per URL.
    #[arg(long, value_enum, default_value = "text")]
    pub format: PlanFormat,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum PlanFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum AnalyzeFormat {
    Text,
    Csv,
    Json,
}

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// Output directories of `run`, fetches.csv files, or a tree of them such
    /// as results/ after collect.yml (walked for fetches.csv; folders of
    /// outputs only, like results/merged/, are left out).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Where to write verdicts.csv (default: the first PATH's directory).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// What to print.
    #[arg(long, value_enum, default_value = "text")]
    pub format: AnalyzeFormat,
    /// Throttled needs median rate target/control at or below this.
    #[arg(long, default_value_t = 0.5)]
    pub threshold: f64,
    /// False discovery rate: a row is throttled or partial only when its
    /// test's Benjamini-Hochberg q-value (over the tests at its vantage) is below this.
    #[arg(long, default_value_t = 0.01)]
    pub alpha: f64,
    /// Throttled needs at least this many fetches on each side.
    #[arg(long, default_value_t = 5)]
    pub min_n: usize,
    /// Seed of the bootstrap confidence intervals.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Print only rows with these verdicts, e.g. `throttled,partial,blocked`
    /// (verdicts.csv always holds every row).
    #[arg(long, value_name = "VERDICTS")]
    pub only: Option<analyze::Only>,
    /// Exit 2 when any input row is unusable (torn, wrong column count, bad
    /// number, unknown class/group/direction) instead of skipping it with a warning.
    #[arg(long)]
    pub strict: bool,
    /// Judge every run alone (its vantage becomes VANTAGE/RUN_ID) instead of
    /// pooling all runs of a vantage; see docs/method.md.
    #[arg(long)]
    pub by_run: bool,
    /// Also count the vantages' class verdicts per group: a column of
    /// vantages.csv (`country`, `isp`, `access`, …) or `prefix:N` (the first
    /// N `-`-parts of the vantage name). Written to groups.csv; see docs/fleet.md.
    #[arg(long, value_name = "COLUMN|prefix:N")]
    pub group_by: Option<analyze::aggregate::groups::GroupBy>,
    /// Merge the verdicts.csv files (or folders holding one) given as PATHs
    /// — each vantage analysed where its data are, e.g. `collect.yml` with
    /// `slowlane_analyze_on_host` — into the verdicts.csv, groups.csv and
    /// output of analysing all their fetches in one place (needs --out; the
    /// analysis options were the hosts'). See docs/fleet.md.
    #[arg(long, requires = "out")]
    pub merge_verdicts: bool,
    /// The vantage → group table for --group-by (CSV with a `vantage`
    /// column; default: the nearest vantages.csv beside the first PATH or
    /// above it, else in the current directory).
    #[arg(long, value_name = "FILE", requires = "group_by")]
    pub vantages: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Output directories of `run` or fetches.csv files (several vantages at once).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Where to write index.html, report.md and the SVGs (default: `report/`
    /// in the one PATH's directory; required with several PATHs).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Title of the page [default: "slowlane report: " and the campaign names]
    #[arg(long)]
    pub title: Option<String>,
    /// Vantages that get a section of their own, most throttled first (the
    /// cross-vantage matrix always covers all).
    #[arg(long, default_value_t = 50)]
    pub max_vantages: usize,
}

fn parse_wire(s: &str) -> Result<crate::types::Wire, String> {
    s.parse()
}

fn parse_hello(s: &str) -> Result<crate::types::Hello, String> {
    s.parse()
}
