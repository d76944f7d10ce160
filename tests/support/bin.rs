//! The built binary, and a runtime of their own for the servers of tests
//! that run it synchronously.

use std::future::Future;
use std::ops::Deref;
use std::path::Path;
use std::process::{Command, Output};

use tokio::runtime::Runtime;

pub const BIN: &str = env!("CARGO_BIN_EXE_slowlane");

/// `slowlane`, to be given its arguments.
pub fn slowlane() -> Command {
    Command::new(BIN)
}

/// `slowlane run CAMPAIGN --quiet ARGS…`, to be run or spawned.
pub fn run_cmd(campaign: &Path, args: &[&str]) -> Command {
    let mut cmd = slowlane();
    cmd.arg("run").arg(campaign).arg("--quiet").args(args);
    cmd
}

/// [`run_cmd`] with `env`, to completion.
pub fn run(campaign: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = run_cmd(campaign, args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `slowlane demo --scenario clean-fast --rounds 1 --quiet [--out OUT]`: the
/// lab and the whole run path in a few seconds.
pub fn quick_demo(out: Option<&Path>) -> Command {
    let mut c = slowlane();
    c.args([
        "demo",
        "--scenario",
        "clean-fast",
        "--rounds",
        "1",
        "--quiet",
    ]);
    if let Some(out) = out {
        c.arg("--out").arg(out);
    }
    c
}

/// A server (test server, lab) running on a runtime of its own, so a test
/// can block on the binary meanwhile. Derefs to the server; the server is
/// dropped before its runtime.
pub struct Background<T> {
    value: T,
    _rt: Runtime,
}

impl<T> Deref for Background<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

/// Starts what `start` makes on a new multi-thread runtime.
pub fn in_background<T>(start: impl Future<Output = T>) -> Background<T> {
    let rt = Runtime::new().unwrap();
    let value = rt.block_on(start);
    Background { value, _rt: rt }
}
