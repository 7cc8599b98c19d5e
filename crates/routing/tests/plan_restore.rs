//! Restoring a router's plan state from its folded events and session changes, as a restarted
//! server does: a queued call keeps its plan's overflow branch, a customer keeps their last
//! agent, a caller in the IVR keeps their menu and retries.

use std::sync::Arc;

use parking_lot::Mutex;
use switchboard_routing::plan::{
    Action, CustomerStore, Decision, IncomingCall, Router, RoutingConfig, SessionRestoreReport,
};
use switchboard_routing::{Event, LiveState, Observer, SessionChange, Timestamp};

/// Everything the router reports, in the order it reports it, as a journal receives it.
#[derive(Default)]
struct Journal(Mutex<Vec<Entry>>);

enum Entry {
    Event(Event),
    Session(SessionChange),
}

impl Observer for Journal {
    fn on_event(&self, event: &Event) {
        self.0.lock().push(Entry::Event(event.clone()));
    }
    fn on_session(&self, change: &SessionChange) {
        self.0.lock().push(Entry::Session(change.clone()));
    }
    fn wants_sessions(&self) -> bool {
        true
    }
}

impl Journal {
    /// The journal folded in arrival order.
    fn fold(&self) -> LiveState {
        let mut live = LiveState::default();
        for entry in self.0.lock().iter() {
            match entry {
                Entry::Event(e) => live.apply(e),
                Entry::Session(c) => live.apply_session(c),
            }
        }
        live
    }
}

const CONFIG: &str = r#"
[[queues]]
id = "sales"
skills = { sales = 1 }
wrap_up_s = 0

[[queues]]
id = "support"
skills = { support = 1 }
wrap_up_s = 0

[[agents]]
id = "ana"
skills = { sales = 1 }

[[agents]]
id = "ben"
skills = { sales = 1 }

[[entry_points]]
number = "+100"
plan = "p"

[[entry_points]]
number = "+200"
plan = "ivr"

[plans.p]
start = "last"
[plans.p.nodes.last]
type = "last_agent"
queue = "sales"
lookback_s = 3600
wait_s = 20
next = "q"
[plans.p.nodes.q]
type = "queue"
queue = "sales"
overflow = [{ when = "waited_s > 60", to = "vm" }]
[plans.p.nodes.vm]
type = "voicemail"
mailbox = "sales"

[plans.ivr]
start = "menu"
[plans.ivr.nodes.menu]
type = "menu"
prompt = "main"
options = { "1" = "support" }
retries = 2
on_failure = "bye"
[plans.ivr.nodes.support]
type = "queue"
queue = "support"
[plans.ivr.nodes.bye]
type = "voicemail"
mailbox = "main"
"#;

fn router(text: &str, journal: Arc<Journal>) -> Router {
    let config = RoutingConfig::from_toml(text).unwrap_or_else(|e| panic!("{:#?}", e.problems));
    Router::new(config, CustomerStore::default(), journal).expect("router")
}

fn call(id: &str, caller: &str, dialed: &str) -> IncomingCall {
    IncomingCall {
        id: id.into(),
        caller: caller.into(),
        dialed: dialed.into(),
        ..Default::default()
    }
}

fn short(d: &Decision) -> String {
    match &d.action {
        Action::Connect { offer } => format!("connect {}", offer.agent),
        Action::Queued { queue, .. } => format!("queue {queue}"),
        Action::Collect { prompt, .. } => format!("collect {prompt}"),
        Action::Voicemail { mailbox } => format!("voicemail {mailbox}"),
        Action::Hangup { reason } => format!("hangup {reason}"),
        other => format!("{other:?}"),
    }
}

const T0: u64 = 1_790_000_000_000;

fn at(secs: u64) -> Timestamp {
    Timestamp::from_millis(T0 + secs * 1000)
}

/// A restarted router: the same configuration, the folded state restored into the engine and
/// then into the plans.
fn restarted(text: &str, live: &LiveState, now: Timestamp) -> (Router, Arc<Journal>) {
    let (r, journal, _) = restarted_with_report(text, live, now);
    (r, journal)
}

/// [`restarted`], with what restoring the sessions reported.
fn restarted_with_report(
    text: &str,
    live: &LiveState,
    now: Timestamp,
) -> (Router, Arc<Journal>, SessionRestoreReport) {
    let journal = Arc::new(Journal::default());
    let r = router(text, journal.clone());
    r.engine().restore(live, now).expect("engine restore");
    let report = r.restore_sessions(live, now);
    assert!(report.dropped.is_empty(), "{:?}", report.dropped);
    (r, journal, report)
}

#[test]
fn a_restored_queued_call_follows_its_plans_overflow_branch() {
    let journal = Arc::new(Journal::default());
    let r = router(CONFIG, journal.clone());
    // Ana takes c1 and hangs up; c2 then waits (nobody available).
    r.engine().login(&"ana".into(), true, at(0)).expect("login");
    assert_eq!(short(&r.start_call(call("c1", "+331", "+100"), at(1)).expect("c1")), "connect ana");
    r.engine().call_answered(&"c1".into(), at(2)).expect("answer");
    r.engine().call_ended(&"c1".into(), at(3)).expect("end");
    r.engine().set_not_ready(&"ana".into(), "break", at(4)).expect("not ready");
    assert_eq!(short(&r.start_call(call("c2", "+332", "+100"), at(5)).expect("c2")), "queue sales");

    let live = journal.fold();
    let state = r.live_state();
    assert_eq!((&live.sessions, &live.last_agents), (&state.sessions, &state.last_agents));
    assert_eq!(live.sessions["c2"].resume.as_deref(), Some("vm"));

    let (restored, _) = restarted(CONFIG, &live, at(6));
    assert!(restored.advance(at(64)).is_empty(), "59 s in line");
    let resumed = restored.advance(at(65));
    assert_eq!(resumed.iter().map(short).collect::<Vec<_>>(), ["voicemail sales"]);
    let notes: Vec<&str> = resumed[0].trace.iter().map(|s| s.note.as_str()).collect();
    assert_eq!(notes, ["no last agent for +332", "enter queue sales", "voicemail sales"]);
    assert_eq!(restored.engine().call_count(), 0);
}

#[test]
fn the_last_agent_survives_a_restore() {
    let journal = Arc::new(Journal::default());
    let r = router(CONFIG, journal.clone());
    r.engine().login(&"ana".into(), true, at(0)).expect("login");
    r.engine().login(&"ben".into(), true, at(1)).expect("login");
    // Ana is idle longest and takes c1; the caller is then remembered as hers.
    assert_eq!(short(&r.start_call(call("c1", "+331", "+100"), at(2)).expect("c1")), "connect ana");
    r.engine().call_answered(&"c1".into(), at(3)).expect("answer");
    r.engine().call_ended(&"c1".into(), at(4)).expect("end");
    let live = journal.fold();
    assert_eq!(live.last_agents["+331"].agent.as_str(), "ana");

    let (restored, _) = restarted(CONFIG, &live, at(5));
    // Ben is idle longest (since 1 s; ana since 4 s), but the caller's last agent is offered
    // first.
    let d = restored.start_call(call("c9", "+331", "+100"), at(6)).expect("c9");
    assert_eq!(short(&d), "connect ana");
    assert_eq!(d.trace[0].note, "last agent of +331 is ana; offering first, waiting up to 20 s");
}

#[test]
fn a_caller_in_the_ivr_keeps_their_menu_and_retries() {
    let journal = Arc::new(Journal::default());
    let r = router(CONFIG, journal.clone());
    assert_eq!(
        short(&r.start_call(call("c1", "+331", "+200"), at(0)).expect("c1")),
        "collect main"
    );
    assert_eq!(short(&r.submit_digits(&"c1".into(), Some("9"), at(1)).expect("9")), "collect main");
    let live = journal.fold();
    assert_eq!(live.sessions, r.live_state().sessions);
    let awaiting = live.sessions["c1"].awaiting.clone().expect("in the ivr");
    assert_eq!((awaiting.node.as_str(), awaiting.retries_left), ("menu", 1));

    let (restored, _) = restarted(CONFIG, &live, at(2));
    // One retry left: a second wrong key plays the menu again, a third goes to voicemail.
    let d = restored.submit_digits(&"c1".into(), Some("8"), at(3)).expect("8");
    assert_eq!(short(&d), "collect main");
    let d = restored.submit_digits(&"c1".into(), Some("7"), at(4)).expect("7");
    assert_eq!(short(&d), "voicemail main");
    let notes: Vec<&str> = d.trace.iter().map(|s| s.note.as_str()).collect();
    assert_eq!(
        notes,
        [
            "waiting for input",
            "invalid input \"9\", 2 retries left",
            "invalid input \"8\", 1 retry left",
            "invalid input \"7\", no retries left -> bye",
            "voicemail main"
        ]
    );
}

#[test]
fn sessions_the_new_configuration_cannot_place_are_dropped_and_listed() {
    let journal = Arc::new(Journal::default());
    let r = router(CONFIG, journal.clone());
    r.start_call(call("c1", "+331", "+200"), at(0)).expect("c1");
    r.start_call(call("c2", "+332", "+100"), at(0)).expect("c2");
    let live = journal.fold();
    // The menu and the overflow target are renamed.
    let changed = CONFIG
        .replace("start = \"menu\"", "start = \"main\"")
        .replace("plans.ivr.nodes.menu]", "plans.ivr.nodes.main]")
        .replace("to = \"vm\" }]\n[plans.p.nodes.vm]", "to = \"vm2\" }]\n[plans.p.nodes.vm2]");
    let fresh = Arc::new(Journal::default());
    let restored = router(&changed, fresh.clone());
    restored.engine().restore(&live, at(1)).expect("engine restore");
    let report = restored.restore_sessions(&live, at(1));
    assert_eq!((report.queued, report.ivr), (0, 0));
    assert_eq!(
        report.dropped,
        [
            "plan session of call c1: node menu of plan ivr no longer exists",
            "plan session of call c2: node vm of plan p no longer exists"
        ]
    );
    // The journal forgets them.
    let mut after = live.clone();
    for entry in fresh.0.lock().iter() {
        if let Entry::Session(c) = entry {
            after.apply_session(c);
        }
    }
    assert!(after.sessions.is_empty());
}

/// A 70/30 vendor split whose 30 goes on to a round robin over three more vendors, and an
/// IVR whose caller reaches the same split only after pressing 1.
const SPLITS: &str = r#"
[[queues]]
id = "sales"
skills = { sales = 1 }

[[entry_points]]
number = "+300"
plan = "vendors"

[[entry_points]]
number = "+301"
plan = "ivr"

[plans.vendors]
start = "split"
[plans.vendors.nodes.split]
type = "percentage"
branches = [{ weight = 70, next = "a" }, { weight = 30, next = "rr" }]
[plans.vendors.nodes.rr]
type = "round_robin"
targets = ["b1", "b2", "b3"]
[plans.vendors.nodes.a]
type = "transfer"
number = "a"
[plans.vendors.nodes.b1]
type = "transfer"
number = "b1"
[plans.vendors.nodes.b2]
type = "transfer"
number = "b2"
[plans.vendors.nodes.b3]
type = "transfer"
number = "b3"

[plans.ivr]
start = "menu"
[plans.ivr.nodes.menu]
type = "menu"
prompt = "main"
options = { "1" = "split" }
on_failure = "a"
[plans.ivr.nodes.split]
type = "percentage"
branches = [{ weight = 70, next = "a" }, { weight = 30, next = "b" }]
[plans.ivr.nodes.a]
type = "transfer"
number = "a"
[plans.ivr.nodes.b]
type = "transfer"
number = "b"
"#;

/// Where the next `n` calls of the vendor split go.
fn vendors(r: &Router, prefix: &str, n: usize, now: Timestamp) -> Vec<String> {
    (0..n)
        .map(|i| {
            let d = r.start_call(call(&format!("{prefix}{i}"), "+339", "+300"), now).expect("call");
            match d.action {
                Action::Transfer { number } => number,
                other => panic!("{other:?}"),
            }
        })
        .collect()
}

/// The journal folded with its session changes in reverse order: the order two threads'
/// reports may arrive in.
fn fold_sessions_reversed(journal: &Journal) -> LiveState {
    let mut live = LiveState::default();
    for entry in journal.0.lock().iter().rev() {
        if let Entry::Session(c) = entry {
            live.apply_session(c);
        }
    }
    live
}

#[test]
fn a_split_continues_at_its_position_after_a_restore() {
    let journal = Arc::new(Journal::default());
    let r = router(SPLITS, journal.clone());
    // 103 calls from four threads at once: picks interleave and their reports may arrive out
    // of order. 103 is no multiple of either cycle (100 and 3).
    let went: Vec<String> = std::thread::scope(|s| {
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let r = r.clone();
                let calls = if t == 0 { 28 } else { 25 };
                s.spawn(move || vendors(&r, &format!("t{t}-"), calls, at(0)))
            })
            .collect();
        threads.into_iter().flat_map(|t| t.join().expect("thread")).collect()
    });
    let live = journal.fold();
    let splits = r.live_state().splits;
    assert_eq!(splits.picks_of("vendors", "split"), 103);
    let to_rr = went.iter().filter(|v| *v != "a").count() as u64;
    assert_eq!(splits.picks_of("vendors", "rr"), to_rr);
    assert_eq!(live.splits, splits, "the fold counts every pick");
    assert_eq!(fold_sessions_reversed(&journal).splits, splits, "whatever the report order");

    let (restored, _) = restarted(SPLITS, &live, at(1));
    // The restored router goes on exactly as the one that never stopped.
    let went_on = vendors(&r, "after-", 250, at(2));
    assert_eq!(vendors(&restored, "after-", 250, at(2)), went_on);
    assert_eq!(restored.live_state().splits, r.live_state().splits);
}

#[test]
fn a_reload_starts_the_splits_over_and_a_restore_continues_the_new_generation() {
    let journal = Arc::new(Journal::default());
    let r = router(SPLITS, journal.clone());
    vendors(&r, "old-", 5, at(0));
    // A caller in the IVR of the old configuration reaches its split after the reload.
    assert_eq!(
        short(&r.start_call(call("ivr", "+331", "+301"), at(0)).expect("ivr")),
        "collect main"
    );
    let config = RoutingConfig::from_toml(SPLITS).expect("config");
    let reloaded = r.reload(config, CustomerStore::default(), at(1)).expect("reload");
    let fresh = router(SPLITS, Arc::new(Journal::default()));
    assert_eq!(
        vendors(&reloaded, "new-", 7, at(2)),
        vendors(&fresh, "new-", 7, at(2)),
        "fresh splits"
    );
    reloaded.submit_digits(&"ivr".into(), Some("1"), at(3)).expect("digits");

    let live = journal.fold();
    assert_eq!(live.splits, reloaded.live_state().splits);
    assert_eq!(
        live.splits.picks_of("vendors", "split"),
        7,
        "the old generation's picks do not count"
    );
    assert_eq!(live.splits.picks_of("ivr", "split"), 0);
    assert_eq!(fold_sessions_reversed(&journal).splits, live.splits);

    let (restored, restored_journal) = restarted(SPLITS, &live, at(4));
    assert_eq!(vendors(&restored, "after-", 120, at(5)), vendors(&reloaded, "after-", 120, at(5)));
    // The restored router reports in the journaled generation, so its picks count on.
    let mut after = live.clone();
    for entry in restored_journal.0.lock().iter() {
        if let Entry::Session(c) = entry {
            after.apply_session(c);
        }
    }
    assert_eq!(after.splits.picks_of("vendors", "split"), 127);
    // A restart with another configuration starts over, as a reload does.
    let mut other = live.clone();
    other.splits.start_over();
    let (started_over, _) = restarted(SPLITS, &other, at(6));
    let fresh = router(SPLITS, Arc::new(Journal::default()));
    assert_eq!(vendors(&started_over, "x-", 20, at(7)), vendors(&fresh, "x-", 20, at(7)));
    assert!(started_over.live_state().splits.generation > live.splits.generation);
}

/// Ana answers a call of `caller` at `answered`.
fn served(r: &Router, id: &str, caller: &str, answered: Timestamp) {
    let d = r.start_call(call(id, caller, "+100"), answered).expect("call");
    assert_eq!(short(&d), "connect ana");
    r.engine().call_answered(&id.into(), answered).expect("answer");
    r.engine().call_ended(&id.into(), answered).expect("end");
}

fn last_agent_keys(live: &LiveState) -> Vec<&str> {
    live.last_agents.keys().map(|k| k.as_str()).collect()
}

#[test]
fn last_agents_older_than_the_longest_lookback_are_pruned() {
    let journal = Arc::new(Journal::default());
    let r = router(CONFIG, journal.clone());
    r.engine().login(&"ana".into(), true, at(0)).expect("login");
    served(&r, "c1", "+331", at(3));
    served(&r, "c2", "+333", at(3));
    served(&r, "c3", "+332", at(1000));
    served(&r, "c4", "+331", at(2000));
    // The lookback is 3600 s: at 3603 s everything is still usable.
    r.advance(at(3603));
    assert_eq!(last_agent_keys(&r.live_state()), ["+331", "+332", "+333"]);
    // +333 is forgotten; +331 stays (served again at 2000 s).
    r.advance(at(3604));
    assert_eq!(last_agent_keys(&r.live_state()), ["+331", "+332"]);
    let mut live = journal.fold();
    live.prune_last_agents();
    assert_eq!(live.last_agents, r.live_state().last_agents);
    assert_eq!(live.last_agents_expired_before, at(4));

    r.advance(at(4601));
    assert_eq!(last_agent_keys(&r.live_state()), ["+331"]);
    let mut live = journal.fold();
    live.prune_last_agents();
    assert_eq!(live.last_agents, r.live_state().last_agents);
    // A report of an answer older than the bound arriving late is no entry.
    live.apply_session(&SessionChange::LastAgent {
        customer: "+334".into(),
        last: switchboard_routing::LiveLastAgent { agent: "ana".into(), at: at(1000) },
    });
    assert_eq!(last_agent_keys(&live), ["+331"]);

    // An unpruned fold restores only what is within the bound.
    let (restored, _) = restarted(CONFIG, &journal.fold(), at(4602));
    assert_eq!(last_agent_keys(&restored.live_state()), ["+331"]);
    restored.advance(at(5601));
    assert!(restored.live_state().last_agents.is_empty(), "+331 served at 2000 s");
}

impl Journal {
    /// How many entries the journal holds.
    fn len(&self) -> usize {
        self.0.lock().len()
    }

    /// The first `n` entries folded in arrival order: the journal a crash left.
    fn fold_first(&self, n: usize) -> LiveState {
        let mut live = LiveState::default();
        for entry in self.0.lock().iter().take(n) {
            match entry {
                Entry::Event(e) => live.apply(e),
                Entry::Session(c) => live.apply_session(c),
            }
        }
        live
    }

    /// Index of the first session change of `call` that upserts it, from entry `from` on.
    fn first_upsert_of(&self, call: &str, from: usize) -> Option<usize> {
        self.0.lock().iter().enumerate().skip(from).find_map(|(i, e)| match e {
            Entry::Session(SessionChange::Upserted(s)) if s.call.id.as_str() == call => Some(i),
            _ => None,
        })
    }

    /// Where the first `CallEntered` of `call` from entry `from` on is.
    fn first_entered_of(&self, call: &str, from: usize) -> Option<usize> {
        self.0.lock().iter().enumerate().skip(from).find_map(|(i, e)| match e {
            Entry::Event(Event::CallEntered { call: c, .. }) if c.id.as_str() == call => Some(i),
            _ => None,
        })
    }
}

#[test]
fn a_crash_between_a_step_into_a_queue_and_its_call_entered_keeps_the_caller_at_the_prompt() {
    let journal = Arc::new(Journal::default());
    let r = router(CONFIG, journal.clone());
    assert_eq!(
        short(&r.start_call(call("c1", "+331", "+200"), at(0)).expect("c1")),
        "collect main"
    );
    let before = journal.len();
    assert_eq!(
        short(&r.submit_digits(&"c1".into(), Some("1"), at(1)).expect("1")),
        "queue support"
    );
    let step = journal.first_upsert_of("c1", before).expect("the step is reported");
    let entered = journal.first_entered_of("c1", step).expect("the call entered its queue");
    // The queued session is journaled, its queue's CallEntered is not: the answer to the
    // digits was never sent, so the caller must still be at the menu for the retry.
    for crash in step + 1..=entered {
        let live = journal.fold_first(crash);
        assert!(live.calls.is_empty(), "no queue holds c1 yet");
        let (restored, _) = restarted(CONFIG, &live, at(2));
        assert_eq!(restored.engine().call_count(), 0);
        let d = restored.submit_digits(&"c1".into(), Some("1"), at(3)).expect("retried digits");
        assert_eq!(short(&d), "queue support");
        assert_eq!(restored.engine().call_count(), 1);
    }
    // Once the CallEntered is journaled the call restores queued, and no earlier step is kept.
    let live = journal.fold_first(entered + 1);
    assert!(live.sessions.get("c1").expect("session").before_queue.is_none());
    let (restored, _) = restarted(CONFIG, &live, at(2));
    assert_eq!(restored.engine().call_count(), 1);
}

#[test]
fn a_crash_after_digits_were_taken_keeps_the_caller_at_the_prompt_for_the_retry() {
    let journal = Arc::new(Journal::default());
    let r = router(CONFIG, journal.clone());
    assert_eq!(
        short(&r.start_call(call("c1", "+331", "+200"), at(0)).expect("c1")),
        "collect main"
    );
    let before = journal.len();
    // The caller presses 1: the step into the support queue is taken, but its answer is only
    // sent once the step is durable.
    assert_eq!(
        short(&r.submit_digits(&"c1".into(), Some("1"), at(1)).expect("1")),
        "queue support"
    );
    let step = journal.first_upsert_of("c1", before).expect("the step is reported");
    assert!(step < journal.len());
    // Every crash point after the digits were taken and before the next step was journaled.
    for crash in before..=step {
        let live = journal.fold_first(crash);
        let awaiting = live.sessions.get("c1").and_then(|s| s.awaiting.clone());
        assert_eq!(
            awaiting.map(|a| a.node),
            Some("menu".to_string()),
            "crash after {} of the step's records: the caller is at the menu",
            crash - before
        );
        let (restored, _) = restarted(CONFIG, &live, at(2));
        // The switch retries the unacknowledged submission: the same step is taken.
        let d = restored.submit_digits(&"c1".into(), Some("1"), at(3)).expect("retried digits");
        assert_eq!(short(&d), "queue support");
        let notes: Vec<&str> = d.trace.iter().map(|s| s.note.as_str()).collect();
        assert_eq!(notes, ["waiting for input", "pressed 1 -> support", "enter queue support"]);
        assert_eq!(restored.engine().call_count(), 1);
    }
}

/// A plan whose queue overflows to another queue after 60 s: a call timed out of its queue is placed
/// again by its plan.
const OVERFLOW_TO_QUEUE: &str = r#"
[[queues]]
id = "sales"
skills = { sales = 1 }
wrap_up_s = 0

[[queues]]
id = "support"
skills = { support = 1 }
wrap_up_s = 0

[[agents]]
id = "ana"
skills = { sales = 1 }

[[entry_points]]
number = "+100"
plan = "p"

[plans.p]
start = "q"
[plans.p.nodes.q]
type = "queue"
queue = "sales"
overflow = [{ when = "waited_s > 60", to = "later" }]
[plans.p.nodes.later]
type = "queue"
queue = "support"
overflow = [{ when = "waited_s > 30", to = "vm" }]
[plans.p.nodes.vm]
type = "voicemail"
mailbox = "sales"
"#;

#[test]
fn a_crash_after_a_queue_timeout_runs_the_overflow_branch_at_restore() {
    let journal = Arc::new(Journal::default());
    let r = router(OVERFLOW_TO_QUEUE, journal.clone());
    assert_eq!(short(&r.start_call(call("c1", "+331", "+100"), at(0)).expect("c1")), "queue sales");
    let before = journal.len();
    // At its wait limit the call leaves sales; the plan places it in support.
    let moved = r.advance(at(61));
    assert_eq!(moved.iter().map(short).collect::<Vec<_>>(), ["queue support"]);
    let step = journal.first_upsert_of("c1", before).expect("the step is reported");
    // Crash points after the timeout was journaled and before the plan's next step was.
    let timed_out = (before..step)
        .find(|&i| journal.fold_first(i + 1).calls.is_empty())
        .expect("the timeout is journaled before the step");
    for crash in timed_out + 1..=step {
        let live = journal.fold_first(crash);
        assert!(live.calls.is_empty(), "the call left sales");
        let session = live.sessions.get("c1").expect("the journal keeps the call");
        assert!(session.leaving_queue);
        assert_eq!(session.resume.as_deref(), Some("later"));

        let (restored, restored_journal, report) =
            restarted_with_report(OVERFLOW_TO_QUEUE, &live, at(70));
        // Restoring took the step the crash cut short: the caller is in support now.
        assert_eq!(report.resumed.iter().map(short).collect::<Vec<_>>(), ["queue support"]);
        let notes: Vec<&str> = report.resumed[0].trace.iter().map(|s| s.note.as_str()).collect();
        assert_eq!(notes, ["enter queue sales", "enter queue support"]);
        let after = restored_journal.fold_first(restored_journal.len());
        assert!(after.calls.contains_key("c1"), "the step is journaled: {:?}", after.calls);
        assert!(!after.sessions.get("c1").expect("session").leaving_queue);
        // And its plan goes on: 30 s in support, then voicemail.
        assert!(restored.advance(at(99)).is_empty(), "29 s in support");
        let resumed = restored.advance(at(100));
        assert_eq!(resumed.iter().map(short).collect::<Vec<_>>(), ["voicemail sales"]);
        assert_eq!(restored.engine().call_count(), 0);
    }
}
