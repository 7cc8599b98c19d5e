//! The callers and agents: one task per call walks its life through the public API (route,
//! IVR digits, queue, ring, answer, talk, end, wrap-up, sometimes a break or an abandon), an
//! assignment watcher hands queued calls their agents, supervisors watch the stats stream.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use switchboard_proto::v1 as pb;
use tokio::sync::{oneshot, watch};
use tonic::transport::Channel;
use tonic::Request;

use crate::center::{CenterSpec, HOT_NUMBER, HOT_QUEUE, MENU_NUMBER};
use crate::recorder::{is_refusal, Recorder, Rpc};

/// gRPC connections to the server, shared round-robin by the tasks, and the bearer token.
#[derive(Clone, Debug)]
pub struct Clients {
    channels: Arc<Vec<Channel>>,
    token: Option<Arc<str>>,
    next: Arc<AtomicU64>,
}

impl Clients {
    /// Opens `connections` HTTP/2 connections to `target` (loopback).
    pub async fn connect(
        target: std::net::SocketAddr,
        connections: usize,
        token: Option<String>,
    ) -> anyhow::Result<Clients> {
        let mut channels = Vec::with_capacity(connections);
        for _ in 0..connections.max(1) {
            let endpoint = Channel::from_shared(format!("http://{target}"))?
                .tcp_nodelay(true)
                .connect_timeout(Duration::from_secs(5));
            let channel = endpoint
                .connect()
                .await
                .map_err(|e| anyhow::anyhow!("cannot connect to {target}: {e}"))?;
            channels.push(channel);
        }
        Ok(Clients {
            channels: Arc::new(channels),
            token: token.map(Arc::from),
            next: Arc::new(AtomicU64::new(0)),
        })
    }

    fn channel(&self) -> Channel {
        let i = self.next.fetch_add(1, Ordering::Relaxed) as usize % self.channels.len();
        self.channels[i].clone()
    }

    /// A Router client on the next connection.
    pub fn router(&self) -> pb::router_client::RouterClient<Channel> {
        pb::router_client::RouterClient::new(self.channel())
    }

    /// An Agents client on the next connection.
    pub fn agents(&self) -> pb::agents_client::AgentsClient<Channel> {
        pb::agents_client::AgentsClient::new(self.channel())
    }

    /// A Supervisor client on the next connection.
    pub fn supervisor(&self) -> pb::supervisor_client::SupervisorClient<Channel> {
        pb::supervisor_client::SupervisorClient::new(self.channel())
    }

    /// An Admin client on the next connection.
    pub fn admin(&self) -> pb::admin_client::AdminClient<Channel> {
        pb::admin_client::AdminClient::new(self.channel())
    }

    /// `message` with the bearer token, if any.
    pub fn request<T>(&self, message: T) -> Request<T> {
        let mut r = Request::new(message);
        if let Some(t) = &self.token {
            if let Ok(v) = format!("Bearer {t}").parse() {
                r.metadata_mut().insert("authorization", v);
            }
        }
        r
    }
}

/// A duration drawn per call: exponential around `mean_ms`, capped at ten means so one
/// unlucky draw cannot hold a bounded run; zero means none.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct MeanMs(pub u64);

impl MeanMs {
    fn sample(self, rng: &mut ChaCha8Rng) -> Duration {
        if self.0 == 0 {
            return Duration::ZERO;
        }
        let u: f64 = rng.random_range(f64::EPSILON..1.0);
        let ms = (-u.ln() * self.0 as f64).min(10.0 * self.0 as f64);
        Duration::from_micros((ms * 1000.0) as u64)
    }
}

/// How calls behave: the traffic mix and its timings.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct CallProfile {
    /// Share of calls that enter through the IVR menu (RouteCall, then SubmitDigits).
    pub menu_share: f64,
    /// Share of connected calls the caller hangs up on while the agent's phone rings.
    pub abandon_ringing_share: f64,
    /// Share of answered calls after which the agent takes a break (not ready, then ready)
    /// instead of going straight back to ready.
    pub break_share: f64,
    /// Ringing before the agent picks up, ms (constant).
    pub ring_ms: u64,
    /// Caller choosing in the IVR menu.
    pub ivr: MeanMs,
    /// Talk time.
    pub talk: MeanMs,
    /// Wrap-up time before the agent clicks ready.
    pub wrap: MeanMs,
    /// Length of a break.
    pub break_len: MeanMs,
    /// How long a queued caller waits for an agent before hanging up.
    pub patience: MeanMs,
}

impl CallProfile {
    /// The mix at full speed: no think time, no talk time; every RPC a real switch sends.
    pub fn back_to_back() -> CallProfile {
        CallProfile {
            menu_share: 0.2,
            abandon_ringing_share: 0.05,
            break_share: 0.05,
            ring_ms: 0,
            ivr: MeanMs(0),
            talk: MeanMs(0),
            wrap: MeanMs(0),
            break_len: MeanMs(0),
            patience: MeanMs(2_000),
        }
    }

    /// A contact center at its busiest, in real time.
    pub fn realistic() -> CallProfile {
        CallProfile {
            ring_ms: 1_000,
            ivr: MeanMs(2_000),
            talk: MeanMs(30_000),
            wrap: MeanMs(3_000),
            break_len: MeanMs(10_000),
            patience: MeanMs(60_000),
            ..CallProfile::back_to_back()
        }
    }
}

/// Where a call goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// Straight to skill queue `i`.
    Direct(usize),
    /// Through the menu, pressing `key` (1-9).
    Menu(u32),
    /// The hot queue.
    Hot,
}

/// Queued callers waiting for an agent: call id to the signal carrying the agent.
type Waiting = Arc<Mutex<HashMap<String, oneshot::Sender<pb::Connect>>>>;

/// Everything a call task needs.
#[derive(Clone)]
pub struct Traffic {
    /// Connections.
    pub clients: Clients,
    /// The recorder of the current phase: an RPC counts in the phase it finishes in.
    phase: Arc<parking_lot::RwLock<Arc<Recorder>>>,
    /// The center.
    pub center: CenterSpec,
    /// The mix.
    pub profile: CallProfile,
    /// Unique per run: prefixes call ids and is the switch id, so runs never collide.
    pub run_id: Arc<str>,
    waiting: Waiting,
    /// Set when arrivals stop: calls in flight skip their pauses and finish at once.
    stop: watch::Receiver<bool>,
    /// RouteCalls outstanding at once, like a switch's bounded request pool: without it, the
    /// drain after a burst fires tens of thousands of RPCs in the same instant and the client's
    /// HTTP/2 connections fail them locally (tonic `Unknown: transport error`).
    outstanding_new: Arc<tokio::sync::Semaphore>,
    /// The same for RPCs of calls already admitted and agents: a pool of their own, as a
    /// switch keeps signalling of live calls apart from new ones, so a flood of new calls
    /// waiting in the generator does not delay them before they are even sent.
    outstanding_admitted: Arc<tokio::sync::Semaphore>,
}

/// RPCs the generator keeps outstanding at once per pool, all connections together.
const MAX_OUTSTANDING_RPCS: usize = 1_024;

impl Traffic {
    /// Traffic over `clients`; `stop` fast-forwards the calls in flight.
    pub fn new(
        clients: Clients,
        center: CenterSpec,
        profile: CallProfile,
        run_id: String,
        stop: watch::Receiver<bool>,
    ) -> Traffic {
        Traffic {
            clients,
            phase: Arc::default(),
            center,
            profile,
            run_id: Arc::from(run_id),
            waiting: Arc::default(),
            stop,
            outstanding_new: Arc::new(tokio::sync::Semaphore::new(MAX_OUTSTANDING_RPCS)),
            outstanding_admitted: Arc::new(tokio::sync::Semaphore::new(MAX_OUTSTANDING_RPCS)),
        }
    }

    fn stopped(&self) -> bool {
        *self.stop.borrow()
    }

    fn recorder(&self) -> Arc<Recorder> {
        self.phase.read().clone()
    }

    /// Starts a new phase: RPCs finishing from now on count in the recorder returned.
    pub fn begin_phase(&self) -> Arc<Recorder> {
        let fresh = Arc::new(Recorder::default());
        *self.phase.write() = fresh.clone();
        fresh
    }

    /// Sleeps `d`, or less when the run stops.
    async fn pause(&self, d: Duration) {
        if d.is_zero() || self.stopped() {
            return;
        }
        let mut stop = self.stop.clone();
        tokio::select! {
            () = tokio::time::sleep(d) => {}
            _ = stop.wait_for(|s| *s) => {}
        }
    }

    /// Sends one RPC and records its latency and outcome.
    async fn timed<T, F>(&self, rpc: Rpc, call: F) -> Result<T, tonic::Status>
    where
        F: std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    {
        // Latency counts from when the RPC was ready to go, waiting for a slot included.
        let started = Instant::now();
        let pool =
            if rpc == Rpc::RouteCall { &self.outstanding_new } else { &self.outstanding_admitted };
        let result = match pool.acquire().await {
            Ok(_slot) => call.await,
            Err(_) => Err(tonic::Status::cancelled("load generator closed")),
        };
        let code = result.as_ref().err().map_or(tonic::Code::Ok, tonic::Status::code);
        self.recorder().rpc(rpc, started.elapsed(), code);
        if let Err(e) = &result {
            self.recorder().error_message(rpc, e.code(), e.message());
            tracing::debug!(rpc = rpc.name(), error = %e, "rpc failed");
        }
        result.map(tonic::Response::into_inner)
    }

    /// Picks a target for call `n` of a skill-queue scenario.
    pub fn pick_target(&self, rng: &mut ChaCha8Rng) -> Target {
        if rng.random_bool(self.profile.menu_share.clamp(0.0, 1.0)) {
            Target::Menu(rng.random_range(1..=self.center.menu_queues() as u32))
        } else {
            Target::Direct(rng.random_range(0..self.center.queues))
        }
    }

    /// One call, from arrival to the end of its agent's wrap-up. Errors are recorded, not
    /// returned: a failed call is counted and left alone.
    pub async fn call(&self, n: u64, target: Target, seed: u64) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let id = format!("{}-{n}", self.run_id);
        self.recorder().calls(|c| c.started += 1);
        if self.call_inner(&id, target, &mut rng).await.is_none() {
            self.waiting.lock().remove(&id);
            self.recorder().calls(|c| c.failed += 1);
        }
    }

    async fn call_inner(&self, id: &str, target: Target, rng: &mut ChaCha8Rng) -> Option<()> {
        use pb::route_decision::Action;
        let p = self.profile;
        // Registered before routing: the assignment may beat the RouteCall response.
        let (tx, rx) = oneshot::channel();
        self.waiting.lock().insert(id.to_string(), tx);
        let dialed = match target {
            Target::Direct(q) => CenterSpec::direct_number(q),
            Target::Menu(_) => MENU_NUMBER.to_string(),
            Target::Hot => HOT_NUMBER.to_string(),
        };
        let mut router = self.clients.router();
        let routed = self
            .timed(
                Rpc::RouteCall,
                router.route_call(self.clients.request(pb::RouteCallRequest {
                    call_id: id.to_string(),
                    caller: format!("+1415555{:04}", rng.random_range(0..10_000)),
                    dialed,
                    switch_id: self.run_id.to_string(),
                    ..Default::default()
                })),
            )
            .await;
        let mut decision = match routed {
            Ok(d) => d,
            // Shed by the server: nothing was routed, the caller hears a busy tone.
            Err(e) if is_refusal(Rpc::RouteCall, e.code()) => {
                self.waiting.lock().remove(id);
                self.recorder().calls(|c| c.refused += 1);
                return Some(());
            }
            Err(_) => return None,
        };
        if let Target::Menu(key) = target {
            let Some(Action::Collect(_)) = decision.action else {
                tracing::warn!(call = id, "menu call was not asked for digits");
                return None;
            };
            self.recorder().calls(|c| c.via_menu += 1);
            self.pause(p.ivr.sample(rng)).await;
            decision = self
                .timed(
                    Rpc::SubmitDigits,
                    router.submit_digits(self.clients.request(pb::SubmitDigitsRequest {
                        call_id: id.to_string(),
                        digits: key.to_string(),
                    })),
                )
                .await
                .ok()?;
        }
        let connect = match decision.action {
            Some(Action::Connect(c)) => {
                self.waiting.lock().remove(id);
                self.recorder().queue(&c.queue, |t| t.offered += 1);
                c
            }
            Some(Action::Queued(q)) => {
                self.recorder().queue(&q.queue, |t| t.offered += 1);
                self.recorder().calls(|c| c.queued += 1);
                let queued_at = Instant::now();
                let mut stop = self.stop.clone();
                let patience = p.patience.sample(rng);
                let assigned = tokio::select! {
                    got = rx => got.ok(),
                    () = tokio::time::sleep(patience) => None,
                    _ = stop.wait_for(|s| *s) => None,
                };
                match assigned {
                    Some(c) => {
                        self.recorder().queued_wait(queued_at.elapsed());
                        c
                    }
                    None => {
                        self.waiting.lock().remove(id);
                        return self.abandon(id, &q.queue).await;
                    }
                }
            }
            other => {
                tracing::warn!(call = id, decision = ?other, "unexpected decision");
                return None;
            }
        };
        let queue = connect.queue.clone();
        self.pause(Duration::from_millis(p.ring_ms)).await;
        if rng.random_bool(p.abandon_ringing_share.clamp(0.0, 1.0)) {
            return self.abandon(id, &queue).await;
        }
        self.event(id, pb::CallEventKind::Answered).await?;
        self.recorder().queue(&queue, |t| t.answered += 1);
        self.recorder().calls(|c| c.answered += 1);
        self.pause(p.talk.sample(rng)).await;
        self.event(id, pb::CallEventKind::Ended).await?;
        self.pause(p.wrap.sample(rng)).await;
        let mut agents = self.clients.agents();
        let agent_id = connect.agent_id;
        let took_break = rng.random_bool(p.break_share.clamp(0.0, 1.0));
        if took_break {
            self.timed(
                Rpc::SetNotReady,
                agents.set_not_ready(self.clients.request(pb::SetNotReadyRequest {
                    agent_id: agent_id.clone(),
                    reason: "break".into(),
                })),
            )
            .await
            .ok()?;
            self.recorder().queue(&queue, |t| t.handled += 1);
            self.recorder().calls(|c| c.breaks += 1);
            self.pause(p.break_len.sample(rng)).await;
        }
        let ready = self
            .timed(
                Rpc::SetReady,
                agents.set_ready(self.clients.request(pb::AgentRequest { agent_id })),
            )
            .await;
        ready.ok()?;
        // Leaving wrap-up ends the handled call: here, or when the break began.
        if !took_break {
            self.recorder().queue(&queue, |t| t.handled += 1);
        }
        Some(())
    }

    async fn event(&self, id: &str, kind: pb::CallEventKind) -> Option<()> {
        self.timed(
            Rpc::ReportCallEvent,
            self.clients.router().report_call_event(
                self.clients
                    .request(pb::CallEventRequest { call_id: id.to_string(), kind: kind as i32 }),
            ),
        )
        .await
        .ok()
        .map(|_| ())
    }

    async fn abandon(&self, id: &str, queue: &str) -> Option<()> {
        self.event(id, pb::CallEventKind::Abandoned).await?;
        self.recorder().queue(queue, |t| t.abandoned += 1);
        self.recorder().calls(|c| c.abandoned += 1);
        Some(())
    }

    /// Hands assignments of this run's queued calls to their callers until `stop`;
    /// reconnects when the server drops a lagging watcher. Returns the reconnections.
    /// `ready` fires once the first stream is open (the server has subscribed it).
    pub async fn watch_assignments(
        self,
        mut done: watch::Receiver<bool>,
        ready: oneshot::Sender<()>,
    ) -> u64 {
        let mut ready = Some(ready);
        let mut restarts = 0;
        loop {
            let mut router = self.clients.router();
            let request = self
                .clients
                .request(pb::WatchAssignmentsRequest { switch_id: self.run_id.to_string() });
            let stream = tokio::select! {
                s = router.watch_assignments(request) => s,
                _ = done.wait_for(|d| *d) => return restarts,
            };
            let mut stream = match stream {
                Ok(s) => {
                    if let Some(ready) = ready.take() {
                        let _ = ready.send(());
                    }
                    s.into_inner()
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot watch assignments");
                    return restarts;
                }
            };
            loop {
                let next = tokio::select! {
                    m = stream.message() => m,
                    _ = done.wait_for(|d| *d) => return restarts,
                };
                match next {
                    Ok(Some(decision)) => {
                        if let Some(pb::route_decision::Action::Connect(c)) = decision.action {
                            if let Some(tx) = self.waiting.lock().remove(&decision.call_id) {
                                let _ = tx.send(c);
                            }
                        }
                    }
                    Ok(None) => return restarts,
                    Err(e) => {
                        tracing::warn!(error = %e, "assignment stream ended; reconnecting");
                        restarts += 1;
                        break;
                    }
                }
            }
        }
    }
}

/// A supervisor's wallboard: watches the stats stream until `done`; returns the snapshots
/// received.
pub async fn supervise(clients: Clients, mut done: watch::Receiver<bool>) -> u64 {
    let mut supervisor = clients.supervisor();
    let request = clients.request(pb::WatchStatsRequest { include_agents: false });
    let stream = tokio::select! {
        s = supervisor.watch_stats(request) => s,
        _ = done.wait_for(|d| *d) => return 0,
    };
    let Ok(stream) = stream else { return 0 };
    let mut stream = stream.into_inner();
    let mut snapshots = 0;
    loop {
        tokio::select! {
            m = stream.message() => match m {
                Ok(Some(_)) => snapshots += 1,
                _ => return snapshots,
            },
            _ = done.wait_for(|d| *d) => return snapshots,
        }
    }
}

/// Agents of the hot queue or of the skill queues, as the scenario needs.
pub fn agent_ids(center: &CenterSpec, hot: bool) -> Vec<String> {
    if hot {
        (0..center.hot_agents).map(CenterSpec::hot_agent_id).collect()
    } else {
        (0..center.agents).map(CenterSpec::agent_id).collect()
    }
}

/// The hot queue's id (re-exported for reports).
pub const HOT: &str = HOT_QUEUE;
