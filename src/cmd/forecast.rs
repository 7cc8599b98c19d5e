//! `switchboard forecast`: call volume and handle time per queue and interval from history.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use chrono::NaiveDate;
use clap::Args;
use switchboard_wfm::forecast::backtest::mean_wape;
use switchboard_wfm::forecast::{
    forecast_queues, write_forecast_csv, Forecast, ForecastOptions, ForecastRow, Method,
};
use switchboard_wfm::history::{read_history, ReadOptions};
use switchboard_wfm::series::{aggregate, QueueSeries};
use switchboard_wfm::units::{parse_duration_s, IntervalLength};
use switchboard_wfm::WfmError;

/// Arguments of `forecast`.
#[derive(Debug, Args)]
pub struct ForecastArgs {
    /// The history and how to read and forecast it.
    #[command(flatten)]
    pub input: HistoryArgs,
    /// How far ahead, in whole days (e.g. 7d), from the day after the history ends.
    #[arg(long, default_value = "7d")]
    pub horizon: String,
    /// Output CSV (`interval_start,queue,calls,aht_s,method`); `-` for standard output.
    #[arg(long)]
    pub out: PathBuf,
    /// Print WAPE, MAPE and MASE per method and backtest origin.
    #[arg(long)]
    pub backtest: bool,
    /// Weekly origins of the rolling backtest.
    #[arg(long, default_value_t = 3)]
    pub origins: usize,
}

/// The history flags `forecast` and `plan` share.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// History CSV: one row per call (`arrived_at`, as `history export` writes) or per interval
    /// (`interval_start`, `calls`, optional `aht_s`, `queue`).
    #[arg(long)]
    pub history: PathBuf,
    /// Interval length: 15m, 30m or 60m.
    #[arg(long, default_value = "30m")]
    pub interval: String,
    /// auto, holt-winters, weighted-average, average-of-4 or seasonal-naive.
    #[arg(long, default_value = "auto")]
    pub method: String,
    /// IANA time zone of the center: the local days and intervals, and times without offset.
    #[arg(long, default_value = "UTC")]
    pub tz: String,
    /// Special days (YYYY-MM-DD, comma separated) left out of training and not forecast.
    #[arg(long, value_delimiter = ',')]
    pub holidays: Vec<String>,
    /// File of special days, one YYYY-MM-DD per line (`#` starts a comment).
    #[arg(long)]
    pub holidays_file: Option<PathBuf>,
    /// Skip malformed history rows (counted) instead of stopping at the first.
    #[arg(long)]
    pub skip_bad: bool,
}

/// The history flags, checked.
pub struct HistoryChoices {
    /// Interval length.
    pub interval: IntervalLength,
    /// Forecast method.
    pub method: Method,
    /// Time zone of the center.
    pub tz: chrono_tz::Tz,
    /// Special days, left out of training and not forecast.
    pub special: Vec<NaiveDate>,
}

impl HistoryArgs {
    /// Checks the flags and reads the special days, without reading the history yet.
    pub fn choices(&self) -> anyhow::Result<HistoryChoices> {
        Ok(HistoryChoices {
            interval: IntervalLength::parse(&self.interval).context("--interval")?,
            method: Method::parse(&self.method).context("--method")?,
            tz: parse_tz(&self.tz)?,
            special: special_days(&self.holidays, self.holidays_file.as_deref())?,
        })
    }

    /// Reads and aggregates the history with `choices`.
    pub fn load_series(&self, choices: &HistoryChoices) -> anyhow::Result<Vec<QueueSeries>> {
        load_series(&self.history, choices.tz, choices.interval, self.skip_bad)
    }
}

/// Reads and aggregates a history CSV, reporting bad rows as `FILE:LINE: column C: message`.
pub fn load_series(
    path: &Path,
    tz: chrono_tz::Tz,
    interval: IntervalLength,
    skip_bad: bool,
) -> anyhow::Result<Vec<QueueSeries>> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let outcome = read_history(std::io::BufReader::new(file), &ReadOptions { tz, skip_bad })
        .map_err(|e| anyhow::anyhow!(located(path, &e)))?;
    if !outcome.skipped.is_empty() {
        eprintln!("{}: skipped {} bad row(s)", path.display(), outcome.skipped.len());
        for e in outcome.skipped.iter().take(5) {
            eprintln!("  {}", located(path, e));
        }
    }
    aggregate(&outcome.history, interval, tz)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// `FILE:LINE: column C: message` for a bad row, `FILE: message` otherwise.
pub fn located(path: &Path, e: &WfmError) -> String {
    match e {
        WfmError::BadRow { line, column, message } => {
            format!("{}:{line}: column {column}: {message}", path.display())
        }
        other => format!("{}: {other}", path.display()),
    }
}

/// Parses an IANA zone name.
pub fn parse_tz(text: &str) -> anyhow::Result<chrono_tz::Tz> {
    text.parse()
        .map_err(|_| anyhow::anyhow!("--tz: {text:?} is not an IANA time zone like Europe/Paris"))
}

/// Runs the forecast.
pub fn run(args: ForecastArgs) -> anyhow::Result<()> {
    let choices = args.input.choices()?;
    let horizon_days = parse_horizon_days(&args.horizon)?;
    let series = args.input.load_series(&choices)?;
    let method = choices.method;
    let options = ForecastOptions {
        method,
        horizon_days,
        backtest_origins: args.origins,
        backtest: args.backtest,
    };
    let forecast = forecast_queues(&series, &choices.special, &options)?;
    if args.out.as_os_str() == "-" {
        write_forecast_csv(&forecast.rows, &mut std::io::stdout().lock())?;
    } else {
        write_forecast_file(&args.out, &forecast.rows)?;
    }
    // Reports go to stderr when the forecast itself is on stdout.
    let mut report: Box<dyn std::io::Write> = if args.out.as_os_str() == "-" {
        Box::new(std::io::stderr())
    } else {
        Box::new(std::io::stdout())
    };
    if args.backtest {
        writeln!(
            report,
            "{:<16} {:<17} {:<10} {:>7} {:>7} {:>6}",
            "queue", "method", "origin", "WAPE", "MAPE", "MASE"
        )?;
        for choice in &forecast.choices {
            for row in &choice.backtest {
                writeln!(
                    report,
                    "{:<16} {:<17} {:<10} {:>6.1}% {:>6.1}% {:>6.3}",
                    row.queue,
                    row.method.name(),
                    row.origin,
                    100.0 * row.accuracy.wape,
                    100.0 * row.accuracy.mape,
                    row.accuracy.mase
                )?;
            }
        }
    }
    for line in choice_lines(&forecast, method) {
        writeln!(report, "{line}")?;
    }
    if args.out.as_os_str() != "-" {
        writeln!(report, "{}: {} rows", args.out.display(), forecast.rows.len())?;
    }
    Ok(())
}

/// Special days from `--holidays` and the lines of `--holidays-file`.
pub fn special_days(holidays: &[String], file: Option<&Path>) -> anyhow::Result<Vec<NaiveDate>> {
    let mut days = Vec::new();
    for text in holidays.iter().filter(|t| !t.trim().is_empty()) {
        days.push(
            text.trim()
                .parse()
                .with_context(|| format!("--holidays: {text:?} is not a date like 2026-12-25"))?,
        );
    }
    if let Some(path) = file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        for (n, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            days.push(line.parse().with_context(|| {
                format!("{}:{}: {line:?} is not a date like 2026-12-25", path.display(), n + 1)
            })?);
        }
    }
    Ok(days)
}

/// Parses `--horizon`: a whole number of days like `7d`.
pub fn parse_horizon_days(text: &str) -> anyhow::Result<usize> {
    let horizon_s = parse_duration_s(text).context("--horizon")?;
    if horizon_s < 86_400.0 || horizon_s % 86_400.0 != 0.0 {
        bail!("--horizon: {text:?} is not a whole number of days like 7d");
    }
    Ok((horizon_s / 86_400.0) as usize)
}

/// Writes a forecast CSV to `path`.
pub fn write_forecast_file(path: &Path, rows: &[ForecastRow]) -> anyhow::Result<()> {
    let file =
        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut out = std::io::BufWriter::new(file);
    write_forecast_csv(rows, &mut out)
        .and_then(|()| out.flush().map_err(WfmError::from))
        .with_context(|| format!("cannot write {}", path.display()))
}

/// One line per queue: the method chosen, its volume and the backtest's mean WAPE per method.
pub fn choice_lines(forecast: &Forecast, method: Method) -> Vec<String> {
    let mut lines = Vec::new();
    for choice in &forecast.choices {
        let means = mean_wape(&choice.backtest, &Method::CANDIDATES);
        let detail = means
            .iter()
            .map(|(m, w)| format!("{m} {:.1}%", 100.0 * w))
            .collect::<Vec<_>>()
            .join(", ");
        let queue_rows = forecast.rows.iter().filter(|r| r.queue == choice.queue);
        let (intervals, calls) = queue_rows.fold((0, 0.0), |(n, c), r| (n + 1, c + r.calls));
        if detail.is_empty() {
            lines.push(format!(
                "{}: {} ({intervals} intervals, {calls:.0} calls{})",
                choice.queue,
                choice.method,
                if method == Method::Auto {
                    "; too little history to backtest (3 weeks needed), so no choice was made"
                } else {
                    ""
                }
            ));
        } else {
            lines.push(format!(
                "{}: {} ({intervals} intervals, {calls:.0} calls; backtest mean WAPE: {detail})",
                choice.queue, choice.method
            ));
        }
    }
    lines
}
