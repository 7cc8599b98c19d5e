//! `switchboard serve` as a process: starts on the configured ports, answers health checks, and
//! drains cleanly on SIGTERM with its call records flushed.

#![cfg(unix)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}

fn http_get(addr: SocketAddr, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_millis(200)).ok()?;
    stream.write_all(format!("GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").as_bytes()).ok()?;
    let mut out = String::new();
    stream.read_to_string(&mut out).ok()?;
    Some(out)
}

#[test]
fn serve_starts_reports_health_and_drains_on_sigterm() {
    let dir = std::env::temp_dir().join(format!("switchboard-serve-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("records.sqlite");
    let (grpc, http) = (free_port(), free_port());
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["serve", "--grpc-addr", &grpc.to_string(), "--records-db", db.to_str().unwrap()])
        // The HTTP address comes from the environment layer.
        .env("SWITCHBOARD_HTTP_ADDR", http.to_string())
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    let started = Instant::now();
    let health = loop {
        if let Some(body) = http_get(http, "/healthz") {
            break body;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "server did not come up");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(health.ends_with("ok\n"), "{health}");
    let metrics = http_get(http, "/metrics").unwrap();
    assert!(metrics.contains("switchboard_queue_calls_waiting{queue=\"billing\"} 0"), "{metrics}");
    assert!(TcpStream::connect(grpc).is_ok(), "gRPC port open");

    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    let mut log = String::new();
    child.stderr.take().unwrap().read_to_string(&mut log).unwrap();
    assert!(exit.success(), "exit {exit:?}; log:\n{log}");
    assert!(log.contains("shutting down"), "{log}");
    assert!(log.contains("call records flushed"), "{log}");
    assert!(db.exists());

    // The export reads the (empty) database the server left.
    let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["history", "export", "--db", db.to_str().unwrap(), "--out", "-"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "arrived_at,queue,wait_s,handle_s,abandoned,call_id,outcome,agent,caller,dialed\n"
    );
}

#[test]
fn serve_refuses_bad_settings_with_the_field_named() {
    let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["serve", "--grpc-addr", "127.0.0.1:0"])
        .env("SWITCHBOARD_STATS_REFRESH_MS", "5000")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("server.stats_refresh_ms"), "{stderr}");
}

#[test]
fn serve_demo_brings_the_queues_alive_within_seconds() {
    let dir = std::env::temp_dir().join(format!("switchboard-demo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (grpc, http) = (free_port(), free_port());
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["serve", "--demo", "--demo-calls-per-s", "20"])
        .args(["--grpc-addr", &grpc.to_string(), "--http-addr", &http.to_string()])
        .args(["--records-db", dir.join("records.sqlite").to_str().unwrap()])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let offered_today = |metrics: &str| -> u64 {
        metrics
            .lines()
            .filter(|l| l.starts_with("switchboard_queue_offered_today{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum()
    };
    let started = Instant::now();
    let mut last = String::new();
    let alive = loop {
        if let Some(metrics) = http_get(http, "/metrics") {
            if offered_today(&metrics) > 0 {
                break true;
            }
            last = metrics;
        }
        if started.elapsed() > Duration::from_secs(20) {
            break false;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let exit = child.wait().unwrap();
    assert!(alive, "no call offered within 20 s; last metrics:\n{last}");
    assert!(exit.success(), "exit {exit:?}");
}

#[test]
fn serve_demo_refuses_to_run_unauthenticated_against_tokens() {
    let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["serve", "--demo", "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"])
        .env("SWITCHBOARD_AUTH__SUPERVISOR_TOKENS", "[\"supervisor-token-0123456\"]")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--demo needs an admin token"), "{stderr}");
}
