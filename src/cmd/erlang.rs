//! `switchboard erlang`: agents needed for one interval's load, or what a headcount achieves.

use anyhow::Context;
use clap::Args;
use switchboard_wfm::erlang::{scheduled_agents, Load, Performance, ServiceLevelTarget, Targets};
use switchboard_wfm::units::parse_duration_s;

/// Arguments of `erlang`.
#[derive(Debug, Args)]
pub struct ErlangArgs {
    /// Calls offered in the interval.
    #[arg(long)]
    pub calls: f64,
    /// Interval length (e.g. 30m).
    #[arg(long, default_value = "30m")]
    pub interval: String,
    /// Average handle time, talk plus wrap-up (e.g. 180s).
    #[arg(long)]
    pub aht: String,
    /// What the headcount must achieve, and caller patience.
    #[command(flatten)]
    pub goals: GoalArgs,
    /// Fraction of paid time off the phones (breaks, training, absence).
    #[arg(long, default_value_t = 0.0)]
    pub shrinkage: f64,
    /// Evaluate this many agents on the phones instead of searching.
    #[arg(long)]
    pub agents: Option<u32>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// The staffing goals shared by `erlang` and `staff`: targets and caller patience.
#[derive(Debug, Args)]
pub struct GoalArgs {
    /// Service-level target PERCENT/SECONDS (e.g. 80/20s).
    #[arg(long, default_value = "80/20s")]
    pub target: String,
    /// Average speed of answer at most (e.g. 30s).
    #[arg(long)]
    pub asa: Option<String>,
    /// Occupancy at most (e.g. 0.85).
    #[arg(long)]
    pub max_occupancy: Option<f64>,
    /// Share of callers abandoning at most (e.g. 0.05; needs --patience).
    #[arg(long)]
    pub max_abandon: Option<f64>,
    /// Mean caller patience (e.g. 300s): Erlang A instead of Erlang C.
    #[arg(long)]
    pub patience: Option<String>,
}

impl GoalArgs {
    /// The targets, and the patience in seconds when Erlang A applies.
    pub fn parse(&self) -> anyhow::Result<(Targets, Option<f64>)> {
        let service_level: ServiceLevelTarget = self.target.parse().context("--target")?;
        let max_asa_s = self.asa.as_deref().map(parse_duration_s).transpose().context("--asa")?;
        let patience_s =
            self.patience.as_deref().map(parse_duration_s).transpose().context("--patience")?;
        if self.max_abandon.is_some() && patience_s.is_none() {
            anyhow::bail!("--max-abandon needs --patience (callers never abandon under Erlang C)");
        }
        let targets = Targets {
            service_level: Some(service_level),
            max_asa_s,
            max_occupancy: self.max_occupancy,
            max_abandon: self.max_abandon,
        };
        Ok((targets, patience_s))
    }
}

/// Runs the calculation.
pub fn run(args: ErlangArgs) -> anyhow::Result<()> {
    let interval_s = parse_duration_s(&args.interval).context("--interval")?;
    let aht_s = parse_duration_s(&args.aht).context("--aht")?;
    let (targets, patience_s) = args.goals.parse()?;
    let mut load = Load::new(args.calls, interval_s, aht_s)?;
    if let Some(patience_s) = patience_s {
        load = load.with_patience(patience_s)?;
    }
    let (mode, agents, performance) = match args.agents {
        Some(agents) => ("evaluated", agents, load.evaluate(agents, targets.threshold_s())),
        None => {
            let staffing = load.required_agents(&targets)?;
            ("required", staffing.agents, staffing.performance)
        }
    };
    let scheduled = scheduled_agents(agents, args.shrinkage)?;
    let misses = missed_targets(&targets, &performance);
    let model = if patience_s.is_some() { "erlang-a" } else { "erlang-c" };
    if args.json {
        let value = serde_json::json!({
            "model": model,
            "mode": mode,
            "traffic_erlangs": load.traffic_erlangs(),
            "agents": agents,
            "scheduled_agents": scheduled,
            "shrinkage": args.shrinkage,
            "service_level": performance.service_level,
            "threshold_s": performance.threshold_s,
            "asa_s": finite(performance.asa_s),
            "occupancy": performance.occupancy,
            "p_wait": performance.p_wait,
            "p_abandon": patience_s.map(|_| performance.p_abandon),
            "meets_targets": misses.is_empty(),
            "missed_targets": misses,
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    println!(
        "load: {:.2} Erlangs ({} calls in {}, AHT {} s); {}",
        load.traffic_erlangs(),
        args.calls,
        args.interval,
        aht_s,
        if patience_s.is_some() { "Erlang A" } else { "Erlang C" }
    );
    println!(
        "{mode} agents: {agents} on the phones, {scheduled} scheduled ({:.0} % shrinkage)",
        100.0 * args.shrinkage
    );
    println!(
        "service level: {:.1} % answered within {} s",
        100.0 * performance.service_level,
        performance.threshold_s
    );
    println!(
        "ASA: {}",
        if performance.asa_s.is_finite() {
            format!("{:.1} s", performance.asa_s)
        } else {
            "unbounded (too few agents)".into()
        }
    );
    println!("occupancy: {:.1} %", 100.0 * performance.occupancy);
    println!("P(wait): {:.3}", performance.p_wait);
    if patience_s.is_some() {
        println!("P(abandon): {:.3}", performance.p_abandon);
    }
    if misses.is_empty() {
        println!("meets every target");
    } else {
        println!("misses: {}", misses.join("; "));
    }
    Ok(())
}

fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

/// The targets a performance misses, as text.
fn missed_targets(targets: &Targets, p: &Performance) -> Vec<String> {
    let mut misses = Vec::new();
    if let Some(t) = targets.service_level {
        if p.service_level < t.fraction - 1e-12 {
            misses.push(format!(
                "service level {:.1} % < {:.0} % in {} s",
                100.0 * p.service_level,
                100.0 * t.fraction,
                t.threshold_s
            ));
        }
    }
    if let Some(asa) = targets.max_asa_s {
        if p.asa_s > asa + 1e-12 {
            misses.push(format!("ASA {:.1} s > {asa} s", p.asa_s));
        }
    }
    if let Some(occupancy) = targets.max_occupancy {
        if p.occupancy > occupancy + 1e-12 {
            misses.push(format!(
                "occupancy {:.1} % > {:.1} %",
                100.0 * p.occupancy,
                100.0 * occupancy
            ));
        }
    }
    if let Some(abandon) = targets.max_abandon {
        if p.p_abandon > abandon + 1e-12 {
            misses.push(format!("P(abandon) {:.3} > {abandon}", p.p_abandon));
        }
    }
    misses
}
