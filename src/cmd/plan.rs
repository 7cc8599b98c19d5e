//! `switchboard plan`: forecast, staffing, schedule and roster in one run, every intermediate
//! written to one directory.
//!
//! Each stage calls the same functions as its own command (`forecast`, `staff`, `schedule`),
//! so a planner can rerun any stage by hand on the files this command leaves behind.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use chrono::NaiveDate;
use clap::Args;
use switchboard_wfm::forecast::{forecast_queues, ForecastOptions};
use switchboard_wfm::schedule::{self, roster, RequirementColumn, SolveOptions};
use switchboard_wfm::staffing::staff;
use switchboard_wfm::WfmError;

use super::schedule::{parse_time_limit, ScheduleFiles};

/// Arguments of `plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The history and how to read and forecast it.
    #[command(flatten)]
    pub input: super::forecast::HistoryArgs,
    /// Shift templates (TOML, with an optional `[roster]` table).
    #[arg(long)]
    pub shifts: PathBuf,
    /// Agents to roster onto the shifts (CSV: agent,min_hours,max_hours,skills,availability).
    #[arg(long)]
    pub agents: Option<PathBuf>,
    /// Directory for every output (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// What each interval's headcount must achieve, and caller patience (Erlang A).
    #[command(flatten)]
    pub goals: super::erlang::GoalArgs,
    /// First local day planned (YYYY-MM-DD); default: the day after the history ends.
    #[arg(long)]
    pub start: Option<String>,
    /// Days planned, e.g. 7d (a roster covers at most one week).
    #[arg(long, default_value = "7d")]
    pub horizon: String,
    /// Fraction of paid time off the phones.
    #[arg(long, default_value_t = 0.3)]
    pub shrinkage: f64,
    /// Handle time for history without one (e.g. 240s).
    #[arg(long)]
    pub aht: Option<String>,
    /// Requirement the shifts cover: `scheduled_agents` (after shrinkage) or `required_agents`.
    #[arg(long, default_value = "scheduled_agents")]
    pub column: RequirementColumn,
    /// Cost of one missing agent for one interval; default: cover everything coverable.
    #[arg(long)]
    pub under_penalty: Option<f64>,
    /// Wall-clock budget of the shift scheduler, e.g. `10s`, `2m`.
    #[arg(long, default_value = "30s", value_parser = parse_time_limit)]
    pub time_limit: Duration,
    /// Wall-clock budget of the roster's local search.
    #[arg(long, default_value = "5s", value_parser = parse_time_limit)]
    pub roster_time_limit: Duration,
    /// Seed of the roster's local search: the same seed gives the same roster.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// Names of the files `plan` writes into its directory.
pub mod files {
    /// Forecast calls and handle time per queue and interval.
    pub const FORECAST: &str = "forecast.csv";
    /// Agents required and scheduled per queue and interval.
    pub const STAFFING: &str = "staffing.csv";
    /// Chart of forecast calls and agents.
    pub const STAFFING_CHART: &str = "staffing.svg";
    /// Shifts with their breaks.
    pub const SHIFTS_CSV: &str = "shifts.csv";
    /// The same shifts as JSON.
    pub const SHIFTS_JSON: &str = "shifts.json";
    /// Requirement against scheduled coverage per interval.
    pub const COVERAGE: &str = "coverage.csv";
    /// Chart of requirement against coverage.
    pub const COVERAGE_CHART: &str = "coverage.svg";
    /// One row per shift with its agent.
    pub const ROSTER: &str = "roster.csv";
    /// What the roster could not satisfy, per agent (or shift) and rule.
    pub const ROSTER_PROBLEMS: &str = "roster-problems.csv";
    /// The summary printed at the end.
    pub const SUMMARY: &str = "summary.txt";
}

/// Runs `plan`.
pub fn run(args: PlanArgs) -> anyhow::Result<()> {
    // Check every input before the long stages start.
    let choices = args.input.choices()?;
    let (interval, method) = (choices.interval, choices.method);
    let horizon_days = super::forecast::parse_horizon_days(&args.horizon)?;
    let start: Option<NaiveDate> = args
        .start
        .as_deref()
        .map(|text| {
            text.parse().with_context(|| format!("--start: {text:?} is not a date like 2026-05-04"))
        })
        .transpose()?;
    let special = &choices.special;
    let staffing_options = super::staff::staffing_options(
        &args.goals,
        args.shrinkage,
        args.aht.as_deref(),
        interval.seconds(),
    )?;
    let shift_file = super::schedule::read_shift_file(&args.shifts)?;
    let agents = args.agents.as_deref().map(super::schedule::read_agents).transpose()?;
    if agents.is_some() && horizon_days > roster::DAYS_PER_WEEK {
        bail!("--horizon: a roster covers one week at most; plan {horizon_days} days without --agents or pass 7d");
    }
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let path = |name: &str| args.out.join(name);

    let stages = if agents.is_some() { 4 } else { 3 };
    let bar = indicatif::ProgressBar::new(stages);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:20} {pos}/{len} {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(Duration::from_millis(200));

    // 1. Forecast, from the day after the history ends up to the end of the planned days.
    bar.set_message("forecast: reading history");
    let series = args.input.load_series(&choices)?;
    let history_end =
        series.iter().map(|s| s.date(s.days())).max().with_context(|| {
            format!("{}: no calls in the history", args.input.history.display())
        })?;
    let first_day = start.unwrap_or(history_end);
    if first_day < history_end {
        bail!(
            "--start: {first_day} is inside the history, which ends the day before {history_end}"
        );
    }
    let lead_days = (first_day - history_end).num_days() as usize;
    if lead_days > MAX_LEAD_DAYS {
        bail!("--start: {first_day} is {lead_days} days after the history ends (at most {MAX_LEAD_DAYS})");
    }
    bar.set_message(format!("forecast: {} queue(s), method {}", series.len(), method.name()));
    let options = ForecastOptions {
        method,
        horizon_days: lead_days + horizon_days,
        backtest_origins: 3,
        backtest: false,
    };
    let mut forecast = forecast_queues(&series, special, &options)
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.input.history.display()))?;
    forecast.rows.retain(|r| r.interval_start.date_naive() >= first_day);
    if forecast.rows.is_empty() {
        bail!("{}: the forecast of the planned days has no rows", args.input.history.display());
    }
    super::forecast::write_forecast_file(&path(files::FORECAST), &forecast.rows)?;
    bar.inc(1);

    // 2. Staffing per queue and interval.
    bar.set_message("staffing: Erlang per interval");
    let forecast_path = path(files::FORECAST);
    let staffing = staff(&forecast.rows, &staffing_options)
        .map_err(|e: WfmError| anyhow::anyhow!(super::forecast::located(&forecast_path, &e)))?;
    super::staff::write_staffing_file(&path(files::STAFFING), &staffing)?;
    super::staff::write_staffing_chart(
        &path(files::STAFFING_CHART),
        &staffing,
        &args.input.history.display().to_string(),
    )?;
    bar.inc(1);

    // 3. Shifts covering the staffing file's requirement (read back as `schedule` reads it).
    bar.set_message("schedule: enumerating shifts");
    let requirement = super::schedule::read_requirement(&path(files::STAFFING), args.column, None)?;
    let solve_options = SolveOptions {
        under_penalty: args.under_penalty,
        time_limit: args.time_limit,
        ..SolveOptions::default()
    };
    let solved = schedule::solve_with_progress(
        &requirement,
        &shift_file.templates,
        &solve_options,
        &mut |p| bar.set_message(format!("schedule: {}", super::schedule::progress_message(&p))),
    )
    .map_err(|e| anyhow::anyhow!("{}: {e}", args.shifts.display()))?;
    let schedule_files = ScheduleFiles {
        shifts: path(files::SHIFTS_CSV),
        coverage: path(files::COVERAGE),
        chart: path(files::COVERAGE_CHART),
    };
    super::schedule::write_schedule(&solved, &requirement, &schedule_files)?;
    super::schedule::write(
        &path(files::SHIFTS_JSON),
        &schedule::shifts_json(&solved, &requirement),
    )?;
    bar.inc(1);

    // 4. Names on the shifts.
    let rostered = match &agents {
        Some(agents) => {
            bar.set_message("roster: assigning and improving");
            let rostered = super::schedule::roster_to_file(
                &solved,
                &requirement,
                &shift_file,
                agents,
                &roster::RosterOptions {
                    time_limit: args.roster_time_limit,
                    seed: args.seed,
                    improve: true,
                },
                &path(files::ROSTER),
                &path(files::STAFFING),
            )?;
            super::schedule::write(
                &path(files::ROSTER_PROBLEMS),
                &roster::problems_csv(&solved, &requirement, &rostered, agents),
            )?;
            // The greedy construction alone, to show what the local search gained.
            let greedy = roster::assign_with(
                &solved,
                &requirement,
                &shift_file.templates,
                agents,
                &shift_file.roster,
                &roster::RosterOptions { improve: false, ..roster::RosterOptions::default() },
            )
            .map(|r| r.penalty)
            .ok();
            bar.inc(1);
            Some((rostered, greedy))
        }
        None => None,
    };
    bar.finish_and_clear();

    // Summary, printed and kept in the directory.
    let mut out = String::new();
    let calls: f64 = forecast.rows.iter().map(|r| r.calls).sum();
    let last_day = forecast.rows.iter().map(|r| r.interval_start.date_naive()).max();
    let _ = writeln!(
        out,
        "planned:         {first_day} to {} ({} intervals of {} min)",
        last_day.unwrap_or(first_day),
        requirement.len(),
        requirement.interval_minutes
    );
    for line in super::forecast::choice_lines(&forecast, method) {
        let _ = writeln!(out, "forecast:        {line}");
    }
    let _ = writeln!(out, "calls forecast:  {calls:.0}");
    let interval_hours = f64::from(requirement.interval_minutes) / 60.0;
    let on_phones: f64 =
        staffing.iter().map(|r| f64::from(r.required_agents)).sum::<f64>() * interval_hours;
    let required: f64 = requirement.agents.iter().sum::<f64>() * interval_hours;
    let _ = writeln!(
        out,
        "required:        {on_phones:.1} agent-hours on the phones, {required:.1} to schedule \
         ({} after shrinkage {})",
        args.column.header(),
        args.shrinkage
    );
    out.push_str(&schedule::summary(&solved, &requirement));
    let short =
        super::schedule::short_interval_lines(&solved, &requirement, &schedule_files.coverage);
    if !short.is_empty() {
        let _ = writeln!(out, "short intervals (required > scheduled):");
        for line in short {
            let _ = writeln!(out, "  {line}");
        }
    }
    if let (Some((rostered, greedy)), Some(agents)) = (&rostered, &agents) {
        let assigned = rostered.assignment.iter().filter(|a| a.is_some()).count();
        let _ = writeln!(
            out,
            "roster:          {} agents, {assigned} of {} shifts assigned, {} problem(s)",
            agents.len(),
            rostered.assignment.len(),
            rostered.problems.len()
        );
        let _ = writeln!(
            out,
            "roster penalty:  {:.1} weighted violations{}",
            rostered.penalty,
            greedy.map_or(String::new(), |g| format!(" (greedy construction alone: {g:.1})"))
        );
        let problems = roster::describe_problems(&solved, &requirement, rostered, agents);
        for line in problems.iter().take(super::schedule::MAX_LISTED) {
            let _ = writeln!(out, "  {line}");
        }
        if problems.len() > super::schedule::MAX_LISTED {
            let _ = writeln!(
                out,
                "  ... and {} more (see {})",
                problems.len() - super::schedule::MAX_LISTED,
                path(files::ROSTER_PROBLEMS).display()
            );
        }
    }
    let _ = writeln!(out, "files in {}: {}", args.out.display(), written(agents.is_some()));
    super::schedule::write(&path(files::SUMMARY), &out)?;
    print!("{out}");
    Ok(())
}

/// Days between the end of the history and the first planned day, at most.
const MAX_LEAD_DAYS: usize = 366;

fn written(rostered: bool) -> String {
    let mut names = vec![
        files::FORECAST,
        files::STAFFING,
        files::STAFFING_CHART,
        files::SHIFTS_CSV,
        files::SHIFTS_JSON,
        files::COVERAGE,
        files::COVERAGE_CHART,
    ];
    if rostered {
        names.extend([files::ROSTER, files::ROSTER_PROBLEMS]);
    }
    names.push(files::SUMMARY);
    names.join(", ")
}
