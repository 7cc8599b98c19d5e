//! Statistics checked to the millisecond: a scripted scenario on a manual clock.

use std::time::Duration;

use switchboard_proto::v1 as pb;
use switchboard_routing::Timestamp;
use switchboard_server::Clock;

use crate::harness::*;

/// 2026-11-25T10:00:00Z: the start of a 15-minute interval.
const T0_MS: u64 = 1_795_600_800_000;
/// 2026-11-25T00:00:00Z: the day's start in the test center's zone (UTC).
const MIDNIGHT_MS: i64 = 1_795_564_800_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scripted_scenario_gives_exact_statistics() {
    let clock = Clock::manual(Timestamp::from_millis(T0_MS));
    let at = |s: u64| clock.set(Timestamp::from_millis(T0_MS + s * 1_000));
    let server = TestServer::start_manual("stats-exact", CENTER, clock.clone()).await;
    login(&server, &["ana", "bob"]).await;
    let mut router = server.router().await;
    let mut watch = router
        .watch_assignments(pb::WatchAssignmentsRequest { switch_id: "sw1".into() })
        .await
        .unwrap()
        .into_inner();
    let send = |call: &'static str, kind| {
        let mut router = router.clone();
        async move { router.report_call_event(event(call, kind)).await.unwrap() }
    };

    // t=0: two calls ring the two agents, a third waits. t=10: a fourth waits behind it.
    for (call, expect) in [("c1", "connect"), ("c2", "connect"), ("c3", "queued billing #1")] {
        let d = server.router().await.route_call(route(call, "+200")).await.unwrap().into_inner();
        assert!(short(&d).starts_with(expect), "{call}: {}", short(&d));
    }
    at(4);
    send("c1", pb::CallEventKind::Answered).await; // waited 4 s
    at(6);
    send("c2", pb::CallEventKind::Answered).await; // waited 6 s
    at(10);
    let d = server.router().await.route_call(route("c4", "+200")).await.unwrap().into_inner();
    assert_eq!(short(&d), "queued billing #2");

    at(20);
    // Agent counts come from the event pump, which may trail the engine by a message or two.
    let s =
        stats_when(&server, "billing", |s| s.longest_wait_ms == 20_000 && s.agents_on_call == 2)
            .await;
    assert_eq!((s.calls_waiting, s.agents_on_call, s.agents_available), (2, 2, 0));

    at(30);
    send("c3", pb::CallEventKind::Abandoned).await; // waited 30 s: not within 20 s
    at(64);
    send("c1", pb::CallEventKind::Ended).await; // talked 60 s; no wrap-up: c4 rings at once
    let offered =
        tokio::time::timeout(Duration::from_secs(5), watch.message()).await.unwrap().unwrap();
    assert_eq!(offered.unwrap().call_id, "c4");
    at(66);
    send("c4", pb::CallEventKind::Answered).await; // waited 56 s
    at(106);
    send("c2", pb::CallEventKind::Ended).await; // talked 100 s
    at(126);
    send("c4", pb::CallEventKind::Ended).await; // talked 60 s
    at(130);

    let s = stats_when(&server, "billing", |s| s.today.is_some_and(|t| t.handled == 3)).await;
    assert_eq!((s.calls_waiting, s.longest_wait_ms, s.agents_available), (0, 0, 2));
    let today = s.today.unwrap();
    let expected = pb::WindowStats {
        start_unix_ms: MIDNIGHT_MS,
        offered: 4,
        answered: 3,
        abandoned: 1,
        answered_within_threshold: 2,
        abandoned_within_threshold: 0,
        overflowed: 0,
        service_level: Some(2.0 / 3.0),
        service_level_2: Some(2.0 / 4.0),
        // (4 + 6 + 56) s / 3
        asa_ms: Some(22_000),
        // (60 + 100 + 60) s / 3, in whole milliseconds
        aht_ms: Some(73_333),
        // Busy 126 s + 106 s over 2 agents x 130 s logged in.
        occupancy: Some(232.0 / 260.0),
        handled: 3,
        busy_ms: 232_000,
        staffed_ms: 260_000,
    };
    assert_eq!(today, expected);
    assert_eq!(s.interval.unwrap(), pb::WindowStats { start_unix_ms: T0_MS as i64, ..expected });
}
