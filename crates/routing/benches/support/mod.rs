//! A contact center of a given size for the routing benchmarks.
#![allow(dead_code)]

use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use switchboard_routing::{
    AgentId, AgentProfile, CallId, Engine, EngineConfig, NewCall, QueueConfig, QueueId, Routed,
    SkillLevel, SkillRequirement, Timestamp,
};

/// Calls per timed batch: small enough that the available pool barely shrinks.
pub const BATCH: usize = 64;

pub struct Center {
    pub engine: Engine,
    pub queues: Vec<QueueId>,
    pub agents: Vec<AgentId>,
    rng: ChaCha8Rng,
    next_call: u64,
    pub now_ms: u64,
}

impl Center {
    /// `agents` agents with 1-5 random skills out of `queues` single-skill queues, all
    /// logged in and available; no wrap-up, so an ended call frees the agent at once.
    pub fn new(agents: usize, queues: usize) -> Center {
        let mut rng = ChaCha8Rng::seed_from_u64(2026);
        let configs = (0..queues)
            .map(|q| {
                let mut c = QueueConfig::new(
                    format!("q{q}"),
                    vec![SkillRequirement::new(format!("s{q}"), 1)],
                );
                c.wrap_up = Duration::ZERO;
                c.max_waiting = 1_000_000;
                c
            })
            .collect();
        let engine =
            Engine::new(EngineConfig { queues: configs, max_consecutive_missed: 0, seed: 1 })
                .expect("valid config");
        let now = Timestamp::from_millis(1);
        let mut ids = Vec::with_capacity(agents);
        for a in 0..agents {
            let skills = (0..rng.random_range(1..=5))
                .map(|_| {
                    SkillLevel::new(
                        format!("s{}", rng.random_range(0..queues)),
                        rng.random_range(1..=5),
                    )
                })
                .collect();
            let id: AgentId = format!("agent-{a}").into();
            engine.upsert_agent(AgentProfile::new(id.clone(), skills), now).expect("agent");
            engine.login(&id, true, now).expect("login");
            ids.push(id);
        }
        Center {
            engine,
            queues: (0..queues).map(|q| format!("q{q}").into()).collect(),
            agents: ids,
            rng,
            next_call: 0,
            now_ms: 2,
        }
    }

    pub fn now(&mut self) -> Timestamp {
        self.now_ms += 1;
        Timestamp::from_millis(self.now_ms)
    }

    /// A fresh call for a random queue.
    pub fn next_call(&mut self) -> (QueueId, NewCall) {
        self.next_call += 1;
        let queue = self.queues[self.rng.random_range(0..self.queues.len())].clone();
        let call = NewCall::new(
            CallId::from(format!("call-{}", self.next_call)),
            Timestamp::from_millis(self.now_ms),
        );
        (queue, call)
    }

    /// Routes one call; returns the call if an agent was reserved.
    pub fn route(&mut self) -> Option<CallId> {
        let (queue, call) = self.next_call();
        self.route_prepared(queue, call, |_| {})
    }

    /// Routes a call built beforehand; `timed` wraps exactly the engine's routing decision, so
    /// a benchmark measures the engine and not the building of the request.
    pub fn route_prepared(
        &mut self,
        queue: QueueId,
        call: NewCall,
        mut timed: impl FnMut(Duration),
    ) -> Option<CallId> {
        let id = call.id.clone();
        let now = Timestamp::from_millis(self.now_ms);
        let start = std::time::Instant::now();
        let routed = self.engine.route_call(&queue, call, now).expect("routable");
        timed(start.elapsed());
        match routed {
            Routed::Offered(_) => Some(id),
            Routed::Queued { .. } => {
                // A queue whose members are all busy: take it back out so the backlog stays
                // empty and every timed decision is a reservation.
                self.engine.withdraw_call(&id, now).expect("withdraw");
                None
            }
        }
    }

    /// Answers and ends a call: its agent becomes available and is indexed again. Fires due
    /// timers too, as the server's tick does, so stale offer timers do not pile up.
    pub fn complete(&mut self, call: &CallId) {
        let now = self.now();
        self.engine.call_answered(call, now).expect("answer");
        self.engine.call_ended(call, now).expect("end");
        self.engine.advance(now);
    }

    /// The busy hour: every agent on a call and `backlog` more calls waiting across the
    /// queues. Returns the connected calls.
    pub fn saturate(&mut self, backlog: usize) -> Vec<CallId> {
        let mut connected = Vec::new();
        let mut waiting = 0;
        while waiting < backlog {
            let (queue, call) = self.next_call();
            let id = call.id.clone();
            let now = self.now();
            match self.engine.route_call(&queue, call, now).expect("routable") {
                Routed::Offered(_) => {
                    self.engine.call_answered(&id, now).expect("answer");
                    connected.push(id);
                }
                Routed::Queued { .. } => waiting += 1,
            }
        }
        connected
    }

    /// The call an agent holds now, if any.
    pub fn call_of(&self, agent: &AgentId) -> Option<CallId> {
        self.engine.agent(agent)?.state.call().cloned()
    }

    /// The agent on a call.
    pub fn agent_on(&self, call: &CallId) -> Option<AgentId> {
        match self.engine.call_status(call)? {
            switchboard_routing::CallStatus::Connected { agent, .. }
            | switchboard_routing::CallStatus::Offered { agent, .. } => Some(agent),
            switchboard_routing::CallStatus::Queued { .. } => None,
        }
    }
}
