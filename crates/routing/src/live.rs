//! [`LiveState`]: the engine's live state as plain data, for journals and restarts.
//!
//! A journal folds the engine's [`Event`]s into a `LiveState` ([`LiveState::apply`]); a
//! restarted server hands the result to [`crate::Engine::restore`]. The fold keeps effects,
//! not commands: which state each agent is in (the highest epoch wins, so events reported out
//! of order by two threads still fold to the engine's state) and which calls the engine holds
//! with everything needed to put them back in line (priority, arrival, the engine's
//! tie-breaker, queue entry times). Where a held call is (waiting, ringing, connected) follows
//! from the agents: a call no agent is reserved for or talking to is waiting.
//!
//! ```
//! use switchboard_routing::{AgentState, Event, LiveState, NewCall, Timestamp};
//!
//! let mut live = LiveState::default();
//! live.apply(&Event::CallEntered {
//!     call: Box::new(NewCall::new("c1", Timestamp::from_millis(1_000))),
//!     queue: "sales".into(),
//!     seq: 7,
//!     first_entered: Timestamp::from_millis(2_000),
//!     at: Timestamp::from_millis(2_000),
//! });
//! live.apply(&Event::AgentStateChanged {
//!     agent: "a1".into(),
//!     state: AgentState::Available,
//!     epoch: 3,
//!     at: Timestamp::from_millis(500),
//! });
//! assert_eq!(live.calls.len(), 1);
//! assert_eq!(live.agents["a1"].state, AgentState::Available);
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::agent::{AgentProfile, AgentState, AgentStateKind};
use crate::call::NewCall;
use crate::event::Event;
use crate::ids::{AgentId, CallId, QueueId};
use crate::time::Timestamp;

/// Everything a restarted engine needs to carry on where the last one stopped.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LiveState {
    /// Agents whose state changed, by id. Agents missing here keep the state the
    /// configuration gives them (logged out).
    pub agents: BTreeMap<AgentId, LiveAgent>,
    /// Calls the engine held (waiting, ringing or connected), by id.
    pub calls: BTreeMap<CallId, LiveCall>,
    /// Profiles created or changed through the API after start (`None`: removed), applied
    /// over the configuration's agents before states are restored.
    pub profiles: BTreeMap<AgentId, Option<AgentProfile>>,
}

/// One agent's state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveAgent {
    /// The state.
    pub state: AgentState,
    /// When it began.
    pub since: Timestamp,
    /// The engine's epoch of that state; a change with a lower epoch is older.
    pub epoch: u64,
}

/// One call the engine held.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveCall {
    /// The call as routed to its queue.
    pub call: NewCall,
    /// Its queue.
    pub queue: QueueId,
    /// The engine's tie-breaker at entry: with priority and arrival, the place in line.
    pub seq: u64,
    /// When it entered this queue (its wait here and its timers count from here).
    pub entered_at: Timestamp,
    /// When it first entered any queue.
    pub first_entered: Timestamp,
    /// When an agent answered it, if one did.
    pub answered_at: Option<Timestamp>,
}

impl LiveState {
    /// Folds one event in. Events of calls the state does not hold are ignored (they can only
    /// be late reports of a call that already left).
    pub fn apply(&mut self, event: &Event) {
        match event {
            Event::CallEntered { call, queue, seq, first_entered, at } => {
                self.calls.insert(
                    call.id.clone(),
                    LiveCall {
                        call: (**call).clone(),
                        queue: queue.clone(),
                        seq: *seq,
                        entered_at: *at,
                        first_entered: *first_entered,
                        answered_at: None,
                    },
                );
            }
            Event::CallAnswered { call, at, .. } => {
                if let Some(c) = self.calls.get_mut(call) {
                    c.answered_at = Some(*at);
                }
            }
            Event::CallEnded { call, .. }
            | Event::CallAbandoned { call, .. }
            | Event::CallWithdrawn { call, .. } => {
                self.calls.remove(call);
            }
            Event::QueueTimedOut { call, .. } => {
                self.calls.remove(&call.id);
            }
            Event::AgentStateChanged { agent, state, epoch, at } => {
                let newer = self.agents.get(agent).is_none_or(|a| *epoch >= a.epoch);
                if newer {
                    self.agents.insert(
                        agent.clone(),
                        LiveAgent { state: state.clone(), since: *at, epoch: *epoch },
                    );
                }
            }
            Event::CallQueued { .. } | Event::CallOffered { .. } | Event::OfferEnded { .. } => {}
        }
    }

    /// An agent profile was created or changed through the API.
    pub fn upsert_profile(&mut self, profile: AgentProfile) {
        self.profiles.insert(profile.id.clone(), Some(profile));
    }

    /// An agent was deleted through the API.
    pub fn remove_agent(&mut self, agent: &AgentId) {
        self.profiles.insert(agent.clone(), None);
        self.agents.remove(agent);
    }

    /// Agents per state kind, for recovery reports.
    pub fn agents_by_state(&self) -> BTreeMap<AgentStateKind, usize> {
        let mut counts = BTreeMap::new();
        for agent in self.agents.values() {
            *counts.entry(agent.state.kind()).or_insert(0) += 1;
        }
        counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn changed(agent: &str, state: AgentState, epoch: u64) -> Event {
        Event::AgentStateChanged {
            agent: agent.into(),
            state,
            epoch,
            at: Timestamp::from_millis(epoch),
        }
    }

    #[test]
    fn a_late_report_of_an_older_change_is_ignored() {
        let mut live = LiveState::default();
        live.apply(&changed("a", AgentState::NotReady { reason: "break".into() }, 5));
        live.apply(&changed("a", AgentState::Available, 4));
        assert_eq!(live.agents["a"].state, AgentState::NotReady { reason: "break".into() });
        assert_eq!(live.agents["a"].epoch, 5);
    }

    #[test]
    fn a_call_leaves_the_state_when_its_story_ends() {
        let entered = |id: &str| Event::CallEntered {
            call: Box::new(NewCall::new(id, Timestamp::from_millis(1))),
            queue: "q".into(),
            seq: 1,
            first_entered: Timestamp::from_millis(2),
            at: Timestamp::from_millis(2),
        };
        let at = Timestamp::from_millis(9);
        let endings = [
            Event::CallEnded {
                call: "c".into(),
                agent: "a".into(),
                queue: "q".into(),
                talk_ms: 1,
                at,
            },
            Event::CallAbandoned {
                call: "c".into(),
                queue: "q".into(),
                wait_ms: 1,
                total_wait_ms: 1,
                at,
            },
            Event::CallWithdrawn { call: "c".into(), queue: "q".into(), at },
            Event::QueueTimedOut {
                call: Box::new(NewCall::new("c", Timestamp::from_millis(1))),
                queue: "q".into(),
                at,
            },
        ];
        for ending in endings {
            let mut live = LiveState::default();
            live.apply(&entered("c"));
            live.apply(&entered("other"));
            live.apply(&ending);
            assert_eq!(live.calls.keys().map(|c| c.as_str()).collect::<Vec<_>>(), ["other"]);
        }
    }
}
