//! Starts a server in-process on ephemeral loopback ports.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use switchboard_proto::v1 as pb;
use switchboard_server::settings::AuthSettings;
use switchboard_server::{Clock, LoadedConfig, Settings};
use tonic::transport::Channel;
use tonic::Request;

/// Two queues behind a menu, three agents, no calendars (always open), no wrap-up.
pub const CENTER: &str = r#"
[center]
name = "test center"
time_zone = "UTC"

[[queues]]
id = "billing"
skills = { billing = 1 }
policy = "longest_idle"
service_level_s = 20
wrap_up_s = 0
offer_timeout_s = 60

[[queues]]
id = "sales"
skills = { sales = 1 }
policy = "round_robin"
service_level_s = 30
wrap_up_s = 0
max_waiting = 1

[[agents]]
id = "ana"
skills = { billing = 3 }

[[agents]]
id = "bob"
skills = { billing = 3 }

[[agents]]
id = "carl"
skills = { sales = 2 }

[[entry_points]]
number = "+100"
plan = "main"

[[entry_points]]
number = "+200"
plan = "direct"

[[entry_points]]
number = "+300"
plan = "sales_direct"

[plans.sales_direct]
start = "sales"
[plans.sales_direct.nodes.sales]
type = "queue"
queue = "sales"

[plans.main]
start = "menu"
[plans.main.nodes.menu]
type = "menu"
prompt = "welcome"
options = { "1" = "billing", "2" = "sales" }
on_failure = "bye"
[plans.main.nodes.billing]
type = "queue"
queue = "billing"
[plans.main.nodes.sales]
type = "queue"
queue = "sales"
[plans.main.nodes.bye]
type = "hangup"

[plans.direct]
start = "billing"
[plans.direct.nodes.billing]
type = "queue"
queue = "billing"
"#;

pub const SWITCH_TOKEN: &str = "switch-token-0123456789";
pub const SUPERVISOR_TOKEN: &str = "supervisor-token-0123456";
pub const ADMIN_TOKEN: &str = "admin-token-0123456789ab";

pub struct TestServer {
    pub grpc: SocketAddr,
    pub http: SocketAddr,
    pub db: PathBuf,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    pub token: Option<String>,
}

pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("switchboard-e2e-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

impl TestServer {
    pub async fn start(name: &str) -> TestServer {
        TestServer::start_with(name, CENTER, AuthSettings::default()).await
    }

    pub async fn start_with(name: &str, center: &str, auth: AuthSettings) -> TestServer {
        TestServer::start_full(name, center, auth, Clock::system(), |_| {}).await
    }

    /// A server whose time stands still until the test moves `clock`.
    pub async fn start_manual(name: &str, center: &str, clock: Clock) -> TestServer {
        TestServer::start_full(name, center, AuthSettings::default(), clock, |_| {}).await
    }

    pub async fn start_full(
        name: &str,
        center: &str,
        auth: AuthSettings,
        clock: Clock,
        tweak: impl FnOnce(&mut Settings),
    ) -> TestServer {
        let db = temp_dir(name).join("records.sqlite");
        let settings = Settings {
            records_db: db.clone(),
            records_flush_ms: 20,
            stats_refresh_ms: 20,
            auth: auth.clone(),
            ..Settings::default()
        };
        let mut settings = settings;
        tweak(&mut settings);
        let config = LoadedConfig::parse(center.to_string(), None).expect("test center parses");
        let grpc = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let http = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (grpc_addr, http_addr) = (grpc.local_addr().unwrap(), http.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let handle = tokio::spawn(switchboard_server::run_with_clock(
            settings,
            config,
            grpc,
            http,
            async move {
                let _ = rx.await;
            },
            clock,
        ));
        let token = auth.enabled().then(|| ADMIN_TOKEN.to_string());
        TestServer {
            grpc: grpc_addr,
            http: http_addr,
            db,
            shutdown: Some(tx),
            handle: Some(handle),
            token,
        }
    }

    pub async fn channel(&self) -> Channel {
        for _ in 0..100 {
            if let Ok(c) =
                Channel::from_shared(format!("http://{}", self.grpc)).unwrap().connect().await
            {
                return c;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("server did not start");
    }

    pub async fn router(&self) -> pb::router_client::RouterClient<Channel> {
        pb::router_client::RouterClient::new(self.channel().await)
    }
    pub async fn agents(&self) -> pb::agents_client::AgentsClient<Channel> {
        pb::agents_client::AgentsClient::new(self.channel().await)
    }
    pub async fn supervisor(&self) -> pb::supervisor_client::SupervisorClient<Channel> {
        pb::supervisor_client::SupervisorClient::new(self.channel().await)
    }
    pub async fn admin(&self) -> pb::admin_client::AdminClient<Channel> {
        pb::admin_client::AdminClient::new(self.channel().await)
    }

    /// Stops the server the way SIGTERM does and waits until it has drained.
    pub async fn stop(mut self) {
        let _ = self.shutdown.take().unwrap().send(());
        let result = tokio::time::timeout(Duration::from_secs(20), self.handle.take().unwrap())
            .await
            .expect("server drains within 20 s")
            .expect("server task");
        result.expect("server ran cleanly");
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A request carrying `token` as a bearer token.
pub fn with_token<T>(message: T, token: Option<&str>) -> Request<T> {
    let mut r = Request::new(message);
    if let Some(t) = token {
        r.metadata_mut().insert("authorization", format!("Bearer {t}").parse().unwrap());
    }
    r
}

pub fn route(call: &str, dialed: &str) -> pb::RouteCallRequest {
    pb::RouteCallRequest {
        call_id: call.into(),
        caller: "+33123456789".into(),
        dialed: dialed.into(),
        switch_id: "sw1".into(),
        ..Default::default()
    }
}

pub fn event(call: &str, kind: pb::CallEventKind) -> pb::CallEventRequest {
    pb::CallEventRequest { call_id: call.into(), kind: kind as i32 }
}

/// `connect AGENT`, `queued QUEUE #POS`, `collect PROMPT`, ...
pub fn short(d: &pb::RouteDecision) -> String {
    use pb::route_decision::Action;
    match &d.action {
        Some(Action::Connect(c)) => format!("connect {}", c.agent_id),
        Some(Action::Queued(q)) => format!("queued {} #{}", q.queue, q.position),
        Some(Action::Collect(c)) => format!("collect {}", c.prompt),
        Some(Action::Transfer(t)) => format!("transfer {}", t.number),
        Some(Action::Voicemail(v)) => format!("voicemail {}", v.mailbox),
        Some(Action::Announce(a)) => format!("announce {}", a.prompt),
        Some(Action::Hangup(h)) => format!("hangup {}", h.reason),
        None => "none".into(),
    }
}

pub async fn login(server: &TestServer, agents: &[&str]) {
    let mut client = server.agents().await;
    for a in agents {
        client
            .login(with_token(
                pb::LoginRequest { agent_id: a.to_string(), ready: true },
                server.token.as_deref(),
            ))
            .await
            .expect("login");
    }
}

/// Polls queue statistics until `done` holds (the pump is asynchronous), for at most 5 s.
pub async fn stats_when(
    server: &TestServer,
    queue: &str,
    done: impl Fn(&pb::QueueStats) -> bool,
) -> pb::QueueStats {
    let mut client = server.supervisor().await;
    let mut last = None;
    for _ in 0..250 {
        let s = client
            .get_queue_stats(with_token(
                pb::QueueStatsRequest { queue: queue.into() },
                server.token.as_deref(),
            ))
            .await
            .expect("stats")
            .into_inner();
        if done(&s) {
            return s;
        }
        last = Some(s);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("stats never reached the expected state; last: {last:#?}");
}
