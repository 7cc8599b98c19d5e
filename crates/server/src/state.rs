//! [`Switchboard`]: the one cheap-to-clone handle over everything the services share.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;
use switchboard_proto::v1 as pb;
use switchboard_routing::plan::{CustomerStore, Router, RoutingConfig};
use switchboard_routing::{AgentStateKind, CallId, Offer, Timestamp};
use tokio::sync::{broadcast, watch};

use crate::auth::Auth;
use crate::cdr::CallFact;
use crate::clock::Clock;
use crate::error::{ServiceError, ServiceResult};
use crate::hub::{Hub, HubObserver};
use crate::metrics::Metrics;
use crate::pump::{PumpMsg, PumpShared};
use crate::records::{RecordSink, RecordWriter};
use crate::settings::WallboardSettings;
use crate::stats::StatsState;
use crate::wallboard::History;

/// The example contact center served when no configuration file is given.
pub const BUILTIN_CONFIG: &str = include_str!("../../../deploy/examples/contact-center.toml");
/// Its customer list.
pub const BUILTIN_CUSTOMERS: &str = include_str!("../../../deploy/examples/customers.csv");

/// A contact-center configuration as loaded from a file or the built-in example.
#[derive(Clone, Debug)]
pub struct LoadedConfig {
    /// The parsed configuration.
    pub routing: RoutingConfig,
    /// Its customers.
    pub customers: CustomerStore,
    /// The TOML text.
    pub text: String,
    /// The file, if any (customer CSVs are relative to it; reloads re-read it).
    pub path: Option<PathBuf>,
}

impl LoadedConfig {
    /// Parses `text`; `path` locates the customer CSV. Problems are listed one per line as
    /// `FILE:LINE: path: message`.
    pub fn parse(text: String, path: Option<&Path>) -> Result<LoadedConfig, ServiceError> {
        let name = path.map_or("<config>".to_string(), |p| p.display().to_string());
        let routing = RoutingConfig::from_toml(&text).map_err(|e| {
            let lines: Vec<String> = e
                .problems
                .iter()
                .map(|p| format!("{name}:{}: {}: {}", p.line, p.path, p.message))
                .collect();
            ServiceError::invalid("config", lines.join("\n"))
        })?;
        let customers = match (&routing.customers_csv, path) {
            (None, _) => CustomerStore::default(),
            (Some(_), None) => CustomerStore::from_csv(BUILTIN_CUSTOMERS)
                .map_err(|e| ServiceError::invalid("customers.csv", e.to_string()))?,
            (Some(csv), Some(path)) => {
                let csv_path = path.parent().unwrap_or(Path::new(".")).join(csv);
                let csv_text = std::fs::read_to_string(&csv_path).map_err(|e| {
                    ServiceError::invalid(
                        "customers.csv",
                        format!("cannot read {}: {e}", csv_path.display()),
                    )
                })?;
                CustomerStore::from_csv(&csv_text).map_err(|e| {
                    ServiceError::invalid("customers.csv", format!("{}: {e}", csv_path.display()))
                })?
            }
        };
        Ok(LoadedConfig { routing, customers, text, path: path.map(Path::to_path_buf) })
    }

    /// Reads and parses a file, or the built-in example when `path` is `None`.
    pub fn load(path: Option<&Path>) -> anyhow::Result<LoadedConfig> {
        let text = match path {
            Some(p) => std::fs::read_to_string(p)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", p.display()))?,
            None => BUILTIN_CONFIG.to_string(),
        };
        LoadedConfig::parse(text, path).map_err(|e| match e {
            ServiceError::InvalidArgument { reason, .. } => anyhow::anyhow!("{reason}"),
            other => anyhow::anyhow!("{other}"),
        })
    }
}

/// Everything the services share. Cloning is cheap.
#[derive(Clone)]
pub struct Switchboard {
    shared: Arc<Shared>,
}

struct Shared {
    /// The router in force. Swapped whole on reload; readers hold the lock only to clone the
    /// handle, never across an engine call or an `.await`.
    router: RwLock<Router>,
    /// The configuration in force; written with `router` under the same reload mutex.
    config: RwLock<LoadedConfig>,
    /// Serializes reloads so two cannot interleave their validate-then-swap.
    reload: parking_lot::Mutex<()>,
    /// Configurations loaded since start.
    generation: AtomicU64,
    hub: Arc<Hub>,
    pump: Arc<PumpShared>,
    auth: Auth,
    metrics: Arc<Metrics>,
    /// Latest statistics snapshot; refreshed by the stats task, read by streams and pages.
    snapshots: watch::Sender<Arc<pb::StatsSnapshot>>,
    /// Set once at shutdown: open streams end so the server can drain.
    closing: watch::Sender<bool>,
    /// Wallboard colours and history length.
    wallboard: WallboardSettings,
    /// Samples for the wallboard chart; written by the stats refresher only.
    history: parking_lot::Mutex<History>,
    /// Where every handler reads the time: the wall clock, or a test's manual clock.
    clock: Clock,
    /// Calls held at once before RouteCall refuses new ones.
    max_calls_in_flight: usize,
    /// Server streams per client.
    streams: Arc<crate::limits::StreamLimiter>,
    /// Requests in flight against the concurrency limits.
    admission: Arc<crate::limits::Admission>,
}

/// Background parts to stop in order at shutdown.
pub struct Background {
    pump: std::thread::JoinHandle<()>,
    records: RecordWriter,
    journal: Option<crate::journal::JournalWriter>,
}

impl Background {
    /// Waits for the pump to drain and the call records to be committed. Call after every
    /// [`Switchboard`] clone is dropped. The journal goes before the record writer: its
    /// writer sends the last call records and holds a sink the record writer waits for.
    pub fn join(self) {
        if self.pump.join().is_err() {
            tracing::error!("event pump panicked");
        }
        if let Some(journal) = self.journal {
            journal.join();
        }
        self.records.join();
    }
}

impl Switchboard {
    /// Builds the engine from `config` (recovering live state from the journal when
    /// `settings.journal` has a directory) and starts the event pump, writing records to
    /// `records`.
    pub fn start(
        config: LoadedConfig,
        settings: &crate::settings::Settings,
        records: (RecordSink, RecordWriter),
        clock: Clock,
    ) -> anyhow::Result<(Switchboard, Background)> {
        let auth = Auth::new(settings.auth.clone());
        let wallboard = settings.wallboard.clone();
        let max_calls_in_flight = settings.max_calls_in_flight;
        let limits = &settings.limits;
        let journal_settings = &settings.journal;
        let (pump_tx, pump_rx) = crossbeam_channel::unbounded();
        let now = clock.now();
        let mut stats = StatsState::new(
            &config.routing.queues,
            config.routing.time_zone,
            now.as_millis() as i64,
        );
        let (sink, writer) = records;
        let mut recovered_calls = crate::cdr::CallFold::default();
        let recovery = match &journal_settings.dir {
            Some(dir) => {
                // Agent time replayed counts in the queues the configuration at start gives
                // each agent's profile at the time (changed through the API or not).
                let queues = &config.routing.queues;
                let profiles: std::collections::HashMap<_, _> =
                    config.routing.agents.iter().map(|a| (&a.id, a)).collect();
                let members =
                    |agent: &switchboard_routing::AgentId,
                     live: &switchboard_routing::LiveState| {
                        let profile = match live.profiles.get(agent) {
                            Some(Some(profile)) => profile,
                            Some(None) => return None,
                            None => *profiles.get(agent)?,
                        };
                        Some(
                            queues
                                .iter()
                                .filter(|q| q.accepts(profile))
                                .map(|q| q.id.clone())
                                .collect(),
                        )
                    };
                let mut recovered = crate::journal::recover_with(dir, &members)
                    .map_err(|e| anyhow::anyhow!("journal recovery: {e}"))?;
                // Another configuration than the one journaled last is a configuration load:
                // its splits start over, as after a reload (in a generation newer than any
                // journaled, so the journal's fold starts their counts over too).
                let hash = crate::journal::text_hash(&config.text);
                if recovered.snapshot.config.is_some_and(|(_, last)| last != hash) {
                    recovered.snapshot.state.splits.start_over();
                }
                recovered.snapshot.drop_records_of_lost_calls();
                recovered.snapshot.tally.thresholds = stats.thresholds();
                // Agent time up to the last journaled record counts; the outage does not.
                recovered.snapshot.tally.restart_agents(now.as_millis() as i64);
                stats.restore(&recovered.snapshot.tally);
                // Records finished before the crash that SQLite may not have: written again,
                // idempotently (one row per switch, call id and arrival).
                let replayed = recovered.snapshot.unwritten.len();
                for (seq, record) in &recovered.snapshot.unwritten {
                    sink.send_journaled(*seq, record.clone());
                }
                tracing::info!(
                    records_replayed = replayed,
                    calls_open = recovered.snapshot.calls.open_calls(),
                    "call records recovered from the journal"
                );
                recovered_calls = recovered.snapshot.calls.clone();
                let (journal, writer) = crate::journal::Journal::open_with_records(
                    journal_settings.clone(),
                    dir,
                    recovered.snapshot.clone(),
                    Some(sink.clone()),
                )
                .map_err(|e| anyhow::anyhow!("journal: {e}"))?;
                Some((recovered, journal, writer))
            }
            None => None,
        };
        let journal = recovery.as_ref().map(|(_, j, _)| j.clone());
        let hub = Arc::new(Hub::with_journal(pump_tx, limits.assignment_buffer, journal.clone()));
        let router = Router::new(
            config.routing.clone(),
            config.customers.clone(),
            Arc::new(HubObserver(hub.clone())),
        )
        .map_err(|e| anyhow::anyhow!("cannot build the engine: {e}"))?;
        for agent in &config.routing.agents {
            hub.endpoints.insert(agent.id.clone(), crate::convert::endpoint(agent));
        }
        if let Some(journal) = &journal {
            let engine = router.engine().clone();
            journal.set_members(move |agent| engine.agent(agent).map(|a| a.queues));
        }
        let pump = Arc::new(PumpShared {
            stats: parking_lot::Mutex::new(stats),
            version: AtomicU64::new(0),
            agent_updates: broadcast::channel(limits.agent_update_buffer).0,
        });
        let records_out = match journal {
            Some(_) => crate::pump::RecordsOut::FromJournal(sink),
            None => crate::pump::RecordsOut::Write(sink),
        };
        let engine = router.engine().clone();
        let pump_shared = pump.clone();
        let pump_thread =
            std::thread::Builder::new().name("event-pump".into()).spawn(move || {
                crate::pump::run(pump_rx, pump_shared, engine, records_out, recovered_calls)
            })?;
        let queues = config.routing.queues.len();
        let metrics = Arc::new(Metrics::new(&config.routing.queues));
        let streams = crate::limits::StreamLimiter::new(
            limits.max_streams_per_client,
            metrics.overload.clone(),
        );
        let admission = crate::limits::Admission::new(limits, metrics.overload.clone());
        let board = Switchboard {
            shared: Arc::new(Shared {
                router: RwLock::new(router),
                config: RwLock::new(config),
                reload: parking_lot::Mutex::new(()),
                generation: AtomicU64::new(1),
                hub,
                pump,
                auth,
                metrics,
                snapshots: watch::channel(Arc::new(pb::StatsSnapshot::default())).0,
                closing: watch::channel(false).0,
                history: parking_lot::Mutex::new(History::new(wallboard.history_minutes)),
                wallboard,
                clock,
                max_calls_in_flight,
                streams,
                admission,
            }),
        };
        tracing::info!(queues, "engine started");
        let journal_writer = match recovery {
            Some((recovered, journal, journal_writer)) => {
                board.recover(&recovered, now)?;
                // The live statistics time the restored agents from now, as the tally does
                // (the engine reports no change for an agent restored as it was).
                let now_ms = now.as_millis() as i64;
                let agents = board.router().engine().agents();
                let mut stats = board.shared.pump.stats.lock();
                for agent in
                    agents.into_iter().filter(|a| a.state.kind() != AgentStateKind::LoggedOut)
                {
                    stats.agent_changed(&agent.profile.id, &agent.state, now_ms, agent.queues);
                }
                drop(stats);
                let config = board.config();
                let hash = crate::journal::text_hash(&config.text);
                if let Some((generation, last)) = recovered.snapshot.config {
                    if last != hash {
                        tracing::warn!(
                            last_generation = generation,
                            "the configuration differs from the one journaled last; \
                             entries of queues or agents it no longer has were dropped"
                        );
                    }
                }
                journal.append(crate::journal::Record::Config { generation: 1, hash });
                Some(journal_writer)
            }
            None => None,
        };
        board.refresh_snapshot();
        Ok((board, Background { pump: pump_thread, records: writer, journal: journal_writer }))
    }

    /// Restores the engine from what the journal recovered, and reports it in the log and
    /// the `switchboard_recovered_total` metric.
    fn recover(&self, recovered: &crate::journal::Recovered, now: Timestamp) -> anyhow::Result<()> {
        let router = self.router();
        let report = router
            .engine()
            .restore(&recovered.snapshot.state, now)
            .map_err(|e| anyhow::anyhow!("journal recovery: {e}"))?;
        let count = |kind: String, n: usize| {
            if n > 0 {
                self.metrics()
                    .recovered
                    .get_or_create(&crate::metrics::RecoveredLabel { kind })
                    .inc_by(n as u64);
            }
        };
        for (state, n) in &report.agents {
            count(format!("agent_{}", state.as_str()), *n);
        }
        count("call_queued".into(), report.calls_queued);
        count("call_offered".into(), report.calls_offered);
        count("call_connected".into(), report.calls_connected);
        count("offer_expired".into(), report.offers_expired);
        count("dropped".into(), report.dropped.len());
        // Calls that had timed out of their queue take their overflow step now; what it
        // decides is streamed as a timer pass's decisions are.
        let (mut plans, offers) = crate::hub::collecting_offers(|| {
            router.restore_sessions(&recovered.snapshot.state, now)
        });
        let resumed = std::mem::take(&mut plans.resumed);
        // The switch of each call that came back, from its open record: its decisions and
        // offers stream to that switch, as before the restart.
        for (call, open) in &recovered.snapshot.calls.calls {
            let held = router.engine().call_status(call).is_some()
                || router.trace(call).is_some()
                || resumed.iter().any(|d| d.call == *call);
            if held {
                self.shared.hub.call_switch.insert(call.clone(), open.record.switch_id.clone());
            }
        }
        let report_resumed = resumed.len();
        count("plan_session_resumed".into(), report_resumed);
        self.deliver(resumed, &offers);
        count("plan_session_queued".into(), plans.queued);
        count("plan_session_ivr".into(), plans.ivr);
        count("last_agent".into(), plans.last_agents);
        count("split_position".into(), plans.splits);
        count("dropped".into(), plans.dropped.len());
        count("torn_tail".into(), recovered.truncated.len());
        for problem in report.dropped.iter().chain(&plans.dropped) {
            tracing::warn!(%problem, "journal recovery: not restored");
        }
        let agents: Vec<String> =
            report.agents.iter().map(|(s, n)| format!("{}={n}", s.as_str())).collect();
        tracing::info!(
            last_seq = recovered.snapshot.seq,
            records_replayed = recovered.records,
            snapshot = ?recovered.snapshot_file,
            agents = %agents.join(","),
            calls_queued = report.calls_queued,
            calls_offered = report.calls_offered,
            calls_connected = report.calls_connected,
            offers_expired_released = report.offers_expired,
            plan_sessions_queued = plans.queued,
            plan_sessions_ivr = plans.ivr,
            plan_sessions_resumed = report_resumed,
            last_agents = plans.last_agents,
            split_positions = plans.splits,
            dropped = report.dropped.len() + plans.dropped.len(),
            torn_tails = recovered.truncated.len(),
            "journal recovered"
        );
        Ok(())
    }

    /// The journal, when on.
    pub fn journal_handle(&self) -> Option<crate::journal::Journal> {
        self.shared.hub.journal.clone()
    }

    /// Journals a record the engine does not report itself (profile changes, reloads).
    pub fn journal(&self, record: crate::journal::Record) {
        if let Some(journal) = &self.shared.hub.journal {
            journal.append(record);
        }
    }

    /// The time now, from the server's clock.
    pub fn now(&self) -> Timestamp {
        self.shared.clock.now()
    }

    /// Calls held at once before RouteCall refuses new ones.
    pub fn max_calls_in_flight(&self) -> usize {
        self.shared.max_calls_in_flight
    }

    /// Server streams per client.
    pub fn streams(&self) -> &Arc<crate::limits::StreamLimiter> {
        &self.shared.streams
    }

    /// A place for one more server stream of the client behind `request`, or
    /// RESOURCE_EXHAUSTED naming `server.limits.max_streams_per_client`.
    pub fn stream_permit<T>(
        &self,
        request: &tonic::Request<T>,
        stream: &'static str,
    ) -> ServiceResult<crate::limits::StreamPermit> {
        let client = crate::limits::client_key(
            request.metadata(),
            request.remote_addr(),
            self.shared.auth.enabled(),
        );
        self.shared.streams.acquire(client, stream)
    }

    /// Requests in flight against the concurrency limits (the gRPC admission layer).
    pub fn admission(&self) -> &Arc<crate::limits::Admission> {
        &self.shared.admission
    }

    /// The router in force.
    pub fn router(&self) -> Router {
        self.shared.router.read().clone()
    }

    /// The observer hub.
    pub fn hub(&self) -> &Arc<Hub> {
        &self.shared.hub
    }

    /// Token checks.
    pub fn auth(&self) -> &Auth {
        &self.shared.auth
    }

    /// Prometheus metrics.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.shared.metrics
    }

    /// Agent updates.
    pub fn agent_updates(&self) -> broadcast::Receiver<Arc<pb::Agent>> {
        self.shared.pump.agent_updates.subscribe()
    }

    /// The latest statistics snapshots.
    pub fn snapshots(&self) -> watch::Receiver<Arc<pb::StatsSnapshot>> {
        self.shared.snapshots.subscribe()
    }

    /// Starts shutdown: streams end.
    pub fn close(&self) {
        self.shared.closing.send_replace(true);
    }

    /// Resolves when shutdown has started.
    pub fn closing(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.shared.closing.subscribe();
        async move {
            let _ = rx.wait_for(|closing| *closing).await;
        }
    }

    /// Stops the event pump after it has processed everything sent so far; the call records
    /// are flushed when [`Background::join`] returns.
    pub fn stop_pump(&self) {
        self.to_pump(PumpMsg::Shutdown);
    }

    /// Sends a fact to the pump; a fact about a call is journaled first (call records
    /// derive from it), so the RPC that reported it is answered once it is durable.
    pub fn to_pump(&self, msg: PumpMsg) {
        if let Some(journal) = &self.shared.hub.journal {
            if let Some(fact) = msg.call_fact() {
                journal.append(crate::journal::Record::Call(fact.clone()));
            }
        }
        self.shared.hub.to_pump(msg);
    }

    /// Waits until the pump has processed everything sent before (tests, shutdown).
    pub fn pump_barrier(&self) {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.to_pump(PumpMsg::Barrier(tx));
        let _ = rx.recv_timeout(std::time::Duration::from_secs(10));
    }

    /// Statistics version: changes whenever the pump processed something.
    pub fn stats_version(&self) -> u64 {
        self.shared.pump.version.load(Ordering::Acquire)
    }

    /// One queue's statistics now.
    pub fn queue_stats(&self, queue: &str) -> ServiceResult<pb::QueueStats> {
        let router = self.router();
        let snapshot = router.engine().queue_snapshot(&queue.into())?;
        let now_ms = self.now().as_millis() as i64;
        let mut stats = self.shared.pump.stats.lock();
        stats.roll(now_ms);
        stats
            .queue_view(&snapshot, now_ms)
            .ok_or_else(|| ServiceError::NotFound(format!("unknown queue {queue}")))
    }

    /// Every queue's statistics now, in configuration order.
    pub fn all_queue_stats(&self) -> Vec<pb::QueueStats> {
        let ids: Vec<switchboard_routing::QueueId> =
            self.shared.pump.stats.lock().queue_ids().to_vec();
        let router = self.router();
        let snapshots: Vec<_> =
            ids.iter().filter_map(|q| router.engine().queue_snapshot(q).ok()).collect();
        let now_ms = self.now().as_millis() as i64;
        let mut stats = self.shared.pump.stats.lock();
        stats.roll(now_ms);
        stats.queue_views(&snapshots, now_ms)
    }

    /// Every agent, sorted by id.
    pub fn all_agents(&self) -> Vec<pb::Agent> {
        let mut agents: Vec<pb::Agent> =
            self.router().engine().agents().iter().map(crate::convert::agent).collect();
        // Borrowed ids: cloning them in the comparator cost n log n allocations per refresh.
        agents.sort_unstable_by(|a, b| {
            fn id(x: &pb::Agent) -> &str {
                x.profile.as_ref().map_or("", |p| p.id.as_str())
            }
            id(a).cmp(id(b))
        });
        agents
    }

    /// Rebuilds the statistics snapshot and metrics.
    pub fn refresh_snapshot(&self) {
        let queues = self.all_queue_stats();
        let agents = self.all_agents();
        self.shared.metrics.observe(&queues, &agents);
        let overload = &self.shared.metrics.overload;
        overload.buffered("agent", self.shared.pump.agent_updates.len());
        overload.buffered("assignments", self.shared.hub.assignments.len());
        overload.pump_backlog.set(i64::try_from(self.shared.hub.pump.len()).unwrap_or(i64::MAX));
        let snapshot =
            pb::StatsSnapshot { at_unix_ms: self.now().as_millis() as i64, queues, agents };
        self.shared.history.lock().record(&snapshot);
        self.shared.snapshots.send_replace(Arc::new(snapshot));
    }

    /// Wallboard settings.
    pub fn wallboard(&self) -> &WallboardSettings {
        &self.shared.wallboard
    }

    /// The wallboard chart's samples per queue.
    pub fn history(
        &self,
    ) -> std::collections::HashMap<String, Vec<crate::wallboard::HistoryPoint>> {
        self.shared.history.lock().series()
    }

    /// The configuration in force.
    pub fn config(&self) -> LoadedConfig {
        self.shared.config.read().clone()
    }

    /// Configurations loaded since start.
    pub fn generation(&self) -> u64 {
        self.shared.generation.load(Ordering::Relaxed)
    }

    /// Validates and applies a configuration; on error nothing changed.
    pub fn reload(&self, text: Option<String>) -> ServiceResult<LoadedConfig> {
        let _one_at_a_time = self.shared.reload.lock();
        let current_path = self.shared.config.read().path.clone();
        let text = match text {
            Some(t) => t,
            None => match &current_path {
                Some(p) => std::fs::read_to_string(p).map_err(|e| {
                    ServiceError::FailedPrecondition(format!("cannot read {}: {e}", p.display()))
                })?,
                None => {
                    return Err(ServiceError::invalid(
                        "toml",
                        "the server runs the built-in example; send the configuration text",
                    ))
                }
            },
        };
        let loaded = LoadedConfig::parse(text, current_path.as_deref())?;
        let new_router = self
            .router()
            .reload(loaded.routing.clone(), loaded.customers.clone(), self.now())
            .map_err(|e| match ServiceError::from(e) {
                ServiceError::InvalidArgument { field, reason } => {
                    ServiceError::FailedPrecondition(format!("{field}: {reason}"))
                }
                other => other,
            })?;
        for agent in &loaded.routing.agents {
            self.shared.hub.endpoints.insert(agent.id.clone(), crate::convert::endpoint(agent));
        }
        *self.shared.router.write() = new_router;
        *self.shared.config.write() = loaded.clone();
        let generation = self.shared.generation.fetch_add(1, Ordering::Relaxed) + 1;
        self.journal(crate::journal::Record::Config {
            generation,
            hash: crate::journal::text_hash(&loaded.text),
        });
        tracing::info!(generation, plans = loaded.routing.plans.len(), "configuration reloaded");
        Ok(loaded)
    }

    /// Fires due timers and streams what they decided.
    pub fn tick(&self) {
        let router = self.router();
        let (decisions, offers) = crate::hub::collecting_offers(|| router.advance(self.now()));
        self.deliver(decisions, &offers);
    }

    /// Streams decisions made outside an RPC (a timer pass, a step taken at recovery) and
    /// the offers made meanwhile that no decision returns.
    fn deliver(&self, decisions: Vec<switchboard_routing::plan::Decision>, offers: &[Offer]) {
        let hub = &self.shared.hub;
        for offer in offers {
            let returned = decisions.iter().any(|d| {
                matches!(&d.action, switchboard_routing::plan::Action::Connect { offer: o } if o == offer)
            });
            if !returned {
                hub.publish_offer(offer);
            }
        }
        let at = self.now();
        for d in decisions {
            let switch_id = hub.switch_of(&d.call);
            hub.publish(crate::convert::decision(&d, |a| hub.endpoint(a), &switch_id));
            self.decided(&d, at);
        }
    }

    /// Tells the pump about a decision and forgets finished calls' switch mapping.
    pub fn decided(&self, d: &switchboard_routing::plan::Decision, at: Timestamp) {
        use switchboard_routing::plan::Action;
        if matches!(
            d.action,
            Action::Transfer { .. }
                | Action::Voicemail { .. }
                | Action::Announce { .. }
                | Action::Hangup { .. }
                | Action::Refused { .. }
        ) {
            self.forget_call(&d.call);
        }
        self.to_pump(PumpMsg::Call(CallFact::decided(
            d.call.clone(),
            &d.action,
            d.trace.iter().map(|s| s.node.clone()).collect(),
            at,
        )));
    }

    /// The call left Switchboard.
    pub fn forget_call(&self, call: &CallId) {
        self.shared.hub.call_switch.remove(call);
    }
}
