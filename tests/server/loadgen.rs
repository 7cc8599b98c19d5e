//! The load generator against a real server on 127.0.0.1:0: short, bounded runs of the
//! scenarios that queue, go through the menu, abandon and drain, with the accounting check
//! against the server's statistics and RPC counters.

use std::time::Duration;

use switchboard_loadgen::cpu::ServerCpu;
use switchboard_loadgen::{
    run_against, CenterSpec, Endpoint, JournalMode, Knobs, Options, Scenario,
};
use switchboard_server::settings::AuthSettings;

use crate::harness::TestServer;

const SMALL: CenterSpec = CenterSpec { agents: 60, queues: 6, queues_per_agent: 2, hot_agents: 3 };

fn options(scenario: Scenario) -> Options {
    Options {
        scenario,
        knobs: Knobs {
            duration: Duration::from_millis(800),
            peak_calls_per_s: 40.0,
            saturation_callers: vec![6],
            hot_callers: 8,
            talk_ms: 200,
            overload_calls_per_s: 2_000.0,
        },
        center: SMALL,
        connections: 2,
        supervisors: 2,
        max_calls: 5_000,
        seed: 7,
        drain_timeout: Duration::from_secs(20),
        journal: JournalMode::Off,
    }
}

fn endpoint(server: &TestServer) -> Endpoint {
    Endpoint {
        grpc: server.grpc,
        metrics: Some(server.http),
        cpu: ServerCpu::Unknown,
        token: None,
        label: "test server".into(),
        journal: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_the_generator_made_is_counted_once_by_the_server() {
    let server = TestServer::start_with("loadgen", &SMALL.to_toml(), AuthSettings::default()).await;
    let _ = server.channel().await;
    let endpoint = endpoint(&server);

    // Back to back through the menu and the skill queues, with abandons and breaks.
    let saturation = run_against(&endpoint, &options(Scenario::Saturation)).await.unwrap();
    let text = saturation.text();
    assert!(saturation.accounting.ok(), "{text}");
    assert!(saturation.accounting.rpcs_checked, "{text}");
    let phase = &saturation.phases[0];
    assert_eq!(phase.errors, 0, "{text}");
    assert!(phase.calls.started > 20 && phase.calls.via_menu > 0, "{text}");
    assert!(phase.latency.count > 0 && phase.latency_by_rpc.contains_key("SubmitDigits"), "{text}");

    // Eight callers for three agents: calls queue and reach their agents over the stream.
    let hot = run_against(&endpoint, &options(Scenario::Hot)).await.unwrap();
    let text = hot.text();
    assert!(hot.accounting.ok(), "{text}");
    assert!(hot.phases[0].calls.queued > 0, "{text}");
    assert!(hot.phases[0].queued_wait.is_some(), "{text}");
    assert_eq!(hot.phases[0].errors + hot.drain.errors, 0, "{text}");

    // Real-time pauses: calls still ringing, talking or waiting when arrivals stop are
    // fast-forwarded to their end, and still add up.
    let realistic = run_against(&endpoint, &options(Scenario::Realistic)).await.unwrap();
    let text = realistic.text();
    assert!(realistic.accounting.ok(), "{text}");
    assert!(realistic.drain.rpcs > 0, "calls were in flight when arrivals stopped: {text}");
    assert!(realistic.stats_snapshots > 0, "{text}");

    let json = serde_json::to_value(&realistic).unwrap();
    assert_eq!(json["plan"]["scenario"], "realistic");
    assert!(json["phases"][0]["latency"]["p99_us"].as_u64().is_some());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overload_is_shed_at_route_call_and_the_server_recovers_when_it_drops() {
    // A small share for new work, so the overload phase is beyond it whatever the machine.
    let server = TestServer::start_full(
        "loadgen-overload",
        &SMALL.to_toml(),
        AuthSettings::default(),
        switchboard_server::Clock::system(),
        |s| {
            s.limits.max_concurrent_requests = 512;
            s.limits.max_concurrent_new_requests = 2;
        },
    )
    .await;
    let _ = server.channel().await;
    let report = run_against(&endpoint(&server), &options(Scenario::Overload)).await.unwrap();
    let text = report.text();
    let [_before, overload, after] = &report.phases[..] else { panic!("three phases: {text}") };
    assert!(overload.refused > 0, "new calls beyond the share are refused: {text}");
    assert!(
        overload.latency_by_rpc.get("RouteCall").is_some_and(|p| p.count > 0),
        "calls within the share are routed during the overload: {text}"
    );
    // Refusals are RouteCalls only: nothing a call already admitted or an agent sent failed,
    // and every refused call left the server's counts as if it never came.
    for phase in report.phases.iter().chain([&report.drain]) {
        assert_eq!(phase.errors, 0, "{}: {text}", phase.name);
    }
    assert!(overload.admitted_latency.count > 0, "{text}");
    assert!(report.accounting.ok(), "{text}");
    assert!(report.accounting.rpcs_checked, "{text}");
    // Back to the normal rate: served again, without a restart or an operator.
    let served_after = after.codes.get("RouteCall Ok").copied().unwrap_or(0);
    assert!(served_after > 0, "{text}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_with_another_center_or_off_loopback_is_refused() {
    let server = TestServer::start("loadgen-wrong-center").await;
    let _ = server.channel().await;
    let err = run_against(&endpoint(&server), &options(Scenario::Floor)).await.unwrap_err();
    assert!(err.to_string().contains("has no queue q0000"), "{err}");

    let remote = Endpoint { grpc: "192.0.2.1:50051".parse().unwrap(), ..endpoint(&server) };
    let err = run_against(&remote, &options(Scenario::Floor)).await.unwrap_err();
    assert!(err.to_string().contains("not a loopback address"), "{err}");
    server.stop().await;
}
