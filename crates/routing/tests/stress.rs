//! Many threads route, answer, end, abandon, reject and toggle agents at once; afterwards the
//! engine must be consistent and every call accounted for exactly once, and the events folded
//! in the order the observer received them (as the journal folds them) must give the engine's
//! own state. The assertions do not depend on the interleaving. Every loop also stops at a shared deadline, so a stuck engine
//! fails the test instead of hanging it.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::queue;
use parking_lot::Mutex;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use switchboard_routing::{
    AgentId, AgentProfile, AgentState, CallId, Engine, EngineConfig, Error, Event, LiveState,
    NewCall, Observer, OfferOutcome, SelectionPolicy, SkillLevel, Timestamp,
};

const AGENTS: usize = 60;
const CALLERS: usize = 3;
const CALLS_PER_CALLER: usize = 20_000;
/// The whole run normally takes a few seconds; past this the engine is taken to be stuck.
const DEADLINE: Duration = Duration::from_secs(120);

/// Set by the first thread that sees the deadline pass; every loop stops on it.
struct Watchdog {
    until: Instant,
    expired: AtomicBool,
}

impl Watchdog {
    fn expired(&self) -> bool {
        if Instant::now() > self.until {
            self.expired.store(true, SeqCst);
        }
        self.expired.load(SeqCst)
    }
}

/// Offers are handed to "switch" threads through this observer, which also counts outcomes
/// and folds every event into a [`LiveState`] in the order received, like the journal.
#[derive(Default)]
struct Switchboard {
    live: Mutex<LiveState>,
    offers: Mutex<Vec<(CallId, AgentId)>>,
    offered: AtomicU64,
    offer_ends: AtomicU64,
    answered: AtomicU64,
    ended: AtomicU64,
    abandoned: AtomicU64,
    timed_out: AtomicU64,
}

impl Observer for Switchboard {
    fn on_event(&self, event: &Event) {
        self.live.lock().apply(event);
        match event {
            Event::CallOffered { offer, .. } => {
                self.offered.fetch_add(1, SeqCst);
                self.offers.lock().push((offer.call.clone(), offer.agent.clone()));
            }
            Event::OfferEnded { .. } => {
                self.offer_ends.fetch_add(1, SeqCst);
            }
            Event::CallAnswered { .. } => {
                self.answered.fetch_add(1, SeqCst);
            }
            Event::CallEnded { .. } => {
                self.ended.fetch_add(1, SeqCst);
            }
            Event::CallAbandoned { .. } => {
                self.abandoned.fetch_add(1, SeqCst);
            }
            Event::QueueTimedOut { .. } => {
                self.timed_out.fetch_add(1, SeqCst);
            }
            _ => {}
        }
    }
}

#[test]
fn concurrent_operations_keep_the_engine_consistent() {
    let policies =
        [SelectionPolicy::LongestIdle, SelectionPolicy::RoundRobin, SelectionPolicy::Random];
    let mut queues: Vec<_> =
        ["q0", "q1", "q2"].iter().zip(policies).map(|(q, p)| queue(q, q, p, 1)).collect();
    queues[2].max_wait = Some(std::time::Duration::from_secs(30));
    let board = Arc::new(Switchboard::default());
    let engine = Engine::with_observer(
        EngineConfig { queues, max_consecutive_missed: 0, seed: 1 },
        board.clone(),
    )
    .expect("config");
    for i in 0..AGENTS {
        let skills = (0..3)
            .filter(|q| (i + q) % 3 != 0 || i % 5 == 0)
            .map(|q| SkillLevel::new(format!("q{q}"), 1 + (i % 5) as u8))
            .collect();
        engine
            .upsert_agent(AgentProfile::new(format!("a{i}"), skills), Timestamp::ZERO)
            .expect("agent");
        engine.login(&format!("a{i}").into(), true, Timestamp::ZERO).expect("login");
    }
    // A logical clock shared by all threads; the engine only needs it to be plausible.
    let clock = Arc::new(AtomicU64::new(1_000));
    let now = {
        let clock = clock.clone();
        move || Timestamp::from_millis(clock.fetch_add(1, SeqCst))
    };
    let routed = Arc::new(AtomicUsize::new(0));
    let refused = Arc::new(AtomicUsize::new(0));
    let callers_done = Arc::new(AtomicUsize::new(0));
    // A call about to be routed that another thread hangs up at once, racing the routing (a
    // caller who hangs up while RouteCall is in flight).
    let racing: Arc<Mutex<Option<CallId>>> = Arc::new(Mutex::new(None));
    // Agents on a call, as the switch threads see them: set when a switch thread connects a
    // call and cleared only when that thread hangs it up, a few rounds later. Any thread that
    // connects a call to an agent whose slot is taken has caught a double booking.
    let talking: Arc<Vec<Mutex<Option<CallId>>>> =
        Arc::new((0..AGENTS).map(|_| Mutex::new(None)).collect());
    let double_bookings = Arc::new(AtomicUsize::new(0));
    let watchdog = Watchdog { until: Instant::now() + DEADLINE, expired: AtomicBool::new(false) };
    let watchdog = &watchdog;

    thread::scope(|s| {
        for caller in 0..CALLERS {
            let (engine, now, routed, refused, done, racing) = (
                engine.clone(),
                now.clone(),
                routed.clone(),
                refused.clone(),
                callers_done.clone(),
                racing.clone(),
            );
            s.spawn(move || {
                let mut rng = ChaCha8Rng::seed_from_u64(caller as u64);
                for n in 0..CALLS_PER_CALLER {
                    // Callers keep a few hundred calls in the system, like a busy center, rather
                    // than filling every queue to its limit.
                    while engine.call_count() > 300 && !watchdog.expired() {
                        thread::yield_now();
                    }
                    if watchdog.expired() {
                        break;
                    }
                    let id: CallId = format!("c{caller}-{n}").into();
                    let mut call = NewCall::new(id.clone(), now());
                    call.priority = rng.random_range(0..3);
                    let queue = format!("q{}", rng.random_range(0..3));
                    if n % 8 == 0 {
                        *racing.lock() = Some(id.clone());
                    }
                    match engine.route_call(&queue.into(), call, now()) {
                        Ok(_) => routed.fetch_add(1, SeqCst),
                        Err(_) => refused.fetch_add(1, SeqCst),
                    };
                    if rng.random_bool(0.1) {
                        let _ = engine.call_abandoned(&id, now());
                    }
                }
                done.fetch_add(1, SeqCst);
            });
        }
        for switch in 0..2 {
            let (engine, now, board, talking, doubles, done) = (
                engine.clone(),
                now.clone(),
                board.clone(),
                talking.clone(),
                double_bookings.clone(),
                callers_done.clone(),
            );
            s.spawn(move || {
                let mut rng = ChaCha8Rng::seed_from_u64(100 + switch);
                // Calls this thread connected: (call, agent slot, rounds left before hang-up).
                let mut connected: Vec<(CallId, usize, u32)> = Vec::new();
                loop {
                    let batch: Vec<_> = std::mem::take(&mut *board.offers.lock());
                    if watchdog.expired()
                        || (batch.is_empty()
                            && connected.is_empty()
                            && done.load(SeqCst) == CALLERS
                            && engine.call_count() == 0)
                    {
                        break;
                    }
                    if batch.is_empty() {
                        thread::yield_now();
                    }
                    for (call, agent) in batch {
                        let slot = agent.as_str()[1..].parse::<usize>().expect("a<i>");
                        if rng.random_bool(0.1) {
                            let _ = engine.offer_failed(&call, OfferOutcome::Rejected, now());
                            continue;
                        }
                        if engine.call_answered(&call, now()).is_ok() {
                            if talking[slot].lock().replace(call.clone()).is_some() {
                                doubles.fetch_add(1, SeqCst);
                            }
                            connected.push((call, slot, rng.random_range(1..4)));
                        }
                    }
                    // Hang up calls whose talk is over; the slot is freed before the engine
                    // frees the agent, so a correct engine never offers into a taken slot.
                    for held in &mut connected {
                        held.2 -= 1;
                        if held.2 == 0 {
                            let mut slot = talking[held.1].lock();
                            if slot.as_ref() == Some(&held.0) {
                                slot.take();
                            }
                            drop(slot);
                            engine.call_ended(&held.0, now()).expect("a connected call ends");
                        }
                    }
                    connected.retain(|held| held.2 > 0);
                }
            });
        }
        {
            let (engine, now, done, racing) =
                (engine.clone(), now.clone(), callers_done.clone(), racing.clone());
            s.spawn(move || {
                while done.load(SeqCst) < CALLERS && !watchdog.expired() {
                    let Some(call) = racing.lock().take() else {
                        thread::yield_now();
                        continue;
                    };
                    // Until the engine takes the hang-up or the call turns out to be gone (or
                    // refused, or already answered): a bounded number of tries.
                    for _ in 0..1_000 {
                        match engine.call_abandoned(&call, now()) {
                            Err(Error::UnknownCall(_)) | Err(Error::CallStateMismatch { .. }) => {
                                thread::yield_now()
                            }
                            _ => break,
                        }
                    }
                }
            });
        }
        {
            let (engine, done, clock) = (engine.clone(), callers_done.clone(), clock.clone());
            s.spawn(move || {
                // Agents take breaks and come back; timers fire.
                let mut rng = ChaCha8Rng::seed_from_u64(999);
                while done.load(SeqCst) < CALLERS && !watchdog.expired() {
                    let agent: AgentId = format!("a{}", rng.random_range(0..AGENTS)).into();
                    let t = Timestamp::from_millis(clock.load(SeqCst));
                    match rng.random_range(0..4) {
                        0 => drop(engine.set_not_ready(&agent, "break", t)),
                        1 => drop(engine.set_ready(&agent, t)),
                        _ => drop(engine.advance(t)),
                    }
                }
                // Everyone back, and time moves past every wrap-up and queue limit.
                for i in 0..AGENTS {
                    let _ = engine.set_ready(
                        &format!("a{i}").into(),
                        Timestamp::from_millis(clock.load(SeqCst)),
                    );
                }
                // Until the engine is drained: the last wrap-ups may begin after the callers
                // are done, and the calls they free must still be offered and ended.
                while engine.call_count() > 0 && !watchdog.expired() {
                    let t = clock.fetch_add(5_000, SeqCst);
                    engine.advance(Timestamp::from_millis(t));
                    thread::yield_now();
                }
            });
        }
    });

    assert!(
        !watchdog.expired.load(SeqCst),
        "not drained within {DEADLINE:?}: {} calls left, audit {:#?}",
        engine.call_count(),
        engine.audit()
    );
    // Wrap-up timers armed by the last call endings fire now that every thread is done.
    engine.advance(Timestamp::from_millis(clock.load(SeqCst) + 60_000));
    let problems = engine.audit();
    assert!(problems.is_empty(), "{problems:#?}");
    assert_eq!(double_bookings.load(SeqCst), 0, "an agent talked on two calls");
    assert_eq!(engine.call_count(), 0, "calls left in the engine");
    let routed = routed.load(SeqCst) as u64;
    assert_eq!(routed + refused.load(SeqCst) as u64, (CALLERS * CALLS_PER_CALLER) as u64);
    // Every routed call ended exactly one way.
    let (answered, ended, abandoned, timed_out) = (
        board.answered.load(SeqCst),
        board.ended.load(SeqCst),
        board.abandoned.load(SeqCst),
        board.timed_out.load(SeqCst),
    );
    assert_eq!(answered, ended, "every answered call ended");
    assert_eq!(answered + abandoned + timed_out, routed, "each call has exactly one outcome");
    // Every offer was answered, or ended unanswered (rejected, timed out, abandoned while ringing).
    assert_eq!(board.offered.load(SeqCst), answered + board.offer_ends.load(SeqCst));
    let totals: Vec<_> = ["q0", "q1", "q2"]
        .iter()
        .map(|q| engine.queue_totals(&(*q).into()).expect("queue"))
        .collect();
    assert_eq!(totals.iter().map(|t| t.entered).sum::<u64>(), routed);
    assert_eq!(totals.iter().map(|t| t.answered).sum::<u64>(), answered);
    assert_eq!(
        totals.iter().map(|t| t.abandoned + t.timed_out).sum::<u64>(),
        abandoned + timed_out
    );
    let folded = board.live.lock().clone();
    let engine_state = engine.live_state();
    assert_eq!(
        folded.calls.keys().collect::<Vec<_>>(),
        Vec::<&CallId>::new(),
        "the fold of the reported events holds calls the engine let go: an end was reported before its entry"
    );
    assert_eq!(
        folded.agents, engine_state.agents,
        "the fold of the reported events disagrees with the engine"
    );
    for agent in engine.agents() {
        assert!(
            matches!(agent.state, AgentState::Available | AgentState::NotReady { .. }),
            "{} ended in {:?}",
            agent.profile.id,
            agent.state
        );
    }
    eprintln!("stress: routed {routed}, answered {answered}, abandoned {abandoned}, timed out {timed_out}, offers {}", board.offered.load(SeqCst));
    assert!(answered > 10_000, "the test exercised little: {answered} answered");
}
