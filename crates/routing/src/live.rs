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
    /// Calls inside a routing plan (in the IVR, or queued with somewhere to go on timeout),
    /// by id: restored by [`crate::plan::Router::restore_sessions`].
    #[serde(default)]
    pub sessions: BTreeMap<CallId, LiveSession>,
    /// Customer key (customer id or caller number) to the agent who last answered them.
    #[serde(default)]
    pub last_agents: BTreeMap<String, LiveLastAgent>,
    /// The router pruned last-agent entries answered before this (older than the longest
    /// lookback of the configuration): older entries are dropped by
    /// [`LiveState::prune_last_agents`] and ignored when folded.
    #[serde(default)]
    pub last_agents_expired_before: Timestamp,
    /// Positions of the `percentage` and `round_robin` nodes.
    #[serde(default)]
    pub splits: LiveSplits,
}

/// Where the splits of the router's current configuration are: a count of picks per node.
/// A split's state after `n` picks is its state after `n mod sum(weights)` picks, so the
/// count is all a restart needs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveSplits {
    /// The router's configuration generation the picks were made in. Picks of a newer
    /// generation (a reload) start the counts over; picks of an older one (a call finishing
    /// its plan in the configuration it started in) do not count.
    pub generation: u64,
    /// Plan name to node name to picks since that configuration was loaded.
    pub picks: BTreeMap<String, BTreeMap<String, u64>>,
}

impl LiveSplits {
    /// Forgets every position and moves to the next generation, as a configuration load
    /// does: for a restart with a configuration other than the one journaled last. Picks the
    /// restored router makes then count from zero, in a generation newer than any journaled.
    pub fn start_over(&mut self) {
        self.generation += 1;
        self.picks.clear();
    }

    /// Picks of `node` of `plan` so far.
    pub fn picks_of(&self, plan: &str, node: &str) -> u64 {
        self.picks.get(plan).and_then(|nodes| nodes.get(node)).copied().unwrap_or(0)
    }
}

/// A call's routing-plan session as plain data. Plans and nodes are named, not indexed, so a
/// session survives a restart with a configuration whose plans were reordered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveSession {
    /// The call as the plan has it (attributes collected so far, priority).
    pub call: NewCall,
    /// The plan's name.
    pub plan: String,
    /// The input node waiting for digits, if the call is in the IVR.
    pub awaiting: Option<LiveAwaiting>,
    /// The node the plan goes on to if the call times out of its queue.
    pub resume: Option<String>,
    /// The call timed out of its queue and its plan goes on at `resume`, a step not taken
    /// yet when the journal ended: [`crate::plan::Router::restore_sessions`] takes it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub leaving_queue: bool,
    /// The session as its previous step left it (at a prompt, or leaving a queue), kept while
    /// the step into a queue is journaled but that queue's `CallEntered` is not yet: the two
    /// are separate records, and a journal that ends between them restores this one, whose
    /// step was acknowledged, rather than a queued call no queue holds. The `CallEntered`
    /// clears it. Only the fold sets it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before_queue: Option<Box<LiveSession>>,
    /// Nodes visited so far.
    pub trace: Vec<LiveTraceStep>,
}

/// An IVR node waiting for the caller.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveAwaiting {
    /// The node's name.
    pub node: String,
    /// Retries left there.
    pub retries_left: u32,
}

/// One step of a session's trace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveTraceStep {
    /// Node name.
    pub node: String,
    /// Node type.
    pub kind: String,
    /// What was decided there.
    pub note: String,
}

/// The agent who last answered a customer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveLastAgent {
    /// The agent.
    pub agent: AgentId,
    /// When they answered.
    pub at: Timestamp,
}

/// A change of plan state the router reports to its observer
/// ([`crate::Observer::on_session`]), to fold with [`LiveState::apply_session`]. A session
/// ends without a change of its own when its call's story ends in the engine (answered call
/// ended, abandoned, withdrawn, timed out of a queue with no overflow branch): the event folds
/// that. A plan step is one change (a session replaced or removed), never a removal then an
/// upsert, so a crash between the two cannot lose a call whose step was not acknowledged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SessionChange {
    /// A session began or changed (took a step). Reported before the `CallEntered` of the
    /// queue it enters.
    Upserted(Box<LiveSession>),
    /// A session ended while no engine event says so (the IVR hung up, the plan ended after
    /// input or after an overflow branch, the queue refused the call).
    Removed(CallId),
    /// An agent answered a customer (or an import said so).
    LastAgent {
        /// Customer id or caller number.
        customer: String,
        /// The agent and when.
        last: LiveLastAgent,
    },
    /// The router pruned the last-agent entries answered before `before`: no last-agent
    /// node of its configuration looks back that far.
    LastAgentsExpired {
        /// Entries answered earlier are gone.
        before: Timestamp,
    },
    /// A `percentage` or `round_robin` node picked a branch.
    SplitPicked {
        /// The router's configuration generation ([`LiveSplits::generation`]).
        generation: u64,
        /// The plan's name.
        plan: String,
        /// The node's name.
        node: String,
        /// Picks of this node in this generation, this one included: reports of two
        /// concurrent picks may arrive in either order, the highest count wins.
        picks: u64,
    },
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
                if let Some(session) = self.sessions.get_mut(&call.id) {
                    session.before_queue = None;
                }
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
                self.sessions.remove(call);
            }
            Event::QueueTimedOut { call, .. } => {
                self.calls.remove(&call.id);
                // A plan with an overflow branch places the call again: until that step is
                // reported (a session change), the session stays, leaving its queue, so a
                // crash before it does not lose the call.
                match self.sessions.get_mut(&call.id) {
                    Some(session) if session.resume.is_some() => {
                        session.call = (**call).clone();
                        session.leaving_queue = true;
                    }
                    _ => {
                        self.sessions.remove(&call.id);
                    }
                }
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

    /// Folds one change of plan state in.
    pub fn apply_session(&mut self, change: &SessionChange) {
        match change {
            SessionChange::Upserted(session) => {
                let mut session = (**session).clone();
                let previous = self.sessions.remove(&session.call.id);
                if session.awaiting.is_none() && !session.leaving_queue {
                    // A step into a queue: until its CallEntered, the last acknowledged
                    // version is the one to restore.
                    session.before_queue = previous.and_then(|mut before| {
                        if before.awaiting.is_some() || before.leaving_queue {
                            before.before_queue = None;
                            Some(Box::new(before))
                        } else {
                            before.before_queue
                        }
                    });
                }
                self.sessions.insert(session.call.id.clone(), session);
            }
            SessionChange::Removed(call) => {
                self.sessions.remove(call);
            }
            SessionChange::LastAgent { customer, last } => {
                let newer = last.at >= self.last_agents_expired_before
                    && self.last_agents.get(customer).is_none_or(|l| last.at >= l.at);
                if newer {
                    self.last_agents.insert(customer.clone(), last.clone());
                }
            }
            SessionChange::LastAgentsExpired { before } => {
                // Only the bound moves here: pruning is a scan of every entry, done when a
                // snapshot is taken (which writes every entry anyway).
                self.last_agents_expired_before = self.last_agents_expired_before.max(*before);
            }
            SessionChange::SplitPicked { generation, plan, node, picks } => {
                if *generation > self.splits.generation {
                    self.splits = LiveSplits { generation: *generation, picks: BTreeMap::new() };
                }
                if *generation == self.splits.generation {
                    let count = self
                        .splits
                        .picks
                        .entry(plan.clone())
                        .or_default()
                        .entry(node.clone())
                        .or_insert(0);
                    *count = (*count).max(*picks);
                }
            }
        }
    }

    /// Drops the last-agent entries answered before [`LiveState::last_agents_expired_before`],
    /// so a snapshot holds only customers served within the configuration's lookback.
    pub fn prune_last_agents(&mut self) {
        let before = self.last_agents_expired_before;
        self.last_agents.retain(|_, last| last.at >= before);
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
