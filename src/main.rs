//! `slowlane` binary: parse the command line, dispatch, map errors to exit codes.

use clap::Parser;

fn main() {
    let cli = slowlane::cli::Cli::parse();
    std::process::exit(slowlane::app::main(cli));
}
