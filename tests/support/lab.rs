//! The lab on loopback, and the binary or the engine pointed at it.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

use slowlane::run::RunOutcome;
use slowlane::serve::{Limits, Reflector, ServeConfig};
use slowlane::testbed::middlebox::{self, Middlebox, MiddleboxConfig};
use slowlane::testbed::{write_demo_campaign, ConnLog, Lab, Scenario};
use slowlane::types::FetchOptions;

use super::bin::{in_background, slowlane, Background};
use super::engine::run_quiet;

/// A scenario with the given `[[rule]]` TOML and a one-URL campaign.
pub fn scenario(rules: &str, reassemble: bool) -> Scenario {
    Scenario::parse(&format!(
        "name = \"test\"\ndescription = \"test\"\nreassemble = {reassemble}\n{rules}\n\
         [campaign]\nrounds = 1\nconcurrency = 1\nmax_time = \"2s\"\n\
         [[campaign.url]]\nurl = \"https://pbs.twimg.com/image/1000.jpg\"\n\
         class = \"image\"\ngroup = \"target\"\nlabel = \"t\"\n"
    ))
    .unwrap()
}

/// A lab for `s` on 127.0.0.1 (ephemeral ports), its CA written in `dir`.
pub async fn lab_in(s: &Scenario, dir: &Path) -> Lab {
    Lab::start(s, SocketAddr::from(([127, 0, 0, 1], 0)), dir)
        .await
        .unwrap()
}

/// A lab for `s` on loopback, with its CA in a fresh temp dir.
pub async fn lab(s: &Scenario) -> (Lab, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let lab = lab_in(s, dir.path()).await;
    (lab, dir)
}

/// `s`'s own campaign (`rounds` of it, or its preset's) run quietly against
/// a fresh lab, from `vantage` with `seed`, into `out` (which holds the CA).
pub async fn run_lab_campaign(
    s: &Scenario,
    out: &Path,
    rounds: Option<u32>,
    seed: u64,
    vantage: &str,
) -> RunOutcome {
    let lab = lab_in(s, out).await;
    let path = write_demo_campaign(s, &lab, out, rounds).unwrap();
    let mut c = slowlane::config::load_campaign(&path).unwrap();
    c.vantage = vantage.into();
    c.seed = Some(seed);
    run_quiet(c).await
}

/// The built-in scenario `name`'s lab, its CA in `dir`, on a runtime of its
/// own: for synchronous tests that run the binary against it.
pub fn background_lab(name: &str, dir: &Path) -> Background<Lab> {
    let s = Scenario::builtin(name).unwrap();
    in_background(async move { lab_in(&s, dir).await })
}

/// `slowlane ARGS… --cacert CA --connect-to …`: the binary with the lab's
/// CA and every fetch (ports 443 and 80 of any name) sent to the lab.
pub fn slowlane_via(lab: &Lab, args: &[&str]) -> Command {
    let mut cmd = slowlane();
    cmd.args(args).arg("--cacert").arg(lab.ca_path());
    for ct in lab.connect_to() {
        cmd.arg("--connect-to").arg(ct);
    }
    cmd
}

/// The same for the engine in-process: options trusting the lab's CA and
/// sending every fetch to it.
pub fn via_lab(lab: &Lab) -> FetchOptions {
    FetchOptions {
        cacert: vec![lab.ca_path().to_path_buf()],
        connect_to: lab.connect_to_specs(),
        ..FetchOptions::default()
    }
}

/// The middlebox's record of the connection from `local`.
pub fn conn_of(lab: &Lab, local: SocketAddr) -> ConnLog {
    lab.connections()
        .into_iter()
        .rev()
        .find(|c| c.peer == local)
        .expect("middlebox saw the connection")
}

/// `slowlane serve` on loopback with its state in `dir` and no rate limit
/// (a lab test's rounds would trip the per-minute one).
pub async fn reflector(dir: &Path) -> Reflector {
    Reflector::start(ServeConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        state: dir.join("state"),
        cert_key: None,
        token: None,
        limits: Limits {
            per_minute: 0,
            ..Limits::default()
        },
        log: None,
    })
    .await
    .unwrap()
}

/// `slowlane serve` on loopback (its state in `dir`) behind the lab
/// middlebox with the scenario `[[rule]]` tables `rules`.
pub async fn reflector_behind(dir: &Path, rules: &str) -> (Reflector, Middlebox) {
    let refl = reflector(dir).await;
    let s = scenario(rules, false);
    let cfg = MiddleboxConfig::new(s.rules, refl.local_addr(), refl.local_addr());
    let l = middlebox::listen(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
    (refl, Middlebox::start(l, cfg))
}

static ONE_LAB: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Held by a test while its lab runs: labs side by side on two cores skew
/// each other's rates (one binary's tests run in parallel threads).
pub fn one_lab() -> std::sync::MutexGuard<'static, ()> {
    ONE_LAB.lock().unwrap_or_else(|e| e.into_inner())
}
