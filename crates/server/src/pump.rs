//! The event pump: one thread that turns engine events and RPC facts into statistics, call
//! records and agent updates, off the routing path.

use std::sync::Arc;

use crossbeam_channel::Receiver;
use parking_lot::Mutex;
use switchboard_proto::v1 as pb;
use switchboard_routing::{AgentId, Engine, Event};
use tokio::sync::broadcast;

use crate::cdr::{CallFact, CallFold, Folded};
use crate::records::RecordSink;
use crate::stats::StatsState;

/// What the pump hears about.
#[derive(Debug)]
pub enum PumpMsg {
    /// An engine event.
    Event(Event),
    /// A fact about a call from the switch (arrival, plan decision, IVR hang-up, transfer,
    /// refusal before routing): journaled, then folded into call records and statistics.
    Call(CallFact),
    /// An agent was deleted.
    AgentRemoved(AgentId),
    /// Stop after everything sent before (the engine holds a sender, so the channel never
    /// closes by itself).
    Shutdown,
    /// Answered once everything sent before it has been processed.
    Barrier(std::sync::mpsc::SyncSender<()>),
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

impl PumpMsg {
    /// The fact about a call this message carries, as journaled and folded into call records.
    pub fn call_fact(&self) -> Option<&CallFact> {
        match self {
            PumpMsg::Call(fact) => Some(fact),
            _ => None,
        }
    }
}

/// Where the pump's call records go.
pub enum RecordsOut {
    /// The pump writes them.
    Write(RecordSink),
    /// The journal writer writes them from the journal (the same fold, in journal order);
    /// the pump folds only for statistics. Holds the sink so it lives as long as the pump.
    FromJournal(RecordSink),
}

/// Runs until [`PumpMsg::Shutdown`]; then the record sink is dropped, which flushes the call
/// records. `fold` holds the calls recovered from the journal.
pub fn run(
    rx: Receiver<PumpMsg>,
    shared: Arc<PumpShared>,
    engine: Engine,
    records: RecordsOut,
    fold: CallFold,
) {
    let mut pump = Pump { shared, engine, records, fold };
    for msg in rx {
        if matches!(msg, PumpMsg::Shutdown) {
            break;
        }
        pump.handle(msg);
        pump.shared.version.fetch_add(1, std::sync::atomic::Ordering::Release);
    }
    // Calls still open at shutdown are not finished stories; they are left out rather than
    // recorded with invented outcomes (with the journal on, they finish after the restart).
    if pump.fold.open_calls() > 0 {
        tracing::info!(
            calls = pump.fold.open_calls(),
            "calls in flight at shutdown are not recorded yet"
        );
    }
}

struct Pump {
    shared: Arc<PumpShared>,
    engine: Engine,
    records: RecordsOut,
    fold: CallFold,
}

impl Pump {
    fn handle(&mut self, msg: PumpMsg) {
        if let Some(fact) = msg.call_fact() {
            let folded = self.fold.fact(fact);
            self.folded(folded);
            return;
        }
        match msg {
            PumpMsg::Event(event) => {
                let folded = self.fold.event(&event);
                self.folded(folded);
                if let Event::AgentStateChanged { agent, state, at, .. } = event {
                    let snapshot = self.engine.agent(&agent);
                    let queues = snapshot.as_ref().map(|a| a.queues.clone()).unwrap_or_default();
                    self.stats(at.as_millis() as i64).agent_changed(
                        &agent,
                        &state,
                        at.as_millis() as i64,
                        queues,
                    );
                    if let Some(snapshot) = snapshot {
                        let _ = self
                            .shared
                            .agent_updates
                            .send(Arc::new(crate::convert::agent(&snapshot)));
                    }
                }
            }
            PumpMsg::AgentRemoved(agent) => self.shared.stats.lock().agent_removed(&agent),
            PumpMsg::Barrier(done) => {
                let _ = done.send(());
            }
            _ => {}
        }
    }

    fn folded(&mut self, folded: Folded) {
        if let Some(effect) = folded.stat {
            self.stats(effect.at_ms).apply(&effect);
        }
        if let (Some(record), RecordsOut::Write(sink)) = (folded.record, &self.records) {
            sink.send(record);
        }
    }

    fn stats(&self, at_ms: i64) -> parking_lot::MutexGuard<'_, StatsState> {
        let mut stats = self.shared.stats.lock();
        stats.roll(at_ms);
        stats
    }
}
