//! A deterministic model check of the engine's reservation protocol with shuttle.
//!
//! The engine's agents and calls live in `DashMap`s whose shard locks shuttle cannot schedule,
//! so this is a faithful extraction rather than the engine itself: the same locks, taken in the
//! same order, around the same checks and writes, with everything that does not touch
//! reservation (counters, events, policies' key order, the missed-offers limit, which only
//! picks not ready instead of available) left out. Each model function names the `engine.rs`
//! function it mirrors; change it with the engine.
//!
//! Lock granularity is the engine's or finer: one mutex per agent entry and per call entry
//! (DashMap locks a shard holding several, which only serializes more: the engine never holds
//! one entry of a map while taking another of the same map), one per queue. The timer heap and
//! the checker's ledgers are leaf locks (nothing is taken under them, no thread waits on them
//! while holding another lock), kept as plain mutexes so that they add no scheduling points.
//!
//! Skills are one level per agent and a minimum level per call; a call may target one agent
//! (last-agent routing), have one escalation step (lower level, target dropped) and a wait
//! limit. Timers are kept in a list in scheduling order; `Advance(due)` fires, one at a time
//! as `Engine::advance` does, the timers of the kinds in `due` that were pending when it
//! started (the engine's deadlines, abstracted to which kinds are due).
//!
//! Properties, checked on every explored schedule:
//! 1. No agent is offered two calls: every reservation starts from a distinct availability
//!    period (agent, epoch) of that agent, and the agent meets the call's needs (its target,
//!    its level, or the escalated level once the escalation fired).
//! 2. No call is lost or duplicated: at the end every call is in exactly one place: waiting in
//!    one queue with its location `Queued`, the one call of exactly one agent (reserved or on
//!    call) with its location `WithAgent(that agent)`, or gone (ended, abandoned or handed
//!    back by its wait limit) exactly once with no entry left.
//! 3. No call and agent wait for each other: at the end no queue holds a waiting call that an
//!    available member agent meets the needs of, and available agents are indexed in every
//!    member queue.
//! 4. No deadlock: shuttle fails a schedule in which every thread is blocked, so the lock
//!    order (queues ascending, then agent, then call) is checked too.
//! 5. Every state has a way out: a reserved agent has a pending offer timeout and an agent in
//!    wrap-up a pending wrap-up end, both for its current epoch; so an offer that timed out
//!    released the agent and its call went back in line or to another agent (2).
//! 6. An answered call stays with its agent until it ends.
//! 7. No escalation is lost: a call whose escalation fired and that is still held has the
//!    escalated needs in its entry and, if it waits, in its queue.
//! 8. No wait limit is lost: a call whose wait limit fired and that is still held is on a
//!    call, or rings an agent marked to leave when it comes back, or waits with a pending
//!    queue timeout.
//!
//! Threads race route-call (plain, targeted, escalating, with a wait limit), agent-available
//! (login, ready), not-ready, logout, answer, hang-up, call end, offer-failed and the timers
//! (offer timeout, wrap-up end, queue wait limit, escalation). Schedules come from shuttle's
//! random scheduler and its PCT scheduler (depth 3), seeded with [`DEFAULT_SEED`] so that a
//! normal run is reproducible; the number per scenario is `SWITCHBOARD_MODEL_ITERATIONS`
//! (default [`DEFAULT_ITERATIONS`]; setting it also draws a fresh seed). Mutants of the protocol
//! show that the checker catches what it claims to: a non-atomic check-then-set reservation, a
//! queue lock released between looking for an agent and enqueueing, an offer timeout, a
//! wrap-up end, an answer or a hang-up that acts on a state it checked under a lock it let go,
//! a targeted call that looks up its agent before taking the queue lock, a requeue that reads
//! the call's needs before taking the queue lock, and the engine before the fix for timers
//! that fall due while the call rings (an escalation or wait limit that found the call with an
//! agent did nothing, so the call came back with its old needs and no limit).

use std::collections::BTreeMap;
use std::sync::Arc;

use shuttle::sync::{Mutex, MutexGuard};
use shuttle::thread;

/// Schedules per scenario and scheduler in a normal `cargo test`.
const DEFAULT_ITERATIONS: usize = 1_000;

/// PCT depth: bugs needing up to two forced preemptions are found with known probability.
const PCT_DEPTH: usize = 3;

/// Seed of the random and PCT schedulers in a normal `cargo test`, so the run is reproducible.
const DEFAULT_SEED: u64 = 0x5eed_0010;

/// The schedulers' seed: [`DEFAULT_SEED`], or a fresh one when `SWITCHBOARD_MODEL_ITERATIONS`
/// asks for a long run, so long runs explore new schedules (`SHUTTLE_RANDOM_SEED`, which
/// shuttle reads, overrides both; a failure prints the schedule to replay).
fn seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    if std::env::var_os("SWITCHBOARD_MODEL_ITERATIONS").is_some() {
        std::collections::hash_map::RandomState::new().build_hasher().finish()
    } else {
        DEFAULT_SEED
    }
}

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
    OnCall(CallIx),
    WrapUp,
}

struct AgentEntry {
    state: AgentState,
    /// Bumped on every state change, like `AgentEntry::epoch`.
    epoch: u64,
    /// The agent's level in the one skill calls ask for.
    level: u8,
    /// Member queues, ascending (the lock order), like `AgentEntry::membership`.
    membership: Vec<QueueIx>,
    /// Index entries of the current availability period, like `AgentEntry::indexed`.
    indexed: Vec<(QueueIx, AvailKey)>,
}

/// What an agent needs to take a call, like `Needs`: a level, and maybe being the one agent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Needs {
    level: u8,
    agent: Option<AgentIx>,
}

impl Needs {
    /// Mirrors `Needs::admit`.
    fn admit(&self, agent: AgentIx, level: u8) -> bool {
        self.agent.is_none_or(|only| only == agent) && level >= self.level
    }
}

/// What a call asks for when it is routed (`NewCall`'s skills, target, escalation, limit).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct CallSpec {
    level: u8,
    target: Option<AgentIx>,
    /// The one escalation step: the level from then on (the target is dropped).
    escalate_to: Option<u8>,
    /// Whether the call has a wait limit (`max_wait`).
    wait_limit: bool,
}

const PLAIN: CallSpec = CallSpec { level: 1, target: None, escalate_to: None, wait_limit: false };

impl CallSpec {
    fn needs(&self) -> Needs {
        Needs { level: self.level, agent: self.target }
    }

    fn escalated(&self) -> Option<Needs> {
        self.escalate_to.map(|level| Needs { level, agent: None })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Location {
    Routing,
    Queued,
    WithAgent(AgentIx),
}

struct CallEntry {
    spec: CallSpec,
    queue: QueueIx,
    /// Place in line (`WaitKey`), kept when an offer fails.
    key: u64,
    needs: Needs,
    location: Location,
    /// Like `CallEntry::wait_expired`: the wait limit passed while the call was with an agent.
    wait_expired: bool,
}

/// A successful check-and-set, like the engine's `Reservation`.
struct Reservation {
    agent: AgentIx,
    /// The agent's epoch now (the offer timer's).
    epoch: u64,
    /// The availability period it ended and that period's index entries (to retire).
    old_epoch: u64,
    old_indexed: Vec<(QueueIx, AvailKey)>,
}

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
    /// Waiting calls by key, with their needs (`Waiting`).
    waiting: BTreeMap<u64, (CallIx, Needs)>,
    available: BTreeMap<AvailKey, Indexed>,
}

/// Like `TimerKind`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Timer {
    OfferTimeout { agent: AgentIx, epoch: u64 },
    WrapUpEnd { agent: AgentIx, epoch: u64 },
    QueueTimeout { call: CallIx, queue: QueueIx, key: u64 },
    Escalate { call: CallIx, queue: QueueIx, key: u64 },
}

/// Kinds of timers an `Advance` fires.
const OFFER: u8 = 1;
const WRAP: u8 = 2;
const WAIT: u8 = 4;
const ESCALATE: u8 = 8;

impl Timer {
    fn kind(&self) -> u8 {
        match self {
            Timer::OfferTimeout { .. } => OFFER,
            Timer::WrapUpEnd { .. } => WRAP,
            Timer::QueueTimeout { .. } => WAIT,
            Timer::Escalate { .. } => ESCALATE,
        }
    }
}

/// How a call left the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Departure {
    Ended,
    Abandoned,
    TimedOut,
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
    /// Mutant: the offer timeout checks the agent's epoch, releases the entry, then takes it
    /// again and ends the offer without looking.
    OfferTimeoutCheckThenAct,
    /// Mutant: the wrap-up end checks the agent, releases the entry, then takes it again and
    /// makes the agent available without looking.
    WrapUpCheckThenAct,
    /// Mutant: `call_answered` trusts the location it read and does not check that the agent
    /// is still reserved for the call.
    AnswerUnchecked,
    /// Mutant: `call_abandoned` trusts the location it read and does not check that the agent
    /// is still reserved for the call.
    AbandonUnchecked,
    /// Mutant: a targeted call looks up its agent's index entry before taking the queue lock.
    TargetLookedUpEarly,
    /// Mutant: `requeue` reads the call's needs and wait mark before taking the queue lock.
    RequeueReadsEarly,
    /// The engine before the fix: an escalation that finds the call with an agent does nothing.
    EscalationSkipsOffered,
    /// The engine before the fix: a wait limit that finds the call with an agent does nothing.
    WaitLimitSkipsOffered,
}

/// The checker's records; leaf locks, see the header.
#[derive(Default)]
struct Ledger {
    /// Every reservation made: (agent, epoch of the period it claimed, call, agent's level).
    reservations: Vec<(AgentIx, u64, CallIx, u8)>,
    /// Every timer fired.
    fired: Vec<Timer>,
    /// Every call that left the engine.
    departed: Vec<(CallIx, Departure)>,
    /// Every answer: (call, agent).
    answered: Vec<(CallIx, AgentIx)>,
}

struct Model {
    protocol: Protocol,
    agents: Vec<Mutex<AgentEntry>>,
    calls: Vec<Mutex<Option<CallEntry>>>,
    queues: Vec<Mutex<QueueState>>,
    /// Pending timers in scheduling order, with their sequence number (`Shared::timers`).
    timers: std::sync::Mutex<(u64, Vec<(u64, Timer)>)>,
    ledger: std::sync::Mutex<Ledger>,
}

enum TryReserve {
    Reserved(Reservation),
    Stale,
    NotQualified,
}

/// Which offers `end_offer` may end: like its `matches` closure.
#[derive(Clone, Copy)]
enum OfferMatch {
    Call(CallIx),
    Epoch(u64),
    Any,
}

impl Model {
    fn new(protocol: Protocol, agents: &[AgentSpec], calls: usize, queues: usize) -> Model {
        Model {
            protocol,
            agents: agents
                .iter()
                .map(|&(membership, level)| {
                    Mutex::new(AgentEntry {
                        state: AgentState::LoggedOut,
                        epoch: 0,
                        level,
                        membership: membership.to_vec(),
                        indexed: Vec::new(),
                    })
                })
                .collect(),
            calls: (0..calls).map(|_| Mutex::new(None)).collect(),
            queues: (0..queues).map(|_| Mutex::new(QueueState::default())).collect(),
            timers: std::sync::Mutex::new((0, Vec::new())),
            ledger: std::sync::Mutex::new(Ledger::default()),
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

    fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger.lock().expect("ledger")
    }

    /// Mirrors `Engine::schedule`.
    fn schedule(&self, timer: Timer) {
        let mut timers = self.timers.lock().expect("timers");
        let seq = timers.0;
        timers.0 += 1;
        timers.1.push((seq, timer));
    }

    // --- calls --------------------------------------------------------------------------

    /// Mirrors `Engine::route_call`.
    fn route_call(&self, c: CallIx, q: QueueIx, spec: CallSpec) {
        let needs = spec.needs();
        {
            // `calls.entry(id)`: a duplicate is refused; otherwise the entry starts `Routing`.
            let mut slot = self.call(c);
            if slot.is_some() {
                return;
            }
            *slot = Some(CallEntry {
                spec,
                queue: q,
                key: c as u64,
                needs,
                location: Location::Routing,
                wait_expired: false,
            });
        }
        let early = (self.protocol == Protocol::TargetLookedUpEarly)
            .then(|| needs.agent.map(|t| self.target_key(t, q)));
        let mut qs = self.queue(q);
        if let Some(r) = self.reserve_from_index_with(q, &mut qs, c, needs, early) {
            self.set_location(c, Location::WithAgent(r.agent));
            drop(qs);
            self.after_reservation(q, r);
            return;
        }
        if self.protocol == Protocol::UnlockedEnqueue {
            drop(qs);
            thread::yield_now();
            qs = self.queue(q);
        }
        qs.waiting.insert(c as u64, (c, needs));
        self.set_location(c, Location::Queued);
        drop(qs);
        if spec.wait_limit {
            self.schedule(Timer::QueueTimeout { call: c, queue: q, key: c as u64 });
        }
        if spec.escalate_to.is_some() {
            self.schedule(Timer::Escalate { call: c, queue: q, key: c as u64 });
        }
    }

    /// Mirrors `Engine::call_answered`.
    fn call_answered(&self, c: CallIx) {
        // `call_parts`: read where the call is, entry released.
        let Some(Location::WithAgent(a)) = self.call(c).as_ref().map(|e| e.location) else {
            return;
        };
        {
            let mut agent = self.agent(a);
            let reserved_for_it = agent.state == AgentState::Reserved(c);
            if !reserved_for_it && self.protocol != Protocol::AnswerUnchecked {
                return; // CallStateMismatch
            }
            agent.state = AgentState::OnCall(c);
            agent.epoch += 1;
        }
        self.ledger().answered.push((c, a));
    }

    /// Mirrors `Engine::call_ended` (the queue has a wrap-up).
    fn call_ended(&self, c: CallIx) {
        let Some(Location::WithAgent(a)) = self.call(c).as_ref().map(|e| e.location) else {
            return;
        };
        let (changed, epoch) = {
            let mut agent = self.agent(a);
            if agent.state != AgentState::OnCall(c) {
                return; // CallStateMismatch
            }
            let changed = self.set_state(&mut agent, AgentState::WrapUp);
            (changed, agent.epoch)
        };
        *self.call(c) = None;
        self.ledger().departed.push((c, Departure::Ended));
        self.schedule(Timer::WrapUpEnd { agent: a, epoch });
        self.finish_change(a, changed);
    }

    /// Mirrors `Engine::call_abandoned`: the caller hangs up, queued or ringing.
    fn call_abandoned(&self, c: CallIx) {
        // A queued call can be offered between reading its location and locking its queue.
        for _ in 0..3 {
            let Some((q, location)) = self.call(c).as_ref().map(|e| (e.queue, e.location)) else {
                return; // UnknownCall
            };
            match location {
                Location::Queued => {
                    if self.remove_waiting(c, q) {
                        self.ledger().departed.push((c, Departure::Abandoned));
                        return;
                    }
                }
                Location::WithAgent(a) => {
                    let changed = {
                        let mut agent = self.agent(a);
                        match agent.state {
                            AgentState::Reserved(x) if x == c => {}
                            AgentState::OnCall(x) if x == c => return, // report it ended
                            _ if self.protocol == Protocol::AbandonUnchecked => {}
                            _ => continue,
                        }
                        self.set_state(&mut agent, AgentState::Available)
                    };
                    *self.call(c) = None;
                    self.ledger().departed.push((c, Departure::Abandoned));
                    self.finish_change(a, changed);
                    return;
                }
                Location::Routing => return, // still being routed
            }
        }
    }

    /// Mirrors `Engine::remove_waiting`: under the queue lock, the call's entry and its line.
    fn remove_waiting(&self, c: CallIx, q: QueueIx) -> bool {
        let mut qs = self.queue(q);
        let key = {
            let slot = self.call(c);
            match slot.as_ref() {
                Some(e) if e.location == Location::Queued && e.queue == q => e.key,
                _ => return false,
            }
        };
        if qs.waiting.remove(&key).is_none() {
            return false;
        }
        *self.call(c) = None;
        true
    }

    /// Mirrors `Engine::offer_failed` (rejected: the agent becomes available again).
    fn offer_failed(&self, c: CallIx) {
        // `call_parts`: read where the call is, entry released.
        let Some(Location::WithAgent(a)) = self.call(c).as_ref().map(|e| e.location) else {
            return;
        };
        self.end_offer(a, OfferMatch::Call(c), AgentState::Available);
    }

    /// Mirrors `Engine::end_offer`: ends the agent's offer that matches, puts the call back
    /// in line and lets the agent go on in `next`.
    fn end_offer(&self, a: AgentIx, matches: OfferMatch, next: AgentState) {
        let (call, changed) = {
            let mut agent = self.agent(a);
            let call = match (agent.state, matches) {
                (AgentState::Reserved(call), OfferMatch::Call(c)) if c == call => call,
                (AgentState::Reserved(call), OfferMatch::Epoch(e)) if e == agent.epoch => call,
                (AgentState::Reserved(call), OfferMatch::Any) => call,
                _ => return, // IllegalTransition
            };
            if self.protocol == Protocol::OfferTimeoutCheckThenAct
                && matches!(matches, OfferMatch::Epoch(_))
            {
                drop(agent);
                thread::yield_now();
                agent = self.agent(a);
            }
            (call, self.set_state(&mut agent, next))
        };
        self.requeue(call);
        self.finish_change(a, changed);
    }

    /// Mirrors `Engine::requeue`: offers the call to another available agent first, else puts
    /// it back at its old place in line (and hands it back at once if its wait limit passed
    /// while it was with the agent).
    fn requeue(&self, c: CallIx) {
        let read = |entry: &Option<CallEntry>| {
            entry.as_ref().map(|e| (e.queue, e.key, e.needs, e.wait_expired))
        };
        let early = read(&self.call(c));
        let Some((q, ..)) = early else { return };
        let mut qs = self.queue(q);
        let now =
            if self.protocol == Protocol::RequeueReadsEarly { early } else { read(&self.call(c)) };
        let Some((_, key, needs, wait_expired)) = now else { return };
        if let Some(r) = self.reserve_from_index(q, &mut qs, c, needs) {
            self.set_location(c, Location::WithAgent(r.agent));
            drop(qs);
            self.after_reservation(q, r);
            return;
        }
        qs.waiting.insert(key, (c, needs));
        self.set_location(c, Location::Queued);
        drop(qs);
        if wait_expired {
            self.schedule(Timer::QueueTimeout { call: c, queue: q, key });
        }
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
                AgentState::LoggedOut | AgentState::NotReady | AgentState::WrapUp => {}
                _ => return,
            }
            self.set_state(&mut agent, AgentState::Available)
        };
        self.finish_change(a, changed);
    }

    /// Mirrors `Engine::set_not_ready` (via `change_agent`).
    fn set_not_ready(&self, a: AgentIx) {
        let changed = {
            let mut agent = self.agent(a);
            if !matches!(
                agent.state,
                AgentState::Available | AgentState::NotReady | AgentState::WrapUp
            ) {
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
            AgentState::Reserved(_) => self.end_offer(a, OfferMatch::Any, AgentState::LoggedOut),
            _ => {
                let changed = {
                    let mut agent = self.agent(a);
                    if !matches!(
                        agent.state,
                        AgentState::Available | AgentState::NotReady | AgentState::WrapUp
                    ) {
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
    /// best waiting call the agent meets the needs of, or join every member queue's index.
    fn dispatch_agent(&self, a: AgentIx) {
        let (epoch, level, membership) = {
            let agent = self.agent(a);
            if agent.state != AgentState::Available {
                return;
            }
            (agent.epoch, agent.level, agent.membership.clone())
        };
        let mut guards: Vec<MutexGuard<'_, QueueState>> =
            membership.iter().map(|&q| self.queue(q)).collect();
        // The best call: here the lowest key over all member queues (the engine also weighs
        // effective priority, which does not change the protocol).
        let best = guards
            .iter()
            .enumerate()
            .filter_map(|(i, qs)| {
                qs.waiting
                    .iter()
                    .find(|(_, (_, needs))| needs.admit(a, level))
                    .map(|(k, &(c, needs))| (*k, i, c, needs))
            })
            .min_by_key(|&(k, ..)| k);
        if let Some((key, i, call, needs)) = best {
            let q = membership[i];
            let idx = Indexed { agent: a, epoch };
            match self.try_reserve(&idx, call, needs) {
                TryReserve::Reserved(r) => {
                    guards[i].waiting.remove(&key);
                    self.set_location(call, Location::WithAgent(a));
                    drop(guards);
                    self.after_reservation(q, r);
                }
                // The agent changed meanwhile; whoever changed it dispatches it.
                TryReserve::Stale | TryReserve::NotQualified => {}
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

    // --- timers -------------------------------------------------------------------------

    /// Mirrors `Engine::advance`: pops one due timer at a time (the heap's lock released
    /// before firing it) and fires it.
    fn advance(&self, due: u8) {
        let pending_at_start = self.timers.lock().expect("timers").0;
        loop {
            let timer = {
                let mut timers = self.timers.lock().expect("timers");
                let position = timers
                    .1
                    .iter()
                    .position(|(seq, t)| *seq < pending_at_start && t.kind() & due != 0);
                position.map(|i| timers.1.remove(i).1)
            };
            let Some(timer) = timer else { return };
            self.ledger().fired.push(timer);
            match timer {
                // The offer may have been answered or ended meanwhile: then the epoch moved on.
                Timer::OfferTimeout { agent, epoch } => {
                    self.end_offer(agent, OfferMatch::Epoch(epoch), AgentState::Available)
                }
                Timer::WrapUpEnd { agent, epoch } => self.wrap_up_end(agent, epoch),
                Timer::Escalate { call, queue, key } => self.escalate(call, queue, key),
                Timer::QueueTimeout { call, queue, key } => self.queue_timeout(call, queue, key),
            }
        }
    }

    /// Mirrors the `TimerKind::WrapUpEnd` arm of `Engine::advance`.
    fn wrap_up_end(&self, a: AgentIx, epoch: u64) {
        let changed = {
            let mut agent = self.agent(a);
            if !(agent.epoch == epoch && agent.state == AgentState::WrapUp) {
                return;
            }
            if self.protocol == Protocol::WrapUpCheckThenAct {
                drop(agent);
                thread::yield_now();
                agent = self.agent(a);
            }
            self.set_state(&mut agent, AgentState::Available)
        };
        self.finish_change(a, changed);
    }

    /// Mirrors the `TimerKind::QueueTimeout` arm of `Engine::advance`: a call still waiting
    /// under `key` leaves (handed back to its plan); one with an agent is marked, under the
    /// queue lock, for `requeue` to hand back.
    fn queue_timeout(&self, c: CallIx, q: QueueIx, key: u64) {
        let removed = {
            let mut qs = self.queue(q);
            match qs.waiting.get(&key) {
                Some(&(w, _)) if w == c => qs.waiting.remove(&key).is_some(),
                _ => {
                    if self.protocol != Protocol::WaitLimitSkipsOffered {
                        if let Some(e) = self.call(c).as_mut() {
                            if e.queue == q && e.key == key {
                                e.wait_expired = true;
                            }
                        }
                    }
                    false
                }
            }
        };
        if removed && self.call(c).take().is_some() {
            self.ledger().departed.push((c, Departure::TimedOut));
        }
    }

    /// Mirrors `Engine::escalate`: under the queue lock, the call's needs widen in its entry
    /// and, if it waits, in line, where it is offered at once if an agent now qualifies.
    fn escalate(&self, c: CallIx, q: QueueIx, key: u64) {
        let mut qs = self.queue(q);
        let waiting_here = qs.waiting.get(&key).is_some_and(|&(w, _)| w == c);
        if self.protocol == Protocol::EscalationSkipsOffered && !waiting_here {
            return;
        }
        let spec = self.call(c).as_ref().filter(|e| e.queue == q && e.key == key).map(|e| e.spec);
        let Some(needs) = spec.and_then(|s| s.escalated()) else { return };
        if let Some(e) = self.call(c).as_mut() {
            e.needs = needs;
        }
        if !waiting_here {
            return;
        }
        if let Some(r) = self.reserve_from_index(q, &mut qs, c, needs) {
            qs.waiting.remove(&key);
            self.set_location(c, Location::WithAgent(r.agent));
            drop(qs);
            self.after_reservation(q, r);
        } else if let Some(w) = qs.waiting.get_mut(&key) {
            w.1 = needs;
        }
    }

    // --- reservation --------------------------------------------------------------------

    /// The index key of `target`'s entry in queue `q`, read from the agent
    /// (`AgentEntry::indexed`), as the targeted path of `reserve_from_index` does.
    fn target_key(&self, target: AgentIx, q: QueueIx) -> Option<AvailKey> {
        self.agent(target).indexed.iter().find(|(queue, _)| *queue == q).map(|(_, k)| *k)
    }

    fn reserve_from_index(
        &self,
        q: QueueIx,
        qs: &mut QueueState,
        c: CallIx,
        needs: Needs,
    ) -> Option<Reservation> {
        self.reserve_from_index_with(q, qs, c, needs, None)
    }

    /// Mirrors `Engine::reserve_from_index`: a targeted call looks up its one agent's entry
    /// through the agent; any other walks the index from the front (random starts choose a
    /// different first entry, not a different protocol). `early` is the target's key as the
    /// `TargetLookedUpEarly` mutant read it before the queue lock.
    fn reserve_from_index_with(
        &self,
        q: QueueIx,
        qs: &mut QueueState,
        c: CallIx,
        needs: Needs,
        early: Option<Option<Option<AvailKey>>>,
    ) -> Option<Reservation> {
        if let Some(target) = needs.agent {
            let key = match early {
                Some(Some(key)) => key,
                _ => self.target_key(target, q),
            }?;
            let idx = *qs.available.get(&key)?;
            return match self.try_reserve(&idx, c, needs) {
                TryReserve::Reserved(r) => {
                    qs.available.remove(&key);
                    Some(r)
                }
                TryReserve::Stale => {
                    qs.available.remove(&key);
                    None
                }
                TryReserve::NotQualified => None,
            };
        }
        let mut stale = Vec::new();
        let mut found = None;
        for (key, idx) in qs.available.iter() {
            match self.try_reserve(idx, c, needs) {
                TryReserve::Reserved(r) => {
                    found = Some((*key, r));
                    break;
                }
                TryReserve::Stale => stale.push(*key),
                TryReserve::NotQualified => {}
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
    fn try_reserve(&self, idx: &Indexed, c: CallIx, needs: Needs) -> TryReserve {
        let mut agent = self.agent(idx.agent);
        if agent.epoch != idx.epoch || agent.state != AgentState::Available {
            return TryReserve::Stale;
        }
        if !needs.admit(idx.agent, agent.level) {
            return TryReserve::NotQualified;
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
        let (epoch, level) = (agent.epoch, agent.level);
        drop(agent);
        // The period the reservation claims is the one its check saw (`idx.epoch`); in the
        // engine's protocol that is also the one it ended.
        self.ledger().reservations.push((idx.agent, idx.epoch, c, level));
        TryReserve::Reserved(Reservation { agent: idx.agent, epoch, old_epoch, old_indexed })
    }

    /// Mirrors `Engine::after_reservation`: retire the agent's other index entries and arm
    /// the offer timer.
    fn after_reservation(&self, q: QueueIx, r: Reservation) {
        self.unindex(r.agent, r.old_epoch, &r.old_indexed, Some(q));
        self.schedule(Timer::OfferTimeout { agent: r.agent, epoch: r.epoch });
    }

    // --- the properties -----------------------------------------------------------------

    fn check(&self, created: &[(CallIx, CallSpec)]) {
        let ledger = std::mem::take(&mut *self.ledger());
        let pending: Vec<Timer> =
            self.timers.lock().expect("timers").1.iter().map(|(_, t)| *t).collect();
        let escalation_fired = |c: CallIx| {
            ledger.fired.iter().any(|t| matches!(t, Timer::Escalate { call, .. } if *call == c))
        };
        let spec_of = |c: CallIx| created.iter().find(|(x, _)| *x == c).map(|(_, s)| *s);
        // 1. No agent offered two calls, nor one whose needs it does not meet.
        for (i, &(a, epoch, call, level)) in ledger.reservations.iter().enumerate() {
            if let Some((_, _, other, _)) =
                ledger.reservations[..i].iter().find(|(b, e, ..)| *b == a && *e == epoch)
            {
                panic!(
                    "agent {a} offered two calls ({other} and {call}) in one availability \
                     period (epoch {epoch})"
                );
            }
            let spec = spec_of(call).expect("a created call");
            let escalated = spec.escalated().filter(|_| escalation_fired(call));
            assert!(
                spec.needs().admit(a, level) || escalated.is_some_and(|n| n.admit(a, level)),
                "call {call} reserved by agent {a}, whose needs it excludes ({spec:?})"
            );
        }
        // 2. Every call is in exactly one place, and its entry says where.
        for &(c, spec) in created {
            let entry = self.call(c).as_ref().map(|e| (e.location, e.needs, e.wait_expired));
            let location = entry.map(|e| e.0);
            let in_queues: Vec<(QueueIx, Needs)> = (0..self.queues.len())
                .filter_map(|q| {
                    let qs = self.queue(q);
                    qs.waiting.values().find(|(w, _)| *w == c).map(|(_, n)| (q, *n))
                })
                .collect();
            let with_agents: Vec<(AgentIx, AgentState)> = (0..self.agents.len())
                .map(|a| (a, self.agent(a).state))
                .filter(|(_, s)| matches!(s, AgentState::Reserved(x) | AgentState::OnCall(x) if *x == c))
                .collect();
            let departures: Vec<Departure> =
                ledger.departed.iter().filter(|(x, _)| *x == c).map(|(_, d)| *d).collect();
            let place_count = in_queues.len() + with_agents.len() + departures.len();
            assert!(
                place_count == 1,
                "call {c} lost or duplicated: queued in {in_queues:?}, with agents \
                 {with_agents:?}, departed {departures:?}, location {location:?}"
            );
            match location {
                Some(Location::Queued) => assert_eq!(in_queues.len(), 1, "call {c}"),
                Some(Location::WithAgent(a)) => {
                    assert_eq!(with_agents.iter().map(|w| w.0).collect::<Vec<_>>(), [a], "call {c}")
                }
                None => assert_eq!(departures.len(), 1, "call {c} lost: no entry"),
                other => panic!("call {c} ended in location {other:?}"),
            }
            // 6. An answered call stays with its agent until it ends.
            for &(_, a) in ledger.answered.iter().filter(|(x, _)| *x == c) {
                let on_call = with_agents == [(a, AgentState::OnCall(c))];
                assert!(
                    on_call || departures == [Departure::Ended],
                    "answered call {c} left agent {a}: with {with_agents:?}, queued in \
                     {in_queues:?}, departed {departures:?}"
                );
            }
            let Some((_, needs, wait_expired)) = entry else { continue };
            // 7. No escalation lost.
            if let Some(escalated) = spec.escalated().filter(|_| escalation_fired(c)) {
                assert!(
                    needs == escalated && in_queues.iter().all(|(_, n)| *n == escalated),
                    "escalation lost: call {c} escalated to {escalated:?} but has needs \
                     {needs:?}, queued with {in_queues:?}"
                );
            }
            // 8. No wait limit lost.
            let limit_fired = ledger
                .fired
                .iter()
                .any(|t| matches!(t, Timer::QueueTimeout { call, .. } if *call == c));
            if limit_fired {
                let ok = match (location, with_agents.first()) {
                    (_, Some((_, AgentState::OnCall(_)))) => true,
                    (_, Some((_, AgentState::Reserved(_)))) => wait_expired,
                    (Some(Location::Queued), _) => pending
                        .iter()
                        .any(|t| matches!(t, Timer::QueueTimeout { call, .. } if *call == c)),
                    _ => false,
                };
                assert!(
                    ok,
                    "wait limit lost: call {c}'s limit passed, it is at {location:?} with \
                     {with_agents:?}, marked {wait_expired}, and nothing will hand it back"
                );
            }
        }
        for a in 0..self.agents.len() {
            let (state, epoch, level, membership) = {
                let agent = self.agent(a);
                (agent.state, agent.epoch, agent.level, agent.membership.clone())
            };
            // 5. Every state has a way out.
            let way_out = match state {
                AgentState::Reserved(_) => Some(Timer::OfferTimeout { agent: a, epoch }),
                AgentState::WrapUp => Some(Timer::WrapUpEnd { agent: a, epoch }),
                _ => None,
            };
            if let Some(timer) = way_out {
                assert!(
                    pending.contains(&timer),
                    "agent {a} is {state:?} at epoch {epoch} with no timer to end it"
                );
            }
            // 3. No waiting call beside an available member agent who meets its needs, and
            //    available agents are indexed in every member queue for their current period.
            if state != AgentState::Available {
                continue;
            }
            for q in membership {
                let qs = self.queue(q);
                let takeable: Vec<CallIx> = qs
                    .waiting
                    .values()
                    .filter(|(_, needs)| needs.admit(a, level))
                    .map(|(c, _)| *c)
                    .collect();
                assert!(
                    takeable.is_empty(),
                    "agent {a} is available while calls {takeable:?} it can take wait in its \
                     queue {q}"
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
    /// A plain call.
    Route(CallIx, QueueIx),
    RouteWith(CallIx, QueueIx, CallSpec),
    Available(AgentIx),
    OfferFailed(CallIx),
    NotReady(AgentIx),
    Logout(AgentIx),
    Answer(CallIx),
    End(CallIx),
    Abandon(CallIx),
    /// Fires the pending timers of these kinds.
    Advance(u8),
}

/// An agent: member queues and level.
type AgentSpec = (&'static [QueueIx], u8);

/// A scenario: agents, setup steps run before the threads start, and one script per thread.
struct Scenario {
    name: &'static str,
    agents: &'static [AgentSpec],
    queues: usize,
    setup: &'static [Op],
    threads: &'static [&'static [Op]],
}

/// Call 0 of the timer scenarios: needs level 5, widened to level 1, with a wait limit.
const ESCALATING: CallSpec =
    CallSpec { level: 5, target: None, escalate_to: Some(1), wait_limit: true };

/// A last-agent call for agent 0.
const FOR_AGENT_0: CallSpec =
    CallSpec { level: 1, target: Some(0), escalate_to: None, wait_limit: false };

/// A last-agent call for agent 0, freed to anyone by its escalation.
const FOR_AGENT_0_THEN_ANY: CallSpec =
    CallSpec { level: 1, target: Some(0), escalate_to: Some(1), wait_limit: false };

static SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "a call arrives as its only agent logs in",
        agents: &[(&[0], 1)],
        queues: 1,
        setup: &[],
        threads: &[&[Op::Route(0, 0)], &[Op::Available(0)]],
    },
    Scenario {
        name: "two calls in two queues race for one agent in both",
        agents: &[(&[0, 1], 1)],
        queues: 2,
        setup: &[Op::Available(0)],
        threads: &[&[Op::Route(0, 0), Op::OfferFailed(0)], &[Op::Route(1, 1), Op::OfferFailed(1)]],
    },
    Scenario {
        name: "calls arrive while the agent logs in, out and in again",
        agents: &[(&[0, 1], 1)],
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
        agents: &[(&[0], 1), (&[0, 1], 1)],
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
        agents: &[(&[0, 1], 1), (&[1], 1)],
        queues: 2,
        setup: &[Op::Route(0, 1)],
        threads: &[
            &[Op::Available(0), Op::OfferFailed(0), Op::Logout(0)],
            &[Op::Route(1, 0), Op::Available(1), Op::OfferFailed(1)],
            &[Op::Route(2, 1), Op::NotReady(1), Op::Logout(1), Op::Available(0)],
        ],
    },
    Scenario {
        name: "an offer times out as the agent answers and the caller hangs up",
        agents: &[(&[0], 1), (&[0], 1)],
        queues: 1,
        setup: &[Op::Available(0), Op::Route(0, 0)],
        threads: &[
            &[Op::Advance(OFFER)],
            &[Op::Answer(0), Op::End(0)],
            &[Op::Available(1), Op::Abandon(0)],
        ],
    },
    Scenario {
        name: "wrap-up ends as the agent goes ready and a call arrives",
        agents: &[(&[0], 1)],
        queues: 1,
        setup: &[Op::Available(0), Op::Route(0, 0), Op::Answer(0), Op::End(0)],
        threads: &[&[Op::Advance(WRAP)], &[Op::Available(0), Op::NotReady(0)], &[Op::Route(1, 0)]],
    },
    Scenario {
        name: "an escalation and a wait limit fall due while the call rings",
        agents: &[(&[0], 5), (&[0], 1)],
        queues: 1,
        setup: &[Op::RouteWith(0, 0, ESCALATING), Op::Available(0), Op::Available(1)],
        threads: &[
            &[Op::Advance(ESCALATE | WAIT)],
            &[Op::Advance(OFFER), Op::Logout(0)],
            &[Op::NotReady(1), Op::Available(1)],
        ],
    },
    Scenario {
        name: "an escalation and a rejected offer race while the level-5 agent rings",
        agents: &[(&[0], 5), (&[0], 1)],
        queues: 1,
        setup: &[Op::RouteWith(0, 0, ESCALATING), Op::Available(0), Op::Available(1)],
        threads: &[&[Op::Advance(ESCALATE | WAIT)], &[Op::OfferFailed(0)]],
    },
    Scenario {
        name: "a last-agent call arrives as its agent comes free",
        agents: &[(&[0], 1), (&[0], 1)],
        queues: 1,
        setup: &[Op::Available(1)],
        threads: &[&[Op::RouteWith(0, 0, FOR_AGENT_0)], &[Op::Available(0)]],
    },
    Scenario {
        name: "a last-agent call escalates as its agent comes and goes",
        agents: &[(&[0], 1), (&[0], 1)],
        queues: 1,
        setup: &[Op::Available(1)],
        threads: &[
            &[Op::RouteWith(0, 0, FOR_AGENT_0_THEN_ANY), Op::Advance(ESCALATE)],
            &[Op::Available(0), Op::Logout(0)],
            &[Op::Route(1, 0)],
        ],
    },
];

/// A scenario by name, for the mutants.
fn scenario(name_starts: &str) -> &'static Scenario {
    SCENARIOS.iter().find(|s| s.name.starts_with(name_starts)).expect("a scenario")
}

fn run_ops(model: &Model, ops: &[Op]) {
    for op in ops {
        match *op {
            Op::Route(c, q) => model.route_call(c, q, PLAIN),
            Op::RouteWith(c, q, spec) => model.route_call(c, q, spec),
            Op::Available(a) => model.make_available(a),
            Op::OfferFailed(c) => model.offer_failed(c),
            Op::NotReady(a) => model.set_not_ready(a),
            Op::Logout(a) => model.logout(a),
            Op::Answer(c) => model.call_answered(c),
            Op::End(c) => model.call_ended(c),
            Op::Abandon(c) => model.call_abandoned(c),
            Op::Advance(due) => model.advance(due),
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
    let mut created: Vec<(CallIx, CallSpec)> = scenario
        .setup
        .iter()
        .chain(scenario.threads.iter().flat_map(|t| t.iter()))
        .filter_map(|op| match *op {
            Op::Route(c, _) => Some((c, PLAIN)),
            Op::RouteWith(c, _, spec) => Some((c, spec)),
            _ => None,
        })
        .collect();
    created.sort_unstable_by_key(|(c, _)| *c);
    created.dedup_by_key(|(c, _)| *c);
    model.check(&created);
}

/// Explores `scenario` with the random and the PCT scheduler; returns schedules explored.
fn explore(protocol: Protocol, scenario: &'static Scenario, iterations: usize) -> usize {
    use shuttle::scheduler::{PctScheduler, RandomScheduler};
    let random = shuttle::Runner::new(
        RandomScheduler::new_from_seed(seed(), iterations),
        Default::default(),
    )
    .run(move || execute(protocol, scenario));
    let pct = shuttle::Runner::new(
        PctScheduler::new_from_seed(seed(), PCT_DEPTH, iterations),
        Default::default(),
    )
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
#[should_panic(expected = "wait in its")]
fn mutant_unlocked_enqueue_is_caught() {
    explore(Protocol::UnlockedEnqueue, &SCENARIOS[0], iterations());
}

#[test]
#[should_panic(expected = "answered call")]
fn mutant_offer_timeout_check_then_act_is_caught() {
    explore(Protocol::OfferTimeoutCheckThenAct, scenario("an offer times out"), iterations());
}

#[test]
#[should_panic(expected = "lost or duplicated")]
fn mutant_wrap_up_end_check_then_act_is_caught() {
    explore(Protocol::WrapUpCheckThenAct, scenario("wrap-up ends"), iterations());
}

#[test]
#[should_panic(expected = "lost or duplicated")]
fn mutant_unchecked_answer_is_caught() {
    explore(Protocol::AnswerUnchecked, scenario("an offer times out"), iterations());
}

#[test]
#[should_panic(expected = "lost or duplicated")]
fn mutant_unchecked_hang_up_is_caught() {
    explore(Protocol::AbandonUnchecked, scenario("an offer times out"), iterations());
}

#[test]
#[should_panic(expected = "wait in its")]
fn mutant_target_looked_up_before_the_queue_lock_is_caught() {
    explore(Protocol::TargetLookedUpEarly, scenario("a last-agent call"), iterations());
}

#[test]
#[should_panic(expected = "lost: call")]
fn mutant_requeue_reading_needs_before_the_queue_lock_is_caught() {
    explore(Protocol::RequeueReadsEarly, scenario("an escalation and a wait limit"), iterations());
}

/// The engine before the fix: found the bug `tests/timers_during_offer.rs` reproduces.
#[test]
#[should_panic(expected = "escalation lost")]
fn escalation_skipping_an_offered_call_is_caught() {
    explore(
        Protocol::EscalationSkipsOffered,
        scenario("an escalation and a wait limit"),
        iterations(),
    );
}

/// The engine before the fix, for wait limits.
#[test]
#[should_panic(expected = "wait limit lost")]
fn wait_limit_skipping_an_offered_call_is_caught() {
    explore(
        Protocol::WaitLimitSkipsOffered,
        scenario("an escalation and a wait limit"),
        iterations(),
    );
}
