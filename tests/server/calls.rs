//! The life of calls through the API, with assignment streaming and exact statistics.

use std::time::Duration;

use switchboard_proto::v1 as pb;
use tokio_stream::StreamExt;

use crate::harness::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_queue_stream_and_add_up_to_exact_statistics() {
    let server = TestServer::start("life").await;
    login(&server, &["ana", "bob", "carl"]).await;
    let mut router = server.router().await;
    let mut watch = router
        .watch_assignments(pb::WatchAssignmentsRequest { switch_id: "sw1".into() })
        .await
        .unwrap()
        .into_inner();

    // Through the menu to billing: the first two calls ring the two billing agents at once.
    let d = router.route_call(route("c1", "+100")).await.unwrap().into_inner();
    assert_eq!(short(&d), "collect welcome");
    assert_eq!(d.trace.len(), 1);
    let d = router
        .submit_digits(pb::SubmitDigitsRequest { call_id: "c1".into(), digits: "1".into() })
        .await
        .unwrap()
        .into_inner();
    let first = short(&d);
    assert!(first == "connect ana" || first == "connect bob", "{first}");
    let Some(pb::route_decision::Action::Connect(c)) = &d.action else { unreachable!() };
    assert_eq!(c.queue, "billing");
    assert_eq!(c.endpoint, c.agent_id, "no endpoint configured: the id");
    assert_eq!(d.switch_id, "sw1");
    let second = short(&router.route_call(route("c2", "+200")).await.unwrap().into_inner());
    assert_ne!(first, second);
    for c in ["c1", "c2"] {
        router.report_call_event(event(c, pb::CallEventKind::Answered)).await.unwrap();
    }

    // Both busy: the next two wait, in order.
    assert_eq!(
        short(&router.route_call(route("c3", "+200")).await.unwrap().into_inner()),
        "queued billing #1"
    );
    assert_eq!(
        short(&router.route_call(route("c4", "+200")).await.unwrap().into_inner()),
        "queued billing #2"
    );
    let waiting =
        stats_when(&server, "billing", |s| s.calls_waiting == 2 && s.agents_on_call == 2).await;
    assert_eq!(waiting.agents_on_call, 2, "{waiting:#?}");
    assert_eq!(waiting.agents_available, 0);

    // c4's caller gives up; c1 ends and its agent takes c3, handed over on the stream.
    router.report_call_event(event("c4", pb::CallEventKind::Abandoned)).await.unwrap();
    router.report_call_event(event("c1", pb::CallEventKind::Ended)).await.unwrap();
    let assigned =
        tokio::time::timeout(Duration::from_secs(5), watch.next()).await.unwrap().unwrap().unwrap();
    assert_eq!(assigned.call_id, "c3");
    assert_eq!(short(&assigned), first, "the agent who freed up");
    assert_eq!(assigned.switch_id, "sw1");

    // The agent rejects it: it goes back to the head of the line and rings on the next hang-up.
    router.report_call_event(event("c3", pb::CallEventKind::OfferRejected)).await.unwrap();
    router.report_call_event(event("c2", pb::CallEventKind::Ended)).await.unwrap();
    let reassigned =
        tokio::time::timeout(Duration::from_secs(5), watch.next()).await.unwrap().unwrap().unwrap();
    assert_eq!(reassigned.call_id, "c3");
    router.report_call_event(event("c3", pb::CallEventKind::Answered)).await.unwrap();
    router.report_call_event(event("c3", pb::CallEventKind::Ended)).await.unwrap();

    // Sales through the menu; carl answers and ends.
    router.route_call(route("s1", "+100")).await.unwrap();
    let d = router
        .submit_digits(pb::SubmitDigitsRequest { call_id: "s1".into(), digits: "2".into() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(short(&d), "connect carl");
    assert_eq!(
        d.trace.iter().map(|s| s.node.as_str()).collect::<Vec<_>>(),
        ["menu", "menu", "sales"],
        "the walk, node by node"
    );

    let s =
        stats_when(&server, "billing", |s| s.today.as_ref().is_some_and(|t| t.handled == 3)).await;
    let today = s.today.unwrap();
    assert_eq!(s.calls_waiting, 0);
    assert_eq!(s.agents_available, 2);
    assert_eq!(s.agents_logged_in, 2);
    assert_eq!(
        (today.offered, today.answered, today.abandoned, today.handled),
        (4, 3, 1, 3),
        "{today:#?}"
    );
    assert_eq!((today.answered_within_threshold, today.abandoned_within_threshold), (3, 1));
    assert_eq!(today.service_level, Some(1.0));
    assert_eq!(today.service_level_2, Some(1.0));
    assert!(today.asa_ms.is_some());
    assert_eq!(
        s.interval.unwrap().offered,
        4,
        "same 15-minute interval (unless the test straddles one)"
    );
    let sales = stats_when(&server, "sales", |s| s.agents_on_call == 1).await;
    assert_eq!(sales.today.unwrap().offered, 1);

    // The supervisor stream carries the same numbers.
    let mut sup = server.supervisor().await;
    let mut stats =
        sup.watch_stats(pb::WatchStatsRequest { include_agents: true }).await.unwrap().into_inner();
    let snapshot = stats.next().await.unwrap().unwrap();
    assert_eq!(
        snapshot.queues.iter().map(|q| q.queue.as_str()).collect::<Vec<_>>(),
        ["billing", "sales"]
    );
    assert_eq!(snapshot.agents.len(), 3);
    // Within a second of a change a new snapshot arrives.
    router.report_call_event(event("s1", pb::CallEventKind::Answered)).await.unwrap();
    let next = tokio::time::timeout(Duration::from_secs(1), async {
        loop {
            let s = stats.next().await.unwrap().unwrap();
            let carl = s
                .agents
                .iter()
                .find(|a| a.profile.as_ref().unwrap().id == "carl")
                .cloned()
                .unwrap();
            if carl.state == pb::AgentState::OnCall as i32 && carl.calls_answered == 1 {
                return s;
            }
        }
    })
    .await
    .expect("a snapshot within 1 s");
    assert_eq!(next.queues[1].agents_on_call, 1);

    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_watch_streams_state_changes_and_offers() {
    let server = TestServer::start("agent-watch").await;
    let mut agents = server.agents().await;
    let mut watch =
        agents.watch_agent(pb::AgentRequest { agent_id: "ana".into() }).await.unwrap().into_inner();
    let state = |u: pb::AgentUpdate| pb::AgentState::try_from(u.agent.unwrap().state).unwrap();
    assert_eq!(state(watch.next().await.unwrap().unwrap()), pb::AgentState::LoggedOut);
    login(&server, &["ana"]).await;
    assert_eq!(state(watch.next().await.unwrap().unwrap()), pb::AgentState::Available);
    let mut router = server.router().await;
    router.route_call(route("c1", "+200")).await.unwrap();
    let offered = watch.next().await.unwrap().unwrap().agent.unwrap();
    assert_eq!(offered.state, pb::AgentState::Reserved as i32);
    assert_eq!(offered.call_id, "c1");
    assert!(offered.deadline_unix_ms.is_some());
    agents
        .set_not_ready(pb::SetNotReadyRequest { agent_id: "ana".into(), reason: "lunch".into() })
        .await
        .expect_err("ringing agents cannot go not ready");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_are_created_updated_filtered_and_deleted() {
    let server = TestServer::start("agents").await;
    let mut agents = server.agents().await;
    let profile = pb::AgentProfile {
        id: "dina".into(),
        display_name: "Dina".into(),
        skills: vec![pb::Skill { name: "sales".into(), level: 5 }],
        team: "red".into(),
        endpoint: "sip:dina@pbx.example".into(),
        ..Default::default()
    };
    let created = agents
        .upsert_agent(pb::UpsertAgentRequest { agent: Some(profile.clone()) })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(created.queues, ["sales"]);
    assert_eq!(created.state, pb::AgentState::LoggedOut as i32);
    let red = agents
        .list_agents(pb::ListAgentsRequest { team: "red".into(), queue: String::new() })
        .await
        .unwrap();
    assert_eq!(red.into_inner().agents.len(), 1);
    let sales = agents
        .list_agents(pb::ListAgentsRequest { team: String::new(), queue: "sales".into() })
        .await
        .unwrap();
    assert_eq!(sales.into_inner().agents.len(), 2);

    // Dina takes sales calls, rung at her endpoint.
    login(&server, &["dina"]).await;
    let d = server.router().await.route_call(route("s1", "+100")).await.unwrap().into_inner();
    assert_eq!(short(&d), "collect welcome");
    let d = server
        .router()
        .await
        .submit_digits(pb::SubmitDigitsRequest { call_id: "s1".into(), digits: "2".into() })
        .await
        .unwrap()
        .into_inner();
    let Some(pb::route_decision::Action::Connect(c)) = d.action else { panic!("{d:?}") };
    assert_eq!((c.agent_id.as_str(), c.endpoint.as_str()), ("dina", "sip:dina@pbx.example"));

    // Logged in agents cannot be deleted; logged out ones can.
    let busy = agents.delete_agent(pb::AgentRequest { agent_id: "dina".into() }).await.unwrap_err();
    assert_eq!(busy.code(), tonic::Code::FailedPrecondition);
    assert_eq!(busy.message(), "agent dina cannot be removed while reserved");
    agents
        .delete_agent(pb::AgentRequest { agent_id: "carl".into() })
        .await
        .expect("carl is logged out");
    let err = agents.get_agent(pb::AgentRequest { agent_id: "carl".into() }).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound);
}
