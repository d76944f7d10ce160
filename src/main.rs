//! `slowlane` binary: parse the command line, dispatch, map errors to exit codes.

use std::process::ExitCode;

use clap::Parser;

/// mimalloc: `analyze` over many vantages makes millions of small
/// allocations (per-row samples, reason strings); with glibc's allocator
/// those cost 40% of the run, with mimalloc a fraction of that.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = slowlane::cli::Cli::parse();
    let code = slowlane::app::main(cli);
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
