//! A run: log the agents in, drive the phases, drain, check the accounting, log out.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use switchboard_proto::v1 as pb;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::center::{CenterSpec, HOT_QUEUE};
use crate::check::{self, Accounting};
use crate::cpu::{self, ServerCpu, GENERATOR_THREAD_PREFIX};
use crate::recorder::{QueueTally, Recorded};
use crate::report::{PhaseReport, Report, Verdict};
use crate::scenario::{Arrivals, Knobs, Plan, Scenario};
use crate::traffic::{agent_ids, Clients, Target, Traffic};

/// The journal of the server started in process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JournalMode {
    /// No journal: state lives in memory only.
    Off,
    /// `sync = "batch"`: written before the answer, `fdatasync` every `batch_ms`.
    Batch,
    /// `sync = "always"`: written and `fdatasync`ed before the answer (group commit).
    Always,
}

impl JournalMode {
    /// The name on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            JournalMode::Off => "off",
            JournalMode::Batch => "batch",
            JournalMode::Always => "always",
        }
    }

    /// Parses a name.
    pub fn parse(name: &str) -> Option<JournalMode> {
        [JournalMode::Off, JournalMode::Batch, JournalMode::Always]
            .into_iter()
            .find(|m| m.name() == name)
    }
}

/// Everything a run needs besides the server.
#[derive(Clone, Debug)]
pub struct Options {
    /// What to measure.
    pub scenario: Scenario,
    /// Durations, rates, caller counts.
    pub knobs: Knobs,
    /// The center the server runs (in process: the one it is started with).
    pub center: CenterSpec,
    /// gRPC connections the generator opens.
    pub connections: usize,
    /// Supervisors watching the stats stream.
    pub supervisors: usize,
    /// No more calls than this, whatever the durations say.
    pub max_calls: u64,
    /// Seed of every random choice.
    pub seed: u64,
    /// Longest wait for calls in flight to finish after arrivals stop.
    pub drain_timeout: Duration,
    /// The in-process server's journal (a separate server's is its own business).
    pub journal: JournalMode,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            scenario: Scenario::Floor,
            knobs: Knobs::default(),
            center: CenterSpec::default(),
            connections: 4,
            supervisors: 4,
            max_calls: 10_000_000,
            seed: 1,
            drain_timeout: Duration::from_secs(60),
            journal: JournalMode::Off,
        }
    }
}

/// Where the server is.
#[derive(Clone, Debug)]
pub struct Endpoint {
    /// gRPC address; loopback only.
    pub grpc: SocketAddr,
    /// HTTP address serving `/metrics`, for the RPC-counter check.
    pub metrics: Option<SocketAddr>,
    /// Whose CPU is the server's.
    pub cpu: ServerCpu,
    /// Bearer token (an admin token when authentication is on).
    pub token: Option<String>,
    /// Shown in reports.
    pub label: String,
    /// The server's journal, when known (in process).
    pub journal: Option<JournalMode>,
}

/// Agents logged in (or out) at once during set-up.
const SETUP_PARALLELISM: usize = 64;

/// Runs `options` against the server at `endpoint` on the current tokio runtime.
pub async fn run_against(endpoint: &Endpoint, options: &Options) -> anyhow::Result<Report> {
    for addr in std::iter::once(endpoint.grpc).chain(endpoint.metrics) {
        if !addr.ip().is_loopback() {
            anyhow::bail!("target: {addr} is not a loopback address; the load generator only drives a server on this machine");
        }
    }
    options.center.validate()?;
    let plan = Plan::new(options.scenario, &options.knobs)?;
    let clients =
        Clients::connect(endpoint.grpc, options.connections, endpoint.token.clone()).await?;
    check_center(&clients, &options.center).await?;

    let agents = agent_ids(&options.center, plan.hot);
    let setup_started = Instant::now();
    let setup_logins = set_agents(&clients, &agents, true).await?;
    let setup_seconds = setup_started.elapsed().as_secs_f64();

    let before = check::queue_counters(&clients).await?;
    let metrics_before = match endpoint.metrics {
        Some(addr) => Some((addr, check::scrape_rpc_counters(addr).await?)),
        None => None,
    };

    let run_id = format!(
        "lg{:x}{:04x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0),
        options.seed & 0xffff
    );
    let (stop_tx, stop_rx) = watch::channel(false);
    let (done_tx, done_rx) = watch::channel(false);
    let traffic = Traffic::new(clients.clone(), options.center, plan.profile, run_id, stop_rx);
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let watcher = tokio::spawn(traffic.clone().watch_assignments(done_rx.clone(), ready_tx));
    if ready_rx.await.is_err() {
        anyhow::bail!("cannot watch assignments (see the log)");
    }
    let supervisors: Vec<_> = (0..options.supervisors)
        .map(|_| tokio::spawn(crate::traffic::supervise(clients.clone(), done_rx.clone())))
        .collect();

    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    let calls = Arc::new(AtomicU64::new(0));
    let mut in_flight = JoinSet::new();
    // Every phase's recorder, snapshotted again for the accounting once everything has finished:
    // an RPC that completes between a phase's report and the next phase's start still records
    // into the old recorder, and the report's early snapshot would miss it.
    let mut phase_recorders = Vec::new();
    let mut phases = Vec::new();
    for phase in &plan.phases {
        let recorder = traffic.begin_phase();
        let cpu_before = cpu::sample(endpoint.cpu);
        let started = Instant::now();
        let end = started + phase.duration;
        match phase.arrivals {
            Arrivals::Closed { callers } => {
                let mut workers = JoinSet::new();
                for _ in 0..callers {
                    let traffic = traffic.clone();
                    let calls = calls.clone();
                    let (max_calls, hot) = (options.max_calls, plan.hot);
                    let mut worker_rng = ChaCha8Rng::seed_from_u64(rng.random());
                    workers.spawn(async move {
                        while Instant::now() < end {
                            let n = calls.fetch_add(1, Ordering::Relaxed);
                            if n >= max_calls {
                                break;
                            }
                            let target = if hot {
                                Target::Hot
                            } else {
                                traffic.pick_target(&mut worker_rng)
                            };
                            traffic.call(n, target, worker_rng.random()).await;
                        }
                    });
                }
                while workers.join_next().await.is_some() {}
            }
            Arrivals::Open { calls_per_s } => {
                let mean_gap_s = 1.0 / calls_per_s;
                let mut next = Instant::now();
                'arrivals: while next < end {
                    // Catch up in a batch when the timer wakes late: the rate is a schedule.
                    while next <= Instant::now() {
                        let n = calls.fetch_add(1, Ordering::Relaxed);
                        if n >= options.max_calls {
                            break 'arrivals;
                        }
                        let target =
                            if plan.hot { Target::Hot } else { traffic.pick_target(&mut rng) };
                        let (traffic, seed) = (traffic.clone(), rng.random());
                        in_flight.spawn(async move { traffic.call(n, target, seed).await });
                        let u: f64 = rng.random_range(f64::EPSILON..1.0);
                        next += Duration::from_secs_f64(-u.ln() * mean_gap_s);
                    }
                    tokio::time::sleep_until(next.into()).await;
                    // Reap finished calls so the set stays as small as the calls in flight.
                    while in_flight.try_join_next().is_some() {}
                }
                if next >= end {
                    tokio::time::sleep_until(end.into()).await;
                }
            }
        }
        let seconds = started.elapsed().as_secs_f64();
        let cpu_used = cpu_delta(cpu_before, cpu::sample(endpoint.cpu));
        let snapshot = recorder.snapshot();
        let mut report =
            PhaseReport::new(phase.name.clone(), phase.arrivals, seconds, &snapshot, cpu_used);
        report.last_refusal_ms =
            snapshot.last_refusal.map(|t| t.saturating_duration_since(started).as_millis() as u64);
        phases.push(report);
        phase_recorders.push(recorder.clone());
        if calls.load(Ordering::Relaxed) >= options.max_calls {
            break;
        }
    }

    // Arrivals are over: calls in flight finish at once (no more pauses).
    let drain_recorder = traffic.begin_phase();
    let drain_started = Instant::now();
    let cpu_before = cpu::sample(endpoint.cpu);
    let _ = stop_tx.send(true);
    let mut unfinished = 0;
    let drained = tokio::time::timeout(options.drain_timeout, async {
        while in_flight.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        unfinished = in_flight.len();
        in_flight.abort_all();
    }
    let drain_snapshot = drain_recorder.snapshot();
    let drain = PhaseReport::new(
        "drain".into(),
        Arrivals::Closed { callers: 0 },
        drain_started.elapsed().as_secs_f64(),
        &drain_snapshot,
        cpu_delta(cpu_before, cpu::sample(endpoint.cpu)),
    );
    phase_recorders.push(drain_recorder.clone());
    let _ = done_tx.send(true);
    let assignment_reconnects = watcher.await.unwrap_or(0);
    let mut stats_snapshots = 0;
    for s in supervisors {
        stats_snapshots += s.await.unwrap_or(0);
    }

    let recorded: Vec<Recorded> = phase_recorders.iter().map(|r| r.snapshot()).collect();
    let mut tallies: BTreeMap<String, QueueTally> = BTreeMap::new();
    for r in &recorded {
        for (queue, t) in &r.queues {
            let sum = tallies.entry(queue.clone()).or_default();
            sum.offered += t.offered;
            sum.answered += t.answered;
            sum.abandoned += t.abandoned;
            sum.handled += t.handled;
        }
    }
    let refs: Vec<&Recorded> = recorded.iter().collect();
    let mut accounting: Accounting =
        check::settle_and_compare(&clients, &tallies, &before, metrics_before, &refs).await?;
    if unfinished > 0 {
        accounting.mismatches.push(format!(
            "{unfinished} calls did not finish within the drain timeout of {} s",
            options.drain_timeout.as_secs()
        ));
    }
    let failed: u64 = recorded.iter().map(|r| r.calls.failed).sum();
    if failed > 0 {
        // Failed calls may hold agents or wait in queues: the counts cannot be exact then.
        accounting.mismatches.push(format!("{failed} calls failed (see the error counts)"));
    }
    set_agents(&clients, &agents, false).await?;

    let verdicts = verdicts(&plan, &phases);
    Ok(Report {
        plan,
        server: endpoint.label.clone(),
        journal: endpoint.journal.map_or("unknown", JournalMode::name).to_string(),
        agents: if options.scenario == Scenario::Hot {
            options.center.hot_agents
        } else {
            options.center.agents
        },
        queues: options.center.queues,
        setup_logins,
        setup_seconds,
        phases,
        drain,
        stats_snapshots,
        assignment_reconnects,
        accounting,
        verdicts,
    })
}

fn cpu_delta(before: Option<cpu::CpuTimes>, after: Option<cpu::CpuTimes>) -> Option<(f64, f64)> {
    let (b, a) = (before?, after?);
    Some(((a.server_s - b.server_s).max(0.0), (a.generator_s - b.generator_s).max(0.0)))
}

/// Refuses a server that does not run the generator's center: its calls would go elsewhere
/// and the accounting would mean nothing.
async fn check_center(clients: &Clients, center: &CenterSpec) -> anyhow::Result<()> {
    let listed = clients
        .supervisor()
        .list_queue_stats(clients.request(pb::ListQueueStatsRequest {}))
        .await
        .map_err(|e| anyhow::anyhow!("ListQueueStats: {e}"))?
        .into_inner();
    let ids: std::collections::HashSet<&str> =
        listed.queues.iter().map(|q| q.queue.as_str()).collect();
    let missing = (0..center.queues)
        .map(CenterSpec::queue_id)
        .chain(std::iter::once(HOT_QUEUE.to_string()))
        .find(|q| !ids.contains(q.as_str()));
    if let Some(q) = missing {
        anyhow::bail!(
            "the server has no queue {q}: start it with the generator's center \
             (`switchboard loadgen center --agents {} --queues {} > center.toml`, then \
             `switchboard serve --config center.toml`)",
            center.agents,
            center.queues
        );
    }
    Ok(())
}

/// Logs `agents` in (ready) or out, `SETUP_PARALLELISM` at a time. An agent already in the
/// wanted state is fine (a second run against the same server); an unknown agent is not.
async fn set_agents(clients: &Clients, agents: &[String], login: bool) -> anyhow::Result<u64> {
    let next = Arc::new(AtomicUsize::new(0));
    let agents: Arc<[String]> = agents.into();
    let mut workers = JoinSet::new();
    for _ in 0..SETUP_PARALLELISM {
        let (next, agents, clients) = (next.clone(), agents.clone(), clients.clone());
        workers.spawn(async move {
            let mut done = 0u64;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(id) = agents.get(i) else { return Ok(done) };
                let mut client = clients.agents();
                let result = if login {
                    client
                        .login(clients.request(pb::LoginRequest { agent_id: id.clone(), ready: true }))
                        .await
                } else {
                    client.logout(clients.request(pb::AgentRequest { agent_id: id.clone() })).await
                };
                match result {
                    Ok(_) => done += 1,
                    Err(e) if e.code() == tonic::Code::FailedPrecondition => {}
                    Err(e) if e.code() == tonic::Code::NotFound => {
                        return Err(anyhow::anyhow!(
                            "the server has no agent {id}: start it with the generator's center (`switchboard loadgen center`)"
                        ))
                    }
                    Err(e) => {
                        return Err(anyhow::anyhow!(
                            "{} {id}: {e}",
                            if login { "Login" } else { "Logout" }
                        ))
                    }
                }
            }
        });
    }
    let mut total = 0;
    while let Some(result) = workers.join_next().await {
        total += result.map_err(|e| anyhow::anyhow!("set-up task: {e}"))??;
    }
    Ok(total)
}

/// Issue targets: at least 30,000 RPCs/s of the mix with p99 under 2 ms and no error; latency
/// floor p50 under 150 us; zero errors everywhere.
pub const TARGET_RPCS_PER_S: f64 = 30_000.0;
/// p99 bound of the throughput target, microseconds.
pub const TARGET_P99_US: u64 = 2_000;
/// Latency floor target, microseconds.
pub const TARGET_FLOOR_P50_US: u64 = 150;

fn verdicts(plan: &Plan, phases: &[PhaseReport]) -> Vec<Verdict> {
    let mut out = Vec::new();
    let errors: u64 = phases.iter().map(|p| p.errors).sum();
    out.push(Verdict {
        target: "zero errors".into(),
        measured: format!("{errors} errors"),
        met: errors == 0,
        gate: false,
    });
    let refused: u64 = phases.iter().map(|p| p.refused).sum();
    if plan.scenario != Scenario::Overload {
        out.push(Verdict {
            target: "no new call refused below capacity".into(),
            measured: format!("{refused} RouteCalls refused"),
            met: refused == 0,
            gate: false,
        });
    }
    match plan.scenario {
        Scenario::Floor => {
            if let Some(p) = phases.first() {
                out.push(Verdict {
                    target: format!("latency floor p50 < {TARGET_FLOOR_P50_US} us"),
                    measured: format!(
                        "p50 {} us, p99 {} us, p99.9 {} us over {} RPCs",
                        p.latency.p50_us, p.latency.p99_us, p.latency.p999_us, p.latency.count
                    ),
                    met: p.latency.p50_us < TARGET_FLOOR_P50_US,
                    gate: false,
                });
            }
        }
        Scenario::Saturation => {
            let best = phases
                .iter()
                .filter(|p| p.errors == 0 && p.latency.p99_us < TARGET_P99_US)
                .max_by(|a, b| a.rpcs_per_s.total_cmp(&b.rpcs_per_s));
            let peak = phases
                .iter()
                .filter(|p| p.errors == 0)
                .max_by(|a, b| a.rpcs_per_s.total_cmp(&b.rpcs_per_s));
            out.push(Verdict {
                target: format!(
                    ">= {TARGET_RPCS_PER_S:.0} RPCs/s of the mix with p99 < {} ms and zero errors",
                    TARGET_P99_US / 1000
                ),
                measured: match (best, peak) {
                    (Some(b), Some(p)) => format!(
                        "{:.0} RPCs/s (p99 {} us) with {}; most without errors {:.0} RPCs/s (p99 {} us) with {}",
                        b.rpcs_per_s, b.latency.p99_us, b.name, p.rpcs_per_s, p.latency.p99_us, p.name
                    ),
                    (None, Some(p)) => format!(
                        "no step had p99 < 2 ms; most without errors {:.0} RPCs/s (p99 {} us) with {}",
                        p.rpcs_per_s, p.latency.p99_us, p.name
                    ),
                    _ => "every step had errors".into(),
                },
                met: best.is_some_and(|b| b.rpcs_per_s >= TARGET_RPCS_PER_S),
                gate: false,
            });
        }
        Scenario::Overload => out.extend(check::overload(phases)),
        Scenario::Realistic | Scenario::Burst | Scenario::Hot => {}
    }
    out
}

/// Starts a server in this process on 127.0.0.1 (ephemeral ports, call records in a temp
/// directory) with the generator's center, runs `options` against it on a separate runtime
/// whose threads are named `sb-loadgen` (so CPU splits into server and generator), and stops
/// the server the way SIGTERM does.
pub fn run_in_process(options: &Options) -> anyhow::Result<Report> {
    options.center.validate()?;
    use switchboard_server::journal::{JournalSettings, SyncPolicy};
    let config = switchboard_server::LoadedConfig::parse(options.center.to_toml(), None)
        .map_err(|e| anyhow::anyhow!("generated center: {e}"))?;
    let dir = std::env::temp_dir().join(format!("switchboard-loadgen-{}", std::process::id()));
    std::fs::create_dir_all(&dir)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    let sync = match options.journal {
        JournalMode::Off => None,
        JournalMode::Batch => Some(SyncPolicy::Batch),
        JournalMode::Always => Some(SyncPolicy::Always),
    };
    let journal = match sync {
        None => JournalSettings::default(),
        Some(sync) => {
            JournalSettings { dir: Some(dir.join("journal")), sync, ..JournalSettings::default() }
        }
    };
    let settings = switchboard_server::Settings {
        records_db: dir.join("records.sqlite"),
        journal,
        ..switchboard_server::Settings::default()
    };
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .thread_name("sb-server")
        .enable_all()
        .build()?;
    let (grpc, http) = server_rt.block_on(async {
        let grpc = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let http = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        anyhow::Ok((grpc, http))
    })?;
    let endpoint = Endpoint {
        grpc: grpc.local_addr()?,
        metrics: Some(http.local_addr()?),
        cpu: ServerCpu::InProcess,
        token: None,
        label: "an in-process server on 127.0.0.1".into(),
        journal: Some(options.journal),
    };
    let (shutdown_tx, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
    let server =
        server_rt.spawn(switchboard_server::run(settings, config, grpc, http, async move {
            let _ = shutdown_rx.await;
        }));
    let report = run_on_generator_runtime(&endpoint, options);
    let _ = shutdown_tx.send(());
    let stopped =
        server_rt.block_on(async { tokio::time::timeout(Duration::from_secs(30), server).await });
    let _ = std::fs::remove_dir_all(&dir);
    match stopped {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => return Err(e.context("the in-process server failed")),
        Ok(Err(e)) => anyhow::bail!("the in-process server panicked: {e}"),
        Err(_) => anyhow::bail!("the in-process server did not stop within 30 s"),
    }
    report
}

/// Runs `options` against `endpoint` on a new runtime whose threads are named
/// `sb-loadgen`.
pub fn run_on_generator_runtime(endpoint: &Endpoint, options: &Options) -> anyhow::Result<Report> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .thread_name(GENERATOR_THREAD_PREFIX)
        .enable_all()
        .build()?;
    let (endpoint, options) = (endpoint.clone(), options.clone());
    // Spawned, not run by block_on: the calling thread is not a generator thread.
    rt.block_on(
        async move { tokio::spawn(async move { run_against(&endpoint, &options).await }).await },
    )
    .map_err(|e| anyhow::anyhow!("load generator task: {e}"))?
}
