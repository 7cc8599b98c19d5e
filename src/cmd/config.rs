//! `switchboard config check FILE`: validate a contact-center configuration.

use std::path::PathBuf;

use clap::{Args, Subcommand};

/// Configuration commands.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate a configuration: exit 0 if it is sound, else list every problem with its
    /// file, line and path and exit 1.
    Check(CheckArgs),
}

/// Arguments of `config check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The configuration file (TOML).
    pub file: PathBuf,
}

/// Runs a configuration command.
pub fn run(command: ConfigCommand) -> anyhow::Result<()> {
    match command {
        ConfigCommand::Check(args) => {
            let (config, customers) = super::load_config(&args.file)?;
            println!(
                "{}: ok ({} queues, {} agents, {} calendars, {} plans, {} entry points, {} customers)",
                args.file.display(),
                config.queues.len(),
                config.agents.len(),
                config.calendars.len(),
                config.plans.len(),
                config.entry_points.len(),
                customers.len()
            );
            Ok(())
        }
    }
}
