//! Graceful shutdown flushes call records; the export reads them back.

use switchboard_proto::v1 as pb;

use crate::harness::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_drains_streams_and_flushes_every_finished_call() {
    let server = TestServer::start("shutdown").await;
    login(&server, &["ana"]).await;
    let mut router = server.router().await;
    // An open stream must not keep the server from stopping.
    let _watch = router
        .watch_assignments(pb::WatchAssignmentsRequest::default())
        .await
        .unwrap()
        .into_inner();

    router.route_call(route("answered", "+200")).await.unwrap();
    router.report_call_event(event("answered", pb::CallEventKind::Answered)).await.unwrap();
    router.route_call(route("abandoned", "+200")).await.unwrap();
    router.report_call_event(event("abandoned", pb::CallEventKind::Abandoned)).await.unwrap();
    router.report_call_event(event("answered", pb::CallEventKind::Ended)).await.unwrap();
    router.route_call(route("ivr-hangup", "+100")).await.unwrap();
    router.report_call_event(event("ivr-hangup", pb::CallEventKind::Abandoned)).await.unwrap();
    router.route_call(route("wrong-key", "+100")).await.unwrap();
    // Invalid keys until the menu gives up (after its retries).
    for _ in 0..5 {
        let d = router
            .submit_digits(pb::SubmitDigitsRequest {
                call_id: "wrong-key".into(),
                digits: "9".into(),
            })
            .await
            .unwrap()
            .into_inner();
        if short(&d).starts_with("hangup") {
            break;
        }
    }
    // Still in flight at shutdown: not recorded.
    router.route_call(route("in-flight", "+200")).await.unwrap();
    let db = server.db.clone();
    server.stop().await;

    let mut csv = Vec::new();
    let rows = switchboard_server::records::export_csv(&db, &mut csv).unwrap();
    let text = String::from_utf8(csv).unwrap();
    assert_eq!(rows, 4, "{text}");
    let outcomes: Vec<(String, String, String)> = text
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[5].to_string(), f[6].to_string(), f[4].to_string())
        })
        .collect();
    let find = |id: &str| {
        outcomes.iter().find(|o| o.0 == id).cloned().unwrap_or_else(|| panic!("{id} in {text}"))
    };
    assert_eq!(find("answered").1, "answered");
    assert_eq!(find("abandoned"), ("abandoned".into(), "abandoned".into(), "true".into()));
    assert_eq!(find("ivr-hangup").1, "abandoned_in_ivr");
    assert_eq!(find("wrong-key").1, "hung_up");
}
