//! Every agent state transition, legal and illegal, with the exact resulting state.

mod common;

use common::{queue, t, World};
use switchboard_routing::{AgentStateKind as K, Error, OfferOutcome, SelectionPolicy};

/// Puts agent `a1` into `from` (with calls `c1` ... as needed) in a one-queue world with
/// 10 s wrap-up. A second agent `a2` is not ready, except when `a1` is reserved: then `a2`
/// is available, so a failed offer has somewhere else to go.
fn world_in(from: K) -> World {
    let w = World::new(vec![queue("q", "s", SelectionPolicy::LongestIdle, 10)]);
    w.agent("a2", &[("s", 1)], false, t(0));
    w.agent("a1", &[("s", 1)], false, t(0));
    w.engine.logout(&"a1".into(), t(0)).expect("logout");
    match from {
        K::LoggedOut => {}
        K::NotReady => w.engine.login(&"a1".into(), false, t(1)).expect("login"),
        K::Available => w.engine.login(&"a1".into(), true, t(1)).expect("login"),
        K::Reserved | K::OnCall | K::WrapUp => {
            w.engine.login(&"a1".into(), true, t(1)).expect("login");
            w.call("q", "c1", 0, t(2));
            if from == K::Reserved {
                w.engine.set_ready(&"a2".into(), t(3)).expect("a2 ready");
            } else {
                w.engine.call_answered(&"c1".into(), t(3)).expect("answer");
            }
            if from == K::WrapUp {
                w.engine.call_ended(&"c1".into(), t(4)).expect("end");
            }
        }
    }
    assert_eq!(w.state("a1"), from);
    w
}

#[derive(Clone, Copy, Debug)]
enum Op {
    Login,
    Ready,
    NotReady,
    Logout,
    Answer,
    Reject,
    End,
    Abandon,
    WrapTimer,
    OfferTimer,
}

fn apply(w: &World, op: Op) -> Result<(), Error> {
    let a1 = "a1".into();
    let c1 = "c1".into();
    match op {
        Op::Login => w.engine.login(&a1, true, t(5)),
        Op::Ready => w.engine.set_ready(&a1, t(5)),
        Op::NotReady => w.engine.set_not_ready(&a1, "break", t(5)),
        Op::Logout => w.engine.logout(&a1, t(5)),
        Op::Answer => w.engine.call_answered(&c1, t(5)),
        Op::Reject => w.engine.offer_failed(&c1, OfferOutcome::Rejected, t(5)),
        Op::End => w.engine.call_ended(&c1, t(5)),
        Op::Abandon => w.engine.call_abandoned(&c1, t(5)),
        Op::WrapTimer => {
            w.engine.advance(t(100));
            Ok(())
        }
        Op::OfferTimer => {
            w.engine.advance(t(30));
            Ok(())
        }
    }
}

/// Where call `c1` is after a transition, and `a1`'s missed offers in a row.
#[derive(Clone, Copy, Debug)]
enum Then {
    /// Nothing more to check.
    Nothing,
    /// `c1` rings or talks to this agent and `a1` has missed this many offers in a row.
    CallWith(&'static str, u32),
    /// The engine no longer holds `c1`.
    CallGone,
}

/// `check(from, op, expected, then)`: `None` expects an error and no change of state.
#[test]
fn transition_table() {
    use Op::*;
    use Then::*;
    let table: &[(K, Op, Option<K>, Then)] = &[
        (K::LoggedOut, Login, Some(K::Available), Nothing),
        (K::LoggedOut, Ready, None, Nothing),
        (K::LoggedOut, NotReady, None, Nothing),
        (K::LoggedOut, Logout, Some(K::LoggedOut), Nothing),
        (K::NotReady, Login, None, Nothing),
        (K::NotReady, Ready, Some(K::Available), Nothing),
        (K::NotReady, NotReady, Some(K::NotReady), Nothing),
        (K::NotReady, Logout, Some(K::LoggedOut), Nothing),
        (K::Available, Login, None, Nothing),
        (K::Available, Ready, Some(K::Available), Nothing),
        (K::Available, NotReady, Some(K::NotReady), Nothing),
        (K::Available, Logout, Some(K::LoggedOut), Nothing),
        (K::Reserved, Ready, None, Nothing),
        (K::Reserved, NotReady, None, Nothing),
        (K::Reserved, Answer, Some(K::OnCall), CallWith("a1", 0)),
        (K::Reserved, Reject, Some(K::Available), CallWith("a2", 1)), // the call moves on to a2
        (K::Reserved, End, None, Nothing),
        (K::Reserved, Abandon, Some(K::Available), CallGone),
        (K::Reserved, OfferTimer, Some(K::Available), CallWith("a2", 1)),
        (K::Reserved, Logout, Some(K::LoggedOut), CallWith("a2", 0)), // withdrawn, not missed
        (K::OnCall, Ready, None, Nothing),
        (K::OnCall, NotReady, None, Nothing),
        (K::OnCall, Logout, None, Nothing),
        (K::OnCall, Answer, None, Nothing),
        (K::OnCall, Abandon, None, Nothing),
        (K::OnCall, End, Some(K::WrapUp), CallGone),
        (K::WrapUp, Ready, Some(K::Available), Nothing),
        (K::WrapUp, NotReady, Some(K::NotReady), Nothing),
        (K::WrapUp, Logout, Some(K::LoggedOut), Nothing),
        (K::WrapUp, WrapTimer, Some(K::Available), Nothing),
        (K::WrapUp, Answer, None, Nothing),
        (K::WrapUp, End, None, Nothing),
        (K::Reserved, Login, None, Nothing),
        (K::OnCall, Login, None, Nothing),
        (K::WrapUp, Login, None, Nothing),
    ];
    for &(from, op, expected, then) in table {
        let w = world_in(from);
        let before = w.engine.agent(&"a1".into()).expect("agent");
        let result = apply(&w, op);
        match expected {
            Some(to) => {
                assert!(result.is_ok(), "{from:?} --{op:?}--> expected {to:?}, got {result:?}");
                assert_eq!(w.state("a1"), to, "{from:?} --{op:?}-->");
                match then {
                    Nothing => {}
                    CallWith(agent, missed) => {
                        assert_eq!(
                            w.agent_of("c1").as_deref(),
                            Some(agent),
                            "{from:?} --{op:?}-->"
                        );
                        let a1 = w.engine.agent(&"a1".into()).expect("agent");
                        assert_eq!(a1.counters.consecutive_missed, missed, "{from:?} --{op:?}-->");
                    }
                    CallGone => {
                        assert_eq!(w.engine.call_status(&"c1".into()), None, "{from:?} --{op:?}-->")
                    }
                }
            }
            None => {
                assert!(result.is_err(), "{from:?} --{op:?}--> should be refused");
                let after = w.engine.agent(&"a1".into()).expect("agent");
                assert_eq!(before, after, "{from:?} --{op:?}--> refused but changed state");
            }
        }
        w.assert_consistent();
    }
}

#[test]
fn illegal_transition_error_names_agent_state_and_action() {
    let w = world_in(K::OnCall);
    let err = w.engine.set_ready(&"a1".into(), t(5)).unwrap_err();
    assert_eq!(err.to_string(), "agent a1 cannot go ready while on_call");
    let err = w.engine.call_abandoned(&"c1".into(), t(5)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "call c1 cannot be abandoned: agent a1 answered it; report it ended"
    );
}

#[test]
fn ended_before_answered_is_refused_and_changes_nothing() {
    let w = world_in(K::Reserved);
    let err = w.engine.call_ended(&"c1".into(), t(5)).unwrap_err();
    assert!(matches!(err, Error::CallStateMismatch { .. }), "{err:?}");
    assert_eq!(w.state("a1"), K::Reserved);
    assert_eq!(w.agent_of("c1").as_deref(), Some("a1"));
}

#[test]
fn missed_offers_in_a_row_set_agent_not_ready_missed() {
    let w = World::new(vec![queue("q", "s", SelectionPolicy::LongestIdle, 0)]);
    w.agent("a1", &[("s", 1)], true, t(0));
    w.call("q", "c1", 0, t(1));
    // Offer timeout is 20 s: misses at 21 and 41 put it back; the third (61) sets not ready.
    w.engine.advance(t(21));
    assert_eq!(w.state("a1"), K::Reserved);
    w.engine.advance(t(41));
    assert_eq!(w.state("a1"), K::Reserved);
    w.engine.advance(t(61));
    let a1 = w.engine.agent(&"a1".into()).expect("agent");
    assert_eq!(a1.state, switchboard_routing::AgentState::NotReady { reason: "missed".into() });
    assert_eq!(a1.counters.consecutive_missed, 3);
    // The call is not lost: it waits for the next agent.
    assert_eq!(w.engine.queue_snapshot(&"q".into()).expect("queue").waiting, vec!["c1".into()]);
    assert_eq!(w.engine.queue_totals(&"q".into()).expect("q").offers_missed, 3);
    w.assert_consistent();
}

#[test]
fn an_answer_resets_the_missed_count() {
    let w = World::new(vec![queue("q", "s", SelectionPolicy::LongestIdle, 0)]);
    w.agent("a1", &[("s", 1)], true, t(0));
    w.call("q", "c1", 0, t(1));
    w.engine.offer_failed(&"c1".into(), OfferOutcome::Rejected, t(2)).expect("reject");
    w.engine.offer_failed(&"c1".into(), OfferOutcome::Rejected, t(3)).expect("reject");
    w.finish("c1", t(4));
    w.call("q", "c2", 0, t(5));
    w.engine.offer_failed(&"c2".into(), OfferOutcome::Rejected, t(6)).expect("reject");
    assert_eq!(w.state("a1"), K::Reserved, "one miss after an answer is not three in a row");
    assert_eq!(w.engine.agent(&"a1".into()).expect("a1").counters.consecutive_missed, 1);
}

#[test]
fn logout_while_ringing_gives_the_call_to_the_next_agent() {
    let w = World::new(vec![queue("q", "s", SelectionPolicy::LongestIdle, 0)]);
    w.agent("a1", &[("s", 1)], true, t(0));
    w.agent("a2", &[("s", 1)], true, t(1));
    w.call("q", "c1", 0, t(2));
    assert_eq!(w.agent_of("c1").as_deref(), Some("a1"));
    w.engine.logout(&"a1".into(), t(3)).expect("logout");
    assert_eq!(w.agent_of("c1").as_deref(), Some("a2"));
    assert_eq!(w.state("a1"), K::LoggedOut);
    assert_eq!(w.engine.agent(&"a1".into()).expect("a1").counters.consecutive_missed, 0);
    w.assert_consistent();
}

#[test]
fn bad_input_is_refused_with_the_field_named() {
    let w = World::new(vec![queue("q", "s", SelectionPolicy::LongestIdle, 0)]);
    let check = |result: Result<(), Error>, expect: &str| {
        assert_eq!(result.map_err(|e| e.to_string()), Err(expect.to_string()));
    };
    let bad_level = switchboard_routing::AgentProfile::new(
        "x",
        vec![switchboard_routing::SkillLevel::new("s", 9)],
    );
    check(
        w.engine.upsert_agent(bad_level, t(0)),
        "invalid agent.skills[0].level: 9 is outside 1..=5",
    );
    check(
        w.engine.upsert_agent(switchboard_routing::AgentProfile::new("", vec![]), t(0)),
        "invalid agent.id: must not be empty",
    );
    check(w.engine.login(&"ghost".into(), true, t(0)), "unknown agent ghost");
    w.agent("a1", &[("s", 1)], true, t(0));
    check(
        w.engine.set_not_ready(&"a1".into(), "", t(0)),
        "invalid reason: must be 1 to 64 bytes of printable text",
    );
    let mut call = switchboard_routing::NewCall::new("c1", t(0));
    call.priority = i32::MAX;
    check(
        w.engine.route_call(&"q".into(), call, t(0)).map(|_| ()),
        "invalid call.priority: 2147483647 is outside -1000000..=1000000",
    );
    check(
        w.engine
            .route_call(&"nope".into(), switchboard_routing::NewCall::new("c1", t(0)), t(0))
            .map(|_| ()),
        "unknown queue nope",
    );
    assert_eq!(w.engine.call_count(), 0, "refused calls leave nothing behind");
    w.call("q", "c1", 0, t(0));
    check(
        w.engine
            .route_call(&"q".into(), switchboard_routing::NewCall::new("c1", t(0)), t(0))
            .map(|_| ()),
        "call c1 already exists",
    );
    assert_eq!(w.agent_of("c1").as_deref(), Some("a1"), "a duplicate leaves the original alone");
    w.assert_consistent();
}
