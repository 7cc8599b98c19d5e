//! `switchboard staff`: per-interval agent requirements from a forecast, as CSV and a chart.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use switchboard_wfm::forecast::read_forecast_csv;
use switchboard_wfm::staffing::{infer_interval_s, staff, write_staffing_csv, StaffingOptions};
use switchboard_wfm::units::{parse_duration_s, IntervalLength};
use switchboard_wfm::WfmError;

/// Arguments of `staff`.
#[derive(Debug, Args)]
pub struct StaffArgs {
    /// Forecast CSV (`interval_start,queue,calls,aht_s[,method]`), as `forecast` writes.
    #[arg(long)]
    pub forecast: PathBuf,
    /// Staffing CSV for the scheduler; `-` for standard output.
    #[arg(long)]
    pub out: PathBuf,
    /// Chart of forecast calls and required agents (SVG).
    #[arg(long)]
    pub chart: Option<PathBuf>,
    /// Interval length (15m, 30m, 60m); default: the spacing of the forecast rows.
    #[arg(long)]
    pub interval: Option<String>,
    /// What each interval's headcount must achieve, and caller patience.
    #[command(flatten)]
    pub goals: super::erlang::GoalArgs,
    /// Fraction of paid time off the phones.
    #[arg(long, default_value_t = 0.3)]
    pub shrinkage: f64,
    /// Handle time for forecast rows without one (e.g. 240s).
    #[arg(long)]
    pub aht: Option<String>,
}

/// Runs the staffing.
pub fn run(args: StaffArgs) -> anyhow::Result<()> {
    let path = &args.forecast;
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let located = |e: WfmError| match e {
        WfmError::BadRow { line, column, message } => {
            anyhow::anyhow!("{}:{line}: column {column}: {message}", path.display())
        }
        other => anyhow::anyhow!("{}: {other}", path.display()),
    };
    let rows = read_forecast_csv(std::io::BufReader::new(file)).map_err(located)?;
    if rows.is_empty() {
        anyhow::bail!("{}: no forecast rows", path.display());
    }
    let interval_s = match &args.interval {
        Some(text) => IntervalLength::parse(text).context("--interval")?.seconds(),
        None => {
            let gap = infer_interval_s(&rows).with_context(|| {
                format!(
                    "{}: cannot tell the interval length from one row per queue; pass --interval",
                    path.display()
                )
            })?;
            IntervalLength::from_minutes((gap / 60.0) as u32)
                .with_context(|| {
                    format!("{}: rows are {} s apart; pass --interval", path.display(), gap)
                })?
                .seconds()
        }
    };
    let (targets, patience_s) = args.goals.parse()?;
    let options = StaffingOptions {
        targets,
        shrinkage: args.shrinkage,
        patience_s,
        interval_s,
        default_aht_s: args.aht.as_deref().map(parse_duration_s).transpose().context("--aht")?,
    };
    let staffing = staff(&rows, &options).map_err(located)?;
    if args.out.as_os_str() == "-" {
        write_staffing_csv(&staffing, &mut std::io::stdout().lock())?;
    } else {
        let file = std::fs::File::create(&args.out)
            .with_context(|| format!("cannot create {}", args.out.display()))?;
        write_staffing_csv(&staffing, &mut std::io::BufWriter::new(file))
            .with_context(|| format!("cannot write {}", args.out.display()))?;
    }
    if let Some(chart) = &args.chart {
        let title = format!("Forecast calls and agents ({})", path.display());
        let svg = switchboard_wfm::chart::staffing_svg(&staffing, &title)?;
        std::fs::write(chart, svg).with_context(|| format!("cannot write {}", chart.display()))?;
    }
    // Summary per queue on stderr (stdout may carry the CSV).
    let mut per_queue: BTreeMap<&str, (f64, u32, u32, f64)> = BTreeMap::new();
    for row in &staffing {
        let entry = per_queue.entry(&row.queue).or_default();
        entry.0 += row.calls;
        entry.1 = entry.1.max(row.required_agents);
        entry.2 = entry.2.max(row.scheduled_agents);
        entry.3 += f64::from(row.scheduled_agents) * interval_s / 3600.0;
    }
    for (queue, (calls, peak_required, peak_scheduled, hours)) in per_queue {
        eprintln!(
            "{queue}: {calls:.0} calls, peak {peak_required} agents on the phones / {peak_scheduled} \
             scheduled, {hours:.0} scheduled agent-hours"
        );
    }
    if args.out.as_os_str() != "-" {
        eprintln!("{}: {} rows", args.out.display(), staffing.len());
    }
    Ok(())
}
