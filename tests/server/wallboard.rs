//! The wallboard in a real browser: headless Chromium driven over WebDriver against a server on
//! 127.0.0.1, with calls routed through gRPC and the tiles checked for the exact numbers.
//!
//! Needs `chromium` and `chromedriver` (Debian packages chromium and chromium-driver, which
//! `.ci/run` installs); where they are missing the test says so and skips.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};
use serde_json::json;
use switchboard_proto::v1 as pb;
use switchboard_routing::Timestamp;
use switchboard_server::settings::AuthSettings;
use switchboard_server::Clock;

use crate::harness::*;

/// 2026-11-25T10:00:00Z.
const T0_MS: u64 = 1_795_600_800_000;

fn find_program(env: &str, candidates: &[&str]) -> Option<PathBuf> {
    if let Ok(p) = std::env::var(env) {
        return Some(PathBuf::from(p));
    }
    candidates.iter().map(PathBuf::from).find(|p| p.exists())
}

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn browser(chromium: &Path, chromedriver: &Path) -> (Driver, Client) {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let driver = Driver(
        Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver"),
    );
    let profile = temp_dir("chromium-profile");
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--no-first-run",
                "--disable-sync", "--window-size=1600,1000",
                format!("--user-data-dir={}", profile.display()),
            ],
        }),
    );
    let started = Instant::now();
    loop {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(caps.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            Ok(client) => return (driver, client),
            Err(e) if started.elapsed() > Duration::from_secs(30) => {
                panic!("cannot start a browser session: {e}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// Text of `[data-queue=Q] [data-field=F]`, or "" when absent.
async fn field(client: &Client, queue: &str, name: &str) -> String {
    let script = format!(
        "const e = document.querySelector('[data-queue=\"{queue}\"] [data-field=\"{name}\"]'); return e ? e.textContent : '';"
    );
    client.execute(&script, vec![]).await.unwrap().as_str().unwrap_or_default().to_string()
}

/// The colour state of a queue's tile (`idle`, `ok`, `amber`, `red`).
async fn status(client: &Client, queue: &str) -> String {
    let script =
        format!("return document.querySelector('[data-queue=\"{queue}\"]').dataset.status;");
    client.execute(&script, vec![]).await.unwrap().as_str().unwrap_or_default().to_string()
}

/// Waits until every `(queue, field, text)` shows, for at most 10 s.
async fn expect_tiles(client: &Client, expected: &[(&str, &str, &str)]) {
    let started = Instant::now();
    loop {
        let mut seen = Vec::new();
        for (queue, name, _) in expected {
            seen.push(field(client, queue, name).await);
        }
        if expected.iter().zip(&seen).all(|((_, _, want), got)| want == got) {
            return;
        }
        if started.elapsed() > Duration::from_secs(10) {
            panic!("tiles never showed {expected:?}; last seen {seen:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wallboard_follows_calls_routed_through_grpc() {
    let Some(chromium) =
        find_program("CHROMIUM", &["/usr/bin/chromium", "/usr/bin/chromium-browser"])
    else {
        eprintln!("skipped: chromium is not installed (apt-get install chromium chromium-driver; .ci/run does)");
        return;
    };
    let Some(chromedriver) = find_program("CHROMEDRIVER", &["/usr/bin/chromedriver"]) else {
        eprintln!("skipped: chromedriver is not installed (apt-get install chromium-driver; .ci/run does)");
        return;
    };
    let auth = AuthSettings {
        switch_tokens: vec![SWITCH_TOKEN.into()],
        supervisor_tokens: vec![SUPERVISOR_TOKEN.into()],
        admin_tokens: vec![ADMIN_TOKEN.into()],
    };
    // A manual clock makes every wait, and so ASA and the colours, exact.
    let clock = Clock::manual(Timestamp::from_millis(T0_MS));
    let at = |s: u64| clock.set(Timestamp::from_millis(T0_MS + s * 1_000));
    let server = TestServer::start_full("wallboard", CENTER, auth, clock.clone(), |_| {}).await;
    let _ = server.channel().await; // up
    let (_driver, client) = browser(&chromium, &chromedriver).await;

    // Without a token the page says so; the supervisor token opens it.
    client.goto(&format!("http://{}/", server.http)).await.unwrap();
    let started = Instant::now();
    loop {
        let shown = client
            .execute(
                "const e = document.getElementById('error'); return e.hidden ? '' : e.textContent;",
                vec![],
            )
            .await
            .unwrap();
        if shown.as_str().is_some_and(|s| s.contains("supervisor token")) {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "no token message");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    client.goto(&format!("http://{}/?token={SUPERVISOR_TOKEN}", server.http)).await.unwrap();
    expect_tiles(
        &client,
        &[("billing", "waiting", "0"), ("billing", "available", "0"), ("sales", "waiting", "0")],
    )
    .await;
    assert_eq!(status(&client, "billing").await, "idle");

    // Ana logs in and takes one call; two more wait. She answers after 5 s.
    let switch = Some(SWITCH_TOKEN);
    let mut agents = server.agents().await;
    agents
        .login(with_token(pb::LoginRequest { agent_id: "ana".into(), ready: true }, switch))
        .await
        .unwrap();
    expect_tiles(&client, &[("billing", "available", "1")]).await;
    let mut router = server.router().await;
    for call in ["c1", "c2", "c3"] {
        router.route_call(with_token(route(call, "+200"), switch)).await.unwrap();
    }
    at(5);
    router
        .report_call_event(with_token(event("c1", pb::CallEventKind::Answered), switch))
        .await
        .unwrap();
    expect_tiles(
        &client,
        &[
            ("billing", "waiting", "2"),
            ("billing", "on_call", "1"),
            ("billing", "available", "0"),
            ("billing", "offered", "3"),
            ("billing", "answered", "1"),
            ("billing", "service_level", "100%"),
            ("billing", "asa", "5 s"),
        ],
    )
    .await;
    assert_eq!(status(&client, "billing").await, "ok");

    // 25 s in, the two waiting callers have waited 25 s; one gives up at 30 s.
    at(25);
    expect_tiles(&client, &[("billing", "longest_wait", "0:25")]).await;
    at(30);
    router
        .report_call_event(with_token(event("c3", pb::CallEventKind::Abandoned), switch))
        .await
        .unwrap();
    expect_tiles(&client, &[("billing", "waiting", "1"), ("billing", "abandoned", "1")]).await;

    // The agent grid shows Ana on the call.
    let row = client
        .execute("const r = document.querySelector('[data-agent=\"ana\"]'); return r ? r.textContent : '';", vec![])
        .await
        .unwrap();
    assert!(row.as_str().unwrap_or_default().contains("on call"), "{row}");

    // Ana hangs up at 60 s and answers the caller who waited 62 s: half the answered calls
    // were within 20 s, so the tile turns red; ASA is (5 + 62) / 2 = 33.5, shown as 34 s.
    at(60);
    router
        .report_call_event(with_token(event("c1", pb::CallEventKind::Ended), switch))
        .await
        .unwrap();
    at(62);
    router
        .report_call_event(with_token(event("c2", pb::CallEventKind::Answered), switch))
        .await
        .unwrap();
    expect_tiles(
        &client,
        &[
            ("billing", "waiting", "0"),
            ("billing", "answered", "2"),
            ("billing", "service_level", "50%"),
            ("billing", "asa", "34 s"),
            ("billing", "longest_wait", "0:00"),
        ],
    )
    .await;
    assert_eq!(status(&client, "billing").await, "red");

    let png = client.screenshot().await.unwrap();
    let artifacts = Path::new(env!("CARGO_TARGET_TMPDIR")).join("artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    std::fs::write(artifacts.join("wallboard.png"), &png).unwrap();
    eprintln!("screenshot: {}", artifacts.join("wallboard.png").display());
    client.close().await.unwrap();
}
