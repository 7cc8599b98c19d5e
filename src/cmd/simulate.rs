//! `switchboard simulate`: replay forecast or recorded traffic through the routing plans on a
//! virtual clock and compare with Erlang.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{ArgGroup, Args};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use switchboard_sim::{
    read_forecast, read_history, read_shifts, simulate, HandleModel, Options, Patience, Scenario,
    Staffing, Traffic, DEFAULT_PATIENCE_MEAN_S,
};

/// Simulated calls above which a progress bar is drawn (on a terminal).
const PROGRESS_MIN_CALLS: f64 = 100_000.0;

/// `simulate`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("traffic").required(true).args(["forecast", "history"])))]
#[command(group(ArgGroup::new("staff").required(true).args(["schedule", "agents"])))]
pub struct SimulateArgs {
    /// The contact-center configuration (queues, agents, plans), as `serve` reads it.
    #[arg(long)]
    pub config: PathBuf,
    /// Forecast CSV (`interval_start,queue,calls,aht_s[,method]`, as `switchboard forecast`
    /// writes): Poisson arrivals at each interval's rate.
    #[arg(long)]
    pub forecast: Option<PathBuf>,
    /// Call-record CSV (as `switchboard history export` writes): replayed at the recorded
    /// times through the recorded dialed numbers.
    #[arg(long)]
    pub history: Option<PathBuf>,
    /// Shifts CSV: `start,end` (RFC 3339) plus `agent` or `shift`, breaks
    /// (`break_N_start,break_N_end` as `switchboard schedule` writes, or `breaks` as
    /// `HH:MM-HH:MM;...`) and optional `skills` (`billing=3;sales=2`). Agents without skills
    /// take their configured profile, or every queue's skills.
    #[arg(long)]
    pub schedule: Option<PathBuf>,
    /// A fixed headcount all run long, each agent holding every skill any queue requires at
    /// the highest level any queue requires (a member of every queue).
    #[arg(long)]
    pub agents: Option<u32>,
    /// Seed of the first replication.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Independent replications: means and 95 % confidence intervals.
    #[arg(long, default_value_t = 10)]
    pub replications: u32,
    /// Talk times: exponential, lognormal[:CV], fixed, empirical or recorded (the last two
    /// with --history). Default: exponential for a forecast, recorded for history.
    #[arg(long)]
    pub handle: Option<String>,
    /// Caller patience: none, exponential:MEAN_S, lognormal:MEAN_S[:CV], fixed:S or recorded
    /// (with --history). Default: exponential:180 for a forecast, recorded for history.
    #[arg(long)]
    pub patience: Option<String>,
    /// Reporting interval in minutes (default: the forecast's, or 30).
    #[arg(long)]
    pub interval_min: Option<u64>,
    /// Directory for intervals.csv, summary.json and chart.svg (created if missing).
    #[arg(long)]
    pub out: PathBuf,
}

/// Runs `simulate`.
pub fn run(args: SimulateArgs) -> anyhow::Result<()> {
    let (config, customers) = super::load_config(&args.config)?;
    let read = |path: &Path| {
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
    };
    let name = |path: &Path| path.display().to_string();
    let (traffic, default_handle, default_patience) = match (&args.forecast, &args.history) {
        (Some(path), _) => (
            Traffic::Forecast(read_forecast(&name(path), &read(path)?)?),
            "exponential".to_string(),
            format!("exponential:{DEFAULT_PATIENCE_MEAN_S}"),
        ),
        (None, Some(path)) => (
            Traffic::History(read_history(&name(path), &read(path)?)?),
            "recorded".to_string(),
            "recorded".to_string(),
        ),
        (None, None) => anyhow::bail!("give --forecast or --history"),
    };
    let staffing = match (&args.schedule, args.agents) {
        (Some(path), _) => Staffing::Shifts(read_shifts(&name(path), &read(path)?)?),
        (None, Some(n)) => Staffing::Fixed(n),
        (None, None) => anyhow::bail!("give --schedule or --agents"),
    };
    let handle = HandleModel::parse(args.handle.as_deref().unwrap_or(&default_handle))?;
    let patience = Patience::parse(args.patience.as_deref().unwrap_or(&default_patience))?;
    let interval_ms = match args.interval_min {
        Some(0) => anyhow::bail!("--interval-min: must be at least 1"),
        Some(m) => Some(m.checked_mul(60_000).context("--interval-min: too large")?),
        None => None,
    };
    let expected_calls = match &traffic {
        Traffic::Forecast(f) => f.rows.iter().map(|r| r.calls).sum::<f64>(),
        Traffic::History(calls) => calls.len() as f64,
    } * f64::from(args.replications);
    let scenario = Scenario { config, customers, traffic, staffing, handle, patience, interval_ms };
    let options = Options { seed: args.seed, replications: args.replications };

    let bar = if expected_calls >= PROGRESS_MIN_CALLS {
        let bar = ProgressBar::with_draw_target(
            Some(expected_calls.round() as u64),
            ProgressDrawTarget::stderr(),
        );
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} simulating [{bar:40}] {human_pos}/{human_len} calls ({per_sec}, eta {eta})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let started = std::time::Instant::now();
    let report = simulate(&scenario, &options, &mut |calls| bar.inc(calls))?;
    bar.finish_and_clear();
    let elapsed = started.elapsed();

    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let write = |file: &str, text: &str| {
        let path = args.out.join(file);
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))
    };
    write("intervals.csv", &report.intervals_csv())?;
    write("summary.json", &report.to_json())?;
    let chart = report.chart_svg().map_err(|e| anyhow::anyhow!("chart: {e}"))?;
    write("chart.svg", &chart)?;
    print!("{report}");
    println!(
        "{} calls in {:.2} s ({:.0} calls/s); wrote intervals.csv, summary.json, chart.svg to {}",
        report.calls_simulated,
        elapsed.as_secs_f64(),
        report.calls_simulated as f64 / elapsed.as_secs_f64().max(1e-9),
        args.out.display()
    );
    Ok(())
}
