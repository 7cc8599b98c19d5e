//! Configuration: validate, reload without dropping calls, read.

use switchboard_proto::v1 as pb;
use tonic::Code;

use crate::harness::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_changes_plans_and_keeps_calls_in_flight() {
    let server = TestServer::start("reload").await;
    login(&server, &["ana", "bob"]).await;
    let mut router = server.router().await;
    let mut admin = server.admin().await;

    // One call in the IVR, one connected.
    assert_eq!(
        short(&router.route_call(route("ivr", "+100")).await.unwrap().into_inner()),
        "collect welcome"
    );
    assert_eq!(
        short(&router.route_call(route("talk", "+200")).await.unwrap().into_inner())[..7],
        *"connect"
    );
    router.report_call_event(event("talk", pb::CallEventKind::Answered)).await.unwrap();

    // +200 now goes to voicemail.
    let new_text = CENTER.replace(
        "[plans.direct]\nstart = \"billing\"\n[plans.direct.nodes.billing]\ntype = \"queue\"\nqueue = \"billing\"",
        "[plans.direct]\nstart = \"vm\"\n[plans.direct.nodes.vm]\ntype = \"voicemail\"\nmailbox = \"after-hours\"",
    );
    assert_ne!(new_text, CENTER);
    let reloaded =
        admin.reload_config(pb::ConfigText { toml: new_text.clone() }).await.unwrap().into_inner();
    assert_eq!((reloaded.generation, reloaded.queues, reloaded.plans), (2, 2, 3));
    assert_eq!(
        short(&router.route_call(route("new", "+200")).await.unwrap().into_inner()),
        "voicemail after-hours"
    );
    // The caller in the menu and the call in progress carry on.
    let d = router
        .submit_digits(pb::SubmitDigitsRequest { call_id: "ivr".into(), digits: "1".into() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(&short(&d)[..7], "connect");
    router
        .report_call_event(event("talk", pb::CallEventKind::Ended))
        .await
        .expect("call survived the reload");
    assert_eq!(
        admin.get_config(pb::GetConfigRequest {}).await.unwrap().into_inner().toml,
        new_text
    );

    // A queue change is refused whole.
    let status = admin
        .reload_config(pb::ConfigText {
            toml: new_text.replace(
                "wrap_up_s = 0\noffer_timeout_s = 60",
                "wrap_up_s = 5\noffer_timeout_s = 60",
            ),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(
        status.message(),
        "queues[0]: queue billing changed; changing queues needs a restart"
    );
    // A broken one too, with its problems listed.
    let status = admin
        .reload_config(pb::ConfigText { toml: "[[queues]]\nid = 3\n".into() })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().starts_with("invalid config: <config>:2:"), "{}", status.message());
    assert_eq!(
        admin.get_config(pb::GetConfigRequest {}).await.unwrap().into_inner().toml,
        new_text,
        "unchanged"
    );
    // Without text the server re-reads a file, which the built-in example does not have.
    let status = admin.reload_config(pb::ConfigText { toml: String::new() }).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);

    let check = admin
        .validate_config(pb::ConfigText {
            toml: "[[queues]]\nid = \"q\"\nskills = { q = 1 }\npolicy = \"sideways\"\n".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!check.valid);
    assert_eq!(check.problems.len(), 1);
    assert_eq!(check.problems[0].line, 4);
    assert!(check.problems[0].message.contains("sideways"), "{:?}", check.problems);
}
