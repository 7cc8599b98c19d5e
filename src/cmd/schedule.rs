//! `switchboard schedule`: shifts covering a staffing requirement, and optionally a roster.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use switchboard_wfm::schedule::{
    self, roster, Phase, Requirement, RequirementColumn, SolveOptions,
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
}

fn parse_time_limit(text: &str) -> Result<Duration, String> {
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

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// Runs `schedule`.
pub fn run(args: ScheduleArgs) -> anyhow::Result<()> {
    let file = std::fs::File::open(&args.staffing)
        .with_context(|| format!("cannot read {}", args.staffing.display()))?;
    let requirement = Requirement::from_staffing_csv(
        std::io::BufReader::new(file),
        args.column,
        args.queue.as_deref(),
    )
    .map_err(|e| {
        anyhow::anyhow!("{}:{}: {}: {}", args.staffing.display(), e.line, e.column, e.message)
    })?;
    let text = std::fs::read_to_string(&args.shifts)
        .with_context(|| format!("cannot read {}", args.shifts.display()))?;
    let shift_file = schedule::parse_shift_file(&text).map_err(|e| {
        anyhow::anyhow!("{}:{}: {}: {}", args.shifts.display(), e.line, e.path, e.message)
    })?;
    let agents = match &args.agents {
        Some(path) => {
            let file = std::fs::File::open(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            Some(roster::parse_agents_csv(std::io::BufReader::new(file)).map_err(|e| {
                anyhow::anyhow!("{}:{}: {}: {}", path.display(), e.line, e.column, e.message)
            })?)
        }
        None => None,
    };

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
            let phase = match p.phase {
                Phase::Columns => "enumerating shifts",
                Phase::LinearProgram => "solving the LP relaxation",
                Phase::Rounding => "rounding",
                Phase::LocalSearch => "improving",
                Phase::Done => "done",
            };
            let best = p.best_objective.map_or(String::new(), |b| format!(", best {b:.2}"));
            let bound = p.lower_bound.map_or(String::new(), |b| format!(", LP bound {b:.2}"));
            bar.set_message(format!("{phase}{best}{bound}"));
        });
    bar.finish_and_clear();
    let solved = result.map_err(|e| anyhow::anyhow!("{}: {e}", args.shifts.display()))?;

    let is_json = args.out.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let shifts_text = if is_json {
        schedule::shifts_json(&solved, &requirement)
    } else {
        schedule::shifts_csv(&solved, &requirement)
    };
    write(&args.out, &shifts_text)?;
    let coverage_path =
        args.coverage.clone().unwrap_or_else(|| sibling(&args.out, "-coverage.csv"));
    write(&coverage_path, &schedule::coverage_csv(&solved, &requirement))?;
    let chart_path = args.chart.clone().unwrap_or_else(|| sibling(&args.out, "-coverage.svg"));
    let svg = schedule::render_chart(&solved, &requirement)
        .map_err(|e| anyhow::anyhow!("cannot draw {}: {e}", chart_path.display()))?;
    write(&chart_path, &svg)?;

    print!("{}", schedule::summary(&solved, &requirement));
    let short = solved.short_intervals();
    if !short.is_empty() {
        println!("short intervals (required > scheduled):");
        for &i in short.iter().take(MAX_LISTED) {
            let start = requirement.time_at(i as u32 * requirement.interval_minutes);
            println!(
                "  {}  required {}  scheduled {}",
                start.to_rfc3339(),
                solved.requirement[i],
                solved.coverage[i]
            );
        }
        if short.len() > MAX_LISTED {
            println!(
                "  ... and {} more (see {})",
                short.len() - MAX_LISTED,
                coverage_path.display()
            );
        }
    }
    println!("wrote {}, {}, {}", args.out.display(), coverage_path.display(), chart_path.display());

    if let Some(agents) = agents {
        let rostered = roster::assign(
            &solved,
            &requirement,
            &shift_file.templates,
            &agents,
            &shift_file.roster,
        )
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.staffing.display()))?;
        let roster_path =
            args.roster_out.clone().unwrap_or_else(|| sibling(&args.out, "-roster.csv"));
        write(&roster_path, &roster::roster_csv(&solved, &requirement, &rostered, &agents))?;
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
const MAX_LISTED: usize = 20;
