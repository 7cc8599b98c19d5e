//! `switchboard loadgen`: drive a server with contact-center traffic and report throughput,
//! latency, errors, CPU and whether the server's counts agree with what was sent.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use switchboard_loadgen::cpu::ServerCpu;
use switchboard_loadgen::run::JournalMode;
use switchboard_loadgen::{CenterSpec, Endpoint, Knobs, Options, Report, Scenario};

/// Load-generator commands.
#[derive(Debug, Subcommand)]
pub enum LoadgenCommand {
    /// Run scenarios and report (text, or JSON with --json).
    Run(Box<RunArgs>),
    /// Print the generated contact center, to start a separate server with it.
    Center(CenterArgs),
}

/// Size of the generated center.
#[derive(Debug, Args)]
pub struct CenterSize {
    /// Agents in the skill queues (48,000: a large center at its busiest).
    #[arg(long, default_value_t = 48_000)]
    pub agents: usize,
    /// Skill queues.
    #[arg(long, default_value_t = 50)]
    pub queues: usize,
    /// Queues each agent serves.
    #[arg(long, default_value_t = 3)]
    pub queues_per_agent: usize,
    /// Agents of the hot queue.
    #[arg(long, default_value_t = 10)]
    pub hot_agents: usize,
}

impl CenterSize {
    fn spec(&self) -> CenterSpec {
        CenterSpec {
            agents: self.agents,
            queues: self.queues,
            queues_per_agent: self.queues_per_agent,
            hot_agents: self.hot_agents,
        }
    }
}

/// `loadgen center`.
#[derive(Debug, Args)]
pub struct CenterArgs {
    #[command(flatten)]
    pub size: CenterSize,
    /// Output file; standard output when absent.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// `loadgen run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// floor, realistic, saturation, hot, burst, overload, or all.
    #[arg(long, default_value = "floor")]
    pub scenario: String,
    /// gRPC address of a running server on this machine (started with `loadgen center`'s
    /// configuration); without it a server is started in this process.
    #[arg(long)]
    pub target: Option<SocketAddr>,
    /// HTTP address of that server, to check its RPC counters at /metrics.
    #[arg(long, requires = "target")]
    pub metrics_addr: Option<SocketAddr>,
    /// Process id of that server, to measure its CPU.
    #[arg(long, requires = "target")]
    pub server_pid: Option<u32>,
    /// Bearer token (admin) when the server has authentication on.
    #[arg(long, env = "SWITCHBOARD_LOADGEN_TOKEN", requires = "target")]
    pub token: Option<String>,
    /// Length of the main phase in seconds (each saturation step, the burst itself).
    #[arg(long, default_value_t = 10.0)]
    pub duration_s: f64,
    /// Peak arrival rate, calls per second (burst: ten times it).
    #[arg(long, default_value_t = 400.0)]
    pub calls_per_s: f64,
    /// Callers of the saturation steps, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "8,16,32,64,128")]
    pub callers: Vec<usize>,
    /// Callers of the hot queue.
    #[arg(long, default_value_t = 40)]
    pub hot_callers: usize,
    /// Mean talk time of the realistic and burst scenarios, seconds.
    #[arg(long, default_value_t = 30.0)]
    pub talk_s: f64,
    /// Arrival rate of the overload scenario's overload phase, calls per second.
    #[arg(long, default_value_t = 10_000.0)]
    pub overload_calls_per_s: f64,
    /// Journal of the in-process server: off, batch, always, or several comma-separated
    /// (each scenario runs once per mode, so they compare within one invocation).
    #[arg(long, value_delimiter = ',', default_value = "off", conflicts_with = "target")]
    pub journal: Vec<String>,
    #[command(flatten)]
    pub size: CenterSize,
    /// gRPC connections.
    #[arg(long, default_value_t = 4)]
    pub connections: usize,
    /// Supervisors watching the stats stream.
    #[arg(long, default_value_t = 4)]
    pub supervisors: usize,
    /// Stop starting calls after this many.
    #[arg(long, default_value_t = 10_000_000)]
    pub max_calls: u64,
    /// Seed of every random choice.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Also write the reports as JSON to this file (`-` for standard output, replacing the
    /// text).
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// Runs a load-generator command.
pub fn run(command: LoadgenCommand) -> anyhow::Result<()> {
    match command {
        LoadgenCommand::Center(args) => {
            let spec = args.size.spec();
            spec.validate()?;
            let toml = spec.to_toml();
            match args.out {
                Some(path) => std::fs::write(&path, toml)
                    .with_context(|| format!("cannot write {}", path.display()))?,
                None => print!("{toml}"),
            }
            Ok(())
        }
        LoadgenCommand::Run(args) => run_scenarios(*args),
    }
}

fn seconds(flag: &str, s: f64) -> anyhow::Result<Duration> {
    if !(s.is_finite() && s > 0.0 && s <= 3_600.0) {
        anyhow::bail!("--{flag}: must be more than 0 and at most 3600 seconds, not {s}");
    }
    Ok(Duration::from_secs_f64(s))
}

fn run_scenarios(args: RunArgs) -> anyhow::Result<()> {
    let scenarios = if args.scenario == "all" {
        Scenario::ALL.to_vec()
    } else {
        vec![Scenario::parse(&args.scenario).ok_or_else(|| {
            anyhow::anyhow!(
                "--scenario: unknown scenario {:?}; use floor, realistic, saturation, hot, burst, overload or all",
                args.scenario
            )
        })?]
    };
    let knobs = Knobs {
        duration: seconds("duration-s", args.duration_s)?,
        peak_calls_per_s: args.calls_per_s,
        saturation_callers: args.callers.clone(),
        hot_callers: args.hot_callers,
        talk_ms: seconds("talk-s", args.talk_s)?.as_millis() as u64,
        overload_calls_per_s: args.overload_calls_per_s,
    };
    let journals = args
        .journal
        .iter()
        .map(|m| {
            JournalMode::parse(m).ok_or_else(|| {
                anyhow::anyhow!("--journal: unknown mode {m:?}; use off, batch or always")
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    if !(1..=64).contains(&args.connections) {
        anyhow::bail!("--connections: must be 1 to 64");
    }
    let json_to_stdout = args.json.as_deref().is_some_and(|p| p.as_os_str() == "-");
    let mut reports: Vec<Report> = Vec::new();
    let runs = scenarios.iter().flat_map(|s| journals.iter().map(move |j| (*s, *j)));
    for (scenario, journal) in runs {
        let options = Options {
            scenario,
            knobs: knobs.clone(),
            center: args.size.spec(),
            connections: args.connections,
            supervisors: args.supervisors,
            max_calls: args.max_calls,
            seed: args.seed,
            journal,
            ..Options::default()
        };
        eprintln!("loadgen: running {} (journal {}) ...", scenario.name(), journal.name());
        let report = match args.target {
            None => switchboard_loadgen::run_in_process(&options)?,
            Some(grpc) => {
                let endpoint = Endpoint {
                    grpc,
                    metrics: args.metrics_addr,
                    cpu: args.server_pid.map_or(ServerCpu::Unknown, ServerCpu::Pid),
                    token: args.token.clone(),
                    label: format!("the server at {grpc}"),
                    journal: None,
                };
                switchboard_loadgen::run_on_generator_runtime(&endpoint, &options)?
            }
        };
        if !json_to_stdout {
            print!("{}", report.text());
        }
        reports.push(report);
    }
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(&serde_json::json!({
            "machine": machine(),
            "reports": reports,
        }))?;
        if json_to_stdout {
            println!("{json}");
        } else {
            std::fs::write(path, json + "\n")
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
    }
    let failed: Vec<&str> = reports
        .iter()
        .filter(|r| {
            !r.accounting.ok()
                || r.phases.iter().chain([&r.drain]).any(|p| p.errors > 0)
                || (r.plan.scenario != Scenario::Overload
                    && r.phases.iter().chain([&r.drain]).any(|p| p.refused > 0))
                || r.verdicts.iter().any(|v| v.gate && !v.met)
        })
        .map(|r| r.plan.scenario.name())
        .collect();
    if !failed.is_empty() {
        anyhow::bail!("errors, accounting mismatches or missed checks in: {}", failed.join(", "));
    }
    Ok(())
}

/// What the numbers were measured on.
fn machine() -> serde_json::Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_string())
        })
        .unwrap_or_default();
    serde_json::json!({
        "cpu": cpu,
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "os": std::env::consts::OS,
        "version": env!("CARGO_PKG_VERSION"),
    })
}
