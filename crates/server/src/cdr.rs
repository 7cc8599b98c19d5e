//! Call records as a pure fold: engine events and the switch's facts about a call (arrival,
//! plan decisions, hang-ups in the IVR, transfers) in, finished [`CallRecord`]s and the
//! statistics they imply out. The live event pump and journal recovery run this same code, so
//! a record rebuilt after a crash is the record the pump would have written.
//!
//! No IO and no clock: every time comes from the input.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use switchboard_routing::plan::Action;
use switchboard_routing::{AgentId, AgentState, AgentStateKind, CallId, Event, QueueId, Timestamp};

use crate::records::{CallRecord, Outcome};
pub use crate::stats::Counts;

/// What the switch (through the RPCs) says about a call that the engine does not report.
/// Journaled like engine events, before the RPC that caused it is answered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CallFact {
    /// A call arrived (before it is routed, so it precedes the call's events).
    Started {
        /// Call id.
        call: CallId,
        /// Switch that sent it.
        switch_id: String,
        /// Caller number.
        caller: String,
        /// Dialed number.
        dialed: String,
        /// Customer id from the switch.
        customer_id: Option<String>,
        /// Arrival.
        at: Timestamp,
    },
    /// The plan decided; `outcome` is set when the decision ends the call's story.
    Decided {
        /// Call id.
        call: CallId,
        /// How the story ends, if it does.
        outcome: Option<Outcome>,
        /// Plan nodes visited so far.
        path: Vec<String>,
        /// When.
        at: Timestamp,
    },
    /// The caller hung up while the plan had the call (IVR).
    HungUpInIvr {
        /// Call id.
        call: CallId,
        /// When.
        at: Timestamp,
    },
    /// The switch transferred the call away.
    Transferred {
        /// Call id.
        call: CallId,
        /// When.
        at: Timestamp,
    },
    /// A `Transferred` sent ahead of ending the call did not happen after all.
    TransferCancelled(CallId),
    /// The call was rejected before routing: no record.
    Discarded(CallId),
}

impl CallFact {
    /// The plan decided `action` for `call`: the outcome is set when the decision ends the
    /// call's story (it leaves Switchboard), not when it queues, connects or asks for digits.
    pub fn decided(call: CallId, action: &Action, path: Vec<String>, at: Timestamp) -> CallFact {
        let outcome = match action {
            Action::Transfer { .. } => Some(Outcome::Transferred),
            Action::Voicemail { .. } => Some(Outcome::Voicemail),
            Action::Announce { .. } => Some(Outcome::Announced),
            Action::Hangup { .. } | Action::Refused { .. } => Some(Outcome::HungUp),
            Action::Connect { .. } | Action::Queued { .. } | Action::Collect { .. } => None,
        };
        CallFact::Decided { call, outcome, path, at }
    }
}

/// A statistic a fold step implies, for the queue it concerns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatEffect {
    /// The queue.
    pub queue: QueueId,
    /// When, Unix milliseconds.
    pub at_ms: i64,
    /// What happened.
    pub kind: StatKind,
}

/// Kinds of [`StatEffect`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StatKind {
    /// The call entered the queue (first offer or queued).
    Entered,
    /// An agent answered after `wait_ms` in the queue.
    Answered {
        /// Queue wait.
        wait_ms: u64,
    },
    /// The caller hung up after `wait_ms` without an answer.
    Abandoned {
        /// Queue wait.
        wait_ms: u64,
    },
    /// The call left the queue at its wait limit.
    Overflowed,
    /// Talk and wrap-up are over.
    Handled {
        /// Talk plus wrap-up.
        handle_ms: u64,
    },
}

/// What one fold step produced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Folded {
    /// A call's story ended: its record.
    pub record: Option<CallRecord>,
    /// The statistic it implies.
    pub stat: Option<StatEffect>,
}

/// A call record being built.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingCall {
    /// The record so far.
    pub record: CallRecord,
    /// Talk ended at (Unix ms), waiting for the end of wrap-up.
    pub talk_ended_ms: Option<i64>,
    /// The switch transferred it.
    pub transferred: bool,
}

/// Calls whose story has not ended yet.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallFold {
    /// Open records by call.
    pub calls: BTreeMap<CallId, PendingCall>,
    /// Agent in wrap-up to the call whose record waits for it.
    pub wrap: BTreeMap<AgentId, CallId>,
}

fn ms(at: Timestamp) -> i64 {
    i64::try_from(at.as_millis()).unwrap_or(i64::MAX)
}

impl CallFold {
    /// Calls with an open record.
    pub fn open_calls(&self) -> usize {
        self.calls.len()
    }

    /// Keeps only the open records of calls `keep` says are still alive (and calls whose
    /// agent is in wrap-up); the rest (calls that were in the IVR at a crash) can never end.
    pub fn retain(&mut self, keep: impl Fn(&CallId) -> bool) {
        let wrapping: std::collections::BTreeSet<CallId> = self.wrap.values().cloned().collect();
        self.calls.retain(|call, _| keep(call) || wrapping.contains(call));
    }

    /// Folds in a fact from the switch.
    pub fn fact(&mut self, fact: &CallFact) -> Folded {
        match fact {
            CallFact::Started { call, switch_id, caller, dialed, customer_id, at } => {
                let record = CallRecord {
                    call_id: call.to_string(),
                    switch_id: switch_id.clone(),
                    caller: caller.clone(),
                    dialed: dialed.clone(),
                    customer_id: customer_id.clone(),
                    arrived_at_ms: ms(*at),
                    plan_path: String::new(),
                    outcome: Outcome::HungUp,
                    queue: None,
                    offers: 0,
                    overflows: 0,
                    agent: None,
                    answered_at_ms: None,
                    ended_at_ms: 0,
                    wait_ms: None,
                    talk_ms: None,
                    wrap_ms: None,
                };
                self.calls.insert(
                    call.clone(),
                    PendingCall { record, talk_ended_ms: None, transferred: false },
                );
                Folded::default()
            }
            CallFact::Decided { call, outcome, path, at } => {
                let Some(p) = self.calls.get_mut(call) else { return Folded::default() };
                p.record.plan_path = path.join(">");
                match outcome {
                    Some(outcome) => self.finish(call, *outcome, *at, None),
                    None => Folded::default(),
                }
            }
            CallFact::HungUpInIvr { call, at } => {
                self.finish(call, Outcome::AbandonedInIvr, *at, None)
            }
            CallFact::Transferred { call, at } => {
                let waiting_for_wrap = match self.calls.get_mut(call) {
                    Some(p) => {
                        p.transferred = true;
                        p.talk_ended_ms.is_some() || p.record.answered_at_ms.is_some()
                    }
                    None => return Folded::default(),
                };
                if waiting_for_wrap {
                    Folded::default()
                } else {
                    self.finish(call, Outcome::Transferred, *at, None)
                }
            }
            CallFact::TransferCancelled(call) => {
                if let Some(p) = self.calls.get_mut(call) {
                    p.transferred = false;
                }
                Folded::default()
            }
            CallFact::Discarded(call) => {
                self.calls.remove(call);
                Folded::default()
            }
        }
    }

    /// Folds in an engine event.
    pub fn event(&mut self, event: &Event) -> Folded {
        let stat = |queue: &QueueId, at: Timestamp, kind| {
            Some(StatEffect { queue: queue.clone(), at_ms: ms(at), kind })
        };
        match event {
            Event::CallQueued { call, queue, at, .. } => {
                Folded { record: None, stat: self.entered(call, queue, *at) }
            }
            Event::CallOffered { offer, at } => {
                let stat = self.entered(&offer.call, &offer.queue, *at);
                if let Some(p) = self.calls.get_mut(&offer.call) {
                    p.record.offers += 1;
                }
                Folded { record: None, stat }
            }
            Event::OfferEnded { .. } | Event::CallEntered { .. } | Event::CallWithdrawn { .. } => {
                Folded::default()
            }
            Event::CallAnswered { call, agent, queue, wait_ms, at, .. } => {
                if let Some(p) = self.calls.get_mut(call) {
                    p.record.agent = Some(agent.to_string());
                    p.record.answered_at_ms = Some(ms(*at));
                    p.record.wait_ms = Some(*wait_ms as i64);
                }
                Folded {
                    record: None,
                    stat: stat(queue, *at, StatKind::Answered { wait_ms: *wait_ms }),
                }
            }
            Event::CallEnded { call, agent, talk_ms, at, .. } => {
                if let Some(p) = self.calls.get_mut(call) {
                    p.record.talk_ms = Some(*talk_ms as i64);
                    p.talk_ended_ms = Some(ms(*at));
                    self.wrap.insert(agent.clone(), call.clone());
                }
                Folded::default()
            }
            Event::CallAbandoned { call, queue, wait_ms, at, .. } => {
                if let Some(p) = self.calls.get_mut(call) {
                    p.record.wait_ms = Some(*wait_ms as i64);
                }
                let mut folded = self.finish(call, Outcome::Abandoned, *at, None);
                folded.stat = stat(queue, *at, StatKind::Abandoned { wait_ms: *wait_ms });
                folded
            }
            Event::QueueTimedOut { call, queue, at } => {
                if let Some(p) = self.calls.get_mut(&call.id) {
                    p.record.overflows += 1;
                }
                Folded { record: None, stat: stat(queue, *at, StatKind::Overflowed) }
            }
            Event::AgentStateChanged { agent, state, at, .. } => {
                if matches!(state, AgentState::WrapUp { .. }) {
                    return Folded::default();
                }
                match self.wrap.remove(agent) {
                    Some(call) => self.finish_handled(&call, *at),
                    None => Folded::default(),
                }
            }
        }
    }

    fn entered(&mut self, call: &CallId, queue: &QueueId, at: Timestamp) -> Option<StatEffect> {
        let first_time_here = match self.calls.get_mut(call) {
            Some(p) if p.record.queue.as_deref() == Some(queue.as_str()) => false,
            Some(p) => {
                p.record.queue = Some(queue.to_string());
                true
            }
            // Calls routed straight to the engine (no plan) still count.
            None => true,
        };
        first_time_here.then(|| StatEffect {
            queue: queue.clone(),
            at_ms: ms(at),
            kind: StatKind::Entered,
        })
    }

    /// Talk and wrap-up are over: the call counts as handled and its record is finished.
    fn finish_handled(&mut self, call: &CallId, at: Timestamp) -> Folded {
        let Some(p) = self.calls.get_mut(call) else { return Folded::default() };
        let wrap_ms = p.talk_ended_ms.map(|t| (ms(at) - t).max(0)).unwrap_or(0);
        p.record.wrap_ms = Some(wrap_ms);
        let handle_ms = p.record.talk_ms.unwrap_or(0) + wrap_ms;
        let outcome = if p.transferred { Outcome::Transferred } else { Outcome::Answered };
        let stat = p.record.queue.as_deref().map(|queue| StatEffect {
            queue: QueueId::from(queue),
            at_ms: ms(at),
            kind: StatKind::Handled { handle_ms: u64::try_from(handle_ms).unwrap_or(0) },
        });
        self.finish(call, outcome, at, stat)
    }

    fn finish(
        &mut self,
        call: &CallId,
        outcome: Outcome,
        at: Timestamp,
        stat: Option<StatEffect>,
    ) -> Folded {
        let record = self.calls.remove(call).map(|mut p| {
            p.record.outcome = outcome;
            p.record.ended_at_ms = ms(at);
            p.record
        });
        Folded { record, stat }
    }
}

/// Length of a tally bucket: the statistics interval, so a bucket never straddles an
/// interval or a local midnight (every time zone's offset is a multiple of 15 minutes).
pub const BUCKET_MS: i64 = crate::stats::INTERVAL_MINUTES * 60_000;
/// Buckets older than this before the newest are dropped: today is always within it.
const KEEP_MS: i64 = 2 * 24 * 3_600_000;

/// An agent's state as the tally times it: since when, and the queues its time counts in
/// (its memberships when the state began, as the live statistics take them).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentTime {
    /// The state's kind.
    pub kind: AgentStateKind,
    /// Since when, Unix ms.
    pub since_ms: i64,
    /// Member queues.
    pub queues: Vec<QueueId>,
}

/// The statistics of the last two days in 15-minute buckets per queue (call counters and
/// member agents' time): what today's and the interval's statistics are rebuilt from at
/// recovery.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// Service-level threshold per queue, ms (from the configuration at start).
    pub thresholds: BTreeMap<QueueId, u64>,
    /// Bucket start (Unix ms) to counters, per queue.
    pub buckets: BTreeMap<QueueId, BTreeMap<i64, Counts>>,
    /// Every agent's current state, timed: credited to the buckets when it changes.
    #[serde(default)]
    pub agents: BTreeMap<AgentId, AgentTime>,
    /// The latest time of a record folded in, Unix ms: the server was up until then.
    #[serde(default)]
    pub latest_ms: i64,
}

impl Tally {
    /// The counters of `queue` in the bucket starting at `bucket`; a new bucket drops those
    /// more than two days older.
    fn bucket(&mut self, queue: &QueueId, bucket: i64) -> &mut Counts {
        let buckets = self.buckets.entry(queue.clone()).or_default();
        if !buckets.contains_key(&bucket) {
            let keep_from = bucket - KEEP_MS;
            buckets.retain(|start, _| *start >= keep_from);
        }
        buckets.entry(bucket).or_default()
    }

    /// Counts one statistic in.
    pub fn add(&mut self, effect: &StatEffect) {
        self.saw(effect.at_ms);
        let threshold = self.thresholds.get(&effect.queue).copied().unwrap_or(0);
        let bucket = effect.at_ms - effect.at_ms.rem_euclid(BUCKET_MS);
        self.bucket(&effect.queue, bucket).count(effect.kind, threshold);
    }

    /// A record of time `at_ms` was folded in.
    pub fn saw(&mut self, at_ms: i64) {
        self.latest_ms = self.latest_ms.max(at_ms);
    }

    /// An agent's state changed to one of kind `kind` at `at_ms`: the time of the state it
    /// leaves is credited to its queues, bucket by bucket. `queues` are its memberships now;
    /// `None` when unknown (replaying the journal at recovery), and then those of its last
    /// state are kept.
    pub fn agent_changed(
        &mut self,
        agent: &AgentId,
        kind: AgentStateKind,
        at_ms: i64,
        queues: Option<Vec<QueueId>>,
    ) {
        self.saw(at_ms);
        let previous = self.agents.remove(agent);
        if let Some(track) = &previous {
            self.credit(track, at_ms);
        }
        let queues = queues.or(previous.map(|t| t.queues)).unwrap_or_default();
        self.agents.insert(agent.clone(), AgentTime { kind, since_ms: at_ms, queues });
    }

    /// The agent was deleted: its ongoing state is not credited, as in the live statistics.
    pub fn agent_removed(&mut self, agent: &AgentId) {
        self.agents.remove(agent);
    }

    /// At recovery: every ongoing state is credited up to the last record folded (the server
    /// was up until then) and timed again from `now_ms`, so the outage is not agent time.
    pub fn restart_agents(&mut self, now_ms: i64) {
        let until = self.latest_ms;
        let mut agents = std::mem::take(&mut self.agents);
        for track in agents.values_mut() {
            self.credit(track, until);
            track.since_ms = now_ms;
        }
        self.agents = agents;
        self.saw(now_ms);
    }

    /// Credits `track`'s time up to `until_ms` to its queues, split at bucket boundaries;
    /// time older than the two days kept is skipped.
    fn credit(&mut self, track: &AgentTime, until_ms: i64) {
        if crate::stats::agent_time(track.kind).is_none() || track.queues.is_empty() {
            return;
        }
        let mut from = track.since_ms.max(until_ms - KEEP_MS);
        while from < until_ms {
            let bucket = from - from.rem_euclid(BUCKET_MS);
            let to = until_ms.min(bucket + BUCKET_MS);
            let ms = u64::try_from(to - from).unwrap_or(0);
            for queue in &track.queues {
                self.bucket(queue, bucket).credit_agent(track.kind, ms);
            }
            from = to;
        }
    }

    /// The sum of `queue`'s buckets starting at or after `from_ms`.
    pub fn since(&self, queue: &QueueId, from_ms: i64) -> Counts {
        let mut sum = Counts::default();
        if let Some(buckets) = self.buckets.get(queue) {
            for c in buckets.range(from_ms..).map(|(_, c)| c) {
                sum.add(c);
            }
        }
        sum
    }
}

/// The time of an engine event.
pub fn event_time(event: &Event) -> Timestamp {
    match event {
        Event::CallEntered { at, .. }
        | Event::CallWithdrawn { at, .. }
        | Event::CallQueued { at, .. }
        | Event::CallOffered { at, .. }
        | Event::OfferEnded { at, .. }
        | Event::CallAnswered { at, .. }
        | Event::CallEnded { at, .. }
        | Event::CallAbandoned { at, .. }
        | Event::QueueTimedOut { at, .. }
        | Event::AgentStateChanged { at, .. } => *at,
    }
}

#[cfg(test)]
mod tests {
    //! Data-driven: each case is a script of inputs (one per line) and the outputs the fold
    //! must give, as text: `record CALL OUTCOME ...` for a finished record, `stat QUEUE KIND`.
    use super::*;
    use switchboard_routing::{NewCall, Offer};

    fn at(word: &str) -> Timestamp {
        Timestamp::from_millis(word.trim_start_matches('@').parse().expect("time"))
    }

    fn num(word: &str) -> u64 {
        word.split_once('=').map_or(word, |(_, v)| v).parse().expect("number")
    }

    /// One script line to a fold step.
    fn step(fold: &mut CallFold, line: &str) -> Folded {
        let w: Vec<&str> = line.split_whitespace().collect();
        let fact = |fold: &mut CallFold, fact: CallFact| fold.fact(&fact);
        let event = |fold: &mut CallFold, event: Event| fold.event(&event);
        match w[0] {
            "start" => fact(
                fold,
                CallFact::Started {
                    call: w[1].into(),
                    switch_id: "sw".into(),
                    caller: "+1".into(),
                    dialed: "+2".into(),
                    customer_id: None,
                    at: at(w[2]),
                },
            ),
            "decided" => {
                let outcome = match w[2] {
                    "transferred" => Some(Outcome::Transferred),
                    "voicemail" => Some(Outcome::Voicemail),
                    "hung_up" => Some(Outcome::HungUp),
                    "queued" => None,
                    other => panic!("outcome {other}"),
                };
                let path = vec!["menu".into(), w[2].into()];
                fact(fold, CallFact::Decided { call: w[1].into(), outcome, path, at: at(w[3]) })
            }
            "ivr_hangup" => fact(fold, CallFact::HungUpInIvr { call: w[1].into(), at: at(w[2]) }),
            "transfer" => fact(fold, CallFact::Transferred { call: w[1].into(), at: at(w[2]) }),
            "cancel_transfer" => fact(fold, CallFact::TransferCancelled(w[1].into())),
            "discard" => fact(fold, CallFact::Discarded(w[1].into())),
            "queued" => event(
                fold,
                Event::CallQueued {
                    call: w[1].into(),
                    queue: w[2].into(),
                    position: 1,
                    at: at(w[3]),
                },
            ),
            "offer" => {
                let offer = Offer {
                    call: w[1].into(),
                    agent: w[2].into(),
                    queue: w[3].into(),
                    deadline: at(w[4]),
                };
                event(fold, Event::CallOffered { offer, at: at(w[4]) })
            }
            "answer" => event(
                fold,
                Event::CallAnswered {
                    call: w[1].into(),
                    agent: w[2].into(),
                    queue: w[3].into(),
                    wait_ms: num(w[4]),
                    total_wait_ms: num(w[4]),
                    at: at(w[5]),
                },
            ),
            "end" => event(
                fold,
                Event::CallEnded {
                    call: w[1].into(),
                    agent: w[2].into(),
                    queue: w[3].into(),
                    talk_ms: num(w[4]),
                    at: at(w[5]),
                },
            ),
            "abandon" => event(
                fold,
                Event::CallAbandoned {
                    call: w[1].into(),
                    queue: w[2].into(),
                    wait_ms: num(w[3]),
                    total_wait_ms: num(w[3]),
                    at: at(w[4]),
                },
            ),
            "timeout" => event(
                fold,
                Event::QueueTimedOut {
                    call: Box::new(NewCall::new(w[1], Timestamp::ZERO)),
                    queue: w[2].into(),
                    at: at(w[3]),
                },
            ),
            "agent" => {
                let state = match w[2] {
                    "wrap_up" => AgentState::WrapUp { queue: "q".into(), deadline: at(w[3]) },
                    "available" => AgentState::Available,
                    "not_ready" => AgentState::NotReady { reason: "break".into() },
                    other => panic!("state {other}"),
                };
                event(
                    fold,
                    Event::AgentStateChanged { agent: w[1].into(), state, epoch: 0, at: at(w[3]) },
                )
            }
            other => panic!("unknown step {other}"),
        }
    }

    fn show(folded: &Folded, out: &mut Vec<String>) {
        if let Some(s) = &folded.stat {
            let kind = match s.kind {
                StatKind::Entered => "entered".to_string(),
                StatKind::Answered { wait_ms } => format!("answered wait={wait_ms}"),
                StatKind::Abandoned { wait_ms } => format!("abandoned wait={wait_ms}"),
                StatKind::Overflowed => "overflowed".to_string(),
                StatKind::Handled { handle_ms } => format!("handled {handle_ms}"),
            };
            out.push(format!("stat {} {kind} @{}", s.queue, s.at_ms));
        }
        if let Some(r) = &folded.record {
            let opt = |v: Option<i64>| v.map_or("-".to_string(), |v| v.to_string());
            out.push(format!(
                "record {} {} queue={} agent={} offers={} overflows={} wait={} talk={} wrap={} \
                 ended={} path={}",
                r.call_id,
                r.outcome.as_str(),
                r.queue.as_deref().unwrap_or("-"),
                r.agent.as_deref().unwrap_or("-"),
                r.offers,
                r.overflows,
                opt(r.wait_ms),
                opt(r.talk_ms),
                opt(r.wrap_ms),
                r.ended_at_ms,
                r.plan_path,
            ));
        }
    }

    fn run(script: &str) -> Vec<String> {
        let mut fold = CallFold::default();
        let mut out = Vec::new();
        for line in script.lines().map(str::trim).filter(|l| !l.is_empty()) {
            show(&step(&mut fold, line), &mut out);
        }
        out
    }

    const CASES: &[(&str, &str, &str)] = &[
        (
            "answered, ended, wrap-up, available",
            "start c1 @0
             decided c1 queued @1
             queued c1 q @1
             offer c1 a q @5
             answer c1 a q wait=4 @6
             end c1 a q talk=100 @106
             agent a wrap_up @106
             agent a available @130",
            "stat q entered @1
             stat q answered wait=4 @6
             stat q handled 124 @130
             record c1 answered queue=q agent=a offers=1 overflows=0 wait=4 talk=100 wrap=24 ended=130 path=menu>queued",
        ),
        (
            "offered twice (a re-offer counts, the queue entry does not), abandoned",
            "start c2 @0
             offer c2 a q @1
             offer c2 b q @3
             abandon c2 q wait=4 @5",
            "stat q entered @1
             stat q abandoned wait=4 @5
             record c2 abandoned queue=q agent=- offers=2 overflows=0 wait=4 talk=- wrap=- ended=5 path=",
        ),
        (
            "overflow to another queue counts in both",
            "start c3 @0
             queued c3 q @1
             timeout c3 q @10
             queued c3 r @10
             abandon c3 r wait=2 @12",
            "stat q entered @1
             stat q overflowed @10
             stat r entered @10
             stat r abandoned wait=2 @12
             record c3 abandoned queue=r agent=- offers=0 overflows=1 wait=2 talk=- wrap=- ended=12 path=",
        ),
        (
            "hang-up in the IVR",
            "start c4 @0
             ivr_hangup c4 @7",
            "record c4 abandoned_in_ivr queue=- agent=- offers=0 overflows=0 wait=- talk=- wrap=- ended=7 path=",
        ),
        (
            "the plan decides voicemail",
            "start c5 @0
             decided c5 voicemail @2",
            "record c5 voicemail queue=- agent=- offers=0 overflows=0 wait=- talk=- wrap=- ended=2 path=menu>voicemail",
        ),
        (
            "transferred while connected: the record waits for wrap-up",
            "start c6 @0
             offer c6 a q @1
             answer c6 a q wait=1 @2
             transfer c6 @50
             end c6 a q talk=48 @50
             agent a not_ready @60",
            "stat q entered @1
             stat q answered wait=1 @2
             stat q handled 58 @60
             record c6 transferred queue=q agent=a offers=1 overflows=0 wait=1 talk=48 wrap=10 ended=60 path=",
        ),
        (
            "a cancelled transfer ends as answered",
            "start c7 @0
             offer c7 a q @1
             answer c7 a q wait=1 @2
             transfer c7 @5
             cancel_transfer c7
             end c7 a q talk=8 @10
             agent a available @10",
            "stat q entered @1
             stat q answered wait=1 @2
             stat q handled 8 @10
             record c7 answered queue=q agent=a offers=1 overflows=0 wait=1 talk=8 wrap=0 ended=10 path=",
        ),
        (
            "transferred while queued",
            "start c8 @0
             queued c8 q @1
             transfer c8 @4",
            "stat q entered @1
             record c8 transferred queue=q agent=- offers=0 overflows=0 wait=- talk=- wrap=- ended=4 path=",
        ),
        (
            "discarded: no record; events of an unknown call still count",
            "start c9 @0
             discard c9
             ivr_hangup c9 @3
             queued x q @4",
            "stat q entered @4",
        ),
        (
            "an agent state change with no call in wrap-up finishes nothing",
            "start c10 @0
             offer c10 a q @1
             agent a available @2",
            "stat q entered @1",
        ),
    ];

    #[test]
    fn the_fold_gives_each_call_its_record_and_statistics() {
        for (name, script, want) in CASES {
            let want: Vec<String> = want.lines().map(|l| l.trim().to_string()).collect();
            assert_eq!(run(script), want, "case: {name}");
        }
    }

    #[test]
    fn a_fold_resumed_from_its_serialized_state_gives_the_same_records() {
        // What recovery does: fold part, snapshot (JSON), fold the rest.
        for (name, script, _) in CASES {
            let lines: Vec<&str> =
                script.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
            for cut in 0..=lines.len() {
                let mut fold = CallFold::default();
                let mut out = Vec::new();
                for line in &lines[..cut] {
                    show(&step(&mut fold, line), &mut out);
                }
                let json = serde_json::to_string(&fold).unwrap();
                let mut fold: CallFold = serde_json::from_str(&json).unwrap();
                for line in &lines[cut..] {
                    show(&step(&mut fold, line), &mut out);
                }
                assert_eq!(out, run(script), "case: {name}, cut after {cut} lines");
            }
        }
    }

    #[test]
    fn the_tally_sums_buckets_since_a_time_with_the_threshold_of_each_queue() {
        let mut tally = Tally::default();
        tally.thresholds.insert("q".into(), 20_000);
        let effect = |at_ms: i64, kind| StatEffect { queue: "q".into(), at_ms, kind };
        let day = 1_795_000_000_000 - 1_795_000_000_000 % 86_400_000;
        tally.add(&effect(day - 1, StatKind::Entered));
        tally.add(&effect(day + 5, StatKind::Entered));
        tally.add(&effect(day + 6, StatKind::Answered { wait_ms: 20_000 }));
        tally.add(&effect(day + BUCKET_MS, StatKind::Entered));
        tally.add(&effect(day + BUCKET_MS + 1, StatKind::Answered { wait_ms: 20_001 }));
        tally.add(&effect(day + BUCKET_MS + 2, StatKind::Abandoned { wait_ms: 3 }));
        let today = tally.since(&"q".into(), day);
        assert_eq!(
            (today.offered, today.answered, today.answered_within, today.abandoned_within),
            (2, 2, 1, 1)
        );
        assert_eq!(today.answered_wait_ms, 40_001);
        assert_eq!(tally.since(&"q".into(), day + BUCKET_MS).offered, 1);
        assert_eq!(tally.since(&"q".into(), day - BUCKET_MS).offered, 3);
        // Three days later, a new bucket drops what is older than two days.
        tally.add(&effect(day + 3 * 86_400_000, StatKind::Entered));
        assert_eq!(tally.since(&"q".into(), 0).offered, 1);
    }

    /// One agent's day through the live statistics and through the tally, then the tally
    /// restored into fresh statistics: the same agent time in the interval and the day.
    #[test]
    fn the_tally_times_agents_as_the_live_statistics_do() {
        use crate::stats::StatsState;
        use switchboard_routing::{QueueConfig, QueueSnapshot};
        let minute = 60_000;
        let day = 1_795_000_000_000 - 1_795_000_000_000 % 86_400_000;
        let q = QueueId::from("q");
        let config = QueueConfig::new("q", vec![]);
        let mut live = StatsState::new(std::slice::from_ref(&config), chrono_tz::UTC, day);
        let mut tally = Tally::default();
        let on_call = AgentState::OnCall { call: "c".into(), queue: q.clone() };
        let wrap = AgentState::WrapUp { queue: q.clone(), deadline: Timestamp::ZERO };
        let not_ready = AgentState::NotReady { reason: "break".into() };
        // Across the 00:15 bucket boundary: staffed 00:10-00:25, busy 00:14-00:21.
        let script: [(i64, &AgentState); 5] = [
            (10 * minute, &AgentState::Available),
            (14 * minute, &on_call),
            (20 * minute, &wrap),
            (21 * minute, &AgentState::Available),
            (25 * minute, &not_ready),
        ];
        let a = AgentId::from("a");
        for (at, state) in script {
            live.roll(day + at);
            live.agent_changed(&a, state, day + at, vec![q.clone()]);
            tally.agent_changed(&a, state.kind(), day + at, Some(vec![q.clone()]));
        }
        let snapshot = QueueSnapshot {
            id: q.clone(),
            waiting: vec![],
            oldest_arrival: None,
            available: vec![],
            logged_in: 1,
            estimated_wait: None,
            totals: Default::default(),
        };
        let now = day + 26 * minute;
        live.roll(now);
        let want = live.queue_view(&snapshot, now).unwrap();
        let times = |w: Option<switchboard_proto::v1::WindowStats>| {
            let w = w.unwrap();
            (w.busy_ms, w.staffed_ms)
        };
        assert_eq!(times(want.today), (7 * minute as u64, 15 * minute as u64));
        assert_eq!(times(want.interval), (6 * minute as u64, 10 * minute as u64));
        let json = serde_json::to_string(&tally).unwrap();
        let tally: Tally = serde_json::from_str(&json).unwrap();
        let mut restored = StatsState::new(&[config], chrono_tz::UTC, now);
        restored.restore(&tally);
        let got = restored.queue_view(&snapshot, now).unwrap();
        assert_eq!(times(got.today), times(want.today));
        assert_eq!(times(got.interval), times(want.interval));
    }

    #[test]
    fn a_restart_credits_agent_time_up_to_the_last_record_and_not_the_outage() {
        let q = QueueId::from("q");
        let a = AgentId::from("a");
        let t = 1_795_000_000_000 - 1_795_000_000_000 % 86_400_000;
        let mut tally = Tally::default();
        tally.agent_changed(&a, AgentStateKind::Available, t, Some(vec![q.clone()]));
        // Another record shows the server up 1 s later; it crashes, restarts a minute later.
        tally.saw(t + 1_000);
        tally.restart_agents(t + 60_000);
        assert_eq!(tally.since(&q, t).staffed_ms, 1_000);
        // Unknown memberships (a replay) keep the queues of the agent's last state.
        tally.agent_changed(&a, AgentStateKind::OnCall, t + 61_000, None);
        tally.agent_changed(&a, AgentStateKind::NotReady, t + 64_000, None);
        let today = tally.since(&q, t);
        assert_eq!((today.busy_ms, today.staffed_ms), (3_000, 5_000));
    }
}
