//! Every bad request gets a clear status naming the problem, and changes nothing.

use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use prost::bytes::BufMut;
use switchboard_proto::v1 as pb;
use tonic::codegen::Bytes;
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

/// What a rejected request must not change: every agent's state and counters, every queue's
/// waiting calls and counters (time-varying fields left out). Read once the pump is idle.
async fn fingerprint(server: &TestServer) -> Vec<String> {
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let token = server.token.as_deref();
    let mut out = Vec::new();
    let agents = server
        .agents()
        .await
        .list_agents(with_token(pb::ListAgentsRequest::default(), token))
        .await
        .unwrap()
        .into_inner();
    for a in agents.agents {
        let p = a.profile.unwrap_or_default();
        out.push(format!(
            "{} {:?} {} {} {}",
            p.id,
            a.state,
            a.calls_answered,
            p.display_name,
            p.skills.len()
        ));
    }
    let queues = server
        .supervisor()
        .await
        .list_queue_stats(with_token(pb::ListQueueStatsRequest {}, token))
        .await
        .unwrap()
        .into_inner();
    for q in queues.queues {
        let t = q.today.unwrap_or_default();
        out.push(format!(
            "{} waiting {} available {} offered {} answered {} abandoned {}",
            q.queue, q.calls_waiting, q.agents_available, t.offered, t.answered, t.abandoned
        ));
    }
    out
}

/// One connected call (c1 answered by ana) and one queued (c2) to be disturbed.
async fn busy_server(name: &str) -> TestServer {
    busy_server_with(name, |_| {}).await
}

/// [`busy_server`] with `tweak` applied to its settings.
async fn busy_server_with(
    name: &str,
    tweak: impl FnOnce(&mut switchboard_server::Settings),
) -> TestServer {
    let server = TestServer::start_full(
        name,
        CENTER,
        switchboard_server::settings::AuthSettings::default(),
        switchboard_server::Clock::system(),
        tweak,
    )
    .await;
    login(&server, &["ana"]).await;
    let mut router = server.router().await;
    router.route_call(route("c1", "+200")).await.unwrap();
    router.report_call_event(event("c1", pb::CallEventKind::Answered)).await.unwrap();
    router.route_call(route("c2", "+200")).await.unwrap();
    server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_strings_are_refused_and_change_nothing() {
    let server = busy_server("bad-huge").await;
    let before = fingerprint(&server).await;
    let mut router = server.router().await;
    let mut agents = server.agents().await;
    let huge = "9".repeat(1_000_000);
    check(
        router.route_call(route(&huge, "+200")).await,
        Code::InvalidArgument,
        "invalid call_id: longer than 128 bytes",
    );
    let mut r = route("c3", "+200");
    r.customer_id = huge.clone();
    check(
        router.route_call(r).await,
        Code::InvalidArgument,
        "invalid customer_id: longer than 256 bytes",
    );
    let mut r = route("c3", "+200");
    r.attributes.insert("tier".into(), huge.clone());
    check(
        router.route_call(r).await,
        Code::InvalidArgument,
        "invalid attributes[\"tier\"]: longer than 256 bytes",
    );
    check(
        router.report_call_event(event(&huge, pb::CallEventKind::Ended)).await,
        Code::InvalidArgument,
        "invalid call_id: longer than 128 bytes",
    );
    check(
        agents
            .upsert_agent(pb::UpsertAgentRequest {
                agent: Some(pb::AgentProfile {
                    id: "ana".into(),
                    display_name: huge.clone(),
                    ..Default::default()
                }),
            })
            .await,
        Code::InvalidArgument,
        "invalid agent.display_name: longer than 256 bytes",
    );
    check(
        agents
            .set_not_ready(pb::SetNotReadyRequest { agent_id: "ana".into(), reason: huge.clone() })
            .await,
        Code::InvalidArgument,
        "invalid reason: must be 1 to 64 bytes of printable text",
    );
    assert_eq!(fingerprint(&server).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_ascii_and_invalid_utf8_are_refused_and_change_nothing() {
    let auth = switchboard_server::settings::AuthSettings {
        admin_tokens: vec![ADMIN_TOKEN.into()],
        ..Default::default()
    };
    let server = TestServer::start_with("bad-metadata", CENTER, auth).await;
    login(&server, &["ana"]).await;
    let before = fingerprint(&server).await;
    let mut router = server.router().await;
    for raw in [&b"Bearer t\xc3\xb6ken-0123456789abcdef"[..], &b"Bearer \xff\xfe"[..]] {
        let mut request = tonic::Request::new(route("c9", "+200"));
        request.metadata_mut().insert(
            "authorization",
            tonic::metadata::MetadataValue::try_from(raw).expect("obs-text is a valid header"),
        );
        check(
            router.route_call(request).await,
            Code::Unauthenticated,
            "authorization header is not visible ascii",
        );
    }
    // Invalid UTF-8 inside a protobuf string: refused by the decoder, naming the field.
    #[derive(Clone, PartialEq, prost::Message)]
    struct RawRoute {
        #[prost(bytes = "vec", tag = "1")]
        call_id: Vec<u8>,
        #[prost(bytes = "vec", tag = "3")]
        dialed: Vec<u8>,
    }
    let mut request =
        tonic::Request::new(RawRoute { call_id: b"c\xff9".to_vec(), dialed: b"+200".to_vec() });
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {ADMIN_TOKEN}").parse().unwrap());
    let status = crate::overload::raw_unary::<_, pb::RouteDecision>(
        &server,
        "/switchboard.v1.Router/RouteCall",
        request,
    )
    .await
    .expect_err("invalid utf-8");
    // The client's bytes are at fault, so INVALID_ARGUMENT (not tonic-prost's INTERNAL).
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(
        status.message(),
        "invalid message: failed to decode Protobuf message: RouteCallRequest.call_id: invalid string value: data is not UTF-8 encoded"
    );
    assert_eq!(fingerprint(&server).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_enums_and_absurd_numbers_are_refused_and_change_nothing() {
    let server = busy_server("bad-numbers").await;
    let before = fingerprint(&server).await;
    let mut router = server.router().await;
    let mut agents = server.agents().await;
    for kind in [-1, i32::MAX, i32::MIN] {
        check(
            router.report_call_event(pb::CallEventRequest { call_id: "c1".into(), kind }).await,
            Code::InvalidArgument,
            &format!("invalid kind: {kind} is not a call event kind"),
        );
    }
    for level in [0, 6, u32::MAX] {
        check(
            agents
                .upsert_agent(pb::UpsertAgentRequest {
                    agent: Some(pb::AgentProfile {
                        id: "ana".into(),
                        skills: vec![pb::Skill { name: "billing".into(), level }],
                        ..Default::default()
                    }),
                })
                .await,
            Code::InvalidArgument,
            &format!("invalid agent.skills[0].level: {level} is outside 1..=5"),
        );
    }
    for digits in ["-1".to_string(), "1".repeat(65), "１".into()] {
        check(
            router.submit_digits(pb::SubmitDigitsRequest { call_id: "c2".into(), digits }).await,
            Code::InvalidArgument,
            "invalid digits: must be up to 64 of 0-9, * and #",
        );
    }
    assert_eq!(fingerprint(&server).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_ids_and_out_of_order_events_change_nothing() {
    let server = busy_server("bad-order").await;
    let before = fingerprint(&server).await;
    let mut router = server.router().await;
    for id in ["c1", "c2"] {
        check(
            router.route_call(route(id, "+200")).await,
            Code::AlreadyExists,
            &format!("call {id} already exists"),
        );
    }
    check(
        router.report_call_event(event("c1", pb::CallEventKind::Answered)).await,
        Code::FailedPrecondition,
        "call c1 cannot be answered: it was already answered",
    );
    let status = router
        .report_call_event(event("c2", pb::CallEventKind::Ended))
        .await
        .expect_err("queued call ended");
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert!(status.message().contains("c2"), "{status:?}");
    let status = router
        .report_call_event(event("c1", pb::CallEventKind::OfferRejected))
        .await
        .expect_err("rejecting an answered call");
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert_eq!(status.message(), "agent ana cannot end an offer while on_call");
    for kind in [
        pb::CallEventKind::Answered,
        pb::CallEventKind::Ended,
        pb::CallEventKind::Abandoned,
        pb::CallEventKind::Transferred,
        pb::CallEventKind::OfferRejected,
        pb::CallEventKind::OfferNoAnswer,
    ] {
        let status =
            router.report_call_event(event("ghost", kind)).await.expect_err("unknown call");
        assert_eq!(status.code(), Code::NotFound, "{kind:?}: {status:?}");
        assert!(status.message().contains("ghost"), "{kind:?}: {status:?}");
    }
    assert_eq!(fingerprint(&server).await, before);
    // The same agent added twice is one agent, and the second add leaves its state alone.
    let mut agents = server.agents().await;
    let profile = pb::AgentProfile {
        id: "ana".into(),
        skills: vec![pb::Skill { name: "billing".into(), level: 3 }],
        ..Default::default()
    };
    for _ in 0..2 {
        agents.upsert_agent(pb::UpsertAgentRequest { agent: Some(profile.clone()) }).await.unwrap();
    }
    assert_eq!(fingerprint(&server).await, before);
    // Ended after answered is the one legal order, and a second end is refused.
    router.report_call_event(event("c1", pb::CallEventKind::Ended)).await.unwrap();
    let status = router
        .report_call_event(event("c1", pb::CallEventKind::Ended))
        .await
        .expect_err("ended twice");
    assert!(matches!(status.code(), Code::NotFound | Code::FailedPrecondition), "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_above_max_request_bytes_is_refused_from_its_length_prefix() {
    let server = busy_server_with("bad-size", |s| s.limits.max_request_bytes = 4096).await;
    let before = fingerprint(&server).await;
    let too_big = |len: usize| {
        format!(
            "request message of {len} bytes is larger than the limit of 4096 bytes (server.limits.max_request_bytes)"
        )
    };
    let mut big = route("c3", "+200");
    big.customer_id = "9".repeat(5_000);
    let len = prost::Message::encoded_len(&big);
    check(server.router().await.route_call(big).await, Code::ResourceExhausted, &too_big(len));
    let profile = pb::UpsertAgentRequest {
        agent: Some(pb::AgentProfile {
            id: "ana".into(),
            display_name: "a".repeat(10_000),
            ..Default::default()
        }),
    };
    let len = prost::Message::encoded_len(&profile);
    check(
        server.agents().await.upsert_agent(profile).await,
        Code::ResourceExhausted,
        &too_big(len),
    );
    // A prefix announcing 1 GiB whose payload never comes is answered from its 5 bytes alone.
    for path in ["/switchboard.v1.Router/RouteCall", "/switchboard.v1.Admin/ReloadConfig"] {
        let status =
            tokio::time::timeout(Duration::from_secs(10), prefix_only(&server, path, 1 << 30))
                .await
                .expect("answered without waiting for the payload");
        assert_eq!(status.code(), Code::ResourceExhausted, "{path}: {status:?}");
        assert_eq!(status.message(), too_big(1 << 30), "{path}");
    }
    assert_eq!(fingerprint(&server).await, before);
    // Below the limit is served as before.
    let decision = server.router().await.route_call(route("c3", "+200")).await.unwrap();
    assert_eq!(short(&decision.into_inner()), "queued billing #2");
}

/// Sends only the 5-byte gRPC prefix of a message of `announced` bytes and keeps the request
/// open; the status the server answers with.
async fn prefix_only(server: &TestServer, path: &str, announced: u32) -> tonic::Status {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .http2_only(true)
        .build_http::<PrefixThenSilence>();
    let mut prefix = vec![0u8];
    prefix.extend_from_slice(&announced.to_be_bytes());
    let request = tonic::codegen::http::Request::post(format!("http://{}{path}", server.grpc))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(PrefixThenSilence(Some(Bytes::from(prefix))))
        .unwrap();
    let response = client.request(request).await.expect("http/2 response");
    tonic::Status::from_header_map(response.headers()).expect("a trailers-only answer")
}

/// A request body that sends one chunk and then never ends.
struct PrefixThenSilence(Option<Bytes>);

impl http_body::Body for PrefixThenSilence {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        match self.0.take() {
            Some(chunk) => Poll::Ready(Some(Ok(http_body::Frame::data(chunk)))),
            None => Poll::Pending,
        }
    }
}

/// Sends hand-built message bytes and decodes the answer as `U`.
#[derive(Default)]
struct RawCodec<U>(PhantomData<U>);

struct RawEncoder;

impl tonic::codec::Encoder for RawEncoder {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn encode(
        &mut self,
        item: Vec<u8>,
        buf: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        buf.put_slice(&item);
        Ok(())
    }
}

impl<U: prost::Message + Default + Send + 'static> tonic::codec::Codec for RawCodec<U> {
    type Encode = Vec<u8>;
    type Decode = U;
    type Encoder = RawEncoder;
    type Decoder = tonic_prost::ProstDecoder<U>;

    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }

    fn decoder(&mut self) -> Self::Decoder {
        tonic_prost::ProstDecoder::default()
    }
}

async fn raw_bytes<U: prost::Message + Default + Send + 'static>(
    server: &TestServer,
    path: &'static str,
    bytes: &[u8],
) -> Result<tonic::Response<U>, tonic::Status> {
    let mut grpc = tonic::client::Grpc::new(server.channel().await);
    grpc.ready().await.unwrap();
    let path = tonic::codegen::http::uri::PathAndQuery::from_static(path);
    grpc.unary(tonic::Request::new(bytes.to_vec()), path, RawCodec::<U>::default()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_that_do_not_decode_are_invalid_arguments_naming_the_field() {
    let server = busy_server("bad-decode").await;
    let before = fingerprint(&server).await;
    let prefix = "invalid message: failed to decode Protobuf message: ";
    // call_id announces 5 bytes, 2 follow.
    let status =
        raw_bytes::<pb::RouteDecision>(&server, "/switchboard.v1.Router/RouteCall", b"\x0a\x05c3")
            .await
            .expect_err("truncated");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(status.message(), format!("{prefix}RouteCallRequest.call_id: buffer underflow"));
    // kind: a varint of eleven bytes.
    let status = raw_bytes::<pb::CallEventResponse>(
        &server,
        "/switchboard.v1.Router/ReportCallEvent",
        b"\x0a\x02c1\x10\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",
    )
    .await
    .expect_err("bad varint");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(status.message(), format!("{prefix}CallEventRequest.kind: invalid varint"));
    // Invalid UTF-8 two messages deep: agent.skills[0].name.
    let status = raw_bytes::<pb::Agent>(
        &server,
        "/switchboard.v1.Agents/UpsertAgent",
        b"\x0a\x0c\x0a\x03ana\x1a\x05\x0a\x03b\xffg",
    )
    .await
    .expect_err("invalid utf-8");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(
        status.message(),
        format!("{prefix}Skill.name: AgentProfile.skills: UpsertAgentRequest.agent: invalid string value: data is not UTF-8 encoded")
    );
    assert_eq!(fingerprint(&server).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unusable_metadata_is_refused_naming_the_header_and_changes_nothing() {
    let auth = switchboard_server::settings::AuthSettings {
        admin_tokens: vec![ADMIN_TOKEN.into()],
        ..Default::default()
    };
    let server = TestServer::start_with("bad-headers", CENTER, auth).await;
    login(&server, &["ana"]).await;
    let before = fingerprint(&server).await;
    // A deadline the server cannot read is refused, not dropped: the call is not routed.
    for raw in [&b"soon"[..], b"1\xffS", b"123456789S", b"-1S", b"5"] {
        let mut request = with_token(route("c9", "+200"), Some(ADMIN_TOKEN));
        request.metadata_mut().insert(
            "grpc-timeout",
            tonic::metadata::MetadataValue::try_from(raw).expect("obs-text is a valid header"),
        );
        let status = crate::overload::raw_unary::<_, pb::RouteDecision>(
            &server,
            "/switchboard.v1.Router/RouteCall",
            request,
        )
        .await
        .expect_err("malformed grpc-timeout");
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert_eq!(
            status.message(),
            format!(
                "invalid grpc-timeout header {:?}: must be 1 to 8 digits and a unit (H, M, S, m, u, n)",
                String::from_utf8_lossy(raw)
            )
        );
    }
    // A token that is not visible ASCII, on a stream and on an admin call.
    let bad_token =
        || tonic::metadata::MetadataValue::try_from(&b"Bearer \xff\xfe"[..]).expect("obs-text");
    let mut request = tonic::Request::new(pb::WatchStatsRequest { include_agents: true });
    request.metadata_mut().insert("authorization", bad_token());
    let status =
        server.supervisor().await.watch_stats(request).await.expect_err("bad token stream");
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert_eq!(status.message(), "authorization header is not visible ascii");
    let mut request = tonic::Request::new(pb::UpsertAgentRequest {
        agent: Some(pb::AgentProfile { id: "zed".into(), ..Default::default() }),
    });
    request.metadata_mut().insert("authorization", bad_token());
    let status = server.agents().await.upsert_agent(request).await.expect_err("bad token");
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert_eq!(status.message(), "authorization header is not visible ascii");
    assert_eq!(fingerprint(&server).await, before);
    // The refused call left its id free.
    let mut request = with_token(route("c9", "+200"), Some(ADMIN_TOKEN));
    request.metadata_mut().insert("grpc-timeout", "10S".parse().unwrap());
    let decision = crate::overload::raw_unary::<_, pb::RouteDecision>(
        &server,
        "/switchboard.v1.Router/RouteCall",
        request,
    )
    .await
    .expect("a valid deadline is served");
    assert_eq!(short(&decision.into_inner()), "connect ana");
}
