//! Agent-selection policies: which of several available agents gets the next call.
//!
//! Each policy is a sort key computed when an agent becomes available and stored in the
//! queue's index, so picking an agent is taking the first entry: no scan over agents.

use serde::{Deserialize, Serialize};

/// Which available agent a queue offers its next call to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SelectionPolicy {
    /// The agent who has been available longest (the industry default; spreads work evenly).
    #[default]
    LongestIdle,
    /// Members in turn: the one whose last call from this queue is oldest, never-served first,
    /// ties in order of agent creation (Asterisk's `rrmemory`).
    RoundRobin,
    /// The agent who has answered the fewest calls since login, then longest idle.
    FewestCalls,
    /// The agent with the least talk time since login, then longest idle.
    LeastTalkTime,
    /// The agent with the highest total proficiency in the queue's skills, then longest idle.
    MostSkilled,
    /// Uniformly at random among the available members at each decision, from the engine's
    /// seeded generator.
    Random,
}

impl SelectionPolicy {
    /// Every policy.
    pub const ALL: [SelectionPolicy; 6] = [
        SelectionPolicy::LongestIdle,
        SelectionPolicy::RoundRobin,
        SelectionPolicy::FewestCalls,
        SelectionPolicy::LeastTalkTime,
        SelectionPolicy::MostSkilled,
        SelectionPolicy::Random,
    ];
}

/// Sort key of an available agent in one queue's index: lower is picked first.
/// The last field is the agent's creation ordinal, which makes keys unique and ties
/// deterministic.
pub(crate) type AvailKey = (i64, i64, u64);

/// What a policy key is computed from.
pub(crate) struct KeyInputs {
    pub(crate) idle_since_ms: u64,
    pub(crate) calls_answered: u64,
    pub(crate) talk_ms: u64,
    /// The agent's last round-robin turn in this queue, 0 if never served by it.
    pub(crate) rr_turn: u64,
    /// Sum of the agent's levels in the queue's required skills.
    pub(crate) proficiency: u32,
    pub(crate) ordinal: u64,
}

fn signed(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

pub(crate) fn avail_key(policy: SelectionPolicy, k: &KeyInputs) -> AvailKey {
    let idle = signed(k.idle_since_ms);
    match policy {
        SelectionPolicy::LongestIdle => (idle, 0, k.ordinal),
        SelectionPolicy::RoundRobin => (signed(k.rr_turn), 0, k.ordinal),
        SelectionPolicy::FewestCalls => (signed(k.calls_answered), idle, k.ordinal),
        SelectionPolicy::LeastTalkTime => (signed(k.talk_ms), idle, k.ordinal),
        SelectionPolicy::MostSkilled => (-i64::from(k.proficiency), idle, k.ordinal),
        // The order does not matter: the pick starts at a random place in the index.
        SelectionPolicy::Random => (0, 0, k.ordinal),
    }
}
