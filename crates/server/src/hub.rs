//! The engine's observer: fans events out to the assignment stream (synchronously, so a
//! queued call reaches its switch at once) and to the event pump (statistics, call records,
//! agent streams) over a channel, so routing never waits for them.

use std::cell::RefCell;
use std::sync::Arc;

use dashmap::DashMap;
use switchboard_proto::v1 as pb;
use switchboard_routing::{AgentId, CallId, Event, Observer, Offer, SessionChange};
use tokio::sync::broadcast;

use crate::pump::PumpMsg;

/// Default of decisions buffered per assignment watcher before it counts as lagging
/// (`server.limits.assignment_buffer`).
pub const ASSIGNMENT_BUFFER: usize = 8_192;

thread_local! {
    /// What the RPC running on this thread returns itself, so the observer does not also
    /// stream it. Set only around synchronous engine calls: no `.await` inside, so the task
    /// cannot move to another thread meanwhile.
    static INLINE: RefCell<Option<Inline>> = const { RefCell::new(None) };
}

enum Inline {
    /// Offers of this call go back in the RPC's response.
    Call(CallId),
    /// A timer pass: offers are collected and the caller decides what to stream.
    Collect(Vec<Offer>),
}

/// Runs `f` (which routes `call` and returns the decision to the caller) with offers of
/// `call` kept off the assignment stream. An offer of the call made by another thread
/// meanwhile (the call was queued and an agent freed up) still streams.
pub fn returning_offers_of<R>(call: &CallId, f: impl FnOnce() -> R) -> R {
    INLINE.with(|i| *i.borrow_mut() = Some(Inline::Call(call.clone())));
    let result = f();
    INLINE.with(|i| *i.borrow_mut() = None);
    result
}

/// Runs `f` and returns the offers made on this thread meanwhile, instead of streaming them.
pub fn collecting_offers<R>(f: impl FnOnce() -> R) -> (R, Vec<Offer>) {
    INLINE.with(|i| *i.borrow_mut() = Some(Inline::Collect(Vec::new())));
    let result = f();
    let offers = INLINE.with(|i| match i.borrow_mut().take() {
        Some(Inline::Collect(offers)) => offers,
        _ => Vec::new(),
    });
    (result, offers)
}

/// Shared by the observer and the services.
#[derive(Debug)]
pub struct Hub {
    /// Every decision made outside the RPC that routed the call.
    pub assignments: broadcast::Sender<Arc<pb::RouteDecision>>,
    /// Agent endpoints, for Connect messages built from bare offers.
    pub endpoints: DashMap<AgentId, String, foldhash::fast::RandomState>,
    /// Switch of each call in flight, for WatchAssignments filters.
    pub call_switch: DashMap<CallId, String, foldhash::fast::RandomState>,
    /// To the event pump. Unbounded so routing never blocks on it; the pump does O(1) work
    /// per message and its backlog is exported as a metric.
    pub pump: crossbeam_channel::Sender<PumpMsg>,
    /// The journal, when on: every event is appended before anyone hears of it, and decisions
    /// reach the switches only once durable.
    pub journal: Option<crate::journal::Journal>,
}

impl Hub {
    /// A hub sending to `pump`, buffering `assignment_buffer` decisions for watchers.
    pub fn new(pump: crossbeam_channel::Sender<PumpMsg>, assignment_buffer: usize) -> Hub {
        Hub {
            assignments: broadcast::channel(assignment_buffer).0,
            endpoints: DashMap::with_hasher(Default::default()),
            call_switch: DashMap::with_hasher(Default::default()),
            pump,
            journal: None,
        }
    }

    /// A hub that journals every event to `journal`.
    pub fn with_journal(
        pump: crossbeam_channel::Sender<PumpMsg>,
        assignment_buffer: usize,
        journal: Option<crate::journal::Journal>,
    ) -> Hub {
        Hub { journal, ..Hub::new(pump, assignment_buffer) }
    }

    /// The endpoint of an agent (its id when none is set).
    pub fn endpoint(&self, agent: &str) -> String {
        self.endpoints.get(agent).map(|e| e.value().clone()).unwrap_or_else(|| agent.to_string())
    }

    /// The switch that routed a call ("" when unknown).
    pub fn switch_of(&self, call: &CallId) -> String {
        self.call_switch.get(call).map(|s| s.value().clone()).unwrap_or_default()
    }

    /// Streams an offer as a Connect decision.
    pub fn publish_offer(&self, offer: &Offer) {
        let decision = pb::RouteDecision {
            call_id: offer.call.to_string(),
            action: Some(pb::route_decision::Action::Connect(pb::Connect {
                agent_id: offer.agent.to_string(),
                endpoint: self.endpoint(offer.agent.as_str()),
                queue: offer.queue.to_string(),
                offer_deadline_unix_ms: offer.deadline.as_millis() as i64,
            })),
            trace: Vec::new(),
            switch_id: self.switch_of(&offer.call),
        };
        self.publish(decision);
    }

    /// Streams a decision to every watcher (none listening is fine). With the journal on, the
    /// decision leaves once everything journaled so far is durable: a switch never rings an
    /// agent for an offer a crash could still take back.
    pub fn publish(&self, decision: pb::RouteDecision) {
        match &self.journal {
            Some(journal) => {
                let assignments = self.assignments.clone();
                journal.after_durable(journal.appended(), move || {
                    let _ = assignments.send(Arc::new(decision));
                });
            }
            None => {
                let _ = self.assignments.send(Arc::new(decision));
            }
        }
    }

    /// Sends to the pump; the pump outlives every sender but at shutdown.
    pub fn to_pump(&self, msg: PumpMsg) {
        let _ = self.pump.send(msg);
    }
}

/// The engine observer.
pub struct HubObserver(pub Arc<Hub>);

impl Observer for HubObserver {
    fn on_event(&self, event: &Event) {
        if let Some(journal) = &self.0.journal {
            journal.append(crate::journal::Record::Event(event.clone()));
        }
        if let Event::CallOffered { offer, .. } = event {
            let stream = INLINE.with(|i| match &mut *i.borrow_mut() {
                Some(Inline::Call(call)) => *call != offer.call,
                Some(Inline::Collect(offers)) => {
                    offers.push(offer.clone());
                    false
                }
                None => true,
            });
            if stream {
                self.0.publish_offer(offer);
            }
        }
        self.0.to_pump(PumpMsg::Event(event.clone()));
    }

    fn wants_sessions(&self) -> bool {
        self.0.journal.is_some()
    }

    fn on_session(&self, change: &SessionChange) {
        if let Some(journal) = &self.0.journal {
            journal.append(crate::journal::Record::Session(change.clone()));
        }
    }
}
