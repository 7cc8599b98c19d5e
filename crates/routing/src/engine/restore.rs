//! Restoring a new engine from a [`LiveState`] after a restart, and exporting one.

use std::collections::BTreeMap;

use super::*;
use crate::live::{LiveAgent, LiveCall, LiveState};

/// What [`Engine::restore`] put back.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RestoreReport {
    /// Agents restored, per state.
    pub agents: BTreeMap<AgentStateKind, usize>,
    /// Calls put back in line.
    pub calls_queued: usize,
    /// Calls put back ringing at an agent (their offer deadline still ahead).
    pub calls_offered: usize,
    /// Calls put back connected to an agent.
    pub calls_connected: usize,
    /// Reservations whose offer deadline passed while the engine was down. Their timers are
    /// due: the next [`Engine::advance`] releases the agent and puts the call back at its
    /// place in line (the head, if it waited longest).
    pub offers_expired: usize,
    /// What could not be restored and why (an unknown queue or agent after a configuration
    /// change, an agent whose call is gone).
    pub dropped: Vec<String>,
}

impl Engine {
    /// The engine's live state as plain data. Meant for quiescent moments (tests, a snapshot
    /// right after a restore): it reads entry by entry, without a global lock.
    pub fn live_state(&self) -> LiveState {
        let agents: BTreeMap<AgentId, LiveAgent> = self
            .shared
            .agents
            .iter()
            .map(|a| {
                (
                    a.key().clone(),
                    LiveAgent { state: a.state.clone(), since: a.since, epoch: a.epoch },
                )
            })
            .collect();
        let calls = self
            .shared
            .calls
            .iter()
            .filter(|c| c.location != Location::Routing)
            .map(|c| {
                let answered_at = match &c.location {
                    Location::WithAgent(agent) => {
                        self.shared.agents.get(agent).and_then(|a| match &a.state {
                            AgentState::OnCall { call, .. } if call == c.key() => {
                                Some(a.talk_started)
                            }
                            _ => None,
                        })
                    }
                    _ => None,
                };
                let live = LiveCall {
                    call: (*c.call).clone(),
                    queue: self.shared.queues[c.queue as usize].config.id.clone(),
                    seq: c.key.seq,
                    entered_at: c.entered_at,
                    first_entered: c.first_entered,
                    answered_at,
                };
                (c.key().clone(), live)
            })
            .collect();
        // Plan sessions and last agents belong to the router (`Router::live_state`).
        LiveState { agents, calls, ..LiveState::default() }
    }

    /// Puts a new engine (agents created from the configuration, no calls yet) in `state`:
    /// profiles changed through the API, agent states with their start times and epochs,
    /// calls at their place in line (same priority, arrival and tie-breaker, so the same
    /// order) with their queue entry times, so waits, wait limits, escalations and wrap-up
    /// and offer deadlines continue rather than restart. Timers already due fire on the next
    /// [`Engine::advance`]. What cannot be restored is listed in the report, never an error;
    /// restoring into an engine that already holds calls is.
    pub fn restore(&self, state: &LiveState, now: Timestamp) -> Result<RestoreReport, Error> {
        if !self.shared.calls.is_empty() {
            return Err(Error::invalid("restore", "the engine already holds calls"));
        }
        let mut report = RestoreReport::default();
        for (id, profile) in &state.profiles {
            match profile {
                Some(profile) => {
                    if let Err(e) = self.upsert_agent(profile.clone(), now) {
                        report.dropped.push(format!("agent {id}: profile refused: {e}"));
                    }
                }
                None => {
                    let _ = self.remove_agent(id);
                }
            }
        }

        // Where each held call is: with the agent whose state names it, else waiting.
        let mut holder: HashMap<CallId, AgentId> = HashMap::new();
        let mut agents: Vec<(AgentId, LiveAgent)> = Vec::with_capacity(state.agents.len());
        let mut adjusted: Vec<AgentId> = Vec::new();
        for (id, live) in &state.agents {
            let mut live = live.clone();
            let call = match &live.state {
                AgentState::Reserved { call, queue, .. } | AgentState::OnCall { call, queue } => {
                    Some((call.clone(), queue.clone()))
                }
                _ => None,
            };
            if let Some((call, queue)) = call {
                let held = state.calls.get(&call).is_some_and(|c| c.queue == queue);
                if held && !holder.contains_key(&call) {
                    holder.insert(call, id.clone());
                } else {
                    report.dropped.push(format!(
                        "agent {id}: call {call} is no longer held; the agent is available"
                    ));
                    live.state = AgentState::Available;
                    live.since = now;
                    adjusted.push(id.clone());
                }
            }
            agents.push((id.clone(), live));
        }

        let mut available = Vec::new();
        for (id, live) in agents {
            let Some(mut a) = self.shared.agents.get_mut(&id) else {
                report.dropped.push(format!("agent {id}: not in the configuration"));
                continue;
            };
            let changed = self.set_state(&mut a, live.state.clone(), now);
            debug_assert!(changed.unindex.is_none(), "a new engine's agents are logged out");
            a.since = live.since;
            a.epoch = a.epoch.max(live.epoch);
            let epoch = a.epoch;
            match &live.state {
                AgentState::Reserved { deadline, .. } => {
                    if *deadline <= now {
                        report.offers_expired += 1;
                    }
                    drop(a);
                    self.schedule(*deadline, TimerKind::OfferTimeout { agent: id.clone(), epoch });
                }
                AgentState::OnCall { call, .. } => {
                    a.talk_started =
                        state.calls.get(call).and_then(|c| c.answered_at).unwrap_or(live.since);
                }
                AgentState::WrapUp { deadline, .. } => {
                    drop(a);
                    self.schedule(*deadline, TimerKind::WrapUpEnd { agent: id.clone(), epoch });
                }
                AgentState::Available => available.push(id.clone()),
                AgentState::LoggedOut | AgentState::NotReady { .. } => {}
            }
            *report.agents.entry(live.state.kind()).or_insert(0) += 1;
        }

        let mut calls: Vec<&LiveCall> = state.calls.values().collect();
        calls.sort_by_key(|c| c.seq);
        let mut max_seq = None;
        for c in calls {
            let Ok(q) = self.queue(&c.queue) else {
                report.dropped.push(format!("call {}: queue {} is gone", c.call.id, c.queue));
                continue;
            };
            let id = c.call.id.clone();
            let key = q.wait_key(c.call.priority, c.call.arrived_at, c.seq);
            max_seq = max_seq.max(Some(c.seq));
            let needs = Needs::new(
                &q.config.required_skills,
                &c.call.required_skills,
                c.call.target_agent.clone(),
            );
            let location = match holder.get(&id) {
                Some(agent) => Location::WithAgent(agent.clone()),
                None => Location::Queued,
            };
            let answered = c.answered_at.is_some() && location != Location::Queued;
            self.shared.calls.insert(
                id.clone(),
                CallEntry {
                    call: Arc::new(c.call.clone()),
                    queue: q.ordinal,
                    needs: needs.clone(),
                    key,
                    location: location.clone(),
                    entered_at: c.entered_at,
                    first_entered: c.first_entered,
                    wait_expired: false,
                },
            );
            match location {
                Location::Queued => {
                    q.state.lock().enqueue(
                        key,
                        Waiting {
                            call: id.clone(),
                            priority: c.call.priority,
                            arrived_at: c.call.arrived_at,
                            entered_at: c.entered_at,
                            needs,
                        },
                    );
                    report.calls_queued += 1;
                }
                _ if answered => report.calls_connected += 1,
                _ => report.calls_offered += 1,
            }
            if !answered {
                // The limits count from queue entry, as they did before the restart.
                let max_wait = match (q.config.max_wait, c.call.max_wait) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                if let Some(max_wait) = max_wait {
                    self.schedule(
                        c.entered_at.plus(max_wait),
                        TimerKind::QueueTimeout { call: id.clone(), queue: q.ordinal, key },
                    );
                }
                for (step, escalation) in c.call.escalation.iter().enumerate() {
                    self.schedule(
                        c.entered_at.plus(escalation.after),
                        TimerKind::Escalate { call: id.clone(), queue: q.ordinal, key, step },
                    );
                }
            }
        }
        if let Some(max_seq) = max_seq {
            // New calls and timers sort after every restored one, as they would have.
            self.shared.seq.fetch_max(max_seq + 1, Relaxed);
        }

        let mut events = Vec::new();
        for id in adjusted {
            if let Some(a) = self.shared.agents.get(&id) {
                events.push(Event::AgentStateChanged {
                    agent: id.clone(),
                    state: a.state.clone(),
                    epoch: a.epoch,
                    at: now,
                });
            }
        }
        // Normally no call waits while an agent is available; a journal cut between two
        // reports of one change can leave both, and the agent then takes the call.
        for id in available {
            self.dispatch_agent(&id, now, &mut events);
        }
        self.emit(events);
        Ok(report)
    }
}
