//! Calls as the engine sees them: who is calling, what they need, how urgent.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::ids::{id_problem, AgentId, CallId, QueueId};
use crate::skills::{SkillRequirement, MAX_LEVEL, MIN_LEVEL};
use crate::time::Timestamp;

/// Largest priority magnitude accepted; keeps aging arithmetic far from overflow.
pub const MAX_PRIORITY_ABS: i32 = 1_000_000;

/// A call handed to the engine for a queue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewCall {
    /// Unique id from the switch.
    pub id: CallId,
    /// Caller number (E.164 where known).
    pub caller: String,
    /// Dialed number (the entry point).
    pub dialed: String,
    /// Customer id from the IVR or CRM, if known.
    pub customer_id: Option<String>,
    /// Free attributes collected on the way (language, tier, account ...).
    pub attributes: BTreeMap<String, String>,
    /// Skills this call needs on top of the queue's own.
    pub required_skills: Vec<SkillRequirement>,
    /// Higher is more urgent. Calls of equal effective priority leave in arrival order.
    pub priority: i32,
    /// When the call arrived at the contact center (before any IVR). Orders calls of equal
    /// priority and ages their priority, so a call moved to another queue keeps its place in
    /// line. Queue waits do not count from here: see `queued_since`.
    pub arrived_at: Timestamp,
    /// When the call first entered a queue, if it has been in one: set by the engine on a
    /// call it hands back ([`crate::Event::QueueTimedOut`], [`crate::Engine::withdraw_call`]).
    /// A call routed again keeps it, so its total wait (`total_wait_ms` in the events) counts
    /// from there, while its wait in the new queue counts from entry into that queue. `None`
    /// for a new call: the wait starts when the engine enqueues or offers it.
    #[serde(default)]
    pub queued_since: Option<Timestamp>,
    /// Only this agent may take the call (last-agent routing, a direct connect); cleared by
    /// the first escalation step.
    pub target_agent: Option<AgentId>,
    /// Longest this call may wait in the queue before it leaves with
    /// [`crate::Event::QueueTimedOut`]; the shorter of this and the queue's `max_wait` applies.
    pub max_wait: Option<Duration>,
    /// Bullseye steps: after each step's delay in the queue, the call's extra requirements
    /// become the step's (usually fewer or lower), and any target agent is dropped.
    pub escalation: Vec<Escalation>,
}

/// One widening of a waiting call's pool of agents.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Escalation {
    /// Time in the queue after which this step applies.
    pub after: Duration,
    /// The call's extra requirements from then on (the queue's own always apply).
    pub required_skills: Vec<SkillRequirement>,
}

impl NewCall {
    /// A call with no caller data, priority 0.
    pub fn new(id: impl Into<CallId>, arrived_at: Timestamp) -> NewCall {
        NewCall {
            id: id.into(),
            caller: String::new(),
            dialed: String::new(),
            customer_id: None,
            attributes: BTreeMap::new(),
            required_skills: Vec::new(),
            priority: 0,
            arrived_at,
            queued_since: None,
            target_agent: None,
            max_wait: None,
            escalation: Vec::new(),
        }
    }

    pub(crate) fn validate(&self) -> Result<(), Error> {
        if let Some(problem) = id_problem(self.id.as_str()) {
            return Err(Error::invalid("call.id", problem));
        }
        for (i, r) in self.required_skills.iter().enumerate() {
            if let Some(problem) = id_problem(r.skill.as_str()) {
                return Err(Error::invalid(format!("call.required_skills[{i}].skill"), problem));
            }
            if !(MIN_LEVEL..=MAX_LEVEL).contains(&r.min_level) {
                return Err(Error::invalid(
                    format!("call.required_skills[{i}].min_level"),
                    format!("{} is outside 1..=5", r.min_level),
                ));
            }
        }
        if let Some(agent) = &self.target_agent {
            if let Some(problem) = id_problem(agent.as_str()) {
                return Err(Error::invalid("call.target_agent", problem));
            }
        }
        for (i, step) in self.escalation.iter().enumerate() {
            for (j, r) in step.required_skills.iter().enumerate() {
                if let Some(problem) = id_problem(r.skill.as_str()) {
                    return Err(Error::invalid(
                        format!("call.escalation[{i}].required_skills[{j}].skill"),
                        problem,
                    ));
                }
                if !(MIN_LEVEL..=MAX_LEVEL).contains(&r.min_level) {
                    return Err(Error::invalid(
                        format!("call.escalation[{i}].required_skills[{j}].min_level"),
                        format!("{} is outside 1..=5", r.min_level),
                    ));
                }
            }
        }
        if self.priority.unsigned_abs() > MAX_PRIORITY_ABS.unsigned_abs() {
            return Err(Error::invalid(
                "call.priority",
                format!("{} is outside -1000000..=1000000", self.priority),
            ));
        }
        Ok(())
    }
}

/// Where a call is, as a supervisor or the switch asks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CallStatus {
    /// Waiting in a queue.
    Queued {
        /// The queue.
        queue: QueueId,
    },
    /// Ringing an agent.
    Offered {
        /// The queue it came from.
        queue: QueueId,
        /// The agent.
        agent: AgentId,
    },
    /// Talking to an agent.
    Connected {
        /// The queue it came from.
        queue: QueueId,
        /// The agent.
        agent: AgentId,
    },
}
