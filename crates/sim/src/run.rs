//! One replication: the event loop that drives the routing engine on a virtual clock.
//!
//! The loop owns a heap of its own events (arrivals, hang-ups, call ends, logins, breaks) and
//! asks the engine for its next timer (offer timeouts, wrap-up ends, queue wait limits): it
//! always handles whichever comes first, and the engine's timers fire through
//! [`Router::advance`] at their own deadlines. Every engine event lands in a collector the
//! loop drains after each operation; offers are answered at once (no ringing time), answers
//! schedule the call's end, and agent state changes feed the occupancy counters.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap};
use std::sync::Arc;

use parking_lot::Mutex;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use switchboard_routing::plan::{Action, Decision, IncomingCall, NodeKind, Router};
use switchboard_routing::{
    AgentId, AgentProfile, AgentState, CallId, CallStatus, Event, NewCall, Observer, QueueId,
    SkillLevel, Timestamp,
};

use crate::dist::{exponential, HandleModel, Patience};
use crate::error::SimError;
use crate::scenario::{all_queues_profile, reachable_queues, Scenario, Staffing, Traffic};
use crate::stats::Counters;

type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Not-ready reason of an agent on a scheduled break.
const BREAK_REASON: &str = "break";

/// What one replication produced.
#[derive(Clone, Debug)]
pub(crate) struct RunOutput {
    /// Counters per interval (outer) and queue ordinal (inner).
    pub counters: Vec<Vec<Counters>>,
    /// Calls that arrived.
    pub calls: u64,
    /// Calls still waiting when the run ran out of events (no agent would ever come).
    pub stranded: u64,
    /// Calls with no target queue that the plan ended outside any queue.
    pub diverted_unknown: u64,
}

/// The engine's events, collected for the loop.
#[derive(Default)]
struct Collector(Mutex<Vec<Event>>);

impl Observer for Collector {
    fn on_event(&self, event: &Event) {
        self.0.lock().push(event.clone());
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum SimEvent {
    /// The next call of forecast row `row` arrives.
    ForecastArrival { row: u32 },
    /// Recorded call `index` arrives.
    RecordedArrival { index: u32 },
    /// The caller in `slot` runs out of patience.
    Patience { slot: u32, gen: u32 },
    /// The call in `slot` ends (talk time over).
    End { slot: u32, gen: u32 },
    /// Agent logs in at shift start.
    Login { agent: u32 },
    /// Agent's shift ends.
    Logout { agent: u32 },
    /// Agent's break starts, for `len_ms`.
    BreakStart { agent: u32, len_ms: u64 },
    /// Agent's break ends (if `gen` is still the agent's break generation).
    BreakEnd { agent: u32, gen: u32 },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CallState {
    Free,
    /// Routed (in a queue, ringing) and not answered yet.
    Waiting,
    Talking,
}

#[derive(Clone, Debug)]
struct SimCall {
    gen: u32,
    state: CallState,
    target: Option<u32>,
    interval: Option<usize>,
    talk_ms: u64,
    /// Queues the call has entered, to count each entry once.
    entered: Option<u32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Category {
    Off,
    Idle,
    Busy,
    Break,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pending {
    None,
    Break { len_ms: u64 },
    Logout,
}

struct SimAgent {
    id: AgentId,
    members: Vec<u32>,
    category: Category,
    since_ms: u64,
    pending: Pending,
    break_gen: u32,
}

/// How a caller heading for a queue gets there.
#[derive(Clone, Debug)]
enum Route {
    /// Through this entry point's plan (index of the plan).
    Entry { dialed: String, plan: usize },
    /// No entry point reaches the queue: straight into the engine's queue.
    Direct,
}

pub(crate) struct Sim<'a> {
    scenario: &'a Scenario,
    router: Router,
    collector: Arc<Collector>,
    rng: ChaCha8Rng,
    heap: BinaryHeap<Reverse<(u64, u64, SimEvent)>>,
    seq: u64,
    calls: Vec<SimCall>,
    free: Vec<u32>,
    agents: Vec<SimAgent>,
    agent_index: FastMap<AgentId, u32>,
    queue_index: FastMap<QueueId, u32>,
    thresholds_ms: Vec<u64>,
    wrap_ms: Vec<u64>,
    routes: Vec<Route>,
    reach: Vec<Vec<BTreeSet<usize>>>,
    /// Like `reach`, through queue nodes only.
    queue_reach: Vec<Vec<BTreeSet<usize>>>,
    node_index: Vec<FastMap<String, usize>>,
    start_ms: u64,
    interval_ms: u64,
    counters: Vec<Vec<Counters>>,
    /// Recorded handle times per queue, seconds (talk + wrap-up), for empirical draws.
    handle_samples: Vec<Vec<f64>>,
    /// Mean of an exponential patience fitted to the records (recorded patience).
    fitted_patience_s: f64,
    arrived: u64,
    diverted_unknown: u64,
    scratch: Vec<Event>,
    progress: &'a mut dyn FnMut(u64),
}

/// Calls between two progress reports.
const PROGRESS_EVERY_CALLS: u64 = 16_384;

impl<'a> Sim<'a> {
    pub(crate) fn new(
        scenario: &'a Scenario,
        seed: u64,
        horizon: (u64, u64),
        progress: &'a mut dyn FnMut(u64),
    ) -> Result<Sim<'a>, SimError> {
        let mut config = scenario.config.clone();
        config.seed = seed;
        let collector = Arc::new(Collector::default());
        let router = Router::new(config, scenario.customers.clone(), collector.clone())?;
        let config = router.config().clone();
        let queues = &config.queues;
        let queue_index: FastMap<QueueId, u32> =
            queues.iter().enumerate().map(|(i, q)| (q.id.clone(), i as u32)).collect();
        let reach = reachable_queues(&config, true);
        let queue_reach = reachable_queues(&config, false);
        // A caller for queue q dials the first entry point (in number order) whose plan can
        // reach q.
        let routes = (0..queues.len())
            .map(|q| {
                config
                    .entry_points
                    .iter()
                    .find(|(_, &plan)| reach[plan][config.plans[plan].start].contains(&q))
                    .map_or(Route::Direct, |(dialed, &plan)| Route::Entry {
                        dialed: dialed.clone(),
                        plan,
                    })
            })
            .collect();
        let node_index = config
            .plans
            .iter()
            .map(|p| p.nodes.iter().enumerate().map(|(i, n)| (n.name.clone(), i)).collect())
            .collect();
        let (start_ms, end_ms) = horizon;
        let interval_ms = scenario.interval_ms();
        let intervals = (end_ms.saturating_sub(start_ms)).div_ceil(interval_ms) as usize;
        let mut handle_samples = vec![Vec::new(); queues.len()];
        let mut fitted_patience_s = crate::dist::DEFAULT_PATIENCE_MEAN_S;
        if let Traffic::History(records) = &scenario.traffic {
            for r in records {
                if let (Some(&q), Some(h)) = (queue_index.get(r.queue.as_str()), r.handle_s) {
                    handle_samples[q as usize].push(h);
                }
            }
            let total_wait: f64 = records.iter().filter_map(|r| r.wait_s).sum();
            let abandoned = records.iter().filter(|r| r.abandoned).count();
            if abandoned > 0 && total_wait > 0.0 {
                fitted_patience_s = total_wait / abandoned as f64;
            }
        }
        let mut sim = Sim {
            scenario,
            router,
            collector,
            rng: ChaCha8Rng::seed_from_u64(seed ^ 0x5EED_5111),
            heap: BinaryHeap::new(),
            seq: 0,
            calls: Vec::new(),
            free: Vec::new(),
            agents: Vec::new(),
            agent_index: FastMap::default(),
            queue_index,
            thresholds_ms: queues
                .iter()
                .map(|q| q.service_level_threshold.as_millis() as u64)
                .collect(),
            wrap_ms: queues.iter().map(|q| q.wrap_up.as_millis() as u64).collect(),
            routes,
            reach,
            queue_reach,
            node_index,
            start_ms,
            interval_ms,
            counters: vec![vec![Counters::default(); queues.len()]; intervals],
            handle_samples,
            fitted_patience_s,
            arrived: 0,
            diverted_unknown: 0,
            scratch: Vec::new(),
            progress,
        };
        sim.seed_events()?;
        Ok(sim)
    }

    /// The mean patience Erlang A should use for this scenario, if patience is exponential.
    pub(crate) fn erlang_patience_s(&self) -> Option<f64> {
        match &self.scenario.patience {
            Patience::Recorded => Some(self.fitted_patience_s),
            p => p.exponential_mean_s(),
        }
    }

    fn push(&mut self, at_ms: u64, event: SimEvent) {
        self.seq += 1;
        self.heap.push(Reverse((at_ms, self.seq, event)));
    }

    fn seed_events(&mut self) -> Result<(), SimError> {
        let scenario = self.scenario;
        match &scenario.staffing {
            Staffing::Fixed(n) => {
                let width = n.to_string().len();
                for i in 0..*n {
                    let id = format!("sim-agent-{:0width$}", i + 1);
                    let profile = all_queues_profile(&scenario.config, &id);
                    let slot = self.add_agent(profile)?;
                    self.push(self.start_ms, SimEvent::Login { agent: slot });
                }
            }
            Staffing::Shifts(shifts) => {
                for shift in shifts {
                    let slot = match self.agent_index.get(shift.agent.as_str()) {
                        Some(&slot) => slot,
                        None => {
                            let profile = match &shift.skills {
                                Some(skills) => AgentProfile::new(
                                    shift.agent.as_str(),
                                    skills
                                        .iter()
                                        .map(|(s, &l)| SkillLevel::new(s.as_str(), l))
                                        .collect(),
                                ),
                                None => match scenario
                                    .config
                                    .agents
                                    .iter()
                                    .find(|a| a.id.as_str() == shift.agent)
                                {
                                    Some(a) => a.clone(),
                                    None => all_queues_profile(&scenario.config, &shift.agent),
                                },
                            };
                            self.add_agent(profile)?
                        }
                    };
                    self.push(shift.start_ms, SimEvent::Login { agent: slot });
                    for &(bs, be) in &shift.breaks {
                        self.push(bs, SimEvent::BreakStart { agent: slot, len_ms: be - bs });
                    }
                    self.push(shift.end_ms, SimEvent::Logout { agent: slot });
                }
            }
        }
        match &scenario.traffic {
            Traffic::Forecast(f) => {
                for (row, r) in f.rows.iter().enumerate() {
                    if let Some(i) = self.interval_of(r.start_ms) {
                        if let Some(&q) = self.queue_index.get(r.queue.as_str()) {
                            let c = &mut self.counters[i][q as usize];
                            c.expected_calls += r.calls;
                            c.handle_s += r.calls * r.aht_s;
                        }
                    }
                    if r.calls > 0.0 {
                        let gap = exponential(f.interval_ms as f64 / r.calls, &mut self.rng);
                        let at = r.start_ms + gap as u64;
                        if at < r.start_ms + f.interval_ms {
                            self.push(at, SimEvent::ForecastArrival { row: row as u32 });
                        }
                    }
                }
            }
            Traffic::History(records) => {
                if let Some(first) = records.first() {
                    self.push(first.arrived_ms, SimEvent::RecordedArrival { index: 0 });
                }
            }
        }
        Ok(())
    }

    fn add_agent(&mut self, profile: AgentProfile) -> Result<u32, SimError> {
        let engine = self.router.engine();
        let id = profile.id.clone();
        engine.upsert_agent(profile, Timestamp::from_millis(self.start_ms))?;
        let members = engine
            .agent(&id)
            .map(|a| a.queues.iter().filter_map(|q| self.queue_index.get(q).copied()).collect())
            .unwrap_or_default();
        let slot = self.agents.len() as u32;
        self.agents.push(SimAgent {
            id: id.clone(),
            members,
            category: Category::Off,
            since_ms: self.start_ms,
            pending: Pending::None,
            break_gen: 0,
        });
        self.agent_index.insert(id, slot);
        Ok(slot)
    }

    fn interval_of(&self, at_ms: u64) -> Option<usize> {
        let i = at_ms.checked_sub(self.start_ms)? / self.interval_ms;
        (i < self.counters.len() as u64).then_some(i as usize)
    }

    /// Runs until nothing is left to happen.
    pub(crate) fn run(mut self) -> Result<RunOutput, SimError> {
        let mut now = self.start_ms;
        loop {
            let next_sim = self.heap.peek().map(|Reverse((at, _, _))| *at);
            let next_engine = self.router.engine().next_deadline().map(|t| t.as_millis());
            match (next_sim, next_engine) {
                (None, None) => break,
                (sim, Some(engine)) if sim.is_none_or(|s| engine <= s) => {
                    now = engine;
                    let decisions = self.router.advance(Timestamp::from_millis(engine));
                    self.drain(now)?;
                    for d in decisions {
                        let slot = slot_of(&d.call);
                        self.follow(slot, d, now)?;
                    }
                }
                _ => {
                    let Some(Reverse((at, _, event))) = self.heap.pop() else { break };
                    now = at;
                    self.handle(event, now)?;
                }
            }
        }
        let end = now.max(self.start_ms + self.counters.len() as u64 * self.interval_ms);
        for a in 0..self.agents.len() {
            let category = self.agents[a].category;
            self.accrue(a, category, end);
        }
        let stranded = self.calls.iter().filter(|c| c.state == CallState::Waiting).count() as u64;
        (self.progress)(self.arrived % PROGRESS_EVERY_CALLS);
        Ok(RunOutput {
            counters: self.counters,
            calls: self.arrived,
            stranded,
            diverted_unknown: self.diverted_unknown,
        })
    }

    fn handle(&mut self, event: SimEvent, now: u64) -> Result<(), SimError> {
        let t = Timestamp::from_millis(now);
        match event {
            SimEvent::ForecastArrival { row } => {
                let Traffic::Forecast(f) = &self.scenario.traffic else { return Ok(()) };
                let r = &f.rows[row as usize];
                let gap = exponential(f.interval_ms as f64 / r.calls, &mut self.rng);
                let next = now + gap as u64;
                if next < r.start_ms + f.interval_ms {
                    self.push(next, SimEvent::ForecastArrival { row });
                }
                let q = self.queue_index.get(r.queue.as_str()).copied();
                let wrap_s = q.map_or(0, |q| self.wrap_ms[q as usize]) as f64 / 1000.0;
                let talk_s = match &self.scenario.handle {
                    HandleModel::Shape(shape) => {
                        shape.sample((r.aht_s - wrap_s).max(0.0), &mut self.rng)
                    }
                    _ => (r.aht_s - wrap_s).max(0.0),
                };
                let patience = self.scenario.patience.sample(&mut self.rng);
                self.arrive(q, None, String::new(), talk_s, patience, now)?;
            }
            SimEvent::RecordedArrival { index } => {
                let Traffic::History(records) = &self.scenario.traffic else { return Ok(()) };
                if let Some(next) = records.get(index as usize + 1) {
                    self.push(next.arrived_ms, SimEvent::RecordedArrival { index: index + 1 });
                }
                let r = &records[index as usize];
                let q = self.queue_index.get(r.queue.as_str()).copied();
                if let (Some(q), Some(i)) = (q, self.interval_of(now)) {
                    let c = &mut self.counters[i][q as usize];
                    c.expected_calls += 1.0;
                    c.handle_s += r.handle_s.unwrap_or(0.0);
                }
                let wrap_s = q.map_or(0, |q| self.wrap_ms[q as usize]) as f64 / 1000.0;
                let samples = q.map(|q| &self.handle_samples[q as usize]);
                let resample = |rng: &mut ChaCha8Rng| match samples {
                    Some(s) if !s.is_empty() => s[rng.random_range(0..s.len())],
                    _ => 0.0,
                };
                let handle_s = match &self.scenario.handle {
                    HandleModel::Recorded => match r.handle_s {
                        Some(h) => h,
                        None => resample(&mut self.rng),
                    },
                    HandleModel::Empirical => resample(&mut self.rng),
                    HandleModel::Shape(shape) => {
                        let mean = samples
                            .filter(|s| !s.is_empty())
                            .map_or(0.0, |s| s.iter().sum::<f64>() / s.len() as f64);
                        shape.sample(mean, &mut self.rng) + wrap_s
                    }
                };
                let talk_s = (handle_s - wrap_s).max(0.0);
                let patience = match &self.scenario.patience {
                    Patience::Recorded => {
                        let wait = r.wait_s.unwrap_or(0.0);
                        if r.abandoned {
                            Some(wait)
                        } else {
                            Some(wait + exponential(self.fitted_patience_s, &mut self.rng))
                        }
                    }
                    p => p.sample(&mut self.rng),
                };
                let dialed = (!r.dialed.is_empty()
                    && self.router.config().entry_points.contains_key(&r.dialed))
                .then(|| r.dialed.clone());
                let caller = r.caller.clone();
                self.arrive(q, dialed, caller, talk_s, patience, now)?;
            }
            SimEvent::Patience { slot, gen } => {
                let call = &self.calls[slot as usize];
                if call.gen == gen && call.state == CallState::Waiting {
                    // The engine may have let go of it already (wait limit, in the middle of
                    // an overflow); then there is nobody to hang up on.
                    let _ = self.router.hangup(&call_id(slot), t);
                    self.drain(now)?;
                }
            }
            SimEvent::End { slot, gen } => {
                if self.calls[slot as usize].gen == gen {
                    self.router.engine().call_ended(&call_id(slot), t)?;
                    self.drain(now)?;
                }
            }
            SimEvent::Login { agent } => {
                let id = self.agents[agent as usize].id.clone();
                self.agents[agent as usize].pending = Pending::None;
                // A second overlapping shift of the same agent: already logged in.
                let _ = self.router.engine().login(&id, true, t);
                self.drain(now)?;
            }
            SimEvent::Logout { agent } => {
                self.agents[agent as usize].pending = Pending::Logout;
                self.apply_pending(agent, now)?;
                self.drain(now)?;
            }
            SimEvent::BreakStart { agent, len_ms } => {
                let a = &mut self.agents[agent as usize];
                if a.category != Category::Off && a.pending != Pending::Logout {
                    a.pending = Pending::Break { len_ms };
                    self.apply_pending(agent, now)?;
                    self.drain(now)?;
                }
            }
            SimEvent::BreakEnd { agent, gen } => {
                let a = &self.agents[agent as usize];
                if a.break_gen == gen && a.category == Category::Break {
                    let id = a.id.clone();
                    self.router.engine().set_ready(&id, t)?;
                    self.drain(now)?;
                }
            }
        }
        Ok(())
    }

    /// A new call: draws nothing more, routes it and follows the plan's decision.
    fn arrive(
        &mut self,
        target: Option<u32>,
        dialed: Option<String>,
        caller: String,
        talk_s: f64,
        patience_s: Option<f64>,
        now: u64,
    ) -> Result<(), SimError> {
        self.arrived += 1;
        if self.arrived % PROGRESS_EVERY_CALLS == 0 {
            (self.progress)(PROGRESS_EVERY_CALLS);
        }
        let interval = self.interval_of(now);
        if let (Some(q), Some(i)) = (target, interval) {
            self.counters[i][q as usize].arrived += 1;
        }
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None => {
                self.calls.push(SimCall {
                    gen: 0,
                    state: CallState::Free,
                    target: None,
                    interval: None,
                    talk_ms: 0,
                    entered: None,
                });
                (self.calls.len() - 1) as u32
            }
        };
        let call = &mut self.calls[slot as usize];
        call.gen = call.gen.wrapping_add(1);
        call.state = CallState::Waiting;
        call.target = target;
        call.interval = interval;
        call.talk_ms = (talk_s * 1000.0).round() as u64;
        call.entered = None;
        let gen = call.gen;
        if let Some(p) = patience_s {
            self.push(now + (p * 1000.0).round() as u64, SimEvent::Patience { slot, gen });
        }
        let t = Timestamp::from_millis(now);
        let id = call_id(slot);
        // Forecast calls have no caller number; a unique one keeps last-agent memory per
        // caller (it matches no region and no customer).
        let caller = if caller.is_empty() { format!("sim:{}", self.arrived) } else { caller };
        let route = match (dialed, target) {
            (Some(dialed), _) => {
                let plan = self.router.config().entry_points.get(&dialed).copied().unwrap_or(0);
                Route::Entry { dialed, plan }
            }
            (None, Some(q)) => self.routes[q as usize].clone(),
            (None, None) => Route::Direct,
        };
        match route {
            Route::Entry { dialed, .. } => {
                let incoming = IncomingCall {
                    id,
                    caller,
                    dialed,
                    customer_id: None,
                    attributes: Default::default(),
                };
                let decision = self.router.start_call(incoming, t)?;
                self.drain(now)?;
                self.follow(slot, decision, now)?;
            }
            Route::Direct => {
                let Some(q) = target else {
                    self.finish_outside(slot);
                    return Ok(());
                };
                let queue = self.router.config().queues[q as usize].id.clone();
                let mut call = NewCall::new(id, t);
                call.caller = caller;
                match self.router.engine().route_call(&queue, call, t) {
                    Ok(_) => self.drain(now)?,
                    // A full queue refuses the call: a busy signal.
                    Err(switchboard_routing::Error::QueueFull { .. }) => self.finish_outside(slot),
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(())
    }

    /// Acts on a plan decision: answers IVR prompts the way a caller heading for the call's
    /// target queue would, and closes calls the plan ended.
    fn follow(&mut self, slot: u32, mut decision: Decision, now: u64) -> Result<(), SimError> {
        let t = Timestamp::from_millis(now);
        loop {
            match &decision.action {
                Action::Collect { .. } => {
                    let digits = self.digits_for(slot, &decision);
                    decision = self.router.submit_digits(&decision.call, digits.as_deref(), t)?;
                    self.drain(now)?;
                }
                Action::Connect { .. } | Action::Queued { .. } => return Ok(()),
                Action::Transfer { .. }
                | Action::Voicemail { .. }
                | Action::Announce { .. }
                | Action::Hangup { .. }
                | Action::Refused { .. } => {
                    self.finish_outside(slot);
                    return Ok(());
                }
            }
        }
    }

    /// The call left the plan without an agent: count it as diverted unless a queue already
    /// counted it (timed out of it).
    fn finish_outside(&mut self, slot: u32) {
        let call = &self.calls[slot as usize];
        if call.state == CallState::Free {
            return;
        }
        if call.entered.is_none() {
            match (call.target, call.interval) {
                (Some(q), Some(i)) => self.counters[i][q as usize].diverted += 1,
                (None, _) => self.diverted_unknown += 1,
                _ => {}
            }
        }
        self.release(slot);
    }

    fn release(&mut self, slot: u32) {
        let call = &mut self.calls[slot as usize];
        if call.state != CallState::Free {
            call.state = CallState::Free;
            self.free.push(slot);
        }
    }

    /// Digits for the input node a call waits in: the first menu option (in key order) that
    /// leads to the call's target queue through queue nodes, else through any node (a named
    /// agent's queue), else none (the prompt times out); or enough digits for a collect node.
    fn digits_for(&self, slot: u32, decision: &Decision) -> Option<String> {
        let config = self.router.config();
        let target = self.calls[slot as usize].target.map(|q| q as usize);
        let plan = self.plan_of(&decision.call)?;
        let node_name = &decision.trace.last()?.node;
        let node = *self.node_index[plan].get(node_name)?;
        match &config.plans[plan].nodes[node].kind {
            NodeKind::Menu { options, .. } => {
                let q = target?;
                [&self.queue_reach, &self.reach].into_iter().find_map(|reach| {
                    options
                        .iter()
                        .find(|(_, &next)| reach[plan][next].contains(&q))
                        .map(|(digit, _)| digit.clone())
                })
            }
            NodeKind::Collect { min_digits, .. } => Some("1".repeat((*min_digits).max(1) as usize)),
            _ => None,
        }
    }

    fn plan_of(&self, call: &CallId) -> Option<usize> {
        let slot = slot_of(call);
        match self.calls[slot as usize].target.map(|q| &self.routes[q as usize]) {
            Some(Route::Entry { plan, .. }) => Some(*plan),
            // Replayed calls dial their recorded number; find its plan through the trace's
            // first node (plan names are unique per plan, node names per plan).
            _ => None,
        }
        .or_else(|| {
            let trace = self.router.trace(call)?;
            let first = &trace.first()?.node;
            self.router.config().plans.iter().position(|p| p.nodes.iter().any(|n| &n.name == first))
        })
    }

    /// Handles the engine's events until none are left (handling may cause more).
    fn drain(&mut self, now: u64) -> Result<(), SimError> {
        loop {
            std::mem::swap(&mut *self.collector.0.lock(), &mut self.scratch);
            if self.scratch.is_empty() {
                return Ok(());
            }
            let events = std::mem::take(&mut self.scratch);
            for event in &events {
                self.on_event(event, now)?;
            }
            self.scratch = events;
            self.scratch.clear();
        }
    }

    fn on_event(&mut self, event: &Event, now: u64) -> Result<(), SimError> {
        let t = Timestamp::from_millis(now);
        match event {
            Event::CallQueued { call, queue, .. } => {
                self.enter(call, queue, true);
            }
            Event::CallOffered { offer, .. } => {
                self.enter(&offer.call, &offer.queue, false);
                // No ringing time: the agent picks up at once, unless the offer was already
                // withdrawn by an agent's break or logout handled earlier in this batch.
                let still_offered = matches!(
                    self.router.engine().call_status(&offer.call),
                    Some(CallStatus::Offered { agent, .. }) if agent == offer.agent
                );
                if still_offered {
                    self.router.engine().call_answered(&offer.call, t)?;
                }
            }
            Event::CallAnswered { call, queue, wait_ms, .. } => {
                let slot = slot_of(call);
                let q = self.queue_index.get(queue).copied().unwrap_or(0) as usize;
                let c = &mut self.calls[slot as usize];
                c.state = CallState::Talking;
                let (gen, talk_ms, interval) = (c.gen, c.talk_ms, c.interval);
                if let Some(i) = interval {
                    let counters = &mut self.counters[i][q];
                    counters.answered += 1;
                    counters.answered_wait_ms += wait_ms;
                    if *wait_ms <= self.thresholds_ms[q] {
                        counters.answered_within += 1;
                    }
                }
                self.push(now + talk_ms, SimEvent::End { slot, gen });
            }
            Event::CallEnded { call, .. } => self.release(slot_of(call)),
            Event::CallAbandoned { call, queue, .. } => {
                let slot = slot_of(call);
                let q = self.queue_index.get(queue).copied().unwrap_or(0) as usize;
                if let Some(i) = self.calls[slot as usize].interval {
                    self.counters[i][q].abandoned += 1;
                }
                self.release(slot);
            }
            Event::QueueTimedOut { call, queue, .. } => {
                let slot = slot_of(&call.id);
                let q = self.queue_index.get(queue).copied().unwrap_or(0) as usize;
                if let Some(i) = self.calls[slot as usize].interval {
                    self.counters[i][q].timed_out += 1;
                }
            }
            Event::AgentStateChanged { agent, state, .. } => {
                let Some(&a) = self.agent_index.get(agent) else { return Ok(()) };
                let category = match state {
                    AgentState::LoggedOut => Category::Off,
                    AgentState::Available => Category::Idle,
                    AgentState::NotReady { reason } if reason == BREAK_REASON => Category::Break,
                    AgentState::NotReady { .. } => Category::Idle,
                    AgentState::Reserved { .. }
                    | AgentState::OnCall { .. }
                    | AgentState::WrapUp { .. } => Category::Busy,
                };
                self.accrue(a as usize, category, now);
                if self.agents[a as usize].pending != Pending::None
                    && matches!(state, AgentState::Available | AgentState::WrapUp { .. })
                {
                    self.apply_pending(a, now)?;
                }
            }
            Event::OfferEnded { .. } | Event::CallEntered { .. } | Event::CallWithdrawn { .. } => {}
        }
        Ok(())
    }

    /// Counts a call's entry into a queue once per queue it enters.
    fn enter(&mut self, call: &CallId, queue: &QueueId, waits: bool) {
        let slot = slot_of(call);
        let Some(&q) = self.queue_index.get(queue) else { return };
        let c = &mut self.calls[slot as usize];
        if c.entered == Some(q) {
            return;
        }
        c.entered = Some(q);
        if let Some(i) = c.interval {
            let counters = &mut self.counters[i][q as usize];
            counters.offered += 1;
            if waits {
                counters.waited += 1;
            }
        }
    }

    /// Applies an agent's pending break or logout if the agent is free of calls. A break or
    /// logout due while the agent talks or wraps up starts when the call is done (the wrap-up
    /// is then spent on break); a break keeps its planned length. The caller drains the
    /// events (from inside the drain loop, its next round does).
    fn apply_pending(&mut self, agent: u32, now: u64) -> Result<(), SimError> {
        let t = Timestamp::from_millis(now);
        let engine = self.router.engine().clone();
        let a = &self.agents[agent as usize];
        let id = a.id.clone();
        let Some(state) = engine.agent(&id).map(|s| s.state) else { return Ok(()) };
        match a.pending {
            Pending::None => {}
            Pending::Logout => match state {
                AgentState::OnCall { .. } => {}
                _ => {
                    self.agents[agent as usize].pending = Pending::None;
                    engine.logout(&id, t)?;
                }
            },
            Pending::Break { len_ms } => {
                match state {
                    AgentState::OnCall { .. } | AgentState::LoggedOut => return Ok(()),
                    AgentState::Reserved { .. } => {
                        // It just took a call while going available: hand the call back
                        // (withdrawn, not a miss) and go on break.
                        engine.logout(&id, t)?;
                        engine.login(&id, false, t)?;
                    }
                    _ => {}
                }
                let a = &mut self.agents[agent as usize];
                a.break_gen = a.break_gen.wrapping_add(1);
                let gen = a.break_gen;
                engine.set_not_ready(&id, BREAK_REASON, t)?;
                self.agents[agent as usize].pending = Pending::None;
                self.push(now + len_ms, SimEvent::BreakEnd { agent, gen });
            }
        }
        Ok(())
    }

    /// Adds the time since the agent's last change to its category's counters, split over
    /// intervals, for every member queue; then starts `next`.
    fn accrue(&mut self, agent: usize, next: Category, now: u64) {
        let (category, since) = (self.agents[agent].category, self.agents[agent].since_ms);
        self.agents[agent].category = next;
        self.agents[agent].since_ms = now;
        if matches!(category, Category::Off | Category::Break) || now <= since {
            return;
        }
        let busy = category == Category::Busy;
        let mut from = since.max(self.start_ms);
        while from < now {
            let Some(i) = self.interval_of(from) else { return };
            let interval_end = self.start_ms + (i as u64 + 1) * self.interval_ms;
            let to = now.min(interval_end);
            for &q in &self.agents[agent].members {
                let c = &mut self.counters[i][q as usize];
                c.staffed_ms += to - from;
                if busy {
                    c.busy_ms += to - from;
                }
            }
            from = to;
        }
    }
}

fn call_id(slot: u32) -> CallId {
    CallId::new(format!("c{slot}"))
}

/// The slot of a call id made by [`call_id`]; the simulator makes every id, so anything else
/// is a bug, mapped to slot 0 rather than a panic.
fn slot_of(call: &CallId) -> u32 {
    call.as_str().get(1..).and_then(|s| s.parse().ok()).unwrap_or(0)
}
