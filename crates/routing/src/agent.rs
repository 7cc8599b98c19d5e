//! Agents: who they are (profile) and what they are doing (state).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::ids::{id_problem, AgentId, CallId, QueueId};
use crate::skills::{normalize_levels, SkillLevel, MAX_LEVEL, MIN_LEVEL};
use crate::time::Timestamp;

/// How many interactions of each kind an agent handles at once.
///
/// Voice is one call at a time. The struct leaves room for chat and e-mail slots later without
/// changing every signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capacity {
    /// Simultaneous voice calls; must be 1.
    pub voice: u8,
}

impl Default for Capacity {
    fn default() -> Self {
        Capacity { voice: 1 }
    }
}

/// Who an agent is: the part of an agent that configuration and the agent API change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentProfile {
    /// Unique id.
    pub id: AgentId,
    /// Name shown to supervisors.
    pub display_name: String,
    /// Skills with proficiency 1-5; normalized (sorted, one entry per skill) on upsert.
    pub skills: Vec<SkillLevel>,
    /// Free attributes: `languages`, `site`, `region`, `team`, ...
    pub attributes: BTreeMap<String, String>,
    /// Interactions at once.
    pub capacity: Capacity,
}

impl AgentProfile {
    /// An agent with the given skills and no attributes.
    pub fn new(id: impl Into<AgentId>, skills: Vec<SkillLevel>) -> AgentProfile {
        let id = id.into();
        AgentProfile {
            display_name: id.to_string(),
            id,
            skills,
            attributes: BTreeMap::new(),
            capacity: Capacity::default(),
        }
    }

    /// Checks every field and normalizes the skill list; the error names the field.
    pub(crate) fn validated(mut self) -> Result<AgentProfile, Error> {
        if let Some(problem) = id_problem(self.id.as_str()) {
            return Err(Error::invalid("agent.id", problem));
        }
        for (i, s) in self.skills.iter().enumerate() {
            if let Some(problem) = id_problem(s.skill.as_str()) {
                return Err(Error::invalid(format!("agent.skills[{i}].skill"), problem));
            }
            if !(MIN_LEVEL..=MAX_LEVEL).contains(&s.level) {
                return Err(Error::invalid(
                    format!("agent.skills[{i}].level"),
                    format!("{} is outside 1..=5", s.level),
                ));
            }
        }
        if self.capacity.voice != 1 {
            return Err(Error::invalid(
                "agent.capacity.voice",
                format!(
                    "{} is not supported; an agent takes exactly one voice call",
                    self.capacity.voice
                ),
            ));
        }
        normalize_levels(&mut self.skills);
        Ok(self)
    }
}

/// What an agent is doing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AgentState {
    /// Not working; receives nothing.
    LoggedOut,
    /// Waiting for a call.
    Available,
    /// Logged in but taking no calls, for a reason such as `break`, `training` or `missed`.
    NotReady {
        /// Reason code.
        reason: String,
    },
    /// A call is being offered (ringing) and waits for the agent to answer until `deadline`.
    Reserved {
        /// The offered call.
        call: CallId,
        /// The queue it came from.
        queue: QueueId,
        /// When the offer times out.
        deadline: Timestamp,
    },
    /// Talking.
    OnCall {
        /// The call.
        call: CallId,
        /// The queue it came from.
        queue: QueueId,
    },
    /// After-call work; available again at `deadline` or when the agent says ready.
    WrapUp {
        /// The queue whose wrap-up time applies.
        queue: QueueId,
        /// When wrap-up ends by itself.
        deadline: Timestamp,
    },
}

impl AgentState {
    /// The state without its data.
    pub fn kind(&self) -> AgentStateKind {
        match self {
            AgentState::LoggedOut => AgentStateKind::LoggedOut,
            AgentState::Available => AgentStateKind::Available,
            AgentState::NotReady { .. } => AgentStateKind::NotReady,
            AgentState::Reserved { .. } => AgentStateKind::Reserved,
            AgentState::OnCall { .. } => AgentStateKind::OnCall,
            AgentState::WrapUp { .. } => AgentStateKind::WrapUp,
        }
    }

    /// The call the agent is reserved for or talking on.
    pub fn call(&self) -> Option<&CallId> {
        match self {
            AgentState::Reserved { call, .. } | AgentState::OnCall { call, .. } => Some(call),
            _ => None,
        }
    }
}

/// [`AgentState`] without its data: for counters, errors and metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum AgentStateKind {
    /// See [`AgentState::LoggedOut`].
    LoggedOut,
    /// See [`AgentState::Available`].
    Available,
    /// See [`AgentState::NotReady`].
    NotReady,
    /// See [`AgentState::Reserved`].
    Reserved,
    /// See [`AgentState::OnCall`].
    OnCall,
    /// See [`AgentState::WrapUp`].
    WrapUp,
}

impl AgentStateKind {
    /// Every state, in display order.
    pub const ALL: [AgentStateKind; 6] = [
        AgentStateKind::LoggedOut,
        AgentStateKind::Available,
        AgentStateKind::NotReady,
        AgentStateKind::Reserved,
        AgentStateKind::OnCall,
        AgentStateKind::WrapUp,
    ];

    /// Snake-case name, as used in config, metrics and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            AgentStateKind::LoggedOut => "logged_out",
            AgentStateKind::Available => "available",
            AgentStateKind::NotReady => "not_ready",
            AgentStateKind::Reserved => "reserved",
            AgentStateKind::OnCall => "on_call",
            AgentStateKind::WrapUp => "wrap_up",
        }
    }
}

impl fmt::Display for AgentStateKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Reason code set when an agent misses too many offers in a row.
pub const REASON_MISSED: &str = "missed";

/// What an agent has done since logging in: the inputs of the fewest-calls and
/// least-talk-time policies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentCounters {
    /// Calls answered since login.
    pub calls_answered: u64,
    /// Talk time since login, in milliseconds.
    pub talk_ms: u64,
    /// Offers rejected or timed out since the last answered one.
    pub consecutive_missed: u32,
}

/// A consistent copy of one agent, for the API and supervisors.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentSnapshot {
    /// Who.
    pub profile: Arc<AgentProfile>,
    /// Doing what.
    pub state: AgentState,
    /// Since when.
    pub state_since: Timestamp,
    /// Counters since login.
    pub counters: AgentCounters,
    /// Queues this agent is qualified for, by id.
    pub queues: Vec<QueueId>,
}
