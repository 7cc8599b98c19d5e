//! `switchboard`: the command-line entry point.

mod cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Contact-center call routing and workforce-management engine.
#[derive(Debug, Parser)]
#[command(name = "switchboard", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check contact-center configuration files.
    #[command(subcommand)]
    Config(cmd::config::ConfigCommand),
    /// Dry-run one call through the routing plans and print the decision and its trace.
    Route(cmd::route::RouteArgs),
    /// Run the routing server (gRPC + HTTP).
    Serve(cmd::serve::ServeArgs),
    /// Call history: export the server's call records.
    #[command(subcommand)]
    History(cmd::history::HistoryCommand),
    /// Simulate traffic through the routing plans on a virtual clock, beside Erlang.
    Simulate(cmd::simulate::SimulateArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Config(command) => cmd::config::run(command),
        Command::Route(args) => cmd::route::run(args),
        Command::Serve(args) => cmd::serve::run(args),
        Command::History(command) => cmd::history::run(command),
        Command::Simulate(args) => cmd::simulate::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
