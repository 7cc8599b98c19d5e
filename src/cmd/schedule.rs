//! `switchboard schedule`: shifts covering a staffing requirement, and optionally a roster.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use switchboard_wfm::schedule::{
    self, roster, Phase, Progress, Requirement, RequirementColumn, Schedule, ShiftFile,
    SolveOptions,
};

/// `schedule`.
#[derive(Debug, Args)]
pub struct ScheduleArgs {
    /// Staffing CSV written by `switchboard staff`.
    #[arg(long)]
    pub staffing: PathBuf,
    /// Shift templates (TOML, with an optional `[roster]` table).
    #[arg(long)]
    pub shifts: PathBuf,
    /// Output file of the shifts: CSV, or JSON when it ends in `.json`.
    #[arg(long)]
    pub out: PathBuf,
    /// Coverage against requirement per interval (CSV); default `<out>-coverage.csv`.
    #[arg(long)]
    pub coverage: Option<PathBuf>,
    /// Chart of requirement against coverage (SVG); default `<out>-coverage.svg`.
    #[arg(long)]
    pub chart: Option<PathBuf>,
    /// Schedule one queue instead of the sum over queues.
    #[arg(long)]
    pub queue: Option<String>,
    /// Requirement column: `scheduled_agents` (after shrinkage) or `required_agents`.
    #[arg(long, default_value = "scheduled_agents")]
    pub column: RequirementColumn,
    /// Cost of one missing agent for one interval; default: cover everything coverable.
    #[arg(long)]
    pub under_penalty: Option<f64>,
    /// Wall-clock budget, e.g. `10s`, `2m`.
    #[arg(long, default_value = "60s", value_parser = parse_time_limit)]
    pub time_limit: Duration,
    /// Agents to roster onto the shifts (CSV: agent,min_hours,max_hours,skills,availability).
    #[arg(long)]
    pub agents: Option<PathBuf>,
    /// Roster output (CSV); default `<out>-roster.csv`.
    #[arg(long)]
    pub roster_out: Option<PathBuf>,
    /// Wall-clock budget of the roster's local search.
    #[arg(long, default_value = "5s", value_parser = parse_time_limit)]
    pub roster_time_limit: Duration,
    /// Seed of the roster's local search: the same seed gives the same roster.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// Parses a time limit like `10s` or `2m`.
pub fn parse_time_limit(text: &str) -> Result<Duration, String> {
    let bad = || format!("{text:?} is not a time limit like \"10s\" or \"2m\"");
    let (number, unit) = match text.strip_suffix('s') {
        Some(n) => (n, 1.0),
        None => match text.strip_suffix('m') {
            Some(n) => (n, 60.0),
            None => (text, 1.0),
        },
    };
    let value: f64 = number.trim().parse().map_err(|_| bad())?;
    if !value.is_finite() || value <= 0.0 {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(value * unit))
}

fn sibling(out: &Path, suffix: &str) -> PathBuf {
    let stem = out.file_stem().map_or("schedule".into(), |s| s.to_string_lossy().into_owned());
    out.with_file_name(format!("{stem}{suffix}"))
}

/// Writes `text` to `path`, naming the file on failure.
pub fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// Reads the requirement from a staffing CSV; problems name the file, line and column.
pub fn read_requirement(
    path: &Path,
    column: RequirementColumn,
    queue: Option<&str>,
) -> anyhow::Result<Requirement> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    Requirement::from_staffing_csv(std::io::BufReader::new(file), column, queue)
        .map_err(|e| anyhow::anyhow!("{}:{}: {}: {}", path.display(), e.line, e.column, e.message))
}

/// Reads the shift templates and rostering rules; problems name the file, line and field.
pub fn read_shift_file(path: &Path) -> anyhow::Result<ShiftFile> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    schedule::parse_shift_file(&text)
        .map_err(|e| anyhow::anyhow!("{}:{}: {}: {}", path.display(), e.line, e.path, e.message))
}

/// Reads the agents CSV; problems name the file, line and column.
pub fn read_agents(path: &Path) -> anyhow::Result<Vec<roster::Agent>> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    roster::parse_agents_csv(std::io::BufReader::new(file))
        .map_err(|e| anyhow::anyhow!("{}:{}: {}: {}", path.display(), e.line, e.column, e.message))
}

/// What the solver is doing, for a progress message.
pub fn progress_message(p: &Progress) -> String {
    let phase = match p.phase {
        Phase::Columns => "enumerating shifts",
        Phase::LinearProgram => "solving the LP relaxation",
        Phase::Rounding => "rounding",
        Phase::LocalSearch => "improving",
        Phase::Done => "done",
    };
    let best = p.best_objective.map_or(String::new(), |b| format!(", best {b:.2}"));
    let bound = p.lower_bound.map_or(String::new(), |b| format!(", LP bound {b:.2}"));
    format!("{phase}{best}{bound}")
}

/// Where the schedule's files go.
pub struct ScheduleFiles {
    /// Shifts: CSV, or JSON when the name ends in `.json`.
    pub shifts: PathBuf,
    /// Coverage against requirement per interval (CSV).
    pub coverage: PathBuf,
    /// Chart of requirement against coverage (SVG).
    pub chart: PathBuf,
}

/// Writes the shifts (CSV or JSON by extension), the coverage CSV and the chart.
pub fn write_schedule(
    solved: &Schedule,
    requirement: &Requirement,
    files: &ScheduleFiles,
) -> anyhow::Result<()> {
    let is_json = files.shifts.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let shifts_text = if is_json {
        schedule::shifts_json(solved, requirement)
    } else {
        schedule::shifts_csv(solved, requirement)
    };
    write(&files.shifts, &shifts_text)?;
    write(&files.coverage, &schedule::coverage_csv(solved, requirement))?;
    let svg = schedule::render_chart(solved, requirement)
        .map_err(|e| anyhow::anyhow!("cannot draw {}: {e}", files.chart.display()))?;
    write(&files.chart, &svg)
}

/// The short intervals, at most [`MAX_LISTED`] of them, then how many more are in `coverage`.
pub fn short_interval_lines(
    solved: &Schedule,
    requirement: &Requirement,
    coverage: &Path,
) -> Vec<String> {
    let short = solved.short_intervals();
    let mut lines = Vec::new();
    for &i in short.iter().take(MAX_LISTED) {
        let start = requirement.time_at(i as u32 * requirement.interval_minutes);
        lines.push(format!(
            "{}  required {}  scheduled {}",
            start.to_rfc3339(),
            solved.requirement[i],
            solved.coverage[i]
        ));
    }
    if short.len() > MAX_LISTED {
        lines.push(format!(
            "... and {} more (see {})",
            short.len() - MAX_LISTED,
            coverage.display()
        ));
    }
    lines
}

/// Rosters `agents` onto the schedule and writes the roster CSV to `path`; a roster error
/// names `source`, the file the schedule's horizon came from.
pub fn roster_to_file(
    solved: &Schedule,
    requirement: &Requirement,
    shift_file: &ShiftFile,
    agents: &[roster::Agent],
    options: &roster::RosterOptions,
    path: &Path,
    source: &Path,
) -> anyhow::Result<roster::Roster> {
    let rostered = roster::assign_with(
        solved,
        requirement,
        &shift_file.templates,
        agents,
        &shift_file.roster,
        options,
    )
    .map_err(|e| anyhow::anyhow!("{}: {e}", source.display()))?;
    write(path, &roster::roster_csv(solved, requirement, &rostered, agents))?;
    Ok(rostered)
}

/// Runs `schedule`.
pub fn run(args: ScheduleArgs) -> anyhow::Result<()> {
    let requirement = read_requirement(&args.staffing, args.column, args.queue.as_deref())?;
    let shift_file = read_shift_file(&args.shifts)?;
    let agents = args.agents.as_deref().map(read_agents).transpose()?;

    let options = SolveOptions {
        under_penalty: args.under_penalty,
        time_limit: args.time_limit,
        ..SolveOptions::default()
    };
    let bar = indicatif::ProgressBar::new(args.time_limit.as_millis() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let result =
        schedule::solve_with_progress(&requirement, &shift_file.templates, &options, &mut |p| {
            bar.set_position(p.elapsed.as_millis() as u64);
            bar.set_message(progress_message(&p));
        });
    bar.finish_and_clear();
    let solved = result.map_err(|e| anyhow::anyhow!("{}: {e}", args.shifts.display()))?;

    let files = ScheduleFiles {
        coverage: args.coverage.clone().unwrap_or_else(|| sibling(&args.out, "-coverage.csv")),
        chart: args.chart.clone().unwrap_or_else(|| sibling(&args.out, "-coverage.svg")),
        shifts: args.out.clone(),
    };
    write_schedule(&solved, &requirement, &files)?;
    print!("{}", schedule::summary(&solved, &requirement));
    let short = short_interval_lines(&solved, &requirement, &files.coverage);
    if !short.is_empty() {
        println!("short intervals (required > scheduled):");
        for line in short {
            println!("  {line}");
        }
    }
    println!(
        "wrote {}, {}, {}",
        files.shifts.display(),
        files.coverage.display(),
        files.chart.display()
    );

    if let Some(agents) = agents {
        let roster_path =
            args.roster_out.clone().unwrap_or_else(|| sibling(&args.out, "-roster.csv"));
        let rostered = roster_to_file(
            &solved,
            &requirement,
            &shift_file,
            &agents,
            &roster::RosterOptions {
                time_limit: args.roster_time_limit,
                seed: args.seed,
                improve: true,
            },
            &roster_path,
            &args.staffing,
        )?;
        let assigned = rostered.assignment.iter().filter(|a| a.is_some()).count();
        println!(
            "roster:          {} agents, {assigned} of {} shifts assigned, {} problem(s); wrote {}",
            agents.len(),
            rostered.assignment.len(),
            rostered.problems.len(),
            roster_path.display()
        );
        let problems = roster::describe_problems(&solved, &requirement, &rostered, &agents);
        for line in problems.iter().take(MAX_LISTED) {
            println!("  {line}");
        }
        if problems.len() > MAX_LISTED {
            println!("  ... and {} more", problems.len() - MAX_LISTED);
        }
    }
    Ok(())
}

/// Intervals or problems listed in the summary before "... and N more".
pub const MAX_LISTED: usize = 20;
