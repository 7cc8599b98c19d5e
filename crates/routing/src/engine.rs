//! The routing engine: agents, calls and queues shared by many threads.
//!
//! # Concurrency
//!
//! * Each agent is one entry of a [`DashMap`]. Every state change happens under that entry's
//!   shard lock and bumps the agent's `epoch`. A reservation is one check-and-set on the entry:
//!   "state is available and epoch is still the one the index saw" becomes "reserved", like
//!   `UPDATE agents SET state='reserved' WHERE id=? AND state='available' AND epoch=?`.
//! * Each queue has one mutex over its waiting calls and its index of available agents. Routing a
//!   call holds its queue's lock while it looks for an agent and, failing that, enqueues the
//!   call; an agent becoming available holds the locks of all its queues while it looks for a
//!   call and, failing that, indexes itself. So a call and an agent can never both decide to
//!   wait for each other.
//! * Lock order: queue locks in ascending ordinal, then agent entries, then call entries. No
//!   code holds a map reference while it touches the same map again or takes a queue lock, and
//!   the observer is called with no lock held, but for `CallEntered`, reported under the queue
//!   lock before the call can be seen by other threads (so no event of a call precedes it).
//! * Index entries are tagged with the epoch they were made for. An agent that stops being
//!   available removes its entries; an entry that is stale anyway (a race between two
//!   changes) fails the check-and-set and is dropped when met, so it can never reserve anyone.

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use dashmap::mapref::entry::Entry;
use dashmap::DashMap;
use parking_lot::{Mutex, MutexGuard};
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use smallvec::SmallVec;

use crate::agent::{
    AgentCounters, AgentProfile, AgentSnapshot, AgentState, AgentStateKind, REASON_MISSED,
};
use crate::call::{CallStatus, NewCall};
use crate::error::Error;
use crate::event::{Event, NoObserver, Observer, Offer, OfferOutcome};
use crate::ids::{AgentId, CallId, QueueId};
use crate::policy::{avail_key, AvailKey, KeyInputs, SelectionPolicy};
use crate::queue::{
    estimate_wait, Indexed, Needs, QueueConfig, QueueShared, QueueSnapshot, QueueState,
    QueueTotals, WaitKey, Waiting,
};
use crate::skills::level_of;
use crate::time::Timestamp;

mod restore;
pub use restore::RestoreReport;

/// Hasher of the id maps: foldhash is several times faster than SipHash on short ids and is
/// seeded per map, so ids chosen by a hostile client cannot be aimed at one bucket in advance.
type Hasher = foldhash::fast::RandomState;

/// Member queues kept inline before spilling to the heap: most agents have a few skills.
const INLINE_QUEUES: usize = 8;

/// An agent's index entries of one availability period: (queue ordinal, key).
type IndexedKeys = SmallVec<[(u32, AvailKey); INLINE_QUEUES]>;

/// Most entries of a queue's available index that [`Engine::has_available_agent`] and the
/// wait estimates examine for a call with requirements beyond its queue's.
pub const MAX_AVAILABLE_PROBE: usize = 256;

/// Longest not-ready reason code, in bytes.
pub const MAX_REASON_LEN_BYTES: usize = 64;

/// Engine-wide settings and the queues.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// The skill queues.
    pub queues: Vec<QueueConfig>,
    /// Offers an agent may miss in a row (rejected or timed out) before the engine sets them
    /// not ready with reason `missed`, so an absent agent does not swallow calls
    /// (FreeSWITCH's max-no-answer). 0 disables it.
    pub max_consecutive_missed: u32,
    /// Seed of the generator behind the random selection policy.
    pub seed: u64,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig { queues: Vec::new(), max_consecutive_missed: 3, seed: 0 }
    }
}

/// What routing a call did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Routed {
    /// An agent was reserved at once; the switch should ring them.
    Offered(Offer),
    /// No qualified agent was free; the call waits.
    Queued {
        /// The queue.
        queue: QueueId,
        /// Place in line, 1 for the front.
        position: usize,
    },
}

/// The routing engine. Cloning is cheap: every clone is a handle on the same state.
///
/// All methods take the current time as an argument and never read a clock; timers fire from
/// [`Engine::advance`].
#[derive(Clone)]
pub struct Engine {
    shared: Arc<Shared>,
}

struct Shared {
    /// Agent records. An entry is the unit of atomicity for one agent: every state change,
    /// reservations included, is a check-and-set under its shard lock.
    agents: DashMap<AgentId, AgentEntry, Hasher>,
    /// Calls the engine holds (queued, offered or connected). Where a call is lives in the
    /// queue (waiting) or the agent (reserved, on call); this entry points there.
    calls: DashMap<CallId, CallEntry, Hasher>,
    /// Queues by ordinal; fixed for the engine's life.
    queues: Vec<Arc<QueueShared>>,
    queue_ordinals: HashMap<QueueId, u32>,
    /// Pending timers, earliest first. Timers are never cancelled: each carries the epoch or
    /// queue key it was set for and does nothing if that has moved on.
    timers: Mutex<BinaryHeap<Reverse<Timer>>>,
    /// Source of the random policy's choices; one generator so that a single-threaded caller
    /// (tests, the simulator) sees one deterministic sequence.
    rng: Mutex<ChaCha8Rng>,
    /// Tie-breaker for waiting calls and timers: order of arrival in the engine.
    seq: AtomicU64,
    /// Next agent creation ordinal (policy tie-breaker and round-robin order).
    next_agent_ordinal: AtomicU64,
    max_consecutive_missed: u32,
    observer: Arc<dyn Observer>,
}

struct AgentEntry {
    profile: Arc<AgentProfile>,
    ordinal: u64,
    state: AgentState,
    /// Bumped on every state change; index entries and timers name the epoch they were
    /// made for.
    epoch: u64,
    /// When the current state began (for available agents: idle since).
    since: Timestamp,
    counters: AgentCounters,
    /// Member queues: ordinals ascending, with the agent's proficiency sum in each.
    membership: Arc<[Membership]>,
    /// Last round-robin turn per member queue, parallel to `membership`.
    rr_turns: Vec<u64>,
    /// Index entries of the current availability period, to remove when it ends.
    indexed: IndexedKeys,
    /// When the current call was answered.
    talk_started: Timestamp,
}

#[derive(Clone, Copy, Debug)]
struct Membership {
    queue: u32,
    proficiency: u32,
}

struct CallEntry {
    call: Arc<NewCall>,
    queue: u32,
    /// What an agent needs beyond queue membership; changes with escalation.
    needs: Needs,
    /// Place in line; kept when an offer fails so the call goes back where it was.
    key: WaitKey,
    location: Location,
    /// When the call entered this queue: its waits in this queue count from here.
    entered_at: Timestamp,
    /// When the call first entered any queue (earlier than `entered_at` after an overflow):
    /// the caller's whole time in line.
    first_entered: Timestamp,
    /// Its wait limit passed while it was with an agent (not in line, so the queue timer
    /// could not take it out): if it comes back to line, it leaves at once.
    wait_expired: bool,
}

/// What most call operations read from a call entry.
struct CallParts {
    call: Arc<NewCall>,
    queue: u32,
    location: Location,
    entered_at: Timestamp,
    first_entered: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Location {
    /// Being placed by `route_call`; for an instant before it is queued or offered.
    Routing,
    /// In its queue's waiting map under its key.
    Queued,
    /// Reserved for or connected to this agent; the agent's state says which.
    WithAgent(AgentId),
}

struct Timer {
    at: Timestamp,
    seq: u64,
    kind: TimerKind,
}

enum TimerKind {
    OfferTimeout {
        agent: AgentId,
        epoch: u64,
    },
    WrapUpEnd {
        agent: AgentId,
        epoch: u64,
    },
    QueueTimeout {
        call: CallId,
        queue: u32,
        key: WaitKey,
    },
    /// Escalation step `step` of a waiting call.
    Escalate {
        call: CallId,
        queue: u32,
        key: WaitKey,
        step: usize,
    },
}

impl PartialEq for Timer {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Timer {}
impl PartialOrd for Timer {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Timer {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// The outcome of trying to reserve one indexed agent for one call.
// Lives on the stack for one call and is matched at once: moving ~300 bytes is cheaper than
// the allocation a Box would add to every reservation.
#[allow(clippy::large_enum_variant)]
enum TryReserve {
    Reserved(Reservation),
    Stale,
    NotQualified,
}

/// A successful check-and-set: the agent is now reserved at `epoch`.
struct Reservation {
    agent: AgentId,
    epoch: u64,
    /// Epoch of the availability period that ended, and the index entries made for it.
    old_epoch: u64,
    old_indexed: IndexedKeys,
    deadline: Timestamp,
}

/// What an agent state change left to do once the agent entry is released.
struct Changed {
    /// Index entries of an availability period that ended: (epoch, entries).
    unindex: Option<(u64, IndexedKeys)>,
    /// The agent became available and should look for a call.
    dispatch: bool,
    state: AgentState,
    /// The agent's epoch after the change.
    epoch: u64,
}

impl Engine {
    /// An engine with these queues and no observer.
    pub fn new(config: EngineConfig) -> Result<Engine, Error> {
        Engine::with_observer(config, Arc::new(NoObserver))
    }

    /// An engine that reports every event to `observer`.
    pub fn with_observer(
        config: EngineConfig,
        observer: Arc<dyn Observer>,
    ) -> Result<Engine, Error> {
        let mut queues = Vec::with_capacity(config.queues.len());
        let mut queue_ordinals = HashMap::with_capacity(config.queues.len());
        for (index, queue) in config.queues.into_iter().enumerate() {
            let queue = queue.validated(index)?;
            let ordinal = u32::try_from(index)
                .map_err(|_| Error::invalid("queues", "more than 4294967295 queues"))?;
            if queue_ordinals.insert(queue.id.clone(), ordinal).is_some() {
                return Err(Error::invalid(
                    format!("queues[{index}].id"),
                    format!("queue {} is defined twice", queue.id),
                ));
            }
            queues.push(Arc::new(QueueShared::new(ordinal, queue)));
        }
        Ok(Engine {
            shared: Arc::new(Shared {
                agents: DashMap::with_hasher(Hasher::default()),
                calls: DashMap::with_hasher(Hasher::default()),
                queues,
                queue_ordinals,
                timers: Mutex::new(BinaryHeap::new()),
                rng: Mutex::new(ChaCha8Rng::seed_from_u64(config.seed)),
                seq: AtomicU64::new(0),
                next_agent_ordinal: AtomicU64::new(0),
                max_consecutive_missed: config.max_consecutive_missed,
                observer,
            }),
        })
    }

    // ---------------------------------------------------------------------------------------
    // Calls
    // ---------------------------------------------------------------------------------------

    /// Routes a call to `queue`: reserves the best available qualified agent at once, or puts
    /// the call in line. On error nothing changed.
    pub fn route_call(
        &self,
        queue: &QueueId,
        call: NewCall,
        now: Timestamp,
    ) -> Result<Routed, Error> {
        call.validate()?;
        let q = self.queue(queue)?;
        let needs =
            Needs::new(&q.config.required_skills, &call.required_skills, call.target_agent.clone());
        let key = q.wait_key(call.priority, call.arrived_at, self.next_seq());
        let call_id = call.id.clone();
        let first_entered = call.queued_since.unwrap_or(now);
        let call = Arc::new(call);
        match self.shared.calls.entry(call_id.clone()) {
            Entry::Occupied(_) => return Err(Error::DuplicateCall(call_id)),
            Entry::Vacant(slot) => {
                slot.insert(CallEntry {
                    call: call.clone(),
                    queue: q.ordinal,
                    needs: needs.clone(),
                    key,
                    location: Location::Routing,
                    entered_at: now,
                    first_entered,
                    wait_expired: false,
                });
            }
        }
        let refuse = |qs: MutexGuard<'_, QueueState>| {
            drop(qs);
            self.shared.calls.remove(&call_id);
            Err(Error::QueueFull { queue: q.config.id.clone(), max_waiting: q.config.max_waiting })
        };
        let mut events = Vec::new();
        let mut qs = q.state.lock();
        let full = qs.waiting.len() >= q.config.max_waiting;
        // Refused means unchanged: a call that a full queue will refuse must not draw from
        // the random policy's generator, so look (without reserving) before the walk draws.
        if full && !self.any_available(&q, &qs, &needs, usize::MAX) {
            return refuse(qs);
        }
        // The entry is reported while the queue lock is held and before the call leaves
        // `Location::Routing`, the only place no other thread can act on it (abandon, offer,
        // time out). So every later event of the call is reported after this one, and an
        // observer that folds events in order (the journal) never sees a call end before it
        // entered. The observer must not call back into the engine (it never does: it
        // records and forwards).
        let announce_entry = || {
            self.emit(vec![Event::CallEntered {
                call: Box::new((*call).clone()),
                queue: q.config.id.clone(),
                seq: key.seq,
                first_entered,
                at: now,
            }]);
        };
        if let Some(reservation) = self.reserve_from_index(&q, &mut qs, &call_id, &needs, now) {
            announce_entry();
            self.set_location(&call_id, Location::WithAgent(reservation.agent.clone()));
            drop(qs);
            bump(&q.counters.entered);
            let offer = self.after_reservation(&q, call_id, reservation, now, &mut events);
            self.emit(events);
            return Ok(Routed::Offered(offer));
        }
        if full {
            // The agent seen above changed state in the meantime.
            return refuse(qs);
        }
        qs.enqueue(
            key,
            Waiting {
                call: call_id.clone(),
                priority: call.priority,
                arrived_at: call.arrived_at,
                entered_at: now,
                needs,
            },
        );
        let position = qs.waiting.range(..key).count() + 1;
        announce_entry();
        self.set_location(&call_id, Location::Queued);
        drop(qs);
        bump(&q.counters.entered);
        let max_wait = match (q.config.max_wait, call.max_wait) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if let Some(max_wait) = max_wait {
            self.schedule(
                now.plus(max_wait),
                TimerKind::QueueTimeout { call: call_id.clone(), queue: q.ordinal, key },
            );
        }
        for (step, escalation) in call.escalation.iter().enumerate() {
            self.schedule(
                now.plus(escalation.after),
                TimerKind::Escalate { call: call_id.clone(), queue: q.ordinal, key, step },
            );
        }
        events.push(Event::CallQueued {
            call: call_id,
            queue: q.config.id.clone(),
            position,
            at: now,
        });
        self.emit(events);
        Ok(Routed::Queued { queue: q.config.id.clone(), position })
    }

    /// The agent answered an offered call.
    pub fn call_answered(&self, call: &CallId, now: Timestamp) -> Result<(), Error> {
        let CallParts { queue, location, entered_at, first_entered, .. } = self.call_parts(call)?;
        let q = &self.shared.queues[queue as usize];
        let agent = match location {
            Location::WithAgent(agent) => agent,
            other => return Err(self.call_mismatch(call, "answered", &other, q)),
        };
        let state = {
            let mut a = self.agent_mut(&agent)?;
            match &a.state {
                AgentState::Reserved { call: c, .. } if c == call => {}
                AgentState::OnCall { call: c, .. } if c == call => {
                    return Err(Error::CallStateMismatch {
                        call: call.clone(),
                        action: "answered",
                        reason: "it was already answered".into(),
                    })
                }
                _ => return Err(self.call_mismatch(call, "answered", &Location::Routing, q)),
            }
            a.state = AgentState::OnCall { call: call.clone(), queue: q.config.id.clone() };
            a.epoch += 1;
            a.since = now;
            a.talk_started = now;
            a.counters.consecutive_missed = 0;
            a.counters.calls_answered += 1;
            (a.state.clone(), a.epoch)
        };
        let (state, epoch) = state;
        // Queue wait counts from entry into this queue, not from arrival (the IVR is not
        // waiting in line); the whole wait across queues goes along for the caller's record.
        let wait = now.since(entered_at);
        let wait_ms = duration_ms(wait);
        let total_wait_ms = duration_ms(now.since(first_entered));
        bump(&q.counters.answered);
        q.counters.answered_wait_ms.fetch_add(wait_ms, Relaxed);
        if wait <= q.config.service_level_threshold {
            bump(&q.counters.answered_within_threshold);
        }
        self.emit(vec![
            Event::CallAnswered {
                call: call.clone(),
                agent: agent.clone(),
                queue: q.config.id.clone(),
                wait_ms,
                total_wait_ms,
                at: now,
            },
            Event::AgentStateChanged { agent, state, epoch, at: now },
        ]);
        Ok(())
    }

    /// An offer ended unanswered: the agent rejected it or it timed out at the switch. The call
    /// goes back to its place in line and is offered to the next agent; the agent becomes
    /// available again, or not ready with reason `missed` after too many misses in a row.
    pub fn offer_failed(
        &self,
        call: &CallId,
        outcome: OfferOutcome,
        now: Timestamp,
    ) -> Result<(), Error> {
        let CallParts { queue, location, .. } = self.call_parts(call)?;
        let q = &self.shared.queues[queue as usize];
        let Location::WithAgent(agent) = location else {
            return Err(self.call_mismatch(call, "declined", &location, q));
        };
        let mut events = Vec::new();
        self.end_offer(&agent, |c, _| c == call, outcome, now, &mut events)?;
        self.emit(events);
        Ok(())
    }

    /// A connected call ended; the agent goes to wrap-up (or straight to available when the
    /// queue has none).
    pub fn call_ended(&self, call: &CallId, now: Timestamp) -> Result<(), Error> {
        let CallParts { queue, location, .. } = self.call_parts(call)?;
        let q = self.shared.queues[queue as usize].clone();
        let Location::WithAgent(agent) = location else {
            return Err(self.call_mismatch(call, "ended", &location, &q));
        };
        let (changed, talk_ms, epoch) = {
            let mut a = self.agent_mut(&agent)?;
            match &a.state {
                AgentState::OnCall { call: c, .. } if c == call => {}
                AgentState::Reserved { call: c, .. } if c == call => {
                    return Err(Error::CallStateMismatch {
                        call: call.clone(),
                        action: "ended",
                        reason: format!(
                            "it was never answered (it rings agent {agent}); report it abandoned"
                        ),
                    })
                }
                _ => return Err(self.call_mismatch(call, "ended", &Location::Routing, &q)),
            }
            let talk = now.since(a.talk_started);
            let talk_ms = u64::try_from(talk.as_millis()).unwrap_or(u64::MAX);
            a.counters.talk_ms = a.counters.talk_ms.saturating_add(talk_ms);
            let next = if q.config.wrap_up.is_zero() {
                AgentState::Available
            } else {
                AgentState::WrapUp {
                    queue: q.config.id.clone(),
                    deadline: now.plus(q.config.wrap_up),
                }
            };
            let changed = self.set_state(&mut a, next, now);
            (changed, talk_ms, a.epoch)
        };
        self.shared.calls.remove(call);
        bump(&q.counters.handled);
        q.counters.handled_ms.fetch_add(
            talk_ms.saturating_add(crate::time::duration_millis(q.config.wrap_up)),
            Relaxed,
        );
        if let AgentState::WrapUp { deadline, .. } = &changed.state {
            self.schedule(*deadline, TimerKind::WrapUpEnd { agent: agent.clone(), epoch });
        }
        let mut events = vec![Event::CallEnded {
            call: call.clone(),
            agent: agent.clone(),
            queue: q.config.id.clone(),
            talk_ms,
            at: now,
        }];
        self.finish_change(&agent, changed, now, &mut events);
        self.emit(events);
        Ok(())
    }

    /// The caller hung up before an agent answered: the call leaves its queue, or the agent it
    /// was ringing becomes available again (not counted as a miss).
    pub fn call_abandoned(&self, call: &CallId, now: Timestamp) -> Result<(), Error> {
        let mut events = Vec::new();
        // A queued call can be offered between reading its location and locking its queue;
        // then the second look finds it with an agent.
        for _ in 0..3 {
            let CallParts { queue, location, entered_at, first_entered, .. } =
                self.call_parts(call)?;
            let q = self.shared.queues[queue as usize].clone();
            let waits = Waits { in_queue: now.since(entered_at), total: now.since(first_entered) };
            match location {
                Location::Queued => {
                    if self.remove_waiting(call, &q).is_none() {
                        continue;
                    }
                }
                Location::WithAgent(agent) => {
                    let changed = {
                        let mut a = self.agent_mut(&agent)?;
                        match &a.state {
                            AgentState::Reserved { call: c, .. } if c == call => {}
                            AgentState::OnCall { call: c, .. } if c == call => {
                                return Err(Error::CallStateMismatch {
                                    call: call.clone(),
                                    action: "abandoned",
                                    reason: format!("agent {agent} answered it; report it ended"),
                                })
                            }
                            _ => continue,
                        }
                        self.set_state(&mut a, AgentState::Available, now)
                    };
                    self.shared.calls.remove(call);
                    events.push(Event::OfferEnded {
                        call: call.clone(),
                        agent: agent.clone(),
                        outcome: OfferOutcome::Withdrawn,
                        at: now,
                    });
                    self.count_abandon(&q, waits.in_queue);
                    events.push(self.abandoned_event(call, &q, waits, now));
                    self.finish_change(&agent, changed, now, &mut events);
                    self.emit(events);
                    return Ok(());
                }
                Location::Routing => {
                    return Err(Error::CallStateMismatch {
                        call: call.clone(),
                        action: "abandoned",
                        reason: "it is still being routed".into(),
                    })
                }
            }
            self.count_abandon(&q, waits.in_queue);
            events.push(self.abandoned_event(call, &q, waits, now));
            self.emit(events);
            return Ok(());
        }
        Err(Error::CallStateMismatch {
            call: call.clone(),
            action: "abandoned",
            reason: "it changed state while being abandoned; retry".into(),
        })
    }

    /// Takes a waiting call out of its queue and hands it back, for a transfer or an overflow
    /// the owner decided on. Only waiting calls can be withdrawn. The call comes back with
    /// `queued_since` set, so routing it to another queue keeps the caller's whole time in
    /// line. A call inside a routing plan is withdrawn through
    /// [`crate::plan::Router::withdraw`], which also ends its plan.
    pub fn withdraw_call(&self, call: &CallId, now: Timestamp) -> Result<NewCall, Error> {
        let CallParts { call: entry_call, queue, location, first_entered, .. } =
            self.call_parts(call)?;
        let q = self.shared.queues[queue as usize].clone();
        if location != Location::Queued || self.remove_waiting(call, &q).is_none() {
            return Err(self.call_mismatch(call, "withdrawn", &location, &q));
        }
        bump(&q.counters.withdrawn);
        let mut back = (*entry_call).clone();
        back.queued_since = Some(first_entered);
        self.emit(vec![Event::CallWithdrawn {
            call: call.clone(),
            queue: q.config.id.clone(),
            at: now,
        }]);
        Ok(back)
    }

    /// Where a call is, or `None` if the engine does not hold it.
    pub fn call_status(&self, call: &CallId) -> Option<CallStatus> {
        let CallParts { queue, location, .. } = self.call_parts(call).ok()?;
        let queue = self.shared.queues[queue as usize].config.id.clone();
        match location {
            Location::Routing | Location::Queued => Some(CallStatus::Queued { queue }),
            Location::WithAgent(agent) => {
                let a = self.shared.agents.get(&agent)?;
                match &a.state {
                    AgentState::OnCall { .. } => {
                        Some(CallStatus::Connected { queue, agent: agent.clone() })
                    }
                    _ => Some(CallStatus::Offered { queue, agent: agent.clone() }),
                }
            }
        }
    }

    /// Number of calls the engine holds (queued, ringing or connected).
    pub fn call_count(&self) -> usize {
        self.shared.calls.len()
    }

    // ---------------------------------------------------------------------------------------
    // Agents
    // ---------------------------------------------------------------------------------------

    /// Creates an agent (logged out) or updates an existing one's profile. An available
    /// agent's queue memberships are recomputed at once, and it may take a call.
    pub fn upsert_agent(&self, profile: AgentProfile, now: Timestamp) -> Result<(), Error> {
        let profile = Arc::new(profile.validated()?);
        let membership = self.membership(&profile);
        let id = profile.id.clone();
        let changed = match self.shared.agents.entry(id.clone()) {
            Entry::Vacant(slot) => {
                let rr_turns = vec![0; membership.len()];
                slot.insert(AgentEntry {
                    profile,
                    ordinal: self.shared.next_agent_ordinal.fetch_add(1, Relaxed),
                    state: AgentState::LoggedOut,
                    epoch: 0,
                    since: now,
                    counters: AgentCounters::default(),
                    membership,
                    rr_turns,
                    indexed: IndexedKeys::new(),
                    talk_started: now,
                });
                None
            }
            Entry::Occupied(mut slot) => {
                let a = slot.get_mut();
                let rr_turns = membership
                    .iter()
                    .map(|m| {
                        a.membership
                            .iter()
                            .position(|old| old.queue == m.queue)
                            .map_or(0, |i| a.rr_turns[i])
                    })
                    .collect();
                if a.state != AgentState::LoggedOut {
                    for m in a.membership.iter() {
                        let q = &self.shared.queues[m.queue as usize];
                        q.logged_in.fetch_sub(1, Relaxed);
                        q.members.lock().remove(&a.profile);
                    }
                    for m in membership.iter() {
                        let q = &self.shared.queues[m.queue as usize];
                        q.logged_in.fetch_add(1, Relaxed);
                        q.members.lock().add(&profile);
                    }
                }
                a.profile = profile;
                a.membership = membership;
                a.rr_turns = rr_turns;
                if a.state == AgentState::Available {
                    // Same state, new memberships: a new epoch retires the old index entries.
                    let old_epoch = a.epoch;
                    a.epoch += 1;
                    Some(Changed {
                        unindex: Some((old_epoch, std::mem::take(&mut a.indexed))),
                        dispatch: true,
                        state: AgentState::Available,
                        epoch: a.epoch,
                    })
                } else {
                    None
                }
            }
        };
        if let Some(changed) = changed {
            let mut events = Vec::new();
            if let Some((epoch, entries)) = changed.unindex {
                self.unindex(&id, epoch, &entries, None);
            }
            self.dispatch_agent(&id, now, &mut events);
            self.emit(events);
        }
        Ok(())
    }

    /// Deletes a logged-out agent.
    pub fn remove_agent(&self, agent: &AgentId) -> Result<(), Error> {
        let removed = self.shared.agents.remove_if(agent, |_, a| a.state == AgentState::LoggedOut);
        if removed.is_some() {
            return Ok(());
        }
        let state = self.agent_kind(agent)?;
        Err(Error::IllegalTransition { agent: agent.clone(), state, action: "be removed" })
    }

    /// Logs an agent in, ready for calls or not ready with reason `login`. Counters restart.
    pub fn login(&self, agent: &AgentId, ready: bool, now: Timestamp) -> Result<(), Error> {
        self.change_agent(agent, "log in", now, |state| match state {
            AgentState::LoggedOut => Some(if ready {
                AgentState::Available
            } else {
                AgentState::NotReady { reason: "login".into() }
            }),
            _ => None,
        })
    }

    /// Makes an agent available (from not ready or wrap-up). Already available: no change.
    pub fn set_ready(&self, agent: &AgentId, now: Timestamp) -> Result<(), Error> {
        if self.agent_kind(agent)? == AgentStateKind::Available {
            return Ok(());
        }
        self.change_agent(agent, "go ready", now, |state| match state {
            AgentState::NotReady { .. } | AgentState::WrapUp { .. } => Some(AgentState::Available),
            _ => None,
        })
    }

    /// Sets an agent not ready with a reason code (from available, not ready or wrap-up).
    pub fn set_not_ready(
        &self,
        agent: &AgentId,
        reason: &str,
        now: Timestamp,
    ) -> Result<(), Error> {
        if reason.is_empty()
            || reason.len() > MAX_REASON_LEN_BYTES
            || reason.chars().any(char::is_control)
        {
            return Err(Error::invalid("reason", "must be 1 to 64 bytes of printable text"));
        }
        self.change_agent(agent, "go not ready", now, |state| match state {
            AgentState::Available | AgentState::NotReady { .. } | AgentState::WrapUp { .. } => {
                Some(AgentState::NotReady { reason: reason.to_string() })
            }
            _ => None,
        })
    }

    /// Logs an agent out. A ringing offer is withdrawn (the call goes back to its queue, not
    /// counted as a miss); an agent on a call must end it first.
    pub fn logout(&self, agent: &AgentId, now: Timestamp) -> Result<(), Error> {
        match self.agent_kind(agent)? {
            AgentStateKind::LoggedOut => Ok(()),
            AgentStateKind::Reserved => {
                let mut events = Vec::new();
                self.end_offer(agent, |_, _| true, OfferOutcome::Withdrawn, now, &mut events)?;
                self.emit(events);
                Ok(())
            }
            _ => self.change_agent(agent, "log out", now, |state| match state {
                AgentState::Available | AgentState::NotReady { .. } | AgentState::WrapUp { .. } => {
                    Some(AgentState::LoggedOut)
                }
                _ => None,
            }),
        }
    }

    /// A copy of one agent.
    pub fn agent(&self, agent: &AgentId) -> Option<AgentSnapshot> {
        let a = self.shared.agents.get(agent)?;
        Some(self.snapshot_of(&a))
    }

    /// Copies of all agents, sorted by id.
    pub fn agents(&self) -> Vec<AgentSnapshot> {
        let mut all: Vec<AgentSnapshot> =
            self.shared.agents.iter().map(|a| self.snapshot_of(&a)).collect();
        all.sort_by(|a, b| a.profile.id.cmp(&b.profile.id));
        all
    }

    // ---------------------------------------------------------------------------------------
    // Queues and time
    // ---------------------------------------------------------------------------------------

    /// The queues, in configuration order.
    pub fn queue_configs(&self) -> impl Iterator<Item = &QueueConfig> {
        self.shared.queues.iter().map(|q| &q.config)
    }

    /// Running totals of one queue.
    pub fn queue_totals(&self, queue: &QueueId) -> Result<QueueTotals, Error> {
        Ok(self.queue(queue)?.counters.snapshot())
    }

    /// A copy of one queue's waiting calls and available agents. Copies every waiting call
    /// and checks every indexed agent: for supervisors and tests, not for routing decisions
    /// (those use the O(1) accessors below).
    pub fn queue_snapshot(&self, queue: &QueueId) -> Result<QueueSnapshot, Error> {
        let q = self.queue(queue)?;
        let qs = q.state.lock();
        let waiting = qs.waiting.values().map(|w| w.call.clone()).collect();
        let oldest_arrival = qs.longest_waiting_since();
        let available: Vec<AgentId> = qs
            .available
            .values()
            .filter(|idx| self.is_current(idx))
            .map(|idx| idx.agent.clone())
            .collect();
        // A call arriving now goes behind everyone waiting (at equal priority).
        let position = qs.waiting.len() + 1;
        drop(qs);
        let totals = q.counters.snapshot();
        let logged_in = q.logged_in.load(Relaxed);
        let estimated_wait = if available.is_empty() {
            estimate_wait(position, logged_in, &totals, q.config.default_handle_time)
        } else {
            Some(Duration::ZERO)
        };
        Ok(QueueSnapshot {
            id: queue.clone(),
            waiting,
            oldest_arrival,
            available,
            logged_in: usize::try_from(logged_in).unwrap_or(0),
            estimated_wait,
            totals,
        })
    }

    /// Calls waiting in `queue`. O(1).
    pub fn waiting_count(&self, queue: &QueueId) -> Result<usize, Error> {
        Ok(self.queue(queue)?.state.lock().waiting.len())
    }

    /// Member agents of `queue` logged in (in any state but logged out). O(1).
    pub fn logged_in_count(&self, queue: &QueueId) -> Result<usize, Error> {
        Ok(usize::try_from(self.queue(queue)?.logged_in.load(Relaxed)).unwrap_or(0))
    }

    /// How long the call that has waited longest in `queue` has been in it, `None` if no call
    /// waits. Counts from entry into this queue. O(1).
    pub fn longest_wait(&self, queue: &QueueId, now: Timestamp) -> Result<Option<Duration>, Error> {
        let since = self.queue(queue)?.state.lock().longest_waiting_since();
        Ok(since.map(|entered| now.since(entered)))
    }

    /// Whether an available member of `queue` meets `extra` requirements (on top of the
    /// queue's), so a call needing them would be offered at once. O(1) without extra
    /// requirements (the first valid entry of the index); with them it walks the index past
    /// members who lack them, like routing such a call does, but at most
    /// [`MAX_AVAILABLE_PROBE`] entries (beyond that it answers no).
    pub fn has_available_agent(
        &self,
        queue: &QueueId,
        extra: &[crate::skills::SkillRequirement],
    ) -> Result<bool, Error> {
        let q = self.queue(queue)?;
        let needs = Needs::new(&q.config.required_skills, extra, None);
        let qs = q.state.lock();
        Ok(self.any_available(&q, &qs, &needs, MAX_AVAILABLE_PROBE))
    }

    /// Whether any logged-in member of `queue` meets `extra` requirements (on top of the
    /// queue's), whatever their state: "could anyone ever take this call". Answered from
    /// per-queue counts of logged-in members by skill and level, kept on login, logout and
    /// profile change, never by walking the agents; exact except for calls with two or more
    /// requirements that only some members meet, where it examines at most
    /// [`crate::queue::MAX_QUALIFIED_PROBE`] holders of the rarest one (see
    /// `MemberSkills::any_qualified`).
    pub fn has_qualified_agent(
        &self,
        queue: &QueueId,
        extra: &[crate::skills::SkillRequirement],
    ) -> Result<bool, Error> {
        let q = self.queue(queue)?;
        let needs = Needs::new(&q.config.required_skills, extra, None);
        let members = q.members.lock();
        Ok(match &needs.skills {
            None => members.any_qualified(&[]),
            Some(reqs) => members.any_qualified(reqs),
        })
    }

    /// How long a call arriving now in `queue` with no extra requirements would wait: zero if
    /// a member is available, `None` if no member is logged in, otherwise its place at the
    /// back of the line times the average handle time over the logged-in members. O(1).
    pub fn estimated_wait(&self, queue: &QueueId) -> Result<Option<Duration>, Error> {
        let q = self.queue(queue)?;
        let position = {
            let qs = q.state.lock();
            if self.any_available(&q, &qs, &Needs::default(), MAX_AVAILABLE_PROBE) {
                return Ok(Some(Duration::ZERO));
            }
            qs.waiting.len() + 1
        };
        Ok(self.wait_at(&q, position))
    }

    /// How long a call that would arrive now in `queue` with this priority, arrival time and
    /// extra requirements would wait: zero if a qualified member is available (see
    /// [`Engine::has_available_agent`]), `None` if no member is logged in, otherwise the
    /// place it would take in line (behind every call of higher effective priority; counting
    /// them is O(calls ahead), never agents) times the average handle time over the
    /// logged-in members.
    pub fn estimated_wait_for(
        &self,
        queue: &QueueId,
        priority: i32,
        arrived_at: Timestamp,
        extra: &[crate::skills::SkillRequirement],
    ) -> Result<Option<Duration>, Error> {
        let q = self.queue(queue)?;
        let needs = Needs::new(&q.config.required_skills, extra, None);
        let key = q.wait_key(priority, arrived_at, u64::MAX);
        let position = {
            let qs = q.state.lock();
            if self.any_available(&q, &qs, &needs, MAX_AVAILABLE_PROBE) {
                return Ok(Some(Duration::ZERO));
            }
            qs.waiting.range(..key).count() + 1
        };
        Ok(self.wait_at(&q, position))
    }

    /// Estimated wait of a call at `position` in line (1 for the front, as
    /// [`Routed::Queued`] reports it): position times the average handle time (the queue's
    /// default until calls have been handled) over the logged-in members; `None` when none
    /// is logged in. O(1).
    pub fn estimated_wait_at(
        &self,
        queue: &QueueId,
        position: usize,
    ) -> Result<Option<Duration>, Error> {
        let q = self.queue(queue)?;
        Ok(self.wait_at(&q, position))
    }

    /// Fires every timer due at or before `now` (offer timeouts, wrap-up ends, queue
    /// timeouts), each at its own deadline, in deadline order. Returns how many fired.
    pub fn advance(&self, now: Timestamp) -> usize {
        let mut fired = 0;
        loop {
            let timer = {
                let mut timers = self.shared.timers.lock();
                match timers.peek() {
                    Some(Reverse(t)) if t.at <= now => timers.pop().map(|Reverse(t)| t),
                    _ => None,
                }
            };
            let Some(timer) = timer else { return fired };
            fired += 1;
            let mut events = Vec::new();
            match timer.kind {
                TimerKind::OfferTimeout { agent, epoch } => {
                    // The offer may have been answered or ended meanwhile: then the epoch moved
                    // on and this does nothing.
                    let _ = self.end_offer(
                        &agent,
                        |_, e| e == epoch,
                        OfferOutcome::TimedOut,
                        timer.at,
                        &mut events,
                    );
                }
                TimerKind::WrapUpEnd { agent, epoch } => {
                    let changed = self.shared.agents.get_mut(&agent).and_then(|mut a| {
                        (a.epoch == epoch && matches!(a.state, AgentState::WrapUp { .. }))
                            .then(|| self.set_state(&mut a, AgentState::Available, timer.at))
                    });
                    if let Some(changed) = changed {
                        self.finish_change(&agent, changed, timer.at, &mut events);
                    }
                }
                TimerKind::Escalate { call, queue, key, step } => {
                    self.escalate(&call, queue, key, step, timer.at, &mut events);
                }
                TimerKind::QueueTimeout { call, queue, key } => {
                    let q = self.shared.queues[queue as usize].clone();
                    let removed = {
                        let mut qs = q.state.lock();
                        match qs.waiting.get(&key) {
                            Some(w) if w.call == call => qs.dequeue(&key),
                            _ => {
                                // With an agent: if the offer fails, `requeue` sees the mark
                                // under this lock and hands the call back then.
                                if let Some(mut c) = self.shared.calls.get_mut(&call) {
                                    if c.queue == queue && c.key == key {
                                        c.wait_expired = true;
                                    }
                                }
                                None
                            }
                        }
                    };
                    if removed.is_some() {
                        if let Some((_, entry)) = self.shared.calls.remove(&call) {
                            bump(&q.counters.timed_out);
                            let mut back = (*entry.call).clone();
                            back.queued_since = Some(entry.first_entered);
                            events.push(Event::QueueTimedOut {
                                call: Box::new(back),
                                queue: q.config.id.clone(),
                                at: timer.at,
                            });
                        }
                    }
                }
            }
            self.emit(events);
        }
    }

    /// When the next timer is due, if any: the server sleeps until then, the simulator jumps.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        self.shared.timers.lock().peek().map(|Reverse(t)| t.at)
    }

    /// Checks the engine's invariants and returns every violation found. Meant for tests and
    /// the simulator at quiescent moments (no operation running): it reads without a global
    /// lock, so a concurrent change can show as a false violation.
    pub fn audit(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut agent_of_call: HashMap<CallId, AgentId> = HashMap::new();
        struct AuditAgent {
            id: AgentId,
            state: AgentState,
            epoch: u64,
            profile: Arc<AgentProfile>,
            membership: Arc<[Membership]>,
        }
        let agents: Vec<AuditAgent> = self
            .shared
            .agents
            .iter()
            .map(|a| AuditAgent {
                id: a.key().clone(),
                state: a.state.clone(),
                epoch: a.epoch,
                profile: a.profile.clone(),
                membership: a.membership.clone(),
            })
            .collect();
        for AuditAgent { id, state, .. } in &agents {
            if let Some(call) = state.call() {
                if let Some(other) = agent_of_call.insert(call.clone(), id.clone()) {
                    problems.push(format!("call {call} is with agents {other} and {id}"));
                }
                match self.shared.calls.get(call).map(|c| c.location.clone()) {
                    Some(Location::WithAgent(a)) if &a == id => {}
                    other => problems.push(format!(
                        "agent {id} is {} with call {call}, which is at {other:?}",
                        state.kind()
                    )),
                }
            }
        }
        let calls: Vec<(CallId, u32, WaitKey, Location)> = self
            .shared
            .calls
            .iter()
            .map(|c| (c.key().clone(), c.queue, c.key, c.location.clone()))
            .collect();
        for (call, queue, key, location) in &calls {
            match location {
                Location::Routing => problems.push(format!("call {call} is stuck routing")),
                Location::Queued => {
                    let q = &self.shared.queues[*queue as usize];
                    if q.state.lock().waiting.get(key).map(|w| &w.call) != Some(call) {
                        problems.push(format!("call {call} is queued but not in {}", q.config.id));
                    }
                }
                Location::WithAgent(agent) => {
                    if agent_of_call.get(call) != Some(agent) {
                        problems
                            .push(format!("call {call} points at agent {agent}, who is not on it"));
                    }
                }
            }
        }
        for q in &self.shared.queues {
            let qs = q.state.lock();
            for (key, w) in &qs.waiting {
                let entry =
                    self.shared.calls.get(&w.call).map(|c| (c.queue, c.key, c.location.clone()));
                if entry != Some((q.ordinal, *key, Location::Queued)) {
                    problems.push(format!(
                        "{} holds call {} that is at {entry:?}",
                        q.config.id, w.call
                    ));
                }
            }
            let waiting: Vec<Waiting> = qs.waiting.values().cloned().collect();
            let valid: Vec<AgentId> = qs
                .available
                .values()
                .filter(|idx| {
                    agents.iter().any(|a| {
                        a.id == idx.agent
                            && a.epoch == idx.epoch
                            && a.state == AgentState::Available
                    })
                })
                .map(|idx| idx.agent.clone())
                .collect();
            drop(qs);
            let logged_in = agents
                .iter()
                .filter(|a| {
                    a.state != AgentState::LoggedOut
                        && a.membership.iter().any(|m| m.queue == q.ordinal)
                })
                .count();
            let by_skill = q.members.lock().logged_in();
            if u32::try_from(logged_in) != Ok(by_skill) {
                problems.push(format!(
                    "{} counts {by_skill} logged-in members by skill, there are {logged_in}",
                    q.config.id
                ));
            }
            if i64::try_from(logged_in) != Ok(q.logged_in.load(Relaxed)) {
                problems.push(format!(
                    "{} counts {} logged-in members, there are {logged_in}",
                    q.config.id,
                    q.logged_in.load(Relaxed)
                ));
            }
            // Work conservation: no waiting call has a free qualified member agent.
            for AuditAgent { id, state, profile, membership, .. } in &agents {
                if *state != AgentState::Available
                    || !membership.iter().any(|m| m.queue == q.ordinal)
                {
                    continue;
                }
                if !valid.contains(id) {
                    problems.push(format!(
                        "available agent {id} is missing from {}'s index",
                        q.config.id
                    ));
                }
                for w in &waiting {
                    if w.needs.admit(id, &profile.skills) {
                        problems.push(format!(
                            "call {} waits in {} while qualified agent {id} is available",
                            w.call, q.config.id
                        ));
                    }
                }
            }
        }
        problems
    }

    // ---------------------------------------------------------------------------------------
    // Internals
    // ---------------------------------------------------------------------------------------

    /// Applies escalation step `step` to a call still waiting under `key`: its extra
    /// requirements become the step's, any target agent is dropped, and it is offered at once
    /// if an agent of the wider pool is free.
    fn escalate(
        &self,
        call: &CallId,
        queue: u32,
        key: WaitKey,
        step: usize,
        now: Timestamp,
        events: &mut Vec<Event>,
    ) {
        let q = self.shared.queues[queue as usize].clone();
        let mut qs = q.state.lock();
        // The same call (not a later one with the same id): its queue and place in line.
        let Some(data) = self
            .shared
            .calls
            .get(call)
            .filter(|c| c.queue == queue && c.key == key)
            .map(|c| c.call.clone())
        else {
            return;
        };
        let Some(escalation) = data.escalation.get(step) else { return };
        let needs = Needs::new(&q.config.required_skills, &escalation.required_skills, None);
        if let Some(mut c) = self.shared.calls.get_mut(call) {
            c.needs = needs.clone();
        }
        if qs.waiting.get(&key).is_none_or(|w| &w.call != call) {
            // With an agent: the wider needs are in the entry, which `requeue` reads under
            // this lock if the offer fails.
            return;
        }
        if let Some(reservation) = self.reserve_from_index(&q, &mut qs, call, &needs, now) {
            qs.dequeue(&key);
            self.set_location(call, Location::WithAgent(reservation.agent.clone()));
            drop(qs);
            self.after_reservation(&q, call.clone(), reservation, now, events);
        } else if let Some(w) = qs.waiting.get_mut(&key) {
            w.needs = needs;
        }
    }

    fn wait_at(&self, q: &QueueShared, position: usize) -> Option<Duration> {
        let totals = q.counters.snapshot();
        estimate_wait(position, q.logged_in.load(Relaxed), &totals, q.config.default_handle_time)
    }

    /// Whether an index entry still stands for an available agent.
    fn is_current(&self, idx: &Indexed) -> bool {
        self.shared
            .agents
            .get(&idx.agent)
            .is_some_and(|a| a.epoch == idx.epoch && a.state == AgentState::Available)
    }

    /// Under the queue's lock, without changing anything: whether an indexed agent is still
    /// available and meets `needs`, looking at no more than `probe` entries.
    fn any_available(&self, q: &QueueShared, qs: &QueueState, needs: &Needs, probe: usize) -> bool {
        let fits = |idx: &Indexed| {
            self.shared.agents.get(&idx.agent).is_some_and(|a| {
                a.epoch == idx.epoch
                    && a.state == AgentState::Available
                    && needs.admit(&idx.agent, &a.profile.skills)
            })
        };
        if let Some(target) = &needs.agent {
            let key = self.shared.agents.get(target).and_then(|a| {
                a.indexed.iter().find(|(queue, _)| *queue == q.ordinal).map(|(_, key)| *key)
            });
            return key.and_then(|key| qs.available.get(&key)).is_some_and(fits);
        }
        qs.available.values().take(probe).any(fits)
    }

    fn next_seq(&self) -> u64 {
        self.shared.seq.fetch_add(1, Relaxed)
    }

    fn queue(&self, id: &QueueId) -> Result<Arc<QueueShared>, Error> {
        self.shared
            .queue_ordinals
            .get(id)
            .map(|&o| self.shared.queues[o as usize].clone())
            .ok_or_else(|| Error::UnknownQueue(id.clone()))
    }

    fn agent_mut(
        &self,
        agent: &AgentId,
    ) -> Result<dashmap::mapref::one::RefMut<'_, AgentId, AgentEntry>, Error> {
        self.shared.agents.get_mut(agent).ok_or_else(|| Error::UnknownAgent(agent.clone()))
    }

    fn agent_kind(&self, agent: &AgentId) -> Result<AgentStateKind, Error> {
        self.shared
            .agents
            .get(agent)
            .map(|a| a.state.kind())
            .ok_or_else(|| Error::UnknownAgent(agent.clone()))
    }

    fn call_parts(&self, call: &CallId) -> Result<CallParts, Error> {
        self.shared
            .calls
            .get(call)
            .map(|c| CallParts {
                call: c.call.clone(),
                queue: c.queue,
                location: c.location.clone(),
                entered_at: c.entered_at,
                first_entered: c.first_entered,
            })
            .ok_or_else(|| Error::UnknownCall(call.clone()))
    }

    fn set_location(&self, call: &CallId, location: Location) {
        if let Some(mut c) = self.shared.calls.get_mut(call) {
            c.location = location;
        }
    }

    fn call_mismatch(
        &self,
        call: &CallId,
        action: &'static str,
        location: &Location,
        q: &QueueShared,
    ) -> Error {
        let reason = match location {
            Location::Routing => "it is not with an agent".to_string(),
            Location::Queued => format!("it is still waiting in queue {}", q.config.id),
            Location::WithAgent(agent) => format!("it is with agent {agent}"),
        };
        Error::CallStateMismatch { call: call.clone(), action, reason }
    }

    fn membership(&self, profile: &AgentProfile) -> Arc<[Membership]> {
        self.shared
            .queues
            .iter()
            .filter(|q| q.config.accepts(profile))
            .map(|q| Membership {
                queue: q.ordinal,
                proficiency: q
                    .config
                    .required_skills
                    .iter()
                    .filter_map(|r| level_of(&profile.skills, &r.skill))
                    .map(u32::from)
                    .sum(),
            })
            .collect()
    }

    fn snapshot_of(&self, a: &AgentEntry) -> AgentSnapshot {
        AgentSnapshot {
            profile: a.profile.clone(),
            state: a.state.clone(),
            state_since: a.since,
            counters: a.counters,
            queues: a
                .membership
                .iter()
                .map(|m| self.shared.queues[m.queue as usize].config.id.clone())
                .collect(),
        }
    }

    fn schedule(&self, at: Timestamp, kind: TimerKind) {
        let seq = self.next_seq();
        self.shared.timers.lock().push(Reverse(Timer { at, seq, kind }));
    }

    fn emit(&self, events: Vec<Event>) {
        for event in &events {
            self.shared.observer.on_event(event);
        }
    }

    /// Moves an agent entry to `next`, keeping epoch, timestamps and counters right. The caller
    /// holds the entry and finishes with [`Engine::finish_change`] after releasing it.
    fn set_state(&self, a: &mut AgentEntry, next: AgentState, now: Timestamp) -> Changed {
        let unindex =
            (a.state == AgentState::Available).then(|| (a.epoch, std::mem::take(&mut a.indexed)));
        let was_out = a.state == AgentState::LoggedOut;
        let is_out = next == AgentState::LoggedOut;
        if was_out {
            a.counters = AgentCounters::default();
        }
        if was_out != is_out {
            let delta = if was_out { 1 } else { -1 };
            for m in a.membership.iter() {
                let q = &self.shared.queues[m.queue as usize];
                q.logged_in.fetch_add(delta, Relaxed);
                let mut members = q.members.lock();
                if was_out {
                    members.add(&a.profile);
                } else {
                    members.remove(&a.profile);
                }
            }
        }
        let dispatch = next == AgentState::Available;
        a.state = next;
        a.epoch += 1;
        a.since = now;
        Changed { unindex, dispatch, state: a.state.clone(), epoch: a.epoch }
    }

    /// The part of an agent state change done after the entry is released: retire old index
    /// entries, report it, and let a newly available agent take a call.
    fn finish_change(
        &self,
        agent: &AgentId,
        changed: Changed,
        now: Timestamp,
        events: &mut Vec<Event>,
    ) {
        if let Some((epoch, entries)) = changed.unindex {
            self.unindex(agent, epoch, &entries, None);
        }
        events.push(Event::AgentStateChanged {
            agent: agent.clone(),
            state: changed.state,
            epoch: changed.epoch,
            at: now,
        });
        if changed.dispatch {
            self.dispatch_agent(agent, now, events);
        }
    }

    /// Applies an agent-requested change; `next` says the new state, or `None` if the change is
    /// illegal from the current one.
    fn change_agent(
        &self,
        agent: &AgentId,
        action: &'static str,
        now: Timestamp,
        next: impl FnOnce(&AgentState) -> Option<AgentState>,
    ) -> Result<(), Error> {
        let changed = {
            let mut a = self.agent_mut(agent)?;
            let Some(next) = next(&a.state) else {
                return Err(Error::IllegalTransition {
                    agent: agent.clone(),
                    state: a.state.kind(),
                    action,
                });
            };
            self.set_state(&mut a, next, now)
        };
        let mut events = Vec::new();
        self.finish_change(agent, changed, now, &mut events);
        self.emit(events);
        Ok(())
    }

    /// Ends an agent's ringing offer that `matches` (call, epoch); puts the call back in line
    /// and offers it to the next agent, then lets this agent go on.
    fn end_offer(
        &self,
        agent: &AgentId,
        matches: impl FnOnce(&CallId, u64) -> bool,
        outcome: OfferOutcome,
        now: Timestamp,
        events: &mut Vec<Event>,
    ) -> Result<(), Error> {
        let (call, changed) = {
            let mut a = self.agent_mut(agent)?;
            let call = match &a.state {
                AgentState::Reserved { call, .. } if matches(call, a.epoch) => call.clone(),
                state => {
                    return Err(Error::IllegalTransition {
                        agent: agent.clone(),
                        state: state.kind(),
                        action: "end an offer",
                    })
                }
            };
            let next = match outcome {
                OfferOutcome::Withdrawn => AgentState::LoggedOut,
                OfferOutcome::Rejected | OfferOutcome::TimedOut => {
                    a.counters.consecutive_missed += 1;
                    let limit = self.shared.max_consecutive_missed;
                    if limit > 0 && a.counters.consecutive_missed >= limit {
                        AgentState::NotReady { reason: REASON_MISSED.into() }
                    } else {
                        AgentState::Available
                    }
                }
            };
            (call, self.set_state(&mut a, next, now))
        };
        events.push(Event::OfferEnded {
            call: call.clone(),
            agent: agent.clone(),
            outcome,
            at: now,
        });
        self.requeue(&call, outcome != OfferOutcome::Withdrawn, now, events);
        self.finish_change(agent, changed, now, events);
        Ok(())
    }

    /// Puts a call whose offer failed back at its old place in line, offering it to another
    /// available agent first. It was admitted already, so `max_waiting` does not apply.
    fn requeue(&self, call: &CallId, missed: bool, now: Timestamp, events: &mut Vec<Event>) {
        let Some(queue) = self.shared.calls.get(call).map(|c| c.queue) else { return };
        let q = self.shared.queues[queue as usize].clone();
        if missed {
            bump(&q.counters.offers_missed);
        }
        let mut qs = q.state.lock();
        // Read under the queue lock: an escalation or wait limit that fell due while the call
        // was with the agent changed the entry under this lock, so it is seen here or the
        // timer finds the call in line.
        let Some((call_data, needs, key, entered_at, wait_expired)) = self
            .shared
            .calls
            .get(call)
            .map(|c| (c.call.clone(), c.needs.clone(), c.key, c.entered_at, c.wait_expired))
        else {
            return;
        };
        if let Some(reservation) = self.reserve_from_index(&q, &mut qs, call, &needs, now) {
            self.set_location(call, Location::WithAgent(reservation.agent.clone()));
            drop(qs);
            self.after_reservation(&q, call.clone(), reservation, now, events);
            return;
        }
        qs.enqueue(
            key,
            Waiting {
                call: call.clone(),
                priority: call_data.priority,
                arrived_at: call_data.arrived_at,
                entered_at,
                needs,
            },
        );
        let position = qs.waiting.range(..key).count() + 1;
        self.set_location(call, Location::Queued);
        drop(qs);
        events.push(Event::CallQueued {
            call: call.clone(),
            queue: q.config.id.clone(),
            position,
            at: now,
        });
        if wait_expired {
            // Due now: the next `advance` hands it back, as the queue timer would have.
            self.schedule(now, TimerKind::QueueTimeout { call: call.clone(), queue, key });
        }
    }

    /// Removes a waiting call from its queue and the engine; `None` if it is not waiting there.
    fn remove_waiting(&self, call: &CallId, q: &QueueShared) -> Option<Waiting> {
        let mut qs = q.state.lock();
        let key = self
            .shared
            .calls
            .get(call)
            .filter(|c| c.location == Location::Queued && c.queue == q.ordinal)
            .map(|c| c.key)?;
        let waiting = qs.dequeue(&key)?;
        self.shared.calls.remove(call);
        Some(waiting)
    }

    fn count_abandon(&self, q: &QueueShared, wait: Duration) {
        bump(&q.counters.abandoned);
        if wait <= q.config.service_level_threshold {
            bump(&q.counters.abandoned_within_threshold);
        }
    }

    fn abandoned_event(
        &self,
        call: &CallId,
        q: &QueueShared,
        waits: Waits,
        now: Timestamp,
    ) -> Event {
        Event::CallAbandoned {
            call: call.clone(),
            queue: q.config.id.clone(),
            wait_ms: duration_ms(waits.in_queue),
            total_wait_ms: duration_ms(waits.total),
            at: now,
        }
    }

    /// Under the queue's lock: reserves the first agent in the queue's index that is still
    /// available and qualified for the call, dropping stale entries on the way.
    fn reserve_from_index(
        &self,
        q: &QueueShared,
        qs: &mut QueueState,
        call: &CallId,
        needs: &Needs,
        now: Timestamp,
    ) -> Option<Reservation> {
        let QueueState { available, rr_turn, .. } = qs;
        if let Some(target) = &needs.agent {
            // Only one agent will do: find its entry in this queue's index through the agent
            // rather than walking the index.
            let key = self.shared.agents.get(target).and_then(|a| {
                a.indexed.iter().find(|(queue, _)| *queue == q.ordinal).map(|(_, key)| *key)
            })?;
            let idx = available.get(&key)?.clone();
            return match self.try_reserve(q, &idx, rr_turn, call, needs, now) {
                TryReserve::Reserved(r) => {
                    available.remove(&key);
                    Some(r)
                }
                TryReserve::Stale => {
                    available.remove(&key);
                    None
                }
                TryReserve::NotQualified => None,
            };
        }
        let mut stale: Vec<AvailKey> = Vec::new();
        let mut found = None;
        // Random: start the walk at a uniformly drawn place, so every available member is
        // equally likely at every decision. This skips entries one by one, O(available), the
        // price of uniformity without an order-statistics tree; the other policies take the
        // first entry.
        let start = match q.config.policy {
            SelectionPolicy::Random if available.len() > 1 => {
                (self.shared.rng.lock().next_u64() % available.len() as u64) as usize
            }
            _ => 0,
        };
        let walk = available.iter().skip(start).chain(available.iter().take(start));
        for (key, idx) in walk {
            match self.try_reserve(q, idx, rr_turn, call, needs, now) {
                TryReserve::Reserved(r) => {
                    found = Some((*key, r));
                    break;
                }
                TryReserve::Stale => stale.push(*key),
                TryReserve::NotQualified => {}
            }
        }
        for key in stale {
            available.remove(&key);
        }
        let (key, reservation) = found?;
        available.remove(&key);
        Some(reservation)
    }

    /// The check-and-set: reserve `idx.agent` if it is still available in `idx.epoch`.
    fn try_reserve(
        &self,
        q: &QueueShared,
        idx: &Indexed,
        rr_turn: &mut u64,
        call: &CallId,
        needs: &Needs,
        now: Timestamp,
    ) -> TryReserve {
        let Some(mut a) = self.shared.agents.get_mut(&idx.agent) else { return TryReserve::Stale };
        if a.epoch != idx.epoch || a.state != AgentState::Available {
            return TryReserve::Stale;
        }
        if !needs.admit(&idx.agent, &a.profile.skills) {
            return TryReserve::NotQualified;
        }
        *rr_turn += 1;
        if let Some(i) = a.membership.iter().position(|m| m.queue == q.ordinal) {
            a.rr_turns[i] = *rr_turn;
        }
        let deadline = now.plus(q.config.offer_timeout);
        let old_epoch = a.epoch;
        let old_indexed = std::mem::take(&mut a.indexed);
        a.state = AgentState::Reserved { call: call.clone(), queue: q.config.id.clone(), deadline };
        a.epoch += 1;
        a.since = now;
        TryReserve::Reserved(Reservation {
            agent: idx.agent.clone(),
            epoch: a.epoch,
            old_epoch,
            old_indexed,
            deadline,
        })
    }

    /// After a reservation, with no lock held: retire the agent's other index entries, arm
    /// the offer timer, count and report.
    fn after_reservation(
        &self,
        q: &QueueShared,
        call: CallId,
        r: Reservation,
        now: Timestamp,
        events: &mut Vec<Event>,
    ) -> Offer {
        // The entry in this queue went with the reservation; only the others are left.
        self.unindex(&r.agent, r.old_epoch, &r.old_indexed, Some(q.ordinal));
        self.schedule(
            r.deadline,
            TimerKind::OfferTimeout { agent: r.agent.clone(), epoch: r.epoch },
        );
        bump(&q.counters.offers);
        let offer = Offer {
            call: call.clone(),
            agent: r.agent.clone(),
            queue: q.config.id.clone(),
            deadline: r.deadline,
        };
        events.push(Event::CallOffered { offer: offer.clone(), at: now });
        events.push(Event::AgentStateChanged {
            agent: r.agent,
            state: AgentState::Reserved { call, queue: q.config.id.clone(), deadline: r.deadline },
            epoch: r.epoch,
            at: now,
        });
        offer
    }

    /// Removes index entries made for `agent` in availability period `epoch`.
    fn unindex(&self, agent: &AgentId, epoch: u64, entries: &[(u32, AvailKey)], skip: Option<u32>) {
        for (queue, key) in entries.iter().filter(|(queue, _)| Some(*queue) != skip) {
            let mut qs = self.shared.queues[*queue as usize].state.lock();
            if qs.available.get(key).is_some_and(|idx| &idx.agent == agent && idx.epoch == epoch) {
                qs.available.remove(key);
            }
        }
    }

    /// A newly available agent takes the best waiting call it qualifies for across all its
    /// queues (highest effective priority, then longest wait), or joins their indexes.
    fn dispatch_agent(&self, agent: &AgentId, now: Timestamp, events: &mut Vec<Event>) {
        let (epoch, profile, membership, inputs) = {
            let Some(a) = self.shared.agents.get(agent) else { return };
            if a.state != AgentState::Available {
                return;
            }
            let inputs: SmallVec<[KeyInputs; INLINE_QUEUES]> = a
                .membership
                .iter()
                .zip(&a.rr_turns)
                .map(|(m, &rr_turn)| KeyInputs {
                    idle_since_ms: a.since.as_millis(),
                    calls_answered: a.counters.calls_answered,
                    talk_ms: a.counters.talk_ms,
                    rr_turn,
                    proficiency: m.proficiency,
                    ordinal: a.ordinal,
                })
                .collect();
            (a.epoch, a.profile.clone(), a.membership.clone(), inputs)
        };
        let queues: SmallVec<[&Arc<QueueShared>; INLINE_QUEUES]> =
            membership.iter().map(|m| &self.shared.queues[m.queue as usize]).collect();
        // Ascending ordinals: the global lock order.
        let mut guards: Vec<MutexGuard<'_, QueueState>> =
            queues.iter().map(|q| q.state.lock()).collect();

        // The best call: highest effective priority now, then earliest arrival, then engine order.
        let mut best: Option<(usize, WaitKey, f64)> = None;
        for (i, qs) in guards.iter().enumerate() {
            let candidate = qs.waiting.iter().find(|(_, w)| w.needs.admit(agent, &profile.skills));
            if let Some((key, w)) = candidate {
                let score = queues[i].effective_priority(w, now);
                let better = match &best {
                    None => true,
                    Some((bi, bkey, bscore)) => {
                        let bw = &guards[*bi].waiting[bkey];
                        score > *bscore
                            || (score == *bscore
                                && (w.arrived_at, key.seq) < (bw.arrived_at, bkey.seq))
                    }
                };
                if better {
                    best = Some((i, *key, score));
                }
            }
        }

        if let Some((i, key, _)) = best {
            let q = queues[i];
            let call = guards[i].waiting[&key].call.clone();
            let needs = guards[i].waiting[&key].needs.clone();
            let idx = Indexed { agent: agent.clone(), epoch };
            let QueueState { rr_turn, .. } = &mut *guards[i];
            match self.try_reserve(q, &idx, rr_turn, &call, &needs, now) {
                TryReserve::Reserved(r) => {
                    guards[i].dequeue(&key);
                    self.set_location(&call, Location::WithAgent(agent.clone()));
                    drop(guards);
                    self.after_reservation(q, call, r, now, events);
                }
                // The agent changed meanwhile; whoever changed it dispatches it.
                TryReserve::Stale | TryReserve::NotQualified => {}
            }
            return;
        }

        let keys: IndexedKeys = queues
            .iter()
            .zip(&inputs)
            .map(|(q, k)| (q.ordinal, avail_key(q.config.policy, k)))
            .collect();
        for (guard, (_, key)) in guards.iter_mut().zip(&keys) {
            guard.available.insert(*key, Indexed { agent: agent.clone(), epoch });
        }
        let kept = self.shared.agents.get_mut(agent).is_some_and(|mut a| {
            let current = a.epoch == epoch && a.state == AgentState::Available;
            if current {
                a.indexed = keys.clone();
            }
            current
        });
        if !kept {
            // The agent moved on while we indexed it: take the entries back out.
            for (guard, (_, key)) in guards.iter_mut().zip(&keys) {
                if guard
                    .available
                    .get(key)
                    .is_some_and(|idx| &idx.agent == agent && idx.epoch == epoch)
                {
                    guard.available.remove(key);
                }
            }
        }
    }
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Relaxed);
}

fn duration_ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// How long a call waited: in its current queue, and since it first entered a queue.
#[derive(Clone, Copy)]
struct Waits {
    in_queue: Duration,
    total: Duration,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("agents", &self.shared.agents.len())
            .field("calls", &self.shared.calls.len())
            .field("queues", &self.shared.queues.len())
            .finish()
    }
}
