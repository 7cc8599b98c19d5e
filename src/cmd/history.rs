//! `switchboard history`: call history for planners.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};

/// Call-history commands.
#[derive(Debug, Subcommand)]
pub enum HistoryCommand {
    /// Export the server's call records as the per-call CSV the forecasting commands read.
    Export(ExportArgs),
}

/// `history export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The call-record database written by `switchboard serve`.
    #[arg(long)]
    pub db: PathBuf,
    /// Output CSV; `-` for standard output.
    #[arg(long)]
    pub out: PathBuf,
}

/// Runs a history command.
pub fn run(command: HistoryCommand) -> anyhow::Result<()> {
    match command {
        HistoryCommand::Export(args) => export(args),
    }
}

fn export(args: ExportArgs) -> anyhow::Result<()> {
    let rows = if args.out.as_os_str() == "-" {
        let stdout = std::io::stdout();
        let mut lock = stdout.lock();
        match switchboard_server::records::export_csv(&args.db, &mut lock) {
            Ok(rows) => rows,
            // `| head` closing the pipe is not an error.
            Err(e)
                if e.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe) =>
            {
                0
            }
            Err(e) => return Err(e),
        }
    } else {
        let file = std::fs::File::create(&args.out)
            .with_context(|| format!("cannot create {}", args.out.display()))?;
        let mut out = std::io::BufWriter::new(file);
        let rows = switchboard_server::records::export_csv(&args.db, &mut out)?;
        std::io::Write::flush(&mut out)
            .with_context(|| format!("cannot write {}", args.out.display()))?;
        eprintln!("{}: {rows} calls", args.out.display());
        rows
    };
    let _ = rows;
    Ok(())
}
