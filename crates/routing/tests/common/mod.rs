//! Builders shared by the routing tests.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use switchboard_routing::{
    AgentProfile, AgentStateKind, Engine, EngineConfig, Event, EventLog, NewCall, QueueConfig,
    SelectionPolicy, SkillLevel, SkillRequirement, Timestamp,
};

pub fn t(secs: u64) -> Timestamp {
    Timestamp::from_secs(secs)
}

/// A queue needing `skill` at level 1, with `wrap_s` seconds of wrap-up.
pub fn queue(id: &str, skill: &str, policy: SelectionPolicy, wrap_s: u64) -> QueueConfig {
    let mut q = QueueConfig::new(id, vec![SkillRequirement::new(skill, 1)]);
    q.policy = policy;
    q.wrap_up = Duration::from_secs(wrap_s);
    q
}

pub struct World {
    pub engine: Engine,
    pub log: Arc<EventLog>,
}

impl World {
    pub fn new(queues: Vec<QueueConfig>) -> World {
        World::with_config(EngineConfig { queues, max_consecutive_missed: 3, seed: 7 })
    }

    pub fn with_config(config: EngineConfig) -> World {
        let log = Arc::new(EventLog::default());
        let engine = Engine::with_observer(config, log.clone()).expect("valid config");
        World { engine, log }
    }

    /// Creates agent `id` with `skills` (name, level) and logs it in (ready or not).
    pub fn agent(&self, id: &str, skills: &[(&str, u8)], ready: bool, at: Timestamp) {
        let skills = skills.iter().map(|(s, l)| SkillLevel::new(*s, *l)).collect();
        self.engine.upsert_agent(AgentProfile::new(id, skills), at).expect("valid agent");
        self.engine.login(&id.into(), ready, at).expect("login");
    }

    pub fn call(
        &self,
        queue: &str,
        id: &str,
        priority: i32,
        at: Timestamp,
    ) -> switchboard_routing::Routed {
        let mut call = NewCall::new(id, at);
        call.priority = priority;
        self.engine.route_call(&queue.into(), call, at).expect("routable")
    }

    pub fn state(&self, agent: &str) -> AgentStateKind {
        self.engine.agent(&agent.into()).expect("agent exists").state.kind()
    }

    /// The agent the call rings or talks to.
    pub fn agent_of(&self, call: &str) -> Option<String> {
        match self.engine.call_status(&call.into())? {
            switchboard_routing::CallStatus::Offered { agent, .. }
            | switchboard_routing::CallStatus::Connected { agent, .. } => Some(agent.to_string()),
            switchboard_routing::CallStatus::Queued { .. } => None,
        }
    }

    /// (call, agent) of every offer made since the last call of this method.
    pub fn offers(&self) -> Vec<(String, String)> {
        self.log
            .take()
            .into_iter()
            .filter_map(|e| match e {
                Event::CallOffered { offer, .. } => {
                    Some((offer.call.to_string(), offer.agent.to_string()))
                }
                _ => None,
            })
            .collect()
    }

    /// Answers and ends `call` at `at`.
    pub fn finish(&self, call: &str, at: Timestamp) {
        self.engine.call_answered(&call.into(), at).expect("answer");
        self.engine.call_ended(&call.into(), at).expect("end");
    }

    pub fn assert_consistent(&self) {
        let problems = self.engine.audit();
        assert!(problems.is_empty(), "engine invariants broken: {problems:#?}");
    }
}
