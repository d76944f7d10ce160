//! Every command-line flag explains itself (`--help`), and the scenario
//! flags name the built-in scenarios.

use clap::CommandFactory;
use slowlane::cli::Cli;

#[test]
fn every_flag_has_a_help_line() {
    let mut missing = Vec::new();
    let cli = Cli::command();
    for sub in cli.get_subcommands() {
        for arg in sub.get_arguments() {
            let id = arg.get_id().as_str();
            if id == "help" || id == "version" {
                continue;
            }
            if arg
                .get_help()
                .is_none_or(|h| h.to_string().trim().is_empty())
            {
                missing.push(format!("{} --{id}", sub.get_name()));
            }
        }
    }
    assert!(missing.is_empty(), "flags without help: {missing:?}");
}

#[test]
fn scenario_help_lists_every_builtin_scenario() {
    let cli = Cli::command();
    for name in ["demo", "testbed"] {
        let sub = cli.find_subcommand(name).unwrap();
        let arg = sub
            .get_arguments()
            .find(|a| a.get_id() == "scenario")
            .unwrap();
        let help = arg.get_help().unwrap().to_string();
        for s in slowlane::testbed::Scenario::builtin_names() {
            assert!(help.contains(s), "{name} --scenario help lacks {s}: {help}");
        }
    }
}
