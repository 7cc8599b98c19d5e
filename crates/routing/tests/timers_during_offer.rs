//! Queue timers (escalation steps, wait limits) that fall due while their call rings an agent.
//!
//! A waiting call's escalation and wait-limit timers name its place in line. While the call is
//! offered it is not in line, so a timer firing then used to find nothing and do nothing: when
//! the offer failed the call went back in line with its old, narrower needs and no wait limit,
//! and waited for ever (the shuttle model in `reservation_model.rs` catches that protocol as a
//! mutant). A timer that finds its call with an agent now leaves its effect on the call entry,
//! applied if the call comes back in line.

mod common;

use std::time::Duration;

use common::{queue, t, World};
use switchboard_routing::{
    EngineConfig, Escalation, Event, NewCall, OfferOutcome, SelectionPolicy, SkillRequirement,
};

/// Queue `q` (skill `s`, no wrap-up, 20 s offer timeout) with `expert` (French 5) not ready and
/// `junior` (French 1) available; call `c1` needs French 5, widened to French 1 after 20 s.
fn escalating_call_world(max_consecutive_missed: u32) -> World {
    let w = World::with_config(EngineConfig {
        queues: vec![queue("q", "s", SelectionPolicy::LongestIdle, 0)],
        max_consecutive_missed,
        seed: 7,
    });
    w.agent("expert", &[("s", 1), ("lang:fr", 5)], false, t(0));
    w.agent("junior", &[("s", 1), ("lang:fr", 1)], true, t(0));
    let mut call = NewCall::new("c1", t(0));
    call.required_skills = vec![SkillRequirement::new("lang:fr", 5)];
    call.escalation = vec![Escalation {
        after: Duration::from_secs(20),
        required_skills: vec![SkillRequirement::new("lang:fr", 1)],
    }];
    w.engine.route_call(&"q".into(), call, t(0)).expect("route");
    assert_eq!(w.agent_of("c1"), None, "junior lacks French 5");
    // The expert takes it at 10 s: the offer rings until 30 s, past the escalation at 20 s.
    w.engine.set_ready(&"expert".into(), t(10)).expect("ready");
    assert_eq!(w.agent_of("c1").as_deref(), Some("expert"));
    assert_eq!(w.engine.advance(t(20)), 1, "the escalation fires while the call rings");
    w
}

#[test]
fn an_escalation_due_while_the_call_rings_applies_when_the_offer_is_withdrawn() {
    let w = escalating_call_world(3);
    w.engine.logout(&"expert".into(), t(25)).expect("logout");
    assert_eq!(
        w.agent_of("c1").as_deref(),
        Some("junior"),
        "back from the expert, the call needs only French 1 and junior is free"
    );
    w.assert_consistent();
}

#[test]
fn an_escalation_due_while_the_call_rings_applies_when_the_offer_times_out() {
    // One miss sets the expert not ready, so only the wider pool is left.
    let w = escalating_call_world(1);
    assert_eq!(w.engine.advance(t(30)), 1, "the offer times out");
    assert_eq!(w.agent_of("c1").as_deref(), Some("junior"), "junior meets the widened needs");
    w.assert_consistent();
}

/// Queue `q` with agent `a` not ready and call `c1` waiting with a 15 s wait limit; `a` takes
/// it at 10 s and the limit passes at 15 s while it rings (offer deadline 30 s).
fn wait_limit_world(max_consecutive_missed: u32) -> World {
    let w = World::with_config(EngineConfig {
        queues: vec![queue("q", "s", SelectionPolicy::LongestIdle, 0)],
        max_consecutive_missed,
        seed: 7,
    });
    w.agent("a", &[("s", 1)], false, t(0));
    let mut call = NewCall::new("c1", t(0));
    call.max_wait = Some(Duration::from_secs(15));
    w.engine.route_call(&"q".into(), call, t(0)).expect("route");
    w.engine.set_ready(&"a".into(), t(10)).expect("ready");
    assert_eq!(w.agent_of("c1").as_deref(), Some("a"));
    assert_eq!(w.engine.advance(t(15)), 1, "the wait limit fires while the call rings");
    assert_eq!(w.agent_of("c1").as_deref(), Some("a"), "a ringing call is not taken away");
    w
}

fn timed_out(w: &World) -> Vec<String> {
    w.log
        .take()
        .into_iter()
        .filter_map(|e| match e {
            Event::QueueTimedOut { call, .. } => Some(call.id.to_string()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_wait_limit_passed_while_the_call_rang_hands_it_back_when_the_offer_is_withdrawn() {
    let w = wait_limit_world(3);
    w.engine.logout(&"a".into(), t(20)).expect("logout");
    w.log.take();
    w.engine.advance(t(20));
    assert_eq!(timed_out(&w), ["c1"], "the call is handed back to its plan");
    assert_eq!(w.engine.call_count(), 0);
    w.engine.advance(t(10_000));
    assert!(timed_out(&w).is_empty(), "handed back exactly once");
    w.assert_consistent();
}

#[test]
fn a_wait_limit_passed_while_the_call_rang_hands_it_back_when_the_offer_is_rejected() {
    // One miss sets the agent not ready, so nobody takes the call back at once.
    let w = wait_limit_world(1);
    w.engine.offer_failed(&"c1".into(), OfferOutcome::Rejected, t(20)).expect("reject");
    w.log.take();
    w.engine.advance(t(20));
    assert_eq!(timed_out(&w), ["c1"]);
    assert_eq!(w.engine.call_count(), 0);
    w.assert_consistent();
}

#[test]
fn a_wait_limit_passed_while_the_call_rang_does_not_end_an_answered_call() {
    let w = wait_limit_world(3);
    w.engine.call_answered(&"c1".into(), t(20)).expect("answer");
    w.log.take();
    w.engine.advance(t(10_000));
    assert!(timed_out(&w).is_empty());
    assert_eq!(w.agent_of("c1").as_deref(), Some("a"));
    w.engine.call_ended(&"c1".into(), t(10_001)).expect("end");
    w.assert_consistent();
}
