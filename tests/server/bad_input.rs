//! Every bad request gets a clear status naming the problem, and changes nothing.

use switchboard_proto::v1 as pb;
use tonic::Code;

use crate::harness::*;

fn check(
    result: Result<tonic::Response<impl std::fmt::Debug>, tonic::Status>,
    code: Code,
    message: &str,
) {
    let status = result.expect_err("request should fail");
    assert_eq!(status.code(), code, "{status:?}");
    assert_eq!(status.message(), message);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn router_requests() {
    let server = TestServer::start("bad-router").await;
    login(&server, &["ana", "carl"]).await;
    let mut router = server.router().await;

    check(
        router.route_call(route("", "+200")).await,
        Code::InvalidArgument,
        "invalid call_id: must not be empty",
    );
    check(
        router.route_call(route(&"x".repeat(200), "+200")).await,
        Code::InvalidArgument,
        "invalid call_id: longer than 128 bytes",
    );
    let mut attrs = route("c1", "+200");
    attrs.attributes.insert("tier".into(), "gold\u{7}".into());
    check(
        router.route_call(attrs).await,
        Code::InvalidArgument,
        "invalid attributes[\"tier\"]: contains control characters",
    );
    check(
        router.route_call(route("c1", "+999")).await,
        Code::NotFound,
        "no entry point for dialed number \"+999\"",
    );

    // c1 rings ana; a second c1 is refused and leaves the first alone.
    assert_eq!(
        short(&router.route_call(route("c1", "+200")).await.unwrap().into_inner()),
        "connect ana"
    );
    check(
        router.route_call(route("c1", "+200")).await,
        Code::AlreadyExists,
        "call c1 already exists",
    );
    check(
        router.report_call_event(event("c1", pb::CallEventKind::Ended)).await,
        Code::FailedPrecondition,
        "call c1 cannot be ended: it was never answered (it rings agent ana); report it abandoned",
    );
    router.report_call_event(event("c1", pb::CallEventKind::Answered)).await.expect("c1 is intact");
    check(
        router.report_call_event(event("c1", pb::CallEventKind::Answered)).await,
        Code::FailedPrecondition,
        "call c1 cannot be answered: it was already answered",
    );
    check(
        router.report_call_event(event("nope", pb::CallEventKind::Answered)).await,
        Code::NotFound,
        "unknown call nope",
    );
    check(
        router.report_call_event(pb::CallEventRequest { call_id: "c1".into(), kind: 42 }).await,
        Code::InvalidArgument,
        "invalid kind: 42 is not a call event kind",
    );
    check(
        router.report_call_event(event("c1", pb::CallEventKind::Unspecified)).await,
        Code::InvalidArgument,
        "invalid kind: 0 is not a call event kind",
    );
    check(
        router
            .submit_digits(pb::SubmitDigitsRequest { call_id: "c1".into(), digits: "12a".into() })
            .await,
        Code::InvalidArgument,
        "invalid digits: must be up to 64 of 0-9, * and #",
    );
    check(
        router
            .submit_digits(pb::SubmitDigitsRequest { call_id: "ghost".into(), digits: "1".into() })
            .await,
        Code::NotFound,
        "unknown call ghost",
    );

    // Sales holds one waiting call: carl busy, one waits, the next is refused.
    let to_sales = |id: &str| pb::RouteCallRequest {
        call_id: id.into(),
        dialed: "+100".into(),
        ..Default::default()
    };
    for (id, expect) in [("s1", "connect carl"), ("s2", "queued sales #1")] {
        router.route_call(to_sales(id)).await.unwrap();
        let d = router
            .submit_digits(pb::SubmitDigitsRequest { call_id: id.into(), digits: "2".into() })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(short(&d), expect);
    }
    // Full after the menu: the caller is on the line, so the switch is told to hang up.
    router.route_call(to_sales("s3")).await.unwrap();
    let d = router
        .submit_digits(pb::SubmitDigitsRequest { call_id: "s3".into(), digits: "2".into() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(short(&d), "hangup queue sales is full (1 calls waiting)");
    check(
        router
            .submit_digits(pb::SubmitDigitsRequest { call_id: "s3".into(), digits: "2".into() })
            .await,
        Code::NotFound,
        "unknown call s3",
    );
    // Straight to the full queue: refused, and the call id stays free.
    check(
        router.route_call(route("direct", "+300")).await,
        Code::ResourceExhausted,
        "queue sales is full (1 calls waiting)",
    );
    router.report_call_event(event("s2", pb::CallEventKind::Abandoned)).await.unwrap();
    assert_eq!(
        short(&router.route_call(route("direct", "+300")).await.unwrap().into_inner()),
        "queued sales #1"
    );
    let sales =
        stats_when(&server, "sales", |s| s.today.as_ref().is_some_and(|t| t.offered == 3)).await;
    assert_eq!(sales.today.unwrap().abandoned, 1, "refused calls never entered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_requests() {
    let server = TestServer::start("bad-agents").await;
    let mut agents = server.agents().await;
    let upsert = |p: pb::AgentProfile| pb::UpsertAgentRequest { agent: Some(p) };
    check(
        agents.upsert_agent(pb::UpsertAgentRequest { agent: None }).await,
        Code::InvalidArgument,
        "invalid agent: is required",
    );
    check(
        agents
            .upsert_agent(upsert(pb::AgentProfile {
                id: "eve".into(),
                skills: vec![pb::Skill { name: "sales".into(), level: 9 }],
                ..Default::default()
            }))
            .await,
        Code::InvalidArgument,
        "invalid agent.skills[0].level: 9 is outside 1..=5",
    );
    check(
        agents.get_agent(pb::AgentRequest { agent_id: "eve".into() }).await,
        Code::NotFound,
        "unknown agent eve",
    );
    check(
        agents.set_ready(pb::AgentRequest { agent_id: "ghost".into() }).await,
        Code::NotFound,
        "unknown agent ghost",
    );
    check(
        agents.set_ready(pb::AgentRequest { agent_id: "ana".into() }).await,
        Code::FailedPrecondition,
        "agent ana cannot go ready while logged_out",
    );
    login(&server, &["ana"]).await;
    check(
        agents
            .set_not_ready(pb::SetNotReadyRequest { agent_id: "ana".into(), reason: String::new() })
            .await,
        Code::InvalidArgument,
        "invalid reason: must be 1 to 64 bytes of printable text",
    );
    check(
        agents
            .list_agents(pb::ListAgentsRequest { team: String::new(), queue: "nope".into() })
            .await,
        Code::NotFound,
        "unknown queue nope",
    );
    let ana =
        agents.get_agent(pb::AgentRequest { agent_id: "ana".into() }).await.unwrap().into_inner();
    assert_eq!(ana.state, pb::AgentState::Available as i32, "rejected requests changed nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_server_refuses_new_calls_until_one_leaves() {
    let server = TestServer::start_full(
        "server-full",
        CENTER,
        switchboard_server::settings::AuthSettings::default(),
        switchboard_server::Clock::system(),
        |s| s.max_calls_in_flight = 2,
    )
    .await;
    let mut router = server.router().await;
    for id in ["f1", "f2"] {
        assert_eq!(
            short(&router.route_call(route(id, "+200")).await.unwrap().into_inner()),
            format!("queued billing #{}", &id[1..])
        );
    }
    check(
        router.route_call(route("f3", "+200")).await,
        Code::ResourceExhausted,
        "server is full: 2 calls in flight (server.max_calls_in_flight)",
    );
    // Refused means unchanged: f3 left no trace, and a call leaving makes room.
    router.report_call_event(event("f1", pb::CallEventKind::Abandoned)).await.unwrap();
    assert_eq!(
        short(&router.route_call(route("f3", "+200")).await.unwrap().into_inner()),
        "queued billing #2"
    );
}
