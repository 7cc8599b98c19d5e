//! Synthetic traffic for `switchboard serve --demo`: agents log in, calls arrive at the entry
//! points, walk the IVR, queue, ring, get answered, talk, end or abandon, all through the
//! public gRPC API, so a newcomer sees the queues move.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use switchboard_proto::v1 as pb;
use tokio::sync::oneshot;
use tonic::transport::Channel;
use tonic::Request;

/// What the demo does.
#[derive(Clone, Debug)]
pub struct DemoOptions {
    /// Mean new calls per second (Poisson arrivals).
    pub calls_per_s: f64,
    /// Seed of every random choice.
    pub seed: u64,
    /// Bearer token when authentication is on (an admin token: it logs agents in too).
    pub token: Option<String>,
}

/// Mean talk time of a demo call, seconds.
const MEAN_TALK_S: f64 = 25.0;
/// Mean caller patience in queue, seconds.
const MEAN_PATIENCE_S: f64 = 45.0;
/// Time an agent's phone rings before they pick up, milliseconds.
const RING_MS: u64 = 1_500;

fn request<T>(message: T, token: &Option<String>) -> Request<T> {
    let mut r = Request::new(message);
    if let Some(t) = token {
        if let Ok(v) = format!("Bearer {t}").parse() {
            r.metadata_mut().insert("authorization", v);
        }
    }
    r
}

fn exp_sample(rng: &mut ChaCha8Rng, mean: f64) -> Duration {
    let u: f64 = rng.random_range(f64::EPSILON..1.0);
    Duration::from_secs_f64(-u.ln() * mean)
}

/// Waiting callers: call id to the signal that an agent was assigned.
type Waiting = Arc<Mutex<HashMap<String, oneshot::Sender<pb::Connect>>>>;

/// Drives traffic against the server at `target` until the server goes away.
pub async fn run(target: SocketAddr, options: DemoOptions) -> anyhow::Result<()> {
    // The server starts listening a moment after this task starts.
    let channel = loop {
        match Channel::from_shared(format!("http://{target}"))?.connect().await {
            Ok(c) => break c,
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };
    let token = options.token.clone();
    let mut agents = pb::agents_client::AgentsClient::new(channel.clone());
    let router = pb::router_client::RouterClient::new(channel.clone());
    let mut admin = pb::admin_client::AdminClient::new(channel.clone());

    let listed =
        agents.list_agents(request(pb::ListAgentsRequest::default(), &token)).await?.into_inner();
    for a in &listed.agents {
        let id = a.profile.as_ref().map(|p| p.id.clone()).unwrap_or_default();
        let _ = agents.login(request(pb::LoginRequest { agent_id: id, ready: true }, &token)).await;
    }
    let config =
        admin.get_config(request(pb::GetConfigRequest {}, &token)).await?.into_inner().toml;
    let entry_points = switchboard_routing::plan::RoutingConfig::from_toml(&config)
        .map(|c| c.entry_points.keys().cloned().collect::<Vec<_>>())
        .unwrap_or_default();
    if entry_points.is_empty() {
        anyhow::bail!("the configuration has no entry points to call");
    }
    tracing::info!(
        agents = listed.agents.len(),
        entry_points = entry_points.len(),
        "demo traffic started"
    );

    let waiting: Waiting = Arc::default();
    tokio::spawn(watch_assignments(router.clone(), waiting.clone(), token.clone()));
    tokio::spawn(agent_breaks(
        agents.clone(),
        listed.agents.len(),
        options.seed ^ 0xb7,
        token.clone(),
    ));

    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    let mean_gap_s = 1.0 / options.calls_per_s.max(0.01);
    for n in 0u64.. {
        tokio::time::sleep(exp_sample(&mut rng, mean_gap_s)).await;
        let call = DemoCall {
            id: format!("demo-{n}"),
            dialed: entry_points[rng.random_range(0..entry_points.len())].clone(),
            caller: format!("+1415555{:04}", rng.random_range(0..10_000)),
            rng: ChaCha8Rng::seed_from_u64(rng.random()),
            router: router.clone(),
            waiting: waiting.clone(),
            token: token.clone(),
        };
        tokio::spawn(async move {
            if let Err(e) = call.live().await {
                tracing::debug!(error = %e, "demo call ended early");
            }
        });
    }
    Ok(())
}

struct DemoCall {
    id: String,
    dialed: String,
    caller: String,
    rng: ChaCha8Rng,
    router: pb::router_client::RouterClient<Channel>,
    waiting: Waiting,
    token: Option<String>,
}

impl DemoCall {
    async fn live(mut self) -> anyhow::Result<()> {
        use pb::route_decision::Action;
        let (tx, rx) = oneshot::channel();
        self.waiting.lock().insert(self.id.clone(), tx);
        let mut decision = self
            .router
            .route_call(request(
                pb::RouteCallRequest {
                    call_id: self.id.clone(),
                    caller: self.caller.clone(),
                    dialed: self.dialed.clone(),
                    switch_id: "demo".into(),
                    ..Default::default()
                },
                &self.token,
            ))
            .await?
            .into_inner();
        loop {
            match decision.action {
                Some(Action::Collect(c)) => {
                    tokio::time::sleep(Duration::from_millis(800)).await;
                    let len = self.rng.random_range(c.min_digits.max(1)..=c.max_digits.max(1));
                    let digits: String = if len == 1 {
                        self.rng.random_range(1..=3).to_string()
                    } else {
                        (0..len)
                            .map(|_| char::from(b'0' + self.rng.random_range(0..10u8)))
                            .collect()
                    };
                    decision = self
                        .router
                        .submit_digits(request(
                            pb::SubmitDigitsRequest { call_id: self.id.clone(), digits },
                            &self.token,
                        ))
                        .await?
                        .into_inner();
                }
                Some(Action::Connect(_)) => {
                    self.waiting.lock().remove(&self.id);
                    return self.talk().await;
                }
                Some(Action::Queued(_)) => {
                    let patience = exp_sample(&mut self.rng, MEAN_PATIENCE_S);
                    return match tokio::time::timeout(patience, rx).await {
                        Ok(Ok(_connect)) => self.talk().await,
                        _ => {
                            self.waiting.lock().remove(&self.id);
                            self.event(pb::CallEventKind::Abandoned).await
                        }
                    };
                }
                _ => {
                    self.waiting.lock().remove(&self.id);
                    return Ok(());
                }
            }
        }
    }

    async fn talk(&mut self) -> anyhow::Result<()> {
        tokio::time::sleep(Duration::from_millis(RING_MS)).await;
        self.event(pb::CallEventKind::Answered).await?;
        tokio::time::sleep(exp_sample(&mut self.rng, MEAN_TALK_S)).await;
        self.event(pb::CallEventKind::Ended).await
    }

    async fn event(&mut self, kind: pb::CallEventKind) -> anyhow::Result<()> {
        self.router
            .report_call_event(request(
                pb::CallEventRequest { call_id: self.id.clone(), kind: kind as i32 },
                &self.token,
            ))
            .await?;
        Ok(())
    }
}

/// Hands offers for queued calls to the callers waiting for them.
async fn watch_assignments(
    mut router: pb::router_client::RouterClient<Channel>,
    waiting: Waiting,
    token: Option<String>,
) -> anyhow::Result<()> {
    let mut stream = router
        .watch_assignments(request(
            pb::WatchAssignmentsRequest { switch_id: "demo".into() },
            &token,
        ))
        .await?
        .into_inner();
    while let Some(decision) = stream.message().await? {
        if let Some(pb::route_decision::Action::Connect(c)) = decision.action {
            if let Some(tx) = waiting.lock().remove(&decision.call_id) {
                let _ = tx.send(c);
            }
        }
    }
    Ok(())
}

/// Now and then an agent takes a short break, as real ones do.
async fn agent_breaks(
    mut agents: pb::agents_client::AgentsClient<Channel>,
    count: usize,
    seed: u64,
    token: Option<String>,
) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    loop {
        tokio::time::sleep(Duration::from_secs(rng.random_range(10..30))).await;
        let Ok(list) = agents.list_agents(request(pb::ListAgentsRequest::default(), &token)).await
        else {
            return;
        };
        let list = list.into_inner().agents;
        if list.is_empty() || count == 0 {
            continue;
        }
        let a = &list[rng.random_range(0..list.len())];
        let id = a.profile.as_ref().map(|p| p.id.clone()).unwrap_or_default();
        if a.state == pb::AgentState::Available as i32 {
            let _ = agents
                .set_not_ready(request(
                    pb::SetNotReadyRequest { agent_id: id.clone(), reason: "break".into() },
                    &token,
                ))
                .await;
            let mut agents = agents.clone();
            let token = token.clone();
            let pause = Duration::from_secs(rng.random_range(15..40));
            tokio::spawn(async move {
                tokio::time::sleep(pause).await;
                let _ = agents.set_ready(request(pb::AgentRequest { agent_id: id }, &token)).await;
            });
        }
    }
}
