//! `switchboard staff`: per-interval agent requirements from a forecast, as CSV and a chart.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use switchboard_wfm::forecast::read_forecast_csv;
use switchboard_wfm::staffing::{
    infer_interval_s, staff, write_staffing_csv, StaffingOptions, StaffingRow,
};
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
    let located = |e: WfmError| anyhow::anyhow!(super::forecast::located(path, &e));
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
    let options = staffing_options(&args.goals, args.shrinkage, args.aht.as_deref(), interval_s)?;
    let staffing = staff(&rows, &options).map_err(located)?;
    if args.out.as_os_str() == "-" {
        write_staffing_csv(&staffing, &mut std::io::stdout().lock())?;
    } else {
        write_staffing_file(&args.out, &staffing)?;
    }
    if let Some(chart) = &args.chart {
        write_staffing_chart(chart, &staffing, &path.display().to_string())?;
    }
    // Summary per queue on stderr (stdout may carry the CSV).
    for line in queue_lines(&staffing, interval_s) {
        eprintln!("{line}");
    }
    if args.out.as_os_str() != "-" {
        eprintln!("{}: {} rows", args.out.display(), staffing.len());
    }
    Ok(())
}

/// Staffing options from the goal flags, shrinkage and the default handle time (`--aht`).
pub fn staffing_options(
    goals: &super::erlang::GoalArgs,
    shrinkage: f64,
    aht: Option<&str>,
    interval_s: f64,
) -> anyhow::Result<StaffingOptions> {
    let (targets, patience_s) = goals.parse()?;
    Ok(StaffingOptions {
        targets,
        shrinkage,
        patience_s,
        interval_s,
        default_aht_s: aht.map(parse_duration_s).transpose().context("--aht")?,
    })
}

/// Writes the staffing CSV to `path`.
pub fn write_staffing_file(path: &Path, staffing: &[StaffingRow]) -> anyhow::Result<()> {
    let file =
        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut out = std::io::BufWriter::new(file);
    write_staffing_csv(staffing, &mut out)
        .map_err(anyhow::Error::from)
        .and_then(|()| Ok(out.flush()?))
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Draws the chart of forecast calls and required agents to `path`.
pub fn write_staffing_chart(
    path: &Path,
    staffing: &[StaffingRow],
    source: &str,
) -> anyhow::Result<()> {
    let title = format!("Forecast calls and agents ({source})");
    let svg = switchboard_wfm::chart::staffing_svg(staffing, &title)?;
    std::fs::write(path, svg).with_context(|| format!("cannot write {}", path.display()))
}

/// One line per queue: calls, peak agents on the phones and scheduled, scheduled agent-hours.
pub fn queue_lines(staffing: &[StaffingRow], interval_s: f64) -> Vec<String> {
    let mut per_queue: BTreeMap<&str, (f64, u32, u32, f64)> = BTreeMap::new();
    for row in staffing {
        let entry = per_queue.entry(&row.queue).or_default();
        entry.0 += row.calls;
        entry.1 = entry.1.max(row.required_agents);
        entry.2 = entry.2.max(row.scheduled_agents);
        entry.3 += f64::from(row.scheduled_agents) * interval_s / 3600.0;
    }
    per_queue
        .into_iter()
        .map(|(queue, (calls, peak_required, peak_scheduled, hours))| {
            format!(
                "{queue}: {calls:.0} calls, peak {peak_required} agents on the phones / \
                 {peak_scheduled} scheduled, {hours:.0} scheduled agent-hours"
            )
        })
        .collect()
}
