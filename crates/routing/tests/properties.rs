//! Property tests over random operation sequences. After every operation:
//! * the engine's own audit holds (every call in exactly one place, every available agent
//!   indexed, and no call waits while a qualified member agent is available);
//! * no agent is offered a call while it has one (checked on the event stream);
//! * within a queue without aging, an offered call never leaves behind an earlier call of the
//!   same priority that the same agent could have taken;
//! * an agent in wrap-up is offered nothing before its wrap-up ends (unless it said ready).

mod common;

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use common::queue;
use proptest::prelude::*;
use switchboard_routing::{
    AgentId, AgentProfile, CallId, Engine, EngineConfig, Event, NewCall, Observer, OfferOutcome,
    SelectionPolicy, SkillLevel, SkillRequirement, Timestamp,
};

/// Records events and, for each offer, the calls waiting in its queue at that moment (the
/// observer runs with no engine lock held, so it may read the engine).
#[derive(Default)]
struct Recorder {
    engine: OnceLock<Engine>,
    /// Each event, with the waiting calls of every queue (in `QUEUES` order) when it was an
    /// offer.
    events: parking_lot::Mutex<Vec<(Event, Vec<Vec<CallId>>)>>,
}

impl Observer for Recorder {
    fn on_event(&self, event: &Event) {
        let waiting = match (event, self.engine.get()) {
            (Event::CallOffered { .. }, Some(engine)) => QUEUES
                .iter()
                .map(|q| engine.queue_snapshot(&(*q).into()).expect("queue").waiting)
                .collect(),
            _ => Vec::new(),
        };
        self.events.lock().push((event.clone(), waiting));
    }
}

struct World {
    engine: Engine,
    log: Arc<Recorder>,
}

#[derive(Clone, Debug)]
enum Op {
    Route { queue: usize, priority: i32, needs_fr: bool },
    Answer(usize),
    End(usize),
    Abandon(usize),
    Reject(usize),
    Ready(usize),
    NotReady(usize),
    Logout(usize),
    Login(usize),
    Reskill { agent: usize, fr: bool },
    Advance(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..3usize, 0..3i32, prop::bool::weighted(0.2))
            .prop_map(|(queue, priority, needs_fr)| Op::Route { queue, priority, needs_fr }),
        3 => (0..40usize).prop_map(Op::Answer),
        3 => (0..40usize).prop_map(Op::End),
        1 => (0..40usize).prop_map(Op::Abandon),
        1 => (0..40usize).prop_map(Op::Reject),
        2 => (0..5usize).prop_map(Op::Ready),
        1 => (0..5usize).prop_map(Op::NotReady),
        1 => (0..5usize).prop_map(Op::Logout),
        1 => (0..5usize).prop_map(Op::Login),
        1 => (0..5usize, any::<bool>()).prop_map(|(agent, fr)| Op::Reskill { agent, fr }),
        3 => (0..40_000u64).prop_map(Op::Advance),
    ]
}

/// Agent i's skills: a mix so that queues share some agents and not others.
fn skills(i: usize, fr: bool) -> Vec<SkillLevel> {
    let mut s = match i % 3 {
        0 => vec![SkillLevel::new("a", 2), SkillLevel::new("b", 1)],
        1 => vec![SkillLevel::new("b", 3), SkillLevel::new("c", 1)],
        _ => vec![SkillLevel::new("a", 1), SkillLevel::new("c", 2), SkillLevel::new("b", 1)],
    };
    if fr {
        s.push(SkillLevel::new("lang:fr", 1));
    }
    s
}

struct CallInfo {
    queue: usize,
    priority: i32,
    arrived: Timestamp,
    needs_fr: bool,
}

struct Model {
    w: World,
    now: Timestamp,
    calls: Vec<CallId>,
    info: HashMap<CallId, CallInfo>,
    agent_fr: Vec<bool>,
    /// The call each agent holds (offered or talking), per the event stream.
    holding: HashMap<AgentId, CallId>,
    /// Wrap-up end per agent, while one is pending.
    wrap_until: HashMap<AgentId, Timestamp>,
}

const QUEUES: [&str; 3] = ["qa", "qb", "qc"];

impl Model {
    fn new(policy_seed: u8) -> Model {
        let policies = SelectionPolicy::ALL;
        let mut queues = vec![
            queue("qa", "a", policies[policy_seed as usize % 6], 5),
            queue("qb", "b", policies[(policy_seed as usize + 1) % 6], 0),
            queue("qc", "c", policies[(policy_seed as usize + 2) % 6], 12),
        ];
        queues[2].priority_aging = Some(Duration::from_secs(7));
        queues[1].max_wait = Some(Duration::from_secs(90));
        queues[0].max_waiting = 6;
        let log = Arc::new(Recorder::default());
        let config = EngineConfig { queues, max_consecutive_missed: 2, seed: 3 };
        let engine = Engine::with_observer(config, log.clone()).expect("valid config");
        log.engine.set(engine.clone()).ok();
        let w = World { engine, log };
        for i in 0..5 {
            let fr = i == 4;
            w.engine
                .upsert_agent(AgentProfile::new(format!("ag{i}"), skills(i, fr)), Timestamp::ZERO)
                .expect("agent");
        }
        Model {
            w,
            now: Timestamp::ZERO,
            calls: Vec::new(),
            info: HashMap::new(),
            agent_fr: vec![false, false, false, false, true],
            holding: HashMap::new(),
            wrap_until: HashMap::new(),
        }
    }

    fn agent(i: usize) -> AgentId {
        format!("ag{i}").into()
    }

    fn call(&self, i: usize) -> Option<CallId> {
        (!self.calls.is_empty()).then(|| self.calls[i % self.calls.len()].clone())
    }

    fn apply(&mut self, op: &Op) {
        let e = &self.w.engine;
        self.now = self.now.plus(Duration::from_millis(250));
        let now = self.now;
        // Errors are expected for many random operations (wrong state); the invariants below
        // are what must hold either way.
        match op {
            Op::Route { queue, priority, needs_fr } => {
                let id: CallId = format!("c{}", self.calls.len()).into();
                let mut call = NewCall::new(id.clone(), now);
                call.priority = *priority;
                if *needs_fr {
                    call.required_skills = vec![SkillRequirement::new("lang:fr", 1)];
                }
                if e.route_call(&QUEUES[*queue].into(), call, now).is_ok() {
                    self.info.insert(
                        id.clone(),
                        CallInfo {
                            queue: *queue,
                            priority: *priority,
                            arrived: now,
                            needs_fr: *needs_fr,
                        },
                    );
                }
                self.calls.push(id);
            }
            Op::Answer(i) => {
                if let Some(c) = self.call(*i) {
                    let _ = e.call_answered(&c, now);
                }
            }
            Op::End(i) => {
                if let Some(c) = self.call(*i) {
                    let _ = e.call_ended(&c, now);
                }
            }
            Op::Abandon(i) => {
                if let Some(c) = self.call(*i) {
                    let _ = e.call_abandoned(&c, now);
                }
            }
            Op::Reject(i) => {
                if let Some(c) = self.call(*i) {
                    let _ = e.offer_failed(&c, OfferOutcome::Rejected, now);
                }
            }
            Op::Ready(a) => {
                if e.set_ready(&Self::agent(*a), now).is_ok() {
                    self.wrap_until.remove(&Self::agent(*a));
                }
            }
            Op::NotReady(a) => {
                let _ = e.set_not_ready(&Self::agent(*a), "break", now);
            }
            Op::Logout(a) => {
                let _ = e.logout(&Self::agent(*a), now);
            }
            Op::Login(a) => {
                let _ = e.login(&Self::agent(*a), true, now);
            }
            Op::Reskill { agent, fr } => {
                self.agent_fr[*agent] = *fr;
                e.upsert_agent(AgentProfile::new(Self::agent(*agent), skills(*agent, *fr)), now)
                    .expect("valid profile");
            }
            Op::Advance(ms) => {
                self.now = now.plus(Duration::from_millis(*ms));
                e.advance(self.now);
            }
        }
        self.check_events();
        let problems = self.w.engine.audit();
        assert!(problems.is_empty(), "after {op:?}: {problems:#?}");
    }

    fn check_events(&mut self) {
        let events = std::mem::take(&mut *self.w.log.events.lock());
        for (event, waiting_then) in events {
            match event {
                Event::CallOffered { offer, at } => {
                    if let Some(held) = self.holding.insert(offer.agent.clone(), offer.call.clone())
                    {
                        panic!("agent {} offered {} while holding {held}", offer.agent, offer.call);
                    }
                    if let Some(until) = self.wrap_until.get(&offer.agent) {
                        assert!(
                            at >= *until,
                            "agent {} offered {} at {at:?} in wrap-up until {until:?}",
                            offer.agent,
                            offer.call
                        );
                    }
                    self.check_best_call(&offer.call, &offer.agent, at, &waiting_then);
                }
                Event::OfferEnded { agent, call, .. } => {
                    assert_eq!(self.holding.remove(&agent), Some(call));
                }
                Event::CallEnded { agent, call, queue, at, .. } => {
                    assert_eq!(self.holding.remove(&agent), Some(call));
                    let wrap = match queue.as_str() {
                        "qa" => 5,
                        "qc" => 12,
                        _ => 0,
                    };
                    if wrap > 0 {
                        self.wrap_until.insert(agent, at.plus(Duration::from_secs(wrap)));
                    }
                }
                Event::CallAbandoned { call, .. } => {
                    self.holding.retain(|_, held| *held != call);
                }
                Event::AgentStateChanged { agent, state, .. }
                    if !matches!(state, switchboard_routing::AgentState::WrapUp { .. }) =>
                {
                    self.wrap_until.remove(&agent);
                }
                _ => {}
            }
        }
    }

    /// Effective priority of a call at `at`: queue qc ages one point per 7 s.
    /// Effective priority in milliseconds of waiting (queue qc ages one point per 7 s), in
    /// integers so that a tie is a tie (floats made 9.351714285714285 < 9.351714285714287).
    fn score(&self, call: &CallId, at: Timestamp) -> i64 {
        const AGING_MS_PER_POINT: i64 = 7_000;
        let info = &self.info[call];
        let aging_ms = if info.queue == 2 { at.since(info.arrived).as_millis() as i64 } else { 0 };
        i64::from(info.priority) * AGING_MS_PER_POINT + aging_ms
    }

    /// The offered call must be the best waiting call the agent could take across all its
    /// queues: highest effective priority, then earliest arrival.
    fn check_best_call(
        &self,
        offered: &CallId,
        agent: &AgentId,
        at: Timestamp,
        waiting_then: &[Vec<CallId>],
    ) {
        let Some(info) = self.info.get(offered) else { return };
        let index = agent.as_str()[2..].parse::<usize>().expect("ag<i>");
        let agent_fr = self.agent_fr[index];
        let skills = skills(index, agent_fr);
        let best = (self.score(offered, at), std::cmp::Reverse(info.arrived));
        for (queue, waiting) in waiting_then.iter().enumerate() {
            let skill = ["a", "b", "c"][queue];
            if !skills.iter().any(|s| s.skill.as_str() == skill) {
                continue;
            }
            for other in waiting {
                let o = &self.info[other];
                if o.needs_fr && !agent_fr {
                    continue;
                }
                let theirs = (self.score(other, at), std::cmp::Reverse(o.arrived));
                assert!(
                    theirs <= best,
                    "{offered} {best:?} was offered to {agent} though {other} {theirs:?} waits in {}",
                    QUEUES[queue]
                );
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn invariants_hold_for_every_operation_sequence(
        policy_seed in 0u8..6,
        logins in prop::collection::vec(any::<bool>(), 5),
        ops in prop::collection::vec(op(), 1..150),
    ) {
        let mut m = Model::new(policy_seed);
        for (i, ready) in logins.iter().enumerate() {
            if *ready {
                m.w.engine.login(&Model::agent(i), true, Timestamp::ZERO).expect("login");
            }
        }
        for op in &ops {
            m.apply(op);
        }
        // Drain: everyone ready, every offer answered and ended, time runs out: nothing may
        // be left waiting with a qualified agent free, and nothing may be left ringing.
        for round in 0..200 {
            for i in 0..5 {
                let _ = m.w.engine.login(&Model::agent(i), true, m.now);
                let _ = m.w.engine.set_ready(&Model::agent(i), m.now);
            }
            for c in m.calls.clone() {
                let _ = m.w.engine.call_answered(&c, m.now);
                let _ = m.w.engine.call_ended(&c, m.now);
            }
            m.apply(&Op::Advance(60_000));
            if m.w.engine.call_count() == 0 || round == 199 {
                break;
            }
        }
        // A call may be left only if it needs French and no French speaker is a member of
        // its queue.
        let skill_of_queue = ["a", "b", "c"];
        for c in &m.calls {
            if let Some(status) = m.w.engine.call_status(c) {
                let info = &m.info[c];
                let servable = (0..5).any(|i| {
                    m.agent_fr[i] && skills(i, true).iter().any(|s| s.skill.as_str() == skill_of_queue[info.queue])
                });
                prop_assert!(info.needs_fr && !servable, "{c} left in {status:?}");
            }
        }
    }
}
