//! Runs routing plans: walks a call through its entry point's plan, hands it to the engine,
//! and keeps what a plan needs between steps (IVR sessions, last agents, split state).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use dashmap::DashMap;
use parking_lot::Mutex;
use serde::Serialize;

use super::calendar::CalendarStatus;
use super::config::{NodeKind, RoutingConfig, SkillTemplate};
use super::customers::CustomerStore;
use super::expr::OverflowCondition;
use super::split::SmoothWeighted;
use crate::agent::AgentProfile;
use crate::call::{Escalation, NewCall};
use crate::engine::{Engine, EngineConfig, Routed};
use crate::error::Error;
use crate::event::{Event, Observer, Offer};
use crate::ids::{AgentId, CallId, QueueId};
use crate::live::{
    LiveAwaiting, LiveLastAgent, LiveSession, LiveSplits, LiveState, LiveTraceStep, SessionChange,
};
use crate::queue::QueueConfig;
use crate::skills::SkillRequirement;
use crate::time::{duration_millis, Timestamp};

/// Most nodes one walk may visit before it stops: a guard against loops a plan author made
/// through caller-free branches (which `config check` also rejects).
pub const MAX_STEPS_PER_WALK: usize = 64;

/// Shortest time between two prunings of last-agent entries (in the time [`Router::advance`]
/// is given), so a timer ticking every few milliseconds journals at most one expiry a second.
pub const LAST_AGENT_PRUNE_EVERY: Duration = Duration::from_secs(1);

/// A call as the switch presents it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IncomingCall {
    /// The switch's call id.
    pub id: CallId,
    /// Caller number, E.164.
    pub caller: String,
    /// Dialed number: selects the plan.
    pub dialed: String,
    /// Customer id if the switch already knows it.
    pub customer_id: Option<String>,
    /// Customer data the switch sends along.
    pub attributes: BTreeMap<String, String>,
}

/// What the switch should do with a call now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Ring this agent.
    Connect {
        /// The offer.
        offer: Offer,
    },
    /// The call waits; an assignment follows when an agent frees up.
    Queued {
        /// The queue.
        queue: QueueId,
        /// Place in line, 1-based.
        position: usize,
        /// Estimated wait in seconds, if anyone is logged in.
        estimated_wait_s: Option<u64>,
    },
    /// Play a prompt and collect digits, then call [`Router::submit_digits`].
    Collect {
        /// Prompt id.
        prompt: String,
        /// Fewest digits.
        min_digits: u32,
        /// Most digits.
        max_digits: u32,
        /// How long to wait for input, in seconds.
        timeout_s: u64,
    },
    /// Transfer to an external number.
    Transfer {
        /// The number.
        number: String,
    },
    /// Send to voicemail.
    Voicemail {
        /// The mailbox.
        mailbox: String,
    },
    /// Play an announcement, then hang up.
    Announce {
        /// Prompt id.
        prompt: String,
    },
    /// Hang up.
    Hangup {
        /// Why.
        reason: String,
    },
    /// The plan's queue refused the call (it is full) and the plan has no overflow for it:
    /// the call has left the plan; the switch plays a busy signal or hangs up.
    Refused {
        /// The queue.
        queue: QueueId,
        /// Why, e.g. `queue sales is full (200 calls waiting)`.
        reason: String,
    },
}

/// One node visited, and why the walk went on the way it did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TraceStep {
    /// Node name.
    pub node: String,
    /// Node type.
    pub kind: &'static str,
    /// What was decided there, e.g. `calendar support-hours: closed (holiday Christmas)`.
    pub note: String,
}

/// A routing decision with the trace that led to it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// The call.
    pub call: CallId,
    /// What to do.
    #[serde(flatten)]
    pub action: Action,
    /// Every node visited since the call arrived, in order.
    pub trace: Vec<TraceStep>,
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.action {
            Action::Connect { offer } => writeln!(
                f,
                "connect {} to agent {} (queue {})",
                self.call, offer.agent, offer.queue
            )?,
            Action::Queued { queue, position, estimated_wait_s } => {
                let wait = estimated_wait_s.map_or("unknown".to_string(), |s| format!("{s} s"));
                writeln!(
                    f,
                    "queue {} in {queue} at position {position}, estimated wait {wait}",
                    self.call
                )?
            }
            Action::Collect { prompt, min_digits, max_digits, timeout_s } => writeln!(
                f,
                "play {prompt} and collect {min_digits}-{max_digits} digits (timeout {timeout_s} s)"
            )?,
            Action::Transfer { number } => writeln!(f, "transfer {} to {number}", self.call)?,
            Action::Voicemail { mailbox } => writeln!(f, "voicemail {mailbox}")?,
            Action::Announce { prompt } => writeln!(f, "announce {prompt} and hang up")?,
            Action::Hangup { reason } => writeln!(f, "hang up: {reason}")?,
            Action::Refused { queue, reason } => writeln!(f, "refused by queue {queue}: {reason}")?,
        }
        writeln!(f, "trace:")?;
        for (i, step) in self.trace.iter().enumerate() {
            writeln!(f, "  {}. {} ({}): {}", i + 1, step.node, step.kind, step.note)?;
        }
        Ok(())
    }
}

/// A call inside a plan: in the IVR, or queued with somewhere to go on timeout.
#[derive(Clone, Debug)]
struct Session {
    /// The configuration the call started in.
    gen: Arc<Generation>,
    plan: usize,
    call: NewCall,
    /// The input node waiting for digits, and retries left there.
    awaiting: Option<(usize, u32)>,
    /// Where the plan goes on if the call times out of its queue.
    resume: Option<usize>,
    trace: Vec<TraceStep>,
    /// Whether an earlier step stored this session (in the session map and the journal): a
    /// step that ends the plan must then remove it from both.
    held: bool,
}

impl Session {
    fn customer_key(&self) -> String {
        self.call.customer_id.clone().unwrap_or_else(|| self.call.caller.clone())
    }

    /// The session as plain data, with plan and nodes by name.
    fn live(&self) -> LiveSession {
        let plan = &self.gen.config.plans[self.plan];
        LiveSession {
            call: self.call.clone(),
            plan: plan.name.clone(),
            awaiting: self.awaiting.map(|(node, retries_left)| LiveAwaiting {
                node: plan.nodes[node].name.clone(),
                retries_left,
            }),
            resume: self.resume.map(|node| plan.nodes[node].name.clone()),
            leaving_queue: false,
            before_queue: None,
            trace: self
                .trace
                .iter()
                .map(|t| LiveTraceStep {
                    node: t.node.clone(),
                    kind: t.kind.to_string(),
                    note: t.note.clone(),
                })
                .collect(),
        }
    }
}

/// Node type names, so a restored trace step keeps a `&'static str` kind.
const NODE_KINDS: [&str; 15] = [
    "menu",
    "collect",
    "time_of_day",
    "geographic",
    "percentage",
    "round_robin",
    "priority",
    "crm",
    "last_agent",
    "queue",
    "agent",
    "transfer",
    "voicemail",
    "announce",
    "hangup",
];

fn static_kind(kind: &str) -> &'static str {
    NODE_KINDS.iter().find(|k| **k == kind).copied().unwrap_or("unknown")
}

/// What [`Router::restore_sessions`] brought back.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionRestoreReport {
    /// Sessions of calls the engine holds (queued, ringing or connected).
    pub queued: usize,
    /// Sessions of calls waiting for input in the IVR.
    pub ivr: usize,
    /// Last-agent entries.
    pub last_agents: usize,
    /// Split nodes (`percentage`, `round_robin`) put back at their position.
    pub splits: usize,
    /// Sessions not restored, and why (a plan or node the configuration no longer has, a
    /// queued call the engine did not restore).
    pub dropped: Vec<String>,
    /// Decisions of calls that had timed out of their queue when the journal ended, their
    /// plan's overflow branch run at restore: the caller delivers them as
    /// [`Router::advance`]'s decisions are delivered.
    pub resumed: Vec<Decision>,
}

/// What the engine's observer shares with the router.
struct PlanState {
    /// Calls inside a plan. Never held across an engine call: the observer reads it.
    sessions: DashMap<CallId, Session, foldhash::fast::RandomState>,
    /// Customer key (customer id or caller number) to the agent who last answered them.
    last_agent: DashMap<String, (AgentId, Timestamp), foldhash::fast::RandomState>,
    /// Every `last_agent` insertion by answer time, oldest first, so pruning takes only the
    /// expired entries instead of scanning the map. An entry superseded by a newer answer
    /// for the same customer stays until it expires (the map entry is then left alone).
    last_agent_expiry: Mutex<BinaryHeap<Reverse<(Timestamp, String)>>>,
    /// Earliest time (ms) of the next pruning.
    next_prune_ms: AtomicU64,
    /// The last bound pruned to (ms): entries answered earlier are gone.
    expired_before_ms: AtomicU64,
    /// The newest configuration generation id handed out.
    generations: AtomicU64,
    /// Calls that timed out of a queue, waiting for [`Router::advance`] to resume their plan.
    timed_out: Mutex<Vec<(NewCall, Timestamp)>>,
    downstream: Arc<dyn Observer>,
}

struct PlanObserver(Arc<PlanState>);

impl PlanState {
    /// Reports a session change, built only if the downstream observer wants it (a journal):
    /// without one, a queued call costs no copy of its session.
    fn report_session(&self, change: impl FnOnce() -> SessionChange) {
        if self.downstream.wants_sessions() {
            self.downstream.on_session(&change());
        }
    }

    /// Remembers that `agent` served `customer` at `at` (no report: the callers do that).
    fn remember(&self, customer: String, agent: AgentId, at: Timestamp) {
        // The map's shard lock is released before the heap's lock is taken; pruning takes
        // them in the other order but never both at once either.
        self.last_agent.insert(customer.clone(), (agent, at));
        self.last_agent_expiry.lock().push(Reverse((at, customer)));
    }
}

impl Observer for PlanObserver {
    fn on_event(&self, event: &Event) {
        let state = &self.0;
        match event {
            Event::CallAnswered { call, agent, at, .. } => {
                let key = state.sessions.get(call).map(|s| s.customer_key());
                if let Some(key) = key {
                    state.remember(key.clone(), agent.clone(), *at);
                    state.report_session(|| SessionChange::LastAgent {
                        customer: key,
                        last: LiveLastAgent { agent: agent.clone(), at: *at },
                    });
                }
            }
            Event::CallEnded { call, .. } | Event::CallAbandoned { call, .. } => {
                state.sessions.remove(call);
            }
            Event::QueueTimedOut { call, at, .. } => {
                state.timed_out.lock().push(((**call).clone(), *at));
            }
            _ => {}
        }
        state.downstream.on_event(event);
    }
}

/// Runs routing plans over an [`Engine`]. Cheap to clone.
#[derive(Clone)]
pub struct Router {
    engine: Engine,
    state: Arc<PlanState>,
    /// The configuration new calls start in. A call keeps the generation it started in until
    /// it leaves its plan, so a reload never changes the plan under a caller's feet.
    current: Arc<Generation>,
}

/// One loaded configuration with the state that belongs to it.
struct Generation {
    /// Which configuration load this is ([`LiveSplits::generation`]). Set once, except by
    /// [`Router::restore_sessions`], which continues the journaled generation.
    id: AtomicU64,
    config: RoutingConfig,
    customers: CustomerStore,
    /// Split state per plan and node (`None` for other nodes).
    splits: Vec<Vec<Option<Mutex<Split>>>>,
    /// The longest lookback of the configuration's `last_agent` nodes (zero without any):
    /// an entry older than this can never be used.
    last_agent_horizon: Duration,
}

/// One split node's state and how many picks made it.
#[derive(Debug)]
struct Split {
    wrr: SmoothWeighted,
    picks: u64,
}

impl fmt::Debug for Generation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Generation").field("plans", &self.config.plans.len()).finish()
    }
}

impl Generation {
    fn new(id: u64, config: RoutingConfig, customers: CustomerStore) -> Generation {
        let splits = config
            .plans
            .iter()
            .map(|plan| {
                plan.nodes
                    .iter()
                    .map(|node| match &node.kind {
                        NodeKind::Percentage { .. } | NodeKind::RoundRobin { .. } => {
                            Some(Mutex::new(Split { wrr: Self::fresh_split(&node.kind), picks: 0 }))
                        }
                        _ => None,
                    })
                    .collect()
            })
            .collect();
        let last_agent_horizon = config
            .plans
            .iter()
            .flat_map(|plan| &plan.nodes)
            .filter_map(|node| match &node.kind {
                NodeKind::LastAgent { lookback, .. } => Some(*lookback),
                _ => None,
            })
            .max()
            .unwrap_or(Duration::ZERO);
        Generation { id: AtomicU64::new(id), config, customers, splits, last_agent_horizon }
    }

    /// A split node's state before its first pick.
    fn fresh_split(kind: &NodeKind) -> SmoothWeighted {
        match kind {
            NodeKind::Percentage { weights, .. } => SmoothWeighted::new(weights),
            NodeKind::RoundRobin { targets } => SmoothWeighted::new(&vec![1; targets.len()]),
            _ => SmoothWeighted::new(&[]),
        }
    }

    /// The branch a split node takes, and its picks so far, this one included.
    fn split(&self, plan: usize, node: usize) -> (usize, u64) {
        self.splits[plan][node].as_ref().map_or((0, 0), |s| {
            let mut split = s.lock();
            split.picks += 1;
            (split.wrr.next(), split.picks)
        })
    }
}

impl fmt::Debug for Router {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Router")
            .field("engine", &self.engine)
            .field("sessions", &self.state.sessions.len())
            .finish()
    }
}

impl Router {
    /// A router over a new engine built from the configuration's queues. Agents in the
    /// configuration are created logged out. Every engine event reaches `observer`.
    pub fn new(
        config: RoutingConfig,
        customers: CustomerStore,
        observer: Arc<dyn Observer>,
    ) -> Result<Router, Error> {
        let state = Arc::new(PlanState {
            sessions: DashMap::with_hasher(Default::default()),
            last_agent: DashMap::with_hasher(Default::default()),
            last_agent_expiry: Mutex::new(BinaryHeap::new()),
            next_prune_ms: AtomicU64::new(0),
            expired_before_ms: AtomicU64::new(0),
            generations: AtomicU64::new(1),
            timed_out: Mutex::new(Vec::new()),
            downstream: observer,
        });
        let engine = Engine::with_observer(
            EngineConfig {
                queues: config.queues.clone(),
                max_consecutive_missed: config.max_consecutive_missed,
                seed: config.seed,
            },
            Arc::new(PlanObserver(state.clone())),
        )?;
        for agent in &config.agents {
            engine.upsert_agent(agent.clone(), Timestamp::ZERO)?;
        }
        Ok(Router { engine, state, current: Arc::new(Generation::new(1, config, customers)) })
    }

    /// A router over the same engine, calls and last-agent memory with a new configuration:
    /// new calls start in the new plans, calls already in a plan finish in the one they
    /// started in, and queued or connected calls are untouched. Agents of the new
    /// configuration are created or their profiles updated (their state is kept); agents it
    /// no longer lists stay, since they may be on calls.
    ///
    /// The engine's queues are fixed for its lifetime, so the new configuration must define
    /// the same queues with the same settings; otherwise nothing changes and the error names
    /// the first queue that differs.
    pub fn reload(
        &self,
        config: RoutingConfig,
        customers: CustomerStore,
        now: Timestamp,
    ) -> Result<Router, Error> {
        let running: Vec<&QueueConfig> = self.engine.queue_configs().collect();
        for (i, queue) in config.queues.iter().enumerate() {
            match running.iter().find(|q| q.id == queue.id) {
                None => {
                    return Err(Error::invalid(
                        format!("queues[{i}]"),
                        format!("queue {} is new; adding queues needs a restart", queue.id),
                    ))
                }
                Some(old) if **old != *queue => {
                    return Err(Error::invalid(
                        format!("queues[{i}]"),
                        format!("queue {} changed; changing queues needs a restart", queue.id),
                    ))
                }
                Some(_) => {}
            }
        }
        if let Some(gone) = running.iter().find(|q| !config.queues.iter().any(|n| n.id == q.id)) {
            return Err(Error::invalid(
                "queues",
                format!("queue {} is missing; removing queues needs a restart", gone.id),
            ));
        }
        // Validate every agent before changing any, so a rejected reload changes nothing.
        let agents: Vec<AgentProfile> = config
            .agents
            .iter()
            .enumerate()
            .map(|(i, a)| {
                a.clone().validated().map_err(|e| match e {
                    Error::InvalidArgument { field, reason } => {
                        Error::invalid(format!("agents[{i}].{field}"), reason)
                    }
                    other => other,
                })
            })
            .collect::<Result<_, _>>()?;
        for agent in agents {
            self.engine.upsert_agent(agent, now)?;
        }
        // A new generation: its splits start over, and its picks outrank the old ones'.
        let id = self.state.generations.fetch_add(1, Ordering::Relaxed) + 1;
        Ok(Router {
            engine: self.engine.clone(),
            state: self.state.clone(),
            current: Arc::new(Generation::new(id, config, customers)),
        })
    }

    /// The engine underneath (agents, queues, stats).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The configuration.
    pub fn config(&self) -> &RoutingConfig {
        &self.current.config
    }

    /// The customer store.
    pub fn customers(&self) -> &CustomerStore {
        &self.current.customers
    }

    /// Records that `agent` served `customer_key` at `at` (for replays and imports; answered
    /// calls are recorded automatically).
    pub fn remember_last_agent(&self, customer_key: &str, agent: AgentId, at: Timestamp) {
        self.state.remember(customer_key.to_string(), agent.clone(), at);
        self.state.report_session(|| SessionChange::LastAgent {
            customer: customer_key.to_string(),
            last: LiveLastAgent { agent, at },
        });
    }

    /// The engine's live state with the plan sessions and last-agent memory, as plain data.
    /// Meant for quiescent moments, like [`Engine::live_state`].
    pub fn live_state(&self) -> LiveState {
        let mut state = self.engine.live_state();
        state.sessions =
            self.state.sessions.iter().map(|s| (s.key().clone(), s.value().live())).collect();
        state.last_agents = self
            .state
            .last_agent
            .iter()
            .map(|e| {
                let (agent, at) = e.value().clone();
                (e.key().clone(), LiveLastAgent { agent, at })
            })
            .collect();
        state.last_agents_expired_before =
            Timestamp::from_millis(self.state.expired_before_ms.load(Ordering::Relaxed));
        let gen = &self.current;
        let mut splits =
            LiveSplits { generation: gen.id.load(Ordering::Relaxed), picks: BTreeMap::new() };
        for (plan, nodes) in gen.config.plans.iter().zip(&gen.splits) {
            for (node, split) in plan.nodes.iter().zip(nodes) {
                let picks = split.as_ref().map_or(0, |s| s.lock().picks);
                if picks > 0 {
                    splits
                        .picks
                        .entry(plan.name.clone())
                        .or_default()
                        .insert(node.name.clone(), picks);
                }
            }
        }
        state.splits = splits;
        state
    }

    /// Puts plan sessions and last-agent memory folded from [`SessionChange`]s (and the
    /// events, see [`LiveState::apply`]) back into this router, after
    /// [`Engine::restore`] restored the calls. Sessions are bound to the current
    /// configuration by plan and node name; one whose plan or node it no longer has, or whose
    /// queued call the engine does not hold, is dropped, listed in the report and reported
    /// to the observer as removed (so a journal forgets it). A restored queued call that
    /// reaches its wait limit follows its plan's branch again; a restored IVR call takes
    /// [`Router::submit_digits`]. Split nodes are put where their count of picks says
    /// ([`LiveSplits`]), in the journaled generation, and last-agent entries older than
    /// the journaled pruning bound are skipped. A call that had timed out of its queue and
    /// whose plan had not placed it again (leaving its queue) takes that step now: its
    /// overflow branch runs at `now` and the decision is in the report's `resumed`. Meant for
    /// a router just built, before any call or reload.
    pub fn restore_sessions(&self, state: &LiveState, now: Timestamp) -> SessionRestoreReport {
        let mut report = SessionRestoreReport::default();
        let gen = &self.current;
        let mut leaving = Vec::new();
        for (id, live) in &state.sessions {
            // A step into a queue whose CallEntered the journal does not have: the step before
            // it was the last one acknowledged (the switch retries the digits, or the plan
            // places the call again).
            let live = match &live.before_queue {
                Some(before) if self.engine.call_status(id).is_none() => before.as_ref(),
                _ => live,
            };
            let restored = (|| {
                let plan_index = gen
                    .config
                    .plans
                    .iter()
                    .position(|p| p.name == live.plan)
                    .ok_or_else(|| format!("plan {} no longer exists", live.plan))?;
                let plan = &gen.config.plans[plan_index];
                let node = |name: &str| {
                    plan.nodes.iter().position(|n| n.name == name).ok_or_else(|| {
                        format!("node {name} of plan {} no longer exists", plan.name)
                    })
                };
                let awaiting = match &live.awaiting {
                    Some(a) => {
                        let index = node(&a.node)?;
                        if !plan.nodes[index].kind.takes_input() {
                            return Err(format!("node {} no longer takes input", a.node));
                        }
                        Some((index, a.retries_left))
                    }
                    None => None,
                };
                let resume = live.resume.as_deref().map(node).transpose()?;
                let in_engine = self.engine.call_status(id).is_some();
                if live.leaving_queue {
                    if resume.is_none() || in_engine {
                        return Err("it left its queue without somewhere to go".to_string());
                    }
                } else if awaiting.is_none() && !in_engine {
                    return Err("its call was not restored to a queue".to_string());
                }
                Ok(Session {
                    gen: gen.clone(),
                    plan: plan_index,
                    call: live.call.clone(),
                    awaiting,
                    resume,
                    trace: live
                        .trace
                        .iter()
                        .map(|t| TraceStep {
                            node: t.node.clone(),
                            kind: static_kind(&t.kind),
                            note: t.note.clone(),
                        })
                        .collect(),
                    held: true,
                })
            })();
            match restored {
                Ok(session) if live.leaving_queue => leaving.push(session),
                Ok(session) => {
                    if session.awaiting.is_some() {
                        report.ivr += 1;
                    } else {
                        report.queued += 1;
                    }
                    self.state.sessions.insert(id.clone(), session);
                }
                Err(why) => {
                    report.dropped.push(format!("plan session of call {id}: {why}"));
                    self.state.report_session(|| SessionChange::Removed(id.clone()));
                }
            }
        }
        let expired_before = state.last_agents_expired_before;
        self.state.expired_before_ms.fetch_max(expired_before.as_millis(), Ordering::Relaxed);
        for (customer, last) in &state.last_agents {
            if last.at >= expired_before {
                self.state.remember(customer.clone(), last.agent.clone(), last.at);
                report.last_agents += 1;
            }
        }
        // Splits continue the journaled generation (a restart is no configuration load; the
        // server starts them over with `LiveSplits::start_over` when the configuration differs),
        // at the position their count of picks gives.
        let journaled = state.splits.generation;
        if journaled > gen.id.load(Ordering::Relaxed) {
            gen.id.store(journaled, Ordering::Relaxed);
            self.state.generations.fetch_max(journaled, Ordering::Relaxed);
        }
        // Picks of an older generation than this router's (it was reloaded before the
        // restore) belong to another configuration.
        let continued = gen.id.load(Ordering::Relaxed) == journaled;
        for (plan_name, nodes) in state.splits.picks.iter().filter(|_| continued) {
            for (node_name, picks) in nodes {
                let split = gen
                    .config
                    .plans
                    .iter()
                    .enumerate()
                    .find(|(_, p)| p.name == *plan_name)
                    .and_then(|(p, plan)| {
                        let n = plan.nodes.iter().position(|n| n.name == *node_name)?;
                        Some((&plan.nodes[n].kind, gen.splits[p][n].as_ref()?))
                    });
                match split {
                    Some((kind, split)) => {
                        let mut wrr = Generation::fresh_split(kind);
                        wrr.fast_forward(*picks);
                        *split.lock() = Split { wrr, picks: *picks };
                        report.splits += 1;
                    }
                    None => report.dropped.push(format!(
                        "split position of node {node_name} of plan {plan_name}: no such split node"
                    )),
                }
            }
        }
        // After the last agents: the overflow branch may route by them.
        for mut session in leaving {
            let Some(next) = session.resume.take() else { continue };
            report.resumed.push(self.walk(session, next, now));
        }
        report
    }

    /// Routes a new call through the plan of its dialed number. `now` must be Unix time in
    /// milliseconds: calendars read the wall-clock date from it.
    pub fn start_call(&self, call: IncomingCall, now: Timestamp) -> Result<Decision, Error> {
        let gen = self.current.clone();
        let plan_index = *gen
            .config
            .entry_points
            .get(&call.dialed)
            .ok_or_else(|| Error::UnknownEntryPoint(call.dialed.clone()))?;
        if self.state.sessions.contains_key(&call.id) || self.engine.call_status(&call.id).is_some()
        {
            return Err(Error::DuplicateCall(call.id));
        }
        let mut new_call = NewCall::new(call.id.clone(), now);
        new_call.caller = call.caller;
        new_call.dialed = call.dialed;
        new_call.customer_id = call.customer_id;
        new_call.attributes = call.attributes;
        new_call.validate()?;
        let start = gen.config.plans[plan_index].start;
        let session = Session {
            gen,
            plan: plan_index,
            call: new_call,
            awaiting: None,
            resume: None,
            trace: Vec::new(),
            held: false,
        };
        Ok(self.walk(session, start, now))
    }

    /// Continues a call waiting in an IVR node with the digits the caller pressed, or `None`
    /// when the prompt timed out.
    pub fn submit_digits(
        &self,
        call: &CallId,
        digits: Option<&str>,
        now: Timestamp,
    ) -> Result<Decision, Error> {
        let Some(mut session) = self.take_for_step(call, |s| s.awaiting.is_some()) else {
            return Err(Error::CallStateMismatch {
                call: call.clone(),
                action: "given digits",
                reason: "it is not waiting for input".into(),
            });
        };
        if let Some(d) = digits {
            if d.len() > 64 || !d.chars().all(|c| c.is_ascii_digit() || c == '*' || c == '#') {
                self.state.sessions.insert(call.clone(), session);
                return Err(Error::invalid("digits", "must be up to 64 of 0-9, * and #"));
            }
        }
        // Nothing is reported here: the step ends with one change that replaces the session
        // (another prompt, a queue) or removes it (the plan ended), so until that change is
        // durable the journal keeps the call at this prompt and a retried submission after
        // a crash takes the same step.
        let Some((node_index, tries_left)) = session.awaiting.take() else {
            unreachable!("take_for_step checked that the session awaits input")
        };
        let gen = session.gen.clone();
        let plan = &gen.config.plans[session.plan];
        let node = &plan.nodes[node_index];
        let mut note = String::new();
        let next = match (&node.kind, digits) {
            (NodeKind::Menu { options, on_invalid, on_timeout, on_failure, .. }, pressed) => {
                let choice = pressed.and_then(|d| options.get(d).map(|n| (d, *n)));
                match (choice, pressed) {
                    (Some((d, target)), _) => {
                        note = format!("pressed {d} -> {}", plan.nodes[target].name);
                        Some(target)
                    }
                    (None, Some(d)) if on_invalid.is_some() => {
                        note = format!(
                            "invalid input {d:?} -> {}",
                            plan.nodes[on_invalid.unwrap_or(*on_failure)].name
                        );
                        *on_invalid
                    }
                    (None, None) if on_timeout.is_some() => {
                        note = format!(
                            "no input -> {}",
                            plan.nodes[on_timeout.unwrap_or(*on_failure)].name
                        );
                        *on_timeout
                    }
                    (None, pressed) => {
                        self.retry(tries_left, *on_failure, pressed, &mut session, &mut note)
                    }
                }
            }
            (
                NodeKind::Collect { attribute, min_digits, max_digits, next, on_failure, .. },
                pressed,
            ) => {
                let valid = pressed.filter(|d| {
                    let n = d.len() as u32;
                    (*min_digits..=*max_digits).contains(&n)
                        && d.chars().all(|c| c.is_ascii_digit())
                });
                match valid {
                    Some(d) => {
                        session.call.attributes.insert(attribute.clone(), d.to_string());
                        note = format!("collected {attribute}={d}");
                        Some(*next)
                    }
                    None => self.retry(tries_left, *on_failure, pressed, &mut session, &mut note),
                }
            }
            _ => None,
        };
        let kind = node.kind.type_name();
        session.trace.push(TraceStep { node: node.name.clone(), kind, note });
        match next {
            Some(next) => Ok(self.walk(session, next, now)),
            // Retry: play the same prompt again.
            None => Ok(self.walk_input_again(session, node_index, tries_left.saturating_sub(1))),
        }
    }

    /// Takes a call that waits in a queue out of it and out of its plan, for a transfer the
    /// switch made while it waited: the engine hands the call back and the plan's session
    /// ends, so the call id may be used again. Errors as [`Engine::withdraw_call`] (a call
    /// ringing or talking to an agent cannot be withdrawn); on error nothing changed.
    pub fn withdraw(&self, call: &CallId, now: Timestamp) -> Result<NewCall, Error> {
        let back = self.engine.withdraw_call(call, now)?;
        self.state.sessions.remove(call);
        Ok(back)
    }

    /// The call hung up while the plan had it (in the IVR, or queued): forget it.
    pub fn hangup(&self, call: &CallId, now: Timestamp) -> Result<(), Error> {
        if self.state.sessions.remove_if(call, |_, s| s.awaiting.is_some()).is_some() {
            self.state.report_session(|| SessionChange::Removed(call.clone()));
            return Ok(());
        }
        self.engine.call_abandoned(call, now)
    }

    /// Fires the engine's timers due by `now` and resumes the plans of calls that timed out
    /// of their queues. Returns the new decisions for the switch. Also forgets last-agent
    /// entries older than the longest lookback of the configuration (at most once per
    /// [`LAST_AGENT_PRUNE_EVERY`]), so their memory is bounded by the customers answered
    /// within it.
    pub fn advance(&self, now: Timestamp) -> Vec<Decision> {
        self.engine.advance(now);
        self.prune_last_agents(now);
        let timed_out = std::mem::take(&mut *self.state.timed_out.lock());
        timed_out
            .into_iter()
            .map(|(call, at)| {
                // With an overflow branch the journal keeps the session, leaving its queue
                // (`LiveState::apply`), until the branch's step replaces or removes it.
                let Some(mut session) = self.take_for_step(&call.id, |s| s.resume.is_some()) else {
                    // No branch: the plan ends with the timeout, in the fold too.
                    let trace = self.state.sessions.remove(&call.id).map(|(_, s)| s.trace);
                    return Decision {
                        call: call.id.clone(),
                        action: Action::Hangup { reason: "queue wait limit reached".into() },
                        trace: trace.unwrap_or_default(),
                    };
                };
                session.call = call;
                match session.resume.take() {
                    Some(next) => self.walk(session, next, at),
                    None => self
                        .end(session, Action::Hangup { reason: "queue wait limit reached".into() }),
                }
            })
            .collect()
    }

    /// The trace of a call still in a plan.
    pub fn trace(&self, call: &CallId) -> Option<Vec<TraceStep>> {
        self.state.sessions.get(call).map(|s| s.trace.clone())
    }

    fn retry(
        &self,
        tries_left: u32,
        on_failure: usize,
        pressed: Option<&str>,
        session: &mut Session,
        note: &mut String,
    ) -> Option<usize> {
        let what = pressed.map_or("no input".to_string(), |d| format!("invalid input {d:?}"));
        if tries_left == 0 {
            let target = &session.gen.config.plans[session.plan].nodes[on_failure].name;
            *note = format!("{what}, no retries left -> {target}");
            Some(on_failure)
        } else {
            *note = format!(
                "{what}, {} retr{} left",
                tries_left,
                if tries_left == 1 { "y" } else { "ies" }
            );
            None
        }
    }

    fn walk_input_again(&self, mut session: Session, node: usize, tries_left: u32) -> Decision {
        let action = Self::input_action(&session.gen.config, session.plan, node);
        session.awaiting = Some((node, tries_left));
        session.held = true;
        let decision =
            Decision { call: session.call.id.clone(), action, trace: session.trace.clone() };
        self.state.report_session(|| SessionChange::Upserted(Box::new(session.live())));
        self.state.sessions.insert(session.call.id.clone(), session);
        decision
    }

    fn input_action(config: &RoutingConfig, plan: usize, node: usize) -> Action {
        match &config.plans[plan].nodes[node].kind {
            NodeKind::Menu { prompt, timeout, .. } => Action::Collect {
                prompt: prompt.clone(),
                min_digits: 1,
                max_digits: 1,
                timeout_s: timeout.as_secs(),
            },
            NodeKind::Collect { prompt, min_digits, max_digits, timeout, .. } => Action::Collect {
                prompt: prompt.clone(),
                min_digits: *min_digits,
                max_digits: *max_digits,
                timeout_s: timeout.as_secs(),
            },
            _ => Action::Hangup { reason: "internal: not an input node".into() },
        }
    }

    /// Walks from `node` until the plan needs input, hands the call to the engine, or ends.
    fn walk(&self, mut session: Session, mut node: usize, now: Timestamp) -> Decision {
        let plan_index = session.plan;
        let gen = session.gen.clone();
        let plan = &gen.config.plans[plan_index];
        for _ in 0..MAX_STEPS_PER_WALK {
            let current = &plan.nodes[node];
            let kind = current.kind.type_name();
            let step = |session: &mut Session, note: String| {
                session.trace.push(TraceStep { node: current.name.clone(), kind, note });
            };
            match &current.kind {
                NodeKind::Menu { retries, .. } | NodeKind::Collect { retries, .. } => {
                    step(&mut session, "waiting for input".into());
                    return self.walk_input_again(session, node, *retries);
                }
                NodeKind::TimeOfDay { calendar, open, closed, holiday } => {
                    let Some(cal) = gen.config.calendars.get(calendar) else {
                        return self.end(
                            session,
                            Action::Hangup { reason: format!("unknown calendar {calendar}") },
                        );
                    };
                    let instant = DateTime::<Utc>::from_timestamp_millis(now.as_millis() as i64)
                        .unwrap_or_default();
                    let (status, local) = cal.status(instant);
                    let (note, next) = match status {
                        CalendarStatus::Open => {
                            (format!("calendar {calendar}: open ({local})"), *open)
                        }
                        CalendarStatus::Closed => {
                            (format!("calendar {calendar}: closed ({local})"), *closed)
                        }
                        CalendarStatus::Holiday(name) => (
                            format!("calendar {calendar}: closed (holiday {name}, {local})"),
                            *holiday,
                        ),
                    };
                    step(&mut session, note);
                    node = next;
                }
                NodeKind::Geographic { branches, default } => {
                    let caller = session.call.caller.clone();
                    let (note, next) = match gen.config.region_of(&caller) {
                        Some(region) => match branches.get(region) {
                            Some(next) => (format!("caller {caller} is in region {region}"), *next),
                            None => (format!("caller {caller} is in region {region}, which has no branch: default"), *default),
                        },
                        None => (format!("no region matches caller {caller:?}: default"), *default),
                    };
                    step(&mut session, note);
                    node = next;
                }
                NodeKind::Percentage { weights, targets } => {
                    let i = self.split(&gen, plan_index, node);
                    step(
                        &mut session,
                        format!(
                            "split branch {} of {} (weight {}%)",
                            i + 1,
                            targets.len(),
                            weights[i]
                        ),
                    );
                    node = targets[i];
                }
                NodeKind::RoundRobin { targets } => {
                    let i = self.split(&gen, plan_index, node);
                    step(
                        &mut session,
                        format!("round robin: target {} of {}", i + 1, targets.len()),
                    );
                    node = targets[i];
                }
                NodeKind::Priority { rules, next } => {
                    let before = session.call.priority;
                    let mut applied = Vec::new();
                    for (condition, set, raise) in rules {
                        if condition.eval(&session.call.attributes) {
                            if let Some(value) = set {
                                session.call.priority = *value;
                                applied.push(format!("{condition:?}: set {value}"));
                            }
                            if let Some(delta) = raise {
                                session.call.priority =
                                    session.call.priority.saturating_add(*delta);
                                applied.push(format!("{condition:?}: raise {delta}"));
                            }
                        }
                    }
                    session.call.priority = session
                        .call
                        .priority
                        .clamp(-crate::call::MAX_PRIORITY_ABS, crate::call::MAX_PRIORITY_ABS);
                    let note = if applied.is_empty() {
                        format!("no rule matched; priority stays {before}")
                    } else {
                        format!(
                            "priority {before} -> {} ({})",
                            session.call.priority,
                            applied.join(", ")
                        )
                    };
                    step(&mut session, note);
                    node = *next;
                }
                NodeKind::Crm { key, copy, next, on_missing } => {
                    let (lookup, profile) = match key.as_str() {
                        "caller" => (
                            session.call.caller.clone(),
                            gen.customers.by_phone(&session.call.caller),
                        ),
                        "customer_id" => {
                            let id = session.call.customer_id.clone().unwrap_or_default();
                            (id.clone(), gen.customers.by_id(&id))
                        }
                        other => {
                            let attr = other.trim_start_matches("attribute:");
                            let id = session.call.attributes.get(attr).cloned().unwrap_or_default();
                            (id.clone(), gen.customers.by_id(&id))
                        }
                    };
                    match profile {
                        Some(profile) => {
                            let mut copied = Vec::new();
                            for field in copy {
                                if let Some(value) = profile.fields.get(field) {
                                    session.call.attributes.insert(field.clone(), value.clone());
                                    copied.push(format!("{field}={value}"));
                                }
                            }
                            session.call.customer_id = Some(profile.id.clone());
                            step(
                                &mut session,
                                format!(
                                    "customer {} found by {key} {lookup:?}: {}",
                                    profile.id,
                                    copied.join(", ")
                                ),
                            );
                            node = *next;
                        }
                        None => {
                            step(&mut session, format!("no customer for {key} {lookup:?}"));
                            node = *on_missing;
                        }
                    }
                }
                NodeKind::LastAgent { queue, lookback, wait, next } => {
                    let key = session.customer_key();
                    let last = self.state.last_agent.get(&key).map(|e| e.value().clone());
                    match last {
                        Some((agent, at)) if now.since(at) <= *lookback => {
                            let (logged_in, member) = self.logged_in_member(&agent, queue);
                            if logged_in && !member {
                                // They could never take a call of this queue: do not hold the
                                // caller for the whole wait.
                                step(
                                    &mut session,
                                    format!("last agent of {key} is {agent}, who is not a member of queue {queue}"),
                                );
                            } else if logged_in {
                                step(&mut session, format!("last agent of {key} is {agent}; offering first, waiting up to {} s", wait.as_secs()));
                                return self.enqueue(
                                    session,
                                    queue,
                                    Vec::new(),
                                    Vec::new(),
                                    Some(agent),
                                    Some((*wait, *next)),
                                    now,
                                );
                            } else {
                                step(
                                    &mut session,
                                    format!("last agent of {key} is {agent}, who is logged out"),
                                );
                            }
                        }
                        Some((agent, _)) => step(
                            &mut session,
                            format!("last agent {agent} served {key} longer ago than the lookback"),
                        ),
                        None => step(&mut session, format!("no last agent for {key}")),
                    }
                    node = *next;
                }
                NodeKind::Queue { queue, skills, priority, escalation, overflow } => {
                    let (required, mut notes) = render_skills(skills, &session.call.attributes);
                    session.call.priority = session.call.priority.saturating_add(*priority);
                    let steps: Vec<Escalation> = escalation
                        .iter()
                        .map(|e| Escalation {
                            after: e.after,
                            required_skills: render_skills(&e.skills, &session.call.attributes).0,
                        })
                        .collect();
                    let queue_id = QueueId::from(queue.as_str());
                    let mut wait_limit = None;
                    let mut overflow_to = None;
                    for (condition, target) in overflow {
                        if let OverflowCondition::WaitedOver(secs) = condition {
                            wait_limit = wait_limit.or(Some((Duration::from_secs(*secs), *target)));
                        } else if let Some(why) =
                            self.overflow_hit(condition, &queue_id, &session.call, &required)
                        {
                            notes.push(format!("overflow ({why}) -> {}", plan.nodes[*target].name));
                            overflow_to = Some(*target);
                            break;
                        }
                    }
                    if let Some(target) = overflow_to {
                        step(&mut session, notes.join("; "));
                        node = target;
                        continue;
                    }
                    if notes.is_empty() {
                        notes.push(format!("enter queue {queue}"));
                    }
                    step(&mut session, notes.join("; "));
                    return self.enqueue(session, queue, required, steps, None, wait_limit, now);
                }
                NodeKind::Agent { agent, queue, wait, fallback } => {
                    let agent_id = AgentId::from(agent.as_str());
                    let (logged_in, member) = self.logged_in_member(&agent_id, queue);
                    if logged_in && !member {
                        step(
                            &mut session,
                            format!("agent {agent} is not a member of queue {queue}"),
                        );
                    } else if logged_in {
                        step(
                            &mut session,
                            format!("connect agent {agent}, waiting up to {} s", wait.as_secs()),
                        );
                        return self.enqueue(
                            session,
                            queue,
                            Vec::new(),
                            Vec::new(),
                            Some(agent_id),
                            Some((*wait, *fallback)),
                            now,
                        );
                    } else {
                        step(&mut session, format!("agent {agent} is not logged in"));
                    }
                    node = *fallback;
                }
                NodeKind::Transfer { number } => {
                    step(&mut session, format!("transfer to {number}"));
                    return self.end(session, Action::Transfer { number: number.clone() });
                }
                NodeKind::Voicemail { mailbox } => {
                    step(&mut session, format!("voicemail {mailbox}"));
                    return self.end(session, Action::Voicemail { mailbox: mailbox.clone() });
                }
                NodeKind::Announce { prompt } => {
                    step(&mut session, format!("announce {prompt}"));
                    return self.end(session, Action::Announce { prompt: prompt.clone() });
                }
                NodeKind::Hangup { reason } => {
                    step(&mut session, "hang up".into());
                    let reason =
                        if reason.is_empty() { "plan ended".to_string() } else { reason.clone() };
                    return self.end(session, Action::Hangup { reason });
                }
            }
        }
        self.end(
            session,
            Action::Hangup {
                reason: format!("plan visited {MAX_STEPS_PER_WALK} nodes without an end"),
            },
        )
    }

    /// Picks the branch of a split node and reports the pick, so a journal can put the
    /// split back at the same position.
    fn split(&self, gen: &Generation, plan: usize, node: usize) -> usize {
        let (branch, picks) = gen.split(plan, node);
        self.state.report_session(|| SessionChange::SplitPicked {
            generation: gen.id.load(Ordering::Relaxed),
            plan: gen.config.plans[plan].name.clone(),
            node: gen.config.plans[plan].nodes[node].name.clone(),
            picks,
        });
        branch
    }

    /// Forgets last-agent entries no `last_agent` node of the current configuration looks
    /// back far enough to use, at most every [`LAST_AGENT_PRUNE_EVERY`], and reports the
    /// bound. Takes only expired entries off the time-ordered heap: no scan of the map.
    fn prune_last_agents(&self, now: Timestamp) {
        let state = &self.state;
        let due = state.next_prune_ms.load(Ordering::Relaxed);
        if now.as_millis() < due
            || state
                .next_prune_ms
                .compare_exchange(
                    due,
                    now.plus(LAST_AGENT_PRUNE_EVERY).as_millis(),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_err()
        {
            return;
        }
        let before = Timestamp::from_millis(
            now.as_millis().saturating_sub(duration_millis(self.current.last_agent_horizon)),
        );
        let expired: Vec<String> = {
            let mut heap = state.last_agent_expiry.lock();
            let mut expired = Vec::new();
            while heap.peek().is_some_and(|Reverse((at, _))| *at < before) {
                if let Some(Reverse((_, customer))) = heap.pop() {
                    expired.push(customer);
                }
            }
            expired
        };
        let mut removed = 0usize;
        for customer in expired {
            // Only if not answered again since (that answer has its own heap entry).
            if state.last_agent.remove_if(&customer, |_, (_, at)| *at < before).is_some() {
                removed += 1;
            }
        }
        if removed > 0 {
            state.expired_before_ms.fetch_max(before.as_millis(), Ordering::Relaxed);
            state.report_session(|| SessionChange::LastAgentsExpired { before });
        }
    }

    /// Why an entry overflow condition holds for `call` about to enter `queue` with extra
    /// requirements `required`, if it does. Every check is an O(1) engine accessor (or a
    /// bounded one for calls with extra skills): no agent scan, no queue copy.
    fn overflow_hit(
        &self,
        condition: &OverflowCondition,
        queue: &QueueId,
        call: &NewCall,
        required: &[SkillRequirement],
    ) -> Option<String> {
        match condition {
            OverflowCondition::NoAgentsLoggedIn => (self.engine.logged_in_count(queue).ok()? == 0)
                .then(|| "no agent logged in".to_string()),
            OverflowCondition::NoQualifiedAgent => {
                (!self.engine.has_qualified_agent(queue, required).ok()?)
                    .then(|| "no qualified agent logged in".to_string())
            }
            OverflowCondition::EstimatedWaitOver(limit) => {
                let wait = self
                    .engine
                    .estimated_wait_for(queue, call.priority, call.arrived_at, required)
                    .ok()?;
                match wait {
                    None => Some("estimated wait unbounded: nobody logged in".to_string()),
                    Some(w) if w.as_secs() > *limit => {
                        Some(format!("estimated wait {} s > {limit} s", w.as_secs()))
                    }
                    Some(_) => None,
                }
            }
            OverflowCondition::QueueLengthOver(limit) => {
                let waiting = self.engine.waiting_count(queue).ok()?;
                (waiting > *limit).then(|| format!("{waiting} waiting > {limit}"))
            }
            OverflowCondition::WaitedOver(_) => None,
        }
    }

    /// Whether `agent` is logged in, and whether they are a member of `queue` (a last-agent
    /// or connect-agent node must not hold a caller for someone who can never take the call).
    fn logged_in_member(&self, agent: &AgentId, queue: &str) -> (bool, bool) {
        let snapshot = self.engine.agent(agent);
        let logged_in =
            snapshot.as_ref().is_some_and(|a| a.state != crate::agent::AgentState::LoggedOut);
        let member =
            snapshot.as_ref().is_some_and(|a| a.queues.iter().any(|q| q.as_str() == queue));
        (logged_in, member)
    }

    #[allow(clippy::too_many_arguments)]
    fn enqueue(
        &self,
        mut session: Session,
        queue: &str,
        required: Vec<SkillRequirement>,
        escalation: Vec<Escalation>,
        target: Option<AgentId>,
        wait_limit: Option<(Duration, usize)>,
        now: Timestamp,
    ) -> Decision {
        let mut call = session.call.clone();
        call.required_skills = required;
        call.escalation = escalation;
        call.target_agent = target;
        call.max_wait = wait_limit.map(|(d, _)| d);
        session.resume = wait_limit.map(|(_, n)| n);
        session.held = true;
        let call_id = call.id.clone();
        let queue_id = QueueId::from(queue);
        // The session goes in first: the engine's observer may need it (an answer can come
        // from another thread as soon as the offer exists).
        self.state.sessions.insert(call_id.clone(), session.clone());
        // Before the engine reports the call's entry, so a journal folding in order has the
        // session when the call is in line.
        self.state.report_session(|| SessionChange::Upserted(Box::new(session.live())));
        match self.engine.route_call(&queue_id, call, now) {
            Ok(Routed::Offered(offer)) => {
                Decision { call: call_id, action: Action::Connect { offer }, trace: session.trace }
            }
            Ok(Routed::Queued { queue, position }) => {
                // From the call's own place in line: a high-priority call is not given the
                // estimate of the back of the line.
                let estimated_wait_s = self
                    .engine
                    .estimated_wait_at(&queue, position)
                    .ok()
                    .flatten()
                    .map(|d| d.as_secs());
                Decision {
                    call: call_id,
                    action: Action::Queued { queue, position, estimated_wait_s },
                    trace: session.trace,
                }
            }
            Err(e) => {
                // Reported before the id is free: a new call reusing it reports after this.
                self.state.report_session(|| SessionChange::Removed(call_id.clone()));
                self.state.sessions.remove(&call_id);
                let mut trace = session.trace;
                trace.push(TraceStep {
                    node: queue.to_string(),
                    kind: "queue",
                    note: format!("refused: {e}"),
                });
                Decision {
                    call: call_id,
                    action: Action::Refused { queue: queue_id, reason: e.to_string() },
                    trace,
                }
            }
        }
    }

    /// The plan ends with `action`. A session an earlier step stored is removed, reported
    /// first so a new call reusing the id is journaled after the removal.
    fn end(&self, session: Session, action: Action) -> Decision {
        if session.held {
            self.state.report_session(|| SessionChange::Removed(session.call.id.clone()));
            self.state.sessions.remove(&session.call.id);
        }
        Decision { call: session.call.id, action, trace: session.trace }
    }

    /// Takes the session of `call` out of the map for a step if `ready` says it can take one,
    /// leaving a stand-in under its id until the step ends: no second step starts meanwhile
    /// and no new call takes the id.
    fn take_for_step(
        &self,
        call: &CallId,
        ready: impl FnOnce(&Session) -> bool,
    ) -> Option<Session> {
        let mut entry = self.state.sessions.get_mut(call)?;
        if !ready(&entry) {
            return None;
        }
        let stand_in = Session {
            gen: entry.gen.clone(),
            plan: entry.plan,
            call: NewCall::new(call.clone(), entry.call.arrived_at),
            awaiting: None,
            resume: None,
            trace: Vec::new(),
            held: true,
        };
        Some(std::mem::replace(&mut *entry, stand_in))
    }
}

/// Renders skill templates against call attributes; a template naming a missing attribute is
/// left out, with a note.
fn render_skills(
    skills: &[SkillTemplate],
    attrs: &BTreeMap<String, String>,
) -> (Vec<SkillRequirement>, Vec<String>) {
    let mut notes = Vec::new();
    let required = skills
        .iter()
        .filter_map(|t| match t.skill.render(attrs) {
            Ok(skill) => Some(SkillRequirement::new(skill, t.min_level)),
            Err(missing) => {
                notes.push(format!("skill requirement skipped: no {missing} attribute"));
                None
            }
        })
        .collect();
    (required, notes)
}
