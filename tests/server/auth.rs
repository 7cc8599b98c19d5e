//! Bearer-token roles.

use switchboard_proto::v1 as pb;
use switchboard_server::settings::AuthSettings;
use tonic::Code;

use crate::harness::*;

fn code<T>(r: Result<tonic::Response<T>, tonic::Status>) -> Option<Code> {
    r.err().map(|s| s.code())
}

fn tokens() -> AuthSettings {
    AuthSettings {
        switch_tokens: vec![SWITCH_TOKEN.into()],
        supervisor_tokens: vec![SUPERVISOR_TOKEN.into()],
        admin_tokens: vec![ADMIN_TOKEN.into()],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_role_does_its_job_and_nothing_else() {
    let server = TestServer::start_with("auth", CENTER, tokens()).await;
    let mut router = server.router().await;
    let mut supervisor = server.supervisor().await;
    let mut admin = server.admin().await;
    let mut agents = server.agents().await;

    // No token, a malformed one, an unknown one.
    assert_eq!(
        code(router.route_call(with_token(route("c1", "+200"), None)).await),
        Some(Code::Unauthenticated)
    );
    let mut raw = tonic::Request::new(route("c1", "+200"));
    raw.metadata_mut().insert("authorization", SWITCH_TOKEN.parse().unwrap());
    assert_eq!(code(router.route_call(raw).await), Some(Code::Unauthenticated));
    assert_eq!(
        code(
            router
                .route_call(with_token(route("c1", "+200"), Some("not-a-real-token-at-all")))
                .await
        ),
        Some(Code::Unauthenticated)
    );
    // Supervisors read stats, nothing else.
    assert_eq!(
        code(router.route_call(with_token(route("c1", "+200"), Some(SUPERVISOR_TOKEN))).await),
        Some(Code::PermissionDenied)
    );
    assert_eq!(
        code(
            agents
                .login(with_token(
                    pb::LoginRequest { agent_id: "ana".into(), ready: true },
                    Some(SUPERVISOR_TOKEN)
                ))
                .await
        ),
        Some(Code::PermissionDenied)
    );
    assert_eq!(
        code(
            supervisor
                .list_queue_stats(with_token(pb::ListQueueStatsRequest {}, Some(SUPERVISOR_TOKEN)))
                .await
        ),
        None
    );
    // Switches route and drive agents, but neither edit agents nor touch configuration.
    assert_eq!(
        code(router.route_call(with_token(route("c1", "+200"), Some(SWITCH_TOKEN))).await),
        None
    );
    assert_eq!(
        code(
            agents
                .login(with_token(
                    pb::LoginRequest { agent_id: "ana".into(), ready: true },
                    Some(SWITCH_TOKEN)
                ))
                .await
        ),
        None
    );
    let upsert = pb::UpsertAgentRequest {
        agent: Some(pb::AgentProfile { id: "eve".into(), ..Default::default() }),
    };
    assert_eq!(
        code(agents.upsert_agent(with_token(upsert.clone(), Some(SWITCH_TOKEN))).await),
        Some(Code::PermissionDenied)
    );
    assert_eq!(
        code(
            supervisor
                .list_queue_stats(with_token(pb::ListQueueStatsRequest {}, Some(SWITCH_TOKEN)))
                .await
        ),
        Some(Code::PermissionDenied)
    );
    assert_eq!(
        code(admin.get_config(with_token(pb::GetConfigRequest {}, Some(SWITCH_TOKEN))).await),
        Some(Code::PermissionDenied)
    );
    // Admins do everything.
    assert_eq!(code(agents.upsert_agent(with_token(upsert, Some(ADMIN_TOKEN))).await), None);
    assert_eq!(
        code(admin.get_config(with_token(pb::GetConfigRequest {}, Some(ADMIN_TOKEN))).await),
        None
    );
    // Streams check too.
    assert_eq!(
        code(
            router
                .watch_assignments(with_token(
                    pb::WatchAssignmentsRequest::default(),
                    Some(SUPERVISOR_TOKEN)
                ))
                .await
        ),
        Some(Code::PermissionDenied)
    );
    // The denied requests changed nothing: eve exists once, c1 was routed once.
    let list = agents
        .list_agents(with_token(pb::ListAgentsRequest::default(), Some(ADMIN_TOKEN)))
        .await
        .unwrap();
    assert_eq!(list.into_inner().agents.len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_metrics_need_no_token() {
    let server = TestServer::start_with("health", CENTER, tokens()).await;
    let mut health = tonic_health::pb::health_client::HealthClient::new(server.channel().await);
    let status = health
        .check(tonic_health::pb::HealthCheckRequest { service: "switchboard.v1.Router".into() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        status.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
    let body = http_get(server.http, "/metrics").await;
    assert!(body.contains("switchboard_queue_calls_waiting{queue=\"billing\"} 0"), "{body}");
    assert!(http_get(server.http, "/healthz").await.ends_with("ok\n"));
}

pub async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(format!("GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").as_bytes()).await.unwrap();
    let mut out = String::new();
    stream.read_to_string(&mut out).await.unwrap();
    assert!(out.starts_with("HTTP/1.0 200") || out.starts_with("HTTP/1.1 200"), "{out}");
    out
}
