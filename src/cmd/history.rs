//! `switchboard history`: call history for planners.

use std::path::PathBuf;

use std::io::Write;

use anyhow::Context;
use clap::{Args, Subcommand};

/// Call-history commands.
#[derive(Debug, Subcommand)]
pub enum HistoryCommand {
    /// Export the server's call records as the per-call CSV the forecasting commands read.
    Export(ExportArgs),
    /// Generate realistic synthetic history (daily and weekly shapes, trend, noise, closed
    /// hours, holidays): demo data for planners.
    Generate(GenerateArgs),
}

/// `history generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Output CSV; `-` for standard output.
    #[arg(long)]
    pub out: PathBuf,
    /// `calls` (one row per call, like `history export`) or `intervals`
    /// (`interval_start,queue,calls,aht_s`).
    #[arg(long, default_value = "calls")]
    pub format: String,
    /// Interval length of `--format intervals`.
    #[arg(long, default_value = "30m")]
    pub interval: String,
    /// First local date (YYYY-MM-DD).
    #[arg(long, default_value = "2026-01-05")]
    pub start: String,
    /// Number of weeks.
    #[arg(long, default_value_t = 16)]
    pub weeks: u32,
    /// IANA time zone of the center's opening hours (weekdays 08-20, Saturday 09-17).
    #[arg(long, default_value = "America/New_York")]
    pub tz: String,
    /// Queues as NAME:CALLS_PER_WEEK:AHT_SECONDS, comma separated; the default matches the
    /// queues of deploy/examples/contact-center.toml.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "billing:2400:300,technical:1800:420,sales:1500:240,vip:300:360"
    )]
    pub queues: Vec<String>,
    /// Volume growth per week, in percent.
    #[arg(long, default_value_t = 0.5)]
    pub trend_pct: f64,
    /// Standard deviation of the random factor per day, in percent.
    #[arg(long, default_value_t = 6.0)]
    pub day_noise_pct: f64,
    /// Stay open on public holidays.
    #[arg(long)]
    pub no_holidays: bool,
    /// Also write the holidays (closed days) to this file, one date per line (for
    /// `forecast --holidays-file`).
    #[arg(long)]
    pub holidays_out: Option<PathBuf>,
    /// Seed: the same seed gives the same history.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
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
        HistoryCommand::Generate(args) => generate(args),
    }
}

fn generate(args: GenerateArgs) -> anyhow::Result<()> {
    use switchboard_wfm::generate::{
        generate_calls, generate_intervals, write_calls_csv, write_intervals_csv, GeneratorConfig,
        QueueProfile,
    };
    let tz = super::forecast::parse_tz(&args.tz)?;
    let start = args
        .start
        .parse()
        .with_context(|| format!("--start: {:?} is not a date like 2026-01-05", args.start))?;
    if args.weeks == 0 || args.weeks > 520 {
        anyhow::bail!("--weeks: {} is not between 1 and 520", args.weeks);
    }
    let mut queues = Vec::new();
    for spec in &args.queues {
        let parts: Vec<&str> = spec.split(':').map(str::trim).collect();
        let parsed = match parts.as_slice() {
            [name, calls, aht] if !name.is_empty() => calls
                .parse::<f64>()
                .ok()
                .zip(aht.parse::<f64>().ok())
                .filter(|(c, a)| c.is_finite() && *c >= 0.0 && a.is_finite() && *a > 0.0),
            _ => None,
        };
        let Some((calls_per_week, aht_s)) = parsed else {
            anyhow::bail!(
                "--queues: {spec:?} is not NAME:CALLS_PER_WEEK:AHT_SECONDS like sales:4000:240"
            );
        };
        queues.push(QueueProfile { name: parts[0].to_string(), calls_per_week, aht_s });
    }
    if !(-20.0..=20.0).contains(&args.trend_pct) || !(0.0..=50.0).contains(&args.day_noise_pct) {
        anyhow::bail!("--trend-pct must be within ±20 and --day-noise-pct within 0..50");
    }
    let config = GeneratorConfig {
        start,
        weeks: args.weeks,
        tz,
        queues,
        trend_per_week: args.trend_pct / 100.0,
        day_noise: args.day_noise_pct / 100.0,
        holidays: !args.no_holidays,
        seed: args.seed,
    };
    let mut out: Box<dyn std::io::Write> = if args.out.as_os_str() == "-" {
        Box::new(std::io::BufWriter::new(std::io::stdout().lock()))
    } else {
        let file = std::fs::File::create(&args.out)
            .with_context(|| format!("cannot create {}", args.out.display()))?;
        Box::new(std::io::BufWriter::new(file))
    };
    let (rows, holidays) = match args.format.as_str() {
        "calls" => {
            let generated = generate_calls(&config);
            write_calls_csv(&generated.calls, &tz, &mut out)?;
            (generated.calls.len(), generated.holidays)
        }
        "intervals" => {
            let interval = switchboard_wfm::units::IntervalLength::parse(&args.interval)
                .context("--interval")?;
            let generated = generate_intervals(&config, interval);
            write_intervals_csv(&generated.rows, &tz, &mut out)?;
            (generated.rows.len(), generated.holidays)
        }
        other => anyhow::bail!("--format: {other:?} is neither calls nor intervals"),
    };
    out.flush().with_context(|| format!("cannot write {}", args.out.display()))?;
    if let Some(path) = &args.holidays_out {
        let text: String = holidays.iter().map(|d| format!("{d}\n")).collect();
        std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    let listed: Vec<String> = holidays.iter().map(|d| d.to_string()).collect();
    eprintln!(
        "{}: {rows} {} rows over {} weeks from {start}; holidays (closed): {}",
        args.out.display(),
        args.format,
        args.weeks,
        if listed.is_empty() { "none".to_string() } else { listed.join(", ") }
    );
    Ok(())
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
