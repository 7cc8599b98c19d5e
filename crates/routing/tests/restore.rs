//! Restoring an engine from its folded events: agents in their states, calls in the same
//! order with the same priorities and entry times, timers that continue rather than restart.

mod common;

use std::time::Duration;

use common::{queue, t, World};
use switchboard_routing::{
    AgentStateKind, CallStatus, Event, LiveState, NewCall, Routed, SelectionPolicy, Timestamp,
};

fn folded(world: &World) -> LiveState {
    let mut live = LiveState::default();
    for event in world.log.take() {
        live.apply(&event);
    }
    live
}

/// A fresh engine with the same queues and agents (logged out), as a restarted server builds.
fn fresh(world_queues: impl Fn() -> World, agents: &[(&str, &[(&str, u8)])]) -> World {
    let world = world_queues();
    for (id, skills) in agents {
        let skills =
            skills.iter().map(|(s, l)| switchboard_routing::SkillLevel::new(*s, *l)).collect();
        world
            .engine
            .upsert_agent(switchboard_routing::AgentProfile::new(*id, skills), t(0))
            .expect("valid agent");
    }
    world
}

fn queues() -> World {
    let mut sales = queue("sales", "sales", SelectionPolicy::LongestIdle, 30);
    sales.max_wait = Some(Duration::from_secs(300));
    World::new(vec![sales, queue("support", "support", SelectionPolicy::LongestIdle, 30)])
}

const AGENTS: &[(&str, &[(&str, u8)])] = &[
    ("ann", &[("sales", 3)]),
    ("bob", &[("sales", 3)]),
    ("cy", &[("support", 2)]),
    ("di", &[("sales", 1)]),
];

#[test]
fn the_folded_journal_restores_the_engine_exactly() {
    let world = fresh(queues, AGENTS);
    let e = &world.engine;
    e.login(&"ann".into(), true, t(1)).unwrap();
    e.login(&"bob".into(), true, t(2)).unwrap();
    e.login(&"cy".into(), false, t(3)).unwrap();
    e.login(&"di".into(), true, t(4)).unwrap();
    e.set_not_ready(&"di".into(), "break", t(5)).unwrap();
    // ann answers c1, bob rings with c2, three calls wait with mixed priorities.
    assert!(matches!(world.call("sales", "c1", 0, t(10)), Routed::Offered(_)));
    e.call_answered(&"c1".into(), t(12)).unwrap();
    assert!(matches!(world.call("sales", "c2", 0, t(20)), Routed::Offered(_)));
    world.call("sales", "c3", 0, t(30));
    world.call("sales", "c4", 5, t(31));
    world.call("sales", "c5", 0, t(30));
    world.call("support", "s1", 0, t(40));
    let before = e.live_state();
    let live = folded(&world);
    assert_eq!(live, before, "the fold of the events is the engine's state");

    let restarted = fresh(queues, AGENTS);
    let report = restarted.engine.restore(&live, t(41)).expect("restorable");
    assert_eq!(restarted.engine.live_state(), before);
    assert_eq!(report.calls_queued, 4);
    assert_eq!(report.calls_offered, 1);
    assert_eq!(report.calls_connected, 1);
    assert_eq!(report.offers_expired, 1, "c2's offer ran out at t(40)");
    assert!(report.dropped.is_empty(), "{:?}", report.dropped);
    assert!(restarted.engine.audit().is_empty(), "{:?}", restarted.engine.audit());

    // Same order as before the restart: c4 (priority 5), then c3 and c5 by engine order.
    e.call_ended(&"c1".into(), t(50)).unwrap();
    restarted.engine.call_ended(&"c1".into(), t(50)).unwrap();
    let order = |w: &World| {
        let mut taken = Vec::new();
        for (i, at) in [(0, 81), (1, 82), (2, 83)] {
            let _ = i;
            w.engine.advance(t(at));
            w.engine.set_ready(&"ann".into(), t(at)).ok();
            if let Some(CallStatus::Offered { .. }) = w.engine.call_status(&"c4".into()) {}
            let offered: Vec<String> = w
                .log
                .take()
                .into_iter()
                .filter_map(|ev| match ev {
                    Event::CallOffered { offer, .. } => Some(offer.call.to_string()),
                    _ => None,
                })
                .collect();
            taken.extend(offered);
            // Free ann again for the next call.
            let call = taken.last().cloned();
            if let Some(call) = call {
                let _ = w.engine.call_answered(&call.as_str().into(), t(at));
                let _ = w.engine.call_ended(&call.as_str().into(), t(at));
            }
        }
        taken
    };
    let a = order(&world);
    let b = order(&restarted);
    assert_eq!(a, b);
    assert_eq!(a[0], "c4");
}

#[test]
fn a_reservation_that_expired_during_the_outage_is_released_and_the_call_keeps_its_place() {
    let world = fresh(queues, AGENTS);
    let e = &world.engine;
    e.login(&"ann".into(), true, t(1)).unwrap();
    world.call("sales", "first", 0, t(10)); // rings ann until t(30)
    world.call("sales", "second", 0, t(11)); // waits
    let live = folded(&world);

    let restarted = fresh(queues, AGENTS);
    let report = restarted.engine.restore(&live, t(35)).unwrap();
    assert_eq!(report.offers_expired, 1);
    assert_eq!(report.agents[&AgentStateKind::Reserved], 1);
    restarted.log.take();
    restarted.engine.advance(t(35));
    // The offer timed out at its own deadline; "first" arrived earlier, so it is at the
    // head of the line again and goes to ann once she is back.
    let events = restarted.log.take();
    assert!(events.iter().any(|ev| matches!(ev,
        Event::OfferEnded { call, at, .. } if call.as_str() == "first" && *at == t(30))));
    match restarted.engine.call_status(&"first".into()) {
        Some(CallStatus::Offered { agent, .. }) => assert_eq!(agent.as_str(), "ann"),
        other => panic!("first should ring ann again, got {other:?}"),
    }
    assert!(matches!(
        restarted.engine.call_status(&"second".into()),
        Some(CallStatus::Queued { .. })
    ));
    assert!(restarted.engine.audit().is_empty(), "{:?}", restarted.engine.audit());
}

#[test]
fn waits_and_wait_limits_continue_from_the_original_queue_entry() {
    let world = fresh(queues, AGENTS);
    world.call("sales", "old", 0, t(10)); // max_wait 300 s: leaves at t(310)
    let live = folded(&world);
    let restarted = fresh(queues, AGENTS);
    restarted.engine.restore(&live, t(200)).unwrap();
    assert_eq!(
        restarted.engine.longest_wait(&"sales".into(), t(200)).unwrap(),
        Some(Duration::from_secs(190))
    );
    restarted.log.take();
    restarted.engine.advance(t(309));
    assert!(restarted.log.take().is_empty());
    restarted.engine.advance(t(310));
    assert!(restarted
        .log
        .take()
        .iter()
        .any(|ev| matches!(ev, Event::QueueTimedOut { at, .. } if *at == t(310))));
}

#[test]
fn an_agent_whose_call_is_gone_comes_back_available_and_unknown_entries_are_reported() {
    let mut live = LiveState::default();
    live.apply(&Event::AgentStateChanged {
        agent: "ann".into(),
        state: switchboard_routing::AgentState::Reserved {
            call: "ghost".into(),
            queue: "sales".into(),
            deadline: t(50),
        },
        epoch: 9,
        at: t(10),
    });
    live.apply(&Event::AgentStateChanged {
        agent: "nobody".into(),
        state: switchboard_routing::AgentState::Available,
        epoch: 1,
        at: t(10),
    });
    live.apply(&Event::CallEntered {
        call: Box::new(NewCall::new("lost", Timestamp::from_secs(5))),
        queue: "closed-queue".into(),
        seq: 3,
        first_entered: t(5),
        at: t(5),
    });
    let restarted = fresh(queues, AGENTS);
    let report = restarted.engine.restore(&live, t(20)).unwrap();
    assert_eq!(restarted.state("ann"), AgentStateKind::Available);
    assert_eq!(report.dropped.len(), 3, "{:?}", report.dropped);
    assert_eq!(restarted.engine.call_count(), 0);
    // A second restore into the same engine is refused once it holds calls.
    restarted.call("sales", "c", 0, t(21));
    assert!(restarted.engine.restore(&live, t(22)).is_err());
}
