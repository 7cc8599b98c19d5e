//! The order in which the engine reports a call's events, as a journal sees it: whatever two
//! threads do to one call at once, folding the events in the order the observer received them
//! gives the engine's own state. A call whose end was reported before its entry would come
//! back from the dead after a restart.

mod common;

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::queue;
use parking_lot::Mutex;
use switchboard_routing::{
    CallId, Engine, EngineConfig, Error, Event, LiveState, NewCall, Observer, SelectionPolicy,
    Timestamp,
};

/// How long the observer holds up the routing thread inside `CallEntered`, giving a racing
/// hang-up every chance to be reported first. Only slack: the outcome does not depend on it.
const HOLD_ENTRY: Duration = Duration::from_millis(300);

/// Folds events in arrival order, like the journal writer, and holds up the report of one
/// call's entry until a hang-up of that call has gone through or `HOLD_ENTRY` has passed.
struct FoldingObserver {
    live: Mutex<LiveState>,
    held_call: CallId,
    hung_up: AtomicBool,
}

impl Observer for FoldingObserver {
    fn on_event(&self, event: &Event) {
        if let Event::CallEntered { call, .. } = event {
            if call.id == self.held_call {
                let until = Instant::now() + HOLD_ENTRY;
                while !self.hung_up.load(SeqCst) && Instant::now() < until {
                    thread::sleep(Duration::from_millis(1));
                }
            }
        }
        self.live.lock().apply(event);
    }
}

#[test]
fn a_hang_up_racing_the_routing_of_its_call_is_reported_after_the_entry() {
    let observer = Arc::new(FoldingObserver {
        live: Mutex::new(LiveState::default()),
        held_call: "c1".into(),
        hung_up: AtomicBool::new(false),
    });
    let config = EngineConfig {
        queues: vec![queue("sales", "sales", SelectionPolicy::LongestIdle, 0)],
        max_consecutive_missed: 0,
        seed: 1,
    };
    let engine = Engine::with_observer(config, observer.clone()).expect("config");
    let at = Timestamp::from_millis(1_000);
    let routing_done = AtomicBool::new(false);
    thread::scope(|s| {
        // The switch: the caller hangs up while RouteCall is still in flight, so the hang-up
        // is retried until the engine takes it.
        s.spawn(|| loop {
            match engine.call_abandoned(&"c1".into(), at) {
                Ok(()) => {
                    observer.hung_up.store(true, SeqCst);
                    return;
                }
                Err(Error::UnknownCall(_) | Error::CallStateMismatch { .. })
                    if !routing_done.load(SeqCst) =>
                {
                    thread::yield_now()
                }
                Err(e) => panic!("hang-up after routing: {e}"),
            }
        });
        s.spawn(|| {
            engine.route_call(&"sales".into(), NewCall::new("c1", at), at).expect("routed");
            routing_done.store(true, SeqCst);
        });
    });
    assert_eq!(engine.call_count(), 0, "the engine let the caller go");
    let folded = observer.live.lock().clone();
    assert_eq!(
        folded.calls.keys().collect::<Vec<_>>(),
        Vec::<&CallId>::new(),
        "the fold of the reported events still holds the call: its end was reported first"
    );
    assert_eq!(folded.calls, engine.live_state().calls);
}
