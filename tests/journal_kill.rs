//! kill -9 under load: the real binary with a journal, driven by seeded random traffic, killed
//! at a random moment, restarted on the same directory, and checked against what the driver
//! saw acknowledged: no acknowledged agent change or call lost, no ended call back, no agent
//! left reserved past its deadline, no call with two agents.
//!
//! The suite runs a few seeds; `cargo test --test journal_kill -- --ignored` runs many
//! (`JOURNAL_KILL_SEEDS=N`, default 40).

#![cfg(unix)]

use std::collections::{HashMap, HashSet};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use switchboard_proto::v1 as pb;
use tonic::transport::Channel;

const AGENTS: usize = 10;
const OFFER_TIMEOUT_S: u64 = 2;

fn center() -> String {
    let mut toml = format!(
        r#"
[center]
name = "kill test"
time_zone = "UTC"
max_consecutive_missed = 0

[[queues]]
id = "q"
skills = {{ q = 1 }}
policy = "longest_idle"
wrap_up_s = 1
offer_timeout_s = {OFFER_TIMEOUT_S}
max_waiting = 10000

[[entry_points]]
number = "+1"
plan = "main"

[plans.main]
start = "prio"
[plans.main.nodes.prio]
type = "priority"
rules = [{{ when = "tier == 'gold'", raise = 5 }}]
next = "queue"
[plans.main.nodes.queue]
type = "queue"
queue = "q"
"#
    );
    for i in 0..AGENTS {
        toml.push_str(&format!("\n[[agents]]\nid = \"a{i}\"\nskills = {{ q = 2 }}\n"));
    }
    toml
}

fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}

struct Server {
    child: Child,
    grpc: SocketAddr,
}

impl Drop for Server {
    /// A failing check must not leave the server running.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(dir: &Path, config: &Path) -> Server {
    let (grpc, http) = (free_port(), free_port());
    let child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["serve", "--config", config.to_str().unwrap()])
        .args(["--grpc-addr", &grpc.to_string(), "--http-addr", &http.to_string()])
        .args(["--journal", dir.join("journal").to_str().unwrap()])
        .args(["--records-db", dir.join("records.sqlite").to_str().unwrap()])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn switchboard");
    Server { child, grpc }
}

async fn connect(server: &mut Server) -> Channel {
    let started = Instant::now();
    loop {
        if let Ok(channel) =
            Channel::from_shared(format!("http://{}", server.grpc)).unwrap().connect().await
        {
            let mut agents = pb::agents_client::AgentsClient::new(channel.clone());
            if agents.list_agents(pb::ListAgentsRequest::default()).await.is_ok() {
                return channel;
            }
        }
        if let Ok(Some(status)) = server.child.try_wait() {
            panic!("server exited: {status}");
        }
        assert!(started.elapsed() < Duration::from_secs(30), "server did not come up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What the driver saw acknowledged.
#[derive(Default)]
struct Acked {
    /// Last acknowledged agent RPC result: (state, reason).
    agent: HashMap<String, (i32, String)>,
    /// Agents with an RPC in flight (unknown outcome at the kill).
    agent_in_flight: HashMap<String, u32>,
    /// Agents whose RPCs overlapped since their in-flight count was last zero. Responses of
    /// overlapping RPCs come back in any order, so the state the last one reports need not be
    /// the engine's final state (a login answered "reserved" after a logout that the engine
    /// applied later): the outcome stays unknown until an RPC runs alone.
    agent_contended: HashSet<String>,
    /// Calls acknowledged as routed and not acknowledged as over.
    alive: HashSet<String>,
    /// Calls acknowledged as answered, by agent, not acknowledged as ended.
    answered: HashMap<String, String>,
    /// Calls acknowledged as over (ended or abandoned).
    over: HashSet<String>,
    /// Calls with an RPC in flight.
    call_in_flight: HashMap<String, u32>,
    /// Offers seen (call -> agent), from RouteCall answers and the assignment stream.
    offered: HashMap<String, String>,
    ops: u64,
}

/// An RPC finished (answered or refused): one fewer in flight.
fn done(in_flight: &mut HashMap<String, u32>, key: &str) {
    if let Some(n) = in_flight.get_mut(key) {
        *n -= 1;
        if *n == 0 {
            in_flight.remove(key);
        }
    }
}

/// The connection broke (the kill): the RPC may or may not have happened.
fn transport(status: &tonic::Status) -> bool {
    matches!(
        status.code(),
        tonic::Code::Unavailable
            | tonic::Code::Unknown
            | tonic::Code::Cancelled
            | tonic::Code::Internal
    )
}

fn state_of(agent: &pb::Agent) -> (i32, String) {
    (agent.state, agent.reason.clone())
}

async fn drive(channel: Channel, seed: u64, acked: Arc<Mutex<Acked>>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut router = pb::router_client::RouterClient::new(channel.clone());
    let mut agents = pb::agents_client::AgentsClient::new(channel.clone());
    // Offers of queued calls arrive on the stream.
    let mut stream = router
        .watch_assignments(pb::WatchAssignmentsRequest::default())
        .await
        .expect("watch")
        .into_inner();
    let stream_acked = acked.clone();
    tokio::spawn(async move {
        while let Ok(Some(d)) = stream.message().await {
            if let Some(pb::route_decision::Action::Connect(c)) = d.action {
                stream_acked.lock().unwrap().offered.insert(d.call_id, c.agent_id);
            }
        }
    });
    let mut next_call = 0u64;
    loop {
        let roll = rng.random_range(0..100);
        if roll < 25 {
            let agent = format!("a{}", rng.random_range(0..AGENTS));
            {
                let mut a = acked.lock().unwrap();
                let running = a.agent_in_flight.entry(agent.clone()).or_default();
                *running += 1;
                if *running > 1 {
                    a.agent_contended.insert(agent.clone());
                }
            }
            let result = match rng.random_range(0..4) {
                0 => agents.login(pb::LoginRequest { agent_id: agent.clone(), ready: true }).await,
                1 => agents.set_ready(pb::AgentRequest { agent_id: agent.clone() }).await,
                2 => {
                    agents
                        .set_not_ready(pb::SetNotReadyRequest {
                            agent_id: agent.clone(),
                            reason: "break".into(),
                        })
                        .await
                }
                _ => agents.logout(pb::AgentRequest { agent_id: agent.clone() }).await,
            };
            let mut a = acked.lock().unwrap();
            match result {
                Ok(r) => {
                    if a.agent_contended.contains(&agent) {
                        a.agent.remove(&agent);
                    } else {
                        a.agent.insert(agent.clone(), state_of(r.get_ref()));
                    }
                    done(&mut a.agent_in_flight, &agent);
                }
                // A transport error: the kill; the outcome is unknown, it stays in flight.
                Err(s) if transport(&s) => {}
                // Refused: nothing changed.
                Err(_) => done(&mut a.agent_in_flight, &agent),
            }
            if !a.agent_in_flight.contains_key(&agent) {
                a.agent_contended.remove(&agent);
            }
        } else if roll < 60 {
            next_call += 1;
            let call = format!("s{seed}-c{next_call}");
            let mut attributes = HashMap::new();
            if rng.random_bool(0.3) {
                attributes.insert("tier".to_string(), "gold".to_string());
            }
            *acked.lock().unwrap().call_in_flight.entry(call.clone()).or_default() += 1;
            let result = router
                .route_call(pb::RouteCallRequest {
                    call_id: call.clone(),
                    caller: "+33".into(),
                    dialed: "+1".into(),
                    attributes,
                    ..Default::default()
                })
                .await;
            let mut a = acked.lock().unwrap();
            if let Ok(r) = result {
                done(&mut a.call_in_flight, &call);
                match &r.get_ref().action {
                    Some(pb::route_decision::Action::Connect(c)) => {
                        a.offered.insert(call.clone(), c.agent_id.clone());
                        a.alive.insert(call);
                    }
                    Some(pb::route_decision::Action::Queued(_)) => {
                        a.alive.insert(call);
                    }
                    other => panic!("unexpected decision {other:?}"),
                }
            }
        } else {
            // A call event on a call we know: answer an offer, end a talk, abandon.
            let picked = {
                let a = acked.lock().unwrap();
                let mut alive: Vec<&String> = a.alive.iter().collect();
                alive.sort();
                if alive.is_empty() {
                    None
                } else {
                    let call = alive[rng.random_range(0..alive.len())].clone();
                    let kind = if a.answered.contains_key(&call) {
                        pb::CallEventKind::Ended
                    } else if a.offered.contains_key(&call) && rng.random_bool(0.8) {
                        pb::CallEventKind::Answered
                    } else {
                        pb::CallEventKind::Abandoned
                    };
                    Some((call.clone(), kind, a.offered.get(&call).cloned()))
                }
            };
            let Some((call, kind, agent)) = picked else {
                tokio::task::yield_now().await;
                continue;
            };
            *acked.lock().unwrap().call_in_flight.entry(call.clone()).or_default() += 1;
            let result = router
                .report_call_event(pb::CallEventRequest {
                    call_id: call.clone(),
                    kind: kind as i32,
                })
                .await;
            let mut a = acked.lock().unwrap();
            match result {
                Ok(_) => {
                    done(&mut a.call_in_flight, &call);
                    match kind {
                        pb::CallEventKind::Answered => {
                            a.answered.insert(call, agent.unwrap_or_default());
                        }
                        _ => {
                            a.alive.remove(&call);
                            a.answered.remove(&call);
                            a.over.insert(call);
                        }
                    }
                }
                Err(s)
                    if s.code() == tonic::Code::Unavailable || s.code() == tonic::Code::Unknown => {
                }
                // Refused (the offer moved on, for example): nothing changed.
                Err(_) => {
                    done(&mut a.call_in_flight, &call);
                    if kind == pb::CallEventKind::Answered {
                        a.offered.remove(&call);
                    }
                }
            }
        }
        acked.lock().unwrap().ops += 1;
    }
}

async fn check(channel: Channel, acked: &Acked, seed: u64) {
    let mut router = pb::router_client::RouterClient::new(channel.clone());
    let mut agents_client = pb::agents_client::AgentsClient::new(channel);
    let list = agents_client.list_agents(pb::ListAgentsRequest::default()).await.unwrap();
    let now_ms =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis()
            as i64;
    let mut holders: HashMap<String, String> = HashMap::new();
    let mut on_call: HashSet<String> = HashSet::new();
    for agent in &list.get_ref().agents {
        let id = agent.profile.as_ref().unwrap().id.clone();
        if agent.state == pb::AgentState::Reserved as i32 {
            let deadline = agent.deadline_unix_ms.unwrap_or(0);
            assert!(
                deadline > now_ms - 1_000,
                "seed {seed}: {id} reserved past its deadline ({deadline} < {now_ms})"
            );
        }
        if !agent.call_id.is_empty()
            && (agent.state == pb::AgentState::Reserved as i32
                || agent.state == pb::AgentState::OnCall as i32)
        {
            if agent.state == pb::AgentState::OnCall as i32 {
                on_call.insert(agent.call_id.clone());
            }
            if let Some(other) = holders.insert(agent.call_id.clone(), id.clone()) {
                panic!("seed {seed}: call {} with two agents: {other} and {id}", agent.call_id);
            }
        }
        if acked.agent_in_flight.contains_key(&id) {
            continue;
        }
        if let Some((state, reason)) = acked.agent.get(&id) {
            let logged_out = pb::AgentState::LoggedOut as i32;
            let not_ready = pb::AgentState::NotReady as i32;
            if *state == logged_out || *state == not_ready {
                assert_eq!(
                    (agent.state, agent.reason.as_str()),
                    (*state, reason.as_str()),
                    "seed {seed}: {id} lost its acknowledged state"
                );
            } else {
                assert!(
                    agent.state != logged_out && agent.state != not_ready,
                    "seed {seed}: {id} was acknowledged logged in ({state}), now {:?}",
                    agent
                );
            }
        }
    }
    // The agent that answered is the one the engine held the call with; the driver's
    // offer map can be a step behind (a re-offer still on the stream), so only the state
    // is checked: connected, to exactly one agent.
    for call in acked.answered.keys() {
        if acked.call_in_flight.contains_key(call) {
            continue;
        }
        assert!(
            on_call.contains(call),
            "seed {seed}: answered call {call} is not connected any more (held by {:?})",
            holders.get(call)
        );
    }
    let mut alive: Vec<&String> = acked.alive.iter().collect();
    alive.sort();
    for call in alive {
        if acked.call_in_flight.contains_key(call) {
            continue;
        }
        let kind = if acked.answered.contains_key(call) {
            pb::CallEventKind::Ended
        } else {
            pb::CallEventKind::Abandoned
        };
        let result = router
            .report_call_event(pb::CallEventRequest { call_id: call.clone(), kind: kind as i32 })
            .await;
        assert!(result.is_ok(), "seed {seed}: acknowledged call {call} was lost: {result:?}");
    }
    for call in &acked.over {
        if acked.call_in_flight.contains_key(call) {
            continue;
        }
        let result = router
            .report_call_event(pb::CallEventRequest {
                call_id: call.clone(),
                kind: pb::CallEventKind::Abandoned as i32,
            })
            .await;
        assert!(result.is_err(), "seed {seed}: call {call} ended but came back");
    }
}

fn kill(server: &mut Server) {
    let status =
        Command::new("kill").args(["-KILL", &server.child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let _ = server.child.wait();
}

fn run_seed(seed: u64, base: &Path) -> u64 {
    let dir: PathBuf = base.join(format!("seed-{seed}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("center.toml");
    std::fs::write(&config, center()).unwrap();
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x9e37_79b9);
        let acked = Arc::new(Mutex::new(Acked::default()));
        // Two kills per seed: the second recovery starts from a journal that already went
        // through one.
        for _round in 0..2 {
            let mut server = start(&dir, &config);
            let channel = connect(&mut server).await;
            if _round > 0 {
                // The drivers are stopped: take the record out rather than hold its lock.
                let seen = std::mem::take(&mut *acked.lock().unwrap());
                check(channel.clone(), &seen, seed).await;
                let mut a = acked.lock().unwrap();
                *a = seen;
                // The check abandoned or ended every call it knew: start over from there.
                let alive: Vec<String> = a.alive.drain().collect();
                a.over.extend(alive);
                a.answered.clear();
                a.offered.clear();
            }
            let drivers: Vec<_> = (0..3)
                .map(|i| {
                    tokio::spawn(drive(
                        channel.clone(),
                        seed * 10 + i + _round as u64 * 100,
                        acked.clone(),
                    ))
                })
                .collect();
            tokio::time::sleep(Duration::from_millis(rng.random_range(100..600))).await;
            kill(&mut server);
            for d in drivers {
                d.abort();
                let _ = d.await;
            }
        }
        let mut server = start(&dir, &config);
        let channel = connect(&mut server).await;
        let acked = std::mem::take(&mut *acked.lock().unwrap());
        check(channel, &acked, seed).await;
        let _ = server.child.kill();
        let _ = server.child.wait();
        acked.ops
    })
}

fn base_dir() -> PathBuf {
    std::env::temp_dir().join(format!("switchboard-kill-{}", std::process::id()))
}

#[test]
fn kill_9_loses_nothing_acknowledged() {
    let base = base_dir();
    let mut ops = 0;
    for seed in 1..=3 {
        ops += run_seed(seed, &base);
    }
    assert!(ops > 50, "the driver did too little to test anything: {ops} operations");
    let _ = std::fs::remove_dir_all(&base);
}

#[test]
#[ignore = "long: many seeds; run with --ignored"]
fn kill_9_many_seeds() {
    let seeds: u64 =
        std::env::var("JOURNAL_KILL_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(40);
    let base = base_dir();
    for seed in 1000..1000 + seeds {
        let ops = run_seed(seed, &base);
        eprintln!("seed {seed}: {ops} operations acknowledged or attempted, checks passed");
    }
    let _ = std::fs::remove_dir_all(&base);
}

/// A center without wrap-up, so a call's record is finished by the RPC that ends it.
const RECORDS_CENTER: &str = r#"
[center]
name = "records kill test"
time_zone = "UTC"

[[queues]]
id = "q"
skills = { q = 1 }
policy = "longest_idle"
service_level_s = 3600
wrap_up_s = 0
offer_timeout_s = 600

[[entry_points]]
number = "+1"
plan = "main"

[plans.main]
start = "queue"
[plans.main.nodes.queue]
type = "queue"
queue = "q"

[[agents]]
id = "a0"
skills = { q = 2 }

[[agents]]
id = "a1"
skills = { q = 2 }

[[agents]]
id = "a2"
skills = { q = 2 }

[[agents]]
id = "a3"
skills = { q = 2 }
"#;

async fn route_to_agent(channel: &Channel, call: &str) -> String {
    let mut router = pb::router_client::RouterClient::new(channel.clone());
    let decision = router
        .route_call(pb::RouteCallRequest {
            call_id: call.into(),
            caller: "+3312345".into(),
            dialed: "+1".into(),
            switch_id: "sw1".into(),
            ..Default::default()
        })
        .await
        .expect("route call")
        .into_inner();
    match decision.action {
        Some(pb::route_decision::Action::Connect(c)) => c.agent_id,
        other => panic!("call {call}: expected a connect, got {other:?}"),
    }
}

async fn call_event(channel: &Channel, call: &str, kind: pb::CallEventKind) {
    let mut router = pb::router_client::RouterClient::new(channel.clone());
    router
        .report_call_event(pb::CallEventRequest { call_id: call.into(), kind: kind as i32 })
        .await
        .unwrap_or_else(|e| panic!("call {call}: {kind:?}: {e}"));
}

/// Today's counters of queue `q`, once `done` holds (the statistics follow asynchronously).
async fn today_when(channel: &Channel, done: impl Fn(&pb::WindowStats) -> bool) -> pb::WindowStats {
    let mut supervisor = pb::supervisor_client::SupervisorClient::new(channel.clone());
    let mut last = None;
    for _ in 0..500 {
        let stats = supervisor
            .get_queue_stats(pb::QueueStatsRequest { queue: "q".into() })
            .await
            .expect("queue stats")
            .into_inner();
        let today = stats.today.unwrap_or_default();
        if done(&today) {
            return today;
        }
        last = Some(today);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("today's statistics never got there; last: {last:#?}");
}

/// The call counters and ratios of a window (its start and agent time left out).
fn calls_of(w: &pb::WindowStats) -> String {
    format!(
        "offered={} answered={} abandoned={} answered_within={} abandoned_within={} \
         overflowed={} handled={} service_level={:?} asa_ms={:?} aht_ms={:?}",
        w.offered,
        w.answered,
        w.abandoned,
        w.answered_within_threshold,
        w.abandoned_within_threshold,
        w.overflowed,
        w.handled,
        w.service_level,
        w.asa_ms,
        w.aht_ms,
    )
}

/// Today's agent time after a restart is at least what it was before the kill (wall time
/// moves on): restored, not started again from zero.
fn assert_agent_time_goes_on(before: &pb::WindowStats, after: &pb::WindowStats, when: &str) {
    assert!(
        after.staffed_ms >= before.staffed_ms && after.busy_ms >= before.busy_ms,
        "agent time after {when}: busy {} ms, staffed {} ms; before the kill: busy {} ms, \
         staffed {} ms",
        after.busy_ms,
        after.staffed_ms,
        before.busy_ms,
        before.staffed_ms,
    );
}

/// Call records survive kill -9: every call acknowledged as over has exactly one record with
/// its outcome and agent, including a call answered before a crash and ended after it, and
/// today's statistics after each restart are what they were before the kill, agent time
/// (busy and staffed, behind occupancy) included: it goes on from where it was, not from zero.
///
/// Agent time is journaled at each agent change, so the restored time reaches the last
/// journaled record, not the kill; the agents' time after the restart makes up for it once
/// the server has been up as long as the last change was before the reading that is compared
/// (`settle`).
#[test]
fn kill_9_keeps_call_records_and_todays_statistics() {
    let dir = base_dir().join("records");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("center.toml");
    std::fs::write(&config, RECORDS_CENTER).unwrap();
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let want: Vec<(String, String, String)> = runtime.block_on(async {
        let mut want = Vec::new();
        let mut server = start(&dir, &config);
        let channel = connect(&mut server).await;
        let mut agents = pb::agents_client::AgentsClient::new(channel.clone());
        for a in ["a0", "a1", "a2", "a3"] {
            agents.login(pb::LoginRequest { agent_id: a.into(), ready: true }).await.unwrap();
        }
        let mut agent_of = HashMap::new();
        for call in ["c1", "c2", "c3", "c4"] {
            agent_of.insert(call, route_to_agent(&channel, call).await);
        }
        for call in ["c1", "c2", "c3"] {
            call_event(&channel, call, pb::CallEventKind::Answered).await;
        }
        for call in ["c1", "c2"] {
            call_event(&channel, call, pb::CallEventKind::Ended).await;
            want.push((call.to_string(), "answered".to_string(), agent_of[call].clone()));
        }
        let last_change = Instant::now();
        call_event(&channel, "c4", pb::CallEventKind::Abandoned).await;
        want.push(("c4".into(), "abandoned".into(), String::new()));
        let before = today_when(&channel, |w| w.handled == 2 && w.abandoned == 1).await;
        let settle = last_change.elapsed();
        assert_eq!((before.offered, before.answered), (4, 3), "{before:?}");
        assert!(before.staffed_ms > 0 && before.busy_ms > 0, "agent time before: {before:?}");
        kill(&mut server);

        // c3 was answered before the kill; it ends after the restart.
        let mut server = start(&dir, &config);
        let channel = connect(&mut server).await;
        tokio::time::sleep(settle).await;
        let after = today_when(&channel, |w| w.offered > 0).await;
        assert_eq!(calls_of(&after), calls_of(&before), "today's statistics after the restart");
        assert_agent_time_goes_on(&before, &after, "the restart");
        let last_change = Instant::now();
        call_event(&channel, "c3", pb::CallEventKind::Ended).await;
        want.push(("c3".into(), "answered".into(), agent_of["c3"].clone()));
        let before = today_when(&channel, |w| w.handled == 3).await;
        let settle = last_change.elapsed();
        kill(&mut server);

        // A second kill: records already in SQLite are replayed again and must stay single.
        let mut server = start(&dir, &config);
        let channel = connect(&mut server).await;
        tokio::time::sleep(settle).await;
        let after = today_when(&channel, |w| w.offered > 0).await;
        assert_eq!(
            calls_of(&after),
            calls_of(&before),
            "today's statistics after the second restart"
        );
        assert_agent_time_goes_on(&before, &after, "the second restart");
        let status =
            Command::new("kill").args(["-TERM", &server.child.id().to_string()]).status().unwrap();
        assert!(status.success());
        let exit = server.child.wait().unwrap();
        assert!(exit.success(), "graceful stop: {exit:?}");
        want
    });
    let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["history", "export", "--db", dir.join("records.sqlite").to_str().unwrap()])
        .args(["--out", "-"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    // arrived_at,queue,wait_s,handle_s,abandoned,call_id,outcome,agent,caller,dialed
    let mut got: Vec<(String, String, String)> = text
        .lines()
        .skip(1)
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            assert_eq!(f[1], "q", "{line}");
            (f[5].to_string(), f[6].to_string(), f[7].to_string())
        })
        .collect();
    got.sort();
    let mut want = want;
    want.sort();
    assert_eq!(got, want, "one record per call, with its outcome and agent:\n{text}");
    let _ = std::fs::remove_dir_all(&dir);
}
