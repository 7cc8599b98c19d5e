//! Overload and resource limits: fast refusals beyond capacity with events of admitted calls
//! still served, expired deadlines, streams per client, message sizes, slow stream readers.

use std::time::Duration;

use switchboard_proto::v1 as pb;
use switchboard_server::settings::AuthSettings;
use switchboard_server::Clock;
use tonic::transport::{Channel, Endpoint};
use tonic::Code;

use crate::auth::http_get;
use crate::harness::*;

/// The value of one metric line (`name{labels}`) in `/metrics`, 0 when absent.
async fn metric(server: &TestServer, series: &str) -> f64 {
    let text = http_get(server.http, "/metrics").await;
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
        .map_or(0.0, |v| v.trim().parse().expect("metric value"))
}

async fn start_limited(
    name: &str,
    tweak: impl FnOnce(&mut switchboard_server::Settings),
) -> TestServer {
    TestServer::start_full(name, CENTER, AuthSettings::default(), Clock::system(), tweak).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_new_calls_is_shed_while_admitted_calls_keep_working() {
    let server = start_limited("overload-burst", |s| {
        s.limits.max_concurrent_requests = 64;
        s.limits.max_concurrent_new_requests = 1;
        // This test is about the count; the wait for a worker is another reason to refuse.
        s.limits.max_queue_delay_ms = 0;
    })
    .await;
    login(&server, &["ana", "carl"]).await;
    let mut router = server.router().await;
    assert_eq!(
        short(&router.route_call(route("a1", "+200")).await.unwrap().into_inner()),
        "connect ana"
    );

    // Many connections, each sending its share of the burst at once.
    let mut channels = Vec::new();
    for _ in 0..4 {
        channels.push(server.channel().await);
    }
    let burst: Vec<_> = (0..400)
        .map(|i| {
            let mut client = pb::router_client::RouterClient::new(channels[i % 4].clone());
            tokio::spawn(async move { client.route_call(route(&format!("b{i}"), "+200")).await })
        })
        .collect();
    // Meanwhile the admitted call and an agent move on: none of it may be refused.
    let mut agents = server.agents().await;
    router
        .report_call_event(event("a1", pb::CallEventKind::Answered))
        .await
        .expect("answered during the burst");
    for _ in 0..10 {
        agents
            .set_not_ready(pb::SetNotReadyRequest {
                agent_id: "carl".into(),
                reason: "break".into(),
            })
            .await
            .expect("agent change during the burst");
        agents
            .set_ready(pb::AgentRequest { agent_id: "carl".into() })
            .await
            .expect("agent change during the burst");
    }
    router
        .report_call_event(event("a1", pb::CallEventKind::Ended))
        .await
        .expect("ended during the burst");

    let (mut served, mut refused) = (0, 0);
    for task in burst {
        match task.await.unwrap() {
            Ok(_) => served += 1,
            Err(status) => {
                assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
                assert!(
                    status.message().contains("server.limits.max_concurrent_new_requests"),
                    "{status:?}"
                );
                refused += 1;
            }
        }
    }
    assert!(refused > 0, "a burst of 400 over a limit of 1 must be shed ({served} served)");
    assert_eq!(
        metric(&server, "switchboard_requests_shed_total{priority=\"new\",reason=\"concurrency\"}")
            .await,
        refused as f64
    );
    assert_eq!(
        metric(
            &server,
            "switchboard_requests_shed_total{priority=\"admitted\",reason=\"concurrency\"}"
        )
        .await,
        0.0,
        "events of admitted calls were never shed"
    );
    // Refused calls were never worked on: the handler saw exactly the served ones.
    assert_eq!(
        metric(&server, "switchboard_rpcs_total{rpc=\"RouteCall\",code=\"Ok\"}").await,
        (served + 1) as f64
    );
    // Once the burst is over everything is served again.
    for i in 0..20 {
        router
            .route_call(route(&format!("after{i}"), "+200"))
            .await
            .expect("served after the burst");
    }
    assert_eq!(metric(&server, "switchboard_requests_in_flight").await, 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_calls_beyond_the_call_rate_are_refused_with_a_pushback_and_leave_no_trace() {
    let server = start_limited("overload-call-rate", |s| {
        s.limits.max_new_calls_per_s = 1;
        s.limits.new_calls_burst = 2;
    })
    .await;
    login(&server, &["ana", "carl"]).await;
    let mut router = server.router().await;
    let started = std::time::Instant::now();
    assert_eq!(
        short(&router.route_call(route("r1", "+200")).await.unwrap().into_inner()),
        "connect ana"
    );
    router.route_call(route("r2", "+200")).await.expect("the burst has room for two");
    let offered_before =
        stats_when(&server, "billing", |q| q.today.unwrap_or_default().offered == 2)
            .await
            .today
            .unwrap_or_default()
            .offered;

    let burst: Vec<_> = (0..20)
        .map(|i| {
            let mut client = router.clone();
            tokio::spawn(async move { client.route_call(route(&format!("b{i}"), "+200")).await })
        })
        .collect();
    // Events of admitted calls and agent changes never count against the rate.
    router.report_call_event(event("r1", pb::CallEventKind::Answered)).await.expect("answered");
    router.report_call_event(event("r1", pb::CallEventKind::Ended)).await.expect("ended");
    let mut served = Vec::new();
    let mut refused = 0;
    for (i, task) in burst.into_iter().enumerate() {
        match task.await.unwrap() {
            Ok(_) => served.push(i),
            Err(status) => {
                assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
                assert!(
                    status.message().contains("server.limits.max_new_calls_per_s"),
                    "{status:?}"
                );
                let pushback: u64 = status
                    .metadata()
                    .get("grpc-retry-pushback-ms")
                    .expect("a pushback hint")
                    .to_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                assert!((1..=1_000).contains(&pushback), "pushback {pushback} ms");
                refused += 1;
            }
        }
    }
    // One new place per second since the first call: the bound follows the time it took.
    let allowed = started.elapsed().as_secs() as usize;
    assert!(served.len() <= allowed, "{served:?} served in {allowed} s at 1 call/s");
    assert_eq!(refused + served.len(), 20);
    assert_eq!(
        metric(&server, "switchboard_requests_shed_total{priority=\"new\",reason=\"call_rate\"}")
            .await,
        refused as f64
    );
    // Refused calls left no trace: only the admitted ones were offered to the queue.
    let q = stats_when(&server, "billing", |q| q.today.unwrap_or_default().answered == 1).await;
    assert_eq!(q.today.unwrap_or_default().offered, offered_before + served.len() as u64);
}

/// A unary call over a plain HTTP/2 client, so the test sets `grpc-timeout` itself (a tonic
/// channel would enforce a past deadline on the client side and never send the request).
pub async fn raw_unary<Req, Resp>(
    server: &TestServer,
    path: &'static str,
    request: tonic::Request<Req>,
) -> Result<tonic::Response<Resp>, tonic::Status>
where
    Req: prost::Message + Send + Sync + 'static,
    Resp: prost::Message + Default + Send + Sync + 'static,
{
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .http2_only(true)
        .build_http::<tonic::body::Body>();
    let origin = format!("http://{}", server.grpc).parse().unwrap();
    let mut grpc = tonic::client::Grpc::with_origin(client, origin);
    grpc.ready().await.unwrap();
    let path = tonic::codegen::http::uri::PathAndQuery::from_static(path);
    grpc.unary(request, path, tonic_prost::ProstCodec::default()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_whose_deadline_passed_is_not_worked_on() {
    let server = TestServer::start("overload-deadline").await;
    login(&server, &["ana"]).await;
    let _ = server.channel().await;
    let mut late = tonic::Request::new(route("late", "+200"));
    late.metadata_mut().insert("grpc-timeout", "0n".parse().unwrap());
    let status =
        raw_unary::<_, pb::RouteDecision>(&server, "/switchboard.v1.Router/RouteCall", late)
            .await
            .expect_err("an expired deadline is refused");
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    assert!(status.message().contains("before the request was worked on"), "{status:?}");
    assert_eq!(
        metric(&server, "switchboard_requests_shed_total{priority=\"new\",reason=\"deadline\"}")
            .await,
        1.0
    );
    // Nothing happened: the id is free and ana is still available for the same call.
    let mut in_time = tonic::Request::new(route("late", "+200"));
    in_time.metadata_mut().insert("grpc-timeout", "10S".parse().unwrap());
    let decision =
        raw_unary::<_, pb::RouteDecision>(&server, "/switchboard.v1.Router/RouteCall", in_time)
            .await
            .expect("a live deadline is served");
    assert_eq!(short(&decision.into_inner()), "connect ana");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_are_limited_per_client() {
    let server = start_limited("overload-streams", |s| s.limits.max_streams_per_client = 2).await;
    let mut supervisor = server.supervisor().await;
    let mut agents = server.agents().await;
    let mut router = server.router().await;
    let stats = supervisor
        .watch_stats(pb::WatchStatsRequest { include_agents: false })
        .await
        .expect("first stream")
        .into_inner();
    let _agent = agents
        .watch_agent(pb::AgentRequest { agent_id: "ana".into() })
        .await
        .expect("second stream");
    let status = router
        .watch_assignments(pb::WatchAssignmentsRequest { switch_id: String::new() })
        .await
        .expect_err("a third stream is refused");
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert_eq!(
        status.message(),
        "too many streams: this client holds 2 open, limit 2 (server.limits.max_streams_per_client); close one first"
    );
    // Unary calls are not streams.
    router.route_call(route("u1", "+200")).await.expect("unary calls still served");
    // Closing a stream frees its place once the server sees the reset.
    drop(stats);
    let mut reopened = None;
    for _ in 0..250 {
        if let Ok(s) =
            router.watch_assignments(pb::WatchAssignmentsRequest { switch_id: String::new() }).await
        {
            reopened = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(reopened.is_some(), "the closed stream's place was never freed");
    assert_eq!(metric(&server, "switchboard_streams_open{stream=\"stats\"}").await, 0.0);
    assert_eq!(metric(&server, "switchboard_streams_open{stream=\"assignments\"}").await, 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_above_the_message_size_limit_are_refused_unread() {
    let server = start_limited("overload-size", |s| s.limits.max_request_bytes = 4096).await;
    login(&server, &["ana"]).await;
    let mut router = server.router().await;
    let mut big = route("big", "+200");
    for i in 0..40 {
        big.attributes.insert(format!("k{i}"), "v".repeat(200));
    }
    let status = router.route_call(big).await.expect_err("too big");
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(
        status.message().contains("4096 bytes (server.limits.max_request_bytes)"),
        "{status:?}"
    );
    // Not decoded, so not routed: the id is free and ana still available.
    assert_eq!(
        short(&router.route_call(route("big", "+200")).await.unwrap().into_inner()),
        "connect ana"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_reader_that_stops_reading_cannot_block_routing_or_hold_memory() {
    let server = start_limited("overload-slow", |s| {
        s.limits.agent_update_buffer = 16;
        s.limits.assignment_buffer = 16;
    })
    .await;
    // Agent updates of about 1 kB: a few hundred fill the reader's HTTP/2 window (64 kB) and
    // the server's send buffer (400 kB), after which only the broadcast buffer is left.
    let mut admin_agents = server.agents().await;
    let long = "x".repeat(250);
    admin_agents
        .upsert_agent(pb::UpsertAgentRequest {
            agent: Some(pb::AgentProfile {
                id: "ana".into(),
                skills: vec![pb::Skill { name: "billing".into(), level: 3 }],
                display_name: long.clone(),
                site: long.clone(),
                region: long.clone(),
                team: long,
                ..Default::default()
            }),
        })
        .await
        .expect("big agent");
    login(&server, &["ana", "bob"]).await;

    // The stuck wallboard: small windows, streams opened and never read.
    let slow: Channel = Endpoint::from_shared(format!("http://{}", server.grpc))
        .unwrap()
        .initial_stream_window_size(65_535)
        .initial_connection_window_size(65_535)
        .connect()
        .await
        .unwrap();
    let mut stuck = pb::agents_client::AgentsClient::new(slow.clone())
        .watch_agent(pb::AgentRequest { agent_id: "ana".into() })
        .await
        .unwrap()
        .into_inner();
    let _stuck_stats = pb::supervisor_client::SupervisorClient::new(slow.clone())
        .watch_stats(pb::WatchStatsRequest { include_agents: true })
        .await
        .unwrap()
        .into_inner();
    let _stuck_assignments = pb::router_client::RouterClient::new(slow)
        .watch_assignments(pb::WatchAssignmentsRequest { switch_id: String::new() })
        .await
        .unwrap()
        .into_inner();

    const CHANGES: usize = 500;
    let driving = async {
        let mut agents = server.agents().await;
        let mut router = server.router().await;
        for i in 0..CHANGES {
            agents
                .set_not_ready(pb::SetNotReadyRequest {
                    agent_id: "ana".into(),
                    reason: "break".into(),
                })
                .await
                .expect("agent change");
            agents
                .set_ready(pb::AgentRequest { agent_id: "ana".into() })
                .await
                .expect("agent change");
            // Calls keep being routed and offered (streamed as assignments nobody reads).
            let id = format!("c{i}");
            router.route_call(route(&id, "+200")).await.expect("routing goes on");
            router
                .report_call_event(event(&id, pb::CallEventKind::Abandoned))
                .await
                .expect("event");
        }
    };
    tokio::time::timeout(Duration::from_secs(30), driving)
        .await
        .expect("a stuck reader must not block routing");

    // Buffers are bounded by the settings, whatever the stuck readers do.
    let _ = stats_when(&server, "billing", |_| true).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        metric(&server, "switchboard_stream_buffered_messages{stream=\"agent\"}").await <= 16.0
    );
    assert!(
        metric(&server, "switchboard_stream_buffered_messages{stream=\"assignments\"}").await
            <= 16.0
    );

    // When the reader comes back it gets what fit in the buffers, then a clear status.
    let mut received = 0;
    let status = loop {
        match tokio::time::timeout(Duration::from_secs(10), stuck.message())
            .await
            .expect("stream moves")
        {
            Ok(Some(_)) => received += 1,
            Ok(None) => panic!("stream ended without a status after {received} updates"),
            Err(status) => break status,
        }
    };
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(status.message().contains("server.limits.agent_update_buffer"), "{status:?}");
    assert!(received < 2 * CHANGES, "the lagging reader skipped updates ({received} received)");
    assert_eq!(metric(&server, "switchboard_streams_lagged_total{stream=\"agent\"}").await, 1.0);
}
