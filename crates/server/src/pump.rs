//! The event pump: one thread that turns engine events and RPC facts into statistics, call
//! records and agent updates, off the routing path.

use std::collections::HashMap;
use std::sync::Arc;

use crossbeam_channel::Receiver;
use parking_lot::Mutex;
use switchboard_proto::v1 as pb;
use switchboard_routing::plan::Action;
use switchboard_routing::{AgentId, AgentState, CallId, Engine, Event, QueueId, Timestamp};
use tokio::sync::broadcast;

use crate::records::{CallRecord, Outcome, RecordSink};
use crate::stats::StatsState;

/// What the pump hears about.
#[derive(Debug)]
pub enum PumpMsg {
    /// An engine event.
    Event(Event),
    /// A call arrived (sent before it is routed, so it precedes the call's events).
    CallStarted {
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
    /// A plan decision was made for a call.
    Decided {
        /// Call id.
        call: CallId,
        /// What was decided.
        action: Action,
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
    /// A call was rejected before routing: forget it without a record.
    Discard(CallId),
    /// An agent was deleted.
    AgentRemoved(AgentId),
    /// Stop after everything sent before (the engine holds a sender, so the channel never
    /// closes by itself).
    Shutdown,
    /// Answered once everything sent before it has been processed.
    Barrier(std::sync::mpsc::SyncSender<()>),
}

/// A call record being written.
#[derive(Debug)]
struct Pending {
    record: CallRecord,
    /// Talk ended at (Unix ms), waiting for the end of wrap-up.
    talk_ended_ms: Option<i64>,
    transferred: bool,
}

/// State shared with readers.
#[derive(Debug)]
pub struct PumpShared {
    /// Statistics; readers lock briefly to copy.
    pub stats: Mutex<StatsState>,
    /// Bumped after every message: watchers compare it to see whether anything changed.
    pub version: std::sync::atomic::AtomicU64,
    /// Agent updates for WatchAgent streams.
    pub agent_updates: broadcast::Sender<Arc<pb::Agent>>,
}

/// Runs until every sender is dropped; then the record sink is dropped, which flushes the
/// call records.
pub fn run(rx: Receiver<PumpMsg>, shared: Arc<PumpShared>, engine: Engine, records: RecordSink) {
    let mut pump = Pump { shared, engine, records, calls: HashMap::new(), wrap: HashMap::new() };
    for msg in rx {
        if matches!(msg, PumpMsg::Shutdown) {
            break;
        }
        pump.handle(msg);
        pump.shared.version.fetch_add(1, std::sync::atomic::Ordering::Release);
    }
    // Calls still open at shutdown are not finished stories; they are left out rather than
    // recorded with invented outcomes.
    if !pump.calls.is_empty() {
        tracing::info!(calls = pump.calls.len(), "calls in flight at shutdown are not recorded");
    }
}

struct Pump {
    shared: Arc<PumpShared>,
    engine: Engine,
    records: RecordSink,
    calls: HashMap<CallId, Pending>,
    /// Agent in wrap-up to the call whose record waits for it.
    wrap: HashMap<AgentId, CallId>,
}

impl Pump {
    fn handle(&mut self, msg: PumpMsg) {
        match msg {
            PumpMsg::Event(event) => self.event(event),
            PumpMsg::CallStarted { call, switch_id, caller, dialed, customer_id, at } => {
                let record = CallRecord {
                    call_id: call.to_string(),
                    switch_id,
                    caller,
                    dialed,
                    customer_id,
                    arrived_at_ms: at.as_millis() as i64,
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
                self.calls
                    .insert(call, Pending { record, talk_ended_ms: None, transferred: false });
            }
            PumpMsg::Decided { call, action, path, at } => {
                let Some(p) = self.calls.get_mut(&call) else { return };
                p.record.plan_path = path.join(">");
                let outcome = match action {
                    Action::Transfer { .. } => Outcome::Transferred,
                    Action::Voicemail { .. } => Outcome::Voicemail,
                    Action::Announce { .. } => Outcome::Announced,
                    Action::Hangup { .. } | Action::Refused { .. } => Outcome::HungUp,
                    Action::Connect { .. } | Action::Queued { .. } | Action::Collect { .. } => {
                        return
                    }
                };
                self.finish(&call, outcome, at);
            }
            PumpMsg::HungUpInIvr { call, at } => self.finish(&call, Outcome::AbandonedInIvr, at),
            PumpMsg::Transferred { call, at } => {
                let waiting_for_wrap = match self.calls.get_mut(&call) {
                    Some(p) => {
                        p.transferred = true;
                        p.talk_ended_ms.is_some() || p.record.answered_at_ms.is_some()
                    }
                    None => return,
                };
                if !waiting_for_wrap {
                    self.finish(&call, Outcome::Transferred, at);
                }
            }
            PumpMsg::TransferCancelled(call) => {
                if let Some(p) = self.calls.get_mut(&call) {
                    p.transferred = false;
                }
            }
            PumpMsg::Discard(call) => {
                self.calls.remove(&call);
            }
            PumpMsg::AgentRemoved(agent) => self.shared.stats.lock().agent_removed(&agent),
            PumpMsg::Shutdown => {}
            PumpMsg::Barrier(done) => {
                let _ = done.send(());
            }
        }
    }

    fn event(&mut self, event: Event) {
        let at_ms = |at: Timestamp| at.as_millis() as i64;
        match event {
            Event::CallQueued { call, queue, at, .. } => self.entered(&call, &queue, at),
            Event::CallOffered { offer, at } => {
                self.entered(&offer.call, &offer.queue, at);
                if let Some(p) = self.calls.get_mut(&offer.call) {
                    p.record.offers += 1;
                }
            }
            Event::OfferEnded { .. } | Event::CallEntered { .. } | Event::CallWithdrawn { .. } => {}
            Event::CallAnswered { call, agent, queue, wait_ms, at, .. } => {
                self.stats(at).answered(&queue, wait_ms);
                if let Some(p) = self.calls.get_mut(&call) {
                    p.record.agent = Some(agent.to_string());
                    p.record.answered_at_ms = Some(at_ms(at));
                    p.record.wait_ms = Some(wait_ms as i64);
                }
            }
            Event::CallEnded { call, agent, talk_ms, at, .. } => {
                if let Some(p) = self.calls.get_mut(&call) {
                    p.record.talk_ms = Some(talk_ms as i64);
                    p.talk_ended_ms = Some(at_ms(at));
                    self.wrap.insert(agent, call);
                }
            }
            Event::CallAbandoned { call, queue, wait_ms, at, .. } => {
                self.stats(at).abandoned(&queue, wait_ms);
                if let Some(p) = self.calls.get_mut(&call) {
                    p.record.wait_ms = Some(wait_ms as i64);
                }
                self.finish(&call, Outcome::Abandoned, at);
            }
            Event::QueueTimedOut { call, queue, at } => {
                self.stats(at).overflowed(&queue);
                if let Some(p) = self.calls.get_mut(&call.id) {
                    p.record.overflows += 1;
                }
            }
            Event::AgentStateChanged { agent, state, at, .. } => {
                let snapshot = self.engine.agent(&agent);
                let queues = snapshot.as_ref().map(|a| a.queues.clone()).unwrap_or_default();
                self.stats(at).agent_changed(&agent, &state, at_ms(at), queues);
                if !matches!(state, AgentState::WrapUp { .. }) {
                    if let Some(call) = self.wrap.remove(&agent) {
                        self.finish_handled(&call, at);
                    }
                }
                if let Some(snapshot) = snapshot {
                    let _ =
                        self.shared.agent_updates.send(Arc::new(crate::convert::agent(&snapshot)));
                }
            }
        }
    }

    fn stats(&self, at: Timestamp) -> parking_lot::MutexGuard<'_, StatsState> {
        let mut stats = self.shared.stats.lock();
        stats.roll(at.as_millis() as i64);
        stats
    }

    fn entered(&mut self, call: &CallId, queue: &QueueId, at: Timestamp) {
        let first_time_here = match self.calls.get_mut(call) {
            Some(p) if p.record.queue.as_deref() == Some(queue.as_str()) => false,
            Some(p) => {
                p.record.queue = Some(queue.to_string());
                true
            }
            // Calls routed straight to the engine (no plan) still count.
            None => true,
        };
        if first_time_here {
            self.stats(at).entered(queue);
        }
    }

    /// Talk and wrap-up are over: the call counts as handled and its record is written.
    fn finish_handled(&mut self, call: &CallId, at: Timestamp) {
        let Some(p) = self.calls.get_mut(call) else { return };
        let wrap_ms = p.talk_ended_ms.map(|t| (at.as_millis() as i64 - t).max(0)).unwrap_or(0);
        p.record.wrap_ms = Some(wrap_ms);
        let handle_ms = p.record.talk_ms.unwrap_or(0) + wrap_ms;
        let queue = p.record.queue.clone();
        let outcome = if p.transferred { Outcome::Transferred } else { Outcome::Answered };
        if let Some(queue) = queue {
            self.stats(at).handled(&QueueId::from(queue.as_str()), handle_ms as u64);
        }
        self.finish(call, outcome, at);
    }

    fn finish(&mut self, call: &CallId, outcome: Outcome, at: Timestamp) {
        if let Some(mut p) = self.calls.remove(call) {
            p.record.outcome = outcome;
            p.record.ended_at_ms = at.as_millis() as i64;
            self.records.send(p.record);
        }
    }
}
