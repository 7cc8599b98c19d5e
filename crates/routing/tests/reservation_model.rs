//! A deterministic model check of the engine's reservation protocol with shuttle.
//!
//! The engine's agents and calls live in `DashMap`s whose shard locks shuttle cannot schedule,
//! so this is a faithful extraction rather than the engine itself: the same locks, taken in the
//! same order, around the same checks and writes, with everything that does not touch
//! reservation (counters, events, timers, skills, policies' key order) left out. Each model
//! function names the `engine.rs` function it mirrors; change it with the engine.
//!
//! Lock granularity is the engine's or finer: one mutex per agent entry and per call entry
//! (DashMap locks a shard holding several, which only serializes more: the engine never holds
//! one entry of a map while taking another of the same map), one per queue.
//!
//! Properties, checked on every explored schedule:
//! 1. No agent is offered two calls: every reservation starts from a distinct availability
//!    period (agent, epoch) of that agent.
//! 2. No call is lost or duplicated: at the end every call is either waiting in exactly one
//!    queue with its location `Queued`, or the one call of exactly one agent reserved for it
//!    with its location `WithAgent(that agent)`.
//! 3. No call and agent wait for each other: at the end no queue holds a waiting call while an
//!    agent that is a member of that queue is available.
//! 4. No deadlock: shuttle fails a schedule in which every thread is blocked, so the lock
//!    order (queues ascending, then agent, then call) is checked too.
//!
//! Threads race route-call, agent-available (login, ready), not-ready, offer-failed and logout.
//! Schedules come from shuttle's random scheduler and its PCT scheduler (depth 3); the number per
//! scenario is `SWITCHBOARD_MODEL_ITERATIONS` (default [`DEFAULT_ITERATIONS`]). Mutants of the
//! protocol (a non-atomic check-then-set, a queue lock released between looking for an agent
//! and enqueueing) show that the checker catches what it claims to.

use std::collections::BTreeMap;
use std::sync::Arc;

use shuttle::sync::{Mutex, MutexGuard};
use shuttle::thread;

/// Schedules per scenario and scheduler in a normal `cargo test`.
const DEFAULT_ITERATIONS: usize = 1_000;

/// PCT depth: bugs needing up to two forced preemptions are found with known probability.
const PCT_DEPTH: usize = 3;

fn iterations() -> usize {
    std::env::var("SWITCHBOARD_MODEL_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(DEFAULT_ITERATIONS)
}

type AgentIx = usize;
type CallIx = usize;
type QueueIx = usize;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AgentState {
    LoggedOut,
    Available,
    NotReady,
    Reserved(CallIx),
}

struct AgentEntry {
    state: AgentState,
    /// Bumped on every state change, like `AgentEntry::epoch`.
    epoch: u64,
    /// Member queues, ascending (the lock order), like `AgentEntry::membership`.
    membership: Vec<QueueIx>,
    /// Index entries of the current availability period, like `AgentEntry::indexed`.
    indexed: Vec<(QueueIx, AvailKey)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Location {
    Routing,
    Queued,
    WithAgent(AgentIx),
}

struct CallEntry {
    queue: QueueIx,
    /// Place in line (`WaitKey`), kept when an offer fails.
    key: u64,
    location: Location,
}

/// A successful check-and-set, like the engine's `Reservation`: the agent, the availability
/// period it ended and that period's index entries (to retire).
type Reservation = (AgentIx, u64, Vec<(QueueIx, AvailKey)>);

/// The order of a queue's available index; the policy's key in the engine. Unique per agent and
/// availability period, as the engine's keys are in practice.
type AvailKey = (AgentIx, u64);

#[derive(Clone, Copy)]
struct Indexed {
    agent: AgentIx,
    epoch: u64,
}

#[derive(Default)]
struct QueueState {
    waiting: BTreeMap<u64, CallIx>,
    available: BTreeMap<AvailKey, Indexed>,
}

/// Which protocol the model runs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Protocol {
    /// The engine's.
    Engine,
    /// Mutant: `try_reserve` checks the agent, releases its entry, then takes it again to set
    /// it reserved.
    CheckThenSet,
    /// Mutant: `route_call` releases the queue lock after finding no agent and takes it again
    /// to enqueue.
    UnlockedEnqueue,
}

struct Model {
    protocol: Protocol,
    agents: Vec<Mutex<AgentEntry>>,
    calls: Vec<Mutex<Option<CallEntry>>>,
    queues: Vec<Mutex<QueueState>>,
    /// Every reservation made: (agent, epoch of the availability period it claimed, call).
    reservations: Mutex<Vec<(AgentIx, u64, CallIx)>>,
}

enum TryReserve {
    Reserved { old_epoch: u64, old_indexed: Vec<(QueueIx, AvailKey)> },
    Stale,
}

impl Model {
    fn new(protocol: Protocol, memberships: &[&[QueueIx]], calls: usize, queues: usize) -> Model {
        Model {
            protocol,
            agents: memberships
                .iter()
                .map(|m| {
                    Mutex::new(AgentEntry {
                        state: AgentState::LoggedOut,
                        epoch: 0,
                        membership: m.to_vec(),
                        indexed: Vec::new(),
                    })
                })
                .collect(),
            calls: (0..calls).map(|_| Mutex::new(None)).collect(),
            queues: (0..queues).map(|_| Mutex::new(QueueState::default())).collect(),
            reservations: Mutex::new(Vec::new()),
        }
    }

    fn agent(&self, a: AgentIx) -> MutexGuard<'_, AgentEntry> {
        self.agents[a].lock().expect("agent lock")
    }

    fn call(&self, c: CallIx) -> MutexGuard<'_, Option<CallEntry>> {
        self.calls[c].lock().expect("call lock")
    }

    fn queue(&self, q: QueueIx) -> MutexGuard<'_, QueueState> {
        self.queues[q].lock().expect("queue lock")
    }

    // --- calls --------------------------------------------------------------------------

    /// Mirrors `Engine::route_call`.
    fn route_call(&self, c: CallIx, q: QueueIx) {
        {
            // `calls.entry(id)`: a duplicate is refused; otherwise the entry starts `Routing`.
            let mut slot = self.call(c);
            if slot.is_some() {
                return;
            }
            *slot = Some(CallEntry { queue: q, key: c as u64, location: Location::Routing });
        }
        let mut qs = self.queue(q);
        if let Some(r) = self.reserve_from_index(q, &mut qs, c) {
            self.set_location(c, Location::WithAgent(r.0));
            drop(qs);
            self.after_reservation(q, r);
            return;
        }
        if self.protocol == Protocol::UnlockedEnqueue {
            drop(qs);
            thread::yield_now();
            qs = self.queue(q);
        }
        qs.waiting.insert(c as u64, c);
        self.set_location(c, Location::Queued);
    }

    /// Mirrors `Engine::offer_failed` (rejected: the agent becomes available again).
    fn offer_failed(&self, c: CallIx) {
        // `call_parts`: read where the call is, entry released.
        let Some(Location::WithAgent(a)) = self.call(c).as_ref().map(|e| e.location) else {
            return;
        };
        self.end_offer(a, Some(c), AgentState::Available);
    }

    /// Mirrors `Engine::end_offer`: ends the agent's offer of call `c` (any offer if `None`),
    /// puts the call back in line and lets the agent go on in `next`.
    fn end_offer(&self, a: AgentIx, c: Option<CallIx>, next: AgentState) {
        let (call, changed) = {
            let mut agent = self.agent(a);
            let call = match agent.state {
                AgentState::Reserved(call) if c.is_none_or(|c| c == call) => call,
                _ => return, // IllegalTransition
            };
            (call, self.set_state(&mut agent, next))
        };
        self.requeue(call);
        self.finish_change(a, changed);
    }

    /// Mirrors `Engine::requeue`: offers the call to another available agent first, else puts
    /// it back at its old place in line.
    fn requeue(&self, c: CallIx) {
        let Some((q, key)) = self.call(c).as_ref().map(|e| (e.queue, e.key)) else { return };
        let mut qs = self.queue(q);
        if let Some(r) = self.reserve_from_index(q, &mut qs, c) {
            self.set_location(c, Location::WithAgent(r.0));
            drop(qs);
            self.after_reservation(q, r);
            return;
        }
        qs.waiting.insert(key, c);
        self.set_location(c, Location::Queued);
    }

    fn set_location(&self, c: CallIx, location: Location) {
        if let Some(entry) = self.call(c).as_mut() {
            entry.location = location;
        }
    }

    // --- agents -------------------------------------------------------------------------

    /// Mirrors `Engine::login` with `ready = true` and `Engine::set_ready` (via
    /// `change_agent`): the agent becomes available and looks for a call.
    fn make_available(&self, a: AgentIx) {
        let changed = {
            let mut agent = self.agent(a);
            match agent.state {
                AgentState::LoggedOut | AgentState::NotReady => {}
                _ => return,
            }
            self.set_state(&mut agent, AgentState::Available)
        };
        self.finish_change(a, changed);
    }

    /// Mirrors `Engine::set_not_ready` (via `change_agent`): from available, not ready.
    fn set_not_ready(&self, a: AgentIx) {
        let changed = {
            let mut agent = self.agent(a);
            if !matches!(agent.state, AgentState::Available | AgentState::NotReady) {
                return; // IllegalTransition
            }
            self.set_state(&mut agent, AgentState::NotReady)
        };
        self.finish_change(a, changed);
    }

    /// Mirrors `Engine::logout`: a ringing offer is withdrawn (`end_offer` with the agent
    /// logged out), otherwise `change_agent` to logged out.
    fn logout(&self, a: AgentIx) {
        // `agent_kind`: a read with the entry released before acting on it.
        let kind = self.agent(a).state;
        match kind {
            AgentState::LoggedOut => {}
            AgentState::Reserved(_) => self.end_offer(a, None, AgentState::LoggedOut),
            AgentState::Available | AgentState::NotReady => {
                let changed = {
                    let mut agent = self.agent(a);
                    if !matches!(agent.state, AgentState::Available | AgentState::NotReady) {
                        return; // IllegalTransition
                    }
                    self.set_state(&mut agent, AgentState::LoggedOut)
                };
                self.finish_change(a, changed);
            }
        }
    }

    /// Mirrors `Engine::set_state`: returns the old period's index entries to retire and
    /// whether the agent should dispatch.
    fn set_state(&self, agent: &mut AgentEntry, next: AgentState) -> Changed {
        let unindex = (agent.state == AgentState::Available)
            .then(|| (agent.epoch, std::mem::take(&mut agent.indexed)));
        agent.state = next;
        agent.epoch += 1;
        Changed { unindex, dispatch: next == AgentState::Available }
    }

    /// Mirrors `Engine::finish_change`.
    fn finish_change(&self, a: AgentIx, changed: Changed) {
        if let Some((epoch, entries)) = changed.unindex {
            self.unindex(a, epoch, &entries, None);
        }
        if changed.dispatch {
            self.dispatch_agent(a);
        }
    }

    /// Mirrors `Engine::unindex`.
    fn unindex(
        &self,
        a: AgentIx,
        epoch: u64,
        entries: &[(QueueIx, AvailKey)],
        skip: Option<QueueIx>,
    ) {
        for (q, key) in entries.iter().filter(|(q, _)| Some(*q) != skip) {
            let mut qs = self.queue(*q);
            if qs.available.get(key).is_some_and(|i| i.agent == a && i.epoch == epoch) {
                qs.available.remove(key);
            }
        }
    }

    /// Mirrors `Engine::dispatch_agent`: with all member queues locked (ascending), take the
    /// best waiting call or join every member queue's index.
    fn dispatch_agent(&self, a: AgentIx) {
        let (epoch, membership) = {
            let agent = self.agent(a);
            if agent.state != AgentState::Available {
                return;
            }
            (agent.epoch, agent.membership.clone())
        };
        let mut guards: Vec<MutexGuard<'_, QueueState>> =
            membership.iter().map(|&q| self.queue(q)).collect();
        // The best call: here the lowest key over all member queues (the engine also weighs
        // effective priority, which does not change the protocol).
        let best = guards
            .iter()
            .enumerate()
            .filter_map(|(i, qs)| qs.waiting.iter().next().map(|(k, c)| (*k, i, *c)))
            .min();
        if let Some((key, i, call)) = best {
            let q = membership[i];
            let idx = Indexed { agent: a, epoch };
            match self.try_reserve(&idx, call) {
                TryReserve::Reserved { old_epoch, old_indexed } => {
                    guards[i].waiting.remove(&key);
                    self.set_location(call, Location::WithAgent(a));
                    drop(guards);
                    self.after_reservation(q, (a, old_epoch, old_indexed));
                }
                // The agent changed meanwhile; whoever changed it dispatches it.
                TryReserve::Stale => {}
            }
            return;
        }
        let keys: Vec<(QueueIx, AvailKey)> = membership.iter().map(|&q| (q, (a, epoch))).collect();
        for (guard, (_, key)) in guards.iter_mut().zip(&keys) {
            guard.available.insert(*key, Indexed { agent: a, epoch });
        }
        let kept = {
            let mut agent = self.agent(a);
            let current = agent.epoch == epoch && agent.state == AgentState::Available;
            if current {
                agent.indexed = keys.clone();
            }
            current
        };
        if !kept {
            for (guard, (_, key)) in guards.iter_mut().zip(&keys) {
                if guard.available.get(key).is_some_and(|i| i.agent == a && i.epoch == epoch) {
                    guard.available.remove(key);
                }
            }
        }
    }

    // --- reservation --------------------------------------------------------------------

    /// Mirrors `Engine::reserve_from_index` (the walk from the front; random and targeted
    /// starts choose a different first entry, not a different protocol).
    fn reserve_from_index(
        &self,
        _q: QueueIx,
        qs: &mut QueueState,
        c: CallIx,
    ) -> Option<Reservation> {
        let mut stale = Vec::new();
        let mut found = None;
        for (key, idx) in qs.available.iter() {
            match self.try_reserve(idx, c) {
                TryReserve::Reserved { old_epoch, old_indexed } => {
                    found = Some((*key, (idx.agent, old_epoch, old_indexed)));
                    break;
                }
                TryReserve::Stale => stale.push(*key),
            }
        }
        for key in stale {
            qs.available.remove(&key);
        }
        let (key, reservation) = found?;
        qs.available.remove(&key);
        Some(reservation)
    }

    /// Mirrors `Engine::try_reserve`: the check-and-set under the agent's entry.
    fn try_reserve(&self, idx: &Indexed, c: CallIx) -> TryReserve {
        let mut agent = self.agent(idx.agent);
        if agent.epoch != idx.epoch || agent.state != AgentState::Available {
            return TryReserve::Stale;
        }
        if self.protocol == Protocol::CheckThenSet {
            drop(agent);
            thread::yield_now();
            agent = self.agent(idx.agent);
        }
        let old_epoch = agent.epoch;
        let old_indexed = std::mem::take(&mut agent.indexed);
        agent.state = AgentState::Reserved(c);
        agent.epoch += 1;
        drop(agent);
        // The period the reservation claims is the one its check saw (`idx.epoch`); in the
        // engine's protocol that is also the one it ended.
        self.reservations.lock().expect("ledger").push((idx.agent, idx.epoch, c));
        TryReserve::Reserved { old_epoch, old_indexed }
    }

    /// Mirrors `Engine::after_reservation`: retire the agent's other index entries.
    fn after_reservation(&self, q: QueueIx, (a, old_epoch, old_indexed): Reservation) {
        self.unindex(a, old_epoch, &old_indexed, Some(q));
    }

    // --- the properties -----------------------------------------------------------------

    fn check(&self, created: &[CallIx]) {
        // 1. No agent offered two calls.
        let reservations = self.reservations.lock().expect("ledger").clone();
        for (i, (a, epoch, call)) in reservations.iter().enumerate() {
            if let Some((_, _, other)) =
                reservations[..i].iter().find(|(b, e, _)| b == a && e == epoch)
            {
                panic!(
                    "agent {a} offered two calls ({other} and {call}) in one availability \
                     period (epoch {epoch})"
                );
            }
        }
        // 2. Every call is in exactly one place, and its entry says where.
        for &c in created {
            let location = self.call(c).as_ref().map(|e| e.location);
            let in_queues: Vec<QueueIx> = (0..self.queues.len())
                .filter(|&q| self.queue(q).waiting.values().any(|&w| w == c))
                .collect();
            let with_agents: Vec<AgentIx> = (0..self.agents.len())
                .filter(|&a| self.agent(a).state == AgentState::Reserved(c))
                .collect();
            let place_count = in_queues.len() + with_agents.len();
            assert!(
                place_count == 1,
                "call {c} lost or duplicated: queued in {in_queues:?}, reserved by \
                 {with_agents:?}, location {location:?}"
            );
            match location {
                Some(Location::Queued) => assert_eq!(in_queues.len(), 1, "call {c}"),
                Some(Location::WithAgent(a)) => assert_eq!(with_agents, [a], "call {c}"),
                other => panic!("call {c} ended in location {other:?}"),
            }
        }
        // 3. No waiting call beside an available member agent, and available agents are
        //    indexed in every member queue for their current period.
        for a in 0..self.agents.len() {
            let (state, epoch, membership) = {
                let agent = self.agent(a);
                (agent.state, agent.epoch, agent.membership.clone())
            };
            if state != AgentState::Available {
                continue;
            }
            for q in membership {
                let qs = self.queue(q);
                assert!(
                    qs.waiting.is_empty(),
                    "agent {a} is available while calls {:?} wait in its queue {q}",
                    qs.waiting.values().collect::<Vec<_>>()
                );
                assert!(
                    qs.available.values().any(|i| i.agent == a && i.epoch == epoch),
                    "available agent {a} is missing from the index of queue {q}"
                );
            }
        }
    }
}

struct Changed {
    unindex: Option<(u64, Vec<(QueueIx, AvailKey)>)>,
    dispatch: bool,
}

/// One step of a thread's script.
#[derive(Clone, Copy, Debug)]
enum Op {
    Route(CallIx, QueueIx),
    Available(AgentIx),
    OfferFailed(CallIx),
    NotReady(AgentIx),
    Logout(AgentIx),
}

/// A scenario: agents (member queues each), setup steps run before the threads start, and one
/// script per thread.
struct Scenario {
    name: &'static str,
    agents: &'static [&'static [QueueIx]],
    queues: usize,
    setup: &'static [Op],
    threads: &'static [&'static [Op]],
}

static SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "a call arrives as its only agent logs in",
        agents: &[&[0]],
        queues: 1,
        setup: &[],
        threads: &[&[Op::Route(0, 0)], &[Op::Available(0)]],
    },
    Scenario {
        name: "two calls in two queues race for one agent in both",
        agents: &[&[0, 1]],
        queues: 2,
        setup: &[Op::Available(0)],
        threads: &[&[Op::Route(0, 0), Op::OfferFailed(0)], &[Op::Route(1, 1), Op::OfferFailed(1)]],
    },
    Scenario {
        name: "calls arrive while the agent logs in, out and in again",
        agents: &[&[0, 1]],
        queues: 2,
        setup: &[],
        threads: &[
            &[Op::Route(0, 0), Op::Route(1, 1)],
            &[Op::Available(0)],
            &[Op::Logout(0), Op::Available(0)],
        ],
    },
    Scenario {
        name: "a rejected offer and a logout race a new call",
        agents: &[&[0], &[0, 1]],
        queues: 2,
        setup: &[Op::Available(0), Op::Available(1), Op::Route(0, 0)],
        threads: &[
            &[Op::OfferFailed(0), Op::Route(2, 0)],
            &[Op::Logout(0), Op::Available(0)],
            &[Op::Route(1, 1), Op::Logout(1)],
        ],
    },
    Scenario {
        name: "two agents, three calls, every operation",
        agents: &[&[0, 1], &[1]],
        queues: 2,
        setup: &[Op::Route(0, 1)],
        threads: &[
            &[Op::Available(0), Op::OfferFailed(0), Op::Logout(0)],
            &[Op::Route(1, 0), Op::Available(1), Op::OfferFailed(1)],
            &[Op::Route(2, 1), Op::NotReady(1), Op::Logout(1), Op::Available(0)],
        ],
    },
];

fn run_ops(model: &Model, ops: &[Op]) {
    for op in ops {
        match *op {
            Op::Route(c, q) => model.route_call(c, q),
            Op::Available(a) => model.make_available(a),
            Op::OfferFailed(c) => model.offer_failed(c),
            Op::NotReady(a) => model.set_not_ready(a),
            Op::Logout(a) => model.logout(a),
        }
    }
}

/// One execution of a scenario under shuttle: set up, race the scripts, check.
fn execute(protocol: Protocol, scenario: &'static Scenario) {
    let model = Arc::new(Model::new(protocol, scenario.agents, 8, scenario.queues));
    run_ops(&model, scenario.setup);
    let handles: Vec<_> = scenario
        .threads
        .iter()
        .map(|ops| {
            let model = model.clone();
            thread::spawn(move || run_ops(&model, ops))
        })
        .collect();
    for handle in handles {
        handle.join().expect("model thread");
    }
    let mut created: Vec<CallIx> = scenario
        .setup
        .iter()
        .chain(scenario.threads.iter().flat_map(|t| t.iter()))
        .filter_map(|op| match op {
            Op::Route(c, _) => Some(*c),
            _ => None,
        })
        .collect();
    created.sort_unstable();
    created.dedup();
    model.check(&created);
}

/// Explores `scenario` with the random and the PCT scheduler; returns schedules explored.
fn explore(protocol: Protocol, scenario: &'static Scenario, iterations: usize) -> usize {
    use shuttle::scheduler::{PctScheduler, RandomScheduler};
    let random = shuttle::Runner::new(RandomScheduler::new(iterations), Default::default())
        .run(move || execute(protocol, scenario));
    let pct = shuttle::Runner::new(PctScheduler::new(PCT_DEPTH, iterations), Default::default())
        .run(move || execute(protocol, scenario));
    random + pct
}

#[test]
fn reservation_protocol_holds_in_every_explored_schedule() {
    let iterations = iterations();
    let mut total = 0;
    for scenario in SCENARIOS {
        let explored = explore(Protocol::Engine, scenario, iterations);
        println!("model check: {explored} schedules of \"{}\"", scenario.name);
        total += explored;
    }
    println!("model check: {total} schedules in all, every property held");
}

/// Small enough for exhaustive search: every interleaving of two threads racing for one agent.
/// The smallest scenario is small enough for exhaustive search: every interleaving.
#[test]
fn smallest_scenario_holds_in_every_interleaving() {
    for scenario in &SCENARIOS[..1] {
        let explored = shuttle::Runner::new(
            shuttle::scheduler::DfsScheduler::new(None, false),
            Default::default(),
        )
        .run(move || execute(Protocol::Engine, scenario));
        println!("model check: all {explored} schedules of \"{}\"", scenario.name);
        assert!(explored > 10, "the search explored only {explored} schedules");
    }
}

#[test]
#[should_panic(expected = "offered two calls")]
fn mutant_check_then_set_is_caught() {
    explore(Protocol::CheckThenSet, &SCENARIOS[1], iterations());
}

#[test]
#[should_panic(expected = "wait in its queue")]
fn mutant_unlocked_enqueue_is_caught() {
    explore(Protocol::UnlockedEnqueue, &SCENARIOS[0], iterations());
}
