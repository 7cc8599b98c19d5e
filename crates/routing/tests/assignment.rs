//! Which call an agent takes and which agent a call gets: priorities, aging, fairness across
//! queues, wrap-up, extra requirements, limits and timeouts.

mod common;

use std::time::Duration;

use common::{queue, t, World};
use switchboard_routing::{
    AgentProfile, AgentStateKind as K, Error, Event, NewCall, Routed, SelectionPolicy, SkillLevel,
    SkillRequirement, Timestamp,
};

fn two_queue_world() -> World {
    World::new(vec![
        queue("sales", "sales", SelectionPolicy::LongestIdle, 0),
        queue("support", "support", SelectionPolicy::LongestIdle, 0),
    ])
}

#[test]
fn a_free_agent_takes_the_longest_waiting_call_across_its_queues() {
    let w = two_queue_world();
    w.call("sales", "s1", 0, t(30));
    w.call("support", "p1", 0, t(10));
    w.call("sales", "s2", 0, t(20));
    w.agent("a", &[("sales", 1), ("support", 1)], true, t(60));
    assert_eq!(w.agent_of("p1").as_deref(), Some("a"), "p1 waited longest (since 10)");
    w.finish("p1", t(61));
    assert_eq!(w.agent_of("s2").as_deref(), Some("a"), "then s2 (since 20) beats s1 (since 30)");
    w.assert_consistent();
}

#[test]
fn higher_priority_beats_longer_wait_across_queues() {
    let w = two_queue_world();
    w.call("support", "old", 0, t(0));
    w.call("sales", "vip", 5, t(50));
    w.agent("a", &[("sales", 1), ("support", 1)], true, t(60));
    assert_eq!(w.agent_of("vip").as_deref(), Some("a"));
}

#[test]
fn calls_of_equal_priority_leave_in_arrival_order() {
    let w = World::new(vec![queue("q", "s", SelectionPolicy::LongestIdle, 0)]);
    for (i, id) in ["c3", "c1", "c2"].iter().enumerate() {
        // Arrival times 3, 1, 2: routed out of order, served in arrival order.
        let arrival = [3, 1, 2][i];
        let mut call = NewCall::new(*id, t(arrival));
        call.priority = 1;
        w.engine.route_call(&"q".into(), call, t(10)).expect("route");
    }
    w.call("q", "low", 0, t(0));
    let order: Vec<_> = w.engine.queue_snapshot(&"q".into()).expect("q").waiting;
    assert_eq!(order, ["c1".into(), "c2".into(), "c3".into(), "low".into()]);
    w.agent("a", &[("s", 1)], true, t(20));
    let mut served = Vec::new();
    for i in 0..4 {
        let call = w.engine.agent(&"a".into()).expect("a").state.call().cloned().expect("offered");
        served.push(call.to_string());
        w.finish(call.as_str(), t(21 + i));
    }
    assert_eq!(served, ["c1", "c2", "c3", "low"]);
}

#[test]
fn priority_aging_turns_waiting_time_into_priority() {
    // 10 s of waiting is worth one priority point.
    let mut q = queue("q", "s", SelectionPolicy::LongestIdle, 0);
    q.priority_aging = Some(Duration::from_secs(10));
    let check = |vip_arrival: u64, expect_first: &str| {
        let w = World::new(vec![q.clone()]);
        w.call("q", "plain", 0, t(0));
        w.call("q", "vip", 2, t(vip_arrival));
        w.agent("a", &[("s", 1)], true, t(30));
        // At 30 s: plain scores 0 + 3.0; vip scores 2 + (30 - arrival) / 10.
        assert_eq!(w.agent_of(expect_first).as_deref(), Some("a"), "vip arriving at {vip_arrival}");
    };
    check(15, "vip"); // 3.5 > 3.0
    check(25, "plain"); // 2.5 < 3.0
    check(10, "vip"); // 4.0 > 3.0
}

#[test]
fn aging_is_compared_across_queues_at_the_moment_of_choice() {
    let mut fast = queue("fast", "s", SelectionPolicy::LongestIdle, 0);
    fast.priority_aging = Some(Duration::from_secs(5));
    let plain = queue("plain", "s", SelectionPolicy::LongestIdle, 0);
    let w = World::new(vec![fast, plain]);
    // plain: priority 3, no aging: scores 3. fast: priority 0, arrived 0, +1 per 5 s.
    w.call("plain", "p", 3, t(0));
    w.call("fast", "f", 0, t(0));
    w.agent("a", &[("s", 1)], true, t(10)); // fast scores 2 < 3
    assert_eq!(w.agent_of("p").as_deref(), Some("a"));
    w.engine.call_answered(&"p".into(), t(11)).expect("answer");
    w.call("plain", "p2", 3, t(12));
    w.engine.call_ended(&"p".into(), t(20)).expect("end"); // fast scores 4 > 3
    assert_eq!(w.agent_of("f").as_deref(), Some("a"));
}

#[test]
fn wrap_up_is_respected_to_the_millisecond() {
    let w = World::new(vec![queue("q", "s", SelectionPolicy::LongestIdle, 30)]);
    w.agent("a", &[("s", 1)], true, t(0));
    w.call("q", "c1", 0, t(1));
    w.finish("c1", t(10));
    w.call("q", "c2", 0, t(11));
    assert_eq!(w.state("a"), K::WrapUp);
    w.engine.advance(Timestamp::from_millis(39_999));
    assert_eq!(w.agent_of("c2"), None, "still wrapping up at 39.999 s");
    w.engine.advance(t(40));
    assert_eq!(w.agent_of("c2").as_deref(), Some("a"), "wrap-up ends at 40 s");
}

#[test]
fn a_call_with_extra_requirements_waits_for_an_agent_who_meets_them() {
    let w = World::new(vec![queue("q", "s", SelectionPolicy::LongestIdle, 0)]);
    w.agent("en", &[("s", 3), ("lang:en", 5)], true, t(0));
    let mut call = NewCall::new("fr-call", t(1));
    call.required_skills = vec![SkillRequirement::new("lang:fr", 2)];
    let routed = w.engine.route_call(&"q".into(), call, t(1)).expect("route");
    assert!(matches!(routed, Routed::Queued { position: 1, .. }), "{routed:?}");
    // A plain call still goes to the English speaker while the French call waits.
    w.call("q", "plain", 0, t(2));
    assert_eq!(w.agent_of("plain").as_deref(), Some("en"));
    // A level-1 French speaker is not enough; level 2 is.
    w.agent("fr1", &[("s", 1), ("lang:fr", 1)], true, t(3));
    assert_eq!(w.agent_of("fr-call"), None);
    w.agent("fr2", &[("s", 1), ("lang:fr", 2)], true, t(4));
    assert_eq!(w.agent_of("fr-call").as_deref(), Some("fr2"));
    w.assert_consistent();
}

#[test]
fn an_arriving_call_skips_available_agents_who_lack_its_extra_skills() {
    let w = World::new(vec![queue("q", "s", SelectionPolicy::LongestIdle, 0)]);
    w.agent("en1", &[("s", 1)], true, t(0));
    w.agent("en2", &[("s", 1)], true, t(1));
    w.agent("fr", &[("s", 1), ("lang:fr", 1)], true, t(2));
    let mut call = NewCall::new("fr-call", t(3));
    call.required_skills = vec![SkillRequirement::new("lang:fr", 1)];
    w.engine.route_call(&"q".into(), call, t(3)).expect("route");
    assert_eq!(w.agent_of("fr-call").as_deref(), Some("fr"));
    w.call("q", "plain", 0, t(4));
    assert_eq!(w.agent_of("plain").as_deref(), Some("en1"), "en1 keeps its place in line");
}

#[test]
fn a_full_queue_refuses_the_next_call_and_keeps_the_rest() {
    let mut q = queue("q", "s", SelectionPolicy::LongestIdle, 0);
    q.max_waiting = 2;
    let w = World::new(vec![q]);
    w.call("q", "c1", 0, t(0));
    w.call("q", "c2", 0, t(1));
    let err = w.engine.route_call(&"q".into(), NewCall::new("c3", t(2)), t(2)).unwrap_err();
    assert_eq!(err, Error::QueueFull { queue: "q".into(), max_waiting: 2 });
    assert_eq!(err.to_string(), "queue q is full (2 calls waiting)");
    assert_eq!(w.engine.call_count(), 2);
    // An agent frees a place; c3 can come in now.
    w.agent("a", &[("s", 1)], true, t(3));
    w.call("q", "c3", 0, t(4));
    w.assert_consistent();
}

#[test]
fn a_call_that_waits_max_wait_leaves_with_an_event() {
    let mut q = queue("q", "s", SelectionPolicy::LongestIdle, 0);
    q.max_wait = Some(Duration::from_secs(60));
    let w = World::new(vec![q]);
    w.call("q", "c1", 0, t(0));
    w.call("q", "c2", 0, t(30));
    w.log.take();
    assert_eq!(w.engine.next_deadline(), Some(t(60)));
    w.engine.advance(t(59));
    assert_eq!(w.engine.call_count(), 2);
    w.engine.advance(t(60));
    let events = w.log.take();
    assert!(
        matches!(&events[..], [Event::QueueTimedOut { call, at, .. }] if call.id.as_str() == "c1" && *at == t(60)),
        "{events:?}"
    );
    assert_eq!(w.engine.call_count(), 1);
    assert_eq!(w.engine.queue_totals(&"q".into()).expect("q").timed_out, 1);
    // c2 is answered before its limit; its timer fires later and does nothing.
    w.agent("a", &[("s", 1)], true, t(70));
    w.engine.call_answered(&"c2".into(), t(71)).expect("answer");
    w.engine.advance(t(200));
    assert_eq!(w.state("a"), K::OnCall);
    w.assert_consistent();
}

#[test]
fn abandons_are_counted_with_and_without_an_offer() {
    let w = World::new(vec![queue("q", "s", SelectionPolicy::LongestIdle, 0)]);
    w.call("q", "c1", 0, t(0));
    w.call("q", "c2", 0, t(0));
    w.engine.call_abandoned(&"c1".into(), t(10)).expect("abandon queued");
    w.agent("a", &[("s", 1)], true, t(30));
    assert_eq!(w.agent_of("c2").as_deref(), Some("a"));
    w.engine.call_abandoned(&"c2".into(), t(31)).expect("abandon ringing");
    assert_eq!(w.state("a"), K::Available);
    let totals = w.engine.queue_totals(&"q".into()).expect("q");
    assert_eq!((totals.abandoned, totals.abandoned_within_threshold), (2, 1));
    assert_eq!(w.engine.agent(&"a".into()).expect("a").counters.consecutive_missed, 0);
    assert_eq!(w.engine.call_count(), 0);
    w.assert_consistent();
}

#[test]
fn a_rejected_call_goes_to_the_next_agent_and_keeps_its_place() {
    let w = World::new(vec![queue("q", "s", SelectionPolicy::LongestIdle, 0)]);
    w.agent("a", &[("s", 1)], true, t(0));
    w.call("q", "c1", 0, t(1));
    w.call("q", "c2", 0, t(2));
    w.agent("b", &[("s", 1)], false, t(3));
    w.engine
        .offer_failed(&"c1".into(), switchboard_routing::OfferOutcome::Rejected, t(4))
        .expect("reject");
    // Only a is free again: c1 (older) comes back to a, ahead of c2.
    assert_eq!(w.agent_of("c1").as_deref(), Some("a"));
    w.engine.set_ready(&"b".into(), t(5)).expect("ready");
    assert_eq!(w.agent_of("c2").as_deref(), Some("b"));
    w.engine
        .offer_failed(&"c1".into(), switchboard_routing::OfferOutcome::Rejected, t(6))
        .expect("reject");
    assert_eq!(w.state("a"), K::Reserved);
    w.assert_consistent();
}

#[test]
fn new_skills_make_an_available_agent_take_waiting_calls_at_once() {
    let w = two_queue_world();
    w.agent("a", &[("sales", 1)], true, t(0));
    w.call("support", "p1", 0, t(1));
    assert_eq!(w.agent_of("p1"), None);
    let profile =
        AgentProfile::new("a", vec![SkillLevel::new("sales", 1), SkillLevel::new("support", 2)]);
    w.engine.upsert_agent(profile, t(2)).expect("update");
    assert_eq!(w.agent_of("p1").as_deref(), Some("a"));
    assert_eq!(w.engine.agent(&"a".into()).expect("a").queues, ["sales".into(), "support".into()]);
    w.assert_consistent();
}

#[test]
fn withdrawn_calls_come_back_with_their_arrival_time() {
    let w = two_queue_world();
    let mut call = NewCall::new("c1", t(5));
    call.priority = 2;
    w.engine.route_call(&"sales".into(), call, t(5)).expect("route");
    let back = w.engine.withdraw_call(&"c1".into(), t(50)).expect("withdraw");
    assert_eq!((back.arrived_at, back.priority), (t(5), 2));
    assert_eq!(w.engine.call_count(), 0);
    // Overflow: route it to the other queue, where it is ahead of a later arrival.
    w.call("support", "later", 2, t(40));
    w.engine.route_call(&"support".into(), back, t(50)).expect("reroute");
    assert_eq!(
        w.engine.queue_snapshot(&"support".into()).expect("q").waiting,
        ["c1".into(), "later".into()]
    );
}

#[test]
fn a_targeted_call_waits_for_its_agent_until_escalation_frees_it() {
    let w = World::new(vec![queue("q", "s", SelectionPolicy::LongestIdle, 0)]);
    w.agent("other", &[("s", 1)], true, t(0));
    w.agent("last", &[("s", 1)], false, t(0));
    let mut call = NewCall::new("c1", t(1));
    call.target_agent = Some("last".into());
    call.escalation = vec![switchboard_routing::Escalation {
        after: Duration::from_secs(30),
        required_skills: vec![],
    }];
    let routed = w.engine.route_call(&"q".into(), call, t(1)).expect("route");
    assert!(
        matches!(routed, Routed::Queued { .. }),
        "other is free but not the target: {routed:?}"
    );
    w.assert_consistent();
    w.engine.advance(t(30));
    assert_eq!(w.agent_of("c1"), None, "escalation is due at 31 s");
    w.engine.advance(t(31));
    assert_eq!(w.agent_of("c1").as_deref(), Some("other"));
    w.assert_consistent();
}

#[test]
fn a_targeted_call_goes_to_its_agent_at_once_when_free() {
    let w = World::new(vec![queue("q", "s", SelectionPolicy::LongestIdle, 0)]);
    w.agent("first", &[("s", 1)], true, t(0));
    w.agent("last", &[("s", 1)], true, t(5));
    let mut call = NewCall::new("c1", t(10));
    call.target_agent = Some("last".into());
    w.engine.route_call(&"q".into(), call, t(10)).expect("route");
    assert_eq!(w.agent_of("c1").as_deref(), Some("last"));
    w.call("q", "c2", 0, t(11));
    assert_eq!(w.agent_of("c2").as_deref(), Some("first"));
    w.assert_consistent();
}

#[test]
fn escalation_lowers_the_required_level_step_by_step() {
    let w = World::new(vec![queue("q", "s", SelectionPolicy::LongestIdle, 0)]);
    w.agent("junior", &[("s", 1), ("lang:fr", 1)], true, t(0));
    let mut call = NewCall::new("c1", t(0));
    call.required_skills = vec![SkillRequirement::new("lang:fr", 5)];
    call.escalation = vec![
        switchboard_routing::Escalation {
            after: Duration::from_secs(20),
            required_skills: vec![SkillRequirement::new("lang:fr", 3)],
        },
        switchboard_routing::Escalation {
            after: Duration::from_secs(40),
            required_skills: vec![SkillRequirement::new("lang:fr", 1)],
        },
    ];
    w.engine.route_call(&"q".into(), call, t(0)).expect("route");
    w.engine.advance(t(20));
    assert_eq!(w.agent_of("c1"), None, "level 3 still excludes a level-1 speaker");
    w.engine.advance(t(40));
    assert_eq!(w.agent_of("c1").as_deref(), Some("junior"));
}

#[test]
fn a_call_level_wait_limit_applies_when_shorter_than_the_queues() {
    let w = World::new(vec![queue("q", "s", SelectionPolicy::LongestIdle, 0)]);
    let mut call = NewCall::new("c1", t(0));
    call.max_wait = Some(Duration::from_secs(15));
    w.engine.route_call(&"q".into(), call, t(0)).expect("route");
    w.engine.advance(t(15));
    assert_eq!(w.engine.call_count(), 0);
}

#[test]
fn estimated_wait_is_position_times_handle_time_over_staff() {
    let mut q = queue("q", "s", SelectionPolicy::LongestIdle, 20);
    q.default_handle_time = Duration::from_secs(200);
    let w = World::new(vec![q]);
    assert_eq!(w.engine.estimated_wait(&"q".into()).expect("q"), None, "nobody logged in");
    w.agent("a", &[("s", 1)], true, t(0));
    w.agent("b", &[("s", 1)], false, t(0));
    assert_eq!(w.engine.estimated_wait(&"q".into()).expect("q"), Some(Duration::ZERO), "a is free");
    w.call("q", "c1", 0, t(1));
    w.call("q", "c2", 0, t(1));
    w.call("q", "c3", 0, t(1));
    // Two waiting, two logged in, 200 s default: the next caller is third, 3 * 200 / 2 = 300 s.
    assert_eq!(w.engine.estimated_wait(&"q".into()).expect("q"), Some(Duration::from_secs(300)));
    // After one handled call of 100 s talk + 20 s wrap, the average is 120 s: 3 * 120 / 2.
    w.engine.call_answered(&"c1".into(), t(10)).expect("answer");
    w.engine.call_ended(&"c1".into(), t(110)).expect("end");
    assert_eq!(w.engine.estimated_wait(&"q".into()).expect("q"), Some(Duration::from_secs(180)));
    assert!(w.engine.has_qualified_agent(&"q".into(), &[]).expect("q"));
    assert!(!w
        .engine
        .has_qualified_agent(&"q".into(), &[SkillRequirement::new("lang:fr", 1)])
        .expect("q"));
}

/// The (wait_ms, total_wait_ms) of the answer or abandon events of `call` in `events`.
fn waits_of(events: &[Event], call: &str) -> Vec<(u64, u64)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::CallAnswered { call: c, wait_ms, total_wait_ms, .. }
            | Event::CallAbandoned { call: c, wait_ms, total_wait_ms, .. }
                if c.as_str() == call =>
            {
                Some((*wait_ms, *total_wait_ms))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn queue_wait_counts_from_queue_entry_not_from_arrival() {
    let w = World::new(vec![queue("q", "s", SelectionPolicy::LongestIdle, 0)]);
    // Arrived at 0, spent 40 s in the IVR, entered the queue at 40, answered at 55: 15 s.
    w.engine.route_call(&"q".into(), NewCall::new("c1", t(0)), t(40)).expect("route");
    assert_eq!(
        w.engine.longest_wait(&"q".into(), t(50)).expect("q"),
        Some(Duration::from_secs(10))
    );
    assert_eq!(
        w.engine.queue_snapshot(&"q".into()).expect("q").oldest_arrival,
        Some(t(40)),
        "the longest wait counts from queue entry"
    );
    w.agent("a", &[("s", 1)], true, t(50));
    w.engine.call_answered(&"c1".into(), t(55)).expect("answer");
    assert_eq!(waits_of(&w.log.take(), "c1"), [(15_000, 15_000)]);
    // 15 s is within the 20 s service level even though the caller arrived 55 s ago.
    let totals = w.engine.queue_totals(&"q".into()).expect("q");
    assert_eq!((totals.answered_within_threshold, totals.answered_wait_ms), (1, 15_000));

    // Abandoned 25 s after entering the queue (35 s after arrival): outside the threshold.
    w.engine.route_call(&"q".into(), NewCall::new("c2", t(100)), t(110)).expect("route");
    w.engine.call_abandoned(&"c2".into(), t(135)).expect("abandon");
    assert_eq!(waits_of(&w.log.take(), "c2"), [(25_000, 25_000)]);
    let totals = w.engine.queue_totals(&"q".into()).expect("q");
    assert_eq!((totals.abandoned, totals.abandoned_within_threshold), (1, 0));
}

#[test]
fn an_overflowed_call_keeps_its_first_queue_entry_for_the_total_wait() {
    let mut first = queue("first", "s", SelectionPolicy::LongestIdle, 0);
    first.max_wait = Some(Duration::from_secs(30));
    let w = World::new(vec![first, queue("second", "s", SelectionPolicy::LongestIdle, 0)]);
    // In the IVR 0-10, in `first` 10-40, then overflowed to `second`.
    w.engine.route_call(&"first".into(), NewCall::new("c1", t(0)), t(10)).expect("route");
    w.engine.advance(t(40));
    let back = w
        .log
        .take()
        .into_iter()
        .find_map(|e| match e {
            Event::QueueTimedOut { call, .. } => Some(*call),
            _ => None,
        })
        .expect("timed out");
    assert_eq!((back.arrived_at, back.queued_since), (t(0), Some(t(10))));
    w.engine.route_call(&"second".into(), back, t(41)).expect("reroute");
    w.agent("a", &[("s", 1)], true, t(50));
    w.engine.call_answered(&"c1".into(), t(52)).expect("answer");
    // 11 s in `second` (its per-queue stats), 42 s in line in all (the center's ASA).
    assert_eq!(waits_of(&w.log.take(), "c1"), [(11_000, 42_000)]);

    // A withdrawn call carries its first queue entry too.
    w.engine.route_call(&"first".into(), NewCall::new("c2", t(100)), t(105)).expect("route");
    let back = w.engine.withdraw_call(&"c2".into(), t(110)).expect("withdraw");
    assert_eq!(back.queued_since, Some(t(105)));
}

#[test]
fn qualified_agent_counts_follow_login_logout_and_profile_changes() {
    let w = World::new(vec![queue("q", "s", SelectionPolicy::LongestIdle, 0)]);
    let fr = |level| vec![SkillRequirement::new("lang:fr", level)];
    let fr_and_vip = vec![SkillRequirement::new("lang:fr", 1), SkillRequirement::new("vip", 1)];
    let q = || "q".into();
    assert!(!w.engine.has_qualified_agent(&q(), &[]).expect("q"), "nobody logged in");
    w.agent("plain", &[("s", 1)], false, t(0));
    w.agent("fr3", &[("s", 1), ("lang:fr", 3)], false, t(0));
    w.agent("vip", &[("s", 1), ("vip", 2)], false, t(0));
    // check(requirements, expected)
    let check = |reqs: &[SkillRequirement], expect: bool| {
        assert_eq!(w.engine.has_qualified_agent(&q(), reqs).expect("q"), expect, "{reqs:?}");
    };
    check(&[], true);
    check(&fr(3), true);
    check(&fr(4), false);
    check(&[SkillRequirement::new("s", 2)], false);
    // Two partial requirements: fr3 speaks French, vip is VIP, nobody is both.
    check(&fr_and_vip, false);
    w.engine
        .upsert_agent(
            AgentProfile::new(
                "vip",
                vec![
                    SkillLevel::new("s", 1),
                    SkillLevel::new("vip", 2),
                    SkillLevel::new("lang:fr", 1),
                ],
            ),
            t(1),
        )
        .expect("update");
    check(&fr_and_vip, true);
    w.engine.logout(&"vip".into(), t(2)).expect("logout");
    check(&fr_and_vip, false);
    w.engine.logout(&"fr3".into(), t(2)).expect("logout");
    check(&fr(1), false);
    assert_eq!(w.engine.logged_in_count(&q()).expect("q"), 1);
    w.assert_consistent();
}

#[test]
fn waiting_count_and_estimates_for_a_call_with_extra_skills() {
    let mut q = queue("q", "s", SelectionPolicy::LongestIdle, 0);
    q.default_handle_time = Duration::from_secs(100);
    let w = World::new(vec![q]);
    w.agent("plain", &[("s", 1)], false, t(0));
    let fr = [SkillRequirement::new("lang:fr", 1)];
    w.call("q", "c1", 0, t(1));
    w.call("q", "c2", 5, t(2));
    assert_eq!(w.engine.waiting_count(&"q".into()).expect("q"), 2);
    w.engine.set_ready(&"plain".into(), t(3)).expect("ready");
    w.call("q", "c3", 0, t(4));
    assert!(!w.engine.has_available_agent(&"q".into(), &[]).expect("q"), "plain took c2");
    // c1 and c3 wait; one agent at 100 s a call: a new call at priority 0 is third (300 s), at
    // priority 9 first (100 s).
    let est = |priority| w.engine.estimated_wait_for(&"q".into(), priority, t(4), &fr).expect("q");
    assert_eq!(est(0), Some(Duration::from_secs(300)), "behind c1 and c3");
    assert_eq!(est(9), Some(Duration::from_secs(100)), "ahead of everyone");
    assert_eq!(
        w.engine.estimated_wait_at(&"q".into(), 2).expect("q"),
        Some(Duration::from_secs(200))
    );
}

#[test]
fn a_call_refused_by_a_full_queue_does_not_change_later_random_choices() {
    // Two engines with the same seed; only the first sees a refused call. Afterwards both must
    // pick the same agents: the refusal drew nothing from the random policy's generator.
    let picks = |with_refusal: bool| -> Vec<String> {
        let mut q = queue("q", "s", SelectionPolicy::Random, 0);
        q.max_waiting = 1;
        let w = World::new(vec![q]);
        for id in ["x", "y", "z", "v"] {
            w.agent(id, &[("s", 1)], true, t(0));
        }
        let french = |id: &str| {
            let mut call = NewCall::new(id, t(1));
            call.required_skills = vec![SkillRequirement::new("lang:fr", 1)];
            call
        };
        // Nobody speaks French: the first French call waits and fills the queue.
        let routed = w.engine.route_call(&"q".into(), french("w1"), t(1)).expect("route");
        assert!(matches!(routed, Routed::Queued { .. }));
        if with_refusal {
            let refused = w.engine.route_call(&"q".into(), french("r1"), t(1));
            assert!(matches!(refused, Err(Error::QueueFull { .. })), "{refused:?}");
        }
        (0..12)
            .map(|i| {
                let id = format!("c{i}");
                w.call("q", &id, 0, t(2 + i));
                let agent = w.agent_of(&id).expect("offered");
                w.engine.call_abandoned(&id.as_str().into(), t(2 + i)).expect("abandon");
                agent
            })
            .collect()
    };
    assert_eq!(picks(true), picks(false));
}
