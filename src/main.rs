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
    /// Call history: export the server's call records, or generate demo history.
    #[command(subcommand)]
    History(cmd::history::HistoryCommand),
    /// Ask a server's gRPC health service whether it is serving (exit 0) or not (exit 1).
    Health(cmd::health::HealthArgs),
    /// Load generator: drive a server with contact-center traffic and measure it.
    #[command(subcommand)]
    Loadgen(cmd::loadgen::LoadgenCommand),
    /// Shifts covering a staffing requirement at least cost, optionally rostered.
    Schedule(cmd::schedule::ScheduleArgs),
    /// Forecast calls and handle time per queue and interval from call history.
    Forecast(cmd::forecast::ForecastArgs),
    /// Erlang C/A: agents needed for one interval's load, or what a headcount achieves.
    Erlang(cmd::erlang::ErlangArgs),
    /// Per-interval agent requirements from a forecast (CSV for the scheduler, SVG chart).
    Staff(cmd::staff::StaffArgs),
    /// Forecast, staffing, shifts and roster in one run, every intermediate in one directory.
    Plan(Box<cmd::plan::PlanArgs>),
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
        Command::Health(args) => cmd::health::run(args),
        Command::Loadgen(command) => cmd::loadgen::run(command),
        Command::Schedule(args) => cmd::schedule::run(args),
        Command::Forecast(args) => cmd::forecast::run(args),
        Command::Erlang(args) => cmd::erlang::run(args),
        Command::Staff(args) => cmd::staff::run(args),
        Command::Simulate(args) => cmd::simulate::run(args),
        Command::Plan(args) => cmd::plan::run(*args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
