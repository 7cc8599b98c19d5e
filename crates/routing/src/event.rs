//! Events: everything the engine did, for statistics, call records, streams and tests.

use serde::{Deserialize, Serialize};

use crate::agent::AgentState;
use crate::call::NewCall;
use crate::ids::{AgentId, CallId, QueueId};
use crate::time::Timestamp;

/// An offer of a call to an agent: what the switch must connect.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offer {
    /// The call.
    pub call: CallId,
    /// The agent it rings.
    pub agent: AgentId,
    /// The queue it came from.
    pub queue: QueueId,
    /// When the offer times out.
    pub deadline: Timestamp,
}

/// Why an offer ended without an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OfferOutcome {
    /// The agent (or their phone) declined.
    Rejected,
    /// Nobody answered before the deadline.
    TimedOut,
    /// The agent logged out while it rang; not counted against the agent.
    Withdrawn,
}

/// Something that happened, stamped with the engine time it happened at.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Event {
    /// A call was admitted to a queue: everything needed to put it back in line after a
    /// restart. Reported before the `CallQueued` or `CallOffered` that follows from it.
    CallEntered {
        /// The call as routed (requirements, priority, arrival, wait limit, escalation).
        call: Box<NewCall>,
        /// The queue.
        queue: QueueId,
        /// The engine's tie-breaker among calls of equal priority and arrival.
        seq: u64,
        /// When the call first entered any queue (before an overflow, if any).
        first_entered: Timestamp,
        /// When it entered this queue.
        at: Timestamp,
    },
    /// A waiting call was taken out of its queue by its owner (a transfer); it is no longer
    /// in the engine.
    CallWithdrawn {
        /// The call.
        call: CallId,
        /// The queue it left.
        queue: QueueId,
        /// When.
        at: Timestamp,
    },
    /// A call entered a queue and waits; `position` is 1 for the front.
    CallQueued {
        /// The call.
        call: CallId,
        /// The queue.
        queue: QueueId,
        /// Place in line, 1-based.
        position: usize,
        /// When.
        at: Timestamp,
    },
    /// A call was offered to an agent.
    CallOffered {
        /// The offer.
        offer: Offer,
        /// When.
        at: Timestamp,
    },
    /// An offer ended unanswered; the call went back to its queue at its old place.
    OfferEnded {
        /// The call.
        call: CallId,
        /// The agent.
        agent: AgentId,
        /// Why.
        outcome: OfferOutcome,
        /// When.
        at: Timestamp,
    },
    /// The agent answered.
    CallAnswered {
        /// The call.
        call: CallId,
        /// The agent.
        agent: AgentId,
        /// The queue.
        queue: QueueId,
        /// How long the caller waited in this queue, in milliseconds: from entry into the
        /// queue, not arrival (time in the IVR does not count). Per-queue service level,
        /// ASA and abandons within threshold are computed from it.
        wait_ms: u64,
        /// How long the caller waited in line in all: from entry into the first queue, so it
        /// includes an earlier queue the call overflowed from. Equals `wait_ms` for a call
        /// that only saw one queue; the contact center's ASA is computed from it.
        total_wait_ms: u64,
        /// When.
        at: Timestamp,
    },
    /// A connected call ended.
    CallEnded {
        /// The call.
        call: CallId,
        /// The agent.
        agent: AgentId,
        /// The queue.
        queue: QueueId,
        /// Talk time in milliseconds.
        talk_ms: u64,
        /// When.
        at: Timestamp,
    },
    /// The caller hung up before an agent answered.
    CallAbandoned {
        /// The call.
        call: CallId,
        /// The queue.
        queue: QueueId,
        /// How long the caller waited in this queue, in milliseconds: from entry into the
        /// queue, not arrival (time in the IVR does not count). Per-queue service level,
        /// ASA and abandons within threshold are computed from it.
        wait_ms: u64,
        /// How long the caller waited in line in all: from entry into the first queue, so it
        /// includes an earlier queue the call overflowed from. Equals `wait_ms` for a call
        /// that only saw one queue; the contact center's ASA is computed from it.
        total_wait_ms: u64,
        /// When.
        at: Timestamp,
    },
    /// A call waited `max_wait` and left its queue; the owner decides what comes next (an
    /// overflow branch, voicemail). The call is no longer in the engine.
    QueueTimedOut {
        /// The call as it was routed, so it can be routed again with its arrival time.
        call: Box<NewCall>,
        /// The queue it left.
        queue: QueueId,
        /// When.
        at: Timestamp,
    },
    /// An agent's state changed.
    AgentStateChanged {
        /// The agent.
        agent: AgentId,
        /// The new state.
        state: AgentState,
        /// The agent's epoch after the change. Events are reported after the engine releases
        /// the agent, so two threads may report one agent's changes out of order; the later
        /// change has the higher epoch (a journal keeps the highest).
        #[serde(default)]
        epoch: u64,
        /// When.
        at: Timestamp,
    },
}

/// Receives every event. Called from whichever thread made the change; events of one call or
/// agent arrive in the order they happened on that thread, and agent changes carry an epoch for
/// ordering across threads.
///
/// `CallEntered` is reported while the engine still holds the call's queue lock, before any
/// other thread can act on the call, so no event of a call is ever reported before its entry
/// (a journal folding events in the order it receives them never sees a call end before it
/// began). Every other event is reported after the engine released its locks. An observer must
/// therefore not call back into the engine: it records and forwards.
pub trait Observer: Send + Sync {
    /// One event.
    fn on_event(&self, event: &Event);

    /// A change of a routing plan's state (only a [`crate::plan::Router`] reports these), in
    /// the order to fold it with the events: a session is reported before its call enters a
    /// queue. The default ignores it.
    fn on_session(&self, _change: &crate::live::SessionChange) {}

    /// Whether [`Observer::on_session`] does anything. The router builds a session change
    /// only for an observer that says yes, so an observer overriding `on_session` must
    /// override this too. The default says no.
    fn wants_sessions(&self) -> bool {
        false
    }
}

/// An observer that drops everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoObserver;

impl Observer for NoObserver {
    fn on_event(&self, _event: &Event) {}
}

/// An observer that keeps every event, for tests and the simulator.
#[derive(Debug, Default)]
pub struct EventLog {
    events: parking_lot::Mutex<Vec<Event>>,
}

impl EventLog {
    /// Takes the events recorded so far.
    pub fn take(&self) -> Vec<Event> {
        std::mem::take(&mut *self.events.lock())
    }
}

impl Observer for EventLog {
    fn on_event(&self, event: &Event) {
        self.events.lock().push(event.clone());
    }
}
